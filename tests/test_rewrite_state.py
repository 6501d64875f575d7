"""StateRewriter: exact outputs for postures, motion and states, and where it does not apply."""

from __future__ import annotations

import pytest

from refaug.rewrite.registry import REWRITER_NAMES, rewriter_class
from refaug.rewrite.states import POSTURE_CONTRASTS, STATE_CONTRASTS, StateRewriter

# (input, every expected output) with values_per_word=1: the contrast set's first member.
CASES: list[tuple[str, set[str]]] = [
    # postures and motions, in every tense and aspect
    ("man sitting on a bench", {"man standing on a bench"}),
    ("The man is sitting.", {"The man is standing."}),
    ("the cat sat on the mat", {"the cat stood on the mat"}),
    ("dog sits on couch", {"dog stands on couch"}),
    ("the dog that sits", {"the dog that stands"}),
    ("the zebras are standing", {"the zebras are sitting"}),
    ("people sitting", {"people standing"}),
    ("standing man", {"sitting man"}),
    ("a man walking", {"a man standing"}),
    ("kids running in the field", {"kids walking in the field"}),
    ("girl squatting", {"girl standing"}),
    ("cat laying on bed", {"cat sitting on bed"}),  # "laying" as annotators write "lying"
    ("a sleeping cat", {"a sitting cat"}),
    ("a cat sleeping on the bed", {"a cat sitting on the bed"}),
    ("the seated woman", {"the standing woman"}),
    ("sitting on the bench", {"standing on the bench"}),  # a fragment: the referent's
    # the particle follows the verb
    ("the man who is sitting down", {"the man who is standing up"}),
    ("woman lying down", {"woman sitting down"}),
    ("man standing up", {"man sitting down"}),
    # parked / moving
    ("a parked car", {"a moving car"}),
    ("the car parked on the street", {"the car moving on the street"}),
    ("moving car", {"parked car"}),
    ("the bus stopped at the light", {"the bus moving at the light"}),
    # open / closed, empty / full, with the article
    ("open laptop", {"closed laptop"}),
    ("an open laptop", {"a closed laptop"}),
    ("the door is closed", {"the door is open"}),
    ("closed umbrella", {"open umbrella"}),
    ("an empty glass", {"a full glass"}),
    ("the full cup", {"the empty cup"}),
    ("empty bench on right", {"full bench on right"}),
    # on / off, of things that are switched
    ("lamp that is on", {"lamp that is off"}),
    ("the tv is on", {"the tv is off"}),
    ("the light is off", {"the light is on"}),
    ("turned off tv", {"turned on tv"}),
    # not applicable
    ("running water", set()),  # not a posture of anything
    ("walking stick", set()),
    ("the standing room", set()),
    ("a phone sitting on a table", set()),  # a thing "sitting" somewhere is only there
    ("man moving a chair", set()),  # a verb with an object
    ("a man laying a brick", set()),
    ("man opening the door", set()),
    ("a plate full of food", set()),
    ("full view", set()),
    ("an open field", set()),
    ("the table that the plate is on", set()),  # a stranded preposition
    ("table laptop is on", set()),
    ("girl on the left", set()),
    ("man holding an umbrella", set()),
    ("", set()),
]


@pytest.fixture(scope="module")
def rewriter() -> StateRewriter:
    return StateRewriter(values_per_word=1, max_per_text=None)


def test_table_size() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] or "<empty>" for c in CASES])
def test_exact_outputs(rewriter: StateRewriter, text: str, expected: set[str]) -> None:
    got = [c.text for c in rewriter([text])[0]]
    assert len(got) == len(set(got))
    assert set(got) == expected


def test_registered_kind_and_detail(rewriter: StateRewriter) -> None:
    assert "state" in REWRITER_NAMES and rewriter_class("state") is StateRewriter
    (candidate,) = rewriter(["a parked car"])[0]
    assert (candidate.kind, candidate.detail, candidate.origin) == (
        "state",
        "state: parked -> moving",
        "a parked car",
    )


def test_contrast_sets_are_exclusive() -> None:
    for table in (POSTURE_CONTRASTS, STATE_CONTRASTS):
        for word, others in table.items():
            assert others and word not in others


def test_values_per_word_and_seed_determinism() -> None:
    with pytest.raises(ValueError, match="values_per_word"):
        StateRewriter(values_per_word=0)
    rw = StateRewriter(values_per_word=2, seed=1, max_per_text=None)
    assert [c.text for c in rw(["man sitting on a bench"])[0]] == [
        "man standing on a bench",
        "man lying on a bench",
    ]
    assert rw(["a dog sitting", "open laptop"]) == StateRewriter(
        values_per_word=2, seed=1, max_per_text=None
    )(["a dog sitting", "open laptop"])
