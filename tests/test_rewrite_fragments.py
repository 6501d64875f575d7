"""Negation of verbless RefCOCO-style fragments (issue 21): exact outputs.

Inputs are the issue's public examples and fragments written in the style of RefCOCO; the
expected outputs were written by hand (the relative-clause form a blind reader preferred:
"the dog that is not on the right", "the lady without a yellow skirt").
"""

from __future__ import annotations

import pytest

from refaug.rewrite import NegationRewriter

CASES: list[tuple[str, set[str]]] = [
    # the examples
    ("right dog", {"the dog that is not on the right"}),
    ("planter on left", {"planter not on left"}),
    ("white horse", {"the horse that is not white"}),
    ("second cow from left", {"the cow that is not second from left"}),
    ("couch close to slider", {"the couch that is not close to slider"}),
    ("man with hat", {"man without hat"}),
    # attributes before the head
    ("white dog", {"the dog that is not white"}),
    ("the black cat", {"the cat that is not black"}),
    ("big elephant", {"the elephant that is not big"}),
    ("small plate", {"the plate that is not small"}),
    ("a red apple", {"an apple that is not red"}),
    ("an olive green vehicle", {"a vehicle that is not olive green"}),
    ("two black dogs", {"two dogs that are not black"}),
    ("two white horses", {"two horses that are not white"}),
    ("brown and white cow", {"the cow that is not brown and white"}),
    ("black and white cat", {"the cat that is not black and white"}),
    ("dark blue car", {"the car that is not dark blue"}),
    ("wooden chair", {"the chair that is not wooden"}),
    ("the tall man", {"the man who is not tall"}),
    ("taller giraffe", {"the giraffe that is not taller"}),
    ("tallest giraffe", {"the giraffe that is not the tallest"}),
    ("smallest bear", {"the bear that is not the smallest"}),
    ("smashed guy", {"the guy who is not smashed"}),
    # positions before and after the head
    ("left man", {"the man who is not on the left"}),
    ("the right zebra", {"the zebra that is not on the right"}),
    ("far right man", {"the man who is not on the far right"}),
    ("far left person", {"the person who is not on the far left"}),
    ("middle horse", {"the horse that is not in the middle"}),
    ("front bike", {"the bike that is not in front"}),
    ("top sandwich", {"the sandwich that is not at the top"}),
    ("the top bunk", {"the bunk that is not at the top"}),
    ("bottom right pizza", {"the pizza that is not at the bottom right"}),
    ("top left suchi", {"the suchi that is not at the top left"}),
    ("closest elephant", {"the elephant that is not the closest"}),
    ("farthest person", {"the person who is not the farthest"}),
    ("giraffe left", {"the giraffe that is not on the left"}),
    ("pizza slice top left", {"the pizza slice that is not at the top left"}),
    ("third tv up", {"the tv that is not third up"}),
    ("the cow closest to us", {"the cow that is not the closest to us"}),
    ("the pizza closest to the camera", {"the pizza that is not the closest to the camera"}),
    (
        "middle white bus",
        {"the white bus that is not in the middle", "the middle bus that is not white"},
    ),
    # possession: a worn thing before the head
    ("yellow skirt lady", {"the lady without a yellow skirt"}),
    ("black shirt guy", {"the guy without a black shirt"}),
    ("pink hat girl", {"the girl without a pink hat"}),
    # prepositions the parser reads as adverbs or adjectives
    ("cake on left", {"cake not on left"}),
    ("girl in back", {"girl not in back"}),
    ("a giraffe next to a zebra", {"a giraffe not next to a zebra"}),
    ("the big tire next to the motorcycle", {"the big tire not next to the motorcycle"}),
    ("bear on right", {"bear not on right"}),
    ("vase with red ribbon", {"vase without red ribbon"}),
    # nothing to move: the whole fragment
    ("lady", {"the one who is not a lady"}),
    ("the player", {"the one who is not a player"}),
    ("giraffes", {"the ones that are not giraffes"}),
    ("coffee cup", {"the one that is not a coffee cup"}),
    ("right", {"the one that is not on the right"}),
    ("red", {"the one that is not red"}),
    ("on phone", {"the one that is not on phone"}),
    ("second from right", {"the one that is not second from right"}),
    # verbal and existential forms keep their own negation
    ("man holding an umbrella", {"man not holding an umbrella"}),
    ("There is a cat on the bed", {"There is no cat on the bed"}),
    ("hello", set()),
]


@pytest.fixture(scope="module")
def rewriter() -> NegationRewriter:
    return NegationRewriter(max_per_text=None)


def test_table_size() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_exact_outputs(rewriter: NegationRewriter, text: str, expected: set[str]) -> None:
    got = [c.text for c in rewriter([text])[0]]
    assert len(got) == len(set(got))
    assert set(got) == expected


def test_no_doubled_words(rewriter: NegationRewriter) -> None:
    for text, _ in CASES:
        for candidate in rewriter([text])[0]:
            words = candidate.text.lower().split()
            assert all(a != b for a, b in zip(words, words[1:], strict=False)), candidate.text
