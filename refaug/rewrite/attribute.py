"""Attribute substitution: one attribute word replaced by another of the same kind.

"white shirt" -> "black shirt", "big dog" -> "small dog", "second from left" -> "second
from right", "two zebras" -> "three zebras", "wooden chair" -> "metal chair". Every
vocabulary comes from :mod:`refaug.lexicon`; the parse only decides whether a word
is used as an attribute here ("an orange" is a fruit, "the man left" is a verb).

Example:
    >>> rw = AttributeRewriter(kinds=("color",), values_per_word=1)
    >>> [c.text for c in rw(["guy in red"])[0]]  # doctest: +SKIP
    ['guy in blue']
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from spacy.tokens import Doc, Token

from refaug import lexicon as lx
from refaug.errors import check_choice
from refaug.rewrite.base import Proposal, Rewriter
from refaug.rewrite.grammar import (
    Edit,
    agreement_edits,
    apply_edits,
    article_edit,
    is_plural,
    pluralize,
    same_case,
    singularize,
)

NOUN_POS = frozenset({"NOUN", "PROPN"})
MODIFIER_DEPS = frozenset({"amod", "compound", "nmod", "nummod"})
_NOUN_FORM = {"wooden": "wood", "woolen": "wool", "metallic": "metal"}
# A pattern as a noun ("shirt with stripes", "man in plaid"): the substitute's noun form.
_PATTERN_NOUN = {
    "striped": "stripes",
    "dotted": "polka dots",
    "spotted": "polka dots",
    "checkered": "checks",
    "floral": "flowers",
}
_PATTERN_HEDGES = frozenset({"advmod", "npadvmod", "compound"})  # words that qualify a pattern
_PATTERN_VERBS = frozenset({"checked", "spotted", "dotted"})  # also verbs: "spotted a bird"
# Heads a count change cannot apply to ("such a", "what a" are not counts).
_NOT_COUNT_BEFORE_ARTICLE = frozenset({"such", "what", "quite", "rather", "many"})
LOCATIVE_PREPOSITIONS = frozenset(
    {"in", "on", "at", "through", "around", "across", "along", "near", "by", "under",
     "inside", "into", "onto", "over", "of", "behind", "beside", "above", "below", "from"}
)  # fmt: skip
_MAX_COUNT = 20  # larger numbers are years, scores and sizes, not object counts


class AttributeRewriter(Rewriter):
    """Replaces one attribute word by a contrasting one of the same kind.

    Args:
        kinds: the attribute kinds to change, any of ``"color"``, ``"size"``,
            ``"spatial"``, ``"count"``, ``"material"``, ``"pattern"``.
        values_per_word: substitutes per attribute word: the lexicon's most contrasting
            one first, then others drawn with the text's generator.
        **options: :class:`~refaug.rewrite.base.Rewriter` options (``max_per_text``,
            ``seed``, ``spacy_model``, ``disable``, ``batch_size``, ``n_process``).

    Example:
        >>> rw = AttributeRewriter(kinds=("size", "spatial"))
        >>> [c.detail for c in rw(["big dog on the left"])[0]]  # doctest: +SKIP
        ['size: big -> small', 'spatial: left -> right']
    """

    kind = "attribute"

    def __init__(
        self,
        *,
        kinds: Sequence[str] = lx.ATTRIBUTE_KINDS,
        values_per_word: int = 2,
        **options,
    ) -> None:
        super().__init__(**options)
        if isinstance(kinds, str):
            kinds = (kinds,)
        for kind in kinds:
            check_choice("kinds", kind, lx.ATTRIBUTE_KINDS)
        if values_per_word < 1:
            raise ValueError(f"values_per_word={values_per_word!r} must be >= 1")
        self.kinds = tuple(kinds)
        self.values_per_word = int(values_per_word)

    def propose(self, doc: Doc, rng: random.Random) -> Iterator[Proposal]:
        finders = {
            "color": self._color,
            "size": self._size,
            "spatial": self._spatial,
            "count": self._count,
            "material": self._material,
            "pattern": self._pattern,
        }
        words = {t.lower_ for t in doc}
        for kind in self.kinds:
            if not _may_apply(kind, words):
                continue
            for token, old, new, edits in finders[kind](doc, rng):
                yield Proposal(apply_edits(doc, edits), f"{kind}: {old} -> {new}", token.i)

    # ------------------------------------------------------------------ helpers
    def _pick(self, options: Sequence[str], rng: random.Random) -> list[str]:
        options = list(dict.fromkeys(options))
        if len(options) <= self.values_per_word:
            return options
        return [options[0], *rng.sample(options[1:], self.values_per_word - 1)]

    @staticmethod
    def _swap_word(doc: Doc, token: Token, new: str) -> list[Edit]:
        edits = [Edit(token.i, token.i + 1, same_case(new, token.text))]
        article = article_edit(doc, token.i, new)
        return [article, *edits] if article else edits

    # ------------------------------------------------------------------ colour
    def _color(self, doc: Doc, rng: random.Random):
        present = {lx.color_family(t.lower_) for t in doc} - {None}
        for token in doc:
            family = lx.color_family(token.lower_)
            if family is None or not _describes(
                token, ambiguous=token.lower_ in lx.AMBIGUOUS_COLORS
            ):
                continue
            if token.head.lower_ in lx.PERSON_NOUNS and token.dep_ in MODIFIER_DEPS:
                continue  # "black guy": skin, not a colour to swap
            options = [c for c in lx.COLOR_CONTRASTS[family] if c not in present]
            if _natural_colored(token):
                options = [c for c in options if c in lx.NATURAL_COLORS]
            start = token.i - 1 if token.i > 0 and doc[token.i - 1].lower_ in lx.SHADES else token.i
            old = doc[start : token.i + 1].text.lower()
            for new in self._pick(options, rng):
                edits = [Edit(start, token.i + 1, same_case(new, doc[start].text))]
                article = article_edit(doc, start, new)
                yield token, old, new, [article, *edits] if article else edits

    # ------------------------------------------------------------------ size
    def _size(self, doc: Doc, rng: random.Random):
        for token in doc:
            options = lx.SIZE_ANTONYMS.get(token.lower_)
            if not options or not _is_adjective(token):
                continue
            if token.lower_.startswith("short"):
                options = _short_antonyms(token, options)
            for new in self._pick(options, rng):
                yield token, token.lower_, new, self._swap_word(doc, token, new)

    # ------------------------------------------------------------------ spatial
    def _spatial(self, doc: Doc, rng: random.Random):
        covered: set[int] = set()
        for start, end, new in _spatial_phrases(doc):
            covered.update(range(start, end))
            old = doc[start:end].text.lower()
            yield doc[start], old, new, [Edit(start, end, same_case(new, doc[start].text))]
        for token in doc:
            if token.i in covered or not _is_spatial_use(doc, token):
                continue
            ordinal = lx.ordinal_value(token.lower_)
            if ordinal is not None and ordinal >= 1 and token.lower_ != "last":
                options = [lx.ordinal_like(ordinal + 1, token.lower_)]
                if ordinal > 1:
                    options.append(lx.ordinal_like(ordinal - 1, token.lower_))
            else:
                options = list(lx.SPATIAL_ANTONYMS.get(token.lower_, ()))
                if token.lower_ in lx.SPATIAL_WORD_PHRASES:
                    options = [lx.SPATIAL_WORD_PHRASES[token.lower_]]
            for new in self._pick(options, rng):
                yield token, token.lower_, new, self._swap_word(doc, token, new)

    # ------------------------------------------------------------------ count
    def _count(self, doc: Doc, rng: random.Random):
        for token in doc:
            noun = token.head
            while noun.dep_ == "compound" and noun.head.i > noun.i and noun.head.pos_ in NOUN_POS:
                noun = noun.head  # "two teddy bears": the count is of bears
            if noun.pos_ not in NOUN_POS or noun.i <= token.i:
                continue
            value = lx.number_value(token.text)
            if token.dep_ == "nummod" and value is not None and 1 <= value <= _MAX_COUNT:
                options = [value + 1]
                if value > 2 or (value == 2 and not _definite(noun)):
                    options.append(value - 1)  # not "the one zebras": "the two" names a set
                for new in self._pick([str(v) for v in options], rng):
                    word = lx.number_like(int(new), token.text)
                    yield token, token.lower_, word, _count_edits(token, noun, int(new), word)
            elif (
                token.dep_ == "det" and token.lower_ in ("a", "an") and _countable(doc, noun, token)
            ):
                word = lx.number_like(2, "two")
                yield token, token.lower_, word, _count_edits(token, noun, 2, word)

    # ------------------------------------------------------------------ material
    def _material(self, doc: Doc, rng: random.Random):
        present = {t.lower_ for t in doc}
        for token in doc:
            options = lx.MATERIAL_CONTRASTS.get(token.lower_)
            if not options or not _is_material_use(token):
                continue
            as_noun = token.dep_ == "pobj"
            subs = [_NOUN_FORM.get(o, o) if as_noun else o for o in options]
            subs = [s for s in subs if s not in present and _NOUN_FORM.get(s, s) not in present]
            for new in self._pick(subs, rng):
                yield token, token.lower_, new, self._swap_word(doc, token, new)

    # ------------------------------------------------------------------ pattern
    def _pattern(self, doc: Doc, rng: random.Random):
        present = {lx.PATTERNS.get(t.lower_) for t in doc} - {None}
        phrases = _pattern_phrases(doc)
        for token in doc:
            start, word = phrases.get(token.i, (token.i, token.lower_))
            if word not in lx.PATTERN_CONTRASTS or (token.i - 1) in phrases:
                continue
            while start > 0 and _hedges(doc[start - 1], token):
                start -= 1  # "horizontally striped", "zebra striped": the whole goes
            if not _is_pattern_use(doc, token, word) or _natural_colored(token):
                continue  # "spotted giraffe", "striped zebra": the animal's own coat
            options = [
                o
                for o in lx.PATTERN_CONTRASTS[word]
                if lx.PATTERNS.get(o.split()[-1]) not in present
            ]
            if word in ("stripes", "dots", "spots") or token.dep_ == "pobj":
                options = [_PATTERN_NOUN.get(o, o) for o in options if o != "solid"]
            if _after_two_colors(doc, start):
                options = [o for o in options if o != "solid"]  # "red and white solid shirt"
            old = doc[start : token.i + 1].text.lower()
            for new in self._pick(options, rng):
                edits = [Edit(start, token.i + 1, same_case(new, doc[start].text))]
                article = article_edit(doc, start, new)
                yield token, old, new, [article, *edits] if article else edits


# ---------------------------------------------------------------------- predicates
_VOCABULARY = {
    "color": frozenset(lx.COLOR_FAMILIES),
    "size": frozenset(lx.SIZE_ANTONYMS),
    "material": frozenset(lx.MATERIAL_CONTRASTS),
    "pattern": frozenset(lx.PATTERN_CONTRASTS) | {p[0] for p in lx.PATTERN_PHRASES},
    "count": frozenset({"a", "an", *lx.NUMBER_WORDS}),
}


def _may_apply(kind: str, words: set[str]) -> bool:
    """A cheap test on the text's words before any parse is looked at."""
    vocabulary = _VOCABULARY.get(kind)
    if vocabulary is None:
        return True
    return not words.isdisjoint(vocabulary) or (kind == "count" and any(w.isdigit() for w in words))


def _describes(token: Token, *, ambiguous: bool) -> bool:
    """Whether a colour word is used as a colour (not "an orange", not a name)."""
    if token.pos_ in ("VERB", "AUX", "ADP", "DET", "PRON"):
        return False
    if not ambiguous:
        return True
    if token.tag_ == "JJ" or (token.dep_ in MODIFIER_DEPS and token.head.i > token.i):
        return True
    return token.dep_ == "pobj" and token.head.lower_ in ("in", "wearing")


def _natural_colored(token: Token) -> bool:
    """Whether a colour describes an animal or hair, which come in few colours."""
    head = token.head
    nouns = [head]
    if head.pos_ in ("AUX", "VERB", "ADP"):  # "the dog is brown", "cat in black"
        nouns.extend(t for t in head.children if t.dep_ in ("nsubj", "pobj"))
    for noun in nouns:
        lemma = noun.lemma_.lower()
        if lemma in lx.ANIMAL_NOUNS or lemma in lx.NATURAL_COLOR_HEADS:
            return True
    return token.dep_ == "conj" and _natural_colored(token.head)


def _is_adjective(token: Token) -> bool:
    if token.tag_ in ("JJ", "JJR", "JJS"):
        return token.head.lemma_ not in ("bit", "while", "time")
    return token.dep_ in ("amod", "acomp") and token.pos_ != "ADV"


def _short_antonyms(token: Token, options: Sequence[str]) -> tuple[str, ...]:
    """For "short": "tall" of people, animals and tall things, "long" of anything else."""
    noun = token.head if token.dep_ in ("amod", "compound") else None
    if noun is None:
        noun = next((c for c in token.head.children if c.dep_ in ("nsubj", "nsubjpass")), None)
    if (
        noun is not None
        and noun.lemma_.lower() not in lx.TALL_THINGS | lx.PERSON_NOUNS | lx.ANIMAL_NOUNS
    ):
        return tuple(o for o in options if o.startswith("long")) or tuple(options)
    return tuple(o for o in options if o.startswith("tall")) or tuple(options)


def _spatial_phrases(doc: Doc) -> Iterator[tuple[int, int, str]]:
    lowers = [t.lower_ for t in doc]
    for phrase, new in lx.SPATIAL_PHRASES.items():
        size = len(phrase)
        for start in range(len(lowers) - size + 1):
            if tuple(lowers[start : start + size]) == phrase:
                yield start, start + size, new


def _is_spatial_use(doc: Doc, token: Token) -> bool:
    low = token.lower_
    ordinal = lx.ordinal_value(low)
    if low not in lx.SPATIAL_ANTONYMS and low not in lx.SPATIAL_WORD_PHRASES and ordinal is None:
        return False
    nxt = doc[token.i + 1].lower_ if token.i + 1 < len(doc) else ""
    prev = doc[token.i - 1].lower_ if token.i > 0 else ""
    if (low, nxt) in lx.SPATIAL_BLOCKED_BIGRAMS or (prev, low) in lx.SPATIAL_BLOCKED_BIGRAMS:
        return False
    if ordinal is not None and low not in lx.SPATIAL_ANTONYMS:
        return token.pos_ != "VERB" and not (
            low == "second" and token.pos_ == "NOUN" and prev == "a"
        )
    if low in ("left", "right") and any(
        c.dep_ in ("nsubj", "nsubjpass", "aux") for c in token.children
    ):
        return (
            False  # "the man left the room": a verb ("left man" parses as one too, with no subject)
        )
    # "looking back", "his back": not a position
    return low not in ("back", "front", "top", "bottom") or not (
        token.pos_ in ("ADV", "VERB") or any(c.dep_ == "poss" for c in token.children)
    )


def _countable(doc: Doc, noun: Token, article: Token) -> bool:
    """Whether ``article`` ("a"/"an") before ``noun`` counts one thing that could be two.

    The article is passed in, not looked up among the noun's children: in "A teddy bear"
    or "A red stop sign" the parser attaches it to the compound ("teddy", "stop"), so the
    head noun has no determiner of its own.
    """
    if noun.tag_ != "NN" or noun.lemma_.lower() in lx.MASS_NOUNS:
        return False
    if noun.lemma_.lower() in lx.NOT_COUNTABLE_AFTER_ARTICLE or noun.lower_ in lx.CLOTHING:
        return False
    if noun.dep_ == "attr" and not any(c.dep_ == "expl" for c in noun.head.children):
        return False  # "it is a dog": a predicate, not a count
    if noun.dep_ == "pobj" and noun.head.lower_ in LOCATIVE_PREPOSITIONS:
        return False  # "playing in two parks": a place, not a count anyone meant
    return article.i == 0 or doc[article.i - 1].lower_ not in _NOT_COUNT_BEFORE_ARTICLE


def _definite(noun: Token) -> bool:
    """Whether the noun's phrase has a definite determiner or a possessive ("the", "his").

    Read from the words left of the noun, not from its children only: in "The two stop
    signs" the parser attaches "The" to "two".
    """
    before = noun.doc[noun.left_edge.i : noun.i]
    return any(t.dep_ in ("det", "poss") and t.lower_ not in ("a", "an") for t in before)


def _count_edits(number: Token, noun: Token, value: int, word: str) -> list[Edit]:
    plural = value != 1
    edits = [Edit(number.i, number.i + 1, same_case(word, number.text))]
    if plural != is_plural(noun):
        form = pluralize(noun) if plural else singularize(noun)
        edits.append(Edit(noun.i, noun.i + 1, form))
        edits.extend(agreement_edits(noun, plural=plural))
    return edits


def _is_material_use(token: Token) -> bool:
    if token.lower_ not in lx.NOUN_MATERIALS:
        return token.pos_ in ("ADJ", "NOUN", "PROPN")
    if token.dep_ in MODIFIER_DEPS and token.head.pos_ in NOUN_POS and token.head.i > token.i:
        return True
    return token.dep_ == "pobj" and token.head.lower_ == "of" and token.head.head.lemma_ == "make"


def _pattern_phrases(doc: Doc) -> dict[int, tuple[int, str]]:
    """Multi-word patterns ("polka dot"): last token index -> (first index, the word read)."""
    found = {}
    lowers = [t.lower_ for t in doc]
    for phrase, word in lx.PATTERN_PHRASES.items():
        size = len(phrase)
        for start in range(len(lowers) - size + 1):
            if tuple(lowers[start : start + size]) == phrase:
                found[start + size - 1] = (start, word)
    return found


def _is_pattern_use(doc: Doc, token: Token, word: str) -> bool:
    """Whether a pattern word describes something: "striped shirt", "shirt is plaid", "man in
    plaid", "shirt with stripes"; "solid" only of clothing or before a colour ("solid blue")."""
    if word == "solid":
        nxt = doc[token.i + 1] if token.i + 1 < len(doc) else None
        return (token.dep_ in MODIFIER_DEPS and token.head.lower_ in lx.CLOTHING) or (
            nxt is not None and lx.color_family(nxt.lower_) is not None
        )
    if token.pos_ in ("VERB", "AUX") and token.dep_ not in MODIFIER_DEPS:
        # "the shirt is striped", a fragment's "checkered tablecloth"; not "checked the phone"
        return word not in _PATTERN_VERBS
    if token.dep_ in MODIFIER_DEPS or token.dep_ in ("acomp", "conj", "ROOT"):
        return True
    if token.dep_ == "dobj":
        return token.head.lemma_ in ("wear", "have")  # "guy wearing stripes"
    return token.dep_ == "pobj" and token.head.lower_ in ("in", "with", "of")


def _after_two_colors(doc: Doc, start: int) -> bool:
    """Whether two colours joined by "and" come right before ``start`` ("red and white")."""
    before = [t.lower_ for t in doc[max(0, start - 3) : start]]
    return (
        len(before) == 3
        and before[1] in ("and", "&")
        and all(lx.color_family(w) is not None for w in (before[0], before[2]))
    )


def _hedges(word: Token, pattern: Token) -> bool:
    """Whether ``word`` qualifies the pattern right after it ("horizontally striped", "zebra
    striped"), so that it goes with it; a colour ("gray striped shirt") stays."""
    return (word.head == pattern and word.dep_ in _PATTERN_HEDGES
            and lx.color_family(word.lower_) is None and word.is_alpha)  # fmt: skip
