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
from refaug.contrast.description import Attribute, Description
from refaug.contrast.synonyms import wordnet_only

# The kinds a finding can have, in the order of the classifier's features.
CONTRAST_KINDS: tuple[str, ...] = (
    "head", "spatial", "extreme", "ordinal", "color", "pattern", "size", "count", "material",
    "clothing", "action", "negation", "landmark",
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
    shared = cluster.classes & candidate.classes
    by_wordnet = cluster.heads and candidate.heads and not any(
        not wordnet_only(x, y) for x in cluster.heads for y in candidate.heads)
    note = f"WordNet: {'/'.join(sorted(shared))}" if by_wordnet else ""
    return [Finding("head", False, a, b, head, note)]


def _short_for(short: Description, full: Description) -> bool:
    """Whether a head names a multi-word class by its last word ("dog" for "hot dog")."""
    return any(" " in c and c.rsplit(" ", 1)[1] in short.heads | short.classes for c in full.classes)


def _color_findings(cluster: dict, candidate: dict, head: str) -> list[Finding]:
    """Colours per part; a colour without a part ("in red") meets every part's colour. The
    nearest pair of comparable colours decides: the same word agrees, colours within
    :data:`~refaug.contrast.colors.NEAR_COLOR_DISTANCE` (in CIELAB) agree as near
    ("beige ~ white"), farther ones conflict."""
    ours = [a for k, v in cluster.items() if k[0] == "color" for a in v]
    theirs = [a for k, v in candidate.items() if k[0] == "color" for a in v]
    pairs = [(a, b) for a in ours for b in theirs if a.key == b.key or not a.key or not b.key]
    if not pairs:
        return []
    a, b, distance = min(((a, b, _distance(a, b)) for a, b in pairs), key=lambda t: (t[2], t[0].value, t[1].value))
    if a.value == b.value or distance == 0:
        return [Finding("color", False, a.word, b.word, head)]
    note = f"CIELAB distance {distance:.1f}" if distance < float("inf") else ""
    return [Finding("color", distance > NEAR_COLOR_DISTANCE, a.word, b.word, head, note)]


def _distance(a: Attribute, b: Attribute) -> float:
    lab_a, lab_b = _lab(a.value), _lab(b.value)
    if lab_a is None or lab_b is None:
        return 0.0 if lx.color_family(a.value) == lx.color_family(b.value) else float("inf")
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
    car"). An agreement: the same kind, key and value.
    """
    found = _attribute_findings(cluster, candidate) + _landmark_findings(cluster, candidate)
    fixes = dict(cluster.corrections | candidate.corrections)
    return [_with_typos(f, fixes) for f in found] if fixes else found


def _with_typos(finding: Finding, fixes: dict[str, str]) -> Finding:
    """Name the typos a finding's words were read from ("typo: teddt -> teddy")."""
    words = f" {finding.cluster} {finding.candidate} ".lower()
    read = [f"typo: {wrong} -> {right}" for wrong, right in sorted(fixes.items()) if f" {right} " in words]
    if not read:
        return finding
    return finding._replace(note="; ".join([finding.note, *read]) if finding.note else "; ".join(read))


def _attribute_findings(cluster: Description, candidate: Description) -> list[Finding]:
    head = cluster.head
    findings = _head_findings(cluster, candidate)
    # Sorted: the attributes are sets, and the first of several values names a finding; a
    # set's order changes with the process's hash seed, a sorted list does not.
    stated, offered = sorted(cluster.attributes), sorted(candidate.attributes)
    ours, theirs = _by_key(stated, positive=True), _by_key(offered, positive=True)
    findings += _color_findings(ours, theirs, head)
    findings += _ordinal_findings(stated, offered, head)
    findings += _extreme_findings(stated, offered, head)
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
    # Sorted, as the attributes are: the first landmark found names the finding, and a set's
    # order changes with the process's hash seed (the reason text did, between runs).
    ours_marks, their_marks = _sorted_landmarks(cluster), _sorted_landmarks(candidate)
    for mark in their_marks:
        if (agreed := _is_described(cluster, mark.description())) is not None:
            return [Finding("landmark", True, agreed, mark.word, head)]
    for mark in ours_marks:
        if (agreed := _is_described(candidate, mark.description())) is not None:
            return [Finding("landmark", True, mark.word, agreed, head)]
    found = []
    for ours in ours_marks:
        for theirs in their_marks:
            if ours.axis and ours.axis == theirs.axis and _same_object(ours.description(), theirs.description()):
                found.append(Finding("landmark", ours.relation != theirs.relation, ours.word, theirs.word, head))
    return sorted(found, key=lambda f: not f.conflict)[:1]


def _sorted_landmarks(description: Description) -> list:
    return sorted(description.landmarks, key=lambda m: (m.word, m.head, m.axis, m.relation, sorted(m.attributes)))


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
    ours = {(a.kind, a.key, a.value): a for a in sorted(cluster.attributes)}
    for a in sorted(candidate.attributes):
        other = ours.get((a.kind, a.key, a.value))
        if other is not None and other.positive != a.positive and not any(
            b.positive == a.positive and (b.kind, b.key, b.value) == (a.kind, a.key, a.value)
            for b in sorted(cluster.attributes)
        ):
            found.append(Finding("negation", True, _polar(other), _polar(a), head))
    return found


def _polar(a: Attribute) -> str:
    return a.word if a.positive else f"not {a.word}"

