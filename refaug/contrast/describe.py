"""Contrastive attributes: what an expression says about its referent, word by word.

Expressions of two objects in one image usually differ in one contrastive word ("left
lady" / "right lady", "guy in red" / "man in blue shirt", "2nd from left" / "third from
left"), which a sentence embedding barely registers. This module reads those words off a
spaCy parse and compares them:

- :func:`describe_texts` parses each distinct text once (``nlp.pipe``) and returns, per
  text, a :class:`Description` of its referent: the head noun (with its class and tags,
  through the synonym tables of :mod:`refaug.lexicon`) and its attributes
  (position, end of a row, ordinal, colour, pattern, size and age, count, material,
  clothing and accessories, actions and postures), each with its polarity ("without a
  hat" is a negative "hat"). Words that describe another object ("the star below *the
  blue circle*") are left out of the referent's attributes and kept as a
  :class:`Landmark`; an expression with no head noun ("2nd from right") describes the
  referent all the same.
- :func:`compare` sets a cluster's description (the union over its texts) against a
  candidate's and returns :class:`Finding` s: conflicts (same kind, incompatible values,
  same head; or one text's landmark is the other's referent) and agreements (same kind,
  same value).

Every vocabulary comes from :mod:`refaug.lexicon`, shared with the rewriters.

Example:
    >>> left, right = describe_texts(["left lady", "lady on right"])  # doctest: +SKIP
    >>> [str(f) for f in compare(left, right)]  # doctest: +SKIP
    ['head: lady = lady (head: lady)', 'spatial: left vs right (head: lady)']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from spacy.tokens import Doc, Token

from refaug import lexicon as lx
from refaug.data.coco import COCO_CATEGORIES

# The kinds a finding can have, in the order of the classifier's features.
CONTRAST_KINDS: tuple[str, ...] = (
    "head", "spatial", "extreme", "ordinal", "color", "pattern", "size", "count", "material",
    "clothing", "action", "negation", "landmark",
)  # fmt: skip
# Kinds whose values exclude one another within one key ("left" vs "right" on the
# horizontal axis); in the others two different values may both hold ("with a hat" and
# "with glasses").
_EXCLUSIVE = frozenset({"spatial", "color", "pattern", "size", "count", "material", "posture"})
_NOUN_POS = frozenset({"NOUN", "PROPN"})
_SKIP_VERBS = frozenset(
    {"be", "have", "wear", "do", "get", "make", "see", "can", "show", "say", "use",
     "go", "come", "seem", "appear", "take", "let", "put", "belong", "dress", "clothe"}
)  # fmt: skip
_MATERIAL_FORM = {"wooden": "wood", "woolen": "wool", "metallic": "metal", "steel": "metal",
                  "iron": "metal", "aluminum": "metal"}
# Category names, and their last words ("bear" for "teddy bear") where no category owns it
# ("dog" is "dog", not "hot dog").
_COCO_NAMES = {name.split()[-1]: name for name, _ in COCO_CATEGORIES.values()}
_COCO_NAMES.update({name: name for name, _ in COCO_CATEGORIES.values()})
_MULTIWORD_NAMES = frozenset(name for name, _ in COCO_CATEGORIES.values() if " " in name)
_PARTS = frozenset({"hair", "beard", "fur", "sleeve", "sleeves", "coat"})
_NEGATORS = frozenset({"not", "no", "n't", "never", "without", "nobody", "none"})


class Attribute(NamedTuple):
    """One thing an expression says about its referent.

    Attributes:
        kind: one of :data:`CONTRAST_KINDS` (``"posture"`` counts as ``"action"``).
        key: where the value lives: an axis ("horizontal"), a side for ordinals ("left"),
            a part for colours ("shirt", "" for the referent itself), an item.
        value: the canonical value ("left", "2", "red" as a colour family, "hat").
        positive: False when negated ("without a hat", "not holding").
        word: the words as written, for explanations.
    """

    kind: str
    key: str
    value: str
    positive: bool
    word: str


class Landmark(NamedTuple):
    """Another object an expression places its referent by ("the star *below the blue circle*").

    Attributes:
        axis: the relation's axis ("vertical", "horizontal", "depth", "near"; "" unknown).
        relation: its value on the axis ("below", "left", "near").
        head: the landmark's head noun.
        classes: its classes; tags: its person tags.
        attributes: what the expression says about the landmark (colour, size, ...).
        word: the words as written ("below the blue circle"), for explanations.
    """

    axis: str
    relation: str
    head: str
    classes: frozenset[str]
    tags: frozenset[str]
    attributes: frozenset[Attribute]
    word: str

    def description(self) -> Description:
        """The landmark as a :class:`Description` of its own."""
        return Description(heads=frozenset({self.head}), classes=self.classes, tags=self.tags,
                           attributes=self.attributes)


@dataclass(frozen=True)
class Description:
    """What one expression (or a cluster of them) says about its referent.

    Attributes:
        heads: the head nouns' lemmas (empty when the text names none: "2nd from left").
        classes: their classes (a COCO category, or "person").
        tags: person tags of the heads ("male", "female", "young", "adult").
        attributes: the referent's :class:`Attribute` s.
        landmarks: the other objects it is placed by (:class:`Landmark` s).
    """

    heads: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    attributes: frozenset[Attribute] = field(default_factory=frozenset)
    landmarks: frozenset[Landmark] = field(default_factory=frozenset)

    @classmethod
    def union(cls, descriptions: Iterable[Description], *, category: str | None = None) -> Description:
        """The description of a cluster: everything its texts say, plus a known category (the
        dataset's annotation of the referent, which also covers a head noun read wrongly)."""
        descriptions = list(descriptions)
        classes = frozenset().union(*(d.classes for d in descriptions))
        if category:
            classes |= {_category_class(category)}
        return cls(
            heads=frozenset().union(*(d.heads for d in descriptions)),
            classes=classes,
            tags=frozenset().union(*(d.tags for d in descriptions)),
            attributes=frozenset().union(*(d.attributes for d in descriptions)),
            landmarks=frozenset().union(*(d.landmarks for d in descriptions)),
        )

    @property
    def head(self) -> str:
        """A head noun to name in explanations ("referent" when there is none)."""
        return min(self.heads) if self.heads else "referent"


class Finding(NamedTuple):
    """A conflict or an agreement between a cluster and a candidate.

    Example:
        >>> str(Finding("spatial", True, "left", "right", "lady"))
        'spatial: left vs right (head: lady)'
    """

    kind: str
    conflict: bool
    cluster: str
    candidate: str
    head: str

    def __str__(self) -> str:
        relation = "vs" if self.conflict else "="
        return f"{self.kind}: {self.cluster} {relation} {self.candidate} (head: {self.head})"


# ------------------------------------------------------------------ heads


def _category_class(category: str) -> str:
    low = category.lower()
    return _COCO_NAMES.get(low, low)


def head_class(lemma: str) -> str | None:
    """The class of a head noun: "person", a COCO category, or None when unknown.

    Example:
        >>> head_class("guy"), head_class("doughnut"), head_class("thingamajig")
        ('person', 'donut', None)
    """
    low = lx.SINGULAR_OVERRIDES.get(lemma.lower(), lemma.lower())
    if low in lx.PERSON_TAGS or low in lx.PERSON_NOUNS:
        return "person"
    return lx.HEAD_CATEGORIES.get(low) or _COCO_NAMES.get(low)


def _head_name(token: Token) -> str:
    """A head noun's lemma, with the word before it where the two name a category ("hot dog",
    "teddy bear", "wine glass")."""
    lemma = _lemma(token)
    if token.i > 0 and (name := f"{token.doc[token.i - 1].lower_} {lemma}") in _MULTIWORD_NAMES:
        return name
    return lemma


def _lemma(token: Token) -> str:
    low = token.lower_
    lemma = token.lemma_.lower() if token.lemma_ else low
    return lx.SINGULAR_OVERRIDES.get(low, lemma)


def _is_attribute_word(low: str) -> bool:
    return (
        low in lx.POSITION_AXES or low in lx.COLOR_FAMILIES or low in lx.SIZE_AXES
        or low in lx.MATERIAL_CONTRASTS or lx.ordinal_value(low) is not None
        or lx.number_value(low) is not None or low in lx.SPATIAL_ANTONYMS or low in lx.PATTERNS
    )


def _is_item(token: Token) -> bool:
    """Clothing, accessories and body parts: they describe their wearer, not an object."""
    lemma = _lemma(token)
    low = token.lower_
    return low in lx.CLOTHING or low in lx.ACCESSORIES or lemma in lx.CLOTHING or (
        lemma in lx.ACCESSORIES or lemma in _PARTS)


def _is_head(token: Token) -> bool:
    """Whether a token names an object (a head noun), tolerant of a fragment's bad tags."""
    low, lemma = token.lower_, _lemma(token)
    if low in lx.GENERIC_HEADS or lemma in lx.GENERIC_HEADS or not token.is_alpha or (
        low in lx.POSTURES or len(low) < 2  # "t shirt"
    ):
        return False
    if low in lx.PERSON_TAGS or lemma in lx.PERSON_TAGS:
        # "lady standing" parses as a compound of a noun "standing": the lady is the head.
        names_object = token.head.pos_ in _NOUN_POS and token.head.lower_ not in lx.POSTURES
        return token.dep_ not in ("amod", "compound") or not names_object
    if low in lx.AMBIGUOUS_COLORS and token.dep_ in ("amod", "compound"):
        return False
    if head_class(lemma) is not None and not (_is_attribute_word(low) and low not in _COCO_NAMES):
        if token.pos_ in _NOUN_POS or (token.dep_ == "ROOT" and token.pos_ != "VERB"):
            return True
        # A class noun a fragment's parse takes for a modifier ("the square right of ..."),
        # unless it modifies a noun that names the object ("square table").
        modifies_noun = token.dep_ in ("amod", "compound") and token.head.pos_ in _NOUN_POS and (
            not _is_attribute_word(token.head.lower_))
        return head_class(low) is not None and token.pos_ in ("PRON", "ADJ", "VERB", "X") and (
            not modifies_noun)
    return token.pos_ in _NOUN_POS and not _is_attribute_word(low) and not _is_item(token) and (
        low not in lx.COUNT_WORDS)


def _possessed(token: Token, heads: set[int]) -> bool:
    """Whether a noun is something a head noun has, holds or wears ("man *with a hat*"): the
    possession word comes first (in "kid holding string" a bad parse hangs "kid" below it)."""
    for ancestor in token.ancestors:
        if ancestor.i < token.i and (
            ancestor.lower_ in lx.POSSESSION_WORDS or _lemma(ancestor) in lx.POSSESSION_WORDS
        ):
            return True
        if ancestor.i in heads:
            return False
    return False


def _items(doc: Doc, candidates: set[int]) -> dict[int, str]:
    """Clothing, accessories and possessions of a head noun, by token index -> canonical name.

    A clothing word or a possessed noun that no head noun governs is the referent itself
    ("red umbrella", "white shirt" of a person): it stays a head unless it is clothing.
    """
    items = {}
    first = min(candidates, default=len(doc))
    for token in doc:
        if (token.pos_ not in _NOUN_POS and token.i not in candidates) or token.lower_ in lx.PATTERNS:
            continue
        # Fragments often parse badly ("lady holding cup" roots at "cup"): a later noun after
        # a possession word is the first head's, whatever the tree says.
        after_possession = token.i > first and any(
            t.lower_ in lx.POSSESSION_WORDS or _lemma(t) in lx.POSSESSION_WORDS for t in doc[first + 1 : token.i])
        governed = (_ancestors_until_head(token, candidates) is not None
                    or _is_verb_object(token, candidates) or after_possession)
        # "bike no basket", "horse on right, no rider": a noun after the referent's that "no"
        # determines is something the referent lacks.
        lacked = token.i > first and any(c.lower_ == "no" and c.dep_ == "det" for c in token.children)
        if (_is_item(token) and (governed or token.i not in candidates)) or (
            governed and _possessed(token, candidates)
        ) or lacked:
            lemma = _lemma(token) if token.lower_ not in lx.CLOTHING else token.lower_
            items[token.i] = lx.CLOTHING_SYNONYMS.get(token.lower_) or lx.CLOTHING_SYNONYMS.get(lemma, lemma)
    return items


def _ancestors_until_head(token: Token, heads: set[int]) -> int | None:
    """The index of the nearest head noun above ``token`` in the parse (None: none)."""
    for ancestor in token.ancestors:
        if ancestor.i in heads:
            return ancestor.i
    return None


def _owner(token: Token, heads: set[int]) -> int | None:
    """The head noun a word describes: a verb's subject, else the nearest head above it."""
    if token.pos_ in ("VERB", "AUX"):
        for child in token.children:
            if child.dep_ in ("nsubj", "nsubjpass") and child.i in heads:
                return child.i
    return _ancestors_until_head(token, heads)


def _primary(doc: Doc, heads: set[int]) -> int | None:
    """The referent's head: the first head noun (annotators name the referent first; the
    parse of a fragment is too unreliable to overrule that), unless a preposition opens the
    text ("next to the car, the man in red")."""
    ordered = sorted(heads)
    if not ordered:
        return None
    primary = ordered[1] if len(ordered) > 1 and doc[0].pos_ == "ADP" and (
        doc[0].lower_ not in lx.POSSESSION_WORDS) else ordered[0]
    token = doc[primary]
    while token.dep_ == "compound" and token.head.i != token.i:
        token = token.head  # "teddy bear": the head is "bear"; "baseball cap guy": "guy"
        if token.i in heads:
            primary = token.i
    return primary


def _is_verb_object(token: Token, heads: set[int]) -> bool:
    if token.dep_ not in ("dobj", "pobj", "attr") or token.head.pos_ not in ("VERB", "AUX"):
        return False
    return any(c.dep_ in ("nsubj", "nsubjpass") and c.i in heads for c in token.head.children)


# ------------------------------------------------------------- attributes


def _negated(token: Token) -> bool:
    """Whether a word is negated: "without X", "no X", "not holding X", "not the X"."""
    if any(c.lower_ in ("no", "not", "n't", "never") and c.dep_ in ("det", "neg", "advmod")
           for c in token.children):
        return True
    for ancestor in token.ancestors:
        if ancestor.lower_ == "without":
            return True
        if ancestor.pos_ in ("VERB", "AUX") and any(c.dep_ == "neg" for c in ancestor.children):
            return True
        if ancestor.pos_ in _NOUN_POS and ancestor.dep_ == "ROOT":
            break
    return False


def _leading_not(doc: Doc) -> bool:
    """A text that opens with "not" ("not the one with the hat") negates what follows."""
    words = [t.lower_ for t in doc if not t.is_punct][:2]
    return bool(words) and words[0] in ("not", "no") and (len(words) < 2 or words[1] != "one")


def _relational(token: Token) -> bool:
    """A position relative to another object ("left of the car", "behind the man")."""
    for child in token.children:
        if child.dep_ == "prep" and child.lower_ in lx.RELATIONAL_HEADS and any(
            g.dep_ == "pobj" for g in child.children
        ):
            return True
        if child.dep_ == "pobj" and token.pos_ == "ADP":
            return True
    if token.pos_ == "ADP" and any(c.dep_ in ("pobj", "pcomp") for c in token.children):
        return True
    nxt = token.nbor(1) if token.i + 1 < len(token.doc) else None
    if nxt is not None and nxt.lower_ in ("of", "to") and token.i + 2 < len(token.doc):
        return token.doc[token.i + 2].lower_ not in ("the", "picture", "image", "photo", "pic", "frame")
    return False


def _ordinals(doc: Doc) -> tuple[list[Attribute], set[int]]:
    """Ordinal positions ("second from left", "3rd from the right", "first guy")."""
    found, used = [], set()
    for token in doc:
        prev = doc[token.i - 1].lower_ if token.i else ""
        extreme = lx.POSITION_EXTREMES.get(token.lower_)
        if extreme is None and prev in ("far", "most", "very") and token.lower_ in ("left", "right"):
            extreme = token.lower_
        if extreme is not None:
            found.append(Attribute("ordinal", extreme, "1", True, token.text))
            continue
        n = lx.ordinal_value(token.lower_)
        if n is None:
            continue
        side, span = "", [token.i]
        window = doc[token.i + 1 : token.i + 6]
        for k, t in enumerate(window):
            if t.lower_ == "from" or t.lower_ == "to":
                rest = [w for w in window[k + 1 :] if w.lower_ not in ("the", "very")]
                if rest and rest[0].lower_ in lx.POSITION_AXES:
                    axis, value = lx.POSITION_AXES[rest[0].lower_]
                    side = value if value in lx.ORDINAL_SIDES else ""
                    span += [t.i, rest[0].i]
                break
        if not side and token.lower_ in ("first", "last"):
            continue  # "first" alone is too often not a position ("the first thing")
        used.update(span)
        word = " ".join(doc[i].text for i in sorted(span))
        found.append(Attribute("ordinal", side, str(n), True, word))
        if n == 1 and side:
            axis = lx.POSITION_AXES[side][0]
            found.append(Attribute("extreme", axis, side, True, word))
    return found, used


def _positions(doc: Doc, referent: set[int], used: set[int]) -> list[Attribute]:
    found = []
    for token in doc:
        low = token.lower_
        if token.i in used or token.i not in referent or low not in lx.POSITION_AXES:
            continue
        prev = doc[token.i - 1].lower_ if token.i else ""
        nxt = doc[token.i + 1].lower_ if token.i + 1 < len(doc) else ""
        if (prev, low) in lx.SPATIAL_BLOCKED_BIGRAMS or (low, nxt) in lx.SPATIAL_BLOCKED_BIGRAMS:
            continue
        if low in lx.POSITION_INTENSIFIERS | {"far"} and nxt in lx.POSITION_AXES:
            continue  # "far left": the left end, not the back
        if low == "top" and (prev in lx.COLOR_FAMILIES or token.dep_ in ("dobj", "pobj") and prev in ("a", "striped")):
            continue  # "white top" is clothing
        if _relational(token):
            continue
        axis, value = lx.POSITION_AXES[low]
        word = f"{prev} {token.text}" if prev in ("far", "very") else token.text
        extreme = low in lx.POSITION_EXTREMES or (prev in ("far", "most", "very") and low in ("left", "right"))
        found.append(Attribute("extreme" if extreme else "spatial", axis, value, not _negated(token), word))
    return found


def _colors(doc: Doc, referent: set[int], items: dict[int, str]) -> list[Attribute]:
    found = []
    for token in doc:
        family = lx.color_family(token.lower_)
        if family is None or token.i not in referent:
            continue
        if token.lower_ in lx.AMBIGUOUS_COLORS and token.dep_ not in ("amod", "compound", "pobj", "conj"):
            continue
        part = ""
        for ancestor in [token, *token.ancestors]:
            if ancestor.i in items:
                part = items[ancestor.i]
                break
            if ancestor.pos_ in _NOUN_POS and not _is_attribute_word(ancestor.lower_) and (
                ancestor.dep_ != "compound"  # "black t shirt": the shirt's
            ):
                break
        found.append(Attribute("color", part, family, not _negated(token), token.text))
    return found


def _patterns(doc: Doc, referent: set[int]) -> list[Attribute]:
    """Patterns ("striped shirt", "man in plaid"), one per referent: what it wears or shows."""
    return [Attribute("pattern", "", lx.PATTERNS[t.lower_], not _negated(t), t.text)
            for t in doc if t.lower_ in lx.PATTERNS and t.i in referent]


def _sizes_materials_counts(doc: Doc, referent: set[int], items: dict[int, str],
                            used: set[int], primary: int | None) -> list[Attribute]:
    found = []
    for token in doc:
        if token.i not in referent or token.i in used:
            continue
        low = token.lower_
        part = items.get(token.head.i, "") if token.head.i != token.i else ""
        if low in lx.SIZE_AXES and token.dep_ not in ("pobj",) and not (low in ("baby", "adult") and token.i == primary):
            axis, value = lx.SIZE_AXES[low]
            if low in ("short", "shorter", "shortest") and part and part not in ("hair", "person"):
                axis, value = "length", "short"
            key = f"{axis}:{part}" if part else axis
            found.append(Attribute("size", key, value, not _negated(token), token.text))
        elif low in lx.MATERIAL_CONTRASTS and (low not in lx.NOUN_MATERIALS or token.dep_ in ("amod", "compound")):
            found.append(Attribute("material", part, _MATERIAL_FORM.get(low, low), True, token.text))
        elif token.dep_ == "nummod" and (n := lx.number_value(low)) is not None and 0 < n < 20:
            if token.head.i == primary or (primary is None and token.head.pos_ in _NOUN_POS):
                found.append(Attribute("count", "", str(n), True, f"{token.text} {token.head.text}"))
            elif token.head.i in items:  # "plate with two slices": how many of a thing it has
                found.append(Attribute("count", f"item:{items[token.head.i]}", str(n), True,
                                       f"{token.text} {token.head.text}"))
        elif low in lx.COUNT_WORDS and not part:
            found.append(Attribute("count", "", lx.COUNT_WORDS[low], True, token.text))
    return found


def _items_and_actions(doc: Doc, referent: set[int], items: dict[int, str],
                       heads: set[int]) -> list[Attribute]:
    found = []
    for i, name in items.items():
        if i in referent and name not in _PARTS:
            key = lx.CLOTHING_SLOTS.get(name, f"item:{name}")
            found.append(Attribute("clothing", key, name, not _negated(doc[i]), doc[i].text))
    for token in doc:
        if token.i not in referent or token.i in heads or token.i in items:
            continue  # a noun a fragment's parse takes for a verb ("cake with candles")
        low, lemma = token.lower_, _lemma(token)
        posture = lx.POSTURES.get(low) or lx.POSTURES.get(lemma)
        is_verb = token.pos_ == "VERB" or token.tag_ in ("VBG", "VBN")
        if posture is None and (not is_verb or _not_an_action(token, lemma)):
            continue
        negated = any(c.dep_ == "neg" for c in token.children) or (
            token.i > 0 and doc[token.i - 1].lower_ in ("not", "n't"))
        if posture is not None:
            found.append(Attribute("posture", "posture", posture, not negated, token.text))
        else:
            found.append(Attribute("action", "verb", lx.ACTION_SYNONYMS.get(lemma, lemma), not negated,
                                   token.text))
    return found + _riding(doc, referent)


def _not_an_action(token: Token, lemma: str) -> bool:
    """Verbs that say nothing about what the referent does: auxiliaries and the like, "looks
    like", possession ("holding a cup" names an item, see :func:`_items`), and nouns a
    fragment's parse takes for verbs ("at bus *stop*")."""
    doc = token.doc
    looks_like = lemma == "look" and token.i + 1 < len(doc) and doc[token.i + 1].lower_ == "like"
    # Referring expressions describe with participles ("sitting", "parked") and present
    # tenses; a bare infinitive without a subject is a noun the parse took for a verb
    # ("cake with candles", "ketchup one").
    misparsed_noun = (token.dep_ in ("pobj", "dobj", "compound", "nsubj") and token.tag_ != "VBG") or (
        token.tag_ == "VB" and not any(c.dep_ in ("nsubj", "aux") for c in token.children))
    return (lemma in _SKIP_VERBS or lemma in lx.POSSESSION_WORDS or token.lower_ in lx.POSSESSION_WORDS
            or _is_attribute_word(token.lower_) or looks_like or misparsed_noun)


def _riding(doc: Doc, referent: set[int]) -> list[Attribute]:
    """Being on something one rides ("man on a horse", "woman on bike") is riding it."""
    found = []
    for token in doc:
        if token.lower_ not in ("on", "atop") or token.i not in referent:
            continue
        for obj in token.children:
            if obj.dep_ == "pobj" and head_class(_lemma(obj)) in lx.RIDDEN_CLASSES:
                found.append(Attribute("posture", "posture", "ride", True, f"{token.text} {obj.text}"))
    return found


def describe(doc: Doc) -> Description:
    """The :class:`Description` of the referent of one parsed expression."""
    candidates = {t.i for t in doc if _is_head(t)}
    items = _items(doc, candidates)
    heads = candidates - set(items)
    primary = _primary(doc, heads)
    # A word belongs to the referent unless it describes another head noun (a landmark); the
    # words of a compound ("white *teddy* bear") belong to the whole.
    whole = {primary} | {h for h in heads if primary is not None and _compound_of(doc[h], primary)}
    referent = {t.i for t in doc if (o := _owner(t, heads)) is None or o in whole}
    if primary is not None:
        referent.add(primary)
    attributes, used = _ordinals(doc)
    attributes += _positions(doc, referent, used)
    attributes += _colors(doc, referent, items) + _patterns(doc, referent)
    attributes += _sizes_materials_counts(doc, referent, items, used, primary)
    attributes += _items_and_actions(doc, referent, items, heads)
    if _leading_not(doc):
        attributes = [a._replace(positive=not a.positive) for a in attributes]
    head_tokens = [doc[primary]] if primary is not None else []
    lemmas = frozenset(_head_name(t) for t in head_tokens)
    classes = frozenset(c for t in head_tokens if (c := head_class(_head_name(t))) is not None)
    tags = frozenset().union(*(lx.PERSON_TAGS.get(_lemma(t), frozenset()) for t in head_tokens))
    landmarks = frozenset(_landmark(doc, h, heads, items, used) for h in heads
                          if h != primary and doc[h].dep_ != "compound")  # "*teddy* bear"
    return Description(heads=lemmas, classes=classes, tags=tags, attributes=frozenset(attributes),
                       landmarks=landmarks)


def _compound_of(token: Token, head: int) -> bool:
    """Whether ``token`` is part of a compound noun whose head is ``head`` ("teddy" in "teddy bear")."""
    while token.dep_ == "compound" and token.head.i != token.i:
        token = token.head
        if token.i == head:
            return True
    return False


def _landmark(doc: Doc, head: int, heads: set[int], items: dict[int, str], used: set[int]) -> Landmark:
    """The landmark named by the head noun ``head``: its relation, class and attributes."""
    own = {t.i for t in doc if _owner(t, heads) == head} | {head}
    attributes = _colors(doc, own, items) + _patterns(doc, own)
    attributes += _sizes_materials_counts(doc, own, items, used, head)
    token = doc[head]
    axis, relation, start = "", "", head
    if token.dep_ == "pobj":
        prep = token.head  # "below the circle"; "left of the circle": the word before "of"
        anchor = prep.head if prep.lower_ in ("of", "to") and prep.head.i < prep.i else prep
        if anchor.lower_ in lx.RELATIONS:
            (axis, relation), start = lx.RELATIONS[anchor.lower_], anchor.i
    name = _head_name(token)
    return Landmark(axis=axis, relation=relation, head=name, classes=frozenset(
        c for c in (head_class(name),) if c is not None), tags=lx.PERSON_TAGS.get(_lemma(token), frozenset()),
        attributes=frozenset(attributes), word=doc[start : head + 1].text)


def describe_texts(texts: Sequence[str], *, nlp=None, batch_size: int = 512) -> list[Description]:
    """Describe each text; each distinct text is parsed once (``nlp.pipe``).

    Args:
        texts: expressions.
        nlp: a spaCy pipeline; None loads the default one (:func:`refaug.nlp.load_nlp`).
        batch_size: texts per ``nlp.pipe`` batch.

    Example:
        >>> d = describe_texts(["man without a hat"])[0]  # doctest: +SKIP
        >>> sorted(d.heads), [(a.kind, a.value, a.positive) for a in d.attributes]  # doctest: +SKIP
        (['man'], [('clothing', 'hat', False)])
    """
    if nlp is None:
        from refaug.nlp import load_nlp

        nlp = load_nlp(disable=("ner",))
    distinct = list(dict.fromkeys(texts))
    described = {t: describe(doc) for t, doc in zip(distinct, nlp.pipe(distinct, batch_size=batch_size),
                                                     strict=True)}
    return [described[t] for t in texts]


# ---------------------------------------------------------------- compare


def _kind(attribute: Attribute) -> str:
    return "action" if attribute.kind == "posture" else attribute.kind


def _by_key(attributes: Iterable[Attribute], *, positive: bool) -> dict[tuple[str, str], list[Attribute]]:
    table: dict[tuple[str, str], list[Attribute]] = {}
    for a in attributes:
        if a.positive == positive:
            table.setdefault((a.kind, a.key), []).append(a)
    return table


def _head_findings(cluster: Description, candidate: Description) -> list[Finding]:
    if not cluster.classes or not candidate.classes:
        return []
    a, b = "/".join(sorted(cluster.heads or cluster.classes)), "/".join(sorted(candidate.heads or candidate.classes))
    head = min(cluster.heads or cluster.classes)
    if not cluster.classes & candidate.classes:
        if _short_for(cluster, candidate) or _short_for(candidate, cluster):
            return []  # "mustard dog" may well be a "hot dog"
        return [Finding("head", True, a, b, head)]
    clash = any(frozenset({x, y}) in lx.CLASHING_TAGS for x in cluster.tags for y in candidate.tags)
    if clash and not (cluster.tags & candidate.tags & {"male", "female"} and len(cluster.tags) > 2):
        return [Finding("head", True, a, b, head)]
    return [Finding("head", False, a, b, head)]


def _short_for(short: Description, full: Description) -> bool:
    """Whether a head names a multi-word class by its last word ("dog" for "hot dog")."""
    return any(" " in c and c.rsplit(" ", 1)[1] in short.heads | short.classes for c in full.classes)


def _color_findings(cluster: dict, candidate: dict, head: str) -> list[Finding]:
    """Colours per part; a colour without a part ("in red") meets every part's colour."""
    ours = {k[1]: {a.value for a in v} for k, v in cluster.items() if k[0] == "color"}
    theirs = {k[1]: {a.value for a in v} for k, v in candidate.items() if k[0] == "color"}
    if not ours or not theirs:
        return []
    word = {a.value: a.word for v in (*cluster.values(), *candidate.values()) for a in v if a.kind == "color"}
    every_ours, every_theirs = set().union(*ours.values()), set().union(*theirs.values())
    shared = {p for p in ours if p in theirs}
    compared = False
    for part in shared:
        compared = True
        if ours[part] & theirs[part]:
            value = sorted(ours[part] & theirs[part])[0]
            return [Finding("color", False, word[value], word[value], head)]
    general = ("" in ours) or ("" in theirs)
    if general:
        compared = True
        if every_ours & every_theirs:
            value = sorted(every_ours & every_theirs)[0]
            return [Finding("color", False, word[value], word[value], head)]
    if not compared:
        return []
    a, b = sorted(every_ours)[0], sorted(every_theirs)[0]
    return [Finding("color", True, word[a], word[b], head)]


def compare(cluster: Description, candidate: Description) -> list[Finding]:
    """The conflicts and agreements between a cluster's description and a candidate's.

    A conflict: the same kind and key with incompatible values ("left" vs "right" on the
    horizontal axis; "red" vs "blue" on the shirt), a polarity flip of one value ("with
    a hat" vs "without a hat", kind ``negation``), heads of different classes or clashing
    tags ("man" vs "woman", kind ``head``), or a landmark (kind ``landmark``): one text
    places its referent by the other's ("the circle below the purple circle" vs "the purple
    circle"), or both by the same one on opposite sides ("left of the car" vs "right of the
    car"). An agreement: the same kind, key and value.
    """
    return _attribute_findings(cluster, candidate) + _landmark_findings(cluster, candidate)


def _attribute_findings(cluster: Description, candidate: Description) -> list[Finding]:
    head = cluster.head
    findings = _head_findings(cluster, candidate)
    ours, theirs = _by_key(cluster.attributes, positive=True), _by_key(candidate.attributes, positive=True)
    findings += _color_findings(ours, theirs, head)
    findings += _ordinal_findings(cluster.attributes, candidate.attributes, head)
    findings += _extreme_findings(cluster.attributes, candidate.attributes, head)
    for key, values in theirs.items():
        if key[0] in ("color", "ordinal", "extreme") or key not in ours:
            continue
        mine = {a.value: a for a in ours[key]}
        same = [a for a in values if a.value in mine]
        if same:
            findings.append(Finding(_kind(same[0]), False, mine[same[0].value].word, same[0].word, head))
        elif _exclusive(key):
            findings.append(Finding(_kind(values[0]), True, ours[key][0].word, values[0].word, head))
    findings += _polarity_findings(cluster, candidate, head)
    return findings


def _landmark_findings(cluster: Description, candidate: Description) -> list[Finding]:
    """A text whose landmark is the other text's referent, or the same landmark on two sides."""
    head = cluster.head
    for mark in candidate.landmarks:
        if (agreed := _is_described(cluster, mark.description())) is not None:
            return [Finding("landmark", True, agreed, mark.word, head)]
    for mark in cluster.landmarks:
        if (agreed := _is_described(candidate, mark.description())) is not None:
            return [Finding("landmark", True, mark.word, agreed, head)]
    found = []
    for ours in cluster.landmarks:
        for theirs in candidate.landmarks:
            if ours.axis and ours.axis == theirs.axis and _same_object(ours.description(), theirs.description()):
                found.append(Finding("landmark", ours.relation != theirs.relation, ours.word, theirs.word, head))
    return sorted(found, key=lambda f: not f.conflict)[:1]


def _is_described(referent: Description, landmark: Description) -> str | None:
    """Whether ``landmark`` is ``referent`` itself: the same class, nothing in conflict, and
    something more in common than the class (a colour, a size, a role). Returns the agreeing
    words ("purple circle"), or None."""
    findings = _attribute_findings(referent, landmark)
    if any(f.conflict for f in findings) or not referent.classes & landmark.classes:
        return None
    agreed = [f.cluster for f in findings if f.kind not in ("head", "negation")]
    role = any(t.startswith("role:") for t in referent.tags & landmark.tags)
    return " ".join([*agreed, referent.head]) if agreed or role else None


def _same_object(a: Description, b: Description) -> bool:
    """Whether two landmarks may be one object: a shared class and nothing in conflict."""
    return bool(a.classes & b.classes) and not any(f.conflict for f in _attribute_findings(a, b))


def _exclusive(key: tuple[str, str]) -> bool:
    """Whether two different values of this (kind, key) cannot both hold."""
    kind, where = key
    if kind == "clothing":
        return not where.startswith("item:")
    return kind in _EXCLUSIVE or (kind == "action" and where == "verb")


def _ordinal_findings(ours: Iterable[Attribute], theirs: Iterable[Attribute], head: str) -> list[Finding]:
    """Ordinals: the same number from the same side (or an unnamed one) agrees, others conflict."""
    ours = [a for a in ours if a.kind == "ordinal" and a.positive]
    theirs = [a for a in theirs if a.kind == "ordinal" and a.positive]
    if not ours or not theirs:
        return []
    for a in ours:
        for b in theirs:
            if a.value == b.value and (a.key == b.key or not a.key or not b.key):
                return [Finding("ordinal", False, a.word, b.word, head)]
    return [Finding("ordinal", True, ours[0].word, theirs[0].word, head)]


def _extreme_findings(ours: Iterable[Attribute], theirs: Iterable[Attribute], head: str) -> list[Finding]:
    """An end of a row ("leftmost", "far left") against a side ("on the left", "middle") on one
    axis: the same side agrees, another conflicts. A kind of its own, as the two can disagree
    on one object: the leftmost of two zebras that both stand on the right. Two ends meet as
    ordinals ("1st from left" vs "1st from right")."""
    pairs = [(a, b) for a in ours for b in theirs
             if a.positive and b.positive and a.key == b.key and {a.kind, b.kind} == {"extreme", "spatial"}]
    if not pairs:
        return []
    same = [(a, b) for a, b in pairs if a.value == b.value]
    a, b = (same or pairs)[0]
    return [Finding("extreme", not same, a.word, b.word, head)]


def _polarity_findings(cluster: Description, candidate: Description, head: str) -> list[Finding]:
    """The same value with and without a negation ("with a hat" vs "without a hat")."""
    found = []
    ours = {(a.kind, a.key, a.value): a for a in cluster.attributes}
    for a in candidate.attributes:
        other = ours.get((a.kind, a.key, a.value))
        if other is not None and other.positive != a.positive and not any(
            b.positive == a.positive and (b.kind, b.key, b.value) == (a.kind, a.key, a.value)
            for b in cluster.attributes
        ):
            found.append(Finding("negation", True, _polar(other), _polar(a), head))
    return found


def _polar(a: Attribute) -> str:
    return a.word if a.positive else f"not {a.word}"


# ------------------------------------------------------------------ model

# The classifier's features: the cosine to the centroid, how many kinds conflict and agree,
# and one indicator per kind for each. With L2 regularisation, a kind the training pairs
# never show keeps a weight near 0 and is judged by the shared counts.
FEATURES: tuple[str, ...] = (
    "cosine", "conflicts", "agreements",
    *(f"conflict:{k}" for k in CONTRAST_KINDS), *(f"agree:{k}" for k in CONTRAST_KINDS),
)
_INDEX = {name: i for i, name in enumerate(FEATURES)}


def pair_features(findings: Sequence[Finding], cosine: float) -> np.ndarray:
    """The feature vector (:data:`FEATURES`) of one cluster-candidate pair."""
    x = np.zeros(len(FEATURES), np.float32)
    x[0] = cosine
    conflicts = {f.kind for f in findings if f.conflict}
    agreements = {f.kind for f in findings if not f.conflict}
    x[1], x[2] = len(conflicts), len(agreements)
    for kind in conflicts:
        x[_INDEX[f"conflict:{kind}"]] = 1.0
    for kind in agreements:
        x[_INDEX[f"agree:{kind}"]] = 1.0
    return x


@dataclass(frozen=True)
class ContrastModel:
    """A logistic model of "same referent" over :data:`FEATURES`.

    Attributes:
        intercept: the bias.
        weights: feature name -> weight (missing features weigh 0).
        fitted_on: where the weights come from (a command, a dataset), for the record.

    Example:
        >>> m = ContrastModel(intercept=-5.0, weights={"cosine": 8.0, "conflict:spatial": -4.0})
        >>> round(float(m.probability(np.array([[0.9] + [0.0] * (len(FEATURES) - 1)]))[0]), 3)
        0.881
    """

    intercept: float
    weights: dict[str, float]
    fitted_on: str = ""

    def vector(self) -> np.ndarray:
        return np.array([self.weights.get(name, 0.0) for name in FEATURES], np.float64)

    def logits(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features, np.float64) @ self.vector() + self.intercept

    def probability(self, features: np.ndarray) -> np.ndarray:
        """P(same referent) per row of ``features``."""
        return (1.0 / (1.0 + np.exp(-self.logits(features)))).astype(np.float32)

    def decisive_kinds(self, threshold: float) -> frozenset[str]:
        """The kinds whose conflict alone keeps a pair below ``threshold``, even at cosine 1.

        Where the fit found a kind's conflicts reliable, one decides "negative"; a kind the
        fit weighs lightly (a word the annotators use loosely) leaves it to the probability.
        """
        w = self.weights
        target = float(np.log(threshold / (1.0 - threshold))) if 0 < threshold < 1 else np.inf
        base = self.intercept + w.get("cosine", 0.0) + w.get("conflicts", 0.0)
        return frozenset(k for k in CONTRAST_KINDS if base + w.get(f"conflict:{k}", 0.0) < target)

    def cosine_floor(self, threshold: float) -> float:
        """The cosine below which no findings can lift a pair to ``threshold`` (a bound)."""
        w = self.vector()
        if w[0] <= 0:
            return -np.inf
        n = len(CONTRAST_KINDS)
        lift = sum(max(0.0, v) for v in w[3:]) + n * max(0.0, w[1]) + n * max(0.0, w[2])
        target = float(np.log(threshold / (1.0 - threshold))) if 0 < threshold < 1 else np.inf
        return float((target - self.intercept - lift) / w[0])

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, *, c: float = 1.0,
            fitted_on: str = "") -> ContrastModel:
        """Fit by L2-regularised logistic regression, classes balanced, cosine weight >= 0.

        Args:
            features: ``(n, len(FEATURES))``.
            labels: 1 for "same referent", 0 for "other object".
            c: inverse regularisation strength.
            fitted_on: recorded with the weights.
        """
        from scipy.optimize import minimize

        labels = np.asarray(labels, np.float64)
        if len(np.unique(labels)) < 2:
            raise ValueError("fitting the contrast model needs pairs of both labels (same referent "
                             "and other object); the data has only one")
        # Standardise the cosine and the counts, so the L2 penalty weighs them like the 0/1
        # indicators, which stay as they are: a rare kind's weight then shrinks towards 0 and
        # the shared counts judge it. The scaling is folded back into the weights.
        x = np.asarray(features, np.float64)
        mean, std = x.mean(axis=0), x.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        indicator = np.array([":" in name for name in FEATURES])
        mean[indicator], std[indicator] = 0.0, 1.0
        z = (x - mean) / std
        # Classes balanced (each class weighs half), as sklearn's class_weight="balanced".
        sample = np.where(labels == 1, 0.5 / labels.sum(), 0.5 / (1 - labels).sum()) * len(labels)
        signs = 2 * labels - 1

        def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
            margin = signs * (z @ params[1:] + params[0])
            value = np.logaddexp(0, -margin)
            grad_margin = -sample * signs / (1 + np.exp(margin))
            grad = np.concatenate([[grad_margin.sum()], z.T @ grad_margin])
            grad[1:] += params[1:] / c
            return float((sample * value).sum() + (params[1:] ** 2).sum() / (2 * c)), grad

        # The cosine's weight is bounded at 0: more similar never makes "same" less likely.
        bounds = [(None, None), (0.0, None)] + [(None, None)] * (x.shape[1] - 1)
        result = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=bounds)
        coef = result.x[1:] / std
        intercept = float(result.x[0] - (coef * mean).sum())
        weights = {name: round(float(w), 4) for name, w in zip(FEATURES, coef, strict=True)}
        return cls(intercept=round(intercept, 4), weights=weights, fitted_on=fitted_on)

    def to_dict(self) -> dict[str, Any]:
        return {"intercept": self.intercept, "weights": dict(self.weights), "fitted_on": self.fitted_on}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContrastModel:
        unknown = set(data.get("weights", {})) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown contrast features {sorted(unknown)}; valid: {', '.join(FEATURES)}")
        return cls(intercept=float(data["intercept"]), weights={k: float(v) for k, v in data["weights"].items()},
                   fitted_on=str(data.get("fitted_on", "")))
