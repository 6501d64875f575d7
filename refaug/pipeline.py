"""One resumable run: load -> views -> rewrite -> embed -> classify -> mine -> publish.

Each stage writes its output to ``<out>/stages/<n>-<name>/`` the moment it finishes, with a
``done.json`` holding its fingerprint: a hash of the configuration fields that stage and the
stages before it read. A re-run with the same configuration loads finished stages instead
of running them; a changed field re-runs the first stage that reads it and everything after.
Inside the views stage, finished images are cached one file each, so a crash loses no
finished image. Ctrl-C lets the current write finish, then stops; run again to resume.

Example:
    >>> result = Pipeline(RunConfig(source="synthetic", synthetic_images=8, out="runs/demo")).run()  # doctest: +SKIP
    >>> print(result.summary_table())                                                              # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict, concatenate_datasets, load_from_disk

from refaug.config import RunConfig
from refaug.records import ROW_FEATURES
from refaug.report import format_table

logger = logging.getLogger(__name__)

PUBLISHED_COLUMNS: tuple[str, ...] = (*ROW_FEATURES, "cluster_stats")
"""What a published row holds: the canonical row plus the cluster's statistics."""

StageFn = Callable[[Dataset | None, RunConfig, "RunContext"], Dataset | None]


@dataclass(frozen=True)
class Stage:
    """A named step, the configuration fields it reads, and the function that runs it.

    The function returns the new dataset, or None to pass the previous one on unchanged
    (a stage that only fills a cache).
    """

    name: str
    fields: tuple[str, ...]
    run: StageFn


@dataclass
class RunContext:
    """What stages share during one run: the run folder and their statistics."""

    out: Path
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)

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


def _save_atomic(ds: Dataset, target: Path, done: dict[str, Any]) -> None:
    """Save to a temporary folder, then swap it in; ``done.json`` is written last."""
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with deferred_interrupt():
        ds.save_to_disk(str(tmp / "data"))
        (tmp / "done.json").write_text(json.dumps(done, indent=2))
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, target)


def _fingerprint(previous: str, stage: Stage, config: RunConfig) -> str:
    from refaug import __version__

    text = f"{previous}|{stage.name}|{__version__}|{config.digest(stage.fields)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class RunResult:
    """What a run produced: the published splits, the folders, and per-stage statistics."""

    out: Path
    dataset: DatasetDict
    stages: list[dict[str, Any]]
    stats: dict[str, dict[str, Any]]

    def summary_rows(self) -> list[tuple]:
        return [(s["name"], s["status"], s["rows"], round(s["seconds"], 2)) for s in self.stages]

    def summary_table(self) -> str:
        from refaug.run_report import summary_tables

        stage_table = format_table(self.summary_rows(), ["stage", "status", "rows", "seconds"], title="stages")
        return stage_table + "\n\n" + summary_tables(self.dataset, self.stats)


class Pipeline:
    """Run the stages of a :class:`RunConfig`, resuming finished work in its run folder.

    Args:
        config: the run configuration.
        stages: the stages to run (default :data:`STAGES`); tests may pass their own.
    """

    def __init__(self, config: RunConfig, *, stages: tuple[Stage, ...] | None = None) -> None:
        self.config = config
        self.stages = stages if stages is not None else default_stages()
        self.out = Path(config.out)

    def run(self, dataset: Dataset | None = None) -> RunResult:
        """Run every stage (``dataset`` replaces the load stage's source when given)."""
        self.out.mkdir(parents=True, exist_ok=True)
        handler = _attach_log(self.out / "run.log")
        try:
            self._record()
            context = RunContext(out=self.out)
            ds, records = self._run_stages(dataset, context)
            published = self._publish(ds, context, records)
        finally:
            logging.getLogger("refaug").removeHandler(handler)
            handler.close()
        return RunResult(out=self.out, dataset=published, stages=records, stats=context.stats)

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
            if done is not None and done["fingerprint"] == fingerprint:
                status = "cached"
                if not done.get("passthrough"):
                    ds = load_from_disk(str(folder / "data"))
                context.stats[stage.name] = done.get("stats", {})
            else:
                status = "ran"
                ds = self._run_one(stage, ds, context, folder, fingerprint)
            previous = fingerprint
            seconds = time.perf_counter() - start
            logger.info("stage %s: %s in %.1fs (%d rows)", stage.name, status, seconds, len(ds))
            records.append({"name": stage.name, "status": status, "rows": len(ds), "seconds": seconds})
        return ds, records

    def _run_one(self, stage: Stage, ds: Dataset | None, context: RunContext, folder: Path, fingerprint: str) -> Dataset:
        logger.info("stage %s: running", stage.name)
        result = stage.run(ds, self.config, context)
        done = {"fingerprint": fingerprint, "stage": stage.name, "stats": context.stats.get(stage.name, {})}
        if result is None:
            folder.mkdir(parents=True, exist_ok=True)
            with deferred_interrupt():
                (folder / "done.json").write_text(json.dumps({**done, "passthrough": True}, indent=2))
            return ds
        _save_atomic(result, folder, {**done, "rows": len(result)})
        return load_from_disk(str(folder / "data"))

    def _publish(self, ds: Dataset, context: RunContext, records: list[dict]) -> DatasetDict:
        from refaug.publish import publish, to_refer
        from refaug.run_report import publish_info, write_report

        start = time.perf_counter()
        splits = sorted(set(ds["split"]))
        full = DatasetDict({s: ds.filter(lambda v, s=s: v == s, input_columns="split") for s in splits})
        columns = [c for c in PUBLISHED_COLUMNS if c in ds.column_names]
        published = DatasetDict({name: part.select_columns(columns) for name, part in full.items()})
        with deferred_interrupt():
            target = self.out / "publish"
            shutil.rmtree(target, ignore_errors=True)
            publish(published, target, info=publish_info(self.config, context.stats))
            if self.config.to_refer:
                to_refer(published, self.out / "refer", dataset_name=self.config.dataset,
                         split_by=self.config.split_by, refer_root=self._refer_root(), overwrite=True)
        records.append({"name": "publish", "status": "ran", "rows": len(ds), "seconds": time.perf_counter() - start})
        write_report(self.out / "report", full, context.stats, records)
        return published

    def _refer_root(self) -> str | None:
        return self.config.refer_root if self.config.source == "refer" else None


def _read_done(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "done.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _attach_log(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root = logging.getLogger("refaug")
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return handler


# ---------------------------------------------------------------- the stages


def load_stage(ds: Dataset | None, config: RunConfig, context: RunContext) -> Dataset:
    """Rows from the configured source (or the dataset given to ``run``), splits and limit applied."""
    if ds is None:
        ds = _load_source(config)
    if config.splits:
        ds = ds.filter(lambda s: s in config.splits, input_columns="split")
    if config.limit is not None:
        parts = [ds.filter(lambda v, s=s: v == s, input_columns="split") for s in sorted(set(ds["split"]))]
        ds = concatenate_datasets([p.select(range(min(config.limit, len(p)))) for p in parts])
    context.stats["load"] = {"referents": len(ds), "images": len(set(ds["image_id"])),
                             "expressions": sum(len(e) for e in ds["expressions"])}
    return ds


def _load_source(config: RunConfig) -> Dataset:
    if config.source == "synthetic":
        from refaug.data.synthetic import synthetic_scenes

        return synthetic_scenes(config.synthetic_images, seed=config.seed)
    if config.source == "refer":
        from refaug.data.refer import load_refer

        dd = load_refer(config.refer_root, config.dataset, config.split_by, images=config.images, on_error=config.on_error)
        return concatenate_datasets([d for name, d in dd.items() if not name.endswith("_no_target")])
    loaded = load_from_disk(config.disk_path)
    return concatenate_datasets(list(loaded.values())) if isinstance(loaded, DatasetDict) else loaded


LOAD_FIELDS = ("source", "refer_root", "dataset", "split_by", "images", "on_error", "disk_path", "splits",
               "limit", "synthetic_images", "seed")
VIEW_FIELDS = ("backend", "model", "base_url", "template", "max_retries")
REWRITE_FIELDS = ("rewriters", "max_per_text", "seed")
EMBED_FIELDS = ("embedder",)
CLASSIFY_FIELDS = ("method", "threshold")
MINE_FIELDS = ("num_negatives", "mining_sources", "same_class", "max_similarity", "relative_margin",
               "diversity", "seed")


def default_stages() -> tuple[Stage, ...]:
    from refaug import stages

    return (
        Stage("load", LOAD_FIELDS, load_stage),
        Stage("views", VIEW_FIELDS, stages.views_stage),
        Stage("rewrite", REWRITE_FIELDS, stages.rewrite_stage),
        Stage("embed", EMBED_FIELDS, stages.embed_stage),
        Stage("classify", CLASSIFY_FIELDS, stages.classify_stage),
        Stage("mine", MINE_FIELDS, stages.mine_stage),
    )
