"""Colour/object co-occurrence: is "blue banana" a colour anyone gives that kind of object?

The counts are built from the run's own human expressions: for each head class (the COCO
class :func:`refaug.contrast.describe_texts` reads, or the head lemma), how often each colour
family (:data:`refaug.lexicon.COLOR_FAMILIES`) is stated of the object itself ("red car";
not "man in red shirt", whose colour is the shirt's). A packaged lexical source adds what the
lexicon already knows: the coats of COCO's mammals come in
:data:`refaug.lexicon.NATURAL_COLORS` (black, white, brown, gray), the colours the attribute
rewriter keeps for hair and fur.

A colour on a class is a clash when the class is known (the lexicon names its colours, or the
run states a colour of it at least :data:`MIN_SUPPORT` times), the run never states that
colour of it, and the lexicon does not allow it either; for a class known only from counts,
the colour must also be common enough elsewhere that its absence says something: at least
:data:`MIN_EXPECTED` statements expected if colours fell on classes independently (a Poisson
count with that mean is 0 with probability e^-3, 5%).

Example:
    >>> from refaug.contrast import describe_texts  # doctest: +SKIP
    >>> table = Cooccurrence.from_descriptions(describe_texts(["yellow banana", "brown dog"]))  # doctest: +SKIP
    >>> table.clash(describe_texts(["green dog"])[0])  # doctest: +SKIP
    'color: green dog'
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from refaug import lexicon as lx
from refaug.contrast.description import Description
from refaug.data.coco import COCO_CATEGORIES

# A class is known from the counts once the run states a colour of it this often: below it, a
# colour never seen is as likely an accident of a small sample (20 statements leave a colour
# with a 15% share unseen with probability 4%).
MIN_SUPPORT = 20
# ... and a colour's absence counts only when this many statements of it were expected
# (P(0 | Poisson(3)) = 0.05).
MIN_EXPECTED = 3.0
# Colour families a coat takes, by the lexicon (refaug.lexicon.NATURAL_COLORS), for COCO's mammals.
MAMMALS: frozenset[str] = frozenset(
    name for name, sup in COCO_CATEGORIES.values() if sup == "animal" and name not in ("bird", "teddy bear"))
LEXICAL_COLORS: dict[str, frozenset[str]] = {
    name: frozenset(lx.color_family(c) for c in lx.NATURAL_COLORS) for name in MAMMALS}


def stated_colors(description: Description) -> list[tuple[str, str]]:
    """The (class, colour family) pairs a description states of its referent itself.

    The class is each COCO class of the head (its lemma where none is known); the colour must
    be positive and of the object, not of a part it wears ("man in red shirt" states none).
    """
    classes = description.classes - {"person"} or (description.heads if not description.classes else frozenset())
    colors = {lx.color_family(a.value.split()[-1]) for a in description.attributes
              if a.kind == "color" and not a.key and a.positive}
    return [(c, family) for c in sorted(classes) for family in sorted(f for f in colors if f)]


@dataclass
class Cooccurrence:
    """Colour counts per class, and the rule that calls a colour a clash (module docstring).

    Args:
        counts: (class, colour family) -> statements in the run's human expressions.
        lexical: class -> the colour families the lexicon allows (default :data:`LEXICAL_COLORS`).
    """

    counts: Counter = field(default_factory=Counter)
    lexical: dict[str, frozenset[str]] = field(default_factory=lambda: dict(LEXICAL_COLORS))

    @classmethod
    def from_descriptions(cls, descriptions: Iterable[Description]) -> Cooccurrence:
        """Count the colours the (human) descriptions state of their referents."""
        counts: Counter = Counter()
        for d in descriptions:
            counts.update(stated_colors(d))
        return cls(counts=counts)

    def __post_init__(self) -> None:
        self._per_class: Counter = Counter()
        self._per_color: Counter = Counter()
        for (cls_, color), n in self.counts.items():
            self._per_class[cls_] += n
            self._per_color[color] += n
        self._total = sum(self._per_color.values())

    def is_clash(self, cls_: str, color: str) -> bool:
        """True when ``color`` (a family) on ``cls_`` is one nobody gives that class (module docstring)."""
        if self.counts[(cls_, color)] > 0:
            return False
        allowed = self.lexical.get(cls_)
        if allowed is not None:
            return color not in allowed
        support = self._per_class[cls_]
        if support < MIN_SUPPORT or not self._total:
            return False
        expected = support * self._per_color[color] / self._total
        return expected >= MIN_EXPECTED

    def clash(self, description: Description, *, source: Description | None = None) -> str | None:
        """The first clash the description states (``"color: green dog"``), or None.

        A pair the ``source`` (the text it was rewritten from) states too is not the rewrite's
        doing, and is not called a clash.
        """
        kept = set(stated_colors(source)) if source is not None else set()
        for cls_, color in stated_colors(description):
            if (cls_, color) not in kept and self.is_clash(cls_, color):
                return f"color: {color} {cls_}"
        return None

    def expected(self, cls_: str, color: str) -> float:
        """Statements of ``color`` on ``cls_`` expected under independence (for reports)."""
        if not self._total:
            return math.nan
        return self._per_class[cls_] * self._per_color[color] / self._total
