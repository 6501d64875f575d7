"""The contrast model's features: one vector per cluster-candidate pair."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from refaug.contrast.compare import CONTRAST_KINDS, Finding

# The classifier's features: the cosine to the centroid, how many kinds conflict and agree,
# and one indicator per kind for each. With L2 regularisation, a kind the training pairs
# never show keeps a weight near 0 and is judged by the shared counts.
FEATURES: tuple[str, ...] = (
    "cosine", "conflicts", "agreements",
    *(f"conflict:{k}" for k in CONTRAST_KINDS), *(f"agree:{k}" for k in CONTRAST_KINDS),
)
_INDEX = {name: i for i, name in enumerate(FEATURES)}
_COLUMN = {(name.startswith("conflict:"), name.split(":", 1)[1]): i for i, name in enumerate(FEATURES) if ":" in name}
_CONFLICT_COLUMNS = np.array([i for (conflict, _), i in _COLUMN.items() if conflict])
_AGREE_COLUMNS = np.array([i for (conflict, _), i in _COLUMN.items() if not conflict])


def pair_features(findings: Sequence[Finding], cosine: float) -> np.ndarray:
    """The feature vector (:data:`FEATURES`) of one cluster-candidate pair."""
    x = np.zeros(len(FEATURES), np.float32)
    x[0] = cosine
    conflicts = {f.kind for f in findings if f.conflict}
    agreements = {f.kind for f in findings if not f.conflict}
    x[1], x[2] = len(conflicts), len(agreements)
    for kind in conflicts:
        x[_INDEX[f"conflict:{kind}"]] = 1.0
    for kind in agreements:
        x[_INDEX[f"agree:{kind}"]] = 1.0
    return x


def feature_matrix(findings: Iterable[Sequence[Finding]], cosine: np.ndarray) -> np.ndarray:
    """:func:`pair_features` of many pairs at once: ``(len(cosine), len(FEATURES))`` float32.

    One pass over the findings collects the (pair, column) indicators; the counts are the
    indicator columns' sums. The same numbers as stacking :func:`pair_features` row by row.
    """
    cosine = np.asarray(cosine, np.float32)
    x = np.zeros((len(cosine), len(FEATURES)), np.float32)
    x[:, 0] = cosine
    rows: list[int] = []
    cols: list[int] = []
    column = _COLUMN
    for i, found in enumerate(findings):
        for f in found:  # a kind found twice sets its indicator twice: the same 1
            rows.append(i)
            cols.append(column[f.conflict, f.kind])
    x[np.asarray(rows, np.int64), np.asarray(cols, np.int64)] = 1.0
    x[:, 1] = x[:, _CONFLICT_COLUMNS].sum(axis=1)
    x[:, 2] = x[:, _AGREE_COLUMNS].sum(axis=1)
    return x


def conflict_columns(kinds: Iterable[str]) -> np.ndarray:
    """The :data:`FEATURES` columns of the conflicts of ``kinds`` (``conflict:<kind>``)."""
    return np.array(sorted(_INDEX[f"conflict:{k}"] for k in kinds), np.int64)
