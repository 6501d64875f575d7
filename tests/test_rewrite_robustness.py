"""One text never crashes a rewrite: real captions that raised, per-text isolation, grammar.

The property test at the end builds grammatical sentences from small vocabularies
(determiners, colours, sizes, materials, nouns, verbs, prepositions, relative clauses,
"there is/are", negations), as CheckList's templates do, so the parser reads real
grammar: random strings (tests/test_rewrite_base.py) never produced the parses that broke
the attribute rewriter (an article attached to a compound, "A teddy bear").
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from datasets import Dataset, load_from_disk
from datasets.fingerprint import Hasher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refaug import lexicon as lx
from refaug.records import CANDIDATE_KINDS
from refaug.rewrite import AttributeRewriter, NegationRewriter, Rewriters
from refaug.rewrite.base import normalize
from refaug.rewrite.registry import REWRITER_NAMES, rewriter_class

# Public COCO captions on which AttributeRewriter raised "generator raised StopIteration"
# (issue 14); the parser attaches their article to a compound or a misread modifier.
ISSUE_EXAMPLES: tuple[str, ...] = (
    "A red stop sign with a green street sign posted above it.",
    "A teddy bear sitting on a blue chair.",
    "Someone is cooking a vegtable stir fry for dinner",
    "A woman barefoot is sitting on the train tracks.",
    "A stop sighn is propped up against the side of a building.",
)
OTHER_TEXTS: tuple[str, ...] = (
    "man holding an umbrella",
    "left lady",
    "the cat chasing the dog",
    "There are two dogs on the red couch.",
)
POISON = "the red ball on the table"  # the hook proposes one rewrite, then raises


@pytest.fixture(scope="module")
def rewriters() -> list:
    return [rewriter_class(name)() for name in REWRITER_NAMES]


def _texts(candidates: list) -> list[tuple[str, str, str]]:
    return [(c.text, c.kind, c.detail) for c in candidates]


# ---------------------------------------------------------------------- the issue's texts
def test_issue_examples_never_raise_singly_or_in_one_batch(rewriters: list) -> None:
    texts = [*ISSUE_EXAMPLES, *OTHER_TEXTS]
    for rw in rewriters:
        singly = [rw([text])[0] for text in texts]
        together = rw(texts)
        assert [_texts(c) for c in together] == [_texts(c) for c in singly], type(rw).__name__
        assert rw.failed_texts == 0, rw.failures()
    combined = Rewriters([type(rw)() for rw in rewriters])
    out = combined({"expressions": [[t] for t in texts]})
    assert len(out["distractors"]) == len(texts)
    assert combined.failed_texts == 0


def test_issue_examples_get_their_count_rewrite() -> None:
    rw = AttributeRewriter(kinds=("count",))
    assert [c.text for c in rw(["A teddy bear sitting on a blue chair."])[0]] == [
        "Two teddy bears sitting on a blue chair."
    ]
    got = {c.text for c in rw(["A red stop sign with a green street sign posted above it."])[0]}
    assert "Two red stop signs with a green street sign posted above it." in got


# ---------------------------------------------------------------------- isolation
class PoisonedNegation(NegationRewriter):
    """A rewriter whose hook raises on one text, after proposing something for it."""

    def propose(self, doc, rng):
        for proposal in super().propose(doc, rng):
            yield proposal
            if doc.text == POISON:
                raise RuntimeError("boom")
        if doc.text == POISON:
            raise RuntimeError("boom")


def test_a_raising_hook_costs_only_its_text(caplog: pytest.LogCaptureFixture) -> None:
    texts = [*OTHER_TEXTS, POISON, *ISSUE_EXAMPLES]
    expected = NegationRewriter()(texts)
    rw = PoisonedNegation()
    with caplog.at_level(logging.WARNING, logger="refaug.rewrite.base"):
        got = rw(texts)
        again = rw([POISON, "man holding an umbrella"])  # the same text fails again
    position = texts.index(POISON)
    assert got[position] == [] and again[0] == []
    others = [c for i, c in enumerate(got) if i != position]
    assert others == [c for i, c in enumerate(expected) if i != position]
    assert again[1] == expected[0]
    assert rw.failed_texts == 1
    assert rw.failures() == {POISON: "RuntimeError: boom"}
    records = [r for r in caplog.records if POISON in r.getMessage()]
    assert len(records) == 1  # logged once, however often the text comes back
    message = records[0].getMessage()
    assert "PoisonedNegation" in message and "RuntimeError: boom" in message


def test_failure_counts_leave_the_fingerprint_alone() -> None:
    rewrite = Rewriters([AttributeRewriter(), PoisonedNegation()])
    before = Hasher.hash(rewrite)
    ds = Dataset.from_dict({"expressions": [["left man"], [POISON, "man with a hat"], []]})
    mapped = ds.map(
        rewrite, batched=True, batch_size=2, features=rewrite.output_features(ds.features)
    )
    assert rewrite.failure_counts() == {"attribute": 0, "negation": 1}
    assert rewrite.failed_texts == 1 and rewrite.batches_seen == 2
    assert Hasher.hash(rewrite) == before
    texts = {d["text"] for d in mapped["distractors"][1]}
    assert "man without a hat" in texts  # the other text of the poisoned row is kept
    assert not any(
        d["origin"] == POISON and d["kind"] == "negation" for d in mapped["distractors"][1]
    )


def test_rewrite_stage_reports_failed_texts(tmp_path, monkeypatch) -> None:
    from refaug.stages import rewrite_stage

    original = NegationRewriter.propose

    def poisoned(self, doc, rng):
        if doc.text == POISON:
            raise RuntimeError("boom")
        yield from original(self, doc, rng)

    monkeypatch.setattr(NegationRewriter, "propose", poisoned)
    Dataset.from_dict({"expressions": [["left man"], [POISON]]}).save_to_disk(str(tmp_path / "ds"))
    ds = load_from_disk(str(tmp_path / "ds"))  # on disk: a repeat of the map is served by the cache
    config = SimpleNamespace(rewriters=["attribute", "negation"], max_per_text=8, seed=0)
    from refaug.executors import LocalExecutor

    context = SimpleNamespace(stats={}, executor=LocalExecutor())
    rewrite_stage(ds, config, context)
    stats = context.stats["rewrite"]
    assert stats["failed_texts"] == 1
    assert stats["failed_by_kind"] == {"attribute": 0, "negation": 1}
    rewrite_stage(ds, config, context)  # served by the datasets cache: nothing ran
    assert context.stats["rewrite"]["failed_texts"] is None


# ---------------------------------------------------------------------- grammar
PERSONS = (("man", "men"), ("woman", "women"), ("girl", "girls"), ("boy", "boys"),
           ("person", "people"), ("player", "players"), ("lady", "ladies"), ("guy", "guys"))  # fmt: skip
ANIMALS = (("dog", "dogs"), ("cat", "cats"), ("zebra", "zebras"), ("horse", "horses"),
           ("elephant", "elephants"), ("teddy bear", "teddy bears"), ("giraffe", "giraffes"))  # fmt: skip
THINGS = (("stop sign", "stop signs"), ("street sign", "street signs"), ("chair", "chairs"),
          ("umbrella", "umbrellas"), ("table", "tables"), ("car", "cars"), ("bus", "buses"),
          ("fire hydrant", "fire hydrants"), ("train tracks", "train tracks"), ("shirt", "shirts"),
          ("tennis racket", "tennis rackets"), ("hot dog", "hot dogs"), ("pizza", "pizzas"),
          ("bench", "benches"), ("stir fry", "stir fries"), ("building", "buildings"))  # fmt: skip
COLORS = tuple(sorted(lx.COLOR_FAMILIES))
SIZES = tuple(sorted(lx.SIZE_ANTONYMS))
MATERIALS = tuple(sorted(lx.MATERIAL_CONTRASTS))
PARTICIPLES = ("sitting on", "standing next to", "holding", "riding", "wearing", "chasing",
               "looking at", "leaning against", "eating", "propped up against", "posted above")  # fmt: skip
PREPOSITIONS = ("on", "in", "next to", "behind", "under", "near", "above", "with", "without",
                "on top of", "in front of", "beside", "against")  # fmt: skip
PLACES = ("on the left", "on the right", "in the middle", "second from left", "in the back",
          "at the top", "far right")  # fmt: skip


@st.composite
def noun_phrases(draw, *, nouns=PERSONS + ANIMALS + THINGS) -> tuple[str, bool]:
    """A noun phrase and whether it is plural: "a small red teddy bear", "the two dogs"."""
    singular, plural = draw(st.sampled_from(nouns))
    number = draw(st.sampled_from(("a", "the", "one", "two", "three", "some", "his", "no", "")))
    many = number in ("two", "three", "some") or (number in ("", "no") and draw(st.booleans()))
    words = [number] if number else []
    if draw(st.booleans()):
        words.append(draw(st.sampled_from(SIZES)))
    if draw(st.booleans()):
        words.append(draw(st.sampled_from(COLORS)))
    if draw(st.integers(0, 3)) == 0:
        words.append(draw(st.sampled_from(MATERIALS)))
    words.append(plural if many else singular)
    if number == "a" and words[1][:1] in "aeiou":
        words[0] = "an"
    return " ".join(words), many


@st.composite
def sentences(draw) -> str:
    subject, many = draw(noun_phrases())
    be = "are" if many else "is"
    obj = draw(noun_phrases())[0]
    other = draw(noun_phrases(nouns=PERSONS + ANIMALS))[0]
    verb = draw(st.sampled_from(PARTICIPLES))
    template = draw(st.integers(0, 8))
    text = [
        f"{subject} {verb} {obj}",
        f"{subject} {be} {verb} {obj}",
        f"{subject} {be} not {verb} {obj}",
        f"there {be} {subject} {draw(st.sampled_from(PREPOSITIONS))} {obj}",
        f"{subject} {draw(st.sampled_from(PLACES))}",
        f"{subject} {draw(st.sampled_from(PREPOSITIONS))} {obj} that {be} {verb} {other}",
        f"{subject} who {be} {verb} {obj} while {other} watches",
        f"{subject} {draw(st.sampled_from(('does not have', 'has', 'never holds')))} {obj}",
        f"{subject} {draw(st.sampled_from(PREPOSITIONS))} {obj} {draw(st.sampled_from(PLACES))}",
    ][template]
    if draw(st.booleans()):
        text = text[:1].upper() + text[1:]
    return text + draw(st.sampled_from(("", ".", " .")))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=sentences())
def test_property_grammatical_sentences(rewriters: list, text: str) -> None:
    docs = rewriters[0].parse([text])
    for rw in rewriters:
        candidates = rw.rewrite_docs(docs)[0]
        # The base class isolates a raising hook (no candidates, one log line): only its
        # record of failures shows that the hook raised.
        assert text not in rw.failures(), f"{type(rw).__name__} raised on {text!r}"
        keys = [normalize(c.text) for c in candidates]
        assert normalize(text) not in keys and len(keys) == len(set(keys))
        for c in candidates:
            assert isinstance(c.text, str) and c.text.strip()
            assert c.kind in CANDIDATE_KINDS and c.kind == rw.kind and c.detail and c.origin == text
