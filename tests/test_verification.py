"""Every kept negative says what proves it is not the referent; the policy keeps what is proven."""

from __future__ import annotations

import logging

import pytest
from datasets import Dataset

from refaug.clusters import ClusterClassifier
from refaug.mining import MiningReport, mine_hard_negatives
from refaug.mining.guards import reads_broken
from refaug.records import VERIFICATIONS, HardNegative, Row

VIEW_SOURCE = {"backend": "rules", "model": None, "template": None, "template_version": None, "template_hash": None}


def _views(appearance: str | None = None) -> dict | None:
    if appearance is None:
        return None
    return {"appearance": appearance, "action": None, "spatial": None, "alternative": None, "source": VIEW_SOURCE}


def _rows() -> Dataset:
    """Referent "a" (a woman on the left; a view says she wears red) and one candidate of each verification."""
    def row(rid, image, category, expressions, views=None, distractors=()):
        return {"referent_id": rid, "image_id": image, "category": category, "expressions": expressions,
                "views": _views(views), "distractors": list(distractors)}

    edit = {"text": "woman on the right", "kind": "attribute", "detail": "spatial: left -> right",
            "origin": "woman on the left"}
    return Dataset.from_list([
        row("a", 1, "person", ["woman on the left"], views="the woman in red", distractors=[edit]),
        row("b", 1, "person", ["man in a black coat"]),  # same image
        row("c", 2, "person", ["lady on the right"]),  # a spatial conflict with a's expression
        row("d", 3, "dog", ["brown dog"]),  # another category
        row("e", 4, "person", ["woman in blue"]),  # a colour conflict with a's view only
        row("f", 5, "person", ["woman"]),  # nothing stated either way
    ])


def _verified(out: Dataset, referent: str = "a") -> dict[str, str]:
    row = out[out["referent_id"].index(referent)]
    return {n["text"]: n["verified_by"] for n in row["hard_negatives"]}


@pytest.fixture(scope="module")
def everything(embedder):
    """Nothing inside the cluster (a cut-off no cosine reaches), no margin, nothing required."""
    return mine_hard_negatives(_rows(), embedder=embedder, num_negatives=30, relative_margin=None,
                               classifier=ClusterClassifier("centroid", threshold=2.0, embedder=embedder),
                               require_verified=False)


def test_each_verification_is_recorded(everything):
    got = _verified(everything)
    assert got["man in a black coat"] == "same_image"
    assert got["woman on the right"] == "edit"
    assert got["lady on the right"] == "conflict"
    assert got["brown dog"] == "category"
    assert got["woman in blue"] == "conflict_view"
    assert got["woman"] == "none"
    assert set(got.values()) <= set(VERIFICATIONS)


def test_num_verified_counts_the_verified(everything):
    row = everything[everything["referent_id"].index("a")]
    assert row["num_verified"] == sum(n["verified_by"] != "none" for n in row["hard_negatives"]) == 5


def test_ranking_puts_the_proven_first(everything):
    texts = [n["text"] for n in everything[0]["hard_negatives"]]
    tiers = [{"man in a black coat": 0, "woman on the right": 0, "lady on the right": 1, "woman in blue": 1,
              "brown dog": 2}.get(t, 3) for t in texts]
    assert tiers == sorted(tiers) and texts[-1] != "brown dog"


def test_require_verified_drops_the_unproven(embedder, caplog):
    caplog.set_level(logging.INFO, logger="refaug.mining")
    out = mine_hard_negatives(_rows(), embedder=embedder, num_negatives=30, relative_margin=None,
                              classifier=ClusterClassifier("centroid", threshold=2.0, embedder=embedder))
    got = _verified(out)
    assert "woman" not in got and "none" not in got.values()
    assert "because of unverified" in caplog.text


def test_a_cut_off_does_not_overrule_a_proof(embedder):
    """A centroid cut-off that calls everything inside keeps only what the annotation proves."""
    out = mine_hard_negatives(_rows(), embedder=embedder, num_negatives=30, relative_margin=None,
                              classifier=ClusterClassifier("centroid", threshold=-1.0, embedder=embedder))
    got = _verified(out)
    assert set(got.values()) == {"same_image", "edit", "conflict", "category"}
    assert "woman in blue" not in got  # a view-only conflict of a neighbour rests on a machine text


def test_the_relative_margin_keeps_the_proven(embedder, caplog):
    caplog.set_level(logging.INFO, logger="refaug.mining")
    out = mine_hard_negatives(_rows(), embedder=embedder, num_negatives=30, relative_margin=10.0,
                              sources=("same_image", "distractors"))
    assert set(_verified(out)) == {"man in a black coat", "woman on the right"}
    assert "relative_margin would drop, because proven negative" in caplog.text


def test_sam3_selection_needs_a_floor_and_a_shared_attribute(embedder):
    rows = _rows().to_list() + [{"referent_id": "g", "image_id": 6, "category": "person",
                                 "expressions": ["woman on the right in red"], "views": None, "distractors": []}]
    out = mine_hard_negatives(Dataset.from_list(rows, features=_rows().features), embedder=embedder,
                              num_negatives=30, relative_margin=None, selection="sam3", similarity_floor=0.0,
                              classifier=ClusterClassifier("centroid", threshold=2.0, embedder=embedder))
    got = _verified(out)
    assert "woman on the right in red" in got  # conflicts on the side, agrees on the colour
    assert "lady on the right" not in got and "brown dog" not in got  # nothing shared
    assert "man in a black coat" in got  # the rule applies to cross-image candidates only
    with pytest.raises(ValueError, match="selection='best'"):
        mine_hard_negatives(_rows(), embedder=embedder, selection="best")


def test_ambiguous_same_image_annotation_is_dropped(embedder, caplog):
    caplog.set_level(logging.INFO, logger="refaug.mining")
    rows = [{"referent_id": r, "image_id": 1, "category": "person", "expressions": [t]}
            for r, t in (("x", "man on left"), ("y", "man on the left"), ("z", "man on right"))]
    out = mine_hard_negatives(Dataset.from_list(rows), embedder=embedder, num_negatives=5, sources=("same_image",))
    got = _verified(out, "x")
    assert "man on right" in got and got["man on right"] == "same_image"  # a stated conflict: kept
    assert "man on the left" not in got  # the same words: it may well be x too
    assert "ambiguous annotation: 'man on the left'" in caplog.text


def test_the_report_counts_per_kind(embedder):
    out, report = mine_hard_negatives(_rows(), embedder=embedder, num_negatives=30, return_report=True)
    assert isinstance(report, MiningReport) and report.referents == len(out)
    kinds = report.to_dict()["kinds"]
    assert kinds["same_image"]["verified_by"] == {"same_image": sum(
        n["kind"] == "same_image" for r in out["hard_negatives"] for n in r)}
    assert kinds["attribute"]["same_category_share"] == 1.0
    assert set(kinds["same_class"]["dropped"]) <= {"malformed", "duplicate", "repeated", "ambiguous",
                                                  "inside_cluster", "max_similarity", "relative_margin",
                                                  "unverified", "selection", "ranked_out", "not_judged"}
    assert "negatives by kind" in report.table() and "verified by" in report.table()


def test_broken_texts_are_not_negatives(embedder):
    assert reads_broken("the tie tie second from top") and reads_broken("  ") and not reads_broken("tie on top")
    rows = _rows().to_list()
    rows[1]["expressions"] = ["the man man in a black coat"]
    out = mine_hard_negatives(Dataset.from_list(rows, features=_rows().features), embedder=embedder,
                              num_negatives=30)
    assert "the man man in a black coat" not in _verified(out)


def test_hard_negative_records_its_verification():
    negative = HardNegative(text="t", kind="same_image", detail="", origin="b", similarity=0.5, score=0.5,
                            reason="r", verified_by="same_image")
    assert HardNegative.from_row(negative.to_row()) == negative
    legacy = {k: v for k, v in negative.to_row().items() if k != "verified_by"}
    assert HardNegative.from_row(legacy).verified_by == "none"
    with pytest.raises(ValueError, match="verified_by='proof'"):
        HardNegative(text="t", kind="same_image", detail="", origin="b", similarity=0.5, score=0.5, reason="r",
                     verified_by="proof")


def test_row_counts_its_verified_negatives():
    from refaug.records import Referent

    referent = Referent(referent_id="r", image_id=1, ann_id=1, ref_id=1, category="person", supercategory="person",
                        bbox=(0, 0, 1, 1), image=None, expressions=("left lady",), split="val")
    negatives = tuple(HardNegative(text=t, kind="same_image", detail="", origin="", similarity=0.1, score=0.1,
                                   reason="", verified_by=v) for t, v in (("a", "same_image"), ("b", "none")))
    assert Row(referent, hard_negatives=negatives).to_row()["num_verified"] == 1
