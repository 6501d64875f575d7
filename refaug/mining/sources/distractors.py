"""Distractor candidates: the rewriters' proposals stored in the ``distractors`` column."""

from __future__ import annotations

import numpy as np

from refaug.mining.candidates import KIND_CODE, Candidates, Pool
from refaug.mining.corpus import StringTables
from refaug.mining.sources.base import CandidateSource


def distractor_pool(rows: list[list[dict]], tables: StringTables) -> Pool:
    """Each referent's distractors (candidate dicts), their texts, details and origins interned.

    A candidate without text is skipped; an unknown or missing kind counts as ``llm_proposal``.
    """
    ptr, idx, kind, detail, origin = [0], [], [], [], []
    for row in rows:
        for cand in row or ():
            if not cand or not cand.get("text"):
                continue
            idx.append(tables.texts(cand["text"]))
            kind.append(KIND_CODE.get(cand.get("kind") or "", KIND_CODE["llm_proposal"]))
            detail.append(tables.details(cand.get("detail") or ""))
            origin.append(tables.origins(cand.get("origin") or ""))
        ptr.append(len(idx))
    return Pool(*(np.asarray(a, np.int64) for a in (ptr, idx, kind, detail, origin)))


class DistractorSource(CandidateSource):
    """The rewriters' candidates (``distractors`` column), each with its own kind."""

    name = "distractors"
    columns = ("distractors",)
    pool: Pool

    def add_texts(self, rows: dict[str, list], tables: StringTables) -> None:
        self.pool = distractor_pool(rows["distractors"], tables)

    def candidates(self, r0: int, r1: int) -> Candidates:
        return self.pool.chunk(r0, r1)
