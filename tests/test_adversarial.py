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
    balance_mask,
    derived_positives,
    form_rate_drops,
    has_form,
    match_form_rates,
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
                                                   "alternative": None, "source": {"backend": "rules", "model": None, "template": None,
                                                                        "template_version": None, "template_hash": None},
                                                   "derived": []},
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


def test_has_form():
    assert [has_form(t, "negation") for t in ("man not on left", "guy without hat", "no shirt", "don't", "notebook",
                                               "knot on left")] == [True, True, True, True, False, False]
    assert [has_form(t, "state") for t in ("dog sitting", "the man who stands", "parked car", "red car")] == [
        True, True, True, False]


def test_balance_mask_per_referent_and_per_split_exact():
    # row 0: negation, attribute, negation, negation; row 1: negation, state, state; row 2: negation
    row_of = np.asarray([0, 0, 0, 0, 1, 1, 1, 2])
    kinds = np.asarray(["negation", "attribute", "negation", "negation", "negation", "state", "state", "negation"])
    keep = np.asarray([True, True, False, True, True, True, True, True])  # the filter dropped entry 2
    caps = {"negation": np.asarray([1, 0, 1]), "state": np.asarray([0, 1, 0])}
    assert balance_mask(row_of, kinds, keep, caps, "off").tolist() == keep.tolist()
    assert balance_mask(row_of, kinds, keep, caps, "referent").astype(int).tolist() == [1, 1, 0, 0, 0, 1, 0, 1]
    # split: two negation slots, the rows' first kept negation entries first (rows 0 and 1), then their second
    assert balance_mask(row_of, kinds, keep, caps, "split").astype(int).tolist() == [1, 1, 0, 0, 1, 1, 0, 0]
    with pytest.raises(ValueError, match="referent, split, off"):
        balance_mask(row_of, kinds, keep, caps, "image")


def test_balance_refills_the_slots_with_the_next_negatives_in_rank_order():
    rows = [
        _row(["man on right"], [("man not on right", "negation", "add not: on", "man on right", "edit"),
                                ("man not in red", "negation", "add not: in", "man on right", "edit"),
                                ("man on left", "attribute", "spatial: right -> left", "man on right", "edit"),
                                ("woman in blue", "same_image", "", "x", "same_image")]),
        _row(["dog sitting", "dog not on sofa"], [
            ("dog standing", "state", "state: sitting -> standing", "dog sitting", "edit"),
            ("dog lying", "state", "state: sitting -> lying", "dog sitting", "edit"),
            ("dog not sitting", "negation", "add not: sitting", "dog sitting", "edit"),
            ("cat on sofa", "same_image", "", "y", "same_image")]),
    ]
    rows[0]["views"]["derived"] = [{"text": "man not on left", "kind": NEGATED_NEGATIVE, "detail": "", "origin": ""}]
    report: dict = {}
    out, _ = adversarial_filter_dataset(Dataset.from_list(rows), embedder=None, adversarial=None, limit=3,
                                        balance="referent", balance_report=report)
    assert [[n["text"] for n in r["hard_negatives"]] for r in out] == [
        ["man not on right", "man on left", "woman in blue"],  # one "not" positive: one negation negative
        ["dog standing", "dog not sitting", "cat on sofa"],  # one state-word positive; one "not" one
    ]
    assert [r["num_verified"] for r in out] == [3, 3]  # every kept one has a proof
    assert report["negation"] == {"positives": 2, "pool": 3, "published_unbalanced": 3, "published": 2}
    assert report["state"] == {"positives": 1, "pool": 2, "published_unbalanced": 2, "published": 1}
    plain, _ = adversarial_filter_dataset(Dataset.from_list(rows), embedder=None, adversarial=None, limit=3)
    assert [len(r["hard_negatives"]) for r in plain] == [3, 3] and plain[1]["hard_negatives"][1]["text"] == "dog lying"


def test_form_rate_drops_exact():
    # 6 positives, 3 with "not" (all derived); negatives: 1 of 10 with "not". factor 2: at most 20% of positives
    expressions = [["man on right"], ["dog on sofa"], ["red car"]]
    derived = [["man not on left", "man not in red"], ["dog not on floor"], []]
    negatives = ["man not on right"] + [f"negative {i}" for i in range(9)]
    drop, report = form_rate_drops(expressions, derived, negatives, factor=2.0)
    # (3 - d) / (6 - d) <= 0.2 -> d >= 3: every derived one; later ones first, then later rows
    assert drop == {(0, 0), (0, 1), (1, 0)}
    assert report["negation"] == {"negative_share": 0.1, "positive_share_before": 0.5, "positive_share_after": 0.0,
                                  "derived_dropped": 3}
    drop, report = form_rate_drops(expressions, derived, negatives, factor=4.0)
    assert drop == {(0, 1)}  # (3 - 1) / (6 - 1) = 0.4 <= 0.4: the second derived of row 0 goes first
    assert report["negation"]["derived_dropped"] == 1 and report["state"]["derived_dropped"] == 0
    drop, _ = form_rate_drops(expressions, derived, ["not this", "not that"], factor=2.0)
    assert drop == set()  # the negatives say "not" more often: nothing to drop


def test_match_form_rates_drops_derived_positives_from_views():
    rows = [_row(["man on right"], [(f"negative {i}", "same_image", "", "x", "same_image") for i in range(9)]
                 + [("man not on right", "negation", "add not: on", "man on right", "edit")]),
            _row(["dog on sofa"], [("cat on sofa", "same_image", "", "y", "same_image")])]
    derived = [{"text": t, "kind": NEGATED_NEGATIVE, "detail": "", "origin": ""} for t in ("man not on left", "man not in red")]
    rows[0]["views"]["derived"] = derived
    rows[1]["views"]["derived"] = [{"text": "dog not on floor", "kind": NEGATED_NEGATIVE, "detail": "", "origin": ""}]
    out, report = match_form_rates(Dataset.from_list(rows), factor=3.0)
    # negatives: 1 of 11 say "not"; positives 3 of 5: (3 - d) / (5 - d) <= 3/11 -> d >= 2.25: three dropped
    assert [[d["text"] for d in r["views"]["derived"]] for r in out] == [[], []]
    assert report["negation"]["derived_dropped"] == 3
    out, report = match_form_rates(Dataset.from_list(rows), factor=9.0)  # at most 9/11 of the positives
    assert [[d["text"] for d in r["views"]["derived"]] for r in out] == [["man not on left", "man not in red"],
                                                                       ["dog not on floor"]]
    assert out[0]["hard_negatives"] == Dataset.from_list(rows)[0]["hard_negatives"]


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
    balance = mine["balance"]  # the lexical balance, rate by default
    assert balance["mode"] == "rate" and balance["negation"]["published"] <= balance["negation"]["positives"]
    for rates in (mine["balance_rates"],):
        for rate in rates.values():
            assert rate["positive_share_after"] <= max(2.5 * rate["negative_share"], rate["positive_share_before"]) + 1e-9
    texts = [n["text"] for r in rows for n in r["hard_negatives"]]
    positives = [t for r in rows for t in dict.fromkeys([*r["expressions"], *(d["text"] for d in (r["views"] or {}).get(
        "derived") or ())])]
    share = np.mean([has_form(t, "negation") for t in texts])
    humans = np.mean([has_form(t, "negation") for r in rows for t in dict.fromkeys(r["expressions"])])
    assert np.mean([has_form(t, "negation") for t in positives]) <= max(2.5 * share, humans) + 0.02


def test_demo_prints_the_texts_of_derived_positives():
    import json
    from types import SimpleNamespace

    from datasets import DatasetDict

    from refaug.demo import example_rows

    rows = [dict(ROWS[0], referent_id="r0", category="person", bbox=[1.0, 2.0, 3.0, 4.0]),
            dict(ROWS[1], referent_id="r1", category="cat", bbox=[1.0, 2.0, 3.0, 4.0])]
    rows[0]["views"] = {**rows[0]["views"], "appearance": "man in blue",
                        "derived": [{"text": "man not on left", "kind": NEGATED_NEGATIVE, "detail": "negated: x",
                                     "origin": "man on left"}]}
    for r in rows:
        r["hard_negatives"] = [dict(n, similarity=0.5) for n in r["hard_negatives"]]
    shown = [json.loads(t) for t in example_rows(SimpleNamespace(dataset=DatasetDict({"train": Dataset.from_list(rows)})), 2)]
    assert shown[0]["views"] == {"appearance": "man in blue", "derived": ["man not on left"]}
    assert shown[1]["views"] == {}  # no views text, no derived positive: nothing shown


def test_rate_balance_trims_a_kind_whose_word_is_too_common_among_the_negatives():
    # positives: 1 of 4 with a state word; the rate step keeps the word's share among the published
    # negatives at most 0.45 x 1/4 (NEGATIVE_RATE_FACTORS)
    rows = [_row(["dog sitting", "brown dog"], [
                ("dog standing", "state", "state: sitting -> standing", "dog sitting", "edit"),
                ("dog lying", "state", "state: sitting -> lying", "dog sitting", "edit"),
                ("cat on sofa", "same_image", "", "y", "same_image")]),
            _row(["man in red", "guy"], [("man sitting", "state", "state: x -> sitting", "man in red", "edit"),
                                         ("man in blue", "attribute", "color: red -> blue", "man in red", "edit"),
                                         ("woman", "same_image", "", "z", "same_image"),
                                         ("tree", "same_image", "", "z", "same_image")])]
    report: dict = {}
    out, _ = adversarial_filter_dataset(Dataset.from_list(rows), embedder=None, adversarial=None, limit=3,
                                        balance="rate", balance_report=report)
    # per referent: row 0 keeps one state negative (one state-word positive), row 1 none (no state-word
    # positive); 1 of 5 (0.2) is still above 0.1125: it goes, and so does "dog lying", which the
    # referent's cap would have let into its slot
    assert [[n["text"] for n in r["hard_negatives"]] for r in out] == [
        ["cat on sofa"], ["man in blue", "woman", "tree"]]
    assert report["state"] == {"positives": 1, "pool": 3, "published_unbalanced": 3, "published": 0}
    rows[1]["expressions"] = ["man in red", "man sitting down"]  # now a state-word positive in each row
    out, _ = adversarial_filter_dataset(Dataset.from_list(rows), embedder=None, adversarial=None, limit=3,
                                        balance="rate")
    # per referent: 1 + 1 state negatives of 5 = 0.4 > 0.45 x 2/4: one goes (the later row's), its slot
    # refilled; 1 of 5 = 0.2 is within 0.225
    assert [[n["text"] for n in r["hard_negatives"]] for r in out] == [
        ["dog standing", "cat on sofa"], ["man in blue", "woman", "tree"]]


def test_rate_balance_trims_and_refills_when_the_share_is_too_high():
    rows = [_row(["dog sitting", "dog standing up"], [
                ("dog standing", "state", "state: sitting -> standing", "dog sitting", "edit"),
                ("dog lying", "state", "state: sitting -> lying", "dog sitting", "edit"),
                ("cat on sofa", "same_image", "", "y", "same_image"),
                ("bird", "same_image", "", "y", "same_image")])]
    rows += [_row([f"plain expression {i}", f"other expression {i}"],
                  [(f"negative {i}.{j}", "same_image", "", "x", "same_image") for j in range(3)]) for i in range(4)]
    report: dict = {}
    out, _ = adversarial_filter_dataset(Dataset.from_list(rows), embedder=None, adversarial=None, limit=3,
                                        balance="rate", balance_report=report)
    # positives: 2 of 10 with a state word (0.2); published 2 of 15 (0.13 > 0.45 x 0.2 = 0.09): one state
    # negative goes (the later one), its slot refilled by the next in rank
    assert [n["text"] for n in out[0]["hard_negatives"]] == ["dog standing", "cat on sofa", "bird"]
    assert [len(r["hard_negatives"]) for r in out] == [3, 3, 3, 3, 3]
    assert report["state"] == {"positives": 2, "pool": 2, "published_unbalanced": 2, "published": 1}
    referent, _ = adversarial_filter_dataset(Dataset.from_list(rows), embedder=None, adversarial=None, limit=3,
                                             balance="referent")
    assert [n["text"] for n in referent[0]["hard_negatives"]] == ["dog standing", "dog lying", "cat on sofa"]


def test_rate_balance_drops_other_kinds_texts_with_the_word_before_the_kinds_own():
    # a type swap of a state-word expression carries the word too ("woman sitting" -> "man sitting")
    rows = [_row(["woman sitting", "woman in red"], [
                ("woman standing", "state", "state: sitting -> standing", "woman sitting", "edit"),
                ("man sitting", "type", "noun: woman -> man", "woman sitting", "edit"),
                ("cat on sofa", "same_image", "", "y", "same_image")]),
            _row([f"plain expression {i}" for i in range(8)],
                 [(f"negative {j}", "same_image", "", "x", "same_image") for j in range(25)])]
    out, _ = adversarial_filter_dataset(Dataset.from_list(rows), embedder=None, adversarial=None, balance="rate")
    # positives: 1 of 10 with a state word; published 2 of 28 (0.071 > 0.45 x 0.1): one goes, the type one
    assert [n["text"] for n in out[0]["hard_negatives"]] == ["woman standing", "cat on sofa"]
    rows[1]["hard_negatives"] = rows[1]["hard_negatives"][:5]
    out, _ = adversarial_filter_dataset(Dataset.from_list(rows), embedder=None, adversarial=None, balance="rate")
    assert [n["text"] for n in out[0]["hard_negatives"]] == ["cat on sofa"]  # 1 of 7 is still too many: both


def test_refill_never_brings_back_what_the_balance_dropped(embedder):
    rows = [_row(["dog sitting", "brown dog"], [
                ("dog standing", "state", "state: sitting -> standing", "dog sitting", "edit"),
                ("cat on sofa", "same_image", "", "y", "same_image")]),
            _row(["man in red", "guy"], [("man in blue", "attribute", "color: red -> blue", "man in red", "edit"),
                                         ("woman", "same_image", "", "z", "same_image")])]
    # too few texts for the filter to fit on (it keeps them all); the balance drops "dog standing" (1 of 3
    # published against 0.45 x 1/4) and row 0 is left short of limit 3: nothing filtered to refill it from
    out, report = adversarial_filter_dataset(Dataset.from_list(rows), embedder=embedder, adversarial=AdversarialFilter(),
                                             limit=3, balance="rate")
    assert [[n["text"] for n in r["hard_negatives"]] for r in out] == [["cat on sofa"], ["man in blue", "woman"]]


def test_refill_gives_short_rows_their_least_predictable_spares_and_leaves_full_rows_alone():
    from refaug.plausibility.published import _refill

    # three rows of negatives in rank order; row 0 kept 2 of limit 3, row 1 is full, row 2 kept none
    row_of = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
    keep = np.array([1, 0, 1, 0, 1, 1, 1, 0, 0, 0], bool)
    spare = np.array([0, 1, 0, 1, 0, 0, 0, 1, 1, 1], bool)
    score = np.array([0, .9, 0, .4, 0, 0, 0, .1, .7, .2])
    taken = _refill(row_of, keep, spare, score, limit=3, rows=3)
    assert sorted(taken.tolist()) == [3, 8, 9]  # row 0: the 0.4 spare, not the 0.9; row 1: none; row 2: both
    assert _refill(row_of, keep, spare, score, limit=None, rows=3).tolist() == []
    assert _refill(row_of, keep, np.zeros(10, bool), score, limit=3, rows=3).tolist() == []


def test_kept_negatives_stamp_the_reasons_column_wise_as_the_row_formula():
    """The column-wise stamping (one note per distinct score, joined in Arrow) writes what the
    per-row formula writes: "<reason>; predictability 0.43", the note alone for an empty or
    missing reason, the reason alone where no score was computed; num_verified counts the rest."""
    import pyarrow as pa

    from refaug.plausibility.published import PREDICTABILITY_NOTE, _kept_negatives

    reasons = ["sim 0.5 < threshold 0.7", "", None, "verified: edit", "x", "y"]
    scores = np.asarray([0.125, 0.43500001, np.nan, 0.999, 0.5049999, np.nan], np.float32)
    flat = pa.StructArray.from_arrays(
        [pa.array([f"t{i}" for i in range(6)]), pa.array(["attribute"] * 6), pa.array(reasons, pa.string()),
         pa.array(["edit", "none", "edit", "category", "none", "edit"])], names=["text", "kind", "reason", "verified_by"])
    keep = np.asarray([True, True, True, True, False, True])
    row_of = np.asarray([0, 0, 1, 1, 1, 2])
    column, verified = _kept_negatives(pa.chunked_array([flat.slice(0, 3), flat.slice(3)]), row_of, keep, scores, 3)

    def formula(r, v):  # the per-row formula the column-wise code replaced
        return f"{r}; {PREDICTABILITY_NOTE} {v:.2f}" if r and np.isfinite(v) else \
            (f"{PREDICTABILITY_NOTE} {v:.2f}" if np.isfinite(v) else r)

    got = [n["reason"] for row in column.to_pylist() for n in row]
    assert got == [formula(r, v) for r, v, k in zip(reasons, scores, keep, strict=True) if k]
    assert [len(row) for row in column.to_pylist()] == [2, 2, 1]
    assert verified.tolist() == [1, 2, 1]
