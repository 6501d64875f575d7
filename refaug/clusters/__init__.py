"""Cluster judgement: does a candidate expression lie inside or outside a referent's cluster?

A referent's *cluster* is its set of expressions (views and, optionally, its originals).
Four methods judge a candidate against it, one class in one file each, listed in
:mod:`refaug.clusters.registry`:

- ``"centroid"`` (:mod:`~refaug.clusters.centroid`): cosine similarity to the normalised
  mean of the member embeddings; the candidate is a negative below ``threshold``;
- ``"radius"`` (:mod:`~refaug.clusters.radius`): the same similarity against a per-cluster
  cut-off, the lowest member-to-centroid similarity minus ``margin``;
- ``"nearest"`` (:mod:`~refaug.clusters.nearest`): the largest similarity to any single
  member, negative below ``threshold``;
- ``"contrast"`` (:mod:`~refaug.clusters.contrast`): the centroid cosine combined with the
  contrastive attributes the texts state (:mod:`refaug.contrast`) in a fitted logistic
  model; the similarity is P(same referent), negative below ``threshold``.

:class:`ClusterClassifier` holds the options and judges texts or arrays; every verdict in
refaug (the classifier, the pipeline's classify stage, mining) goes through
:meth:`ClusterClassifier.judge`. :func:`calibrate_threshold` (:mod:`~refaug.clusters.calibration`)
chooses the threshold from labelled pairs and reports the ROC AUC and a plot.

Example:
    >>> clf = ClusterClassifier(method="centroid", threshold=0.7)
    >>> clf.is_negative(["the red circle on the left", "big red circle"],
    ...                 ["the blue square on the right"])  # doctest: +SKIP
    array([ True])
"""

from __future__ import annotations

from refaug.clusters.base import ClusterSet, Judgement, JudgementMethod
from refaug.clusters.calibration import (
    CRITERIA,
    Calibration,
    Criterion,
    _labelled_scores,
    calibrate_threshold,
    choose_threshold,
    labelled_pairs,
    plot_calibration,
    roc_auc,
)
from refaug.clusters.classifier import ClusterClassifier, Explanation, members_to_centroid_min
from refaug.clusters.contrast import DEFAULT_CONTRAST_MODEL
from refaug.clusters.members import cluster_texts
from refaug.clusters.radius import DEFAULT_RADIUS_MARGIN
from refaug.clusters.registry import (
    CLUSTER_METHODS,
    DEFAULT_THRESHOLDS,
    METHODS,
    ClusterMethod,
    method_class,
)
from refaug.vectors import normalize_rows

__all__ = [
    "CLUSTER_METHODS",
    "CRITERIA",
    "DEFAULT_CONTRAST_MODEL",
    "DEFAULT_RADIUS_MARGIN",
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "Calibration",
    "ClusterClassifier",
    "ClusterMethod",
    "ClusterSet",
    "Criterion",
    "Explanation",
    "Judgement",
    "JudgementMethod",
    "_labelled_scores",
    "calibrate_threshold",
    "choose_threshold",
    "cluster_texts",
    "labelled_pairs",
    "members_to_centroid_min",
    "method_class",
    "normalize_rows",
    "plot_calibration",
    "roc_auc",
]
