"""The minimal-edit finding (refaug/contrast/edits.py): a candidate that repeats a cluster member
word for word but for one contrastive word.

The pure functions are tested on wordings written here; the parse-backed tests use texts made
here too (the real development file's figures are in benchmarks/results/contrast.json).
"""

from __future__ import annotations

import numpy as np
import pytest

from refaug.clusters import ClusterClassifier
from refaug.contrast import FEATURES, Description, compare, describe_texts, pair_features
from refaug.contrast.edits import changed_span, edit_findings, word_value


def _w(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@pytest.mark.parametrize(("member", "candidate", "span"), [
    ("man in red", "man in blue", (("red",), ("blue",))),
    ("vehicle behind meter number 2", "vehicle in front of meter number 2", (("behind",), ("in", "front", "of"))),
    ("guy left blue and white shirt", "guy left red and white shirt", (("blue",), ("red",))),
    ("man in red", "man in red shirt", None),  # an insertion adds, it does not replace
    ("man in red", "man in red", None),
    ("left man", "right guy", None),  # nothing kept
    ("back right broccoli", "middle upper broccoli", None),  # more changed than kept: a rewording
    ("dog", "dog on left side of the big red couch", None),
])
def test_changed_span(member, candidate, span):
    assert changed_span(_w(member), _w(candidate)) == span


def test_word_values_read_the_lexicon():
    assert word_value("upper") == word_value("top") == ("position:vertical", "top")
    assert word_value("wooden") == word_value("wood") == ("material", "wood")
    assert word_value("second") == ("ordinal", 2) and word_value("two") == ("count", "2")
    assert word_value("on") is None


def _found(members: list[str], candidate: str) -> list[str]:
    return [str(f) for f in edit_findings(frozenset(map(_w, members)), frozenset({_w(candidate)}), "guy")]


def test_a_replaced_contrastive_word_conflicts_and_names_the_member():
    assert _found(["guy left blue and white shirt"], "guy left red and white shirt") == [
        "edit: blue vs red (head: guy; the rest word for word as in 'guy left blue and white shirt')"]
    assert _found(["man on left"], "woman on left") == [
        "edit: man vs woman (head: guy; the rest word for word as in 'man on left')"]
    assert _found(["car behind second horse"], "car behind first horse")[0].startswith("edit: second vs first")


def test_equivalent_words_agree_and_near_colours_say_nothing():
    assert _found(["man on left"], "guy on left") == [
        "edit: man = guy (head: guy; the rest word for word as in 'man on left')"]
    assert _found(["top donut"], "upper donut")[0].startswith("edit: top = upper")
    assert _found(["orange circle"], "red circle") == []  # CIELAB-near: the colour finding reads one colour
    assert _found(["man on left"], "man at left") == []  # no contrastive word changed


def test_a_member_the_candidate_rewords_outweighs_one_it_contradicts():
    found = _found(["man in red", "guy in blue"], "man in blue")
    assert found == ["edit: guy = man (head: guy; the rest word for word as in 'guy in blue')"]


@pytest.fixture(scope="module")
def contrast() -> ClusterClassifier:
    return ClusterClassifier("contrast")


def test_descriptions_carry_their_wording_and_the_article_a_counts_one():
    plain, article, other, one, two = describe_texts(["red car", "the red car", "red cars", "an apple",
                                                      "two apples"])
    assert plain == article and plain.wordings == frozenset({("red", "car")})
    assert other.wordings == plain.wordings  # nouns by lemma
    assert one.wordings == frozenset({("a", "apple")})
    assert [str(f) for f in compare(one, two) if f.kind == "edit"] == [
        "edit: a vs two (head: apple; the rest word for word as in 'a apple')"]
    union = Description.union([plain, *describe_texts(["car on left"])])
    assert union.wordings == frozenset({("red", "car"), ("car", "on", "left")})


def test_masked_colour_is_found_by_the_edit_and_explained(contrast):
    # The nearest colours ("white" on both shirts) agree; the changed word tells the objects apart.
    cluster = ["guy left blue and white shirt"]
    found = [str(f) for f in compare(*describe_texts([cluster[0], "guy left red and white shirt"]))]
    assert "color: white = white (head: guy)" in found
    explanation = contrast.explain(cluster, "guy left red and white shirt")
    assert [str(f) for f in explanation.conflicts] == [
        "edit: blue vs red (head: guy; the rest word for word as in 'guy left blue and white shirt')"]
    assert explanation.negative
    assert "edit: blue vs red" in str(explanation)
    paraphrase = contrast.explain(cluster, "left guy in a blue and white top")
    assert paraphrase.score > explanation.score and not paraphrase.negative


def test_edit_findings_are_features(contrast):
    a, b = describe_texts(["man in red bent over", "man in blue bent over"])
    x = pair_features(compare(a, b), 0.9)
    assert x[FEATURES.index("conflict:edit")] == 1.0 and x[FEATURES.index("agree:edit")] == 0.0
    assert contrast.model.weights["conflict:edit"] < 0 < contrast.model.weights["agree:edit"]
    assert "edit" in contrast.decisive_kinds
    assert np.isfinite(contrast.model.cosine_floor(contrast.threshold))
