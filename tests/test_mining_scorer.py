"""Model-in-the-loop mining (issue 9): the user's own model finds the negatives it confuses.

The model here is a colour-blind reader: a :class:`~refaug.scoring.TextScorer` that deletes
colour words before comparing a candidate with the referent's own expressions. Its false
positives are therefore known in advance: exactly the candidates that differ from one of
the referent's texts only by colour words.
"""

from __future__ import annotations

import math
import os
import re
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
from datasets import Dataset, load_from_disk

from refaug.cli import main
from refaug.clusters import ClusterClassifier, cluster_texts
from refaug.data.synthetic import synthetic_scenes
from refaug.embed import Embedder
from refaug.lexicon import COLOR_FAMILIES
from refaug.mining import mine_hard_negatives, mine_rounds, normalize_text
from refaug.rewrite import AttributeRewriter, Rewriters
from refaug.scoring import CLIPScorer, Scorer, TextScorer, scorer_from_spec
from refaug.testing.tiny_clip import build_tiny_clip

COLOUR_WORDS = re.compile(r"\b(?:" + "|".join(sorted(COLOR_FAMILIES, key=len, reverse=True)) + r")\b",
                          re.IGNORECASE)
# Measured on the 40 most similar candidates of each referent of synthetic_scenes(30, seed=0),
# all-MiniLM-L6-v2, colours deleted: the 727 colour swaps score 1.000 (the same text once the
# colours are gone); of the 4273 others, role reversals ("the triangle right of the diamond" for
# "the diamond right of the triangle") come closest at 0.988, then left/right swaps (0.968-0.977)
# and leftmost/rightmost (0.955). So 0.995, not 0.95, which would call those matches too.
COLOUR_BLIND_THRESHOLD = 0.995


def delete_colour_words(text: str) -> str:
    """What a colour-blind reader sees: the text without its colour words."""
    return " ".join(COLOUR_WORDS.sub(" ", text).split())


def colour_blind_scorer(*, embedder: Embedder | None = None) -> TextScorer:
    """A model that cannot see colours (``python:tests.test_mining_scorer:colour_blind_scorer``)."""
    return TextScorer(embedder=embedder, preprocess=delete_colour_words, threshold=COLOUR_BLIND_THRESHOLD)


def colour_swapped(text: str, own: list[str]) -> bool:
    """Whether ``text`` differs from one of ``own`` only by colour words."""
    key = normalize_text(delete_colour_words(text))
    return any(normalize_text(delete_colour_words(o)) == key and normalize_text(o) != normalize_text(text)
               for o in own)


class Recording(Scorer):
    """Passes batches on to another scorer and records, per referent, the texts it was shown."""

    def __init__(self, inner: Scorer) -> None:
        super().__init__(threshold=inner.threshold, batch_size=inner.batch_size)
        self.inner = inner
        self.allows_nan = inner.allows_nan
        self.shown: list[dict[str, list[str]]] = []

    def _score(self, referents, texts):
        self.shown.append({row["referent_id"]: list(t) for row, t in zip(referents, texts, strict=True)})
        return self.inner(referents, texts)


@pytest.fixture(scope="module")
def contrast(embedder) -> ClusterClassifier:
    return ClusterClassifier("contrast", embedder=embedder)


@pytest.fixture(scope="module")
def scenes() -> Dataset:
    """30 images (125 referents) with colour-swapped distractors of their expressions."""
    ds = synthetic_scenes(30, seed=0, image_size=(64, 48))
    rewriters = Rewriters([AttributeRewriter(kinds=("color",), seed=0)])
    return ds.map(rewriters, batched=True, features=rewriters.output_features(ds.features))


@pytest.fixture(scope="module")
def small() -> Dataset:
    return synthetic_scenes(12, seed=0, image_size=(64, 48))


# ------------------------------------------------------------------------ rounds

ROUNDS, PER_ROUND, MIN_NEW = 8, 5, 5


@pytest.fixture(scope="module")
def rounds_run(scenes, embedder, contrast):
    scorer = Recording(colour_blind_scorer(embedder=embedder))
    caught: list[list[list[dict]]] = []
    out, reports = mine_rounds(scenes, scorer=scorer, rounds=ROUNDS, per_round=PER_ROUND, min_new=MIN_NEW,
                               num_negatives=5, embedder=embedder, classifier=contrast,
                               on_round=lambda report, found: caught.append(found))
    return out, reports, caught, scorer


def test_round_one_catches_exactly_the_colour_swaps(scenes, rounds_run):
    out, reports, caught, scorer = rounds_run
    own = {row["referent_id"]: list(cluster_texts(row)) for row in scenes}
    shown = scorer.shown[0]  # round 1: one call (TextScorer scores 256 referents per call)
    assert reports[0].scorer_calls == 1 and len(shown) == len(scenes)
    slices = {rid: texts[len(own[rid]):] for rid, texts in shown.items()}
    assert all(texts[: len(own[rid])] == own[rid] for rid, texts in shown.items())
    assert all(len(s) == PER_ROUND for s in slices.values())
    expected = {(rid, t) for rid, s in slices.items() for t in s if colour_swapped(t, own[rid])}
    found = {(scenes[i]["referent_id"], c["text"]) for i, hits in enumerate(caught[0]) for c in hits}
    assert found == expected and len(found) > len(scenes)  # every swap caught, nothing else
    first = reports[0]
    assert (first.round, first.candidates, first.false_positives) == (1, sum(map(len, slices.values())), len(found))
    assert first.referents_hit == len({rid for rid, _ in found}) and first.seconds > 0
    assert sum(first.kinds.values()) == len(found) and {"attribute", "same_class"} <= set(first.kinds)
    attribute = [c for hits in caught[0] for c in hits if c["kind"] == "attribute"]
    assert all(c["detail"].startswith("color:") for c in attribute)


def test_rounds_find_fewer_each_time_and_stop(rounds_run):
    _, reports, caught, _ = rounds_run
    counts = [r.false_positives for r in reports]
    assert [r.round for r in reports] == list(range(1, len(reports) + 1))
    # The ranking goes tier by tier (own edits and the same image, then same-class neighbours...):
    # within a tier deeper slices are easier; a new tier may bring a few more again.
    assert counts[0] == max(counts) and counts[-1] == min(counts), counts
    assert len(reports) < ROUNDS and counts[-1] < MIN_NEW and min(counts[:-1]) >= MIN_NEW
    assert [sum(map(len, found)) for found in caught] == counts
    assert all(r.scorer_calls == 1 and r.candidates > 0 for r in reports)


def test_false_positives_lead_the_output_with_their_round(scenes, rounds_run):
    out, reports, caught, _ = rounds_run
    pattern = re.compile(r"^model false positive, round (\d+): score ([\d.]+) >= 0\.995; ")
    total = 0
    for i, row in enumerate(out["hard_negatives"]):
        own = list(cluster_texts(scenes[i]))
        hits = [n for n in row if n["reason"].startswith("model false positive")]
        assert row[: len(hits)] == hits  # the model's false positives first, in round order
        rounds = [int(pattern.match(n["reason"]).group(1)) for n in hits]
        assert rounds == sorted(rounds)
        for n in hits:
            assert colour_swapped(n["text"], own)
            assert n["score_parts"]["model_score"] >= COLOUR_BLIND_THRESHOLD
        assert [n["text"] for n in hits] == [c["text"] for found in caught for c in found[i]]
        total += len(hits)
    assert total == sum(r.false_positives for r in reports)


def test_a_model_that_sees_colours_is_not_fooled(scenes, embedder, contrast, rounds_run):
    plain = TextScorer(embedder=embedder, threshold=COLOUR_BLIND_THRESHOLD)
    out, reports = mine_rounds(scenes, scorer=plain, rounds=1, per_round=PER_ROUND, num_negatives=5,
                               embedder=embedder, classifier=contrast)
    assert reports[0].candidates == len(scenes) * PER_ROUND == rounds_run[1][0].candidates
    # MiniLM itself barely tells left from right (0.990 for "the red hexagon on the left" vs
    # "... on the right"): a few such swaps may cross the threshold, never a colour swap.
    assert reports[0].false_positives <= rounds_run[1][0].false_positives // 20
    for row, negatives in zip(scenes, out["hard_negatives"], strict=True):
        fooled = [n["text"] for n in negatives if n["reason"].startswith("model false positive")]
        assert not any(colour_swapped(t, list(cluster_texts(row))) for t in fooled)


def test_rounds_reject_bad_options(small, embedder):
    with pytest.raises(ValueError, match="rounds=0 must be >= 1"):
        mine_rounds(small, scorer=colour_blind_scorer(embedder=embedder), rounds=0)


# --------------------------------------------------------------- weighted ranking

WEIGHTS = {"similarity": 1.0, "uncertainty": 1.0, "diversity": 0.3}


@pytest.fixture(scope="module")
def weighted(small, embedder, contrast):
    scorer = colour_blind_scorer(embedder=embedder)
    return mine_hard_negatives(small, embedder=embedder, classifier=contrast, scorer=scorer,
                               weights=WEIGHTS, num_negatives=6)


def test_every_negative_records_its_parts_and_score(weighted):
    assert all(len(row) > 1 for row in weighted["hard_negatives"])
    for row in weighted["hard_negatives"]:
        for rank, n in enumerate(row):
            parts = n["score_parts"]
            assert parts["uncertainty"] is not None and parts["model_score"] is not None
            assert 0.0 <= parts["uncertainty"] <= 1.0
            assert (parts["diversity"] is None) == (rank == 0)
            assert parts["similarity"] == pytest.approx(n["similarity"], abs=1e-6)
            want = (WEIGHTS["similarity"] * parts["similarity"] + WEIGHTS["uncertainty"] * parts["uncertainty"]
                    + WEIGHTS["diversity"] * (parts["diversity"] or 0.0))
            assert n["score"] == pytest.approx(want, abs=1e-4)
            match = parts["model_score"] >= COLOUR_BLIND_THRESHOLD
            assert ("the model scores it as a match" in n["reason"]) == match
            if match:
                assert parts["uncertainty"] == 1.0


def test_without_a_scorer_the_model_parts_are_null(small, embedder):
    plain = mine_hard_negatives(small, embedder=embedder, num_negatives=4)
    diverse = mine_hard_negatives(small, embedder=embedder, num_negatives=4,
                                  weights={"similarity": 1, "diversity": 0.5})
    for out, has_diversity in ((plain, False), (diverse, True)):
        for row in out["hard_negatives"]:
            for rank, n in enumerate(row):
                parts = n["score_parts"]
                assert parts["uncertainty"] is None and parts["model_score"] is None
                assert (parts["diversity"] is not None) == (has_diversity and rank > 0)
                assert "the model scores it" not in n["reason"]


def test_uncertainty_alone_ranks_the_false_positives_first(small, embedder, contrast):
    out = mine_hard_negatives(small, embedder=embedder, classifier=contrast, num_negatives=8,
                              scorer=colour_blind_scorer(embedder=embedder),
                              weights={"similarity": 0, "uncertainty": 1})
    mixed = 0
    for row in out["hard_negatives"]:
        fooled = [n["score_parts"]["model_score"] >= COLOUR_BLIND_THRESHOLD for n in row]
        assert fooled == sorted(fooled, reverse=True), [n["text"] for n in row]
        mixed += any(fooled) and not all(fooled)
    assert mixed >= 5  # rows where the order was decided by the model, not by default


@pytest.mark.parametrize(("options", "message"), [
    ({"weights": {"similarity": 1, "hardness": 1}}, r"unknown weights \['hardness'\]; valid: similarity"),
    ({"weights": {"similarity": -1}}, r"must be finite and >= 0"),
    ({"weights": {"uncertainty": 1}, "scorer": None}, r"needs the model's scores; pass scorer="),
    ({"weights": {"similarity": 1, "diversity": 0.2}, "diversity": 0.2}, r"not both"),
    ({"diversity": 0.2, "scorer": "colour_blind"}, r"pass the diversity as weights="),
])
def test_invalid_weights_name_the_fix(small, embedder, options, message):
    if options.get("scorer") == "colour_blind":
        options = {**options, "scorer": colour_blind_scorer(embedder=embedder)}
    with pytest.raises(ValueError, match=message):
        mine_hard_negatives(small, embedder=embedder, **options)


# ----------------------------------------------------------------- a real CLIP


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> str:
    return build_tiny_clip(tmp_path_factory.mktemp("tiny_clip_mining"))


def test_a_clip_scorer_in_the_loop_scores_box_crops(small, embedder, tiny_clip):
    scorer = CLIPScorer(tiny_clip, crop="box", device="cpu", batch_size=8)
    chunk = 16
    out = mine_hard_negatives(small, embedder=embedder, scorer=scorer, num_negatives=4, chunk_size=chunk)
    negatives = [n for row in out["hard_negatives"] for n in row]
    assert negatives and all(n["score_parts"]["model_score"] is not None for n in negatives)
    assert all(math.isfinite(n["score_parts"]["model_score"]) for n in negatives)
    assert all(0.0 <= n["score_parts"]["uncertainty"] <= 1.0 for n in negatives)
    sizes = [min(chunk, len(small) - r0) for r0 in range(0, len(small), chunk)]
    assert len(sizes) <= scorer.calls <= sum(math.ceil(s / scorer.batch_size) for s in sizes)
    own = sum(len(cluster_texts(row)) for row in small)
    assert scorer.texts_scored >= own + len(negatives)
    matches = [n for n in negatives if "the model scores it as a match" in n["reason"]]
    assert all(n["score_parts"]["uncertainty"] == 1.0 for n in matches)


# ------------------------------------------------------------------------- CLI


def test_cli_prints_the_rounds_table(tmp_path, capsys):
    out = tmp_path / "mined"
    argv = ["mine", "--synthetic", "12", "--method", "contrast", "--scorer",
            "python:tests.test_mining_scorer:colour_blind_scorer", "--rounds", "3", "--per-round", "3",
            "--num-negatives", "3", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "mining rounds" in printed and "new false positives" in printed and "calls/referent" in printed
    table = [line for line in printed.splitlines() if re.match(r"^\s*\|?\s*1\s*\|?\s+\d+", line)]
    assert table, printed
    mined = load_from_disk(str(out))
    reasons = [n["reason"] for row in mined["hard_negatives"] for n in row]
    assert any(r.startswith("model false positive, round 1") for r in reasons)


def test_cli_rounds_without_a_scorer_is_an_error(tmp_path, capsys):
    argv = ["mine", "--synthetic", "4", "--rounds", "2", "--out", str(tmp_path / "x")]
    assert main(argv) == 2
    assert "--rounds needs --scorer" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(("spec", "message"), [
    ("python:no_such_module_here:scorer", r"cannot import 'no_such_module_here'.*PYTHONPATH"),
    ("python:tests.test_mining_scorer:missing", r"module 'tests.test_mining_scorer' has no 'missing'"),
    ("python:tests.test_mining_scorer:COLOUR_BLIND_THRESHOLD", r"gave float, not a refaug.scoring.Scorer"),
    ("python:tests.test_mining_scorer", r"is not valid; use text, text:MODEL"),
])
def test_bad_scorer_specs_are_explained(spec, message):
    with pytest.raises(ValueError, match=message):
        scorer_from_spec(spec)


def test_scorer_spec_finds_a_module_in_the_current_folder(tmp_path, monkeypatch):
    (tmp_path / "my_model_in_the_loop.py").write_text(
        "from refaug.scoring import FunctionScorer\n"
        "def zeros(referents, texts):\n"
        "    return [[0.0] * len(t) for t in texts]\n"
        "scorer = FunctionScorer(zeros, threshold=0.5)\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "my_model_in_the_loop", raising=False)
    scorer = scorer_from_spec("python:my_model_in_the_loop:scorer", threshold=0.25)
    assert scorer.name == "zeros" and scorer.threshold == 0.25


def test_colour_blind_scorer_sees_no_colours(embedder):
    scorer = colour_blind_scorer(embedder=embedder)
    rows = [{"referent_id": "r", "expressions": ["the red star on the right", "rightmost star"]}]
    (scores,) = scorer(rows, [["the blue star on the right", "the red star on the left"]])
    assert scores[0] == pytest.approx(1.0, abs=1e-4) and scores[1] < COLOUR_BLIND_THRESHOLD
    assert delete_colour_words("The Navy-blue  circle") == "The - circle"
    assert np.isfinite(scores).all()
