"""Is a candidate inside its referent's cluster? The one place mining asks the classifier.

:func:`judge_candidates` hands the chunk to :meth:`ClusterClassifier.judge
<refaug.clusters.ClusterClassifier.judge>` (the one judgement routine of refaug, which the
classify stage calls too), and returns its similarity, verdict and the decisive conflicts that
make a candidate a sure negative (which the relative margin then keeps). The guards (:mod:`refaug.mining.guards`) call it once per chunk; the
helpers below tell the search and the output what the judgement implies (how far the search
may prune, how the reason names the similarity).

Example:
    >>> from refaug.clusters import ClusterClassifier
    >>> similarity_label(ClusterClassifier("radius"))
    'sim radius'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refaug.clusters import ClusterClassifier
from refaug.mining.candidates import Candidates
from refaug.mining.corpus import Data


@dataclass(frozen=True)
class CandidateJudgement:
    """The judgement of a chunk's candidates, one entry per candidate.

    Attributes:
        similarity: the classifier's similarity (what its cut-off applies to).
        inside: True where the candidate is inside the cluster (a likely false negative).
        conflict: True where a decisive conflict makes it a sure negative ("contrast" only).
        note: object array: the conflicts found, for the reason ("" for none).
    """

    similarity: np.ndarray
    inside: np.ndarray
    conflict: np.ndarray
    note: np.ndarray

    def take(self, mask: np.ndarray) -> CandidateJudgement:
        return CandidateJudgement(np.asarray(self.similarity)[mask], self.inside[mask], self.conflict[mask],
                                  self.note[mask])


def cluster_cutoffs(data: Data, classifier: ClusterClassifier) -> np.ndarray:
    """Per referent, the similarity at and above which a candidate is inside the cluster."""
    return classifier.cutoffs(data.min_member, np.diff(data.member_ptr))


def similarity_label(classifier: ClusterClassifier) -> str:
    """How a reason names the similarity and its cut-off: ``"sim threshold"`` -> ``"sim 0.61 < threshold 0.75"``."""
    return classifier.rule.similarity_label


def centroid_cutoff(classifier: ClusterClassifier, cutoff: np.ndarray) -> np.ndarray | None:
    """Per referent, the centroid cosine at and above which every candidate is judged inside.

    None where the judgement is not a cut-off on the centroid cosine (``"nearest"`` compares
    with single members, ``"contrast"`` weighs attributes): the search cannot prune by it.
    """
    return cutoff if classifier.centroid_based else None


def finds_sure_negatives(classifier: ClusterClassifier) -> bool:
    """True when the judgement can call a candidate of any cosine a sure negative (a decisive
    conflict, which the relative margin keeps): the search may not prune by the margin."""
    return classifier.rule.finds_sure_negatives


def judge_candidates(flat: Candidates, data: Data, classifier: ClusterClassifier,
                     alive: np.ndarray) -> CandidateJudgement:
    """Judge every candidate of ``flat`` against its referent's cluster.

    The verdict is :meth:`ClusterClassifier.judge`'s, the routine the classifier's text
    methods and the pipeline's classify stage call too.

    Args:
        flat: the chunk's candidates, ``sim`` (the centroid cosine) filled in.
        data: the corpus (clusters, embeddings, categories).
        classifier: the :class:`~refaug.clusters.ClusterClassifier`.
        alive: the candidates still in play; ``"contrast"`` parses only those (the others get
            the cosine-only probability, and the same verdict).

    Returns:
        The :class:`CandidateJudgement` of every candidate.
    """
    verdict = classifier.judge(data.cluster_set(), flat.row, flat.vocab, cosine=flat.sim, alive=alive)
    return CandidateJudgement(verdict.similarity, verdict.inside, verdict.conflict, verdict.notes())
