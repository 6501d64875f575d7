"""What an expression says about its referent: :class:`Attribute`, :class:`Landmark` and
:class:`Description`, the values :func:`refaug.contrast.describe_texts` returns and
:func:`refaug.contrast.compare` compares."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from refaug.data.coco import COCO_CATEGORIES

# Category names, and their last words ("bear" for "teddy bear") where no category owns it
# ("dog" is "dog", not "hot dog").
_COCO_NAMES = {name.split()[-1]: name for name, _ in COCO_CATEGORIES.values()}
_COCO_NAMES.update({name: name for name, _ in COCO_CATEGORIES.values()})


def _category_class(category: str) -> str:
    """The class of a dataset's category name: "Hot Dog" -> "hot dog", "glass" -> "wine glass"."""
    low = category.lower()
    return _COCO_NAMES.get(low, low)


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
        corrections: the typos read as contrastive words (("teddt", "teddy"), ...),
            :func:`refaug.contrast.typos.correct`.
        wordings: each text's words as read (:func:`refaug.contrast.describe.wording`: lower
            case, nouns by lemma, no "the"), one per text, for the minimal-edit finding.
    """

    heads: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    attributes: frozenset[Attribute] = field(default_factory=frozenset)
    landmarks: frozenset[Landmark] = field(default_factory=frozenset)
    corrections: frozenset[tuple[str, str]] = frozenset()
    wordings: frozenset[tuple[str, ...]] = frozenset()

    def __hash__(self) -> int:
        # The dataclass's hash (of the fields), computed once: descriptions key the comparison's
        # memos, millions of lookups in a run. Kept out of pickles (a str hash is per process).
        found = self.__dict__.get("_hash")
        if found is None:
            found = hash((self.heads, self.classes, self.tags, self.attributes, self.landmarks, self.corrections,
                          self.wordings))
            object.__setattr__(self, "_hash", found)
        return found

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}

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
            corrections=frozenset().union(*(d.corrections for d in descriptions)),
            wordings=frozenset().union(*(d.wordings for d in descriptions)),
        )

    @property
    def head(self) -> str:
        """A head noun to name in explanations ("referent" when there is none)."""
        return min(self.heads) if self.heads else "referent"

