"""What every cluster method works on and returns: a :class:`ClusterSet` and a :class:`Judgement`.

A *cluster method* decides whether a candidate text lies inside a referent's cluster. The
methods are classes (:class:`JudgementMethod` subclasses, one per file, listed in
:mod:`refaug.clusters.registry`); all of them judge many candidates of many clusters at
once, in one layout:

- a :class:`ClusterSet`: distinct texts with their normalised embeddings, each cluster's
  members as a CSR slice of that table, its centroid and loosest member;
- candidates as two parallel arrays: ``rows`` (the cluster each one is judged against) and
  ``vocab`` (its text's index in the same table).

The classifier facade (:class:`~refaug.clusters.ClusterClassifier`), the pipeline's classify
stage and mining all call :meth:`JudgementMethod.judge` on this layout, so "is this
candidate inside the cluster?" is decided in one place.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from refaug.vectors import centroids

if TYPE_CHECKING:
    from refaug.contrast import Finding


@dataclass(frozen=True)
class ClusterSet:
    """Many clusters over one table of distinct texts.

    Attributes:
        texts: the distinct texts (may be empty when only vectors are judged).
        vectors: ``(V, d)`` normalised embeddings, one row per text.
        member_ptr, member_idx: cluster r's members are ``member_idx[member_ptr[r]:member_ptr[r + 1]]``.
        centroid: ``(R, d)`` normalised centroids (:func:`refaug.vectors.centroids`).
        loosest: ``(R,)`` each cluster's lowest member-to-centroid cosine.
        category: per cluster, the referent's dataset category (None or "" where unknown).
    """

    texts: Sequence[str]
    vectors: np.ndarray
    member_ptr: np.ndarray
    member_idx: np.ndarray
    centroid: np.ndarray
    loosest: np.ndarray
    category: Sequence[str | None] = field(default_factory=tuple)

    @classmethod
    def build(cls, vectors: np.ndarray, members: Sequence[Sequence[int]], *, texts: Sequence[str] = (),
              category: Sequence[str | None] | None = None) -> ClusterSet:
        """Clusters from member index lists into ``vectors`` (centroids computed here)."""
        member_ptr = np.concatenate([[0], np.cumsum([len(m) for m in members])]).astype(np.int64)
        member_idx = np.fromiter((i for m in members for i in m), np.int64, int(member_ptr[-1]))
        centroid, loosest = centroids(vectors, member_ptr, member_idx)
        return cls(texts=texts, vectors=vectors, member_ptr=member_ptr, member_idx=member_idx,
                   centroid=centroid, loosest=loosest,
                   category=tuple(category) if category is not None else (None,) * len(members))

    @classmethod
    def from_texts(cls, clusters: Sequence[Sequence[str]], candidates: Sequence[str], *, embedder: Any,
                   category: Sequence[str | None] | None = None) -> tuple[ClusterSet, dict[str, int]]:
        """Embed the distinct texts of ``clusters`` and ``candidates`` once; return the set and
        each text's index into its table."""
        distinct = list(dict.fromkeys([t for c in clusters for t in c] + list(candidates)))
        index = {t: i for i, t in enumerate(distinct)}
        vectors = embedder.encode(distinct) if distinct else np.zeros((0, 1), np.float32)
        members = [[index[t] for t in c] for c in clusters]
        return cls.build(vectors, members, texts=distinct, category=category), index

    @property
    def n_members(self) -> np.ndarray:
        """``(R,)`` the number of members of each cluster."""
        return np.diff(self.member_ptr)

    def members(self, r: int) -> np.ndarray:
        """The text indices of cluster r's members."""
        return self.member_idx[self.member_ptr[r] : self.member_ptr[r + 1]]

    def member_texts(self, r: int) -> list[str]:
        return [self.texts[i] for i in self.members(r)]

    def cosine(self, rows: np.ndarray, vocab: np.ndarray) -> np.ndarray:
        """Each candidate's cosine to its cluster's centroid."""
        return np.einsum("nd,nd->n", self.vectors[vocab], self.centroid[rows]).astype(np.float32)


@dataclass(frozen=True)
class Judgement:
    """The verdicts of one :meth:`JudgementMethod.judge` call, one entry per candidate.

    Attributes:
        cosine: the cosine to the cluster's centroid.
        similarity: the method's similarity (for ``"contrast"``, P(same referent)).
        negative: True where the candidate lies outside the cluster.
        conflict: True where a decisive conflict made it negative (``"contrast"`` only).
        findings: per candidate, the contrast findings (None where not parsed or not contrast).
    """

    cosine: np.ndarray
    similarity: np.ndarray
    negative: np.ndarray
    conflict: np.ndarray
    findings: list[list[Finding] | None] | None = None

    @property
    def inside(self) -> np.ndarray:
        return ~self.negative

    def notes(self) -> np.ndarray:
        """Per candidate, the conflicts found ("spatial: left vs right (head: lady); ..."), else ""."""
        note = np.full(len(self.negative), "", object)
        for i, found in enumerate(self.findings or ()):
            if found:
                note[i] = "; ".join(str(f) for f in found if f.conflict)
        return note


class JudgementMethod(abc.ABC):
    """A cluster method: the similarity of candidates to clusters, and the cut-off per cluster.

    Subclasses set ``name`` and ``default_threshold`` and override :meth:`similarity` (and,
    where the cut-off is per cluster, :meth:`cutoffs`; where the verdict needs more than a
    cut-off, :meth:`judge`). The method reads its options (``threshold``, ``margin``,
    ``model``, ``conflict_is_negative``) from the classifier it serves, at call time.

    Args:
        classifier: the :class:`~refaug.clusters.ClusterClassifier` holding the options.
    """

    name: ClassVar[str]
    default_threshold: ClassVar[float]
    #: True when the similarity is the centroid cosine (the cross-image search can prune by it).
    centroid_based: ClassVar[bool] = True
    #: Calibration: the fewest members a cluster needs for leave-one-out positives.
    calibration_min_members: ClassVar[int] = 2
    #: Calibration fits the method's own model on the labelled pairs (feature rows, not scores).
    fits_model: ClassVar[bool] = False
    #: The judgement can call a candidate of any cosine a sure negative (mining's search may
    #: then not prune by the relative margin).
    finds_sure_negatives: ClassVar[bool] = False
    #: How a mining reason names the similarity and its cut-off ("sim 0.61 < threshold 0.75").
    similarity_label: ClassVar[str] = "sim threshold"
    #: What :meth:`calibration_statistic` measures, for plots.
    statistic_label: ClassVar[str] = "cosine similarity"

    def __init__(self, classifier: Any) -> None:
        self.classifier = classifier

    @property
    def threshold(self) -> float:
        return self.classifier.threshold

    def similarity(self, clusters: ClusterSet, rows: np.ndarray, vocab: np.ndarray,
                   cosine: np.ndarray) -> np.ndarray:
        """The method's similarity of each candidate to its cluster (default: the cosine)."""
        return cosine

    def cutoffs(self, loosest: np.ndarray, n_members: np.ndarray) -> np.ndarray:
        """Per cluster: the similarity at and above which a candidate is inside."""
        return np.full(len(n_members), self.threshold, dtype=np.float32)

    def judge(self, clusters: ClusterSet, rows: np.ndarray, vocab: np.ndarray, *,
              cosine: np.ndarray | None = None, alive: np.ndarray | None = None) -> Judgement:
        """Judge candidate ``vocab[i]`` against cluster ``rows[i]`` for every i.

        Args:
            clusters: the clusters and the text table.
            rows, vocab: parallel arrays, one entry per candidate.
            cosine: the candidates' centroid cosines where already known (None: computed).
            alive: candidates still in play; a method may skip work for the others (their
                verdict is still a valid, cheaper one).
        """
        rows, vocab = np.asarray(rows, np.int64), np.asarray(vocab, np.int64)
        cosine = clusters.cosine(rows, vocab) if cosine is None else np.asarray(cosine, np.float32)
        sim = np.asarray(self.similarity(clusters, rows, vocab, cosine), np.float32)
        cut = self.cutoffs(clusters.loosest, clusters.n_members)
        return Judgement(cosine=cosine, similarity=sim, negative=sim < cut[rows],
                         conflict=np.zeros(len(rows), bool))

    def calibration_statistic(self, similarity: np.ndarray, loosest: float) -> np.ndarray:
        """The score a threshold is chosen on (default: the similarity itself)."""
        return similarity

    @classmethod
    def calibrated_options(cls, threshold: float, model: dict[str, Any] | None) -> dict[str, Any]:
        """The classifier options at a calibrated operating point."""
        return {"threshold": threshold}
