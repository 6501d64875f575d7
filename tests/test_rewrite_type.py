"""TypeRewriter: exact outputs, the synonym guard, agreement, the vocabulary preference."""

from __future__ import annotations

import pytest

from refaug import lexicon as lx
from refaug.contrast.synonyms import head_classes
from refaug.rewrite.registry import REWRITER_NAMES, rewriter_class
from refaug.rewrite.type_variants import (
    CONFUSABLE,
    PERSON_SWAPS,
    SUPERCATEGORY,
    SURFACE,
    TypeRewriter,
)

# (input, every expected output) with values_per_word=1: the most confusable sibling.
CASES: list[tuple[str, set[str]]] = [
    # number and article agreement
    ("the two cats", {"the two dogs"}),
    ("a cat on the couch", {"a dog on the couch"}),
    ("A cat", {"A dog"}),
    ("an elephant", {"a giraffe"}),
    ("an orange", {"an apple"}),
    ("two giraffes", {"two zebras"}),
    ("skis on left", {"snowboards on left"}),
    ("broccoli", {"carrots"}),  # tagged plural by the parser: its substitute is too
    ("the two dogs are running", {"the two cats are running"}),
    # heads named through the lexicon and WordNet ("sedan" is a car, "loveseat" a couch)
    ("a sedan on the left", {"a truck on the left"}),
    ("the white van", {"the white truck"}),
    ("the loveseat", {"the chair"}),
    ("the fridge", {"the oven"}),
    ("mug on left", {"bowl on left"}),
    ("cell phone on the table", {"remote on the table"}),
    # category names and their multi-word forms
    ("red truck", {"red car"}),
    ("the bus", {"the truck"}),
    ("left zebra", {"left horse"}),
    ("a horse", {"a cow"}),
    ("the sheep", {"the cow"}),
    ("the couch", {"the chair"}),
    ("the big chair", {"the big couch"}),
    ("the bench", {"the chair"}),
    ("a toilet", {"a sink"}),
    ("a cup", {"a bowl"}),
    ("the bowl of soup", {"the cup of soup"}),
    ("wine glass", {"cup"}),
    ("a donut", {"a sandwich"}),
    ("hot dog on right", {"pizza on right"}),
    ("teddy bear", {"book"}),
    ("laptop", {"tv"}),
    ("the oven", {"the microwave"}),
    ("a frisbee", {"a ball"}),
    ("umbrella", {"kite"}),
    ("a suitcase", {"a backpack"}),
    # a compound naming the same class goes with the head; other modifiers stay
    ("pizza slice on left", {"cake on left"}),
    ("baby elephant", {"baby giraffe"}),
    ("police car", {"police truck"}),
    # people: a person noun whose tags clash, pronouns following the new sex
    ("the man on the left", {"the woman on the left"}),
    ("the men on the left", {"the women on the left"}),
    ("an old man", {"an old woman"}),
    ("guy in red", {"woman in red"}),
    ("Woman in blue", {"Man in blue"}),
    ("kids", {"men"}),
    ("the batter", {"the catcher"}),
    ("the girl brushing her teeth", {"the boy brushing his teeth"}),
    ("man with his dog", {"woman with her dog"}),
    ("the woman and the girl", {"the man and the girl"}),
    # not applicable
    ("the cat next to the dog", set()),  # its one confusable sibling is named already
    ("a woman next to a man", set()),
    ("a bike", set()),  # a bicycle and a motorcycle: "motorcycle" would be a synonym
    ("clock slice", set()),  # a compound of another category: which thing is it?
    ("person in red", set()),
    ("2nd from right", set()),
    ("the one on the left", set()),
    ("", set()),
]


@pytest.fixture(scope="module")
def rewriter() -> TypeRewriter:
    return TypeRewriter(values_per_word=1, max_per_text=None)


def test_table_size() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] or "<empty>" for c in CASES])
def test_exact_outputs(rewriter: TypeRewriter, text: str, expected: set[str]) -> None:
    got = [c.text for c in rewriter([text])[0]]
    assert len(got) == len(set(got))
    assert set(got) == expected


def test_registered_kind_and_detail(rewriter: TypeRewriter) -> None:
    assert "type" in REWRITER_NAMES and rewriter_class("type") is TypeRewriter
    (candidate,) = rewriter(["the two cats"])[0]
    assert (candidate.kind, candidate.detail, candidate.origin) == (
        "type",
        "type: cats -> dogs",
        "the two cats",
    )


def test_never_a_synonym() -> None:
    """Every listed sibling is written with a word of another class than the original's."""
    for category, siblings in CONFUSABLE.items():
        own = head_classes(SURFACE.get(category, category)) | {category}
        for sibling in siblings:
            assert sibling in SUPERCATEGORY and sibling != category
            word = SURFACE.get(sibling, sibling)
            assert sibling in head_classes(word), word
            assert not own & (head_classes(word) | {sibling}), (category, word)
    rw = TypeRewriter(values_per_word=10, max_per_text=None)
    for text, synonyms in [
        ("a cup", {"mug"}),
        ("the mug", {"cup"}),
        ("the couch", {"sofa"}),
        ("a donut", {"cake"}),
        ("the bike", {"motorcycle", "bicycle"}),
    ]:
        words = {c.detail.split("-> ")[1] for c in rw([text])[0]}
        assert not words & synonyms, (text, words)


def test_person_swaps_clash() -> None:
    """Each person swap names another person by the lexicon's tags (not a synonym)."""
    for old, news in PERSON_SWAPS.items():
        for new in news:
            tags = lx.PERSON_TAGS[old], lx.PERSON_TAGS[new]
            assert any(frozenset({a, b}) in lx.CLASHING_TAGS for a in tags[0] for b in tags[1]), (
                old,
                new,
            )


def test_vocabulary_prefers_the_data_sets_categories() -> None:
    plain = TypeRewriter(values_per_word=1, max_per_text=None)
    assert [c.text for c in plain(["the bus"])[0]] == ["the truck"]
    rw = TypeRewriter(vocabulary=["train", "bus", "Train"], values_per_word=1, max_per_text=None)
    assert rw.vocabulary == ("train", "bus")
    assert [c.text for c in rw(["the bus"])[0]] == ["the train"]
    # no confusable sibling left: the supercategory's others that the data set names
    rw = TypeRewriter(
        vocabulary=["cat", "dog", "bird", "horse"], values_per_word=1, max_per_text=None
    )
    assert [c.text for c in rw(["the cat next to the dog"])[0]] == ["the bird next to the dog"]


def test_options_validate_and_seed_determinism() -> None:
    with pytest.raises(ValueError, match="values_per_word"):
        TypeRewriter(values_per_word=0)
    with pytest.raises(TypeError, match="vocabulary"):
        TypeRewriter(vocabulary="car")
    assert TypeRewriter(people=False)(["the man on the left"]) == [[]]
    one, again = TypeRewriter(seed=3, max_per_text=None), TypeRewriter(seed=3, max_per_text=None)
    texts = ["a sedan on the left", "the couch", "guy in red"]
    assert one(texts) == again(texts)
    assert [c.text for c in one(["the couch"])[0]] == ["the chair", "the bed"]


def test_fingerprint_is_stable_and_follows_the_vocabulary() -> None:
    from datasets.fingerprint import Hasher

    one = TypeRewriter(vocabulary=["car", "bus", "car"])
    assert Hasher.hash(one) == Hasher.hash(TypeRewriter(vocabulary=["bus", "car", "car"]))
    _ = one(["a red car"])  # loading the pipeline leaves the hash alone
    assert Hasher.hash(one) == Hasher.hash(TypeRewriter(vocabulary=["car", "car", "bus"]))
    assert Hasher.hash(one) != Hasher.hash(TypeRewriter(vocabulary=["bus"]))
