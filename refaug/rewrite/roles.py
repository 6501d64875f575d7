"""Role reversal: two entities swap places, each keeping its own determiner and modifiers.

Relations:
    verb: subject and object of one verb ("the cat chasing the dog" -> "the dog chasing
        the cat").
    clauses: the subjects of two linked clauses ("A woman prepares a pizza while a man
        watches" -> "A man prepares a pizza while a woman watches").
    preposition: the two sides of a preposition ("cup on the table" -> "table on the cup").
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

from refaug import lexicon as lx
from refaug.errors import check_choice
from refaug.rewrite.base import Proposal, Rewriter
from refaug.rewrite.grammar import (
    RELATIVE_PRONOUNS,
    SUBJECT_DEPS,
    Edit,
    agreement_edits,
    apply_edits,
    indefinite_article,
    is_plural,
    same_case,
)

RELATIONS: tuple[str, ...] = ("verb", "clauses", "preposition", "attribute")
SWAPPABLE_PREPOSITIONS = frozenset(
    {"on", "under", "above", "below", "behind", "beside", "near", "by", "in", "inside",
     "over", "underneath", "beneath", "atop", "against"}
)  # fmt: skip
# Objects of a preposition that are places in the frame, not entities ("on the left").
NOT_ENTITIES = frozenset(
    {"left", "right", "middle", "center", "centre", "front", "back", "top", "bottom", "side",
     "corner", "edge", "end", "background", "foreground", "row", "picture", "photo", "image",
     "frame", "pic", "distance", "air", "sky", "water", "hand", "hands", "mouth", "head"}
)  # fmt: skip
ARTICLES = frozenset({"a", "an", "the"})
_ATTRIBUTE_KINDS = ("color", "size", "material")


class RoleReversalRewriter(Rewriter):
    """Swaps the roles of two entities (or two attributes between two nouns).

    Args:
        relations: which swaps to make, any of ``"verb"``, ``"clauses"``,
            ``"preposition"`` and ``"attribute"``.
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
        finders = {
            "verb": _verb_pairs,
            "clauses": _clause_pairs,
            "preposition": _preposition_pairs,
        }
        for relation in self.relations:
            if relation == "attribute":
                yield from _attribute_swaps(doc)
                continue
            for first, second in finders[relation](doc):
                if self.same_animacy and _animate(first) != _animate(second):
                    continue
                edits = swap_edits(doc, first, second)
                if edits:
                    detail = f"{relation}: {first.lower_} <-> {second.lower_}"
                    yield Proposal(apply_edits(doc, edits), detail, first.i)


# ---------------------------------------------------------------------- pairs
def _entity(token: Token | None) -> bool:
    return (
        token is not None
        and token.pos_ in ("NOUN", "PROPN")
        and token.lower_ not in NOT_ENTITIES
        and lx.attribute_kind(token.lower_) in (None, "material", "size")
    )


def _verb_pairs(doc: Doc) -> Iterator[tuple[Token, Token]]:
    for verb in doc:
        if verb.pos_ != "VERB":
            continue
        subject = next((c for c in verb.children if c.dep_ == "nsubj"), None)
        relative = subject is not None and subject.lower_ in RELATIVE_PRONOUNS
        if (verb.dep_ == "acl" and subject is None) or (verb.dep_ == "relcl" and relative):
            subject = verb.head
        obj = next((c for c in verb.children if c.dep_ == "dobj"), None)
        if _entity(subject) and _entity(obj):
            yield subject, obj


def _clause_pairs(doc: Doc) -> Iterator[tuple[Token, Token]]:
    for verb in doc:
        first = next((c for c in verb.children if c.dep_ in SUBJECT_DEPS), None)
        if not _entity(first):
            continue
        for other in verb.children:
            if other.dep_ in ("advcl", "conj", "ccomp") and other.pos_ in ("VERB", "AUX"):
                second = next((c for c in other.children if c.dep_ in SUBJECT_DEPS), None)
                if _entity(second):
                    yield first, second


def _preposition_pairs(doc: Doc) -> Iterator[tuple[Token, Token]]:
    for noun in doc:
        if not _entity(noun):
            continue
        heads = [noun] + [c for c in noun.rights if c.dep_ == "acl" and c.tag_ in ("VBG", "VBN")]
        for head in heads:
            for obj in _prepositional_objects(head):
                if _entity(obj):
                    yield noun, obj


def _prepositional_objects(head: Token) -> Iterator[Token]:
    """Objects of the prepositions after ``head``, "next to" and "close to" included."""
    for child in head.rights:
        if child.dep_ == "advmod" and child.lower_ in ("next", "close"):
            yield from _prepositional_objects(child)
        elif child.dep_ == "prep" and (
            child.lower_ in SWAPPABLE_PREPOSITIONS
            or (child.lower_ == "to" and head.dep_ == "advmod")
        ):
            yield from (c for c in child.children if c.dep_ == "pobj")


def _animate(token: Token) -> bool:
    # From the lexicon only, not from NER: the output must not depend on which parser
    # components are enabled (NER is off by default, for speed).
    lemma = token.lemma_.lower()
    return lemma in lx.PERSON_NOUNS or lemma in lx.ANIMAL_NOUNS or token.lower_ in lx.PERSON_NOUNS


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
    if any(t.pos_ in ("VERB", "AUX", "ADP", "PUNCT") or t.dep_ == "poss" for t in (*a, *b)):
        return []  # "the woman hugging her dog": "her" would change whom it means
    text_a, text_b = _swapped_texts(a, b)
    edits = [Edit(a.start, a.end, text_a), Edit(b.start, b.end, text_b)]
    for slot, incoming in ((first, second), (second, first)):
        if is_plural(incoming) != is_plural(slot):
            edits.extend(agreement_edits(slot, plural=is_plural(incoming)))
    return edits


def _swapped_texts(a: Span, b: Span) -> tuple[str, str]:
    """The texts for a's slot and b's slot; articles stay put when only one phrase has one."""
    article_a = a[0].lower_ in ARTICLES and a[0].dep_ == "det"
    article_b = b[0].lower_ in ARTICLES and b[0].dep_ == "det"
    bare_a = a[0].dep_ not in ("det", "nummod", "poss")
    bare_b = b[0].dep_ not in ("det", "nummod", "poss")
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
