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

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_DEFAULT_WORKERS = 8  # the default's cap: each process holds its own spaCy pipeline and lexicons

_LIMITED_PID = 0
_STATE: Any = None


def default_workers() -> int:
    """The processes a stage uses by default: the CPUs this process may run on, at most
    :data:`MAX_DEFAULT_WORKERS`; 1 in a daemonic process (a worker of a ``multiprocessing`` pool,
    e.g. ``Dataset.map(num_proc=...)``), which may not start processes of its own."""
    if multiprocessing.current_process().daemon:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_DEFAULT_WORKERS))


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


def fork_map(fn: Callable[[Any, T], R], parts: Sequence[T], *, workers: int, state: Any) -> Iterator[R]:
    """``fn(state, part)`` for each part, in order, over ``workers`` forked processes that
    inherit ``state`` (not pickled: a spaCy pipeline, a memory-mapped dataset); the results are
    pickled back. ``fn`` must be a module-level function."""
    global _STATE
    _STATE = state
    try:
        with multiprocessing.get_context("fork").Pool(workers, initializer=one_blas_thread) as pool:
            yield from pool.imap(_call, [(fn, part) for part in parts])
    finally:
        _STATE = None


def _call(task: tuple[Callable[[Any, Any], Any], Any]) -> Any:
    fn, part = task
    return fn(_STATE, part)
