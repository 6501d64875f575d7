from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from datasets import load_from_disk

from refaug.cli import main
from refaug.records import ROW_FEATURES
from tests import refer_files

ROOT = Path(__file__).resolve().parents[1]


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "load"):
        assert command in out


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "refaug"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    assert "demo" in result.stdout


def test_demo_writes_a_dataset_with_the_canonical_features(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--images", "4", "--examples", "1"]) == 0
    printed = capsys.readouterr().out
    assert "stage" in printed and "referent_id" in printed and "negatives by kind" in printed
    dd = load_from_disk(str(out))
    features = dd["train"].features
    assert {k: features[k] for k in ROW_FEATURES} == ROW_FEATURES
    assert len(dd["train"]) >= 8
    assert all(v is not None for v in dd["train"]["views"])
    assert all(len(n) == 10 for n in dd["train"]["hard_negatives"])
    assert (out / "report" / "similarities.png").is_file()


def test_load_prints_counts_of_a_refer_folder(tmp_path, capsys):
    refer_files.write_refer(tmp_path, "refcocog", "umd")
    assert main(["load", str(tmp_path), "--dataset", "refcocog", "--split-by", "umd"]) == 0
    out = capsys.readouterr().out
    assert "per split" in out and "per category" in out and "per expression length" in out
    assert "person" in out


def test_load_reports_bad_input_without_a_traceback(tmp_path, capsys):
    assert main(["load", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "refs(unc).p" in err and "Fix:" in err


@pytest.mark.slow
def test_wheel_ships_the_prompt_templates(tmp_path):
    """A plain `pip install .` must find the templates, not only a source checkout."""
    if shutil.which("git") is None:
        pytest.skip("git is needed to copy the tree")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("refaug-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    templates = sorted(p.name for p in (ROOT / "prompts").glob("*.jinja"))
    assert templates, "prompts/ has no templates"
    for name in templates:
        assert f"refaug/_prompts/{name}" in names


def test_export_refer_from_a_demo_folder(tmp_path, capsys):
    demo = tmp_path / "demo"
    assert main(["demo", "--out", str(demo), "--images", "3"]) == 0
    out = tmp_path / "refer"
    assert main(["export", "refer", str(demo), str(out)]) == 0
    assert (out / "refcoco" / "refs(unc).p").is_file()
    assert main(["export", "refer", str(demo), str(out)]) == 2
    assert "overwrite" in capsys.readouterr().err
    assert main(["export", "refer", str(demo), str(out), "--overwrite"]) == 0


def test_publish_push_failure_is_reported(tmp_path, monkeypatch, capsys):
    from refaug.publish import publish

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    demo = tmp_path / "demo"
    main(["demo", "--out", str(demo), "--images", "2"])
    folder = publish(load_from_disk(str(demo)), tmp_path / "pub")
    assert main(["publish", "push", str(folder), "me/x"]) == 2
    assert "intact" in capsys.readouterr().err


def _run_help(monkeypatch, capsys, columns: int) -> str:
    monkeypatch.setenv("COLUMNS", str(columns))
    with pytest.raises(SystemExit) as info:
        main(["run", "--help"])
    assert info.value.code == 0
    return capsys.readouterr().out


def test_run_help_fits_a_screen_grouped_with_defaults_and_choices(monkeypatch, capsys):
    from refaug.config import FIELD_HELP, OPTION_GROUPS
    from refaug.views.backends import BACKEND_MODULES

    text = _run_help(monkeypatch, capsys, 100)
    assert len(text.splitlines()) <= 63, text  # one screen (a 100x63 terminal); 53 options in six groups
    for group in OPTION_GROUPS:
        assert f"\n{group}:\n" in text
    options = [line.split()[0] for line in text.splitlines() if line.startswith("  --")]
    assert len(options) == len(FIELD_HELP) + 1  # every field, and --config
    assert f"view backend: {', '.join(BACKEND_MODULES)} (default: rules)" in text
    assert "--refer-root DIR" in text and "selects the refer source (default: none)" in text
    flat = " ".join(text.split())
    for info in FIELD_HELP.values():
        assert info.text.replace("{choices}", "") in flat
    assert flat.count("(default:") == len(FIELD_HELP)


@pytest.mark.parametrize(
    ("option", "value", "valid"),
    [
        ("--backend", "llava", "'rules', 'transformers'"),
        ("--method", "cosine", "'centroid', 'radius'"),
        ("--mining-sources", "web", "'same_image', 'cross_image'"),
        ("--rewriters", "synonym", "'attribute', 'negation'"),
        ("--on-error", "ignore", "'raise', 'skip'"),
        ("--source", "hub", "'synthetic', 'refer', 'disk'"),
    ],
)
def test_a_bad_run_option_fails_at_parse_time_with_the_valid_list(capsys, option, value, valid):
    with pytest.raises(SystemExit) as info:
        main(["run", option, value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"invalid choice: '{value}'" in err and valid in err


def test_contradicting_source_options_stop_before_the_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--refer-root", "data/refer", "--disk-path", "prepared", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "refer_root='data/refer'" in err and "disk_path='prepared'" in err and "Fix:" in err
    assert main(["run", "--source", "synthetic", "--refer-root", "data/refer", "--out", str(out)]) == 2
    assert "source='synthetic' contradicts refer_root" in capsys.readouterr().err
    assert not out.exists()


def test_run_shows_one_bar_per_stage_and_quiet_shows_none(tmp_path, capsys):
    from datasets.utils import are_progress_bars_disabled

    argv = ["run", "--synthetic-images", "2", "--num-negatives", "2", "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("source: synthetic scenes (2 images, seed 0): ")
    bars = captured.err.replace("\r", "\n")
    for stage in ("load", "rewrite", "embed", "classify", "mine", "publish"):
        assert f"{stage}: 100%" in bars or f"{stage}: " in bars, stage
    assert "views: 100%" in bars
    for library_bar in ("Saving the dataset", "Filter", "Flattening the indices", "Casting", "Loading weights"):
        assert library_bar not in bars
    assert not are_progress_bars_disabled()  # restored after the run
    assert main([*argv, "--quiet"]) == 0  # every stage cached now
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.startswith("source: synthetic scenes")
    with pytest.raises(SystemExit):
        main([*argv, "--quiet", "--verbose"])
    assert "contradict" in capsys.readouterr().err
