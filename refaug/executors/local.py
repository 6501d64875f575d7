"""The local executor: every stage in this process, through ``datasets`` (the default)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from datasets import Dataset, Features

from refaug.executors.base import BatchCounters, BatchFn, Executor

if TYPE_CHECKING:
    from refaug.embed import Embedder
    from refaug.views import ViewGenerator


class LocalExecutor(Executor):
    """``Dataset.map`` in this process; its cache serves a map it has seen before."""

    name: ClassVar[str] = "local"

    def map_batches(self, ds: Dataset, fn: BatchFn, *, batch_size: int, features: Features, desc: str,
                    counters: BatchCounters | None = None) -> tuple[Dataset, Counter]:
        out = ds.map(fn, batched=True, batch_size=batch_size, desc=desc, features=features)
        # map (num_proc=1) calls this very instance, so its counters cover the whole dataset
        return out, Counter(counters(fn)) if counters is not None else Counter()

    def generate_views(self, ds: Dataset, generator: ViewGenerator, *, show_progress_bar: bool) -> Dataset:
        return generator.run(ds, show_progress_bar=show_progress_bar)

    def embed(self, embedder: Embedder, texts: Sequence[str]) -> None:
        embedder.encode(texts)
