"""Calibration: choose a cluster threshold from labelled pairs; ROC AUC; the plot.

:func:`calibrate_threshold` scores pairs known to describe the same referent (leave one
out) or other objects (same image, other images) with a cluster method, chooses the
threshold (maximum F1, or a false-negative rate) and reports the AUC and a plot. For
``"contrast"`` it first fits the weights of the contrast model on the same pairs.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from refaug.clusters.classifier import ClusterClassifier
from refaug.clusters.members import cluster_texts
from refaug.clusters.registry import CLUSTER_METHODS, ClusterMethod, method_class
from refaug.contrast import ContrastModel, Description, compare, pair_features
from refaug.embed import Embedder
from refaug.errors import check_choice
from refaug.vectors import centroid as vector_centroid
from refaug.vectors import loosest_member

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Calibration:
    """The result of :func:`calibrate_threshold`.

    Attributes:
        method: the cluster method calibrated.
        threshold: the chosen cut-off (for ``"radius"``: of ``sim - loosest member``, and
            ``margin = -threshold``).
        criterion: ``"f1"`` or ``"fnr"``.
        auc: ROC AUC of same-referent vs other-object similarities (all negatives).
        auc_same_image: ROC AUC against the other objects of the same image only.
        auc_cross_image: ROC AUC against objects of other images only.
        precision, recall, f1: of the "same referent" class at the threshold.
        false_negative_rate: share of same-referent texts judged negative at the threshold.
        false_positive_rate: share of other-object texts judged inside the cluster.
        n_positive, n_same_image, n_cross_image: pair counts.
        plot: the PNG path, when one was written.
        model: for ``"contrast"``, the fitted :class:`~refaug.contrast.ContrastModel` as a dict.
    """

    method: str
    threshold: float
    criterion: str
    auc: float
    auc_same_image: float
    auc_cross_image: float
    precision: float
    recall: float
    f1: float
    false_negative_rate: float
    false_positive_rate: float
    n_positive: int
    n_same_image: int
    n_cross_image: int
    plot: str | None = None
    model: dict[str, Any] | None = None

    def classifier(self, *, embedder: Embedder | None = None) -> ClusterClassifier:
        """A :class:`ClusterClassifier` configured at this operating point."""
        options = method_class(self.method).calibrated_options(self.threshold, self.model)
        return ClusterClassifier(self.method, embedder=embedder, **options)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def roc_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """ROC AUC: the probability that a positive scores above a negative (ties count half).

    The Mann-Whitney U statistic of the positives over the negatives, divided by the number
    of pairs (``scipy.stats.mannwhitneyu``; mid-ranks make ties count half).

    Example:
        >>> roc_auc(np.array([0.9, 0.8]), np.array([0.1, 0.85]))
        0.75
    """
    from scipy.stats import mannwhitneyu

    positive, negative = np.asarray(positive, float), np.asarray(negative, float)
    if len(positive) == 0 or len(negative) == 0:
        return float("nan")
    u = mannwhitneyu(positive, negative, alternative="two-sided", method="asymptotic").statistic
    return float(u / (len(positive) * len(negative)))


Criterion = Literal["f1", "fnr"]
CRITERIA: tuple[str, ...] = get_args(Criterion)


def choose_threshold(
    positive: np.ndarray, negative: np.ndarray, *, criterion: Criterion = "f1",
    target_fnr: float = 0.05,
) -> float:
    """The cut-off that maximises F1 of the positive class, or meets a false-negative rate.

    A candidate is judged positive (inside) at ``score >= threshold``.

    Example:
        >>> choose_threshold(np.array([0.9, 0.8]), np.array([0.1, 0.2]))
        0.8
    """
    check_choice("criterion", criterion, CRITERIA)
    positive, negative = np.sort(np.asarray(positive, float)), np.sort(np.asarray(negative, float))
    if len(positive) == 0:
        raise ValueError("no positive pairs to calibrate on; the dataset needs referents with 2+ texts")
    if criterion == "fnr":
        # The largest threshold whose false-negative rate (positives below it) is <= target.
        index = int(np.floor(target_fnr * len(positive)))
        return float(positive[min(index, len(positive) - 1)])
    candidates = np.unique(positive)
    tp = len(positive) - np.searchsorted(positive, candidates, side="left")
    fp = len(negative) - np.searchsorted(negative, candidates, side="left")
    f1 = 2 * tp / np.maximum(2 * tp + fp + (len(positive) - tp), 1)
    return float(candidates[int(np.argmax(f1))])


def _statistic(clf: ClusterClassifier, members: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """The score a threshold is chosen on: the similarity, or for "radius" its offset."""
    return clf.rule.calibration_statistic(clf.similarity_embeddings(members, candidates), loosest_member(members))


def _labelled_scores(
    clusters: list[tuple[str, ...]], images: list[Any], score: Any, *, min_members: int,
    cross_image_per_referent: int, seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores of same-referent (leave one out), same-image and cross-image pairs.

    ``score(i, held_out, texts)`` scores ``texts`` against referent i's cluster without its
    member ``held_out`` (None: all members); it returns one value (or feature row) per text.
    """
    rng = np.random.default_rng(seed)
    by_image: dict[Any, list[int]] = {}
    for i, image in enumerate(images):
        by_image.setdefault(image, []).append(i)
    positive, same_image, cross_image = [], [], []
    for i, texts in enumerate(clusters):
        if len(texts) >= min_members:
            for k in range(len(texts)):
                positive.append(score(i, k, [texts[k]]))
        others = [t for j in by_image[images[i]] if j != i for t in clusters[j] if t not in texts]
        if others:
            same_image.append(score(i, None, others))
        picks = rng.integers(0, len(clusters), size=cross_image_per_referent)
        foreign = [t for j in picks if images[j] != images[i] for t in clusters[j][:1]]
        if foreign:
            cross_image.append(score(i, None, foreign))
    return tuple(np.concatenate(part) if part else np.zeros(0) for part in (positive, same_image, cross_image))


def _embedding_scorer(clf: ClusterClassifier, clusters: list[tuple[str, ...]],
                      vectors: dict[str, np.ndarray]) -> Any:
    def score(i: int, held_out: int | None, texts: list[str]) -> np.ndarray:
        full = np.stack([vectors[t] for t in clusters[i]])
        members = full if held_out is None else np.delete(full, held_out, axis=0)
        return _statistic(clf, members, np.stack([vectors[t] for t in texts]))

    return score


def _contrast_scorer(clf: ClusterClassifier, clusters: list[tuple[str, ...]], categories: list[str | None],
                     vectors: dict[str, np.ndarray]) -> Any:
    """Feature rows (:data:`refaug.contrast.FEATURES`) of each pair, for fitting the model."""
    clf.describe([t for c in clusters for t in c])

    def score(i: int, held_out: int | None, texts: list[str]) -> np.ndarray:
        members = [t for k, t in enumerate(clusters[i]) if k != held_out]
        centroid = vector_centroid(np.stack([vectors[t] for t in members]))
        cluster = Description.union(clf.describe(members), category=categories[i])
        cosine = np.stack([vectors[t] for t in texts]) @ centroid
        return np.stack([pair_features(compare(cluster, d), float(c))
                         for d, c in zip(clf.describe(texts), cosine, strict=True)])

    return score


def labelled_pairs(
    dataset: Any, *, method: ClusterMethod = "centroid", embedder: Embedder | None = None,
    include_expressions: bool = True, cross_image_per_referent: int = 3, seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The scores of same-referent, same-image and cross-image pairs of a dataset.

    For ``method="contrast"`` each pair is a feature row (:data:`refaug.contrast.FEATURES`),
    ready for :meth:`~refaug.contrast.ContrastModel.fit`; otherwise the method's statistic.
    """
    check_choice("method", method, CLUSTER_METHODS)
    embedder = embedder or Embedder()
    clf = ClusterClassifier(method, embedder=embedder)
    columns = [c for c in ("image_id", "expressions", "views", "category") if c in dataset.column_names]
    rows = dataset.select_columns(columns).to_list()
    clusters = [cluster_texts(r, include_expressions=include_expressions) for r in rows]
    keep = [i for i, c in enumerate(clusters) if c]
    clusters, images = [clusters[i] for i in keep], [rows[i]["image_id"] for i in keep]
    categories = [rows[i].get("category") or None for i in keep]
    distinct = list(dict.fromkeys(t for c in clusters for t in c))
    vectors = dict(zip(distinct, embedder.encode_distinct(distinct), strict=True))
    if clf.rule.fits_model:  # feature rows for the fit, not scores
        score = _contrast_scorer(clf, clusters, categories, vectors)
    else:
        score = _embedding_scorer(clf, clusters, vectors)
    return _labelled_scores(clusters, images, score, min_members=clf.rule.calibration_min_members,
                            cross_image_per_referent=cross_image_per_referent, seed=seed)


def calibrate_threshold(
    dataset: Any,
    *,
    method: ClusterMethod = "centroid",
    embedder: Embedder | None = None,
    criterion: Criterion = "f1",
    target_fnr: float = 0.05,
    include_expressions: bool = True,
    cross_image_per_referent: int = 3,
    seed: int = 0,
    plot: str | Path | None = None,
    fitted_on: str = "",
) -> Calibration:
    """Choose a cluster threshold from texts known to describe the same or other objects.

    Positives: each member of a referent's cluster against the rest of that cluster (leave
    one out). Negatives: the texts of the other referents of the same image, and the first
    text of ``cross_image_per_referent`` random referents of other images.

    Args:
        dataset: rows with ``image_id``, ``expressions`` and optionally ``views``.
        method: the cluster method to calibrate (see :class:`ClusterClassifier`).
        embedder: the embedder; None uses the default :class:`~refaug.embed.Embedder`.
        criterion: ``"f1"`` (maximum F1 of the same-referent class) or ``"fnr"``
            (the highest threshold whose false-negative rate is at most ``target_fnr``).
        target_fnr: the false-negative rate for ``criterion="fnr"``.
        include_expressions: add the original expressions to the views' cluster.
        cross_image_per_referent: random other-image texts per referent.
        seed: the seed of the cross-image draw.
        plot: a PNG path for the plot of the similarity distributions; None writes none.
        fitted_on: for ``"contrast"``, a note recorded with the fitted weights.

    For ``method="contrast"`` the weights of the contrast model are fitted on the same
    labelled pairs first (:meth:`~refaug.contrast.ContrastModel.fit`), then the threshold is
    chosen on its probability; the result carries the weights (``model``), and
    ``.classifier()`` uses them. The AUC reported is then in-sample: hold images out
    (``benchmarks/contrast.py`` does) for an honest estimate.

    Returns a :class:`Calibration`; ``.classifier()`` gives the classifier at that point.
    Example:
        >>> from refaug.data.synthetic import synthetic_scenes
        >>> cal = calibrate_threshold(synthetic_scenes(50, image_size=(64, 48)))  # doctest: +SKIP
        >>> round(cal.auc, 2), cal.threshold  # doctest: +SKIP
    """
    check_choice("method", method, CLUSTER_METHODS)
    check_choice("criterion", criterion, CRITERIA)
    pos, same, cross = labelled_pairs(dataset, method=method, embedder=embedder,
                                      include_expressions=include_expressions,
                                      cross_image_per_referent=cross_image_per_referent, seed=seed)
    model = None
    if method_class(method).fits_model:
        model, (pos, same, cross) = _fit_model(pos, same, cross, fitted_on=fitted_on)
    threshold = choose_threshold(pos, np.concatenate([same, cross]), criterion=criterion, target_fnr=target_fnr)
    result = _operating_point(method, threshold, criterion, pos, same, cross)
    if model is not None:
        result = Calibration(**{**result.to_dict(), "model": model.to_dict()})
    if plot is not None:
        result = Calibration(**{**result.to_dict(), "plot": str(plot_calibration(result, pos, same, cross, plot))})
    _log_calibration(result, len(pos), len(same), len(cross))
    return result


def _fit_model(pos: np.ndarray, same: np.ndarray, cross: np.ndarray, *,
               fitted_on: str) -> tuple[ContrastModel, tuple[np.ndarray, ...]]:
    """Fit the contrast model on the pairs' feature rows; return it and the pairs' probabilities."""
    features = np.concatenate([pos, same, cross])
    labels = np.concatenate([np.ones(len(pos)), np.zeros(len(same) + len(cross))])
    model = ContrastModel.fit(features, labels, fitted_on=fitted_on or f"{len(features)} pairs")
    return model, tuple(model.probability(x) if len(x) else np.zeros(0) for x in (pos, same, cross))


def _log_calibration(result: Calibration, n_pos: int, n_same: int, n_cross: int) -> None:
    logger.info(
        "calibrated %s: threshold %.3f (%s), AUC %.3f (same image %.3f, cross image %.3f), "
        "F1 %.3f, FNR %.3f, FPR %.3f on %d/%d/%d pairs",
        result.method, result.threshold, result.criterion, result.auc, result.auc_same_image,
        result.auc_cross_image, result.f1, result.false_negative_rate,
        result.false_positive_rate, n_pos, n_same, n_cross,
    )


def _operating_point(
    method: str, threshold: float, criterion: str,
    pos: np.ndarray, same: np.ndarray, cross: np.ndarray,
) -> Calibration:
    neg = np.concatenate([same, cross])
    tp = int((pos >= threshold).sum())
    fp = int((neg >= threshold).sum())
    precision = tp / max(tp + fp, 1)
    recall = tp / max(len(pos), 1)
    return Calibration(
        method=method, threshold=round(float(threshold), 4), criterion=criterion,
        auc=roc_auc(pos, neg), auc_same_image=roc_auc(pos, same), auc_cross_image=roc_auc(pos, cross),
        precision=precision, recall=recall,
        f1=2 * precision * recall / max(precision + recall, 1e-12),
        false_negative_rate=1.0 - recall, false_positive_rate=fp / max(len(neg), 1),
        n_positive=len(pos), n_same_image=len(same), n_cross_image=len(cross),
    )


def plot_calibration(
    result: Calibration, pos: np.ndarray, same: np.ndarray, cross: np.ndarray, path: str | Path
) -> Path:
    """Write a histogram of the three similarity distributions with the threshold (PNG)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = np.linspace(min(np.min(pos), np.min(np.concatenate([same, cross, pos]))), 1.0, 50)
    for values, label in ((pos, "same referent"), (same, "other object, same image"),
                          (cross, "other image")):
        if len(values):
            ax.hist(values, bins=bins, alpha=0.5, density=True, label=f"{label} (n={len(values)})")
    ax.axvline(result.threshold, color="k", linestyle="--", label=f"threshold {result.threshold:.3f}")
    statistic = method_class(result.method).statistic_label
    ax.set_xlabel(f"{result.method}: {statistic}")
    ax.set_ylabel("density")
    ax.set_title(f"AUC {result.auc:.3f} (same image {result.auc_same_image:.3f}), "
                 f"F1 {result.f1:.3f}, FNR {result.false_negative_rate:.3f}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
