"""Is a candidate inside its referent's cluster? The one place mining asks the classifier.

:func:`judge_candidates` hands the chunk to :meth:`ClusterClassifier.judge
<refaug.clusters.ClusterClassifier.judge>` (the one judgement routine of refaug, which the
classify stage calls too), and returns its similarity, verdict, the decisive conflicts that
make a candidate a sure negative (which the relative margin then keeps) and the findings the
verification reads (:mod:`refaug.mining.verification`). The guards (:mod:`refaug.mining.guards`)
call it once per chunk; the helpers below tell the output how the reason names the similarity.

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


class Notes:
    """The conflicts of each candidate as a reason's text ("" for none), written when read.

    A chunk judges hundreds of thousands of candidates and publishes a few dozen per referent,
    so the text is made for the ones read: ``notes[i]`` is a string, ``notes[index]`` an object
    array of them; :meth:`take` keeps it unwritten.
    """

    def __init__(self, findings: np.ndarray) -> None:
        self.findings = findings

    def __len__(self) -> int:
        return len(self.findings)

    def take(self, mask: np.ndarray) -> Notes:
        return Notes(self.findings[mask])

    def __getitem__(self, index):
        found = self.findings[index]
        if not isinstance(found, np.ndarray):
            return _note(found)
        out = np.empty(len(found), object)
        out[:] = [_note(f) for f in found]
        return out

    def __iter__(self):
        return iter(self[np.arange(len(self.findings))])


def _note(found: list | None) -> str:
    # sorted: the parse's sets iterate in a per-process order, a published reason may not
    return "; ".join(sorted(str(f) for f in found if f.conflict)) if found else ""


@dataclass(frozen=True)
class CandidateJudgement:
    """The judgement of a chunk's candidates, one entry per candidate.

    Attributes:
        similarity: the classifier's similarity (what its cut-off applies to).
        inside: True where the candidate is inside the cluster (a likely false negative).
        conflict: True where a decisive conflict makes it a sure negative ("contrast" only).
        note: the conflicts found, for the reason ("" for none): :class:`Notes` (or an object array).
        findings: object array: the contrast findings of each candidate (None where the method
            does not parse, or did not need to).
    """

    similarity: np.ndarray
    inside: np.ndarray
    conflict: np.ndarray
    note: Notes | np.ndarray
    findings: np.ndarray

    def take(self, mask: np.ndarray) -> CandidateJudgement:
        note = self.note.take(mask) if isinstance(self.note, Notes) else self.note[mask]
        return CandidateJudgement(np.asarray(self.similarity)[mask], self.inside[mask], self.conflict[mask],
                                  note, self.findings[mask])

    @classmethod
    def concat(cls, parts: list[CandidateJudgement]) -> CandidateJudgement:
        """The parts' entries one after another (the notes stay unwritten)."""
        notes = [p.note.findings if isinstance(p.note, Notes) else p.note for p in parts]
        note = Notes(_objects(notes)) if all(isinstance(p.note, Notes) for p in parts) else _objects(notes)
        return cls(np.concatenate([np.asarray(p.similarity) for p in parts]),
                   np.concatenate([p.inside for p in parts]), np.concatenate([p.conflict for p in parts]),
                   note, _objects([p.findings for p in parts]))


def _objects(parts: list[np.ndarray]) -> np.ndarray:
    """Object arrays joined into one (entry by entry: numpy would read lists as rows)."""
    out = np.empty(sum(len(p) for p in parts), object)
    start = 0
    for part in parts:
        out[start : start + len(part)] = part
        start += len(part)
    return out


def cluster_cutoffs(data: Data, classifier: ClusterClassifier) -> np.ndarray:
    """Per referent, the similarity at and above which a candidate is inside the cluster."""
    return classifier.cutoffs(data.min_member, np.diff(data.member_ptr))


def similarity_label(classifier: ClusterClassifier) -> str:
    """How a reason names the similarity and its cut-off: ``"sim threshold"`` -> ``"sim 0.61 < threshold 0.75"``."""
    return classifier.rule.similarity_label


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
    findings = np.empty(len(flat.row), object)
    for i, found in enumerate(verdict.findings or ()):  # one by one: numpy would read the lists as rows
        findings[i] = found
    return CandidateJudgement(verdict.similarity, verdict.inside, verdict.conflict, Notes(findings), findings)
