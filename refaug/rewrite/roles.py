"""Role reversal: two entities swap places, each keeping its own determiner and modifiers.

Relations:
    verb: subject and object of one verb ("the cat chasing the dog" -> "the dog chasing
        the cat").
    clauses: the subjects of two linked clauses ("A woman prepares a pizza while a man
        watches" -> "A man prepares a pizza while a woman watches").
    preposition: the two sides of a preposition ("cup on the table" -> "table on the cup").
    objects: any other two entity phrases, across clauses and prepositions ("A man cuts a
        pizza to serve with salad" -> "A man cuts a salad to serve with pizza"); which
        nouns count and which pairs are kept is :mod:`refaug.rewrite.swap_pairs`.
    attribute: two attributes of one kind between two nouns ("blue bathroom with white
        towels" -> "white bathroom with blue towels").

Verbs re-agree after a swap ("a man watches two men" -> "two men watch a man"), with
lemminflect. By default only entities of the same animacy swap (people and animals with
each other, things with things): "umbrella holding a man" is a negative nobody needs.

Example:
    >>> rw = RoleReversalRewriter()
    >>> [c.text for c in rw(["cup on the table"])[0]]  # doctest: +SKIP
    ['table on the cup']
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from spacy.tokens import Doc, Span, Token

__all__ = ["NOT_ENTITIES", "RoleReversalRewriter", "noun_phrase", "swap_edits"]

from refaug import lexicon as lx
from refaug.errors import check_choice
from refaug.rewrite.base import Proposal, Rewriter
from refaug.rewrite.grammar import (
    Edit,
    agreement_edits,
    apply_edits,
    indefinite_article,
    is_plural,
    same_case,
)
from refaug.rewrite.swap_pairs import (
    NOT_ENTITIES,
    agents_stay_animate,
    entity_heads,
    possessive_blocks,
    pronoun_edits,
    relation_of,
    swappable,
)

RELATIONS: tuple[str, ...] = ("verb", "clauses", "preposition", "objects", "attribute")
# At most this many noun phrases per text take part in swaps (15 pairs): keeps the work
# per text bounded on long captions; RefCOCO expressions name at most 4 in 99% of cases.
MAX_ENTITIES = 6
ARTICLES = frozenset({"a", "an", "the"})
_ATTRIBUTE_KINDS = ("color", "size", "material")


class RoleReversalRewriter(Rewriter):
    """Swaps the roles of two entities (or two attributes between two nouns).

    Args:
        relations: which swaps to make, any of ``"verb"``, ``"clauses"``,
            ``"preposition"``, ``"objects"`` and ``"attribute"`` (all by default;
            ``relations=("attribute",)`` is the attribute swap alone).
        same_animacy: swap only people/animals with people/animals and things with
            things (True), or any two nouns (False).
        **options: :class:`~refaug.rewrite.base.Rewriter` options.

    Example:
        >>> rw = RoleReversalRewriter(relations=("attribute",))
        >>> [c.text for c in rw(["blue bathroom with white towels"])[0]]  # doctest: +SKIP
        ['white bathroom with blue towels']
    """

    kind = "role_reversal"

    def __init__(
        self, *, relations: Sequence[str] = RELATIONS, same_animacy: bool = True, **options
    ) -> None:
        super().__init__(**options)
        if isinstance(relations, str):
            relations = (relations,)
        for relation in relations:
            check_choice("relations", relation, RELATIONS)
        self.relations = tuple(relations)
        self.same_animacy = bool(same_animacy)

    def propose(self, doc: Doc, rng: random.Random) -> Iterator[Proposal]:
        if "attribute" in self.relations:
            yield from _attribute_swaps(doc)
        entities = entity_heads(doc)[:MAX_ENTITIES]
        for i, first in enumerate(entities):
            for second in entities[i + 1 :]:
                relation = relation_of(first, second)
                if relation not in self.relations or not swappable(
                    first, second, same_animacy=self.same_animacy
                ):
                    continue
                if self.same_animacy and not agents_stay_animate(first, second):
                    continue
                edits = swap_edits(doc, first, second)
                if edits:
                    detail = f"{relation}: {_named(first)} <-> {_named(second)}"
                    yield Proposal(apply_edits(doc, edits), detail, first.i)


# ---------------------------------------------------------------------- the swap
def noun_phrase(noun: Token) -> Span:
    """The noun with its left modifiers (determiner, numbers, adjectives, compounds)."""
    start = min([noun.i] + [c.left_edge.i for c in noun.lefts])
    return noun.doc[start : noun.i + 1]


def swap_edits(doc: Doc, first: Token, second: Token) -> list[Edit]:
    """Edits that exchange the noun phrases of ``first`` and ``second`` and fix agreement."""
    a, b = noun_phrase(first), noun_phrase(second)
    if a.end > b.start and b.end > a.start:
        return []  # overlapping phrases: the parse is not one we can trust
    if any(
        (t.pos_ in ("VERB", "AUX") and t.dep_ != "amod") or t.pos_ in ("ADP", "PUNCT")
        for t in (*a, *b)
    ):
        return []
    if possessive_blocks((*a, *b), first, second):
        return []  # "the woman hugging her dog": "her" would change whom it means
    pronouns = pronoun_edits(doc, first, second, {*range(a.start, a.end), *range(b.start, b.end)})
    if pronouns is None:
        return []
    text_a, text_b = _swapped_texts(a, b)
    edits = [
        Edit(a.start, a.end, _existential(first, text_a)),
        Edit(b.start, b.end, _existential(second, text_b)),
    ]
    for slot, incoming in ((first, second), (second, first)):
        if is_plural(incoming) != is_plural(slot):
            edits.extend(agreement_edits(slot, plural=is_plural(incoming)))
    edits.extend(e for e in pronouns if not any(o.start <= e.start < o.end for o in edits))
    return edits


def _existential(slot: Token, text: str) -> str:
    """ "There is the laptop" -> "There is a laptop": a definite phrase entering "there is"."""
    if slot.dep_ != "attr" or not any(c.dep_ == "expl" for c in slot.head.children):
        return text
    first, _, rest = text.partition(" ")
    if first.lower() != "the" or not rest:
        return text
    if rest.split()[-1].lower() in lx.PERSON_NOUNS or rest.endswith("s"):
        return rest
    return f"{same_case(indefinite_article(rest), first)} {rest}"


def _named(noun: Token) -> str:
    """The phrase a detail names: the noun with its modifiers, without an article."""
    words = [t.lower_ for t in noun_phrase(noun)]
    return " ".join(words[1:] if words[0] in ARTICLES and len(words) > 1 else words)


def _swapped_texts(a: Span, b: Span) -> tuple[str, str]:
    """The texts for a's slot and b's slot; articles stay put when only one phrase has one."""
    article_a = a[0].lower_ in ARTICLES and a[0].dep_ == "det"
    article_b = b[0].lower_ in ARTICLES and b[0].dep_ == "det"
    # A bare singular is telegraphic ("man sitting on a horse"); a bare plural is not.
    bare_a = a[0].dep_ not in ("det", "nummod", "poss") and not is_plural(a.root)
    bare_b = b[0].dep_ not in ("det", "nummod", "poss") and not is_plural(b.root)
    if article_a and bare_b:
        return _with_article(a[0].text, b, b.root), _moved(a[1:], b.start)
    if article_b and bare_a:
        return _moved(b[1:], a.start), _with_article(b[0].text, a, a.root)
    return _moved(b, a.start), _moved(a, b.start)


def _with_article(article: str, phrase: Span, head: Token) -> str:
    if article.lower() in ("a", "an"):
        if is_plural(head):
            return _moved(phrase, phrase.start)
        article = same_case(indefinite_article(phrase[0].text), article)
    return f"{article} {_moved(phrase, 1)}"


def _moved(phrase: Span | Sequence[Token], target: int) -> str:
    """The phrase's text, its first word lower-cased when it leaves the start of the text."""
    text = "".join(t.text_with_ws for t in phrase).rstrip()
    first = phrase[0]
    if target != 0 and first.i == 0 and first.pos_ not in ("PROPN",) and first.text != "I":
        text = text[:1].lower() + text[1:]
    return text


# ---------------------------------------------------------------------- attributes
def _attribute_swaps(doc: Doc) -> Iterator[Proposal]:
    """ "blue bathroom with white towels" -> "white bathroom with blue towels"."""
    modifiers = [
        t
        for t in doc
        if t.dep_ in ("amod", "compound", "nmod")
        and t.head.pos_ in ("NOUN", "PROPN")
        and t.head.i > t.i
        and lx.attribute_kind(t.lower_) in _ATTRIBUTE_KINDS
    ]
    for i, one in enumerate(modifiers):
        for two in modifiers[i + 1 :]:
            kind = lx.attribute_kind(one.lower_)
            if one.head == two.head or lx.attribute_kind(two.lower_) != kind:
                continue
            if kind == "color" and lx.color_family(one.lower_) == lx.color_family(two.lower_):
                continue
            if one.lower_ == two.lower_:
                continue
            edits = [
                Edit(one.i, one.i + 1, same_case(two.lower_, one.text)),
                Edit(two.i, two.i + 1, same_case(one.lower_, two.text)),
            ]
            edits.extend(_article_fixes(doc, ((one, two.lower_), (two, one.lower_))))
            detail = f"attribute: {one.lower_} <-> {two.lower_}"
            yield Proposal(apply_edits(doc, edits), detail, one.i)


def _article_fixes(doc: Doc, changes: Sequence[tuple[Token, str]]) -> list[Edit]:
    edits = []
    for token, word in changes:
        if token.i > 0 and doc[token.i - 1].lower_ in ("a", "an"):
            wanted = indefinite_article(word)
            if wanted != doc[token.i - 1].lower_:
                edits.append(Edit(token.i - 1, token.i, same_case(wanted, doc[token.i - 1].text)))
    return edits
