"""Attribute swaps: two attributes of one kind trade places between the nouns they describe.

"blue bathroom with white towels" -> "white bathroom with blue towels", "man in red shirt
and blue jeans" -> "man in blue shirt and red jeans". Which noun a word describes is read
off the parse (an adjective or compound before its noun) and, for colours, off the words as
written, since the parser often splits a telegraphic expression ("blue shirt tan shorts":
blue/amod>tan, tan/nsubj>shorts):

- a colour right before its noun, other adjectives, colours or an "and" between ("red white
  shirt", "tennis player in white shirt and tan shorts");
- a colour worn by a person ("girl in white", "the person wearing red"): it describes the
  person, and swaps with the colour of a thing ("girl in white holding black umbrella" ->
  "girl in black holding white umbrella").

Not swapped: two colours of one noun ("red and black luggage" would become "black and black
luggage"), a colour of a person's skin ("black man with a pink tie"), and a colour an animal,
hair or fur does not have (black, white, brown, gray, yellow, orange, or one another animal of
the text has: "an orange cat and a black dog" swaps, "black dog with the blue collar" would
give "blue dog").

Example:
    >>> from refaug.nlp import load_nlp  # doctest: +SKIP
    >>> [p.text for p in attribute_swaps(load_nlp()("white shirt black shorts"))]  # doctest: +SKIP
    ['black shirt white shorts']
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from spacy.tokens import Doc, Span, Token

from refaug import lexicon as lx
from refaug.rewrite.base import Proposal
from refaug.rewrite.grammar import Edit, apply_edits, indefinite_article, same_case
from refaug.rewrite.swap_pairs import PEOPLE, WORN, animate

__all__ = ["attribute_owners", "attribute_swaps"]

ATTRIBUTE_KINDS = ("color", "size", "material")
# Words between a colour and its noun in a written noun phrase ("red and white striped shirt").
_BETWEEN_TAGS = frozenset({"JJ", "JJR", "JJS", "HYPH", "VBN"})
# Words a colour worn by a person follows ("girl in white", "man wearing red", "all in black").
_WEARING_WORDS = frozenset({"in", "wearing", "wears", "all"})
# Heads whose colour is natural (an animal, hair, fur): they take only natural colours
# (lexicon.NATURAL_COLORS). "coat" is left out: a person's coat is a garment.
_NATURAL_HEADS = lx.NATURAL_COLOR_HEADS - {"coat"}
# What a colour names when it stands before it, whatever its tag ("a purple top", "orange vest").
_GARMENTS = WORN | {"top", "tops"}
# Colours an animal's coat or a person's hair has: the lexicon's natural ones, and the
# yellow and orange families ("a yellow lab", "an orange tabby", "blonde hair").
_COAT_FAMILIES = frozenset({*lx.NATURAL_COLORS, "yellow", "orange"})


def attribute_swaps(doc: Doc) -> Iterator[Proposal]:
    """ "blue bathroom with white towels" -> "white bathroom with blue towels"."""
    owners = attribute_owners(doc)
    said = {(owner.i, word.lower_) for word, owner in owners}
    for i, (one, first) in enumerate(owners):
        for two, second in owners[i + 1 :]:
            kind = lx.attribute_kind(one.lower_)
            if first == second or lx.attribute_kind(two.lower_) != kind:
                continue
            if kind == "color" and lx.color_family(one.lower_) == lx.color_family(two.lower_):
                continue
            if one.lower_ == two.lower_ or (first.i, two.lower_) in said:
                continue  # "red and black luggage" would become "black and black luggage"
            if (second.i, one.lower_) in said:
                continue
            if kind == "color" and not (_takes(first, two, second) and _takes(second, one, first)):
                continue  # "the black dog with the blue collar": no "blue dog"
            a, b = _with_shade(one), _with_shade(two)
            words_a, words_b = a.text.lower(), b.text.lower()
            edits = [
                Edit(a.start, a.end, same_case(words_b, a.text)),
                Edit(b.start, b.end, same_case(words_a, b.text)),
            ]
            edits.extend(_article_fixes(doc, ((a[0], words_b), (b[0], words_a))))
            detail = f"attribute: {words_a} <-> {words_b}"
            yield Proposal(apply_edits(doc, edits), detail, one.i)


def attribute_owners(doc: Doc) -> list[tuple[Token, Token]]:
    """(attribute word, the noun it describes) for the colour, size and material words of
    ``doc`` that describe a noun (module docstring), in order."""
    owners: list[tuple[Token, Token]] = []
    for token in doc:
        kind = lx.attribute_kind(token.lower_)
        if kind not in ATTRIBUTE_KINDS:
            continue
        owner = _written_owner(token) if kind == "color" else None
        owner = owner or _parsed_owner(token)
        if owner is None and kind == "color":
            owner = _wearer(token, owners)
        elif owner is not None and kind == "color" and _skin(owner):
            continue  # "black guy": skin, not a colour to swap
        if owner is not None:
            owners.append((token, owner))
    return owners


def _with_shade(token: Token) -> Span:
    """The attribute word with the shade before a colour ("dark red": the shade moves along)."""
    doc = token.doc
    start = token.i
    if token.i > 0 and doc[token.i - 1].lower_ in lx.SHADES and lx.color_family(token.lower_):
        start -= 1
    return doc[start : token.i + 1]


def _parsed_owner(token: Token) -> Token | None:
    head = token.head
    if token.dep_ not in ("amod", "compound", "nmod") or head.pos_ not in ("NOUN", "PROPN"):
        return None
    if head.i <= token.i or lx.attribute_kind(head.lower_) is not None:
        return None  # "blue/amod tan/PROPN": a colour is no noun a colour describes
    return head


def _written_owner(token: Token) -> Token | None:
    """The noun a colour stands before, other adjectives, colours or an "and" between (a
    compound's head when the noun is one: "red motor bike"), or a "haired" ("brown haired")."""
    doc = token.doc
    for following in doc[token.i + 1 :]:
        if following.lower_ in _GARMENTS or following.lower_ in lx.NATURAL_COLOR_HEADS:
            return following  # "purple top/JJ", "orange vest/JJ": the tagger's adjectives
        if lx.attribute_kind(following.lower_) == "color" or following.tag_ in _BETWEEN_TAGS:
            continue
        if following.lower_ in ("and", ","):
            continue
        if following.pos_ in ("NOUN", "PROPN") and following.tag_ != "VBG":
            return _compound_head(following)
        return following if following.lower_ in ("one", "ones") else None
    return None


def _compound_head(noun: Token) -> Token:
    """ "motor bike": the head of a compound written as one ("red shirt blue pants", parsed
    shirt/compound>pants, names two things)."""
    while (
        noun.dep_ == "compound"
        and noun.head.i == noun.i + 1
        and noun.head.pos_ == "NOUN"
        and lx.attribute_kind(noun.head.lower_) is None
    ):
        noun = noun.head
    return noun


def _wearer(token: Token, owners: Sequence[tuple[Token, Token]]) -> Token | None:
    """The person a colour is worn by ("girl in white", "kid in blue and red"), or None."""
    doc = token.doc
    before = doc[token.i - 1] if token.i > 0 else None
    if before is None:
        return None
    if before.lower_ in ("and", ",", "/") and owners and owners[-1][0].i == token.i - 2:
        owner = owners[-1][1]
        return owner if _person(owner) else None  # "kid in blue and red"
    if before.lower_ not in _WEARING_WORDS:
        return None
    person = next((t for t in reversed(doc[: before.i]) if t.pos_ in ("NOUN", "PROPN")), None)
    return person if person is not None and _person(person) else None


def _person(noun: Token) -> bool:
    return animate(noun) and noun.lemma_.lower() not in lx.ANIMAL_NOUNS


def _skin(owner: Token) -> bool:
    return owner.lower_ in PEOPLE or owner.lemma_.lower() in PEOPLE


def _takes(owner: Token, colour: Token, colour_owner: Token) -> bool:
    """Whether ``owner`` may take ``colour`` from ``colour_owner``: an animal, hair or fur
    only a natural colour or one of another animal ("an orange cat and a black dog")."""
    return not _natural(owner) or (
        _natural(colour_owner) or lx.color_family(colour.lower_) in _COAT_FAMILIES
    )


def _natural(noun: Token) -> bool:
    words = {noun.lower_, noun.lemma_.lower()}
    return bool(words & _NATURAL_HEADS) or (
        noun.lemma_.lower() in lx.ANIMAL_NOUNS and animate(noun)
    )


def _article_fixes(doc: Doc, changes: Sequence[tuple[Token, str]]) -> list[Edit]:
    edits = []
    for token, word in changes:
        if token.i > 0 and doc[token.i - 1].lower_ in ("a", "an"):
            wanted = indefinite_article(word)
            if wanted != doc[token.i - 1].lower_:
                edits.append(Edit(token.i - 1, token.i, same_case(wanted, doc[token.i - 1].text)))
    return edits
