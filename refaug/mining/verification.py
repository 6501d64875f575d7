"""What proves a candidate is not the referent: one verification per candidate, one place.

A kept negative records why it is negative (:data:`refaug.records.VERIFICATIONS`). The
evidence comes from the candidate's source and from the contrast judgement's findings
(:meth:`ClusterClassifier.judge <refaug.clusters.ClusterClassifier.judge>`), checked in this
order, the first that holds wins:

1. ``same_image``: the candidate is an expression of another annotated object of the
   referent's image (the same-image source says so);
2. ``category``: a cross-image candidate whose object's dataset category differs from the
   referent's (both given by the dataset, not derived from head nouns);
3. ``edit``: a rewriter's distractor of one of the referent's own human expressions whose text
   states a conflict with those expressions (any kind: the rewriter made the edit to
   contradict, the parse confirms it did);
4. ``conflict``: a stated conflict with the referent's human expressions; for candidates that
   are not the referent's own edits only a *decisive* kind counts (one the contrast model
   found to keep a pair negative on its own, :meth:`ContrastModel.decisive_kinds
   <refaug.contrast.ContrastModel.decisive_kinds>`), since the other kinds' conflicts occur
   between texts of one object too often to prove anything;
5. ``conflict_view``: such a conflict, stated only against the machine-written views;
6. ``none``.

Human conflicts are told from view-only ones by judging the candidates a second time against
the human expressions alone (:meth:`~refaug.mining.corpus.Data.human_cluster_set`). That is
cheaper than tracking which member each finding came from: the classifier caches every
parse, so the second judgement only unions and compares descriptions, and it is the same
judgement routine (a finding traced back to one member would not be: the union of members
decides conflicts and agreements together).

The verification also sets the ranking tier (:func:`ranking_tier`): same-image expressions and
the referent's own contradicting edits first, then same-class neighbours with a conflict, then
neighbours of another category, unverified candidates last.

Example:
    >>> VERIFY_CODE["same_image"], VERIFICATIONS[VERIFY_CODE["none"]]
    (0, 'none')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refaug.clusters import ClusterClassifier, ClusterSet
from refaug.mining.candidates import KIND_CODE, Candidates
from refaug.mining.corpus import Data
from refaug.mining.judgement import CandidateJudgement
from refaug.records import CANDIDATE_KINDS, VERIFICATIONS

VERIFY_CODE: dict[str, int] = {name: code for code, name in enumerate(VERIFICATIONS)}
# Verifications that rest on the annotation (the dataset's objects, categories and expressions):
# no cosine cut-off may overrule them. A view-only conflict rests on a machine-written text; it
# overrules the cut-offs only for the referent's own edits, which contradict the very text
# they rewrote (the rewriter made them to; the parse confirms it).
PROVEN: frozenset[str] = frozenset({"same_image", "edit", "conflict", "category"})
NEIGHBOUR_KINDS: tuple[str, ...] = ("cross_image", "same_class")
# Candidates proposed for the referent that no rewriter made from one of its texts.
PROPOSAL_KINDS: tuple[str, ...] = ("llm_proposal", "no_target")
# The rewriters' kinds (refaug.rewrite.registry): every kind the other sources do not make.
REWRITE_KINDS: tuple[str, ...] = tuple(k for k in CANDIDATE_KINDS
                                       if k not in ("same_image", *NEIGHBOUR_KINDS, *PROPOSAL_KINDS))
# An agreement of these kinds is no shared attribute (SAM 3's selection rule asks for one
# besides the conflict): every same-class candidate agrees on the head noun.
NOT_AN_ATTRIBUTE: frozenset[str] = frozenset({"head"})
TIERS: tuple[str, ...] = ("same image or own edit", "same class, conflict", "other category", "unverified")


def _codes(kinds: tuple[str, ...]) -> np.ndarray:
    return np.asarray([KIND_CODE[k] for k in kinds], np.int64)


@dataclass(frozen=True)
class Evidence:
    """What the verification of one mining call reads.

    Attributes:
        classifier: the contrast classifier whose findings are the evidence (the mining
            classifier when it is a contrast one, else a default contrast classifier).
        decisive: the conflict kinds that prove a neighbour is another object.
        human: the human expressions alone, as clusters.
    """

    classifier: ClusterClassifier
    decisive: frozenset[str]
    human: ClusterSet


def build_evidence(data: Data, classifier: ClusterClassifier) -> Evidence:
    """The evidence of a mining call judged by ``classifier``."""
    evidence = classifier
    if classifier.method != "contrast":
        evidence = ClusterClassifier("contrast", embedder=classifier.embedder)
    decisive = evidence.model.decisive_kinds(evidence.threshold)
    return Evidence(classifier=evidence, decisive=frozenset(decisive), human=data.human_cluster_set())


@dataclass(frozen=True)
class Verification:
    """The verification of a chunk's candidates, one entry per candidate.

    Attributes:
        code: index into :data:`~refaug.records.VERIFICATIONS`.
        owner: the referent whose text the candidate is (its own for distractors).
        stated_conflict: a conflict of any kind is stated against the referent's cluster.
        shared: an agreement on an attribute (not the head noun) is stated.
        human_cosine: for same-image candidates, the highest cosine to one of the referent's
            human expressions (-1 elsewhere).
        rewrite: the candidate is one of the rewriters' distractors of the referent.
    """

    code: np.ndarray
    owner: np.ndarray
    stated_conflict: np.ndarray
    shared: np.ndarray
    human_cosine: np.ndarray
    rewrite: np.ndarray

    def take(self, mask: np.ndarray) -> Verification:
        return Verification(self.code[mask], self.owner[mask], self.stated_conflict[mask], self.shared[mask],
                            self.human_cosine[mask], self.rewrite[mask])

    @classmethod
    def concat(cls, parts: list[Verification]) -> Verification:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__))

    @property
    def proven(self) -> np.ndarray:
        """True where no cosine cut-off may overrule the verification: it rests on the annotation
        (:data:`PROVEN`), or the candidate is an own edit contradicting a view it rewrote."""
        own_edit = self.rewrite & (self.code == VERIFY_CODE["conflict_view"])
        return np.isin(self.code, [VERIFY_CODE[v] for v in PROVEN]) | own_edit

    @property
    def verified(self) -> np.ndarray:
        return self.code != VERIFY_CODE["none"]


def ranking_tier(flat: Candidates, verification: Verification) -> np.ndarray:
    """The tier a candidate ranks in (0 first; :data:`TIERS`); by similarity within a tier."""
    code = verification.code
    tier = np.full(len(code), 1, np.int64)
    tier[~np.isin(flat.kind, _codes(NEIGHBOUR_KINDS))] = 0
    tier[code == VERIFY_CODE["category"]] = 2
    tier[code == VERIFY_CODE["none"]] = 3
    return tier


def category_proven(flat: Candidates, data: Data) -> np.ndarray:
    """True where a neighbour's object and the referent both have a dataset category, and they
    differ: verified by ``category`` (tier 2 of :func:`ranking_tier`) whatever the judgement finds."""
    neighbour = np.isin(flat.kind, _codes(NEIGHBOUR_KINDS))
    owner = np.where(neighbour, flat.origin, flat.row)
    given = data.category_given
    category = np.asarray(data.category, object)
    return neighbour & given[flat.row] & given[owner] & (category[flat.row] != category[owner])


def _conflicts(findings: list | None, kinds: frozenset[str] | None) -> bool:
    """A conflict among ``findings`` (of a kind in ``kinds``; None: any kind)."""
    return any(f.conflict and (kinds is None or f.kind in kinds) for f in findings or ())


def _full_findings(flat: Candidates, data: Data, judgement: CandidateJudgement, evidence: Evidence,
                   need: np.ndarray, same_classifier: bool) -> np.ndarray:
    """The findings against the whole cluster for the ``need`` entries (parsed where missing)."""
    findings = np.empty(len(flat.row), object)
    if same_classifier:
        findings[need] = judgement.findings[need]
    missing = need & np.asarray([f is None for f in findings], bool)
    if missing.any():
        verdict = evidence.classifier.judge(data.cluster_set(), flat.row[missing], flat.vocab[missing])
        for i, found in zip(np.nonzero(missing)[0], verdict.findings, strict=True):
            findings[i] = found
    return findings


def nearest_human_cosine(flat: Candidates, data: Data, mask: np.ndarray) -> np.ndarray:
    """Per candidate of ``mask``, its highest cosine to one of its referent's human expressions (-1 elsewhere)."""
    out = np.full(len(flat.row), -1.0, np.float32)
    for i in np.nonzero(mask)[0]:
        humans = data.humans(int(flat.row[i]))
        if len(humans):
            out[i] = float((data.vectors[humans] @ data.vectors[flat.vocab[i]]).max())
    return out


def _own_edit(flat: Candidates, data: Data, i: int) -> bool:
    """True when distractor ``i`` is a rewrite of one of its referent's human expressions."""
    origin = data.origins[flat.origin[i]]
    return any(data.texts[j] == origin for j in data.humans(int(flat.row[i])))


def verify_candidates(flat: Candidates, data: Data, judgement: CandidateJudgement, evidence: Evidence,
                      alive: np.ndarray, *, same_classifier: bool, near_identical: float) -> Verification:
    """The verification of every alive candidate of ``flat`` (dead ones: ``none``).

    Args:
        flat: the chunk's candidates, ``sim`` filled in.
        data: the corpus.
        judgement: the chunk's judgement (its findings are reused where present).
        evidence: :func:`build_evidence`'s.
        alive: the candidates still in play.
        same_classifier: ``judgement`` came from ``evidence.classifier`` (its findings count).
        near_identical: same-image candidates at or above this cosine to one of the referent's
            human expressions are compared with the cluster too (the ambiguous-annotation guard
            needs to know if a conflict is stated).
    """
    n = len(flat.row)
    same_image = flat.kind == KIND_CODE["same_image"]
    neighbour = np.isin(flat.kind, _codes(NEIGHBOUR_KINDS))
    owner = np.where(same_image | neighbour, flat.origin, flat.row)
    code = np.full(n, VERIFY_CODE["none"], np.int64)
    code[same_image] = VERIFY_CODE["same_image"]
    code[category_proven(flat, data)] = VERIFY_CODE["category"]
    human_cosine = nearest_human_cosine(flat, data, alive & same_image)
    need = alive & (~same_image | (human_cosine >= near_identical))
    full = _full_findings(flat, data, judgement, evidence, need, same_classifier)
    stated = np.asarray([_conflicts(f, None) for f in full], bool)
    shared = np.asarray([any(not f.conflict and f.kind not in NOT_AN_ATTRIBUTE for f in x or ()) for x in full],
                        bool)
    todo = need & (code == VERIFY_CODE["none"])
    rewrite = np.isin(flat.kind, _codes(REWRITE_KINDS))
    if todo.any():
        human = evidence.classifier.judge(evidence.human, flat.row[todo], flat.vocab[todo]).findings
        for i, found in zip(np.nonzero(todo)[0], human, strict=True):
            kinds = None if rewrite[i] else evidence.decisive
            if _conflicts(found, kinds):
                code[i] = VERIFY_CODE["edit" if rewrite[i] and _own_edit(flat, data, i) else "conflict"]
            elif _conflicts(full[i], kinds):
                code[i] = VERIFY_CODE["conflict_view"]
    return Verification(code=code, owner=owner, stated_conflict=stated, shared=shared, human_cosine=human_cosine,
                        rewrite=rewrite)
