"""The contrast model's features: one vector per cluster-candidate pair."""

from __future__ import annotations

from collections.abc import Sequence

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
