"""Dressed swaps: a person described by their clothes trades roles with what they act on.

"man in black holding guitar" names the man; "guitar held by man in black" names the guitar,
with the same words and the same scene, the clothes kept with the person. The parser mostly
hangs the participle after the clothes on the clothes ("man in black/amod holding/amod
guitar/pobj", "a woman in a white hat relaxing/pobj in a lawn chair"), so the pattern is read
off the words and their tags, as :func:`refaug.rewrite.holdings.telegraphic_holdings` does:

    <person phrase> in|with|wearing <clothes or colours> [and] <participle> [<preposition>]
    <object phrase>

- to the passive, for a verb of handling (:data:`DOER_VERBS`): "a man wearing a black suit
  and holding a champaign flute" -> "a champaign flute held by a man wearing a black suit",
  "a woman in a sweater pushing a baby stroller" -> "a baby stroller pushed by a woman in a
  sweater";
- to "with ... it", for a posture and a preposition (:data:`POSTURES`): "a man in a white hat
  relaxing in a lawn chair" -> "a lawn chair with a man in a white hat relaxing in it".

Only where the text is that and nothing else: every noun of the clothes phrase is worn
(:data:`refaug.rewrite.swap_pairs.WORN`) or a colour ("in black"), the object is a thing of
the scene (a COCO object or :data:`~refaug.rewrite.swap_pairs.SCENE_THINGS`; a person or
animal only after a posture, with a pronoun of known gender), not worn, a part, a place or a
mass, and its phrase ends the text.

Example:
    >>> from refaug.nlp import load_nlp  # doctest: +SKIP
    >>> [p.text for _, _, p in dressed_swaps(load_nlp()("man in black holding guitar"), 5)]  # doctest: +SKIP
    ['guitar held by man in black']
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from lemminflect import getAllLemmas, getInflection
from spacy.tokens import Doc, Token

from refaug import lexicon as lx
from refaug.rewrite.base import Proposal
from refaug.rewrite.grammar import indefinite_article, is_plural, match_first_case
from refaug.rewrite.swap_pairs import (
    COUNTABLE,
    PARTS,
    PLACES,
    SCENE_THINGS,
    WORN,
    animate,
    pronoun_for,
)

__all__ = ["DOER_VERBS", "POSTURES", "dressed_swaps"]

# Verbs of handling whose object may head the passive ("held by", "pushed by"); not "wear",
# "play" (a game), "read" or "watch" (whose object is no thing in the hands).
DOER_VERBS = frozenset(
    {"hold", "carry", "swing", "use", "grab", "throw", "catch", "eat", "push", "pull", "ride",
     "fly", "drink", "cut", "kick", "hit", "light", "drive", "lift", "serve", "open"}
)  # fmt: skip
# Participles of a posture or a look that take a place: "sitting on", "looking at".
POSTURES = frozenset(
    {"sitting", "standing", "lying", "laying", "leaning", "relaxing", "reclining", "resting",
     "sleeping", "riding", "looking", "kneeling", "crouching", "squatting", "waiting",
     "seated", "perched", "walking"}
)  # fmt: skip
# The words of a preposition between a posture and its object ("on", "next to", "in front of").
_PREPOSITION_WORDS = frozenset(
    {"on", "in", "at", "by", "near", "behind", "beside", "under", "beneath", "inside", "atop",
     "against", "next", "to", "front", "of", "top", "close", "toward", "towards", "across",
     "over", "above", "onto", "into"}
)  # fmt: skip
_DRESS_WORDS = frozenset({"in", "with", "wearing"})
# The tags of the words of a plain noun phrase ("a polka dotted umbrella"; "top/JJ").
_NOMINAL_TAGS = frozenset({"DT", "JJ", "JJR", "JJS", "NN", "NNS", "NNP", "CD", "VBN", "HYPH"})
_NOUN_TAGS = frozenset({"NN", "NNS", "NNP"})


class _Reading(NamedTuple):
    person: Token
    dress_end: int  # the index after the clothes phrase
    verb: Token
    object_start: int
    thing: Token


def dressed_swaps(doc: Doc, end: int) -> Iterator[tuple[Token, Token, Proposal]]:
    """The dressed swaps of ``doc`` (module docstring); ``end``: the index after the text's
    last word (punctuation after it is kept). Yields (person, thing, proposal)."""
    reading = _read(doc, end)
    if reading is None:
        return
    person, dress_end, verb, object_start, thing = reading
    lead = _lowered(doc, _text(doc, 0, dress_end).rstrip())
    if person.i == 0 and not is_plural(person) and doc[object_start].lower_ in ("a", "an", "the"):
        lead = f"{indefinite_article(lead)} {lead}"  # "man in black holding a cup" -> "a man"
    moved = _text(doc, object_start, end).rstrip()
    if verb.i + 1 == object_start:
        forms = getInflection(_lemma(verb), tag="VBN")
        text = f"{moved} {forms[0]} by {lead}"
    else:
        pronoun = pronoun_for(thing, role="obj")
        if pronoun is None:
            return  # "a woman in red sitting next to a kid": him or her
        preposition = _text(doc, verb.i + 1, object_start).rstrip()
        text = f"{moved} with {lead} {verb.text} {preposition} {pronoun}"
    text = match_first_case(doc.text, text + _text(doc, end, len(doc)).rstrip())
    detail = f"landmark: {_named(doc, 0, person)} <-> {_named(doc, object_start, thing)}"
    yield person, thing, Proposal(text, detail, object_start)


def _read(doc: Doc, end: int) -> _Reading | None:
    """The pattern's parts, or None when ``doc[:end]`` is not the pattern."""
    dress = next((t for t in doc[1:end] if t.lower_ in _DRESS_WORDS), None)
    if dress is None or not _nominal(doc[: dress.i]):
        return None
    person = doc[dress.i - 1]
    if person.tag_ not in _NOUN_TAGS or not _person(person):
        return None
    verbs = [t for t in doc[dress.i + 1 : end] if t.tag_ == "VBG" or t.lower_ in POSTURES]
    if len(verbs) != 1:
        return None
    verb = verbs[0]
    dress_end = verb.i - 1 if doc[verb.i - 1].lower_ == "and" else verb.i
    if not _clothes(doc[dress.i + 1 : dress_end]):
        return None
    object_start = next(
        (t.i for t in doc[verb.i + 1 : end] if t.lower_ not in _PREPOSITION_WORDS), end
    )
    thing = doc[end - 1]
    if object_start >= end or not _nominal(doc[object_start:end]):
        return None
    if thing.tag_ not in _NOUN_TAGS or not _scene_thing(thing, person):
        return None
    if any(t.lower_ in ("other", "another", "others") for t in doc[object_start:end]):
        return None  # "man in white looking at other chefs": "other" means the man's kind
    if object_start == verb.i + 1:  # "holding a guitar"
        if (
            _lemma(verb) not in DOER_VERBS
            or animate(thing)
            or not getInflection(_lemma(verb), tag="VBN")
        ):
            return None
    elif verb.lower_ not in POSTURES or doc[object_start - 1].lower_ in ("next", "close"):
        return None  # "sitting next a bench": no preposition we read
    return _Reading(person, dress_end, verb, object_start, thing)


def _clothes(tokens) -> bool:
    """A clothes phrase: plain phrases joined by "and", whose nouns are all worn ("a white
    shirt and blue jeans", "long hair"), or colours alone ("black", "red and white")."""
    tokens = list(tokens)
    if not tokens or all(
        lx.attribute_kind(t.lower_) == "color" or t.lower_ == "and" for t in tokens
    ):
        return bool(tokens) and tokens[0].lower_ != "and" and tokens[-1].lower_ != "and"
    phrases, current = [], []
    for token in tokens:
        if token.lower_ in ("and", ",") and current and _worn(current[-1]):
            phrases.append(current)
            current = []
        else:
            current.append(token)
    phrases.append(current)
    return all(p and _nominal(p) and _worn(p[-1]) for p in phrases)


def _scene_thing(thing: Token, person: Token) -> bool:
    words = {thing.lower_, thing.lemma_.lower()}
    if words & (PARTS | PLACES | lx.MASS_NOUNS) or thing.lemma_.lower() == person.lemma_.lower():
        return False
    if _worn(thing) and not words & SCENE_THINGS:
        return False  # "holding his shirt"; "a helmet" is a thing of the scene
    return animate(thing) or thing.lemma_.lower() in COUNTABLE or bool(words & SCENE_THINGS)


def _nominal(tokens) -> bool:
    """Plain noun-phrase words; an "and" only between two adjectives ("red and white")."""
    tokens = list(tokens)
    for i, token in enumerate(tokens):
        if token.lower_ in ("no", "not", "without"):
            return False
        if token.lower_ in ("and", ","):
            if not 0 < i < len(tokens) - 1 or not _adjectives(tokens[i - 1], tokens[i + 1]):
                return False
        elif token.tag_ not in _NOMINAL_TAGS:
            return False
    return True


def _adjectives(*tokens: Token) -> bool:
    return all(t.tag_ in ("JJ", "VBN") or lx.attribute_kind(t.lower_) == "color" for t in tokens)


def _worn(token: Token) -> bool:
    return bool({token.lower_, token.lemma_.lower()} & (WORN | {"top", "tops"}))


def _person(noun: Token) -> bool:
    return animate(noun) and noun.lemma_.lower() not in lx.ANIMAL_NOUNS


def _lemma(verb: Token) -> str:
    """The verb's lemma from lemminflect ("riding" -> "ride"; spaCy's small model says "rid")."""
    lemmas = getAllLemmas(verb.lower_, upos="VERB").get("VERB")
    return lemmas[0] if lemmas else ""


def _text(doc: Doc, start: int, end: int) -> str:
    return "".join(t.text_with_ws for t in doc[start:end])


def _lowered(doc: Doc, text: str) -> str:
    first = doc[0]
    if first.pos_ == "PROPN" or first.text == "I":
        return text
    return text[:1].lower() + text[1:]


def _named(doc: Doc, start: int, noun: Token) -> str:
    words = [t.lower_ for t in doc[start : noun.i + 1]]
    return " ".join(words[1:] if words[0] in ("a", "an", "the") and len(words) > 1 else words)
