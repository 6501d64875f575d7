"""The README's snippets and commands run as written, on data the tests make."""

from __future__ import annotations

import pickle
import re
import shlex
from pathlib import Path

from datasets import load_from_disk
from PIL import Image

from refaug.cli import main
from tests import refer_files

README = Path(__file__).resolve().parents[1] / "README.md"


def _block_after(heading: str) -> str:
    text = README.read_text()
    section = text[text.index(heading):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def _command_after(heading: str) -> list[str]:
    """The first shell command after ``heading``: continuation lines joined, the comment dropped."""
    text = README.read_text()
    block = re.search(r"```bash\n(.*?)```", text[text.index(heading):], re.S).group(1)
    return shlex.split(block.replace("\\\n", " ").splitlines()[0], comments=True)


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_training_snippet_reads_an_export(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--out", "demo", "--images", "3"]) == 0
    assert main(["export", "refer", "demo", "exported", "--dataset", "refcoco", "--split-by", "unc"]) == 0
    namespace: dict = {}
    exec(compile(_block_after("## Back into refer-based codebases"), "README.md", "exec"), namespace)
    batch = namespace["batch"]
    assert len(batch["negatives"][0]) == 8
    published = load_from_disk("demo")["train"]
    assert namespace["train"]["hard_negatives"] == published["hard_negatives"]


def test_contrast_and_scorer_snippet_runs(capsys):
    namespace: dict = {}
    exec(compile(_block_after("## Hard negatives that are really negative"), "README.md", "exec"), namespace)
    assert "spatial: left vs right (head: lady)" in capsys.readouterr().out
    assert set(namespace["out"][0]["hard_negatives"][0]["score_parts"]) == {
        "similarity", "uncertainty", "diversity", "model_score"}
    assert namespace["rounds"] and namespace["rounds"][0].round == 1


def test_the_run_command_publishes_the_refs_of_the_refer_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = _command_after("## A whole run, resumable")
    assert argv[:2] == ["refaug", "run"]
    dataset, split_by = _option(argv, "--dataset"), _option(argv, "--split-by")
    root = refer_files.write_refer(Path(_option(argv, "--refer-root")), dataset, split_by)
    images = Path(_option(argv, "--images"))
    images.mkdir(parents=True)
    for image in refer_files.instances()["images"]:
        Image.new("RGB", (image["width"], image["height"]), (90, 120, 60)).save(images / image["file_name"])
    assert main(argv[1:]) == 0
    assert capsys.readouterr().out.startswith(f"source: refer {dataset} ({split_by}) from {root}: 7 referents")
    refs = pickle.loads((root / dataset / f"refs({split_by}).p").read_bytes())
    want = {(r["ref_id"], r["split"], tuple(s["sent"] for s in r["sentences"])) for r in refs}
    published = load_from_disk(str(Path(_option(argv, "--out")) / "publish" / "dataset"))
    got = {(row["ref_id"], split, tuple(row["expressions"])) for split, part in published.items() for row in part}
    assert got == want
