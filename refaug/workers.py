"""Worker processes on this machine: how many, one BLAS thread each, and a forked map.

The local executor's batch stages, the rules backend's views and the parse of many texts share
their work over forked processes (:func:`fork_map`); each inherits what the caller set up (a
pipeline, a dataset) instead of pickling it, and runs its BLAS and OpenMP pools with one thread
(:func:`one_blas_thread`), so that the processes do not spin for each other's cores.

Example:
    >>> default_workers() >= 1
    True
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_DEFAULT_WORKERS = 8  # the default's cap: each process holds its own spaCy pipeline and lexicons

_LIMITED_PID = 0
_STATE: Any = None
_LIMIT: int | None = None  # workers_limit's setting


def default_workers() -> int:
    """The processes a stage uses by default: the CPUs this process may run on, at most
    :data:`MAX_DEFAULT_WORKERS` (or what :func:`workers_limit` set); 1 in a daemonic process (a
    worker of a ``multiprocessing`` pool, e.g. ``Dataset.map(num_proc=...)``), which may not
    start processes of its own."""
    if multiprocessing.current_process().daemon:
        return 1
    if _LIMIT is not None:
        return _LIMIT
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_DEFAULT_WORKERS))


def check_workers(workers: int | None) -> None:
    """``ValueError`` naming the fix for a process count below 1 (None: the default)."""
    if workers is not None and workers < 1:
        raise ValueError(f"workers={workers} must be >= 1 (or None: one per CPU, at most {MAX_DEFAULT_WORKERS})")


@contextlib.contextmanager
def workers_limit(workers: int | None) -> Iterator[None]:
    """Within the block, :func:`default_workers` is ``workers`` (None: unchanged): a run's
    ``workers`` setting reaches every stage that forks (the rewriters, the rules views, the
    parse, the mining chunks)."""
    global _LIMIT
    check_workers(workers)
    before, _LIMIT = _LIMIT, workers if workers is not None else _LIMIT
    try:
        yield
    finally:
        _LIMIT = before


def one_blas_thread() -> None:
    """Limit this process's BLAS and OpenMP pools to one thread, once per process: a worker
    process shares the CPUs with its siblings, and a pool of one thread per CPU in each of them
    spins for cores the others hold (on two cores the forked rules views took 2.3x the CPU time
    of one process)."""
    global _LIMITED_PID
    if os.getpid() != _LIMITED_PID:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
        _LIMITED_PID = os.getpid()


def fork_map(fn: Callable[[Any, T], R], parts: Sequence[T], *, workers: int, state: Any,
             recycle: int | None = None) -> Iterator[R]:
    """``fn(state, part)`` for each part, in order, over ``workers`` forked processes that
    inherit ``state`` (not pickled: a spaCy pipeline, a memory-mapped dataset); the results are
    pickled back. ``fn`` must be a module-level function.

    ``recycle``: parts each process takes before it is replaced by a fresh fork (None: never).
    A process copies every page of the parent's that it writes to, and reading a Python object
    writes its reference count: over a long map a process comes to hold its own copy of much of
    what the parts read (mining RefCOCO's train split, 0.57 GB after its first chunk, 0.96 GB
    by its last). The parts run in waves of ``workers * recycle``, each wave in processes forked
    anew from this process's own thread (a pool's ``maxtasksperchild`` would fork from a helper
    thread, unsafe while another thread holds a lock), so no process outlives its wave; a wave
    waits for its slowest part."""
    global _STATE
    _STATE = state
    wave = len(parts) if recycle is None else workers * recycle
    try:
        for start in range(0, len(parts), max(wave, 1)):
            batch = parts[start : start + wave]
            # The parent's objects move to the collector's permanent generation before the fork:
            # a child's collection then does not walk them and write to their headers, which would
            # copy the pages they lie on (the reference counts a child touches still copy theirs).
            gc.freeze()
            with multiprocessing.get_context("fork").Pool(min(workers, len(batch)), initializer=one_blas_thread) as pool:
                yield from pool.imap(_call, [(fn, part) for part in batch], chunksize=recycle or 1)
    finally:
        _STATE = None
        gc.unfreeze()


def _call(task: tuple[Callable[[Any, Any], Any], Any]) -> Any:
    fn, part = task
    return fn(_STATE, part)
