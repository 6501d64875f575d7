"""The adversarial filter (refaug.plausibility.adversarial) and the negated-negative positives
(refaug.plausibility.negated, refaug.plausibility.published): real MiniLM embeddings of texts
written here, real spaCy parses."""

from __future__ import annotations

import numpy as np
import pytest
from datasets import Dataset

from refaug.plausibility.adversarial import AdversarialFilter, blind_auc
from refaug.plausibility.negated import NEGATED_NEGATIVE, negated_negatives
from refaug.plausibility.published import (
    adversarial_filter_dataset,
    derived_positives,
    positive_form,
)

OBJECTS = ["man", "woman", "dog", "car", "chair", "cat", "bus", "girl", "horse", "cup", "boy", "bear", "truck", "couch"]
PLACES = ["on the left", "on the right", "in the middle"]
COLOURS = ["red", "blue", "white"]


def _combos() -> list[str]:
    return [f"{c} {o} {p}" for o in OBJECTS for c in COLOURS for p in PLACES]


def _positives() -> list[str]:
    return _combos()[0::2][:60]


def _negatives() -> list[str]:
    """Half are the positives' own form (other combinations), half carry a template's tell-tale words."""
    fluent = _combos()[1::2][:30]
    template = [f"the {c} {o} at the {p.split()[-1]} of the image" for o, c, p in
                zip(OBJECTS * 3, COLOURS * 14, PLACES * 14)][:30]
    return fluent + template


@pytest.fixture(scope="module")
def vectors(embedder):
    pos, neg = _positives(), _negatives()
    return embedder.encode(pos), embedder.encode(neg), neg


def _fresh_auc(pos: np.ndarray, neg: np.ndarray, seed: int = 7) -> float:
    """A blind model the filter never ran: 5-fold out-of-fold logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    x, y = np.vstack([pos, neg]), np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    oof = np.zeros(len(y))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(x, y):
        oof[test] = LogisticRegression(max_iter=1000, class_weight="balanced").fit(x[train], y[train]).decision_function(x[test])
    return blind_auc(oof[y == 1], oof[y == 0])


def test_filter_lowers_a_real_blind_auc_and_drops_the_template_texts(vectors):
    pos, neg, texts = vectors
    f = AdversarialFilter(target_auc=0.5, max_share=0.5, models=5, step_share=0.1, seed=0)
    result = f.filter(pos, neg, ["attribute"] * len(neg))
    report = result.kinds["attribute"]
    assert report.rounds[0] > 0.65  # the template's words give half the negatives away
    assert report.auc_after < report.rounds[0]
    before, after = _fresh_auc(pos, neg), _fresh_auc(pos, neg[result.keep])
    assert after < before - 0.1, (before, after)
    dropped = [t for t, k in zip(texts, result.keep, strict=True) if not k]
    assert sum("of the image" in t for t in dropped) >= 0.8 * len(dropped), dropped
    assert np.isfinite(result.predictability).all()  # every text, kept or dropped, has its score
    assert result.predictability[~result.keep].min() > f.threshold


def test_filter_is_deterministic_and_respects_max_share(vectors):
    pos, neg, _ = vectors
    f = AdversarialFilter(target_auc=0.0, max_share=0.25, models=4, step_share=0.1, seed=3)
    a = f.filter(pos, neg, ["negation"] * len(neg))
    b = f.filter(pos, neg, ["negation"] * len(neg))
    assert (a.keep == b.keep).all() and np.array_equal(a.predictability, b.predictability)
    assert a.kinds["negation"].rounds == b.kinds["negation"].rounds
    assert (~a.keep).sum() == int(0.25 * len(neg))  # the target (0) is out of reach: it stops at the cap
    assert a.kinds["negation"].stopped == "max_share"
    other = AdversarialFilter(target_auc=0.0, max_share=0.25, models=4, seed=4).filter(pos, neg, ["negation"] * len(neg))
    assert not np.array_equal(other.predictability, a.predictability)  # the seed matters


def test_filter_leaves_other_kinds_and_small_kinds_alone(vectors):
    pos, neg, _ = vectors
    kinds = ["same_image"] * len(neg)
    kinds[:5] = ["attribute"] * 5  # fewer than MIN_NEGATIVES
    result = AdversarialFilter().filter(pos, neg, kinds)
    assert result.keep.all() and np.isnan(result.predictability).all() and not result.kinds
    with pytest.raises(ValueError, match="max_share"):
        AdversarialFilter(max_share=1.5)


def test_matched_positives_stand_in_for_the_plain_ones(vectors):
    pos, neg, _ = vectors
    forms = ["negation"] * 20 + [""] * (len(pos) - 20)
    result = AdversarialFilter(target_auc=1.0 - 1e-9, max_share=0.1).filter(pos, neg, ["negation"] * len(neg),
                                                                             positive_forms=forms)
    assert result.kinds["negation"].matched and result.kinds["negation"].positives == 20


# ---------------------------------------------------------------- negated negatives

NEGATED = [
    (("man on right", "man on left", "spatial: right -> left"), [("man not on left", "add not: on")]),
    (("man with red hat", "man with blue hat", "color: red -> blue"), [("man without blue hat", "with -> without")]),
    (("left zebra", "right zebra", "spatial: left -> right"), [("the zebra that is not on the right", "not: right")]),
    (("woman sitting on left", "woman standing on left", "state: sitting -> standing"),
     [("woman not standing on left", "add not: standing")]),
    (("the dog is sitting", "the dog is lying", "state: sitting -> lying"), [("the dog is not lying", "add not: is lying")]),
    (("open laptop", "closed laptop", "state: open -> closed"), [("the laptop that is not closed", "not: closed")]),
    (("person in white on right", "person in white on left", "spatial: right -> left"),
     [("person in white not on left", "add not: on")]),  # not "person not in white on left": white is true
    (("small dog on the left", "big dog on the left", "size: small -> big"), []),  # no negation covers "big"
    (("red car", "red truck", "type: car -> truck"), []),  # "the truck that is not red" would claim a truck
    (("the two cats", "the three cats", "count: two -> three"), []),
    (("man not on left", "man not on right", "spatial: left -> right"), []),  # its negation would undo a "not"
]


def test_negated_negatives_exact():
    got = negated_negatives([edit for edit, _ in NEGATED])
    for (edit, want), found in zip(NEGATED, got, strict=True):
        assert [(t, d.split("; ", 1)[1]) for t, d in found] == want, edit
        assert all(d.startswith(f"negated: {edit[2]}; ") for _, d in found)


def _row(expressions, negatives):
    return {"expressions": expressions, "views": {"appearance": None, "action": None, "spatial": None,
                                                   "alternative": None, "source": {"backend": "rules"}, "derived": []},
            "hard_negatives": [{"text": t, "kind": k, "detail": d, "origin": o, "verified_by": v, "reason": "r"}
                               for t, k, d, o, v in negatives], "num_verified": len(negatives)}


ROWS = [
    _row(["man on right", "guy in blue"], [
        ("man on left", "attribute", "spatial: right -> left", "man on right", "edit"),
        ("man in blue", "same_image", "", "refcoco-2", "same_image"),
        ("guy in red", "attribute", "color: blue -> red", "guy in blue", "conflict"),  # not an own edit's proof
        ("man not on right", "negation", "add not: on", "man on right", "edit"),
    ]),
    _row(["the cat sitting on the bed"], [
        ("the cat standing on the bed", "state", "state: sitting -> standing", "the cat sitting on the bed", "edit"),
        ("the cat lying on the bed", "state", "state: sitting -> lying", "a view text", "edit"),  # origin not own
    ]),
]


def test_derived_positives_of_rows_exact():
    got = derived_positives(ROWS)
    assert [[(d["text"], d["kind"], d["origin"]) for d in row] for row in got] == [
        [("man not on left", NEGATED_NEGATIVE, "man on left")],
        [("the cat not standing on the bed", NEGATED_NEGATIVE, "the cat standing on the bed")],
    ]
    assert positive_form("man not on left", NEGATED_NEGATIVE) == "negation"
    assert positive_form("the cat sitting on the bed") == "state" and positive_form("man on right") == ""


def test_adversarial_filter_dataset_drops_rows_negatives_and_stamps_scores(embedder):
    negatives = _negatives()
    rows = [_row([p], [(negatives[i % len(negatives)], "attribute", "color: a -> b", p, "edit"),
                       (negatives[(i + 7) % len(negatives)], "attribute", "color: a -> b", p, "edit"),
                       ("woman on the left", "same_image", "", "x", "same_image")])
            for i, p in enumerate(_positives())]
    ds = Dataset.from_list(rows)
    out, report = adversarial_filter_dataset(ds, embedder=embedder,
                                             adversarial=AdversarialFilter(target_auc=0.6, max_share=0.5, seed=0))
    assert report["attribute"]["dropped"] > 0
    dropped = {text for text, score in report["attribute"]["dropped_examples"]}
    assert all(score > 0.5 for _, score in report["attribute"]["dropped_examples"])  # each with its score
    for row in out:
        assert not {n["text"] for n in row["hard_negatives"]} & dropped
        assert row["num_verified"] == len(row["hard_negatives"])
        for n in row["hard_negatives"]:
            assert ("predictability" in n["reason"]) == (n["kind"] == "attribute")


@pytest.mark.slow
def test_a_run_publishes_negated_positives_and_filters_by_default(tmp_path):
    from refaug.config import RunConfig
    from refaug.pipeline import Pipeline

    result = Pipeline(RunConfig(synthetic_images=8, num_negatives=10, out=str(tmp_path / "run"))).run()
    rows = [row for split in result.dataset.values() for row in split]
    mine = result.stats["mine"]
    assert mine["negated_positives"]["positives"] > 0 and mine["adversarial"]
    assert all(len(r["hard_negatives"]) <= 10 for r in rows)
    assert mine["short"] == sum(len(r["hard_negatives"]) < 10 for r in rows)
    derived = [d for r in rows if r["views"] for d in r["views"]["derived"]]
    assert derived and all(d["kind"] == NEGATED_NEGATIVE and (" not " in f" {d['text']} " or "without" in d["text"])
                           for d in derived)
    for r in rows:  # a referent's derived positive is never one of its own negatives
        assert not {n["text"] for n in r["hard_negatives"]} & {d["text"] for d in (r["views"] or {}).get("derived") or ()}
    generated = [n for r in rows for n in r["hard_negatives"] if n["kind"] in ("attribute", "negation")]
    assert generated and all("predictability" in n["reason"] for n in generated)
