"""The local executor: every stage on this machine, through ``datasets`` (the default).

A batch stage (the rewriters) runs in ``workers`` processes (``Dataset.map(num_proc=...)``):
the map is per row and its functions are seeded per text, so the rows are the same as in one
process; each copy's counters come back with its rows, as on Ray (:class:`_InWorker`). The views
of a backend that computes on the CPU (the rules backend) are shared over as many forked
processes, an image whole in one (:meth:`ViewGenerator.run <refaug.views.ViewGenerator.run>`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from datasets import Dataset, Features, Value

from refaug.executors.base import COUNTERS, BatchCounters, BatchFn, CounterGrowth, Executor
from refaug.workers import check_workers, default_workers, one_blas_thread

__all__ = ["LocalExecutor", "default_workers"]

if TYPE_CHECKING:
    from refaug.embed import Embedder
    from refaug.views import ViewGenerator

class LocalExecutor(Executor):
    """``Dataset.map`` on this machine, in ``workers`` processes (None: :func:`default_workers`;
    1: this process alone); its cache serves a map it has seen before."""

    name: ClassVar[str] = "local"

    def __init__(self, workers: int | None = None) -> None:
        check_workers(workers)
        self.workers = default_workers() if workers is None else workers

    def map_batches(self, ds: Dataset, fn: BatchFn, *, batch_size: int, features: Features, desc: str,
                    counters: BatchCounters | None = None) -> tuple[Dataset, Counter]:
        processes = min(self.workers, -(-len(ds) // batch_size))  # never more processes than batches
        if processes <= 1:
            out = ds.map(fn, batched=True, batch_size=batch_size, desc=desc, features=features)
            # map (num_proc=1) calls this very instance, so its counters cover the whole dataset
            return out, Counter(counters(fn)) if counters is not None else Counter()
        worker = _InWorker(fn, counters)
        extra = {COUNTERS: Value("string")} if counters is not None else {}
        out = ds.map(worker, batched=True, batch_size=batch_size, desc=desc, features=Features({**features, **extra}),
                     num_proc=processes)
        if counters is None:
            return out, Counter()
        totals: Counter = Counter()
        for report in out[COUNTERS]:
            if report:
                totals.update(json.loads(report))
        return out.remove_columns([COUNTERS]), totals

    def generate_views(self, ds: Dataset, generator: ViewGenerator, *, show_progress_bar: bool) -> Dataset:
        # the rules backend computes here, on the CPU: the images shared over the processes
        return generator.run(ds, show_progress_bar=show_progress_bar, workers=self.workers)

    def embed(self, embedder: Embedder, texts: Sequence[str]) -> None:
        embedder.encode(texts)


class _InWorker:
    """``fn`` in a worker process: with one BLAS thread (:func:`~refaug.workers.one_blas_thread`)
    and, given ``counters``, what they grew by over each batch in a
    :data:`~refaug.executors.base.COUNTERS` column, as on Ray: the sums of the column are the whole
    map's, however the rows were split over the processes."""

    def __init__(self, fn: BatchFn, counters: BatchCounters | None) -> None:
        self.fn, self.counters = fn, counters
        self._growth = CounterGrowth(counters)

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        one_blas_thread()
        out = self.fn(batch)
        if self.counters is None:
            return out
        rows = len(next(iter(batch.values()))) if batch else 0
        return {**out, COUNTERS: [self._growth(self.fn)] + [None] * (rows - 1)}
