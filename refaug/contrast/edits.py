"""Minimal edits: a candidate that repeats a cluster member word for word but for one changed span.

"guy left *red* and white shirt" against the member "guy left *blue* and white shirt": the
attribute findings see "white" on both shirts and agree, but every other word is the member's,
and the one word that changed is a colour that names a different colour. Annotators describing
one object twice rarely repeat each other word for word; a replaced contrastive word with the
rest kept is the shape of a different object's description (and of a one-attribute rewrite).

:func:`refaug.contrast.describe.wording` reads the words of a parsed text (lower case, nouns by
lemma, no "the" or punctuation: "the red car" and "red car" read alike; "a" counts one);
:func:`edit_findings` sets a candidate's wording against each member's. Where the two differ in one span of at most
:data:`MAX_SPAN` words on each side, with the rest equal, the span's contrastive words
(:func:`word_value`: colours, positions, sizes, ordinals, counts and "a", materials, patterns,
head nouns)
are compared kind by kind: a kind on both sides with no equivalent pair is a conflict
(``edit: blue vs red``), a kind with an equivalent pair ("man" / "guy", "top" / "upper") an
agreement; colours near in CIELAB ("orange" / "red", as the colour finding reads them) neither. A span with no contrastive word on both sides ("on" / "at") finds nothing.

Example:
    >>> [str(f) for f in edit_findings(frozenset({("guy", "left", "blue", "and", "white", "shirt")}),
    ...                                frozenset({("guy", "left", "red", "and", "white", "shirt")}), "guy")]
    ["edit: blue vs red (head: guy; the rest word for word as in 'guy left blue and white shirt')"]
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from refaug import lexicon as lx
from refaug.contrast.colors import NEAR_COLOR_DISTANCE
from refaug.contrast.compare import Finding, _value_distance
from refaug.contrast.describe import _MATERIAL_FORM

# The longest changed span read as one edit: "behind" / "in front of" (1 / 3 words), "light
# gray" / "white". Longer changes are rewordings, which the attribute findings judge.
MAX_SPAN = 3


def changed_span(member: tuple[str, ...], candidate: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The one span in which ``candidate`` differs from ``member``, the rest equal, or None (the
    same words, an insertion or deletion only, a span over :data:`MAX_SPAN`, or fewer words kept
    than changed).

    Example:
        >>> changed_span(("man", "in", "red"), ("man", "in", "blue"))
        (('red',), ('blue',))
        >>> changed_span(("man", "in", "red"), ("man", "in", "red", "shirt")) is None
        True
    """
    if member == candidate or abs(len(member) - len(candidate)) > MAX_SPAN:
        return None
    shortest = min(len(member), len(candidate))
    start = 0
    while start < shortest and member[start] == candidate[start]:
        start += 1
    end = 0
    while end < shortest - start and member[-1 - end] == candidate[-1 - end]:
        end += 1
    ours, theirs = member[start : len(member) - end], candidate[start : len(candidate) - end]
    # The rest must be most of the text: at least as many words kept as the longer side changed
    # ("back right broccoli" / "middle upper broccoli" is a rewording, not an edit of one word).
    changed = max(len(ours), len(theirs))
    if not ours or not theirs or changed > MAX_SPAN or start + end < changed:
        return None
    return ours, theirs


@lru_cache(maxsize=65536)
def word_value(word: str) -> tuple[str, object] | None:
    """A contrastive word's kind and value, or None: ``("color", "red")``,
    ``("position:horizontal", "left")``, ``("size:size", "big")``, ``("ordinal", 2)``,
    ``("count", "3")``, ``("material", "metal")``, ``("pattern", "striped")``,
    ``("noun", frozenset of its classes)``.

    Example:
        >>> word_value("upper"), word_value("guy")
        (('position:vertical', 'top'), ('noun', frozenset({'person'})))
    """
    from refaug.contrast.synonyms import head_classes

    low = word.lower()
    if low in lx.COLOR_FAMILIES:
        return ("color", low)
    if low in lx.POSITION_AXES:
        axis, value = lx.POSITION_AXES[low]
        return (f"position:{axis}", value)
    if low in lx.RELATIONS:
        axis, value = lx.RELATIONS[low]
        return (f"relation:{axis}", value)
    if low in lx.SIZE_AXES:
        axis, value = lx.SIZE_AXES[low]
        return (f"size:{axis}", value)
    if (n := lx.ordinal_value(low)) is not None:
        return ("ordinal", n)
    if low == "a":  # the indefinite article names one: "a dog" / "two dogs" (wording reads "an" as "a")
        return ("count", "1")
    if (n := lx.number_value(low)) is not None:
        return ("count", str(n))
    if low in lx.COUNT_WORDS:
        return ("count", lx.COUNT_WORDS[low])
    if low in lx.MATERIAL_CONTRASTS:  # as the material attribute reads it ("wooden" is "wood")
        return ("material", _MATERIAL_FORM.get(low, low))
    if low in lx.PATTERNS:
        return ("pattern", lx.PATTERNS[low])
    classes = head_classes(low)
    return ("noun", classes) if classes else None


def _relation(kind: str, a: str, b: str, value_a: object, value_b: object) -> str:
    """How two words of one kind relate: ``"same"`` (the same value; nouns of a shared class
    without clashing person tags, "man" / "guy" but not "man" / "woman"; the same colour),
    ``"near"`` (colours within :data:`~refaug.contrast.colors.NEAR_COLOR_DISTANCE`, which the
    colour finding reads as one colour seen differently, "orange" ~ "red": in a text otherwise
    repeated word for word, the writer chose the other name, so neither agreement nor conflict)
    or ``"different"``."""
    if kind == "color":  # as the colour finding weighs them (compare's own distance)
        distance = _value_distance(a, b)
        return "same" if distance == 0 else "near" if distance <= NEAR_COLOR_DISTANCE else "different"
    if kind == "noun":
        tags_a, tags_b = lx.PERSON_TAGS.get(a, frozenset()), lx.PERSON_TAGS.get(b, frozenset())
        clash = any(frozenset({x, y}) in lx.CLASHING_TAGS for x in tags_a for y in tags_b)
        return "same" if value_a & value_b and not clash else "different"  # type: ignore[operator]
    return "same" if value_a == value_b else "different"


def span_findings(ours: tuple[str, ...], theirs: tuple[str, ...], head: str, member: str) -> list[Finding]:
    """The findings of one changed span: per kind on both sides, an agreement where a pair of its
    words is the same, nothing where one is near, else a conflict; the first conflict, or the
    first agreement, is kept."""
    values_a = [(w, v) for w in ours if (v := word_value(w))]
    values_b = [(w, v) for w in theirs if (v := word_value(w))]
    note = f"the rest word for word as in '{member}'"
    agreed = None
    for kind in dict.fromkeys(v[0] for _, v in values_a):
        a_side = [(w, v[1]) for w, v in values_a if v[0] == kind]
        b_side = [(w, v[1]) for w, v in values_b if v[0] == kind]
        if not b_side:
            continue
        relations = {(a, b): _relation(kind, a, b, va, vb) for a, va in a_side for b, vb in b_side}
        same = [pair for pair, r in relations.items() if r == "same"]
        if same:
            agreed = agreed or Finding("edit", False, *same[0], head, note)
        elif "near" not in relations.values():
            return [Finding("edit", True, a_side[0][0], b_side[0][0], head, note)]
    return [agreed] if agreed else []


def edit_findings(members: Iterable[tuple[str, ...]], candidate: Iterable[tuple[str, ...]],
                  head: str) -> list[Finding]:
    """The minimal-edit finding of a candidate against a cluster, or none.

    Args:
        members: the cluster's wordings (:attr:`Description.wordings`), one per member text.
        candidate: the candidate's wordings (one, for one text).
        head: the cluster's head noun, for the finding's text.

    A member that the candidate rewords with equivalent words only ("man on left" / "guy on
    left") is an agreement and outweighs a conflict with another member: the cluster's members
    describe one object, and one of them the candidate repeats. Sets are read in sorted order (a
    set's order changes with the hash seed); sequences as given (compare passes them sorted).
    """
    conflict = agreed = None
    members = sorted(members) if isinstance(members, (set, frozenset)) else members
    for theirs in sorted(candidate) if isinstance(candidate, (set, frozenset)) else candidate:
        n = len(theirs)
        for ours in members:
            # most pairs share neither their first nor their last word: no edit, no alignment
            if abs(len(ours) - n) > MAX_SPAN or not ours or not n or (
                    ours[0] != theirs[0] and ours[-1] != theirs[-1]):
                continue
            span = changed_span(ours, theirs)
            if span is None:
                continue
            for f in span_findings(*span, head, " ".join(ours)):
                if f.conflict:
                    conflict = conflict or f
                else:
                    agreed = agreed or f
    found = agreed or conflict
    return [found] if found else []
