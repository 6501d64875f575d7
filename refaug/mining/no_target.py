"""Image-level no-target expressions: texts that describe no annotated object of an image.

gRefCOCO's no-target expressions and SAM 3's image-level negatives are phrases that name
nothing in the image. :func:`image_negatives` makes up to ``per_image`` of them per image
from two pools of candidates:

(a) *rewrites*: the rewriters' distractors (the ``distractors`` column: colour, material,
    pattern, count, attribute-swap, type and state variants) of the image's objects' human expressions;
    not the flips of a relative contrast (left/right, size, negation: :data:`RELATIVE_KINDS`),
    which name the object the annotator set the referent against, nor entity swaps, which make
    the landmark the annotator named the head;
(b) *other images*: human expressions of objects of other images whose category (the
    dataset's, else the head class derived by :func:`~refaug.mining.categories.fill_categories`)
    no object of this image has, the most similar to the image's objects first. They come from
    a seeded sample of at most ``sample_size`` texts of the corpus, so the cost is linear in the
    number of images.

Every candidate is judged against every object of its image by the one judgement routine
(:func:`~refaug.mining.judgement.judge_candidates`, which calls
:meth:`ClusterClassifier.judge <refaug.clusters.ClusterClassifier.judge>`) and verified per
object by :func:`~refaug.mining.verification.verify_candidates`: a rewrite against the object
whose expression it rewrote as the rewrite it is (its edit proves it, ``edit``), against the
image's other objects under kind ``no_target`` (a proposal: only a decisive conflict with
their human expressions proves it, ``conflict``), another image's expression as the
``cross_image`` neighbour it is (``category``, or a decisive conflict). A candidate counts
only when *every* object's judgement says it is outside; it is dropped when it is a
(normalised, :func:`refaug.text.normalize_text`) copy of one of the image's own texts, reads
broken (:func:`~refaug.mining.guards.reads_broken`), or (a type variant, another image's text)
names an object that the image's own expressions place their referents by ("girl leaning on
table": a table is there, annotated or not). Its ``verified_by`` is the weakest of its
objects' proofs (proven by the annotation, then only by a machine view, then nothing); with
``require_verified`` only verified ones are kept.

The kept ones rank in tiers (every object proven, some only by a view, unverified), then in
turns over the objects they are anchored at (the object a rewrite was made from, the most
similar object for another image's text) and the two pools, hardest first (highest centroid
cosine to one of the image's objects), so an image's list is diverse across its objects.

Not a candidate source (:mod:`refaug.mining.sources`): a source yields candidates per
referent, judged against that referent alone and ranked into its own list; a no-target
expression belongs to the image and must be outside all of its objects. Mining calls this
module with its corpus (``mine_hard_negatives(..., no_target_per_image=N)``), so nothing is
embedded or parsed twice; the texts are those of the ``distractors`` column and the
dataset's own expressions, so a filter applied to the distractors (the plausibility filter)
applies here too.

Example:
    >>> from refaug.data.synthetic import synthetic_scenes
    >>> from refaug.mining import mine_hard_negatives
    >>> ds = synthetic_scenes(6, image_size=(64, 48))
    >>> out = mine_hard_negatives(ds, num_negatives=3, no_target_per_image=5)  # doctest: +SKIP
    >>> out[0]["no_target"][0]["verified_by"]  # doctest: +SKIP
    'category'
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from datasets import Dataset, Features, List

from refaug.clusters import ClusterClassifier
from refaug.columns import arrow_type, column, item_field, list_lengths, table_dataset, value_counts
from refaug.mining.candidates import KIND_CODE, Candidates, Pool
from refaug.mining.categories import fill_categories
from refaug.mining.corpus import Data, StringTables
from refaug.mining.guards import NEAR_IDENTICAL, reads_broken
from refaug.mining.judgement import judge_candidates
from refaug.mining.sources.distractors import distractor_pool
from refaug.mining.verification import Evidence, verify_candidates
from refaug.records import (
    CANDIDATE_KINDS,
    NO_TARGET_EXTRA_FEATURES,
    NO_TARGET_FEATURE,
    UNVERIFIED,
    VERIFICATIONS,
)
from refaug.vectors import pair_cosines
from refaug.workers import fork_map

logger = logging.getLogger(__name__)

# Texts of the corpus that the other-images pool is drawn from, at most: a seeded sample, so the
# similarity of every image's objects to the pool costs (referents x this), linear in the images.
DEFAULT_SAMPLE_SIZE = 4096
# Other images' texts judged per image, in multiples of per_image: most of them survive (another
# category is a proof, and the head conflict it states makes the judgement call them outside).
CROSS_FACTOR = 2
# Referents whose similarities to the pool are computed at once (memory: this x sample_size floats).
CHUNK_IMAGES = 512
# Rounds of other images' texts, CROSS_FACTOR * per_image each: the later ones only for the images
# whose list is still short (the judgement or the screening dropped many of the first ones).
ROUNDS = 3
# Rewrites that flip a *relative* contrast are not no-target candidates: a referring expression's
# "left", "bigger" or "not the topmost" sets the object against another one of its class in the
# image, so the flip names that other object ("guy on right" -> "guy on left"), annotated or not.
# Against an annotated one the judgement catches it; an unannotated one nothing can. On the real
# development file (benchmarks/no_target.py) such flips were most of the kept texts that read like
# one of the image's own expressions (cosine >= 0.90 to it: 2.5% of all kept, 0.8% without them).
# Nor are role reversals that swap two entities: the landmark the annotator named is in the image,
# and the swap makes it the head, true of it whenever the relation is symmetric ("mother by
# child" -> "child by mother"); those were most of the rest. Absolute edits (colour, material,
# pattern, count, state, type, an attribute swap between two nouns) stay.
RELATIVE_KINDS: frozenset[str] = frozenset({"negation"})
RELATIVE_DETAILS: tuple[str, ...] = ("spatial:", "size:")
ENTITY_SWAP_KIND = "role_reversal"
ATTRIBUTE_SWAP_DETAIL = "attribute:"  # a role reversal's detail when it swaps attributes, not entities
TIER_NAMES: tuple[str, ...] = ("proven against every object", "some only by a view", "unverified")
POOLS: tuple[str, ...] = ("rewrite", "other_image")
NO_TARGET_COLUMN = "no_target"
# A filter of generated texts (image_negatives' ``keep``): text codes -> a keep mask.
KeepTexts = Callable[[np.ndarray], np.ndarray]


class NoTargetTexts:
    """What :func:`refaug.mining.corpus.prepare` calls on a source, for the no-target step: the
    ``distractors`` column's texts interned before the corpus is embedded (no source need be on)."""

    columns = ("distractors",)

    def __init__(self) -> None:
        self.pool: Pool | None = None

    def add_texts(self, rows: dict[str, list], tables: StringTables) -> None:
        if rows.get("distractors") is not None:
            self.pool = distractor_pool(rows["distractors"], tables)


@dataclass
class NoTargetReport:
    """What the no-target step did: per image counts, the judgement's and the rules' drops."""

    images: int = 0
    per_image: int = 0
    kept: Counter = field(default_factory=Counter)  # by kind made from
    verified_by: Counter = field(default_factory=Counter)
    considered: Counter = field(default_factory=Counter)  # by pool
    dropped: Counter = field(default_factory=Counter)  # by rule
    seconds: float = 0.0

    def add(self, other: NoTargetReport) -> None:
        """Add another part's counts (a chunk of images) to these."""
        for name in ("kept", "verified_by", "considered", "dropped"):
            getattr(self, name).update(getattr(other, name))

    def log(self) -> None:
        total = sum(self.kept.values())
        verified = total - self.verified_by.get(UNVERIFIED, 0)
        logger.info("no-target: %d expressions for %d images (cap %d per image), %.1f%% verified (%s); "
                    "considered %s; dropped %s; %.1fs", total, self.images, self.per_image,
                    100.0 * verified / max(total, 1), dict(self.verified_by), dict(self.considered),
                    dict(self.dropped), self.seconds)


@dataclass
class _Candidate:
    """One no-target candidate of one image, before the judgement."""

    vocab: int
    kind: int  # code of the kind it was made from
    detail: int  # into data.details
    origin: int  # rewrites: into data.origins (the text rewritten); others: the owner referent
    anchor: int  # the referent it is anchored at
    pool: int  # index into POOLS


@dataclass
class _Image:
    """One image's state in the no-target step: its objects, their similarity to the sample, and
    what it has considered and kept so far (later rounds only refill a short list)."""

    code: int
    members: np.ndarray
    present: set[int]  # category codes of its objects
    sims: np.ndarray | None  # (len(members), sample) centroid cosines
    seen: set[int] = field(default_factory=set)  # normalised keys already considered
    kept: int = 0
    candidates: list[_Candidate] = field(default_factory=list)  # this round's


def _human_texts(data: Data) -> list[set[str]]:
    return [{data.texts[i] for i in data.humans(r)} for r in range(data.n)]


def _relative(data: Data, pool: Pool, j: int) -> bool:
    """True when distractor ``j`` flips a relative contrast (:data:`RELATIVE_KINDS`, :data:`RELATIVE_DETAILS`)
    or swaps two entities (a role reversal other than an attribute swap)."""
    kind, detail = CANDIDATE_KINDS[pool.kind[j]], data.details[pool.detail[j]]
    if kind == ENTITY_SWAP_KIND:
        return not detail.startswith(ATTRIBUTE_SWAP_DETAIL)
    return kind in RELATIVE_KINDS or detail.startswith(RELATIVE_DETAILS)


def _rewrite_candidates(data: Data, pool: Pool | None, members: np.ndarray, humans: list[set[str]]
                        ) -> list[_Candidate]:
    """The distractors of the referents ``members`` that rewrite one of their human expressions
    with an absolute edit (not :func:`_relative`)."""
    if pool is None:
        return []
    out = []
    for r in members.tolist():
        for j in range(pool.ptr[r], pool.ptr[r + 1]):
            if data.origins[pool.origin[j]] in humans[r] and not _relative(data, pool, j):
                out.append(_Candidate(int(pool.vocab[j]), int(pool.kind[j]), int(pool.detail[j]),
                                      int(pool.origin[j]), r, 0))
    return out


@dataclass
class _OtherImages:
    """The seeded sample of other images' human expressions: text, owner, owner's category code."""

    vocab: np.ndarray
    owner: np.ndarray
    category: np.ndarray


def _other_images_sample(data: Data, category: np.ndarray, *, sample_size: int, seed: int) -> _OtherImages:
    owner = np.repeat(np.arange(data.n), np.diff(data.human_ptr))
    vocab = data.human_idx
    known = category[owner] >= 0
    vocab, owner = vocab[known], owner[known]
    _, first = np.unique(vocab, return_index=True)  # one owner per distinct text
    first = np.sort(first)
    if len(first) > sample_size:
        first = np.sort(np.random.default_rng(seed).choice(first, sample_size, replace=False))
    return _OtherImages(vocab[first], owner[first], category[owner[first]])


def _cross_candidates(data: Data, sample: _OtherImages, image: _Image, k: int, skip: int) -> list[_Candidate]:
    """The texts of the sample of absent categories ranked ``skip .. skip + k - 1`` by their
    highest centroid cosine to one of the image's objects."""
    if k <= 0 or image.sims is None or len(sample.vocab) == 0:
        return []
    members, sims = image.members, image.sims
    best = sims.max(axis=0)
    excluded = np.isin(sample.category, list(image.present)) | (data.image[sample.owner] == image.code)
    best = np.where(excluded, -np.inf, best)
    end = min(skip + k, int(np.isfinite(best).sum()))
    if end <= skip:
        return []
    top = np.argpartition(-best, end - 1)[:end]
    top = top[np.argsort(-best[top], kind="stable")][skip:end]
    anchors = members[sims[:, top].argmax(axis=0)]
    return [_Candidate(int(sample.vocab[j]), KIND_CODE["cross_image"], int(sample.owner[j]), int(sample.owner[j]),
                       int(a), 1) for j, a in zip(top.tolist(), anchors.tolist(), strict=True)]


def _image_groups(data: Data) -> tuple[np.ndarray, np.ndarray]:
    """Referents sorted by image, and the CSR pointer of each image's slice."""
    order = np.argsort(data.image, kind="stable")
    counts = np.bincount(data.image, minlength=int(data.image.max(initial=-1)) + 1)
    return order, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _named_in_image(data: Data, classifier: ClusterClassifier, members: np.ndarray) -> set[str]:
    """The objects the image's human expressions place their referents by: heads and classes
    ("girl leaning on table" names a table, class dining table): they are in the image."""
    texts = [data.texts[i] for r in members.tolist() for i in data.humans(r)]
    return {name for d in classifier.describe(texts) for lm in d.landmarks for name in (lm.head, *lm.classes)}


def _names_a_present_object(data: Data, classifier: ClusterClassifier, c: _Candidate, named: set[str]) -> bool:
    """A type variant or another image's text whose head (or its class, or the owner's category)
    is an object the image's expressions name (:func:`_named_in_image`)."""
    if not named or (c.pool == 0 and CANDIDATE_KINDS[c.kind] != "type"):
        return False
    found = classifier.describe([data.texts[c.vocab]])[0]
    names = {*found.heads, *found.classes, *((data.category[c.origin],) if c.pool == 1 else ())}
    return bool(names & named)


def _screen(data: Data, classifier: ClusterClassifier, candidates: list[_Candidate], image: _Image,
            broken: np.ndarray, report: NoTargetReport) -> list[_Candidate]:
    """Drop copies of the image's own texts, repeats, broken texts and texts naming an object the
    image's expressions name (counted per rule)."""
    own = {int(data.norm[i]) for r in image.members.tolist() for i in data.members(r)}
    named = _named_in_image(data, classifier, image.members)
    seen = image.seen
    out = []
    for c in candidates:
        report.considered[POOLS[c.pool]] += 1
        key = int(data.norm[c.vocab])
        rule = "duplicate" if key in own else "repeated" if key in seen else "malformed" if broken[c.vocab] else None
        if rule is None and _names_a_present_object(data, classifier, c, named):
            rule = "named_in_image"
        if rule:
            report.dropped[rule] += 1
            continue
        seen.add(key)
        out.append(c)
    return out


def _pairs(data: Data, images: list[_Image]) -> Candidates:
    """One candidate per (candidate, object of its image), grouped by candidate."""
    row, vocab, kind, detail, origin = [], [], [], [], []
    no_target = KIND_CODE["no_target"]
    for image in images:
        for c in image.candidates:
            for r in image.members.tolist():
                row.append(r)
                vocab.append(c.vocab)
                if c.pool == 1:  # another image's text: the neighbour it is (owner = origin)
                    kind.append(c.kind)
                    detail.append(c.detail)
                    origin.append(c.origin)
                else:  # the rewrite it is for its own object, a proposal for the others
                    kind.append(c.kind if r == c.anchor else no_target)
                    detail.append(c.detail)
                    origin.append(c.origin)
    arrays = [np.asarray(a, np.int64) for a in (row, vocab, kind, detail, origin)]
    sim = pair_cosines(data.vectors, data.centroid, arrays[1], arrays[0])
    return Candidates.of(row=arrays[0], vocab=arrays[1], kind=arrays[2], detail=arrays[3], origin=arrays[4], sim=sim)


def _pair_strength(verification: Any) -> np.ndarray:
    """Per pair: 0 proven by the annotation (or an own edit), 1 verified by a view only, 2 unverified."""
    strength = np.full(len(verification.code), 2, np.int64)
    strength[verification.verified] = 1
    strength[verification.proven] = 0
    return strength


def image_negatives(data: Data, classifier: ClusterClassifier, evidence: Evidence, *, pool: Pool | None,
                    per_image: int = 30, require_verified: bool = True, seed: int = 0,
                    sample_size: int = DEFAULT_SAMPLE_SIZE, keep: KeepTexts | None = None, workers: int = 1,
                    as_arrow: bool = False) -> tuple[list[list[dict]] | pa.ListArray, NoTargetReport]:
    """Up to ``per_image`` no-target expressions per image of ``data`` (see the module docstring).

    Args:
        data: mining's corpus (:func:`refaug.mining.corpus.prepare`).
        classifier: the judgement (mining's :class:`~refaug.clusters.ClusterClassifier`).
        evidence: mining's :class:`~refaug.mining.verification.Evidence`.
        pool: the distractors per referent (:class:`NoTargetTexts`'s; None: none).
        per_image: the cap per image (30). require_verified: keep only verified ones (True).
        seed: the sample's and the tie-break's seed (0). sample_size: the other-images sample (4096).
        keep: the hook of a filter of generated texts (e.g. the plausibility filter): given the text
            codes of an image's next finalists that a rewriter wrote (not the other images' texts), a
            boolean mask of those to keep; called lazily, window by window, until the image's list
            is full (None: keep all). Its drops count under ``filtered``.
        workers: processes that take the chunks of images, forked from this one (1: this one);
            the same lists.
        as_arrow: return the lists as one Arrow array of :func:`no_target_feature`'s type, each
            chunk's converted where it is made (a RefCOCO-sized run's 600,000 dicts are never
            held at once).

    Returns:
        Per referent, the no-target expressions anchored at it (dicts of
        :data:`refaug.records.NO_TARGET_FEATURE`), and the :class:`NoTargetReport`.
    """
    if per_image < 1:
        raise ValueError(f"per_image={per_image} must be >= 1")
    start = time.perf_counter()
    report = NoTargetReport(per_image=per_image)
    category = fill_categories(data)
    order, ptr = _image_groups(data)
    images = [i for i in range(len(ptr) - 1) if ptr[i + 1] > ptr[i]]
    report.images = len(images)
    work = _Work(data, classifier, evidence, pool, _human_texts(data),
                 _other_images_sample(data, category, sample_size=sample_size, seed=seed),
                 np.fromiter((reads_broken(t) for t in data.texts), bool, len(data.texts)), category, order, ptr,
                 per_image, require_verified, seed, keep, as_arrow)
    chunks = [images[c0 : c0 + CHUNK_IMAGES] for c0 in range(0, len(images), CHUNK_IMAGES)]
    workers = max(1, min(workers, len(chunks)))
    done = fork_map(_image_chunk, chunks, workers=workers, state=work, recycle=1) if workers > 1 else \
        (_image_chunk(work, chunk) for chunk in chunks)
    anchors, parts = [], []
    for found, lists, part in done:  # each image's anchors are its own objects: no list is split over chunks
        anchors.append(found)
        parts.append(lists)
        report.add(part)
    out = _in_row_order(anchors, parts, data.n, as_arrow)
    report.seconds = time.perf_counter() - start
    report.log()
    return out, report


def _in_row_order(anchors: list[np.ndarray], parts: list, rows: int, as_arrow: bool) -> list[list[dict]] | pa.Array:
    """The chunks' lists (``parts``, of the referents ``anchors``) as one per row, empty where none."""
    if not as_arrow:
        out: list[list[dict]] = [[] for _ in range(rows)]
        for found, lists in zip(anchors, parts, strict=True):
            for anchor, items in zip(found.tolist(), lists, strict=True):
                out[anchor] = items
        return out
    found = np.concatenate([np.zeros(0, np.int64), *anchors])
    values = pa.concat_arrays([*parts, pa.array([[]], type=arrow_type(no_target_feature()))])  # last: an empty list
    position = np.full(rows, len(found), np.int64)
    position[found] = np.arange(len(found))
    return values.take(pa.array(position))


@dataclass(frozen=True)
class _Work:
    """What every chunk of images reads (a forked worker inherits it)."""

    data: Data
    classifier: ClusterClassifier
    evidence: Evidence
    pool: Pool | None
    humans: list[set[str]]
    sample: _OtherImages
    broken: np.ndarray
    category: np.ndarray
    order: np.ndarray
    ptr: np.ndarray
    per_image: int
    require_verified: bool
    seed: int
    keep: KeepTexts | None
    as_arrow: bool


def _image_chunk(work: _Work, chunk: list[int]) -> tuple[np.ndarray, list[list[dict]] | pa.Array, NoTargetReport]:
    """The referents of a chunk of images that anchor no-target lists, their lists (an Arrow
    array with ``as_arrow``) and the chunk's counts."""
    data, order, ptr, per_image = work.data, work.order, work.ptr, work.per_image
    report = NoTargetReport(per_image=per_image)
    out: defaultdict[int, list[dict]] = defaultdict(list)
    k = CROSS_FACTOR * per_image
    rows = order[ptr[chunk[0]] : ptr[chunk[-1] + 1]]
    sims = data.centroid[rows] @ data.vectors[work.sample.vocab].T if len(work.sample.vocab) else None
    images = [_Image(i, order[ptr[i] : ptr[i + 1]], {int(c) for c in work.category[order[ptr[i] : ptr[i + 1]]] if c >= 0},
                     sims[ptr[i] - ptr[chunk[0]] : ptr[i + 1] - ptr[chunk[0]]] if sims is not None else None)
              for i in chunk]
    for round_ in range(ROUNDS):  # round 0: rewrites and the hardest k; then the next k where short
        todo = [w for w in images if w.kept < per_image] if round_ else images
        for w in todo:
            w.candidates = (_rewrite_candidates(data, work.pool, w.members, work.humans) if round_ == 0 else []) \
                + _cross_candidates(data, work.sample, w, k, round_ * k)
        todo = [w for w in todo if w.candidates]
        if not todo:
            break
        work.classifier.describe([data.texts[c.vocab] for w in todo for c in w.candidates]  # one nlp.pipe pass
                                 + [data.texts[j] for w in todo for r in w.members.tolist() for j in data.humans(r)])
        for w in todo:
            w.candidates = _screen(data, work.classifier, w.candidates, w, work.broken, report)
        _judge_and_select(data, work.classifier, work.evidence, todo, out, report, per_image=per_image,
                          require_verified=work.require_verified, seed=work.seed, keep=work.keep)
    anchors = np.fromiter(out.keys(), np.int64, len(out))
    lists = list(out.values())
    return anchors, pa.array(lists, type=arrow_type(no_target_feature())) if work.as_arrow else lists, report


def _judge_and_select(data: Data, classifier: ClusterClassifier, evidence: Evidence,
                      prepared: list[_Image], out: defaultdict[int, list[dict]],
                      report: NoTargetReport, *, per_image: int, require_verified: bool, seed: int,
                      keep: KeepTexts | None) -> None:
    """Judge a chunk of images' candidates against every object, then choose each image's list."""
    flat = _pairs(data, prepared)
    if len(flat.row) == 0:
        return
    alive = np.ones(len(flat.row), bool)
    judgement = judge_candidates(flat, data, classifier, alive)
    verification = verify_candidates(flat, data, judgement, evidence, alive,
                                     same_classifier=evidence.classifier is classifier, near_identical=NEAR_IDENTICAL)
    strength = _pair_strength(verification)
    start = 0
    for image in prepared:
        n_obj = len(image.members)
        chosen = []
        for c in image.candidates:
            span = slice(start, start + n_obj)
            start += n_obj
            if judgement.inside[span].any():
                report.dropped["inside_an_object"] += 1
                continue
            weakest = int(np.argmax(strength[span]))
            tier = int(strength[span][weakest])
            if require_verified and tier == 2:
                report.dropped["unverified"] += 1
                continue
            chosen.append((c, tier, float(flat.sim[span].max()), span, weakest))
        image.kept += _select(data, chosen, flat, verification, judgement.note, out, report,
                              per_image=per_image - image.kept, first_rank=image.kept, seed=seed, keep=keep)


def _select(data: Data, chosen: list[tuple], flat: Candidates, verification: Any, note: np.ndarray,
            out: defaultdict[int, list[dict]], report: NoTargetReport, *, per_image: int, first_rank: int, seed: int,
            keep: KeepTexts | None) -> int:
    """Rank an image's surviving candidates (tier, turn over anchors and pools, hardness); keep
    ``per_image`` (ranks from ``first_rank``); return how many were kept."""
    if not chosen:
        return 0
    rng = np.random.default_rng(seed + int(flat.row[chosen[0][3].start]))
    tiebreak = rng.permutation(len(chosen))
    by_queue: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    for k in sorted(range(len(chosen)), key=lambda k: (chosen[k][1], -chosen[k][2], tiebreak[k])):
        c, tier = chosen[k][0], chosen[k][1]
        by_queue[(tier, c.anchor, c.pool)].append(k)
    turn = {k: t for queue in by_queue.values() for t, k in enumerate(queue)}
    ranked = sorted(range(len(chosen)), key=lambda k: (chosen[k][1], turn[k], -chosen[k][2], tiebreak[k]))
    window, filtered = _window(ranked, chosen, per_image, keep)
    report.dropped["filtered"] += filtered
    report.dropped["over_the_cap"] += len(ranked) - len(window) - filtered
    for rank, k in enumerate(window, first_rank):
        c, tier, sim, span, weakest = chosen[k]
        code = int(verification.code[span][weakest])
        proofs = [f"{data.ids[int(flat.row[p])]}: {VERIFICATIONS[int(verification.code[p])]}"
                  + (f" ({note[p]})" if note[p] else "") for p in range(span.start, span.stop)]
        kind = CANDIDATE_KINDS[c.kind]
        out[c.anchor].append({
            "text": data.texts[c.vocab], "kind": kind, "detail": data.details[c.detail],
            "origin": data.origins[c.origin] if c.pool == 0 else data.ids[c.origin],
            "verified_by": VERIFICATIONS[code], "similarity": sim,
            "reason": f"outside all {len(proofs)} objects ({TIER_NAMES[tier]}); " + "; ".join(proofs),
            "rank": rank})
        report.kept[kind] += 1
        report.verified_by[VERIFICATIONS[code]] += 1
    return len(window)


def _window(ranked: list[int], chosen: list[tuple], per_image: int, keep: KeepTexts | None
            ) -> tuple[list[int], int]:
    """The first ``per_image`` of ``ranked`` that ``keep`` passes (it sees the generated ones only),
    and how many it dropped."""
    if keep is None:
        return ranked[:per_image], 0
    out: list[int] = []
    i = dropped = 0
    while len(out) < per_image and i < len(ranked):
        batch = ranked[i : i + per_image - len(out)]
        i += len(batch)
        generated = [k for k in batch if chosen[k][0].pool == 0]
        mask = np.asarray(keep(np.asarray([chosen[k][0].vocab for k in generated], np.int64)), bool) \
            if generated else np.zeros(0, bool)
        failed = {k for k, ok in zip(generated, mask, strict=True) if not ok}
        dropped += len(failed)
        out += [k for k in batch if k not in failed]
    return out, dropped


def no_target_feature() -> List:
    """The ``no_target`` column's feature."""
    return List(dict(NO_TARGET_FEATURE))


# ---------------------------------------------------------------- published rows and counts


def no_target_rows(ds: Dataset, *, first_ref_id: int) -> Dataset:
    """The ``no_target`` column of referent rows as gRefCOCO-style no-target rows, one per expression.

    The layout of :func:`refaug.data.load_refer`'s ``<split>_no_target`` splits (``ref_id,
    image_id, expression, image, split``) plus ``kind, detail, origin, verified_by, similarity,
    reason``. Each image is one no-target ref (new ``ref_id``\\ s from ``first_ref_id``, in the
    order of the images' first rows), its expressions in rank order.

    ``image`` is left empty: an image's 30 rows would otherwise each carry a copy of its bytes (at
    RefCOCO's size, 20,000 images x 30 copies: gigabytes, past Arrow's 2 GB column limit; and a
    file name alone is embedded from disk again by every Parquet or Hub export). The pixels are
    in the referent split's rows of the same ``image_id``; a refer export names the COCO file.
    """
    from refaug.data.refer import NO_TARGET_FEATURES

    features = Features({**NO_TARGET_FEATURES, **NO_TARGET_EXTRA_FEATURES})
    if NO_TARGET_COLUMN not in ds.column_names:
        return Dataset.from_dict({name: [] for name in features}, features=features)
    lists = column(ds, NO_TARGET_COLUMN)
    items = pc.list_flatten(lists)
    parent = np.asarray(pc.list_parent_indices(lists), np.int64)
    # each image is one ref, numbered in the order of its first row; its items by rank, ties in row order
    image_of_row, _ = pd.factorize(column(ds, "image_id").to_pandas())
    image = image_of_row[parent]
    order = np.lexsort((np.arange(len(parent)), np.asarray(pc.struct_field(items, "rank"), np.int64), image))
    used = np.unique(image)  # the images with an item, in order of their first row
    ref_id = first_ref_id + np.searchsorted(used, image[order])
    rows = pa.array(parent[order])
    arrays = {"ref_id": pa.array(ref_id, pa.int64()),
              "image_id": column(ds, "image_id").take(rows).cast(pa.int64()),
              "expression": pc.struct_field(items, "text").take(pa.array(order)),
              "image": pa.nulls(len(order), arrow_type(features["image"])),
              "split": column(ds, "split").take(rows),
              **{name: pc.struct_field(items, name).take(pa.array(order)) for name in NO_TARGET_EXTRA_FEATURES}}
    table = pa.table({name: pa.chunked_array([a]) if isinstance(a, pa.Array) else a for name, a in arrays.items()})
    return table_dataset(table, features)


def no_target_stats(ds: Dataset) -> dict[str, Any]:
    """Counts for the run report: images with no-target expressions, per-image mean, verified share.

    Also the minimum and median per image over the images with two or more objects, and the
    expressions per ``kind`` (what they were made from) and per ``verified_by``.
    """
    if NO_TARGET_COLUMN not in ds.column_names:
        return {}
    keys = pd.MultiIndex.from_arrays([column(ds, "split").to_pandas(), column(ds, "image_id").to_pandas()])
    image, _ = pd.factorize(keys)
    images = int(image.max(initial=-1)) + 1
    objects = dict(enumerate(np.bincount(image, minlength=images).tolist()))
    per_image = dict(enumerate(np.bincount(image, weights=list_lengths(ds, NO_TARGET_COLUMN),
                                           minlength=images).astype(np.int64).tolist()))
    kinds = value_counts(item_field(ds, NO_TARGET_COLUMN, "kind"))
    verified = value_counts(item_field(ds, NO_TARGET_COLUMN, "verified_by"))
    total = sum(per_image.values())
    multi = [per_image[k] for k in objects if objects[k] >= 2]
    return {
        "images": len(objects), "images_with": sum(1 for k in objects if per_image[k]), "expressions": total,
        "per_image_mean": total / max(len(objects), 1),
        "verified_share": (total - verified.get(UNVERIFIED, 0)) / total if total else 0.0,
        "multi_object_images": len(multi), "multi_object_min": min(multi, default=0),
        "multi_object_median": float(np.median(multi)) if multi else 0.0,
        "by_kind": dict(kinds), "verified_by": dict(verified),
    }


def check_per_image(value: int, *, output_format: str, name: str = "no_target_per_image") -> None:
    """``ValueError`` for a negative cap, or a cap with a flat output format (no column to hold them)."""
    if value < 0:
        raise ValueError(f"{name}={value} must be >= 0 (0: no no-target expressions)")
    if value and output_format != "nested":
        raise ValueError(f"{name}={value} needs output_format='nested' (the {output_format!r} format has no "
                         f"column for them); pass {name}=0 or output_format='nested'")



def no_target_splits(splits: dict[str, Dataset]) -> dict[str, Dataset]:
    """``<split>_no_target`` datasets (:func:`no_target_rows`) of the referent splits that have any.

    The new ``ref_id``\\ s follow the largest ref id of every split, so none repeats an existing one.
    """
    next_id = 1 + max((max(ds["ref_id"], default=-1) for ds in splits.values() if "ref_id" in ds.column_names),
                      default=-1)
    out = {}
    for name, ds in splits.items():
        rows = no_target_rows(ds, first_ref_id=next_id)
        if len(rows):
            out[f"{name}_no_target"] = rows
            next_id = max(rows["ref_id"]) + 1
    return out
