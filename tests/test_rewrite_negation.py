"""NegationRewriter: exact outputs on RefCOCO-style fragments and full captions."""

from __future__ import annotations

import pytest

from refaug.rewrite import NegationRewriter

CASES: list[tuple[str, set[str]]] = [
    # participles and verbs
    ("man holding an umbrella", {"man not holding an umbrella"}),
    ("the dog is sitting", {"the dog is not sitting"}),
    ("man who is holding a bat", {"man who is not holding a bat"}),
    ("a man who holds a bat", {"a man who does not hold a bat"}),
    ("the bus is red", {"the bus is not red"}),
    ("car parked on the street", {"car not parked on the street"}),
    ("A man rides a horse.", {"A man does not ride a horse."}),
    ("The boy rode a bike.", {"The boy did not ride a bike."}),
    ("the dogs have collars", {"the dogs do not have collars"}),
    ("the woman has a bag", {"the woman does not have a bag"}),
    ("the horse was running", {"the horse was not running"}),
    ("zebra eating grass", {"zebra not eating grass"}),
    ("two zebras standing", {"two zebras not standing"}),
    ("woman wearing glasses", {"woman not wearing glasses"}),
    ("dog lying on a couch", {"dog not lying on a couch"}),
    ("the cat is on the bed", {"the cat is not on the bed"}),
    (
        "a man riding a skateboard down the street",
        {"a man not riding a skateboard down the street"},
    ),
    (
        "kid wearing a red shirt and holding a kite",
        {
            "kid not wearing a red shirt and holding a kite",
            "kid wearing a red shirt and not holding a kite",
        },
    ),
    (
        "A woman prepares a pizza while a man watches",
        {
            "A woman does not prepare a pizza while a man watches",
            "A woman prepares a pizza while a man does not watch",
        },
    ),
    ("man on left holding bat", {"man not on left holding bat", "man on left not holding bat"}),
    # prepositional modifiers
    ("player in white", {"player not in white"}),
    ("guy in red", {"guy not in red"}),
    ("cup on the table", {"cup not on the table"}),
    ("guy on the left", {"guy not on the left"}),
    ("man with a hat", {"man without a hat"}),
    ("man without shirt", {"man with shirt"}),
    ("guy without a shirt", {"guy with a shirt"}),
    # existence
    ("There are people in the picture.", {"There are no people in the picture."}),
    ("There are two dogs", {"There are no dogs"}),
    ("There is a cat on the bed", {"There is no cat on the bed"}),
    ("There is a man with a hat", {"There is no man with a hat", "There is a man without a hat"}),
    ("There is no dog", {"There is a dog"}),
    ("There are no people", {"There are people"}),
    ("There is nothing on the table", {"There is something on the table"}),
    # removal of an existing negation
    ("not wearing a hat", {"wearing a hat"}),
    ("Not wearing a hat", {"Wearing a hat"}),
    ("woman not in white", {"woman in white"}),
    ("the dog doesn't have a collar", {"the dog has a collar"}),
    ("the dog isn't sitting", {"the dog is sitting"}),
    ("The kids aren't playing.", {"The kids are playing."}),
    ("man can't see", {"man can see"}),
    ("the man won't eat", {"the man will eat"}),
    ("the man did not eat", {"the man ate"}),
    ("person never smiling", {"person smiling"}),
    ("boy who never smiles", {"boy who smiles"}),
    ("man with no hat", {"man with a hat"}),
    ("a woman with no shoes", {"a woman with shoes"}),
    ("man wearing no hat", {"man wearing a hat"}),
    ("person holding nothing", {"person holding something"}),
    # second batch, written before running the rewriter on it
    ("The man is wearing a hat.", {"The man is not wearing a hat."}),
    ("girl eating a donut", {"girl not eating a donut"}),
    ("a dog that is sleeping", {"a dog that is not sleeping"}),
    (
        "the person holding the umbrella on the right",
        {"the person not holding the umbrella on the right"},
    ),
    ("the woman is not smiling", {"the woman is smiling"}),
    ("the cars are parked", {"the cars are not parked"}),
    ("he has a beard", {"he does not have a beard"}),
    ("an elephant that has no tusks", {"an elephant that has tusks"}),
    ("boy jumping", {"boy not jumping"}),
    ("There's a dog on the couch", {"There's no dog on the couch"}),
    ("the dog which was barking", {"the dog which was not barking"}),
    ("people standing in line", {"people not standing in line"}),
    ("a man taking a picture", {"a man not taking a picture"}),
    ("The bird is flying over the water.", {"The bird is not flying over the water."}),
    ("chair without arms", {"chair with arms"}),
    ("the lady with the umbrella", {"the lady without the umbrella"}),
    # third batch, from a review of outputs on longer RefCOCOg-style phrases
    ("elephant on far right partially hidden", {"elephant on far right not partially hidden"}),
    ("horse being ridden by a woman", {"horse not being ridden by a woman"}),
    ("a white plate with a slice of cake on it", {"a white plate without a slice of cake on it"}),
    ("a cup of coffee on the table", {"a cup of coffee not on the table"}),
    ("person whose face is not visible", {"person whose face is visible"}),
    ("the chair nobody is sitting in", {"the chair somebody is sitting in"}),
    # verbless fragments (issue 21: these rows were set() before)
    ("leftmost", {"the one that is not the leftmost"}),
    ("the tallest giraffe", {"the giraffe that is not the tallest"}),
    ("blue shirt", {"the shirt that is not blue"}),
    ("catcher", {"the one who is not a catcher"}),
    ("third from left", {"the one that is not third from left"}),
    ("left lady", {"the lady who is not on the left"}),
    ("2nd from right", {"the one that is not 2nd from right"}),
    ("a sitting dog", {"a dog that is not sitting"}),
    ("red car", {"the car that is not red"}),
    ("bench", {"the one that is not a bench"}),
    # not applicable
    ("", set()),
]


@pytest.fixture(scope="module")
def rewriter() -> NegationRewriter:
    return NegationRewriter(max_per_text=None)


def test_table_size() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] or "<empty>" for c in CASES])
def test_exact_outputs(rewriter: NegationRewriter, text: str, expected: set[str]) -> None:
    got = [c.text for c in rewriter([text])[0]]
    assert len(got) == len(set(got))
    assert set(got) == expected


def test_api_example() -> None:
    out = NegationRewriter()(["man holding an umbrella", "There are people in the picture."])
    assert [c.text for c in out[0]] == ["man not holding an umbrella"]
    assert out[0][0].kind == "negation"
    assert out[0][0].detail == "add not: holding"
    assert [c.text for c in out[1]] == ["There are no people in the picture."]
