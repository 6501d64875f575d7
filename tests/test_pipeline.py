from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from datasets import load_from_disk

from refaug.config import RunConfig
from refaug.pipeline import Pipeline
from refaug.records import ROW_FEATURES
from tests import refer_files


def _statuses(result) -> dict[str, str]:
    return {s["name"]: s["status"] for s in result.stages}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = RunConfig(synthetic_images=6, num_negatives=8, out=str(out))
    return config, Pipeline(config).run()


def test_run_publishes_dataset_card_report_and_records(first_run):
    config, result = first_run
    out = Path(config.out)
    assert set(_statuses(result).values()) == {"ran"}
    train = load_from_disk(str(out / "publish" / "dataset"))["train"]
    assert {k: v for k, v in train.features.items() if k != "cluster_stats"} == ROW_FEATURES
    assert train[0]["cluster_stats"]["size"] >= 1
    assert all(v is not None for v in train["views"])
    assert all(len(n) == 8 for n in train["hard_negatives"])
    assert (out / "publish" / "README.md").read_text().startswith("---")
    assert (out / "publish" / "data" / "train.parquet").is_file()
    for name in ("config.yaml", "versions.json", "run.log", "report/summary.txt", "report/similarities.png"):
        assert (out / name).is_file(), name
    assert RunConfig.load(out / "config.yaml") == config
    summary = result.summary_table()
    assert "negatives by kind" in summary and "cross_image" in summary


def test_rerun_skips_finished_stages_and_a_change_reruns_exactly_what_it_affects(first_run):
    config, first = first_run
    again = Pipeline(config).run()
    assert set(_statuses(again)[s] for s in ("load", "views", "rewrite", "embed", "classify", "mine")) == {"cached"}
    assert again.dataset["train"][:] == first.dataset["train"][:]
    changed = Pipeline(config.override(num_negatives=4)).run()
    assert _statuses(changed) == {"load": "cached", "views": "cached", "rewrite": "cached", "embed": "cached",
                                  "classify": "cached", "mine": "ran", "publish": "ran"}
    assert all(len(n) == 4 for n in changed.dataset["train"]["hard_negatives"])
    threshold = Pipeline(config.override(threshold=0.6)).run()
    assert _statuses(threshold)["classify"] == "ran" and _statuses(threshold)["embed"] == "cached"


def test_a_defence_setting_changed_reruns_the_defences_over_the_checkpointed_pools(first_run):
    """The mine stage checkpoints each split's mined pool: a change to a blind-model defence's
    setting mines no split again, and going back gives the first run's rows."""
    config, first = first_run
    rows = first.dataset["train"][:]
    splits = sorted(first.dataset)
    Pipeline(config).run()  # the earlier tests' changes left other pools in the checkpoint
    changed = Pipeline(config.override(adversarial_auc=0.7)).run()
    assert _statuses(changed)["mine"] == "ran" and changed.stats["mine"]["checkpointed_splits"] == splits
    assert list((Path(config.out) / "cache" / "mine-splits").glob("train-*/done.json"))
    back = Pipeline(config).run()
    assert back.stats["mine"]["checkpointed_splits"] == splits
    assert back.dataset["train"][:] == rows
    negatives = [n for split in back.dataset.values() for row in split["hard_negatives"] for n in row]
    assert back.stats["mine"]["kept_by_kind"] == dict(Counter(n["kind"] for n in negatives))
    assert back.stats["mine"]["verified"] == sum(sum(split["num_verified"]) for split in back.dataset.values())
    fewer = Pipeline(config.override(num_negatives=3)).run()  # the pool's size changes: mined again
    assert fewer.stats["mine"]["checkpointed_splits"] == []


def test_run_over_refer_files_keeps_splits_and_exports_refer(tmp_path):
    root = refer_files.write_refer(tmp_path / "refer", "refcocog", "umd")
    config = RunConfig(source="refer", refer_root=str(root), dataset="refcocog", split_by="umd",
                       num_negatives=3, out=str(tmp_path / "run"), to_refer=True)
    result = Pipeline(config).run()
    assert set(result.dataset) == {"train", "val", "test"}
    assert (tmp_path / "run" / "refer" / "refcocog" / "refs(umd).p").is_file()
    val_texts = {t for e in result.dataset["val"]["expressions"] for t in e}
    for row in result.dataset["train"]:
        assert not {n["text"] for n in row["hard_negatives"]} & val_texts - {t for t in row["expressions"]}


def _run_cli(out: Path, images: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "refaug.cli", "run", "--synthetic-images", str(images), "--num-negatives", "6",
               "--out", str(out)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_views(out: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        cache = out / "cache" / "views"
        if cache.exists() and sum(1 for p in cache.rglob("*") if p.is_file()) >= 3:
            return
        if process.poll() is not None:
            pytest.fail(f"the run ended before it could be interrupted:\n{process.stdout.read()}")
        time.sleep(0.05)
    process.kill()
    pytest.fail("the views stage never started writing its cache")


KILL_IMAGES = 40


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    clean = _run_cli(out, KILL_IMAGES)
    assert clean.wait(timeout=600) == 0, clean.stdout.read()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_killed_run_resumes_to_the_rows_of_an_uninterrupted_run(tmp_path, clean_run, sig):
    images = KILL_IMAGES
    interrupted = _run_cli(tmp_path / "killed", images)
    _wait_for_views(tmp_path / "killed", interrupted)
    interrupted.send_signal(sig)
    code = interrupted.wait(timeout=120)
    output = interrupted.stdout.read()
    if sig == signal.SIGINT:
        assert code == 130, output
        assert "run again to resume" in output
    else:
        assert code == -signal.SIGKILL
    assert not (tmp_path / "killed" / "publish").exists()
    resumed = _run_cli(tmp_path / "killed", images)
    assert resumed.wait(timeout=600) == 0, resumed.stdout.read()
    want = load_from_disk(str(clean_run / "publish" / "dataset"))
    got = load_from_disk(str(tmp_path / "killed" / "publish" / "dataset"))
    assert got["train"][:] == want["train"][:]


def test_summary_names_the_source_and_its_rows_first(first_run):
    _, result = first_run
    first = result.summary_table().splitlines()[0]
    load = result.stats["load"]
    assert first == (f"source: synthetic scenes (6 images, seed 0): {load['referents']} referents "
                     f"({load['images']} images, {load['expressions']} expressions)")


def test_stages_and_runner_import_one_way():
    """pipeline -> stages -> run_context, with no import back, not even under TYPE_CHECKING."""
    import ast

    import refaug.run_context
    import refaug.stages

    for module, forbidden in ((refaug.stages, {"refaug.pipeline"}),
                              (refaug.run_context, {"refaug.pipeline", "refaug.stages"})):
        tree = ast.parse(Path(module.__file__).read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not imported & forbidden, module.__name__
    from refaug.pipeline import (  # noqa: F401 - the old import path keeps working
        LOAD_FIELDS,
        Pipeline,
        RunContext,
        Stage,
        default_stages,
        load_stage,
    )

    assert RunContext is refaug.run_context.RunContext and load_stage is refaug.stages.load_stage
    assert [s.name for s in default_stages()] == ["load", "views", "rewrite", "embed", "classify", "mine"]


def test_library_bars_and_log_level_come_back_after_a_failed_run(tmp_path):
    import logging

    from datasets.utils import are_progress_bars_disabled

    from refaug.pipeline import LOAD_FIELDS, Stage, library_progress_bars_off

    seen = {}

    def failing(ds, config, context):
        seen["disabled"] = are_progress_bars_disabled()
        raise RuntimeError("stage failed")

    level = logging.getLogger("refaug").level
    with pytest.raises(RuntimeError, match="stage failed"):
        Pipeline(RunConfig(out=str(tmp_path)), stages=(Stage("load", LOAD_FIELDS, failing),)).run()
    assert seen["disabled"] and not are_progress_bars_disabled()
    assert logging.getLogger("refaug").level == level
    with library_progress_bars_off():
        assert are_progress_bars_disabled()
    assert not are_progress_bars_disabled()
