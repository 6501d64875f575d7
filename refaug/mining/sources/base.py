"""The interface every candidate source implements.

A source says where a referent's candidates come from. An instance serves one mining call,
in three steps, all but the last optional:

1. :meth:`CandidateSource.add_texts`, before the corpus is embedded: intern the texts it
   brings that are not cluster members (e.g. the rewriters' distractors), with their details
   and origins;
2. :meth:`CandidateSource.prepare`, after the embedding: build what the chunks read (a
   :class:`~refaug.mining.candidates.Pool`, a nearest-neighbour search);
3. :meth:`CandidateSource.candidates`, once per chunk of referents.

The base class does the bookkeeping: :meth:`CandidateSource.chunk` stamps each candidate with
the source's position, so the guards count what they drop per source. A new source is one
subclass in one file under ``refaug/mining/sources/`` plus one line in
:data:`refaug.mining.sources.registry.CANDIDATE_SOURCES`.

Example:
    >>> class Nothing(CandidateSource):
    ...     name = "nothing"
    ...     def candidates(self, r0, r1):
    ...         empty = np.zeros(0, np.int64)
    ...         return Candidates.of(row=empty, vocab=empty, kind=empty, detail=empty,
    ...                              origin=empty, sim=np.zeros(0, np.float32))
    >>> len(Nothing().chunk(0, 5, code=2).row)
    0
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from refaug.mining.candidates import Candidates
from refaug.mining.corpus import Data, StringTables


@dataclass(frozen=True)
class SourceContext:
    """The mining call's options a source may read in :meth:`CandidateSource.prepare`."""

    num_negatives: int
    same_class: bool
    centroid_based: bool  # the search is pruned by the centroid cut-off (no proof can keep what is above)
    ceiling: np.ndarray  # (R,) centroid cosine at and above which no guard keeps a text
    search: str
    precision: str
    chunk_size: int
    corpus_chunk_size: int
    device: str | None
    show_progress_bar: bool | None


class CandidateSource(ABC):
    """Where candidates come from; subclasses set ``name`` and implement :meth:`candidates`.

    Attributes:
        name: the registry name (``sources=`` of :func:`~refaug.mining.mine_hard_negatives`).
        columns: the dataset columns the source reads besides the referent columns; where one
            is missing the source is skipped (and the skip logged).
    """

    name: ClassVar[str]
    columns: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def missing_columns(cls, column_names: Sequence[str]) -> list[str]:
        """The columns of :attr:`columns` that ``column_names`` lacks."""
        return [c for c in cls.columns if c not in column_names]

    def add_texts(self, rows: dict[str, list], tables: StringTables) -> None:
        """Before the embedding: intern the texts this source brings. Default: none.

        Args:
            rows: the dataset's referent columns and :attr:`columns`, as lists.
            tables: the corpus's string tables (texts, details, origins).
        """
        return None

    def prepare(self, data: Data, context: SourceContext) -> None:
        """After the embedding, before the chunks: build what :meth:`candidates` reads. Default: nothing."""
        return None

    @abstractmethod
    def candidates(self, r0: int, r1: int) -> Candidates:
        """The candidates of referents ``r0 .. r1 - 1`` (:meth:`Candidates.of`)."""

    def chunk(self, r0: int, r1: int, *, code: int) -> Candidates:
        """:meth:`candidates`, each stamped with ``code``, the source's position in ``sources``."""
        found = self.candidates(r0, r1)
        return replace(found, source=np.full(len(found.row), code, np.int64))
