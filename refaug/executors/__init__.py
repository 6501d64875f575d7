"""How a run's batch stages are applied: in this process, or across a Ray cluster.

A stage function says *what* to compute (a ``Dataset.map`` callable, the texts to embed,
a :class:`~refaug.views.ViewGenerator`); the run's :class:`Executor` (``context.executor``)
says *how*. Both executors write the same rows, so the stage fingerprints leave the
executor out and a run may resume on the other one.

Example:
    >>> with get_executor("local") as executor:
    ...     executor.name
    'local'
"""

from __future__ import annotations

from refaug.errors import check_choice
from refaug.executors.base import BatchCounters, Executor
from refaug.executors.local import LocalExecutor

__all__ = ["BatchCounters", "Executor", "LocalExecutor", "get_executor"]


def get_executor(name: str = "local", *, address: str | None = None, workers: int | None = None) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``; ``address``: the Ray cluster to join;
    ``workers``: the local executor's processes, None: one per CPU, at most 8).

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
        ImportError: ``ray`` without Ray installed (the message says ``pip install 'refaug[ray]'``).
    """
    from refaug.config import EXECUTORS

    check_choice("executor", name, EXECUTORS)
    if name == "local":
        return LocalExecutor(workers=workers)
    from refaug.executors.ray_data import RayExecutor

    return RayExecutor(address=address)
