"""Type variants: the referent's head noun becomes a confusable sibling category.

"the two cats" -> "the two dogs", "a sedan on the left" -> "a truck on the left", "pizza
slice" -> "cake": the head noun the contrast description reads
(:func:`refaug.contrast.head_noun`) is mapped to its COCO category (the lexicon's tables,
then WordNet 3.0's hypernyms: "sedan" is a car, "loveseat" a couch; see
:mod:`refaug.contrast.synonyms`), and replaced by the name of a sibling category: one of the
most confusable ones (:data:`CONFUSABLE`, mostly of the same COCO supercategory,
:mod:`refaug.data.coco`), or another category of its supercategory that the data set uses
(``vocabulary=``). People have one category, so a person noun becomes one whose
:data:`refaug.lexicon.PERSON_TAGS` clash with its own ("man" -> "woman", "batter" ->
"catcher").

The substitute is never a synonym: its classes (the same table) share none with the
original's, and no other noun of the text already names it ("the cat next to the dog"
never becomes "the dog next to the dog"). The rest of the expression stays, with its
agreement: the number of the noun ("two cats" -> "two dogs") and the article ("a cat" ->
"an elephant"). The number never changes, so no verb needs to re-agree.

Example:
    >>> rw = TypeRewriter(values_per_word=1)
    >>> [c.text for c in rw(["the two cats on the couch"])[0]]  # doctest: +SKIP
    ['the two dogs on the couch']
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from types import MappingProxyType

from lemminflect import getInflection
from spacy.tokens import Doc, Token

from refaug import lexicon as lx
from refaug.contrast import head_noun
from refaug.contrast.describe import head_class
from refaug.contrast.synonyms import head_classes, lexicon_class
from refaug.data.coco import COCO_CATEGORIES
from refaug.rewrite.base import Proposal, Rewriter
from refaug.rewrite.grammar import Edit, apply_edits, article_edit, is_plural, same_case

SUPERCATEGORY: MappingProxyType[str, str] = MappingProxyType(
    {name: sup for name, sup in COCO_CATEGORIES.values()}
)
# The word a category is written with in an expression, where its COCO name is not it.
SURFACE: MappingProxyType[str, str] = MappingProxyType(
    {"dining table": "table", "cell phone": "phone", "potted plant": "plant",
     "sports ball": "ball", "wine glass": "glass", "baseball glove": "glove",
     "tennis racket": "racket", "hair drier": "hair dryer", "tv": "tv"}
)  # fmt: skip
# Categories named only in the plural ("skis", "scissors"): a substitute for plural heads only.
PLURAL_ONLY: frozenset[str] = frozenset({"skis", "scissors"})
# Per category, the siblings most likely to be confused with it, most confusable first: a
# hand-made list, since a supercategory also holds far-fetched pairs ("broccoli" and "donut",
# "truck" and "airplane"). A few cross supercategories where COCO's grouping splits
# look-alikes ("bench" is outdoor, "chair" furniture).
CONFUSABLE: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "car": ("truck", "bus"), "truck": ("car", "bus"), "bus": ("truck", "train"),
        "train": ("bus", "truck"), "motorcycle": ("bicycle",), "bicycle": ("motorcycle",),
        "airplane": ("boat", "train"), "boat": ("airplane", "train"),
        "cat": ("dog",), "dog": ("cat", "sheep"), "horse": ("cow", "zebra"),
        "cow": ("horse", "sheep"), "sheep": ("cow", "dog"), "zebra": ("horse", "giraffe"),
        "giraffe": ("zebra", "elephant"), "elephant": ("giraffe", "horse"),
        "bear": ("dog", "cow"), "bird": ("cat", "dog"),
        "couch": ("chair", "bed"), "chair": ("couch", "bench"), "bed": ("couch", "chair"),
        "dining table": ("chair", "couch"), "toilet": ("sink",), "potted plant": ("vase",),
        "bench": ("chair", "couch"), "fire hydrant": ("parking meter",),
        "parking meter": ("fire hydrant",), "stop sign": ("traffic light",),
        "traffic light": ("stop sign",),
        "cup": ("bowl", "wine glass"), "bowl": ("cup",), "wine glass": ("cup", "bottle"),
        "bottle": ("cup", "wine glass"), "fork": ("knife", "spoon"), "knife": ("fork", "spoon"),
        "spoon": ("fork", "knife"),
        "donut": ("sandwich", "pizza"), "cake": ("pizza", "sandwich"), "pizza": ("cake", "sandwich"),
        "sandwich": ("pizza", "donut"), "hot dog": ("pizza",),  # WordNet: a hot dog is a sandwich
        "banana": ("apple", "orange"), "apple": ("orange", "banana"),
        "orange": ("apple", "banana"), "broccoli": ("carrot",), "carrot": ("broccoli",),
        "tv": ("laptop",), "laptop": ("tv", "keyboard"), "keyboard": ("laptop",),
        "mouse": ("remote",), "remote": ("cell phone", "mouse"), "cell phone": ("remote",),
        "oven": ("microwave", "refrigerator"), "microwave": ("oven", "toaster"),
        "toaster": ("microwave",), "refrigerator": ("oven",), "sink": ("toilet",),
        "skis": ("snowboard",), "snowboard": ("skis", "surfboard"),
        "surfboard": ("skateboard", "snowboard"), "skateboard": ("surfboard", "snowboard"),
        "baseball bat": ("tennis racket",), "tennis racket": ("baseball bat",),
        "frisbee": ("sports ball", "kite"), "kite": ("frisbee",), "sports ball": ("frisbee",),
        "backpack": ("handbag", "suitcase"), "handbag": ("backpack", "suitcase"),
        "suitcase": ("backpack", "handbag"), "umbrella": ("kite",),
        "book": ("clock", "vase"), "clock": ("book",), "vase": ("bottle", "potted plant"),
        "teddy bear": ("book",),
    }
)  # fmt: skip
# Person nouns -> person nouns whose tags clash with theirs (refaug.lexicon.CLASHING_TAGS):
# another person, never the same one named otherwise (tests/test_rewrite_type.py checks).
PERSON_SWAPS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "man": ("woman",), "woman": ("man",), "guy": ("woman", "girl"), "lady": ("man",),
        "gentleman": ("lady",), "dude": ("woman",), "gal": ("guy",), "chick": ("guy",),
        "girl": ("boy",), "boy": ("girl",), "father": ("mother",), "mother": ("father",),
        "dad": ("mom",), "mom": ("dad",), "husband": ("wife",), "wife": ("husband",),
        "bride": ("groom",), "groom": ("bride",), "son": ("daughter",), "daughter": ("son",),
        "brother": ("sister",), "sister": ("brother",), "kid": ("man", "woman"),
        "child": ("adult",), "toddler": ("adult",), "teenager": ("adult",),
        "batter": ("catcher", "umpire"), "hitter": ("catcher",), "catcher": ("batter", "umpire"),
        "umpire": ("catcher", "batter"), "ump": ("catcher",), "pitcher": ("batter",),
    }
)  # fmt: skip
# Gendered pronouns and their forms of the other sex ("her" is "his" or "him" by its tag).
PRONOUN_FLIPS: MappingProxyType[str, str] = MappingProxyType(
    {"he": "she", "she": "he", "him": "her", "his": "her", "hers": "his",
     "himself": "herself", "herself": "himself"}
)  # fmt: skip
PRONOUNS: frozenset[str] = frozenset({*PRONOUN_FLIPS, "her"})
_NOUN_POS = frozenset({"NOUN", "PROPN"})


class TypeRewriter(Rewriter):
    """Replaces the referent's head noun by a confusable category of the same supercategory.

    Args:
        vocabulary: category names the data set uses (a data set's ``category`` column,
            repeats allowed): the confusable siblings it names come first, and where no
            confusable sibling is left (all named in the text, or none listed), the other
            categories of the head's supercategory that it names, the most frequent first. The rewrite stage passes none (it rewrites texts, not rows);
            None or empty: the :data:`CONFUSABLE` siblings only, in their order.
        values_per_word: substitutes per head noun: the most confusable first, then others
            drawn with the text's generator.
        people: also swap person nouns for clashing ones ("man" -> "woman").
        **options: :class:`~refaug.rewrite.base.Rewriter` options (``max_per_text``,
            ``seed``, ``spacy_model``, ``disable``, ``batch_size``, ``n_process``).

    Example:
        >>> rw = TypeRewriter(vocabulary=["car", "car", "bus"], values_per_word=1)
        >>> [c.detail for c in rw(["red sedan"])[0]]  # doctest: +SKIP
        ['type: sedan -> bus']
    """

    kind = "type"

    def __init__(
        self,
        *,
        vocabulary: Iterable[str] | None = None,
        values_per_word: int = 2,
        people: bool = True,
        **options,
    ) -> None:
        super().__init__(**options)
        if values_per_word < 1:
            raise ValueError(f"values_per_word={values_per_word!r} must be >= 1")
        if isinstance(vocabulary, str):
            raise TypeError("vocabulary must be a list of category names, not one string")
        counts = Counter(_category(name) for name in vocabulary or ())
        # Stored ordered (most frequent first), so that the fingerprint is deterministic.
        self.vocabulary = tuple(sorted(counts, key=lambda name: (-counts[name], name)))
        self.values_per_word = int(values_per_word)
        self.people = bool(people)

    def propose(self, doc: Doc, rng: random.Random) -> Iterator[Proposal]:
        found = _head_span(doc)
        if found is None:
            return
        start, head, name = found
        old = doc[start : head.i + 1].text.lower()
        category = head_class(name)
        others = [t for t in doc if not start <= t.i <= head.i]
        if category == "person":
            options = _person_options(head, others) if self.people else []
        else:
            options = self._sibling_words(others, name, category, plural=is_plural(head))
        for new in self._pick(options, rng):
            word = _inflect(new, plural=is_plural(head))
            edits = [Edit(start, head.i + 1, same_case(word, doc[start].text))]
            article = article_edit(doc, start, word)
            edits += [article] if article else []
            if category == "person":
                edits += _pronoun_edits(head, new, others)
            yield Proposal(apply_edits(doc, edits), f"type: {old} -> {word}", head.i)

    # ------------------------------------------------------------------ helpers
    def _sibling_words(
        self, others: Sequence[Token], name: str, category: str | None, *, plural: bool
    ) -> list[str]:
        """Words of sibling categories: not the head's classes, nor one ``others`` name."""
        if category is None or category not in SUPERCATEGORY:
            return []
        own = head_classes(name) | {category}
        named = set().union(*(head_classes(_lemma(t)) for t in others if t.pos_ in _NOUN_POS))
        for tier in self._siblings(category):
            words = []
            for sibling in tier:
                word = SURFACE.get(sibling, sibling)
                if sibling in PLURAL_ONLY and not plural:
                    continue
                if sibling in named or (head_classes(word) | {sibling}) & own:
                    continue  # a synonym ("cup" and "mug"), or already in the text
                words.append(word)
            if words:
                return words
        return []

    def _siblings(self, category: str) -> tuple[list[str], list[str]]:
        """Sibling categories in two tiers: the most confusable ones (:data:`CONFUSABLE`,
        those the vocabulary names first); the supercategory's others that the vocabulary
        names, the most frequent first (used where no confusable one is left)."""
        supercategory = SUPERCATEGORY[category]
        rank = {name: i for i, name in enumerate(self.vocabulary)}
        confusable = [n for n in CONFUSABLE.get(category, ()) if n != category]
        if rank:
            confusable.sort(key=lambda n: n not in rank)  # stable: ties keep confusability
        named = sorted((n for n, s in SUPERCATEGORY.items() if s == supercategory and n in rank
                        and n not in confusable and n not in (category, "person")),
                       key=rank.__getitem__)  # fmt: skip
        return confusable, named

    def _pick(self, options: Sequence[str], rng: random.Random) -> list[str]:
        if len(options) <= self.values_per_word:
            return list(options)
        return [options[0], *rng.sample(list(options[1:]), self.values_per_word - 1)]


def _category(name: str) -> str:
    """A data set's category name as a COCO category ("Dining Table" -> "dining table")."""
    low = name.strip().lower()
    return low if low in SUPERCATEGORY else (lexicon_class(low) or low)


def _head_span(doc: Doc) -> tuple[int, Token, str] | None:
    """The referent's head: (first token of its name, head token, name), or None.

    The name is :func:`refaug.contrast.head_noun`'s ("teddy bear", "hot dog"); a compound
    before the head that names its class is part of it ("pizza slice" is a pizza, and
    becomes "cake"), and one that names another category makes the head unclear ("clock
    slice", "chicken ball", "dog bed": None).
    """
    name = head_noun(doc)
    if name is None:
        return None
    last = name.split()[-1]
    words = len(name.split())
    for token in doc:
        if token.pos_ not in _NOUN_POS or _lemma(token) != last or token.i + 1 < words:
            continue
        start = token.i - words + 1
        category = head_class(name)
        while start > 0 and doc[start - 1].dep_ == "compound" and doc[start - 1].head.i == token.i:
            modifier = head_class(_lemma(doc[start - 1]))
            if modifier is None or modifier == "person":
                break  # "police car" -> "police truck", "baby elephant" -> "baby giraffe"
            if modifier != category:
                return None  # "clock slice", "chicken ball", "dog bed": which thing is it?
            start -= 1
        return start, token, name
    return None


def _lemma(token: Token) -> str:
    return lx.SINGULAR_OVERRIDES.get(token.lower_, (token.lemma_ or token.text).lower())


def _person_options(head: Token, others: Sequence[Token]) -> list[str]:
    """Clashing person nouns for ``head``: none the text names already ("woman next to a
    man" never becomes "man next to a man"); of another sex only where the text's gendered
    pronouns can follow (no other person noun they might refer to)."""
    lemmas = {_lemma(t) for t in others if t.pos_ in _NOUN_POS}
    ambiguous = any(t.lower_ in PRONOUNS for t in others) and any(
        lemma in lx.PERSON_TAGS or lemma in lx.PERSON_NOUNS for lemma in lemmas
    )
    return [w for w in PERSON_SWAPS.get(_lemma(head), ())
            if w not in lemmas and not (ambiguous and _flips_sex(_lemma(head), w))]  # fmt: skip


def _flips_sex(old: str, new: str) -> bool:
    tags = lx.PERSON_TAGS.get(old, frozenset()) | lx.PERSON_TAGS.get(new, frozenset())
    return {"male", "female"} <= tags


def _pronoun_edits(head: Token, new: str, others: Sequence[Token]) -> list[Edit]:
    """The gendered pronouns re-gendered when ``new`` is of the other sex ("the girl brushing
    her teeth" -> "the boy brushing his teeth")."""
    if not _flips_sex(_lemma(head), new):
        return []
    edits = []
    for token in others:
        low = token.lower_
        if low == "her":
            form = "his" if token.tag_ == "PRP$" else "him"
        else:
            form = PRONOUN_FLIPS.get(low)
        if form is not None:
            edits.append(Edit(token.i, token.i + 1, same_case(form, token.text)))
    return edits


def _inflect(word: str, *, plural: bool) -> str:
    """``word`` (its last word) in the plural when ``plural`` ("hot dog" -> "hot dogs")."""
    if not plural or word in PLURAL_ONLY:
        return word
    *first, last = word.split()
    form = lx.PLURAL_OVERRIDES.get(last)
    if form is None:
        forms = getInflection(last, tag="NNS")
        form = forms[0] if forms else last + "s"
    return " ".join([*first, form])
