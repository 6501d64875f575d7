"""The :class:`Executor` interface: the three ways a stage hands work to the runner's executor."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from datasets import Dataset, Features

if TYPE_CHECKING:
    from refaug.embed import Embedder
    from refaug.views import ViewGenerator

BatchFn = Callable[[dict[str, list]], dict[str, list]]
BatchCounters = Callable[[Any], Mapping[str, int]]
"""Reads a batch function's running counters (``fn -> {name: count}``), e.g. failed texts.

Module-level, so it pickles to workers: each worker reports what its copy counted, and the
executor returns the sums."""

COUNTERS = "__refaug_counters"
"""A worker batch's counters (JSON, on its first row): what a worker's copy of a batch function
counted comes back with the rows, and the executor sums the column."""


class CounterGrowth:
    """What ``counters(fn)`` grew by since the last call, as JSON (None without ``counters``):
    a worker's copy counts for itself, so each batch reports its own share."""

    def __init__(self, counters: BatchCounters | None) -> None:
        self.counters = counters
        self._seen: Counter = Counter()

    def __call__(self, fn: Any) -> str | None:
        if self.counters is None:
            return None
        now = Counter(self.counters(fn))
        added = {k: now[k] - self._seen.get(k, 0) for k in now}
        self._seen = now
        return json.dumps(added)


class Executor(ABC):
    """Applies a run's batch work. Use as a context manager (``close`` releases workers).

    Every method returns what the local, in-process executor returns, row for row.
    """

    name: ClassVar[str]

    @abstractmethod
    def map_batches(self, ds: Dataset, fn: BatchFn, *, batch_size: int, features: Features, desc: str,
                    counters: BatchCounters | None = None) -> tuple[Dataset, Counter]:
        """``ds.map(fn, batched=True)`` with the output ``features``; and the summed ``counters``.

        ``fn`` returns the columns it adds or replaces (the batch's other columns are kept).
        """

    @abstractmethod
    def generate_views(self, ds: Dataset, generator: ViewGenerator, *, show_progress_bar: bool) -> Dataset:
        """``generator.run(ds)``: a ``views`` column, one request per image, finished images cached."""

    @abstractmethod
    def embed(self, embedder: Embedder, texts: Sequence[str]) -> None:
        """Encode the distinct ``texts`` into ``embedder``'s cache (later stages read it there)."""

    def close(self) -> None:
        """Release what the executor started (default: nothing)."""
        return None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
