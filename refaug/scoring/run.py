"""Running a scorer over many referents: :func:`score_all`, in batches with a progress bar,
and :func:`decision_point`, where a scorer says "match"."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from refaug.scoring.base import Scorer, _check_texts

logger = logging.getLogger(__name__)

# score_all shows a progress bar by default when the work takes more batches than this.
_PROGRESS_MIN_BATCHES = 10


def _rows(referents: Any, start: int, stop: int) -> list[Mapping[str, Any]]:
    """Rows ``start:stop`` of a list of rows or of a ``datasets.Dataset`` (sliced by columns)."""
    part = referents[start:stop]
    if isinstance(part, Mapping):  # a Dataset slice: {column: [values]}
        columns = list(part)
        return [dict(zip(columns, values)) for values in zip(*(part[c] for c in columns))]
    return list(part)


def decision_point(scorer: Scorer, own_scores: np.ndarray) -> float:
    """Where ``scorer`` says "match": its ``threshold``, or for relative scorers the mean score
    of the referent's own texts (NaN when none of them could be scored).

    Example:
        >>> from refaug.scoring import FunctionScorer
        >>> round(decision_point(FunctionScorer(lambda r, t: t), np.array([0.2, 0.4])), 2)
        0.3
    """
    if scorer.threshold is not None:
        return float(scorer.threshold)
    own = np.asarray(own_scores, np.float64)
    return float(np.nanmean(own)) if np.isfinite(own).any() else float("nan")


def score_all(
    scorer: Scorer,
    referents: Sequence[Mapping[str, Any]],
    texts: Sequence[Sequence[str]],
    *,
    show_progress_bar: bool | None = None,
) -> list[np.ndarray]:
    """Score every referent's texts, ``scorer.batch_size`` referents per call.

    Args:
        scorer: the scorer.
        referents: rows in refaug's schema: a list of dicts or a ``datasets.Dataset``.
        texts: one list of candidate texts per referent.
        show_progress_bar: show a progress bar; None (the default) shows one when the work
            takes more than 10 batches.

    Returns:
        One float32 array per referent, one score per text.

    Example:
        >>> from refaug.scoring import FunctionScorer
        >>> scorer = FunctionScorer(lambda refs, texts: [[1.0] * len(t) for t in texts],
        ...                         batch_size=2)
        >>> rows = [{"referent_id": str(i)} for i in range(5)]
        >>> [len(s) for s in score_all(scorer, rows, [["a"], ["b", "c"], [], ["d"], ["e"]])]
        [1, 2, 0, 1, 1]
        >>> scorer.calls
        3
    """
    _check_texts(referents, texts)
    n, size = len(referents), scorer.batch_size
    batches = math.ceil(n / size) if n else 0
    show = batches > _PROGRESS_MIN_BATCHES if show_progress_bar is None else show_progress_bar
    calls_before, texts_before = scorer.calls, scorer.texts_scored
    out: list[np.ndarray] = []
    with tqdm(total=n, desc=f"Scoring ({scorer.name})", unit="referent", disable=not show) as bar:
        for start in range(0, n, size):
            stop = min(start + size, n)
            out.extend(scorer(_rows(referents, start, stop), texts[start:stop]))
            bar.update(stop - start)
    logger.info(
        "%s scored %d texts of %d referents in %d calls",
        scorer.name, scorer.texts_scored - texts_before, n, scorer.calls - calls_before,
    )
    return out

