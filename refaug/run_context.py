"""What the runner and the stage functions share: a stage's description and the run's context.

:mod:`refaug.stages` (the stage functions) and :mod:`refaug.pipeline` (the runner) both
import this module and neither imports the other's internals, so the dependency runs one
way: ``pipeline -> stages -> run_context``.

Example:
    >>> stage = Stage("views", VIEW_FIELDS, lambda ds, config, context: ds)
    >>> stage.own_progress_bar
    False
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset
from tqdm.auto import tqdm

from refaug.config import RunConfig
from refaug.executors import Executor, LocalExecutor

logger = logging.getLogger(__name__)

StageFn = Callable[[Dataset | None, RunConfig, "RunContext"], Dataset | None]

# The configuration fields each stage reads: a stage's fingerprint hashes them (with the
# fingerprints of the stages before it), so a changed field re-runs exactly the stages after it.
LOAD_FIELDS = ("source", "refer_root", "dataset", "split_by", "images", "on_error", "disk_path", "splits",
               "limit", "synthetic_images", "seed")
VIEW_FIELDS = ("backend", "model", "base_url", "template", "max_retries")
REWRITE_FIELDS = ("rewriters", "max_per_text", "seed")
EMBED_FIELDS = ("embedder",)
CLASSIFY_FIELDS = ("method", "threshold")
MINE_FIELDS = ("num_negatives", "mining_sources", "same_class", "max_similarity", "relative_margin",
               "require_verified", "selection", "similarity_floor", "diversity", "no_target_per_image", "plausibility",
               "adversarial_auc", "adversarial_max_share", "adversarial_models", "negated_positives", "form_balance", "seed")
# Of MINE_FIELDS, the blind-model defences' own: they act on the mined pools of all splits at once
# (refaug.stages.blind_model_defences), so a change to one of them re-runs no split's mining.
DEFENCE_FIELDS = ("adversarial_auc", "adversarial_max_share", "adversarial_models", "negated_positives", "form_balance")


@dataclass(frozen=True)
class Stage:
    """A named step, the configuration fields it reads, and the function that runs it.

    The function returns the new dataset, or None to pass the previous one on unchanged
    (a stage that only fills a cache).

    Args:
        name: the stage's name (its folder, its line in the summary and its progress bar).
        fields: the :class:`RunConfig` fields it reads.
        run: ``run(dataset, config, context)``.
        own_progress_bar: the function shows its own progress bar named after the stage
            (when ``context.show_progress``), so the runner draws none while it runs
            (default False).
    """

    name: str
    fields: tuple[str, ...]
    run: StageFn
    own_progress_bar: bool = False


class StageProgress:
    """The runner's progress bar of one stage: the stage's name, its rows, the time and ETA.

    A stage function may advance it with :meth:`update` (``context.progress.update(rows)``);
    one that does not sees its bar jump to the end when it finishes.

    Args:
        label: the bar's description (the stage's name).
        total: the rows the stage works on (None: not known yet).
        enabled: False draws nothing (``--quiet``).
    """

    def __init__(self, label: str, total: int | None, *, enabled: bool) -> None:
        self._bar = tqdm(total=total, desc=label, unit="rows", disable=not enabled, leave=True)

    def update(self, rows: int) -> None:
        """``rows`` more rows are done."""
        self._bar.update(rows)

    def finish(self, rows: int, status: str) -> None:
        """The stage ended with ``rows`` rows: show them, and ``status`` (ran, cached)."""
        self._bar.total = rows
        self._bar.n = rows
        self._bar.set_postfix_str(status, refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


@dataclass
class RunContext:
    """What stages share during one run: the run folder, their statistics and the progress display.

    Args:
        out: the run folder.
        stats: each stage's statistics, by stage name (the summary and the dataset card read them).
        show_progress: whether stages may show progress bars (False under ``--quiet``).
        progress: the running stage's bar, set by the runner (None outside a stage, or when
            the stage shows its own).
        executor: how stages apply their batch work (default :class:`LocalExecutor`: this
            process; the runner passes the one ``config.executor`` names).
        input_fingerprint: the fingerprint of the running stage's input (the chain of the stages
            before it, set by the runner; None outside one): what a stage's own checkpoints are
            keyed by.
    """

    out: Path
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    show_progress: bool = True
    progress: StageProgress | None = None
    executor: Executor = field(default_factory=LocalExecutor)
    input_fingerprint: str | None = None

    @property
    def cache(self) -> Path:
        return self.out / "cache"


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Let the block finish before a Ctrl-C (SIGINT) takes effect, then raise KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum, frame):  # noqa: ARG001 - signal handler signature
        received.append(signum)
        logger.warning("interrupt received: finishing the current write, then stopping")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def save_atomic(ds: Dataset, target: Path, done: dict[str, Any], *, files: dict[str, bytes] | None = None) -> None:
    """Save ``ds`` (and ``files``, name -> bytes) to a temporary folder, then swap it in for
    ``target``; ``done.json`` is written last, so a folder without it is unfinished."""
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with deferred_interrupt():
        ds.save_to_disk(str(tmp / "data"))
        for name, data in (files or {}).items():
            (tmp / name).write_bytes(data)
        (tmp / "done.json").write_text(json.dumps(done, indent=2))
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, target)
