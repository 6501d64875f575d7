"""``"radius"``: the centroid cosine against a per-cluster cut-off (the loosest member minus ``margin``).

A tight cluster is strict, a loose one lenient. A single-member cluster, whose spread is
unknown, uses ``threshold``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from refaug.clusters.base import JudgementMethod

# Margin below the loosest member: the maximum-F1 offset of (similarity - loosest member) in
# `refaug calibrate --synthetic 400 --method radius`, -0.222, rounded (AUC 0.834).
DEFAULT_RADIUS_MARGIN = 0.22


class RadiusMethod(JudgementMethod):
    name = "radius"
    default_threshold = 0.60  # single-member clusters: the centroid method's threshold
    calibration_min_members = 3
    similarity_label = "sim radius"
    statistic_label = "similarity - loosest member"

    def cutoffs(self, loosest: np.ndarray, n_members: np.ndarray) -> np.ndarray:
        cutoffs = np.asarray(loosest, dtype=np.float32) - self.classifier.margin
        return np.where(np.asarray(n_members) < 2, self.threshold, cutoffs).astype(np.float32)

    def calibration_statistic(self, similarity: np.ndarray, loosest: float) -> np.ndarray:
        return similarity - loosest

    @classmethod
    def calibrated_options(cls, threshold: float, model: dict[str, Any] | None) -> dict[str, Any]:
        return {"margin": -threshold}
