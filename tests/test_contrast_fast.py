"""The fast path of the contrast comparison gives exactly the findings of the plain one.

:func:`refaug.contrast.compare` prepares each description once and memoises what depends on few
fields of both sides (refaug/contrast/compare.py). This file keeps the plain implementation as it
was before those memos (``_reference_compare``, verbatim but for the names) and checks, on real
spaCy parses of varied expressions, that both give the same findings for every pair of texts, of
cluster unions, of landmarks, with cold and with warm memos; and that the contrast model's
features and probabilities come out the same.
"""

from __future__ import annotations

import csv
import importlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from refaug import lexicon as lx
from refaug.clusters import DEFAULT_CONTRAST_MODEL
from refaug.contrast import (
    Description,
    Finding,
    compare,
    describe_texts,
    feature_matrix,
    pair_features,
)
from refaug.contrast.colors import NEAR_COLOR_DISTANCE, color_lab, lab_distance
from refaug.contrast.description import Attribute
from refaug.contrast.edits import edit_findings
from refaug.contrast.synonyms import wordnet_only

compare_module = importlib.import_module("refaug.contrast.compare")  # the package's name is the function

TEXTS = [
    "man in red", "guy wearing red shirt", "woman in blue shirt", "lady on the left", "left lady",
    "right lady", "leftmost zebra", "zebra far left", "zebra on the right", "middle zebra",
    "2nd from left", "second from the right", "third from left", "first guy on left",
    "man without a hat", "man with a hat", "guy wearing glasses", "woman not wearing glasses",
    "the circle below the purple circle", "the purple circle", "purple circle above the star",
    "star left of the car", "star right of the car", "the red car next to the blue truck",
    "big elephant", "small elephant", "baby elephant", "young boy", "old man", "little girl on bike",
    "beige couch", "white couch", "navy blue jacket man", "dark green bowl", "light green bowl",
    "two cups", "one cup", "wooden chair", "metal chair", "striped shirt guy", "plaid shirt guy",
    "man sitting", "man standing", "person holding umbrella", "player swinging bat",
    "catcher behind the batter", "the umpire", "hot dog on left", "mustard dog", "dog on right",
    "teddt bear on right", "teddy bear left", "bowl of broccoli closest to us", "far back bowl",
    "top left donut", "bottom right donut with sprinkles", "sheep in front", "sheep in back",
    "man in white shirt holding a racket", "woman in black jacket next to the man in white",
    "the one on the right", "empty chair", "giraffe eating", "zebra facing away",
    "pizza slice closest", "laptop screen", "bike", "motorcycle on left", "red and white bus",
]
PAIRS_TABLE = Path(__file__).parent / "data" / "contrast_pairs.tsv"


EXPLICIT_UNIONS = [
    ("man with a hat", "man without a hat"), ("dark green bowl", "light green bowl"),
    ("man in red", "guy wearing red shirt"), ("beige couch", "white couch"), ("left lady", "right lady"),
]


def _texts() -> list[str]:
    with PAIRS_TABLE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return list(dict.fromkeys([*TEXTS, *(r["cluster"] for r in rows), *(r["candidate"] for r in rows)]))


@pytest.fixture(scope="module")
def descriptions() -> list[Description]:
    return describe_texts(_texts())


def _unions(descriptions: list[Description]) -> list[Description]:
    """Cluster descriptions: unions of 2-4 texts, some with a dataset category."""
    rng = np.random.default_rng(0)
    categories = [None, "person", "Hot Dog", "glass", "couch", "zebra"]
    out = []
    for k in range(40):
        chosen = rng.choice(len(descriptions), size=int(rng.integers(2, 5)), replace=False)
        out.append(Description.union([descriptions[i] for i in chosen], category=categories[k % len(categories)]))
    by_text = dict(zip(_texts(), descriptions, strict=True))
    for texts in EXPLICIT_UNIONS:  # both polarities of one value; one colour in two words or parts
        out.append(Description.union([by_text[t] for t in texts]))
    return out


def _landmark_descriptions(descriptions: list[Description]) -> list[Description]:
    return [mark.description() for d in descriptions for mark in d.landmarks]


def test_texts_cover_every_branch(descriptions):
    """The texts reach the parts of the comparison the memos touch (else the test proves little)."""
    kinds = {a.kind for d in descriptions for a in d.attributes}
    assert {"spatial", "extreme", "ordinal", "color", "size", "count", "material", "clothing", "action"} <= kinds
    assert any(not a.positive for d in descriptions for a in d.attributes)
    assert any(d.landmarks for d in descriptions) and any(d.corrections for d in descriptions)
    found = {(f.kind, f.conflict) for a in descriptions for b in descriptions for f in _reference_compare(a, b)}
    assert {("landmark", True), ("negation", True), ("color", True), ("color", False), ("head", True),
            ("ordinal", True), ("extreme", True), ("extreme", False)} <= found


@pytest.mark.parametrize("warm", [False, True])
def test_fast_compare_equals_reference(descriptions, warm):
    sides = descriptions + _unions(descriptions) + _landmark_descriptions(descriptions)
    compare_module.clear_caches()
    if warm:  # the memos filled by other pairs first, in another order
        for b in reversed(sides):
            for a in sides[::3]:
                compare(a, b)
    mismatches = []
    for a in sides:
        for b in sides:
            expected, got = _reference_compare(a, b), compare(a, b)
            if got != expected or [type(f) for f in got] != [Finding] * len(got):
                mismatches.append((a, b, expected, got))
    assert not mismatches, mismatches[:3]


def test_fast_compare_survives_cache_limit(descriptions, monkeypatch):
    """With memos emptied every few entries the findings are still the reference's."""
    monkeypatch.setattr(compare_module, "_CACHE_LIMIT", 7)
    compare_module.clear_caches()
    sides = descriptions[:60] + _unions(descriptions)[:10]
    for a in sides:
        for b in sides:
            assert compare(a, b) == _reference_compare(a, b)
    compare_module.clear_caches()


def test_features_and_probabilities_equal_reference(descriptions):
    clusters = _unions(descriptions)
    pairs = [(c, d) for c in clusters for d in descriptions]
    cosine = np.random.default_rng(1).uniform(0.2, 1.0, len(pairs)).astype(np.float32)
    compare_module.clear_caches()
    fast = feature_matrix([compare(c, d) for c, d in pairs], cosine)
    slow = feature_matrix([_reference_compare(c, d) for c, d in pairs], cosine)
    assert np.array_equal(fast, slow)
    p_fast, p_slow = DEFAULT_CONTRAST_MODEL.probability(fast), DEFAULT_CONTRAST_MODEL.probability(slow)
    assert np.array_equal(p_fast, p_slow)
    assert 0 < (p_fast < 0.5).sum() < len(pairs)  # both verdicts occur
    # feature_matrix is pair_features row by row (its one-pass indicators, the plain loop)
    stacked = np.stack([pair_features(compare(c, d), float(s)) for (c, d), s in zip(pairs, cosine, strict=True)])
    assert np.array_equal(fast, stacked)
    assert (fast[:, 1] > 1).any() and (fast[:, 2] > 1).any()  # pairs with several kinds, counted once each


# ----------------------------------------------------------------------------------------------------
# The reference: refaug/contrast/compare.py as it was before the fast path (commit 3f982e6), verbatim but
# for the names (a ``_reference`` prefix). Only for this test; do not change it with the fast path.

_REFERENCE_EXCLUSIVE = frozenset({"spatial", "color", "pattern", "size", "count", "material", "posture"})

def _reference_kind(attribute: Attribute) -> str:
    return "action" if attribute.kind == "posture" else attribute.kind


def _reference_by_key(attributes: Iterable[Attribute], *, positive: bool) -> dict[tuple[str, str], list[Attribute]]:
    table: dict[tuple[str, str], list[Attribute]] = {}
    for a in attributes:
        if a.positive == positive:
            table.setdefault((a.kind, a.key), []).append(a)
    return table


def _reference_head_findings(cluster: Description, candidate: Description) -> list[Finding]:
    if not cluster.classes or not candidate.classes:
        return []
    a, b = "/".join(sorted(cluster.heads or cluster.classes)), "/".join(sorted(candidate.heads or candidate.classes))
    head = min(cluster.heads or cluster.classes)
    if not cluster.classes & candidate.classes:
        if _reference_short_for(cluster, candidate) or _reference_short_for(candidate, cluster):
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


def _reference_short_for(short: Description, full: Description) -> bool:
    """Whether a head names a multi-word class by its last word ("dog" for "hot dog")."""
    return any(" " in c and c.rsplit(" ", 1)[1] in short.heads | short.classes for c in full.classes)


def _reference_color_findings(cluster: dict, candidate: dict, head: str) -> list[Finding]:
    """Colours per part; a colour without a part ("in red") meets every part's colour. The
    nearest pair of comparable colours decides: the same word agrees, colours within
    :data:`~refaug.contrast.colors.NEAR_COLOR_DISTANCE` (in CIELAB) agree as near
    ("beige ~ white"), farther ones conflict."""
    ours = [a for k, v in cluster.items() if k[0] == "color" for a in v]
    theirs = [a for k, v in candidate.items() if k[0] == "color" for a in v]
    pairs = [(a, b) for a in ours for b in theirs if a.key == b.key or not a.key or not b.key]
    if not pairs:
        return []
    a, b, distance = min(((a, b, _reference_distance(a, b)) for a, b in pairs), key=lambda t: (t[2], t[0].value, t[1].value))
    if a.value == b.value or distance == 0:
        return [Finding("color", False, a.word, b.word, head)]
    note = f"CIELAB distance {distance:.1f}" if distance < float("inf") else ""
    return [Finding("color", distance > NEAR_COLOR_DISTANCE, a.word, b.word, head, note)]


def _reference_distance(a: Attribute, b: Attribute) -> float:
    lab_a, lab_b = _reference_lab(a.value), _reference_lab(b.value)
    if lab_a is None or lab_b is None:
        return 0.0 if lx.color_family(a.value) == lx.color_family(b.value) else float("inf")
    return round(lab_distance(lab_a, lab_b), 1)


def _reference_lab(value: str) -> tuple[float, float, float] | None:
    shade, _, word = value.rpartition(" ")
    return color_lab(word, shade)


def _reference_compare(cluster: Description, candidate: Description) -> list[Finding]:
    """The conflicts and agreements between a cluster's description and a candidate's.

    A conflict: the same kind and key with incompatible values ("left" vs "right" on the
    horizontal axis; "red" vs "blue" on the shirt), a polarity flip of one value ("with
    a hat" vs "without a hat", kind ``negation``), heads of different classes or clashing
    tags ("man" vs "woman", kind ``head``), or a landmark (kind ``landmark``): one text
    places its referent by the other's ("the circle below the purple circle" vs "the purple
    circle"), or both by the same one on opposite sides ("left of the car" vs "right of the
    car"). An agreement: the same kind, key and value.

    The minimal-edit finding, added since, is a function of the two wordings alone and has no
    fast path of its own: it is taken from :func:`refaug.contrast.edits.edit_findings`.
    """
    found = _reference_attribute_findings(cluster, candidate) + _reference_landmark_findings(cluster, candidate)
    if cluster.wordings and candidate.wordings:
        found += edit_findings(cluster.wordings, candidate.wordings, cluster.head)
    fixes = dict(cluster.corrections | candidate.corrections)
    return [_reference_with_typos(f, fixes) for f in found] if fixes else found


def _reference_with_typos(finding: Finding, fixes: dict[str, str]) -> Finding:
    """Name the typos a finding's words were read from ("typo: teddt -> teddy")."""
    words = f" {finding.cluster} {finding.candidate} ".lower()
    read = [f"typo: {wrong} -> {right}" for wrong, right in sorted(fixes.items()) if f" {right} " in words]
    if not read:
        return finding
    return finding._replace(note="; ".join([finding.note, *read]) if finding.note else "; ".join(read))


def _reference_attribute_findings(cluster: Description, candidate: Description) -> list[Finding]:
    head = cluster.head
    findings = _reference_head_findings(cluster, candidate)
    # Sorted: the attributes are sets, and the first of several values names a finding; a
    # set's order changes with the process's hash seed, a sorted list does not.
    stated, offered = sorted(cluster.attributes), sorted(candidate.attributes)
    ours, theirs = _reference_by_key(stated, positive=True), _reference_by_key(offered, positive=True)
    findings += _reference_color_findings(ours, theirs, head)
    findings += _reference_ordinal_findings(stated, offered, head)
    findings += _reference_extreme_findings(stated, offered, head)
    for key, values in theirs.items():
        if key[0] in ("color", "ordinal", "extreme") or key not in ours:
            continue
        mine = {a.value: a for a in ours[key]}
        same = [a for a in values if a.value in mine]
        if same:
            findings.append(Finding(_reference_kind(same[0]), False, mine[same[0].value].word, same[0].word, head))
        elif _reference_exclusive(key):
            findings.append(Finding(_reference_kind(values[0]), True, ours[key][0].word, values[0].word, head))
    findings += _reference_polarity_findings(cluster, candidate, head)
    return findings


def _reference_landmark_findings(cluster: Description, candidate: Description) -> list[Finding]:
    """A text whose landmark is the other text's referent, or the same landmark on two sides."""
    head = cluster.head
    # Sorted, as the attributes are: the first landmark found names the finding, and a set's
    # order changes with the process's hash seed (the reason text did, between runs).
    ours_marks, their_marks = _reference_sorted_landmarks(cluster), _reference_sorted_landmarks(candidate)
    for mark in their_marks:
        if (agreed := _reference_is_described(cluster, mark.description())) is not None:
            return [Finding("landmark", True, agreed, mark.word, head)]
    for mark in ours_marks:
        if (agreed := _reference_is_described(candidate, mark.description())) is not None:
            return [Finding("landmark", True, mark.word, agreed, head)]
    found = []
    for ours in ours_marks:
        for theirs in their_marks:
            if ours.axis and ours.axis == theirs.axis and _reference_same_object(ours.description(), theirs.description()):
                found.append(Finding("landmark", ours.relation != theirs.relation, ours.word, theirs.word, head))
    return sorted(found, key=lambda f: not f.conflict)[:1]


def _reference_sorted_landmarks(description: Description) -> list:
    return sorted(description.landmarks, key=lambda m: (m.word, m.head, m.axis, m.relation, sorted(m.attributes)))


def _reference_is_described(referent: Description, landmark: Description) -> str | None:
    """Whether ``landmark`` is ``referent`` itself: the same class, nothing in conflict, and
    something more in common than the class (a colour, a size, a role). Returns the agreeing
    words ("purple circle"), or None."""
    findings = _reference_attribute_findings(referent, landmark)
    if any(f.conflict for f in findings) or not referent.classes & landmark.classes:
        return None
    agreed = [f.cluster for f in findings if f.kind not in ("head", "negation")]
    role = any(t.startswith("role:") for t in referent.tags & landmark.tags)
    return " ".join([*agreed, referent.head]) if agreed or role else None


def _reference_same_object(a: Description, b: Description) -> bool:
    """Whether two landmarks may be one object: a shared class and nothing in conflict."""
    return bool(a.classes & b.classes) and not any(f.conflict for f in _reference_attribute_findings(a, b))


def _reference_exclusive(key: tuple[str, str]) -> bool:
    """Whether two different values of this (kind, key) cannot both hold."""
    kind, where = key
    if kind == "clothing":
        return not where.startswith("item:")
    return kind in _REFERENCE_EXCLUSIVE or (kind == "action" and where == "verb")


def _reference_ordinal_findings(ours: Iterable[Attribute], theirs: Iterable[Attribute], head: str) -> list[Finding]:
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


def _reference_extreme_findings(ours: Iterable[Attribute], theirs: Iterable[Attribute], head: str) -> list[Finding]:
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


def _reference_polarity_findings(cluster: Description, candidate: Description, head: str) -> list[Finding]:
    """The same value with and without a negation ("with a hat" vs "without a hat")."""
    found = []
    ours = {(a.kind, a.key, a.value): a for a in sorted(cluster.attributes)}
    for a in sorted(candidate.attributes):
        other = ours.get((a.kind, a.key, a.value))
        if other is not None and other.positive != a.positive and not any(
            b.positive == a.positive and (b.kind, b.key, b.value) == (a.kind, a.key, a.value)
            for b in sorted(cluster.attributes)
        ):
            found.append(Finding("negation", True, _reference_polar(other), _reference_polar(a), head))
    return found


def _reference_polar(a: Attribute) -> str:
    return a.word if a.positive else f"not {a.word}"



def test_description_hash_is_the_fields_hash_and_stays_out_of_pickles(descriptions):
    """Description caches its hash (the dataclass's: of the fields); a pickle carries none of it."""
    import pickle

    from datasets.fingerprint import Hasher

    d = descriptions[0]
    fields = (d.heads, d.classes, d.tags, d.attributes, d.landmarks, d.corrections, d.wordings)
    assert hash(d) == hash(fields) == hash(d)
    copy = pickle.loads(pickle.dumps(d))
    assert "_hash" not in copy.__dict__  # a str's hash is per process: a pickled one would be wrong elsewhere
    assert copy == d and hash(copy) == hash(d)
    fresh = Description(*fields)
    assert Hasher.hash(d) == Hasher.hash(fresh)  # fingerprints do not see the cached hash
