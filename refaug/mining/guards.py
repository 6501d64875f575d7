"""The guards: an ordered list of rules that drop likely false negatives and unproven ones, counted per kind.

Each rule is a function of explicit inputs (:class:`RuleInputs`) returning a
:class:`Verdict` (what it drops, and what it keeps by exception); the rules run in the order
of :data:`GUARD_RULES`, each on the candidates the earlier ones left:

1. ``malformed``: the text reads broken (:func:`reads_broken`: empty, a word doubled, as in
   "the tie tie second from top", or a conjunction or article at the end);
2. ``duplicate``: the candidate is an exact or near-exact duplicate of a cluster text
   (:func:`refaug.text.normalize_text`; for a same-image text, two objects annotated alike);
3. ``repeated``: the same text came for the referent more than once (the copy of the
   strongest provenance stays, :data:`KIND_PRIORITY`);
4. ``ambiguous``: a same-image expression with no stated conflict whose wording is nearly
   that of one of the referent's own human expressions (:data:`NEAR_IDENTICAL`): an
   ambiguous annotation, which may describe this referent too (examples are logged);
5. ``inside_cluster``: :func:`~refaug.mining.judgement.judge_candidates` calls it inside,
   unless proven negative (:attr:`Verification.proven <refaug.mining.verification.Verification.proven>`:
   same image, another category, a conflict with the human expressions, or an own edit that
   contradicts a text of the referent): a cut-off on similarity guesses, the proof knows;
6. ``max_similarity``: its centroid cosine is above ``max_similarity`` (the user's cap, for all);
7. ``relative_margin``: its cosine is above ``s - |s| * relative_margin``, ``s`` the loosest
   member's; a proof or a decisive conflict of the judgement keeps it (a sure negative);
8. ``unverified``: with ``require_verified``, nothing proves it (``verified_by`` ``none``);
9. ``selection``: with ``selection="sam3"``, a cross-image candidate below ``similarity_floor``
   or sharing no attribute with the referent besides the conflict (SAM 3's rule).

The judgement and the verification (:mod:`refaug.mining.verification`) are made once per
chunk, right before the first rule that needs them, on the candidates still alive.
:func:`search_ceiling` is the cosine at and above which no rule would keep a text, so the
cross-image search can skip those rows.

Example:
    >>> [rule.name for rule in GUARD_RULES]  # doctest: +NORMALIZE_WHITESPACE
    ['malformed', 'duplicate', 'repeated', 'ambiguous', 'inside_cluster', 'max_similarity', 'relative_margin',
     'unverified', 'selection']
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np

from refaug.clusters import ClusterClassifier
from refaug.mining.candidates import KIND_CODE, Candidates
from refaug.mining.corpus import Data
from refaug.mining.judgement import CandidateJudgement, cluster_cutoffs, judge_candidates
from refaug.mining.verification import (
    NEIGHBOUR_KINDS,
    PROPOSAL_KINDS,
    REWRITE_KINDS,
    Evidence,
    Verification,
    build_evidence,
    verify_candidates,
)
from refaug.records import CANDIDATE_KINDS
from refaug.text import normalize_text

logger = logging.getLogger(__name__)

# Keep a negative only if it is at least 5% of the loosest member's similarity below it:
# NV-Retriever's best setting, TopK-PercPos 95% (arXiv:2407.15831), the value
# sentence-transformers' mine_hard_negatives recommends for its relative_margin.
DEFAULT_RELATIVE_MARGIN = 0.05
# "Near-identical wording": a same-image expression whose cosine (all-MiniLM-L6-v2) to one of the
# referent's own human expressions is at least this, with no conflict stated. Measured on the
# real development file (benchmarks/real_quality.py, "near_identical" in
# benchmarks/results/real_quality.json): 8.5% of the pairs of one object's own expressions reach
# it, 0.6% of the pairs of two objects of one image (12 of 1,883); above it those read as the
# same words ("left bear" / "bear on left", "left blue truck" twice) or differ in one stated word
# ("giraffe on left" / "giraffe on right"), which the conflict then keeps. Reordered words fall
# well below it ("man on left" / "left man" 0.74), exact duplicates are the duplicate rule's.
NEAR_IDENTICAL = 0.90
# SAM 3's selection rule (Carion et al. 2025, "SAM 3: Segment Anything with Concepts", hard
# negatives of the SA-Co data engine): a negative must be similar (cosine to the centroid at
# least this) and share an attribute. The floor is the median centroid cosine of the kept
# (verified) same-class neighbours on the development file: 0.60 (benchmarks/results/real_quality.json).
DEFAULT_SIMILARITY_FLOOR = 0.60

Selection = Literal["verified", "sam3"]
SELECTIONS: tuple[str, ...] = get_args(Selection)


@dataclass(frozen=True)
class GuardSettings:
    """The guards' options for one mining call."""

    classifier: ClusterClassifier
    evidence: Evidence
    max_similarity: float | None
    margin_bound: np.ndarray  # (R,) relative-margin bound per referent (inf: none)
    broken: np.ndarray  # (V,) True where the text reads broken (reads_broken)
    require_verified: bool = True
    selection: str = "verified"
    similarity_floor: float = DEFAULT_SIMILARITY_FLOOR


def guard_settings(data: Data, classifier: ClusterClassifier, *, max_similarity: float | None,
                   relative_margin: float | None, require_verified: bool = True, selection: str = "verified",
                   similarity_floor: float = DEFAULT_SIMILARITY_FLOOR) -> GuardSettings:
    """The settings of :func:`apply_guards`: the per-referent relative-margin bound, the evidence."""
    bound = np.full(data.n, np.inf, np.float32)
    if relative_margin is not None:
        bound = (data.min_member - np.abs(data.min_member) * relative_margin).astype(np.float32)
    broken = np.fromiter((reads_broken(t) for t in data.texts), bool, len(data.texts))
    return GuardSettings(classifier=classifier, evidence=build_evidence(data, classifier),
                         max_similarity=max_similarity, margin_bound=bound, broken=broken,
                         require_verified=require_verified,
                         selection=selection, similarity_floor=similarity_floor)


def search_ceiling(settings: GuardSettings, data: Data) -> np.ndarray:
    """Per referent, the centroid similarity at and above which the search may skip texts.

    With ``require_verified`` only ``max_similarity`` bounds it: a proof (another category, a
    stated conflict) keeps a candidate of any cosine. Without it, and with a judgement that is a
    cut-off on the centroid cosine (and finds no sure negatives), the search prunes as it did
    before verification, by the cut-off and the relative margin: fast, and exact below them,
    at the price of the proven neighbours above them.
    """
    limit = np.inf if settings.max_similarity is None else np.nextafter(
        np.float32(settings.max_similarity), np.float32(np.inf))
    clf = settings.classifier
    if settings.require_verified or not clf.centroid_based or clf.rule.finds_sure_negatives:
        return np.full(data.n, limit, np.float32)
    ceiling = np.minimum(np.nextafter(settings.margin_bound, np.float32(np.inf)), limit)
    return np.minimum(ceiling, cluster_cutoffs(data, clf)).astype(np.float32)


@dataclass(frozen=True)
class RuleInputs:
    """What a rule may look at."""

    flat: Candidates
    data: Data
    settings: GuardSettings
    keys: np.ndarray  # (referent, normalised text) key per candidate
    cluster_keys: np.ndarray  # the keys of the chunk's cluster members
    alive: np.ndarray  # the candidates the earlier rules left
    judgement: CandidateJudgement | None  # set for the rules that need it
    verification: Verification | None  # set with the judgement


@dataclass(frozen=True)
class Verdict:
    """What a rule drops, and what it keeps by exception (counted under the dict's key)."""

    drop: np.ndarray
    kept: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class GuardRule:
    """One guard: its name (in the logs and counts) and its check."""

    name: str
    check: Callable[[RuleInputs], Verdict]
    needs_judgement: bool = False


# Which copy of a text that comes for a referent from several sources the ``repeated`` rule
# keeps: the one with the strongest provenance (another object of the same image, then the
# referent's own edit, then a proposal, then a neighbour of another image).
KIND_PRIORITY: tuple[str, ...] = ("same_image", *REWRITE_KINDS, *PROPOSAL_KINDS, "same_class", "cross_image")


def first_occurrence(keys: np.ndarray, alive: np.ndarray, priority: np.ndarray | None = None) -> np.ndarray:
    """True where an alive entry is its key's first among alive entries (by ``priority``, then position)."""
    first = np.zeros(len(keys), bool)
    alive_pos = np.nonzero(alive)[0]
    if priority is not None:
        alive_pos = alive_pos[np.argsort(priority[alive_pos], kind="stable")]
    _, idx = np.unique(keys[alive_pos], return_index=True)
    first[alive_pos[idx]] = True
    return first | ~alive


# Words a text cannot end on: a conjunction or an article left hanging ("the chair sitting in it
# and", a verb phrase cut short). A final preposition is English ("the chair she is sitting on").
DANGLING_WORDS = frozenset({"and", "or", "but", "nor", "the", "a", "an"})


def reads_broken(text: str) -> bool:
    """True for a text no reader would take as written: empty, one word twice in a row, or a
    conjunction or article at the end (:data:`DANGLING_WORDS`).

    Example:
        >>> reads_broken("the tie tie second from top"), reads_broken("the chair sitting in it and")
        (True, True)
        >>> reads_broken("the tie second from top")
        False
    """
    words = normalize_text(text).split()
    return not words or words[-1] in DANGLING_WORDS or any(a == b for a, b in zip(words, words[1:]))


def _malformed(inputs: RuleInputs) -> Verdict:
    return Verdict(inputs.settings.broken[inputs.flat.vocab])


def _duplicate(inputs: RuleInputs) -> Verdict:
    return Verdict(np.isin(inputs.keys, inputs.cluster_keys))


def _repeated(inputs: RuleInputs) -> Verdict:
    rank = np.asarray([KIND_PRIORITY.index(k) for k in CANDIDATE_KINDS], np.int64)
    return Verdict(~first_occurrence(inputs.keys, inputs.alive, rank[inputs.flat.kind]))


def _ambiguous(inputs: RuleInputs) -> Verdict:
    flat, verification = inputs.flat, inputs.verification
    drop = inputs.alive & (flat.kind == KIND_CODE["same_image"]) & ~verification.stated_conflict
    drop &= verification.human_cosine >= NEAR_IDENTICAL
    for i in np.nonzero(drop)[0][:3]:
        logger.info("ambiguous annotation: %r (another object of image %s) reads like %r's own expressions "
                    "and states no conflict: not a negative", inputs.data.texts[flat.vocab[i]],
                    inputs.data.image_ids[inputs.data.image[flat.row[i]]], inputs.data.ids[flat.row[i]])
    return Verdict(drop)


def _inside_cluster(inputs: RuleInputs) -> Verdict:
    inside, proven = inputs.judgement.inside, inputs.verification.proven
    return Verdict(inside & ~proven, {"kept_by_proof:inside_cluster": inside & proven})


def _max_similarity(inputs: RuleInputs) -> Verdict:
    limit = np.inf if inputs.settings.max_similarity is None else inputs.settings.max_similarity
    return Verdict(inputs.flat.sim > limit)


def _relative_margin(inputs: RuleInputs) -> Verdict:
    above = inputs.flat.sim > inputs.settings.margin_bound[inputs.flat.row]
    # A proof or a conflict makes a sure negative: the margin guards against false negatives only.
    sure = inputs.judgement.conflict | inputs.verification.proven
    return Verdict(above & ~sure, {"kept_by_proof:relative_margin": above & sure})


def _unverified(inputs: RuleInputs) -> Verdict:
    if not inputs.settings.require_verified:
        return Verdict(np.zeros(len(inputs.flat.row), bool))
    return Verdict(~inputs.verification.verified)


def _selection(inputs: RuleInputs) -> Verdict:
    flat, settings = inputs.flat, inputs.settings
    if settings.selection != "sam3":
        return Verdict(np.zeros(len(flat.row), bool))
    neighbour = np.isin(flat.kind, [KIND_CODE[k] for k in NEIGHBOUR_KINDS])
    return Verdict(neighbour & ((flat.sim < settings.similarity_floor) | ~inputs.verification.shared))


GUARD_RULES: tuple[GuardRule, ...] = (
    GuardRule("malformed", _malformed),
    GuardRule("duplicate", _duplicate),
    GuardRule("repeated", _repeated),
    GuardRule("ambiguous", _ambiguous, needs_judgement=True),
    GuardRule("inside_cluster", _inside_cluster, needs_judgement=True),
    GuardRule("max_similarity", _max_similarity),
    GuardRule("relative_margin", _relative_margin, needs_judgement=True),
    GuardRule("unverified", _unverified, needs_judgement=True),
    GuardRule("selection", _selection, needs_judgement=True),
)
RULE_NAMES: tuple[str, ...] = tuple(rule.name for rule in GUARD_RULES)
# The rules before the first that needs the judgement: they run on every candidate, the rest
# may run on the candidates the ranking can still reach (the rank-order judgement of refaug.mining.mine).
JUDGEMENT_FREE: tuple[GuardRule, ...] = GUARD_RULES[: next(i for i, r in enumerate(GUARD_RULES) if r.needs_judgement)]


def count_per_kind(counts: Counter, kind: np.ndarray, mask: np.ndarray, key: str) -> None:
    """Add the entries of ``mask`` per candidate kind to ``counts[(kind name, key)]``."""
    for k in np.unique(kind[mask]):
        counts[(CANDIDATE_KINDS[int(k)], key)] += int((mask & (kind == k)).sum())


def _keys(flat: Candidates, data: Data) -> tuple[np.ndarray, np.ndarray]:
    """(referent, normalised text) keys of the candidates and of the chunk's cluster members."""
    n_vocab = len(data.texts)
    rows = np.unique(flat.row)
    member_rows = np.repeat(np.arange(data.n), np.diff(data.member_ptr))
    in_chunk = np.isin(member_rows, rows)
    cluster_keys = member_rows[in_chunk] * n_vocab + data.norm[data.member_idx[in_chunk]]
    return flat.row * n_vocab + data.norm[flat.vocab], cluster_keys


def _evidence(flat: Candidates, data: Data, settings: GuardSettings,
              alive: np.ndarray) -> tuple[CandidateJudgement, Verification]:
    """The judgement of the alive candidates, and their verification."""
    judgement = judge_candidates(flat, data, settings.classifier, alive)
    verification = verify_candidates(flat, data, judgement, settings.evidence, alive,
                                     same_classifier=settings.evidence.classifier is settings.classifier,
                                     near_identical=NEAR_IDENTICAL)
    return judgement, verification


def _run_rules(rules: tuple[GuardRule, ...], flat: Candidates, data: Data, settings: GuardSettings,
               counts: Counter, alive: np.ndarray) -> tuple[CandidateJudgement | None, Verification | None]:
    """Apply ``rules`` in order to the ``alive`` candidates (cleared in place where one drops);
    count what each drops per kind; return the judgement (None where no rule needed it)."""
    keys, cluster_keys = _keys(flat, data)
    judgement = verification = None
    for rule in rules:
        if rule.needs_judgement and judgement is None:
            judgement, verification = _evidence(flat, data, settings, alive)
        verdict = rule.check(RuleInputs(flat=flat, data=data, settings=settings, keys=keys,
                                        cluster_keys=cluster_keys, alive=alive, judgement=judgement,
                                        verification=verification))
        for key, kept in verdict.kept.items():
            count_per_kind(counts, flat.kind, alive & kept, key)
        drop = alive & verdict.drop
        count_per_kind(counts, flat.kind, drop, rule.name)
        alive &= ~drop
    return judgement, verification


def _considered(flat: Candidates, data: Data, counts: Counter) -> None:
    """Fill in the centroid cosine (``sim``) where the source did not compute it; count the candidates."""
    todo = np.isnan(flat.sim)
    flat.sim[todo] = np.einsum("nd,nd->n", data.vectors[flat.vocab[todo]], data.centroid[flat.row[todo]])
    count_per_kind(counts, flat.kind, np.ones(len(flat.row), bool), "considered")


def apply_guards(flat: Candidates, data: Data, settings: GuardSettings,
                 counts: Counter) -> tuple[Candidates, CandidateJudgement, Verification]:
    """Apply :data:`GUARD_RULES` in order; count what each drops per kind; return survivors.

    Fills in the centroid cosine (``sim``) of the candidates whose source did not compute it.
    Returns the surviving candidates, their judgement and their verification.
    """
    _considered(flat, data, counts)
    alive = np.ones(len(flat.row), bool)
    judgement, verification = _run_rules(GUARD_RULES, flat, data, settings, counts, alive)
    if judgement is None:
        judgement, verification = _evidence(flat, data, settings, alive)
    return flat.take(alive), judgement.take(alive), verification.take(alive)


def apply_unjudged_guards(flat: Candidates, data: Data, settings: GuardSettings, counts: Counter) -> Candidates:
    """The first step of :func:`apply_guards` (:data:`JUDGEMENT_FREE` rules) on all of ``flat``:
    the survivors, ``sim`` filled in. The ``repeated`` rule compares the sources' candidates, so
    it sees them all."""
    _considered(flat, data, counts)
    alive = np.ones(len(flat.row), bool)
    _run_rules(JUDGEMENT_FREE, flat, data, settings, counts, alive)
    return flat.take(alive)


def apply_judged_guards(flat: Candidates, data: Data, settings: GuardSettings,
                        counts: Counter) -> tuple[np.ndarray, CandidateJudgement, Verification]:
    """The second step (the rules after :data:`JUDGEMENT_FREE`) on candidates the first one left;
    each candidate's verdict is its own, so any subset may go. Returns the survivors' mask and
    every candidate's judgement and verification."""
    alive = np.ones(len(flat.row), bool)
    judgement, verification = _run_rules(GUARD_RULES[len(JUDGEMENT_FREE):], flat, data, settings, counts, alive)
    if judgement is None:
        judgement, verification = _evidence(flat, data, settings, alive)
    return alive, judgement, verification
