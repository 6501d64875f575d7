"""``"centroid"``: the cosine to the normalised mean of the members; negative below ``threshold``."""

from __future__ import annotations

from refaug.clusters.base import JudgementMethod


class CentroidMethod(JudgementMethod):
    """The seed's method: a candidate is a negative when its centroid cosine is below ``threshold``."""

    name = "centroid"
    # The maximum-F1 point of `refaug calibrate --synthetic 400 --method centroid`
    # (all-MiniLM-L6-v2, synthetic scenes, seed 0): 0.598 (AUC 0.783), rounded;
    # benchmarks/results/calibration_synthetic.json. Re-calibrate for another encoder or dataset.
    default_threshold = 0.60
