"""``"nearest"``: the largest cosine to any single member; negative below ``threshold``."""

from __future__ import annotations

import numpy as np

from refaug.clusters.base import ClusterSet, JudgementMethod


class NearestMethod(JudgementMethod):
    name = "nearest"
    # The maximum-F1 point of `refaug calibrate --synthetic 400 --method nearest`: 0.597
    # (AUC 0.744), rounded; benchmarks/results/calibration_synthetic.json.
    default_threshold = 0.60
    centroid_based = False
    similarity_label = "nearest threshold"

    def similarity(self, clusters: ClusterSet, rows: np.ndarray, vocab: np.ndarray,
                   cosine: np.ndarray) -> np.ndarray:
        """The largest cosine of each candidate to any single member of its cluster."""
        counts = clusters.n_members[rows]
        best = np.full(len(rows), -np.inf, np.float32)
        for m in range(int(counts.max(initial=0))):
            has = counts > m
            member = clusters.member_idx[clusters.member_ptr[rows[has]] + m]
            sims = np.einsum("nd,nd->n", clusters.vectors[vocab[has]], clusters.vectors[member])
            best[has] = np.maximum(best[has], sims)
        return best
