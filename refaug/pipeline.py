"""One resumable run: load -> views -> rewrite -> embed -> classify -> mine -> publish.

Each stage writes its output to ``<out>/stages/<n>-<name>/`` the moment it finishes, with a
``done.json`` holding its fingerprint: a hash of the configuration fields that stage and the
stages before it read. A re-run with the same configuration loads finished stages instead
of running them; a changed field re-runs the first stage that reads it and everything after.
Inside the views stage, finished images are cached one file each, so a crash loses no
finished image. Ctrl-C lets the current write finish, then stops; run again to resume.

This module is the runner: the stage functions live in :mod:`refaug.stages`, and what the
two share (:class:`Stage`, :class:`RunContext`, the fields each stage reads) in
:mod:`refaug.run_context`, so the imports run one way. Each stage shows one progress bar;
``datasets``' own bars are silenced for the run and restored afterwards.

Example:
    >>> result = Pipeline(RunConfig(source="synthetic", synthetic_images=8, out="runs/demo")).run()  # doctest: +SKIP
    >>> print(result.summary_table())                                                              # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict, load_from_disk

from refaug.config import RunConfig
from refaug.records import ROW_FEATURES
from refaug.report import format_table
from refaug.run_context import (
    CLASSIFY_FIELDS,
    EMBED_FIELDS,
    LOAD_FIELDS,
    MINE_FIELDS,
    REWRITE_FIELDS,
    VIEW_FIELDS,
    RunContext,
    Stage,
    StageFn,
    StageProgress,
    deferred_interrupt,
    save_atomic,
)
from refaug.stages import (
    classify_stage,
    embed_stage,
    load_stage,
    mine_stage,
    rewrite_stage,
    views_stage,
)
from refaug.workers import workers_limit

__all__ = [
    "CLASSIFY_FIELDS",
    "EMBED_FIELDS",
    "LOAD_FIELDS",
    "MINE_FIELDS",
    "PUBLISHED_COLUMNS",
    "REWRITE_FIELDS",
    "VIEW_FIELDS",
    "Pipeline",
    "RunContext",
    "RunResult",
    "Stage",
    "StageFn",
    "StageProgress",
    "default_stages",
    "deferred_interrupt",
    "library_progress_bars_off",
    "load_stage",
]

logger = logging.getLogger(__name__)

PUBLISHED_COLUMNS: tuple[str, ...] = (*ROW_FEATURES, "cluster_stats")
"""What a published row holds: the canonical row plus the cluster's statistics."""


def default_stages() -> tuple[Stage, ...]:
    """The stages of a run, in order (publish follows them; it is the runner's own step)."""
    return (
        Stage("load", LOAD_FIELDS, load_stage),
        Stage("views", VIEW_FIELDS, views_stage, own_progress_bar=True),
        Stage("rewrite", REWRITE_FIELDS, rewrite_stage),
        Stage("embed", EMBED_FIELDS, embed_stage),
        Stage("classify", CLASSIFY_FIELDS, classify_stage),
        Stage("mine", MINE_FIELDS, mine_stage),
    )


def _fingerprint(previous: str, stage: Stage, config: RunConfig) -> str:
    from refaug import __version__

    text = f"{previous}|{stage.name}|{__version__}|{config.digest(stage.fields)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@contextmanager
def library_progress_bars_off() -> Iterator[None]:
    """Silence the progress bars of ``datasets`` and ``transformers`` in the block, then restore them.

    ``datasets`` draws a bar for every save, filter, map and cast, and ``transformers`` one
    for loading weights; inside a run they would bury the stages' own bars. The previous
    state comes back afterwards, even on an error. ``HF_DATASETS_DISABLE_PROGRESS_BARS`` and
    ``HF_HUB_DISABLE_PROGRESS_BARS``, when set, win: those bars stay as the variable says.

    Example:
        >>> with library_progress_bars_off():   # doctest: +SKIP
        ...     ds.filter(keep)                  # no "Filter: 100%|..." line
    """
    import datasets.config
    import huggingface_hub.utils as hub
    from datasets.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )
    from transformers.utils import logging as transformers_logging

    datasets_forced = datasets.config.HF_DATASETS_DISABLE_PROGRESS_BARS is not None
    datasets_were_off = are_progress_bars_disabled()
    transformers_were_on = transformers_logging.is_progress_bar_enabled()
    hub_was_off = hub.are_progress_bars_disabled()
    with warnings.catch_warnings():  # HF_HUB_DISABLE_PROGRESS_BARS, when set, wins silently
        warnings.simplefilter("ignore")
        if not datasets_forced:
            disable_progress_bars()
        transformers_logging.disable_progress_bar()  # also turns off huggingface_hub's bars
    try:
        yield
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not datasets_forced and not datasets_were_off:
                enable_progress_bars()
            if transformers_were_on:
                transformers_logging.enable_progress_bar()
            if hub.are_progress_bars_disabled() != hub_was_off:
                (hub.disable_progress_bars if hub_was_off else hub.enable_progress_bars)()


@dataclass
class RunResult:
    """What a run produced: the published splits, the folders, and per-stage statistics.

    Args:
        out: the run folder.
        dataset: the published splits.
        stages: one record per stage (name, status, rows, seconds), publish last.
        stats: each stage's statistics, by stage name.
        source: where the rows came from, in words (the summary's first line).
        no_target: the published ``<split>_no_target`` splits (image-level no-target
            expressions, gRefCOCO's layout; ``publish/no_target``), empty when none were made.
    """

    out: Path
    dataset: DatasetDict
    stages: list[dict[str, Any]]
    stats: dict[str, dict[str, Any]]
    source: str = ""
    no_target: DatasetDict = field(default_factory=DatasetDict)

    def summary_rows(self) -> list[tuple]:
        return [(s["name"], s["status"], s["rows"], round(s["seconds"], 2)) for s in self.stages]

    def source_line(self) -> str:
        """``source: <where>: N referents (I images, E expressions)``, from the load stage."""
        load = self.stats.get("load", {})
        counts = f"{load.get('referents', 0)} referents ({load.get('images', 0)} images, " \
                 f"{load.get('expressions', 0)} expressions)"
        return f"source: {self.source or 'unknown'}: {counts}"

    def summary_table(self) -> str:
        from refaug.run_report import summary_tables

        stage_table = format_table(self.summary_rows(), ["stage", "status", "rows", "seconds"], title="stages")
        return self.source_line() + "\n\n" + stage_table + "\n\n" + summary_tables(self.dataset, self.stats)


class Pipeline:
    """Run the stages of a :class:`RunConfig`, resuming finished work in its run folder.

    Args:
        config: the run configuration.
        stages: the stages to run (default :func:`default_stages`); tests may pass their own.
        show_progress: one progress bar per stage, with ``datasets``' and ``transformers``'
            own bars silenced during the run. None (the default) shows them unless the
            ``refaug`` logger is set above WARNING (what ``refaug --quiet`` does).
    """

    def __init__(self, config: RunConfig, *, stages: tuple[Stage, ...] | None = None,
                 show_progress: bool | None = None) -> None:
        self.config = config
        self.stages = stages if stages is not None else default_stages()
        self.out = Path(config.out)
        self.show_progress = show_progress

    def run(self, dataset: Dataset | None = None) -> RunResult:
        """Run every stage (``dataset`` replaces the load stage's source when given)."""
        show = self.show_progress
        if show is None:
            show = logging.getLogger("refaug").getEffectiveLevel() <= logging.WARNING
        source = "the dataset given to Pipeline.run" if dataset is not None else self.config.source_description()
        self.out.mkdir(parents=True, exist_ok=True)
        from refaug.executors import get_executor

        with _run_log(self.out / "run.log"), library_progress_bars_off(), workers_limit(self.config.workers), \
                get_executor(self.config.executor, address=self.config.ray_address,
                             workers=self.config.workers) as executor:
            logger.info("run: %s -> %s (executor %s)", source, self.out, executor.name)
            self._record()
            context = RunContext(out=self.out, show_progress=show, executor=executor)
            ds, records = self._run_stages(dataset, context)
            published, no_target = self._publish(ds, context, records)
        return RunResult(out=self.out, dataset=published, stages=records, stats=context.stats, source=source,
                         no_target=no_target)

    def _record(self) -> None:
        """The config, and the versions of refaug, the models and the templates."""
        from refaug.run_report import versions

        self.config.save(self.out / "config.yaml")
        (self.out / "versions.json").write_text(json.dumps(versions(self.config), indent=2))

    def _run_stages(self, dataset: Dataset | None, context: RunContext) -> tuple[Dataset, list[dict]]:
        ds, previous, records = dataset, "", []
        if dataset is not None:
            previous = dataset._fingerprint  # a given dataset replaces the configured source
        for index, stage in enumerate(self.stages):
            fingerprint = _fingerprint(previous, stage, self.config)
            folder = self.out / "stages" / f"{index}-{stage.name}"
            start = time.perf_counter()
            done = _read_done(folder)
            cached = done is not None and done["fingerprint"] == fingerprint
            own_bar = stage.own_progress_bar and not cached
            with self._progress(stage.name, ds, context, shown=not own_bar) as progress:
                if cached:
                    if not done.get("passthrough"):
                        ds = load_from_disk(str(folder / "data"))
                    context.stats[stage.name] = done.get("stats", {})
                else:
                    context.input_fingerprint = previous
                    ds = self._run_one(stage, ds, context, folder, fingerprint)
                status = "cached" if cached else "ran"
                progress.finish(len(ds), status)
            previous = fingerprint
            seconds = time.perf_counter() - start
            logger.info("stage %s: %s in %.1fs (%d rows)", stage.name, status, seconds, len(ds))
            records.append({"name": stage.name, "status": status, "rows": len(ds), "seconds": seconds})
        return ds, records

    @contextmanager
    def _progress(self, name: str, ds: Dataset | None, context: RunContext, *, shown: bool = True
                  ) -> Iterator[StageProgress]:
        """The stage's bar (``shown=False``: the stage draws its own), closed even on an error."""
        progress = StageProgress(name, len(ds) if ds is not None else None, enabled=context.show_progress and shown)
        context.progress = progress if shown else None
        try:
            yield progress
        finally:
            context.progress = None
            progress.close()

    def _run_one(self, stage: Stage, ds: Dataset | None, context: RunContext, folder: Path, fingerprint: str) -> Dataset:
        logger.info("stage %s: running", stage.name)
        result = stage.run(ds, self.config, context)
        done = {"fingerprint": fingerprint, "stage": stage.name, "stats": context.stats.get(stage.name, {})}
        if result is None:
            folder.mkdir(parents=True, exist_ok=True)
            with deferred_interrupt():
                (folder / "done.json").write_text(json.dumps({**done, "passthrough": True}, indent=2))
            return ds
        save_atomic(result, folder, {**done, "rows": len(result)})
        return load_from_disk(str(folder / "data"))

    def _publish(self, ds: Dataset, context: RunContext, records: list[dict]) -> tuple[DatasetDict, DatasetDict]:
        from refaug.mining.no_target import no_target_splits
        from refaug.publish import publish, to_refer
        from refaug.review import write_review_page
        from refaug.run_report import publish_info, write_report

        start = time.perf_counter()
        with self._progress("publish", ds, context) as progress:
            splits = sorted(set(ds["split"]))
            full = DatasetDict({s: ds.filter(lambda v, s=s: v == s, input_columns="split") for s in splits})
            columns = [c for c in PUBLISHED_COLUMNS if c in ds.column_names]
            published = DatasetDict({name: part.select_columns(columns) for name, part in full.items()})
            no_target = DatasetDict(no_target_splits(full))  # <split>_no_target: gRefCOCO's layout
            with deferred_interrupt():
                target = self.out / "publish"
                shutil.rmtree(target, ignore_errors=True)
                publish(published, target, info=publish_info(self.config, context.stats), no_target=no_target)
                if self.config.to_refer:
                    to_refer(published, self.out / "refer", dataset_name=self.config.dataset,
                             split_by=self.config.split_by, refer_root=self._refer_root(), overwrite=True,
                             no_target=no_target)
            records.append({"name": "publish", "status": "ran", "rows": len(ds),
                            "seconds": time.perf_counter() - start})
            write_report(self.out / "report", full, context.stats, records)
            write_review_page(published, self.out / "report")  # report/index.html: look at the negatives
            progress.finish(len(ds), "ran")
        return published, no_target

    def _refer_root(self) -> str | None:
        return self.config.refer_root if self.config.source == "refer" else None


def _read_done(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "done.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


@contextmanager
def _run_log(path: Path) -> Iterator[None]:
    """``run.log`` in the run folder gets the ``refaug`` loggers' INFO records, whatever the console shows.

    The ``refaug`` logger's level is lowered to INFO for the run when it is higher, and
    restored afterwards.
    """
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root = logging.getLogger("refaug")
    level = root.level
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()
