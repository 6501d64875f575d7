"""Contrast-aware cluster judgement: attributes per head noun (real spaCy) and the fitted
default model with the real MiniLM embedder."""

from __future__ import annotations

import csv
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
from datasets import Dataset
from datasets.fingerprint import Hasher

from refaug.clusters import DEFAULT_CONTRAST_MODEL, ClusterClassifier, calibrate_threshold
from refaug.contrast import (
    FEATURES,
    ContrastModel,
    Description,
    Finding,
    compare,
    describe,
    describe_texts,
    head_noun,
)
from refaug.data.synthetic import synthetic_scenes

PAIRS_TABLE = Path(__file__).parent / "data" / "contrast_pairs.tsv"


@pytest.fixture(scope="module")
def contrast(embedder) -> ClusterClassifier:
    return ClusterClassifier("contrast", embedder=embedder)


def _pairs_table() -> list[tuple[list[str], str, bool, str]]:
    with PAIRS_TABLE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [([t.strip() for t in r["cluster"].split("|")], r["candidate"], r["same"] == "1", r["kind"])
            for r in rows]


def _attributes(text: str) -> set[tuple[str, str, bool]]:
    return {(a.kind, a.value, a.positive) for a in describe_texts([text])[0].attributes}


# ------------------------------------------------------------------ the pairs table


def test_pairs_table_contrast_beats_centroid(contrast, embedder):
    rows = _pairs_table()
    assert len(rows) == 120
    batch = {"expressions": [cluster for cluster, _, _, _ in rows],
             "distractors": [[candidate] for _, candidate, _, _ in rows]}
    same = np.array([s for _, _, s, _ in rows])
    right = {}
    for name, clf in (("contrast", contrast), ("centroid", ClusterClassifier("centroid", embedder=embedder))):
        negative = np.array([judged[0] for judged in clf(batch)["candidate_is_negative"]])
        right[name] = negative != same
    wrong = [(kind, cluster, candidate) for (cluster, candidate, _, kind), ok in zip(rows, right["contrast"],
                                                                                      strict=True) if not ok]
    assert right["contrast"].sum() >= 0.9 * len(rows), wrong
    assert right["contrast"].sum() >= right["centroid"].sum()


@pytest.mark.parametrize(("cluster", "candidate"), [
    (["man in red"], "guy wearing red"),
    (["left lady"], "lady on the left"),
    (["leftmost zebra"], "zebra far left"),
    (["2nd from left"], "second from the left"),
    (["guy in sunglasses"], "man wearing shades"),
    (["woman with hat"], "lady wearing a hat"),
    (["guy sitting"], "man seated on bench"),
    (["man without hat"], "guy with no hat"),
    (["man in red", "guy on left"], "red shirt"),
    (["guy on rigth"], "man on right"),
])
def test_hard_paraphrases_are_judged_the_same(contrast, cluster, candidate):
    explanation = contrast.explain(cluster, candidate)
    assert not explanation.conflicts and not explanation.negative, str(explanation)


@pytest.mark.parametrize(("cluster", "candidate", "kind"), [
    ("left lady", "lady on right", "spatial"),
    ("red car", "blue car", "color"),
    ("2nd from left", "third from left", "ordinal"),
    ("man with hat", "man without hat", "negation"),
    # Postures conflict, but the fit on real pairs does not make the kind decisive (annotators
    # use verbs loosely: 8 of 72 action conflicts of the development file are one object's).
    pytest.param("sitting man", "standing man", "action", marks=pytest.mark.xfail(
        strict=True, reason="action is not a decisive kind of the weights fitted on real data")),
    ("big dog", "small dog", "size"),
    ("wooden chair", "metal chair", "material"),
    ("two donuts", "three donuts", "count"),
    ("man", "woman", "head"),
])
def test_each_conflict_kind_is_found(contrast, cluster, candidate, kind):
    explanation = contrast.explain([cluster], candidate)
    assert kind in {f.kind for f in explanation.conflicts}, str(explanation)
    assert explanation.negative


def test_explain_strings(contrast):
    explanation = contrast.explain(["left lady", "woman in white"], "lady on right")
    assert [str(f) for f in explanation.conflicts] == ["spatial: left vs right (head: lady)"]
    assert "head: lady/woman = lady (head: lady)" in [str(f) for f in explanation.agreements]
    text = str(explanation)
    assert text.startswith("negative (score ") and "spatial: left vs right (head: lady)" in text
    same = contrast.explain(["man in red"], "guy wearing red")
    assert str(same).startswith("inside the cluster (score ") and "color: red = red (head: man)" in str(same)


# ------------------------------------------------------------------ extraction


def test_attributes_of_a_landmark_are_not_the_referents():
    star = describe_texts(["the star below the blue circle"])[0]
    assert star.heads == {"star"} and not [a for a in star.attributes if a.kind == "color"]
    (landmark,) = star.landmarks
    assert (landmark.head, landmark.relation, landmark.word) == ("circle", "below", "below the blue circle")
    assert {a.value for a in landmark.attributes} == {"blue"}
    # So a red star does not conflict with it, but the blue circle is its landmark, not it.
    red, circle = describe_texts(["the red star", "the blue circle"])
    assert not [f for f in compare(star, red) if f.conflict]
    assert [f.kind for f in compare(circle, star) if f.conflict] == ["head", "landmark"]


def test_fragments_without_a_head_noun_describe_the_referent():
    fragment, other = describe_texts(["2nd from right", "second from left"])
    assert not fragment.heads
    assert {(a.kind, a.key, a.value) for a in fragment.attributes} == {("ordinal", "right", "2")}
    assert [str(f) for f in compare(fragment, other)] == [
        "ordinal: 2nd from right vs second from left (head: referent)"]
    assert ("color", "red", True) in _attributes("red shirt")


def test_category_stands_in_for_a_missing_head(contrast):
    without = contrast.explain(["2nd from left"], "the cat")
    assert not without.conflicts
    explanation = contrast.explain(["2nd from left"], "the cat", category="dog")
    assert [str(f) for f in explanation.conflicts] == ["head: dog vs cat (head: dog)"]
    assert explanation.negative
    assert Description.union(describe_texts(["2nd from left"]), category="dog").classes == {"dog"}


def test_paraphrase_vocabulary():
    assert _attributes("man wearing shades") == _attributes("guy in sunglasses")
    assert ("posture", "ride", True) in _attributes("woman on bike")
    assert ("pattern", "plaid", True) in _attributes("man in plaid")
    assert ("clothing", "basket", False) in _attributes("bike no basket")


@pytest.mark.parametrize(("text", "head"), [
    ("the red car on the left", "car"),
    ("behind the car, the man in red", "man"),  # an opening preposition places the referent
    pytest.param("next to the car, the man in red", "man", marks=pytest.mark.xfail(
        strict=True, reason='spaCy tags "next" as an adverb, so the opening-preposition rule does '
                            'not fire and the head is "car"')),
    ("teddy bear", "teddy bear"),  # a compound naming a COCO category keeps both words
    ("baseball cap guy", "guy"),  # the head of the compound, not the cap it wears
    ("man with a hat", "man"),
    ("2nd from right", None),
])
def test_head_noun_is_the_head_describe_reads(nlp, text, head):
    (doc,) = nlp.pipe([text])
    assert describe(doc).heads == ({head_noun(doc)} - {None})
    assert head_noun(doc) == head
    assert ("count", "2", True) in _attributes("plate with two slices")


# ------------------------------------------------------------------ model and classifier


def test_calibrate_fits_a_contrast_model_that_beats_the_centroid(embedder):
    scenes = synthetic_scenes(60, seed=0, image_size=(64, 48))
    fitted = calibrate_threshold(scenes, method="contrast", embedder=embedder)
    centroid = calibrate_threshold(scenes, method="centroid", embedder=embedder)
    assert fitted.model is not None and set(fitted.model["weights"]) == set(FEATURES)
    assert fitted.auc > centroid.auc_same_image and fitted.auc_same_image > centroid.auc_same_image
    clf = fitted.classifier(embedder=embedder)
    assert clf.method == "contrast" and clf.model.to_dict() == fitted.model


def test_save_and_load_round_trip(contrast, embedder, tmp_path):
    path = contrast.save(tmp_path / "contrast.json")
    loaded = ClusterClassifier.load(path, embedder=embedder)
    assert loaded.config() == contrast.config()
    assert loaded.model == DEFAULT_CONTRAST_MODEL
    cluster, candidates = ["left lady", "woman in white"], ["lady on right", "lady on the left"]
    np.testing.assert_allclose(loaded.similarity(cluster, candidates), contrast.similarity(cluster, candidates))


def test_hash_is_stable_through_use_and_follows_the_weights():
    clf = ClusterClassifier("contrast")
    before = Hasher.hash(clf)
    clf.explain(["left lady"], "lady on right")
    assert Hasher.hash(clf) == before == Hasher.hash(ClusterClassifier("contrast"))
    weights = {**DEFAULT_CONTRAST_MODEL.weights, "conflict:spatial": -1.0}
    other = ContrastModel(intercept=DEFAULT_CONTRAST_MODEL.intercept, weights=weights)
    assert Hasher.hash(ClusterClassifier("contrast", model=other)) != before


def test_dataset_map_agrees_with_is_negative(contrast):
    rows = {"expressions": [["left lady", "woman in white"], ["red car"], ["2nd from left"]],
            "distractors": [["lady on right", "lady on the left"], ["blue car", "the red car"], ["dog"]],
            "category": ["person", "car", "dog"]}
    out = Dataset.from_dict(rows).map(contrast, batched=True)
    for cluster, candidates, category, judged in zip(
        rows["expressions"], rows["distractors"], rows["category"], out["candidate_is_negative"], strict=True
    ):
        assert judged == contrast.is_negative(cluster, candidates, category=category).tolist()
    assert out["candidate_is_negative"][:2] == [[True, False], [True, False]]


def test_model_from_dict_rejects_an_unknown_feature():
    with pytest.raises(ValueError, match=r"unknown contrast features \['conflict:mood'\]; valid: cosine"):
        ContrastModel.from_dict({"intercept": 0.0, "weights": {"cosine": 1.0, "conflict:mood": -1.0}})


def test_model_fit_needs_both_labels():
    features = np.zeros((4, len(FEATURES)), np.float32)
    with pytest.raises(ValueError, match="both labels"):
        ContrastModel.fit(features, np.ones(4))


# ------------------------------------------------------------------ real annotators' wording


def test_wordnet_head_synonyms_agree(contrast):
    from refaug.contrast.synonyms import head_classes

    assert head_classes("bike") == {"bicycle", "motorcycle"} and head_classes("loveseat") == {"couch"}
    assert head_classes("racquet") == {"tennis racket"} and "person" in head_classes("kid")
    explanation = contrast.explain(["motorcycle on the left"], "bike on the left", category="motorcycle")
    assert "head: motorcycle = bike (head: motorcycle; WordNet: motorcycle)" in [
        str(f) for f in explanation.agreements]
    assert not explanation.conflicts
    # WordNet does not make every pair of classes agree.
    assert [f.kind for f in contrast.explain(["cat on a bed"], "dog").conflicts] == ["head"]


def test_colours_compare_in_cielab():
    from refaug.contrast.colors import NEAR_COLOR_DISTANCE, color_distance

    assert color_distance("beige", "white") < NEAR_COLOR_DISTANCE < color_distance("beige", "black")
    assert color_distance("dark", "black") < NEAR_COLOR_DISTANCE < color_distance("dark", "white")
    couch, loveseat, black = describe_texts(["beige couch", "white loveseat", "black couch"])
    assert [str(f) for f in compare(couch, loveseat)] == [
        "head: couch = loveseat (head: couch; WordNet: couch)",
        "color: beige ~ white (head: couch; CIELAB distance 30.4)"]
    assert [str(f) for f in compare(couch, black) if f.conflict and f.kind == "color"] == [
        "color: beige vs black (head: couch; CIELAB distance 91.1)"]
    # A shade alone is a colour ("dark sheep").
    assert ("color", "dark", True) in _attributes("dark sheep")


def test_colour_of_another_object_is_not_the_referents():
    bike, black = describe_texts(["motorcycle with man in orange shirt on it", "black bike right side"])
    assert not [a for a in bike.attributes if a.kind == "color"]
    assert not [f for f in compare(bike, black) if f.conflict]


def test_typos_of_contrastive_words_are_read_and_named():
    from refaug.contrast.typos import correct

    assert correct("white teddt far le t") == ("white teddy far left", (("le t", "left"), ("teddt", "teddy")))
    assert correct("secibd from right")[0] == "second from right"
    assert correct("bornw shirt")[0] == "brown shirt"
    assert correct("blurry photo of a cat")[0] == "blurry photo of a cat"  # first letters differ: no
    left, right = describe_texts(["bear on the le t", "bear on the right"])
    assert [str(f) for f in compare(left, right) if f.conflict] == [
        "spatial: left vs right (head: bear; typo: le t -> left)",
        "edit: left vs right (head: bear; the rest word for word as in 'bear on left'; typo: le t -> left)"]


def test_noise_before_the_description_is_not_a_negation():
    assert ("spatial", "left", True) in _attributes("not sure what this is either cow on the left")
    assert ("clothing", "hat", False) in _attributes("not the one with the hat")


def test_a_place_under_a_negated_verb_is_not_negated():
    assert ("spatial", "right", True) in _attributes("guy not playing the game on right")


def test_a_stated_age_overrides_the_heads():
    young, boy = describe_texts(["a young man doing a trick", "a boy jumping"])
    assert not [f for f in compare(young, boy) if f.conflict]


def test_finding_strings_name_their_grounds():
    assert str(Finding("head", False, "bike", "motorcycle", "bike", "WordNet: motorcycle")) == (
        "head: bike = motorcycle (head: bike; WordNet: motorcycle)")
    assert str(Finding("color", False, "beige", "white", "couch", "CIELAB distance 30.0")) == (
        "color: beige ~ white (head: couch; CIELAB distance 30.0)")


def test_feature_matrix_is_pair_features_row_by_row():
    """The judgement's one-matrix features equal stacking pair_features, on real parses."""
    from refaug.contrast import feature_matrix, pair_features

    clusters = [["left lady in red"], ["the man holding an umbrella", "guy on right"], ["2nd zebra from left"]]
    candidates = ["lady on the right in blue", "woman without a hat", "man on left", "third zebra from left",
                  "the circle below the purple star", "zebra"]
    cluster_descriptions = [Description.union(describe_texts(c)) for c in clusters]
    findings = [compare(c, d) for c in cluster_descriptions for d in describe_texts(candidates)]
    assert any(f.conflict for found in findings for f in found) and any(not f.conflict for found in findings for f in found)
    cosine = np.linspace(0.1, 0.9, len(findings)).astype(np.float32)
    expected = np.stack([pair_features(f, float(c)) for f, c in zip(findings, cosine, strict=True)])
    np.testing.assert_array_equal(feature_matrix(findings, cosine), expected)


def test_described_texts_are_parsed_once_per_process(monkeypatch):
    import importlib

    module = importlib.import_module("refaug.contrast.describe")  # the package's describe is the function
    first = describe_texts(["the zebra second from the left", "a tall giraffe"])
    parsed = []
    monkeypatch.setattr(module, "describe", lambda doc: parsed.append(doc.text) or module.Description())
    again = describe_texts(["a tall giraffe", "the zebra second from the left", "an unseen text for the memo test"])
    assert parsed == ["an unseen text for the memo test"]  # the other two came from the memo, the same objects
    assert again[0] is first[1] and again[1] is first[0]



def test_many_new_texts_are_described_in_forked_workers_as_in_one_process(monkeypatch):
    """Past PARALLEL_MIN_TEXTS new texts the parse is shared over worker processes: the same
    descriptions, in order, typo corrections included; the memo holds them afterwards."""
    import importlib

    import refaug.workers as workers
    from refaug.nlp import load_nlp

    describe_module = importlib.import_module("refaug.contrast.describe")  # the package's describe is a function

    texts = [f"{c} {h} {p}" for c in ("red", "blue", "dark", "beige") for h in ("man", "teddt bear", "couch")
             for p in ("on the left", "without a hat", "not holding a bat", "second from right")]
    nlp = load_nlp(disable=("ner",))
    one = describe_module._descriptions(texts, nlp, 8)
    key = describe_module._pipeline_key(nlp)
    for t in texts:
        describe_module._MEMO.pop((key, t), None)
    forked = []
    original = describe_module._forked_descriptions
    monkeypatch.setattr(describe_module, "_forked_descriptions", lambda *a: forked.append(a[3]) or original(*a))
    monkeypatch.setattr(describe_module, "PARALLEL_MIN_TEXTS", 10)
    monkeypatch.setattr(workers, "default_workers", lambda: 2)
    shared = describe_module.describe_texts(texts, nlp=nlp, batch_size=8)
    assert forked == [2]  # the worker processes described them
    assert shared == one and any(d.corrections for d in shared)
    assert all((key, t) in describe_module._MEMO for t in texts)
