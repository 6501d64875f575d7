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
    landmark: the referent and the object it is placed by trade roles, the relation kept
        ("man on bike" -> "bike with man on it", "a man using a laptop" -> "a laptop used
        by a man"); offered for the pairs of nouns no phrase swap covers
        (:mod:`refaug.rewrite.landmark`), so "kid on bench" gets "bench with kid on it" and
        never "bench on kid". What a referent holds or carries (:mod:`refaug.rewrite.holdings`:
        "man with umbrella" -> "umbrella held by man", "a bowl with three apples" -> "three
        apples in a bowl") takes the place of the phrase swap of its pair ("three apples with
        a bowl").

Each pair of nouns gives up to two swaps: of the noun phrases alone (determiner and
modifiers before the noun: "the man in a suit next to the woman" -> "the woman in a suit
next to the man"), and of the phrases with the modifiers after the noun that belong to it
(:func:`full_phrase`: "Military men ... next to a man in a suit" -> "A man in a suit ...
next to military men"). Verbs re-agree after a swap ("a man watches two men" -> "two men
watch a man"), with lemminflect, and so do pronouns ("looks at her" -> "looks at him").
By default a thing never becomes the agent of an action ("umbrella holding a man"), and
what a person wears or holds, a body part or a place swaps only where the result still
reads as a scene (:func:`refaug.rewrite.swap_pairs.swappable`).

Example:
    >>> rw = RoleReversalRewriter()
    >>> [c.text for c in rw(["cup on the table"])[0]]  # doctest: +SKIP
    ['table on the cup']
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from spacy.tokens import Doc, Span, Token

__all__ = ["NOT_ENTITIES", "RoleReversalRewriter", "full_phrase", "noun_phrase", "swap_edits"]

from refaug import lexicon as lx
from refaug.errors import check_choice
from refaug.rewrite.attribute_swaps import attribute_swaps
from refaug.rewrite.base import Proposal, Rewriter
from refaug.rewrite.grammar import (
    Edit,
    agreement_edits,
    apply_edits,
    indefinite_article,
    is_plural,
    same_case,
)
from refaug.rewrite.landmark import landmark_swaps, preferred_swaps
from refaug.rewrite.swap_pairs import (
    COMPLEX_PREPOSITION_NOUNS,
    NOT_ENTITIES,
    PARTS,
    agents_stay_animate,
    animate,
    container_of,
    entity_heads,
    moves_before_antecedent,
    possessive_blocks,
    pronoun_edits,
    relation_of,
    swappable,
    telegraphic_agent,
)

RELATIONS: tuple[str, ...] = (
    "verb", "clauses", "preposition", "objects", "attribute", "landmark"
)  # fmt: skip
# At most this many noun phrases per text take part in swaps (15 pairs): keeps the work
# per text bounded on long captions; RefCOCO expressions name at most 4 in 99% of cases.
MAX_ENTITIES = 6
ARTICLES = frozenset({"a", "an", "the"})


class RoleReversalRewriter(Rewriter):
    """Swaps the roles of two entities (or two attributes between two nouns).

    Args:
        relations: which swaps to make, any of ``"verb"``, ``"clauses"``,
            ``"preposition"``, ``"objects"``, ``"attribute"`` and ``"landmark"`` (all by
            default; ``relations=("attribute",)`` is the attribute swap alone).
        same_animacy: swap only people/animals with people/animals and things with
            things (True), or any two nouns (False; no landmark swaps then, only the plain
            exchange of phrases).
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
            yield from attribute_swaps(doc)
        landmarks = "landmark" in self.relations and self.same_animacy
        preferred = preferred_swaps(doc) if landmarks else {}
        swapped: set[frozenset[int]] = set(preferred)
        for first, second, proposal in self._phrase_swaps(doc):
            pair = frozenset((first.i, second.i))
            if pair not in preferred:  # "three apples in a bowl", not "three apples with a bowl"
                swapped.add(pair)
                yield proposal
        yield from preferred.values()
        if landmarks:
            yield from landmark_swaps(doc, swapped=swapped)

    def _phrase_swaps(self, doc: Doc) -> Iterator[tuple[Token, Token, Proposal]]:
        """Swaps of two noun phrases, each with the pair of nouns it exchanges."""
        entities = entity_heads(doc)[:MAX_ENTITIES]
        for i, first in enumerate(entities):
            for second in entities[i + 1 :]:
                if first.sent != second.sent:
                    continue  # "the pizza ... . it is in front of the glasses"
                relation = relation_of(first, second)
                if relation not in self.relations or not swappable(
                    first, second, same_animacy=self.same_animacy
                ):
                    continue
                edits = []
                if not self.same_animacy or agents_stay_animate(first, second):
                    edits = swap_edits(doc, first, second)
                    if edits:
                        detail = f"{relation}: {_named(first)} <-> {_named(second)}"
                        yield first, second, Proposal(apply_edits(doc, edits), detail, first.i)
                a, b = full_phrase(first, second), full_phrase(second, first)
                if self.same_animacy and not agents_stay_animate(first, second, (a, b)):
                    continue
                whole = swap_edits(doc, first, second, whole=True)
                if whole and whole != edits:
                    detail = f"{relation}: {_named_span(a)} <-> {_named_span(b)}"
                    yield first, second, Proposal(apply_edits(doc, whole), detail, first.i)


# ---------------------------------------------------------------------- the swap
def noun_phrase(noun: Token) -> Span:
    """The noun with its left modifiers (determiner, numbers, adjectives, compounds)."""
    lefts = list(noun.lefts)
    # "man holding child" (holding/amod of child): the participle and its agent are not
    # the child's modifiers.
    doc = noun.doc
    cut = max(
        (c.i + 1 for c in lefts if c.i > 0 and telegraphic_agent(doc[c.i - 1]) == c), default=0
    )
    start = min([noun.i] + [c.left_edge.i for c in lefts if c.i >= cut])
    return noun.doc[start : noun.i + 1]


def full_phrase(noun: Token, other: Token) -> Span:
    """The noun phrase with the modifiers after the noun that do not hold ``other``.

    "a man in a suit" moves whole ("Military men ... next to a man in a suit" -> "A man in
    a suit ... next to military men"); a modifier that holds the other noun stays put.
    """
    doc = noun.doc
    start, end = noun_phrase(noun).start, noun.i + 1
    for child in noun.rights:
        if child.dep_ not in ("prep", "acl", "relcl") or child.left_edge.i != end:
            break
        if child.left_edge.i <= other.i <= child.right_edge.i or not _movable_modifier(noun, child):
            break
        end = child.right_edge.i + 1
    while end > noun.i + 1 and doc[end - 1].pos_ in ("PUNCT", "CCONJ"):
        end -= 1
    return doc[start:end]


def _movable_modifier(noun: Token, child: Token) -> bool:
    """Whether a modifier after the noun is one that moves with it.

    Not a bare participle ("woman smiling while ..."), "wearing" on a thing (the parser's
    "pizza wearing a red jacket"), or "with" a part placed somewhere ("person with arm
    around boy"; "with pink hair" moves)."""
    if child.dep_ == "acl" and not any(c.dep_ in ("dobj", "prep") for c in child.children):
        return False
    if (
        child.dep_ in ("acl", "relcl")
        and not animate(noun)
        and any(t.lemma_.lower() in ("wear", "hold", "carry") for t in child.subtree)
    ):
        return False
    if child.dep_ == "prep" and child.lower_ == "with":
        objects = [c for c in child.children if c.dep_ == "pobj"]
        for part in objects:
            placed = any(c.dep_ in ("prep", "advmod", "acl") for c in part.children)
            bare = not any(c.dep_ in ("det", "amod", "poss", "nummod") for c in part.children)
            if (part.lower_ in PARTS or part.lemma_.lower() in PARTS) and (placed or bare):
                return False
    return True


def _whole_movable(noun: Token, other: Token, phrase: Span) -> bool:
    """Whether ``phrase`` can move whole: the noun is not a modifier inside a third noun's
    phrase ("the woman on the horse": not the horse), and what stays behind is only the
    modifier that holds the other noun, a relation ("next to ..."), not "in red" or "with"."""
    holder = noun.head.head
    if (
        noun.dep_ == "pobj"
        and holder.pos_ in ("NOUN", "PROPN")
        and holder != other
        and holder.lower_ not in COMPLEX_PREPOSITION_NOUNS  # "in front of", "on top of"
    ):
        return False
    rest = [c for c in noun.rights if c.i >= phrase.end and c.dep_ in ("prep", "acl", "relcl")]
    if not rest:
        return True
    held = rest[0]
    if len(rest) > 1 or not held.left_edge.i <= other.i <= held.right_edge.i:
        return False
    if any(c.lower_ in COMPLEX_PREPOSITION_NOUNS for c in held.children):
        return True  # "in front of", "on top of"
    return held.lower_ not in ("in", "with", "without", "of", "wearing", "on")


def swap_edits(doc: Doc, first: Token, second: Token, *, whole: bool = False) -> list[Edit]:
    """Edits that exchange the noun phrases of ``first`` and ``second`` and fix agreement.

    With ``whole``, each phrase takes the modifiers after its noun along
    (:func:`full_phrase`); without, only those before it (:func:`noun_phrase`). Returns []
    when ``whole`` adds nothing to either phrase.
    """
    if whole:
        a, b = full_phrase(first, second), full_phrase(second, first)
        if a.end == first.i + 1 and b.end == second.i + 1:
            return []
        if not (_whole_movable(first, second, a) and _whole_movable(second, first, b)):
            return []
    else:
        if container_of(first) or container_of(second):
            return []  # "a bottle of beer" moves whole, never as "a bottle"
        if animate(first) != animate(second) and (_dressed(first) or _dressed(second)):
            return []  # "woman in black shirt ... computer": the shirt would stay behind
        a, b = noun_phrase(first), noun_phrase(second)
    if a.end > b.start and b.end > a.start:
        return []  # overlapping phrases: the parse is not one we can trust
    left = [t for t in a if t.i <= first.i] + [t for t in b if t.i <= second.i]
    if any(
        (t.pos_ in ("VERB", "AUX") and not _participle_adjective(t))
        or t.pos_ in ("ADP", "PUNCT", "PART")
        for t in left
    ):
        return []
    if possessive_blocks(left, first, second):
        return []  # "the woman hugging her dog": "her" would change whom it means
    if whole and (_foreign_possessive(a, first, second) or _foreign_possessive(b, second, first)):
        return []
    if moves_before_antecedent(a, b.start) or moves_before_antecedent(b, a.start):
        return []
    moved = {*range(a.start, a.end), *range(b.start, b.end)}
    pronouns = pronoun_edits(doc, first, second, moved)
    if pronouns is None:
        return []
    text_a, text_b = _swapped_texts(a, b)
    edits = [
        Edit(a.start, a.end, _existential(first, text_a, second)),
        Edit(b.start, b.end, _existential(second, text_b, first)),
    ]
    for slot, incoming in ((first, second), (second, first)):
        if is_plural(incoming) != is_plural(slot):
            agreeing = agreement_edits(slot, plural=is_plural(incoming))
            edits.extend(e for e in agreeing if e.start not in moved)
    edits.extend(e for e in pronouns if not any(o.start <= e.start < o.end for o in edits))
    return edits


def _participle_adjective(token: Token) -> bool:
    """ "a sleeping dog", "a parked car": a participle used as an adjective."""
    return token.dep_ == "amod" or (token.dep_ == "compound" and not list(token.children))


def _dressed(noun: Token) -> bool:
    """ "woman in black shirt", "man wearing a hat": a person's modifier after the noun."""
    return animate(noun) and any(
        c.dep_ in ("prep", "acl") and c.lower_ in ("in", "with", "without", "wearing")
        for c in noun.rights
    )


def _foreign_possessive(phrase: Span, noun: Token, other: Token) -> bool:
    """A possessive after the noun that may mean the other noun ("a man with her dog")."""
    for token in phrase:
        if (
            token.i > noun.i
            and token.dep_ == "poss"
            and token.pos_ == "PRON"
            and possessive_blocks([token], other, other)
            and not possessive_blocks([token], noun, noun)
        ):
            return True
    return False


def _existential(slot: Token, text: str, incoming: Token) -> str:
    """ "There is the laptop" -> "There is a laptop": a definite phrase entering "there is"
    (a plural one loses its article: "There are the cups" -> "There are cups")."""
    if slot.dep_ != "attr" or not any(c.dep_ == "expl" for c in slot.head.children):
        return text
    first, _, rest = text.partition(" ")
    if first.lower() != "the" or not rest:
        return text
    if is_plural(incoming) or incoming.lemma_.lower() in lx.MASS_NOUNS:
        return rest
    return f"{same_case(indefinite_article(rest), first)} {rest}"


def _named_span(span: Span) -> str:
    words = [t.lower_ for t in span]
    return " ".join(words[1:] if words[0] in ARTICLES and len(words) > 1 else words)


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
