"""A text-only scorer: candidates against the referent's own expressions, :class:`TextScorer`."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from refaug.embed import Embedder
from refaug.scoring.base import Scorer, _qualified_name


class TextScorer(Scorer):
    """A text-only scorer: how close a candidate is to the referent's own expressions.

    The score of a candidate is the largest cosine similarity between it and the
    referent's ``expressions``, leaving out an expression identical to the candidate (so a
    referent's own expression is scored against its other expressions). Where nothing is
    left to compare with, the score is NaN.

    Args:
        model: a sentence-transformers model name or folder; None is the packaged
            all-MiniLM-L6-v2 (see :func:`refaug.embed.resolve_model`).
        embedder: an :class:`~refaug.embed.Embedder` to use instead of ``model`` (for its
            device, batch size or disk cache).
        threshold: the decision point, or None (the default) for relative scores.
        batch_size: referents per call. Defaults to 256.
        preprocess: a function ``str -> str`` applied to every text (candidates and
            expressions) before embedding, e.g. to model a reader that ignores colours.
            Define it at module level so the scorer pickles.

    Example:
        >>> scorer = TextScorer()
        >>> rows = [{"referent_id": "r", "expressions": ["the man on the left", "left guy"]}]
        >>> scorer(rows, [["the man on the left", "a bowl of soup"]])  # doctest: +SKIP
        [array([0.71, 0.05], dtype=float32)]
    """

    allows_nan = True

    def __init__(
        self,
        model: str | None = None,
        *,
        embedder: Embedder | None = None,
        threshold: float | None = None,
        batch_size: int = 256,
        preprocess: Callable[[str], str] | None = None,
    ) -> None:
        if embedder is not None and model is not None:
            raise ValueError("pass model= or embedder=, not both (the embedder names its model)")
        if preprocess is not None and not callable(preprocess):
            raise ValueError(f"preprocess={preprocess!r} is not callable; pass a function str -> str")
        self.embedder = embedder if embedder is not None else Embedder(model)
        super().__init__(threshold=threshold, batch_size=batch_size,
                         name=f"TextScorer({os.path.basename(self.embedder.model_name.rstrip('/'))})")
        self.preprocess = preprocess

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "embedder": self.embedder.config(),
            "preprocess": _qualified_name(self.preprocess) if self.preprocess else None,
        }

    def __repr__(self) -> str:
        pre = _qualified_name(self.preprocess) if self.preprocess else None
        return (f"TextScorer(model={self.embedder.model_name!r}, threshold={self._threshold!r}, "
                f"batch_size={self.batch_size}, preprocess={pre!r})")

    def _score(self, referents, texts):
        expressions = [list(row.get("expressions") or ()) for row in referents]
        every = [t for group in (*expressions, *texts) for t in group]
        distinct = list(dict.fromkeys(every))
        shown = [self.preprocess(t) for t in distinct] if self.preprocess else distinct
        vectors = self.embedder.encode(shown)
        row_of = {t: k for k, t in enumerate(distinct)}
        out = []
        for own, candidates in zip(expressions, texts):
            if not candidates:
                out.append(np.zeros(0, dtype=np.float32))
                continue
            if not own:
                out.append(np.full(len(candidates), np.nan, dtype=np.float32))
                continue
            cand = vectors[[row_of[t] for t in candidates]]
            sims = cand @ vectors[[row_of[t] for t in own]].T
            same = np.asarray(candidates, dtype=object)[:, None] == np.asarray(own, dtype=object)[None, :]
            sims = np.where(same, -np.inf, sims)
            best = sims.max(axis=1)
            out.append(np.where(np.isneginf(best), np.nan, best).astype(np.float32))
        return out

