"""``Rewriters``: several rewriters as one ``Dataset.map(batched=True)`` function.

Reads each row's ``expressions`` (and, when the batch has a ``views`` column, the texts of
each row's cluster), parses every distinct text once, runs every rewriter on the parsed
Docs and writes a ``distractors`` column: per row, a list of candidate dicts in the
:data:`refaug.records.CANDIDATE_FEATURE` layout whose ``origin`` is the source expression.
A candidate that equals one of the row's own texts (an expression or a view) is dropped:
it describes the referent, so it cannot be a negative. A rewriter that raises on one text
gives that text no candidates and counts it (:meth:`Rewriters.failure_counts`); the rest
of the batch is rewritten as usual.

Example:
    >>> from refaug.rewrite import AttributeRewriter, NegationRewriter, Rewriters
    >>> rewrite = Rewriters([AttributeRewriter(), NegationRewriter()])
    >>> out = rewrite({"expressions": [["man holding an umbrella"]]})  # doctest: +SKIP
    >>> out["distractors"][0][0]["kind"]  # doctest: +SKIP
    'negation'
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from datasets import Features, List

from refaug.records import CANDIDATE_FEATURE, Candidate
from refaug.rewrite.base import Rewriter, check_texts, normalize

logger = logging.getLogger(__name__)

VIEW_FIELDS: tuple[str, ...] = ("appearance", "action", "spatial", "alternative")


class Rewriters:
    """Runs several rewriters over a batch of rows and adds their candidates as a column.

    Args:
        rewriters: the rewriters, run in this order (their candidates are listed in it).
        column: the column of expression lists to rewrite.
        views_column: a column of view dicts whose texts are rewritten too when present;
            None ignores views.
        output_column: the column written (``distractors``).
        max_per_row: the most candidates kept per row, taken round-robin over the
            rewriters so each kind is represented (None keeps all).

    Example:
        >>> ds = ds.map(Rewriters([NegationRewriter()]), batched=True)  # doctest: +SKIP
    """

    def __init__(
        self,
        rewriters: Sequence[Rewriter],
        *,
        column: str = "expressions",
        views_column: str | None = "views",
        output_column: str = "distractors",
        max_per_row: int | None = None,
    ) -> None:
        rewriters = list(rewriters)
        if not rewriters or not all(isinstance(r, Rewriter) for r in rewriters):
            raise TypeError("rewriters must be a non-empty list of Rewriter instances")
        if max_per_row is not None and max_per_row < 1:
            raise ValueError(f"max_per_row={max_per_row!r} must be a positive integer or None")
        self.rewriters = rewriters
        self.column = column
        self.views_column = views_column
        self.output_column = output_column
        self.max_per_row = max_per_row
        self._batches = 0

    def output_features(self, features: Features) -> Features:
        """``features`` plus the ``distractors`` column: pass it as ``Dataset.map(features=...)``.

        ``Dataset.map`` infers a column's type from the first batch it writes; if every row
        of that batch has no candidates, the column would be typed null and a later batch
        would fail to fit. Giving the schema up front avoids that.

        Example:
            >>> rw = Rewriters([NegationRewriter()])  # doctest: +SKIP
            >>> ds.map(rw, batched=True, features=rw.output_features(ds.features))  # doctest: +SKIP
        """
        return Features({**features, self.output_column: List(CANDIDATE_FEATURE)})

    def rewrite_texts(self, texts: Sequence[str]) -> dict[str, list[Candidate]]:
        """Candidates for each distinct text, all rewriters together (parsed once per model)."""
        unique = list(dict.fromkeys(check_texts(texts)))
        results: dict[str, list[Candidate]] = {t: [] for t in unique}
        parsed: dict[tuple, list] = {}
        for rewriter in self.rewriters:
            key = (rewriter.spacy_model, rewriter.disable)
            if key not in parsed:
                parsed[key] = rewriter.parse_all(list(unique))
            for text, candidates in zip(unique, rewriter.rewrite_docs(parsed[key])):
                results[text].extend(candidates)
        return results

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        """The batch with the ``distractors`` column added (a ``Dataset.map`` function)."""
        if self.column not in batch:
            raise KeyError(f"the batch has no column {self.column!r}; columns: {sorted(batch)}")
        self._batches += 1
        sources = [self._row_texts(batch, i) for i in range(len(batch[self.column]))]
        by_text = self.rewrite_texts([t for own, views in sources for t in (*own, *views)])
        rows = [self._row_candidates(own, views, by_text) for own, views in sources]
        return {**batch, self.output_column: rows}

    def _row_texts(self, batch: dict[str, list], index: int) -> tuple[list[str], list[str]]:
        expressions = [t for t in batch[self.column][index] or [] if isinstance(t, str)]
        views: list[str] = []
        if self.views_column and self.views_column in batch:
            row_views = batch[self.views_column][index] or {}
            views = [row_views[f] for f in VIEW_FIELDS if isinstance(row_views.get(f), str)]
        return expressions, views

    def _row_candidates(
        self, own: list[str], views: list[str], by_text: dict[str, list[Candidate]]
    ) -> list[dict[str, Any]]:
        positives = {normalize(t) for t in (*own, *views)}
        seen = set(positives)
        per_kind: dict[str, list[Candidate]] = {}
        for text in dict.fromkeys((*own, *views)):
            for candidate in by_text.get(text, ()):
                key = normalize(candidate.text)
                if key not in seen:
                    seen.add(key)
                    per_kind.setdefault(candidate.kind, []).append(candidate)
        return [c.to_row() for c in _round_robin(list(per_kind.values()), self.max_per_row)]

    # ------------------------------------------------------------------ failures
    @property
    def batches_seen(self) -> int:
        """Batches this instance rewrote since it was built or unpickled.

        0 after a ``Dataset.map`` means the datasets cache served the map (the function
        never ran), so :meth:`failure_counts` says nothing about that dataset.
        """
        return self._batches

    @property
    def failed_texts(self) -> int:
        """Texts a rewriter raised on, summed over the rewriters (see :meth:`failure_counts`)."""
        return sum(self.failure_counts().values())

    def failure_counts(self) -> dict[str, int]:
        """Per rewriter kind, the distinct texts it raised on (each got none of its candidates).

        Counted in this process since the instance was built: ``Dataset.map`` with the
        default ``num_proc`` calls this very instance, so the counts cover the map.

        Example:
            >>> rewrite = Rewriters([AttributeRewriter(), NegationRewriter()])  # doctest: +SKIP
            >>> _ = rewrite({"expressions": [["man holding an umbrella"]]})  # doctest: +SKIP
            >>> rewrite.failure_counts()  # doctest: +SKIP
            {'attribute': 0, 'negation': 0}
        """
        counts: dict[str, int] = {}
        for rewriter in self.rewriters:
            counts[rewriter.kind] = counts.get(rewriter.kind, 0) + rewriter.failed_texts
        return counts

    def __getstate__(self) -> dict[str, Any]:
        # The counters stay out of pickles and datasets fingerprints (the hash must not
        # change after use).
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._batches = 0

    def __repr__(self) -> str:
        return f"Rewriters({self.rewriters!r}, column={self.column!r}, max_per_row={self.max_per_row!r})"


def _round_robin(queues: list[list[Candidate]], limit: int | None) -> list[Candidate]:
    if limit is None:
        return [c for queue in queues for c in queue]
    chosen: list[Candidate] = []
    depth = 0
    while len(chosen) < limit and any(depth < len(q) for q in queues):
        chosen.extend(q[depth] for q in queues if depth < len(q))
        depth += 1
    return chosen[:limit]
