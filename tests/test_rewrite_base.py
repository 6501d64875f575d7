"""Rewriter bookkeeping: input checks, robustness, determinism, caps, Dataset.map and hashing."""

from __future__ import annotations

import pytest
from datasets import Dataset
from datasets.fingerprint import Hasher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refaug.nlp import load_nlp
from refaug.records import CANDIDATE_KINDS
from refaug.rewrite import (
    AttributeRewriter,
    NegationRewriter,
    Rewriters,
    RoleReversalRewriter,
)
from refaug.rewrite.base import DEFAULT_DISABLE, normalize

REWRITERS = (AttributeRewriter, NegationRewriter, RoleReversalRewriter)


@pytest.fixture(scope="module")
def rewriters() -> list:
    return [cls() for cls in REWRITERS]


def _check(text: str, candidates: list, cap: int | None) -> None:
    keys = [normalize(c.text) for c in candidates]
    assert normalize(text) not in keys
    assert len(keys) == len(set(keys))
    assert cap is None or len(candidates) <= cap
    for c in candidates:
        assert c.kind in CANDIDATE_KINDS and c.origin == text and c.detail


texts = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=80),
    st.lists(
        st.sampled_from(
            ["the", "a", "man", "red", "left", "not", "with", "two", "dogs", "is", "on", "🙂",
             "holding", "There", "are", "no", "cat", "chasing", "2nd", "from", ".", "-", "é"]
        ),
        max_size=25,
    ).map(" ".join),
)  # fmt: skip


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=texts)
def test_property_no_crash_no_unchanged(rewriters: list, text: str) -> None:
    docs = rewriters[0].parse([text])
    for rw in rewriters:
        _check(text, rw.rewrite_docs(docs)[0], rw.max_per_text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\n\t",
        "🙂🙂🙂",
        "man 🙂 holding an umbrella 🙂",
        "\u200b\u200d\ufeff",
        "the red man on the left " * 420,  # about 10,000 characters
        "x" * 10_000,
        "🐶" * 3_000,
    ],
    ids=[
        "empty",
        "spaces",
        "whitespace",
        "emoji",
        "emoji-text",
        "zero-width",
        "long",
        "xs",
        "dogs",
    ],
)
def test_edge_texts(rewriters: list, text: str) -> None:
    for rw in rewriters:
        _check(text, rw([text])[0], rw.max_per_text)


@pytest.mark.parametrize("bad", [None, 3, b"bytes", ["nested"]])
def test_non_string_raises_type_error_naming_position(bad: object) -> None:
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        NegationRewriter()(["fine", bad])


def test_single_string_is_refused() -> None:
    with pytest.raises(TypeError, match="list"):
        NegationRewriter()("man holding an umbrella")


def test_one_list_per_input_and_docs_accepted() -> None:
    rw = NegationRewriter()
    texts = ["hello", "man holding an umbrella", ""]
    out = rw(texts)
    assert [len(o) for o in out] == [0, 1, 0]
    docs = list(load_nlp(disable=DEFAULT_DISABLE).pipe(texts))
    assert rw(docs) == out
    assert rw([docs[1], "man with a hat"])[1][0].text == "man without a hat"


def test_deterministic_for_a_seed_and_seed_matters() -> None:
    texts = ["the big red ball on the left next to a blue box", "a green car and a white bus"]
    first = AttributeRewriter(seed=3, max_per_text=2)(texts)
    assert AttributeRewriter(seed=3, max_per_text=2)(texts) == first
    others = [AttributeRewriter(seed=s, max_per_text=2)(texts) for s in range(8)]
    assert any(o != first for o in others)


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="max_per_text"):
        NegationRewriter(max_per_text=0)
    with pytest.raises(TypeError, match="Rewriter"):
        Rewriters([])


def _rows() -> dict[str, list]:
    return {
        "referent_id": ["a", "b", "c"],
        "expressions": [
            ["man holding an umbrella", "left man"],
            [],
            ["the cat chasing the dog", "the dog chasing the cat"],
        ],
    }


def test_rewriters_batch_function() -> None:
    rewrite = Rewriters([AttributeRewriter(), NegationRewriter(), RoleReversalRewriter()])
    out = rewrite(_rows())
    assert out["referent_id"] == ["a", "b", "c"]
    first, empty, third = out["distractors"]
    assert empty == []
    texts = {d["text"] for d in first}
    assert {"man not holding an umbrella", "right man"} <= texts
    assert {d["origin"] for d in first} == {"man holding an umbrella", "left man"}
    assert set(first[0]) == {"text", "kind", "detail", "origin"}
    # "the dog chasing the cat" is the referent's own expression: never a negative of it
    assert "the dog chasing the cat" not in {d["text"] for d in third}


def test_rewriters_reads_views_and_caps() -> None:
    batch = {
        "expressions": [["left man"]],
        "views": [
            {
                "appearance": "man in a red shirt",
                "action": None,
                "spatial": "man on the left",
                "alternative": None,
            }
        ],
    }
    out = Rewriters([AttributeRewriter(), NegationRewriter()])(batch)["distractors"][0]
    origins = {d["origin"] for d in out}
    assert origins == {"left man", "man in a red shirt", "man on the left"}
    capped = Rewriters([AttributeRewriter(), NegationRewriter()], max_per_row=2)(batch)
    assert len(capped["distractors"][0]) == 2
    assert {d["kind"] for d in capped["distractors"][0]} == {"attribute", "negation"}


def test_dataset_map_and_stable_fingerprint() -> None:
    ds = Dataset.from_dict(_rows())
    rewrite = Rewriters([NegationRewriter(), AttributeRewriter(kinds=("spatial",))])
    before = Hasher.hash(rewrite)
    rewrite(_rows())  # loads spaCy: the hash must not change
    assert Hasher.hash(rewrite) == before
    same = Rewriters([NegationRewriter(), AttributeRewriter(kinds=("spatial",))])
    assert Hasher.hash(same) == before
    other = Rewriters([NegationRewriter(), AttributeRewriter(kinds=("color",))])
    assert Hasher.hash(other) != before
    assert Hasher.hash(Rewriters([NegationRewriter(seed=1)])) != Hasher.hash(
        Rewriters([NegationRewriter(seed=2)])
    )
    mapped = ds.map(rewrite, batched=True, batch_size=1, features=None)
    assert mapped["distractors"][1] == []
    assert {d["text"] for d in mapped["distractors"][0]} >= {"man not holding an umbrella"}
    again = ds.map(rewrite, batched=True, batch_size=1)
    assert again._fingerprint == mapped._fingerprint


def test_dataset_map_with_an_empty_first_batch_needs_output_features() -> None:
    ds = Dataset.from_dict({"expressions": [["hello"], ["man holding an umbrella"], []]})
    rewrite = Rewriters([NegationRewriter()])
    mapped = ds.map(
        rewrite, batched=True, batch_size=1, features=rewrite.output_features(ds.features)
    )
    assert [len(d) for d in mapped["distractors"]] == [0, 1, 0]
    assert mapped.features["distractors"] == rewrite.output_features(ds.features)["distractors"]
