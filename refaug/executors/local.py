"""The local executor: every stage on this machine, through ``datasets`` (the default).

A batch stage (the rewriters) runs in ``workers`` processes (``Dataset.map(num_proc=...)``):
the map is per row and its functions are seeded per text, so the rows are the same as in one
process; each copy's counters come back with its rows, as on Ray (:class:`_Counting`). The views
of a backend that computes on the CPU (the rules backend) are shared over as many forked
processes, an image whole in one (:meth:`ViewGenerator.run <refaug.views.ViewGenerator.run>`).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from datasets import Dataset, Features, Value

from refaug.executors.base import BatchCounters, BatchFn, Executor

if TYPE_CHECKING:
    from refaug.embed import Embedder
    from refaug.views import ViewGenerator

COUNTERS = "__refaug_counters"
"""A batch's counters (JSON, on its first row), removed before the rows are returned."""
MAX_DEFAULT_WORKERS = 8  # the default's cap: each process holds its own spaCy pipeline and lexicons


_LIMITED_PID = 0


def one_blas_thread() -> None:
    """Limit this process's BLAS and OpenMP pools to one thread, once per process: a worker
    process of a batch stage shares the CPUs with its siblings, and a pool of one thread per CPU
    in each of them spins for cores the others hold (on two cores the forked rules views took
    2.3x the CPU time of one process)."""
    global _LIMITED_PID
    if os.getpid() != _LIMITED_PID:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
        _LIMITED_PID = os.getpid()


def default_workers() -> int:
    """The processes a batch stage uses by default: the CPUs this process may run on, at most
    :data:`MAX_DEFAULT_WORKERS`; 1 in a daemonic process (a worker of a ``multiprocessing`` pool,
    e.g. ``Dataset.map(num_proc=...)``), which may not start processes of its own."""
    import multiprocessing

    if multiprocessing.current_process().daemon:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_DEFAULT_WORKERS))


class LocalExecutor(Executor):
    """``Dataset.map`` on this machine, in ``workers`` processes (None: :func:`default_workers`;
    1: this process alone); its cache serves a map it has seen before."""

    name: ClassVar[str] = "local"

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers={workers} must be >= 1 (or None: one per CPU, at most {MAX_DEFAULT_WORKERS})")
        self.workers = default_workers() if workers is None else workers

    def map_batches(self, ds: Dataset, fn: BatchFn, *, batch_size: int, features: Features, desc: str,
                    counters: BatchCounters | None = None) -> tuple[Dataset, Counter]:
        processes = min(self.workers, -(-len(ds) // batch_size))  # never more processes than batches
        if processes <= 1:
            out = ds.map(fn, batched=True, batch_size=batch_size, desc=desc, features=features)
            # map (num_proc=1) calls this very instance, so its counters cover the whole dataset
            return out, Counter(counters(fn)) if counters is not None else Counter()
        if counters is None:
            return ds.map(_OneThread(fn), batched=True, batch_size=batch_size, desc=desc, features=features,
                          num_proc=processes), Counter()
        out = ds.map(_Counting(fn, counters), batched=True, batch_size=batch_size, desc=desc,
                     features=Features({**features, COUNTERS: Value("string")}), num_proc=processes)
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


class _Counting:
    """``fn`` with what its counters grew by over each batch in a :data:`COUNTERS` column (JSON
    on the batch's first row): a worker process's copy counts for itself, and the sums of the
    column are the whole map's, however the rows were split over the processes."""

    def __init__(self, fn: BatchFn, counters: BatchCounters) -> None:
        self.fn, self.counters = fn, counters
        self._seen: Counter = Counter()

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        one_blas_thread()
        out = self.fn(batch)
        now = Counter(self.counters(self.fn))
        added = {k: now[k] - self._seen.get(k, 0) for k in now}
        self._seen = now
        rows = len(next(iter(batch.values()))) if batch else 0
        return {**out, COUNTERS: [json.dumps(added)] + [None] * (rows - 1)}


class _OneThread:
    """``fn`` run with one BLAS thread in its worker process (:func:`one_blas_thread`)."""

    def __init__(self, fn: BatchFn) -> None:
        self.fn = fn

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        one_blas_thread()
        return self.fn(batch)
