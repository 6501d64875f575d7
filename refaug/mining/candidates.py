"""The candidate tables that pass between mining's steps.

A source yields :class:`Candidates` (one entry per candidate of a chunk of referents), often
cut from a :class:`Pool` (candidates per referent in CSR layout); the guards filter them, the
ranking keeps the best as :class:`Selected`, and the output formats write those. Texts,
details and origins are integer codes into the corpus's string tables
(:class:`~refaug.mining.corpus.Data`), kinds codes into ``CANDIDATE_KINDS``.

Example:
    >>> import numpy as np
    >>> pool = Pool(*(np.array(a, np.int64) for a in ([0, 1, 3], [5, 6, 7], [0, 0, 0], [0, 1, 1], [0, 1, 1])))
    >>> pool.chunk(1, 2).vocab.tolist()
    [6, 7]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refaug.records import CANDIDATE_KINDS

KIND_CODE: dict[str, int] = {kind: code for code, kind in enumerate(CANDIDATE_KINDS)}


@dataclass
class Candidates:
    """A flat list of candidates of a chunk of referents (one entry per candidate).

    ``source`` is the position of the source in the mining call's ``sources`` (stamped by
    :meth:`~refaug.mining.sources.base.CandidateSource.chunk`); ``sim`` is the cosine to the
    referent's centroid, NaN where the source did not compute it (the guards fill it in).
    """

    row: np.ndarray
    vocab: np.ndarray
    kind: np.ndarray
    detail: np.ndarray
    origin: np.ndarray
    source: np.ndarray
    sim: np.ndarray

    @classmethod
    def of(cls, *, row: np.ndarray, vocab: np.ndarray, kind: np.ndarray, detail: np.ndarray,
           origin: np.ndarray, sim: np.ndarray) -> Candidates:
        """Candidates of a source that does not know its position yet (``source`` 0)."""
        return cls(row, vocab, kind, detail, origin, np.zeros(len(row), np.int64), sim)

    @classmethod
    def concat(cls, parts: list[Candidates]) -> Candidates:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__))

    def take(self, mask: np.ndarray) -> Candidates:
        return Candidates(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))


@dataclass
class Pool:
    """Candidates per referent in CSR layout: ``ptr[r]:ptr[r+1]`` are referent r's."""

    ptr: np.ndarray
    vocab: np.ndarray
    kind: np.ndarray
    detail: np.ndarray
    origin: np.ndarray

    def chunk(self, r0: int, r1: int) -> Candidates:
        """The candidates of referents ``r0 .. r1 - 1``, their similarity not computed (NaN)."""
        a, b = self.ptr[r0], self.ptr[r1]
        row = np.repeat(np.arange(r0, r1), np.diff(self.ptr[r0 : r1 + 1]))
        return Candidates.of(row=row, vocab=self.vocab[a:b], kind=self.kind[a:b], detail=self.detail[a:b],
                             origin=self.origin[a:b], sim=np.full(b - a, np.nan, np.float32))


@dataclass
class Selected:
    """The kept negatives, sorted by referent then rank."""

    row: np.ndarray
    vocab: np.ndarray
    kind: np.ndarray
    detail: np.ndarray
    origin: np.ndarray
    sim: np.ndarray
    score: np.ndarray
    class_sim: np.ndarray
    note: np.ndarray  # object: what else the reason should say ("" for nothing)
    uncertainty: np.ndarray  # NaN where not computed
    diversity: np.ndarray
    model_score: np.ndarray
    verified: np.ndarray  # code into refaug.records.VERIFICATIONS
    owner: np.ndarray  # the referent whose text it is (its own for distractors)
    plausibility: np.ndarray  # the plausibility filter's relative LM score; NaN where not scored

    @classmethod
    def concat(cls, parts: list[Selected]) -> Selected:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__))
