"""The comparison of two descriptions: :class:`Finding` s, conflicts and agreements.

:func:`compare` sets a cluster's description (the union over its texts) against a
candidate's: conflicts (same kind, incompatible values, same head; or one text's landmark is
the other's referent) and agreements (same kind, same value).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from refaug import lexicon as lx
from refaug.contrast.colors import NEAR_COLOR_DISTANCE, color_lab, lab_distance
from refaug.contrast.description import Attribute, Description, Landmark
from refaug.contrast.synonyms import wordnet_only

# The kinds a finding can have, in the order of the classifier's features.
CONTRAST_KINDS: tuple[str, ...] = (
    "head", "spatial", "extreme", "ordinal", "color", "pattern", "size", "count", "material",
    "clothing", "action", "negation", "landmark", "edit",
)  # fmt: skip
# Kinds whose values exclude one another within one key ("left" vs "right" on the
# horizontal axis); in the others two different values may both hold ("with a hat" and
# "with glasses").
_EXCLUSIVE = frozenset({"spatial", "color", "pattern", "size", "count", "material", "posture"})


class Finding(NamedTuple):
    """A conflict or an agreement between a cluster and a candidate.

    Example:
        >>> str(Finding("spatial", True, "left", "right", "lady"))
        'spatial: left vs right (head: lady)'
        >>> str(Finding("color", False, "beige", "white", "couch", "CIELAB distance 30.0"))
        'color: beige ~ white (head: couch; CIELAB distance 30.0)'
    """

    kind: str
    conflict: bool
    cluster: str
    candidate: str
    head: str
    note: str = ""  # what the finding rests on beyond the words: "WordNet", a colour distance, a typo

    def __str__(self) -> str:
        relation = "vs" if self.conflict else ("~" if self.kind == "color" and self.note else "=")
        where = f"head: {self.head}; {self.note}" if self.note else f"head: {self.head}"
        return f"{self.kind}: {self.cluster} {relation} {self.candidate} ({where})"


def _kind(attribute: Attribute) -> str:
    return "action" if attribute.kind == "posture" else attribute.kind


def _by_key(attributes: Iterable[Attribute], *, positive: bool) -> dict[tuple[str, str], list[Attribute]]:
    table: dict[tuple[str, str], list[Attribute]] = {}
    for a in attributes:
        if a.positive == positive:
            table.setdefault((a.kind, a.key), []).append(a)
    return table


# ------------------------------------------------------------------ the prepared sides
#
# ``compare`` runs for millions of (cluster, candidate) pairs in a run (benchmarks/end_to_end.py),
# and most of its work depends on one side alone: the sorted attributes, their tables by key, the
# sorted landmarks. :class:`_Side` computes that once per description. What depends on both sides
# but on few of their fields is memoised on those fields: the head finding (heads, classes and
# tags), the colour findings (the two colour lists), the colour distance (two values), whether a
# landmark is a description's referent (the description and the landmark) and whether two
# landmarks may be one object. Every memo is of a pure function, so the findings are the ones the
# plain computation gives (tests/test_contrast_fast.py checks them against it); each is emptied
# at its limit.
_CACHE_LIMIT = 100_000
_UNSEEN = object()
_SKIPPED_KINDS = frozenset({"color", "ordinal", "extreme"})


class _Side:
    """What ``compare`` reads of one description, computed once."""

    __slots__ = ("attributes", "classes", "color_code", "color_memo", "colors", "corrections", "described",
                 "end_pairs", "ends", "head",
                 "head_code", "head_memo", "heads", "marks", "negative", "ordinals", "others", "polar", "positive",
                 "signed", "tags", "values", "wordings")

    def __init__(self, description: Description) -> None:
        d = description
        self.heads, self.classes, self.tags, self.corrections = d.heads, d.classes, d.tags, d.corrections
        self.head = d.head
        # Sorted: the attributes are sets, and the first of several values names a finding; a
        # set's order changes with the process's hash seed, a sorted list does not.
        attributes = sorted(d.attributes)
        positive = _by_key(attributes, positive=True)
        ends = [a for a in attributes if a.positive and a.kind in ("extreme", "spatial")]
        # (key, kind) -> the first of those, and (key, kind, value) -> the first: what the other
        # side's ends meet (_extreme_findings)
        end_pairs: dict[tuple[str, ...], Attribute] = {}
        for a in ends:
            end_pairs.setdefault((a.key, a.kind), a)
            end_pairs.setdefault((a.key, a.kind, a.value), a)
        # Empty parts are shared constants (a side of a short text is mostly empty; a run holds
        # a few hundred thousand sides). Nothing below is changed after this.
        self.attributes = attributes or _NONE
        self.positive = positive or _NOTHING
        self.colors = colors = [a for k, v in positive.items() if k[0] == "color" for a in v] or _NONE
        self.color_code = _COLOR_CODES.setdefault(tuple(colors), len(_COLOR_CODES)) if colors else -1
        self.color_memo: dict[int, list[Finding]] | None = None  # candidate's colour code -> colour findings
        self.ordinals = [a for a in attributes if a.kind == "ordinal" and a.positive] or _NONE
        self.ends, self.end_pairs = ends or _NONE, end_pairs or _NOTHING
        self.others = [(key, values, _exclusive(key)) for key, values in positive.items()
                       if key[0] not in _SKIPPED_KINDS] or _NONE
        self.values = self.polar = self.signed = None  # what a cluster side reads: made on first use (as_cluster)
        self.negative = any(not a.positive for a in attributes)
        self.marks = _sorted_landmarks(d) or _NONE
        self.wordings = tuple(sorted(d.wordings)) or _NONE  # sorted: the first edit found names the finding
        self.head_code = _HEAD_CODES.setdefault((d.heads, d.classes, d.tags), len(_HEAD_CODES))
        self.described: dict[Landmark, str | None] | None = None  # made on first use
        self.head_memo: dict[int, list[Finding]] | None = None  # candidate's head code -> head findings


    def as_cluster(self) -> None:
        """Make the parts only the cluster's side of a comparison reads (most sides are only candidates)."""
        self.values = {key: {a.value: a for a in values} for key, values in self.positive.items()
                       if key[0] not in _SKIPPED_KINDS} or _NOTHING
        self.polar = {(a.kind, a.key, a.value): a for a in self.attributes} or _NOTHING
        self.signed = frozenset((a.kind, a.key, a.value, a.positive) for a in self.attributes)


_NONE: tuple = ()
_NOTHING: dict = {}  # never written to
_SIDES: dict[Description, _Side] = {}
_MARK_SIDES: dict[Landmark, _Side] = {}
_HEAD_CODES: dict[tuple[frozenset[str], frozenset[str], frozenset[str]], int] = {}
_COLOR_CODES: dict[tuple[Attribute, ...], int] = {}
_HEADS: dict[tuple[int, int], list[Finding]] = {}
_DISTANCES: dict[tuple[str, str], float] = {}
_SAME_OBJECT: dict[tuple[Landmark, Landmark], bool] = {}


def _side(description: Description) -> _Side:
    side = _SIDES.get(description)
    if side is None:
        if len(_SIDES) >= _CACHE_LIMIT:
            clear_caches()
        side = _SIDES[description] = _Side(description)
    return side


def _mark_side(mark: Landmark) -> _Side:
    side = _MARK_SIDES.get(mark)
    if side is None:
        if len(_MARK_SIDES) >= _CACHE_LIMIT:
            _MARK_SIDES.clear()
            _SAME_OBJECT.clear()
        side = _MARK_SIDES[mark] = _Side(mark.description())
    return side


def clear_caches() -> None:
    """Empty the memos of :func:`compare` (they only save time; the findings stay the same)."""
    for table in (_SIDES, _MARK_SIDES, _HEADS, _DISTANCES, _SAME_OBJECT):
        table.clear()
    # _HEAD_CODES and _COLOR_CODES stay: a side still alive keeps its codes (and memos keyed by
    # other sides' codes), and they hold only the distinct (heads, classes, tags) triples and
    # colour lists.


def _head_findings(cluster: Description | _Side, candidate: Description | _Side) -> list[Finding]:
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
    shared = cluster.classes & candidate.classes
    by_wordnet = cluster.heads and candidate.heads and not any(
        not wordnet_only(x, y) for x in cluster.heads for y in candidate.heads)
    note = f"WordNet: {'/'.join(sorted(shared))}" if by_wordnet else ""
    return [Finding("head", False, a, b, head, note)]


def _heads_of(cluster: _Side, candidate: _Side) -> list[Finding]:
    """:func:`_head_findings` (a function of the heads, classes and tags alone), memoised; a new list."""
    memo = cluster.head_memo
    if memo is None:
        memo = cluster.head_memo = {}
    found = memo.get(candidate.head_code)
    if found is None:
        key = (cluster.head_code, candidate.head_code)
        found = _HEADS.get(key)
        if found is None:
            if len(_HEADS) >= _CACHE_LIMIT:
                _HEADS.clear()
            found = _HEADS[key] = _head_findings(cluster, candidate)
        memo[candidate.head_code] = found
    return list(found)


def _short_for(short: Description | _Side, full: Description | _Side) -> bool:
    """Whether a head names a multi-word class by its last word ("dog" for "hot dog")."""
    return any(" " in c and c.rsplit(" ", 1)[1] in short.heads | short.classes for c in full.classes)


def _color_findings(ours: list[Attribute], theirs: list[Attribute], head: str) -> list[Finding]:
    """Colours per part; a colour without a part ("in red") meets every part's colour. The
    nearest pair of comparable colours decides: the same word agrees, colours within
    :data:`~refaug.contrast.colors.NEAR_COLOR_DISTANCE` (in CIELAB) agree as near
    ("beige ~ white"), farther ones conflict.

    ``ours`` and ``theirs`` are the positive colour attributes of each side, in order.
    """
    best = None
    for a in ours:
        for b in theirs:
            if a.key == b.key or not a.key or not b.key:
                rank = (_distance(a, b), a.value, b.value)
                if best is None or rank < best[0]:  # the first of the nearest, as min() picks
                    best = (rank, a, b)
    if best is None:
        return []
    (distance, _, _), a, b = best
    if a.value == b.value or distance == 0:
        return [Finding("color", False, a.word, b.word, head)]
    note = f"CIELAB distance {distance:.1f}" if distance < float("inf") else ""
    return [Finding("color", distance > NEAR_COLOR_DISTANCE, a.word, b.word, head, note)]


def _distance(a: Attribute, b: Attribute) -> float:
    key = (a.value, b.value)
    distance = _DISTANCES.get(key)
    if distance is None:
        if len(_DISTANCES) >= _CACHE_LIMIT:
            _DISTANCES.clear()
        distance = _DISTANCES[key] = _value_distance(a.value, b.value)
    return distance


def _value_distance(a: str, b: str) -> float:
    lab_a, lab_b = _lab(a), _lab(b)
    if lab_a is None or lab_b is None:
        return 0.0 if lx.color_family(a) == lx.color_family(b) else float("inf")
    return round(lab_distance(lab_a, lab_b), 1)


def _lab(value: str) -> tuple[float, float, float] | None:
    shade, _, word = value.rpartition(" ")
    return color_lab(word, shade)


def compare(cluster: Description, candidate: Description) -> list[Finding]:
    """The conflicts and agreements between a cluster's description and a candidate's.

    A conflict: the same kind and key with incompatible values ("left" vs "right" on the
    horizontal axis; "red" vs "blue" on the shirt), a polarity flip of one value ("with
    a hat" vs "without a hat", kind ``negation``), heads of different classes or clashing
    tags ("man" vs "woman", kind ``head``), or a landmark (kind ``landmark``): one text
    places its referent by the other's ("the circle below the purple circle" vs "the purple
    circle"), or both by the same one on opposite sides ("left of the car" vs "right of the
    car"). An agreement: the same kind, key and value. And a minimal edit (kind ``edit``,
    :mod:`refaug.contrast.edits`): the candidate repeats a member word for word but for one
    span whose contrastive word names something else ("blue" -> "red"), or only an equivalent.
    """
    ours, theirs = _side(cluster), _side(candidate)
    found = _attribute_findings(ours, theirs)
    if ours.marks or theirs.marks:
        found += _landmark_findings(ours, theirs)
    if ours.wordings and theirs.wordings:
        found += _edit_findings(ours, theirs, ours.head)
    if not (cluster.corrections or candidate.corrections):
        return found
    fixes = dict(cluster.corrections | candidate.corrections)
    return [_with_typos(f, fixes) for f in found] if fixes else found


def _edit_findings(cluster: _Side, candidate: _Side, head: str) -> list[Finding]:
    global _EDITS
    if _EDITS is None:
        from refaug.contrast.edits import edit_findings  # edits reads this module's Finding

        _EDITS = edit_findings
    return _EDITS(cluster.wordings, candidate.wordings, head)


_EDITS = None  # refaug.contrast.edits.edit_findings, bound on first use


def _with_typos(finding: Finding, fixes: dict[str, str]) -> Finding:
    """Name the typos a finding's words were read from ("typo: teddt -> teddy")."""
    words = f" {finding.cluster} {finding.candidate} ".lower()
    read = [f"typo: {wrong} -> {right}" for wrong, right in sorted(fixes.items()) if f" {right} " in words]
    if not read:
        return finding
    return finding._replace(note="; ".join([finding.note, *read]) if finding.note else "; ".join(read))


def _attribute_findings(cluster: _Side, candidate: _Side) -> list[Finding]:
    if cluster.values is None:
        cluster.as_cluster()
    head = cluster.head
    findings = _heads_of(cluster, candidate)
    if cluster.colors and candidate.colors:  # a function of the two colour lists (and our head)
        memo = cluster.color_memo
        if memo is None:
            memo = cluster.color_memo = {}
        found = memo.get(candidate.color_code)
        if found is None:
            found = memo[candidate.color_code] = _color_findings(cluster.colors, candidate.colors, head)
        findings += found
    if cluster.ordinals and candidate.ordinals:
        findings += _ordinal_findings(cluster.ordinals, candidate.ordinals, head)
    if cluster.ends and candidate.ends:
        findings += _extreme_findings(cluster.ends, candidate.end_pairs, head)
    values = cluster.values
    for key, offered, exclusive in candidate.others:
        mine = values.get(key)
        if mine is None:
            continue
        same = [a for a in offered if a.value in mine]
        if same:
            findings.append(Finding(_kind(same[0]), False, mine[same[0].value].word, same[0].word, head))
        elif exclusive:
            findings.append(Finding(_kind(offered[0]), True, cluster.positive[key][0].word, offered[0].word, head))
    if cluster.negative or candidate.negative:
        findings += _polarity_findings(cluster, candidate, head)
    return findings


def _landmark_findings(cluster: _Side, candidate: _Side) -> list[Finding]:
    """A text whose landmark is the other text's referent, or the same landmark on two sides."""
    head = cluster.head
    # Sorted, as the attributes are: the first landmark found names the finding, and a set's
    # order changes with the process's hash seed (the reason text did, between runs).
    ours_marks, their_marks = cluster.marks, candidate.marks
    for mark in their_marks:
        if (agreed := _is_described(cluster, mark)) is not None:
            return [Finding("landmark", True, agreed, mark.word, head)]
    for mark in ours_marks:
        if (agreed := _is_described(candidate, mark)) is not None:
            return [Finding("landmark", True, mark.word, agreed, head)]
    found = []
    for ours in ours_marks:
        for theirs in their_marks:
            if ours.axis and ours.axis == theirs.axis and _same_object(ours, theirs):
                found.append(Finding("landmark", ours.relation != theirs.relation, ours.word, theirs.word, head))
    return sorted(found, key=lambda f: not f.conflict)[:1]


def _sorted_landmarks(description: Description) -> list:
    return sorted(description.landmarks, key=lambda m: (m.word, m.head, m.axis, m.relation, sorted(m.attributes)))


def _is_described(referent: _Side, mark: Landmark) -> str | None:
    """Whether the landmark ``mark`` is ``referent`` itself: the same class, nothing in conflict,
    and something more in common than the class (a colour, a size, a role). Returns the agreeing
    words ("purple circle"), or None. Memoised per referent (a pure function of the two)."""
    memo = referent.described
    if memo is None:
        memo = referent.described = {}
    agreed = memo.get(mark, _UNSEEN)
    if agreed is not _UNSEEN:
        return agreed
    agreed = None
    if referent.classes & mark.classes:  # without a shared class the findings do not matter
        landmark = _mark_side(mark)
        findings = _attribute_findings(referent, landmark)
        if not any(f.conflict for f in findings):
            words = [f.cluster for f in findings if f.kind not in ("head", "negation")]
            role = any(t.startswith("role:") for t in referent.tags & landmark.tags)
            agreed = " ".join([*words, referent.head]) if words or role else None
    memo[mark] = agreed
    return agreed


def _same_object(a: Landmark, b: Landmark) -> bool:
    """Whether two landmarks may be one object: a shared class and nothing in conflict."""
    if not a.classes & b.classes:
        return False
    key = (a, b)
    same = _SAME_OBJECT.get(key)
    if same is None:
        if len(_SAME_OBJECT) >= _CACHE_LIMIT:
            _SAME_OBJECT.clear()
        same = _SAME_OBJECT[key] = not any(f.conflict for f in _attribute_findings(_mark_side(a), _mark_side(b)))
    return same


def _exclusive(key: tuple[str, str]) -> bool:
    """Whether two different values of this (kind, key) cannot both hold."""
    kind, where = key
    if kind == "clothing":
        return not where.startswith("item:")
    return kind in _EXCLUSIVE or (kind == "action" and where == "verb")


def _ordinal_findings(ours: list[Attribute], theirs: list[Attribute], head: str) -> list[Finding]:
    """Ordinals: the same number from the same side (or an unnamed one) agrees, others conflict.

    ``ours`` and ``theirs`` are each side's positive ordinals, in order."""
    if not ours or not theirs:
        return []
    for a in ours:
        for b in theirs:
            if a.value == b.value and (a.key == b.key or not a.key or not b.key):
                return [Finding("ordinal", False, a.word, b.word, head)]
    return [Finding("ordinal", True, ours[0].word, theirs[0].word, head)]


def _extreme_findings(ours: list[Attribute], theirs: dict[tuple[str, ...], Attribute], head: str) -> list[Finding]:
    """An end of a row ("leftmost", "far left") against a side ("on the left", "middle") on one
    axis: the same side agrees, another conflicts. A kind of its own, as the two can disagree
    on one object: the leftmost of two zebras that both stand on the right. Two ends meet as
    ordinals ("1st from left" vs "1st from right").

    ``ours``: our positive extremes and spatial attributes, in order; ``theirs``: the other
    side's, first by (key, kind) and by (key, kind, value) (:attr:`_Side.end_pairs`). The pair
    named is the first in the order of ``ours`` then ``theirs`` with the same value, else the
    first with the same key."""
    first = None
    for a in ours:
        other = "spatial" if a.kind == "extreme" else "extreme"
        b = theirs.get((a.key, other))
        if b is None:
            continue
        same = theirs.get((a.key, other, a.value))
        if same is not None:
            return [Finding("extreme", False, a.word, same.word, head)]
        if first is None:
            first = (a, b)
    if first is None:
        return []
    a, b = first
    return [Finding("extreme", True, a.word, b.word, head)]


def _polarity_findings(cluster: _Side, candidate: _Side, head: str) -> list[Finding]:
    """The same value with and without a negation ("with a hat" vs "without a hat")."""
    found = []
    ours, signed = cluster.polar, cluster.signed
    for a in candidate.attributes:
        other = ours.get((a.kind, a.key, a.value))
        if other is not None and other.positive != a.positive and (a.kind, a.key, a.value, a.positive) not in signed:
            found.append(Finding("negation", True, _polar(other), _polar(a), head))
    return found


def _polar(a: Attribute) -> str:
    return a.word if a.positive else f"not {a.word}"
