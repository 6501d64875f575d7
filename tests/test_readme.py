"""The README's training-loop snippet runs on a folder that `refaug export refer` wrote."""

from __future__ import annotations

import re
from pathlib import Path

from datasets import load_from_disk

from refaug.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def _block_after(heading: str) -> str:
    text = README.read_text()
    section = text[text.index(heading):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


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
