"""Mining with the contrast classifier: conflicts are sure negatives, look-alikes are dropped."""

from __future__ import annotations

import logging

from datasets import Dataset

from refaug.clusters import ClusterClassifier
from refaug.mining import mine_hard_negatives


def _scene() -> Dataset:
    """One image, two ladies and a dog; the left lady's distractors include a paraphrase."""
    rows = [
        {"referent_id": "a", "image_id": 1, "category": "person",
         "expressions": ["left lady", "woman on the left in white"],
         "distractors": [
             {"text": "lady on the left side", "kind": "llm_proposal", "detail": "paraphrase", "origin": "a"},
             {"text": "right lady in white", "kind": "attribute", "detail": "spatial: left -> right",
              "origin": "left lady"},
         ]},
        {"referent_id": "b", "image_id": 1, "category": "person",
         "expressions": ["right lady", "woman on the right in black"], "distractors": []},
        {"referent_id": "c", "image_id": 1, "category": "dog",
         "expressions": ["brown dog", "dog lying down"], "distractors": []},
        {"referent_id": "d", "image_id": 2, "category": "person",
         "expressions": ["man on left", "guy in red shirt"], "distractors": []},
        {"referent_id": "e", "image_id": 2, "category": "person",
         "expressions": ["man on right", "guy in blue"], "distractors": []},
    ]
    return Dataset.from_list(rows)


def _negatives(out: Dataset, referent: str) -> dict[str, dict]:
    row = out[out["referent_id"].index(referent)]
    return {n["text"]: n for n in row["hard_negatives"]}


def test_conflicts_are_kept_and_explained(embedder, caplog):
    caplog.set_level(logging.INFO, logger="refaug.mining")
    clf = ClusterClassifier("contrast", embedder=embedder)
    out = mine_hard_negatives(_scene(), embedder=embedder, classifier=clf, num_negatives=10,
                              sources=("same_image", "distractors"))
    left = _negatives(out, "a")
    assert "right lady" in left and "right lady in white" in left
    assert "spatial: left vs right (head: lady)" in left["right lady"]["reason"]
    assert left["right lady"]["reason"].startswith("p_same ")
    # A paraphrase with no conflict is a likely false negative: dropped, and counted.
    assert "lady on the left side" not in left
    assert "because of inside_cluster" in caplog.text
    men = _negatives(out, "d")
    assert "guy in blue" in men and "color: red vs blue (head: " in men["guy in blue"]["reason"]


def test_proof_keeps_what_the_centroid_threshold_would_drop(embedder):
    """Once the centroid cut-off dropped the hard same-image texts; a proof now overrules it."""
    centroid = mine_hard_negatives(_scene(), embedder=embedder, num_negatives=10,
                                   classifier=ClusterClassifier("centroid", embedder=embedder),
                                   sources=("same_image", "distractors"))
    contrast = mine_hard_negatives(_scene(), embedder=embedder, num_negatives=10,
                                   classifier=ClusterClassifier("contrast", embedder=embedder),
                                   sources=("same_image", "distractors"))
    by_centroid = _negatives(centroid, "a")
    assert {"right lady", "woman on the right in black", "right lady in white"} <= set(by_centroid)
    assert by_centroid["right lady"]["verified_by"] == "same_image"
    assert set(_negatives(contrast, "a")) == set(by_centroid)
    kept = _negatives(contrast, "a")
    hardest = max(kept.values(), key=lambda n: n["similarity"])
    assert "vs" in hardest["reason"]  # the hardest kept negative is a conflict


def test_conflicts_pass_the_relative_margin(embedder, caplog):
    caplog.set_level(logging.INFO, logger="refaug.mining")
    clf = ClusterClassifier("contrast", embedder=embedder)
    mine_hard_negatives(_scene(), embedder=embedder, classifier=clf, num_negatives=10,
                        sources=("same_image", "distractors"), relative_margin=0.5)
    assert "relative_margin would drop, because proven negative" in caplog.text


def test_category_stands_in_for_a_missing_head(embedder):
    rows = [
        {"referent_id": "x", "image_id": 1, "category": "dog", "expressions": ["left one", "on the left"]},
        {"referent_id": "y", "image_id": 1, "category": "cat", "expressions": ["the cat", "left cat"]},
    ]
    clf = ClusterClassifier("contrast", embedder=embedder)
    out = mine_hard_negatives(Dataset.from_list(rows), embedder=embedder, classifier=clf, num_negatives=5,
                              sources=("same_image",))
    reasons = [n["reason"] for n in out[0]["hard_negatives"]]
    assert any("head: dog vs" in r for r in reasons), reasons
