"""Cluster judgement: does a candidate expression lie inside or outside a referent's cluster?

A referent's *cluster* is its set of expressions (views and, optionally, its originals).
Three methods judge a candidate against it:

- ``"centroid"``: cosine similarity to the normalised mean of the member embeddings;
  the candidate is a negative below ``threshold``;
- ``"radius"``: the same similarity against a per-cluster cut-off, the lowest
  member-to-centroid similarity minus ``margin`` (a tight cluster is strict, a loose
  one lenient);
- ``"nearest"``: the largest similarity to any single member, negative below ``threshold``;
- ``"contrast"``: the centroid cosine combined with the contrastive attributes the texts
  state (:mod:`refaug.contrast`): a conflict ("left" vs "right" of the same head noun)
  pushes a candidate out, an agreement in; the weight of each kind is a logistic model
  fitted on labelled pairs (:class:`~refaug.contrast.ContrastModel`), the similarity is
  P(same referent), negative below ``threshold``. :meth:`ClusterClassifier.explain` lists
  what it found.

:func:`calibrate_threshold` chooses the threshold from labelled pairs (same referent vs
other objects) and reports the ROC AUC, the operating point and a plot.

Example:
    >>> clf = ClusterClassifier(method="centroid", threshold=0.7)
    >>> clf.is_negative(["the red circle on the left", "big red circle"],
    ...                 ["the blue square on the right"])  # doctest: +SKIP
    array([ True])
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from refaug.contrast import (
    ContrastModel,
    Description,
    Finding,
    compare,
    describe_texts,
    pair_features,
)
from refaug.embed import Embedder
from refaug.errors import check_choice

logger = logging.getLogger(__name__)

ClusterMethod = Literal["centroid", "radius", "nearest", "contrast"]
CLUSTER_METHODS: tuple[str, ...] = get_args(ClusterMethod)

# Default thresholds per method: the maximum-F1 points of the calibration run
# `refaug calibrate --synthetic 400 --method M` (all-MiniLM-L6-v2, synthetic scenes, seed 0),
# recorded in benchmarks/results/calibration_synthetic.json: centroid 0.598 (AUC 0.783),
# nearest 0.597 (AUC 0.744), rounded. Re-calibrate for another encoder or dataset.
# "contrast": P(same referent) at 0.5, the balanced logistic model's own decision point
# (its weights, DEFAULT_CONTRAST_MODEL, are fitted with classes balanced).
DEFAULT_THRESHOLDS: dict[str, float] = {"centroid": 0.60, "radius": 0.60, "nearest": 0.60,
                                        "contrast": 0.50}
# Margin below the loosest member for "radius": the same run's maximum-F1 offset of
# (similarity - loosest member), -0.222, rounded (AUC 0.834). "radius" uses the centroid
# threshold above for single-member clusters, whose spread is unknown.
DEFAULT_RADIUS_MARGIN = 0.22


# The contrast model's weights: fitted by `python benchmarks/contrast.py --fit-defaults`
# (all-MiniLM-L6-v2; labelled pairs of the hand-written RefCOCO-style set
# benchmarks/data/refcoco_style.jsonl, even image ids, plus synthetic_scenes(400, seed=0));
# results in benchmarks/results/contrast.json. Held out: AUC 0.953 on the RefCOCO-style odd
# image ids (same-image 0.927; centroid 0.774 / 0.631), 0.984 on synthetic_scenes(400, seed=1)
# (centroid 0.779), 117/120 right on tests/data/contrast_pairs.tsv. Re-fit for another encoder
# or dataset with calibrate_threshold(dataset, method="contrast").
DEFAULT_CONTRAST_MODEL = ContrastModel(
    intercept=-0.284,
    weights={
        "cosine": 2.3798, "conflicts": -6.0289, "agreements": 1.3809,
        "conflict:head": -0.3386, "conflict:spatial": -1.0445, "conflict:extreme": 3.8303, "conflict:ordinal": -1.5666,
        "conflict:color": -3.2988, "conflict:pattern": 0.0, "conflict:size": -0.4421, "conflict:count": -0.2581,
        "conflict:material": -0.2957, "conflict:clothing": -0.0288, "conflict:action": -0.4318, "conflict:negation": -0.2909,
        "conflict:landmark": -1.5335,
        "agree:head": 0.2576, "agree:spatial": -0.0883, "agree:extreme": -0.1609, "agree:ordinal": 0.4145,
        "agree:color": -1.1601, "agree:pattern": 0.0666, "agree:size": 0.5929, "agree:count": 0.2258,
        "agree:material": 0.196, "agree:clothing": -0.1165, "agree:action": 0.5571, "agree:negation": 0.0,
        "agree:landmark": -0.1399,
    },
    fitted_on="python benchmarks/contrast.py --fit-defaults",
)


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """L2-normalise the rows of ``matrix`` (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class ClusterClassifier:
    """Judge candidates against a cluster of expressions.

    Args:
        method: ``"centroid"``, ``"radius"`` or ``"nearest"`` (see the module docstring).
        threshold: the similarity below which a candidate is a negative; None takes the
            calibrated default of the method. For ``"radius"`` it is the cut-off of a
            single-member cluster, whose spread is unknown.
        margin: for ``"radius"``, how far below the loosest member the cut-off lies.
        embedder: the :class:`~refaug.embed.Embedder` used by the text-level methods;
            None creates the default one on first use.
        model: for ``"contrast"``, the :class:`~refaug.contrast.ContrastModel` (or its
            dict); None: ``DEFAULT_CONTRAST_MODEL``.
        conflict_is_negative: for ``"contrast"``, a candidate with a conflict ("left" vs
            "right" of the same head) of a kind the fit found decisive (its conflict alone
            keeps a pair below the threshold even at cosine 1: ``decisive_kinds``) is a
            negative whatever its probability; False: the probability alone decides.

    Example:
        >>> clf = ClusterClassifier(method="nearest", threshold=0.8)
        >>> clf
        ClusterClassifier(method='nearest', threshold=0.8, margin=0.22)
    """

    def __init__(
        self,
        method: ClusterMethod = "centroid",
        *,
        threshold: float | None = None,
        margin: float = DEFAULT_RADIUS_MARGIN,
        embedder: Embedder | None = None,
        model: ContrastModel | dict[str, Any] | None = None,
        conflict_is_negative: bool = True,
    ) -> None:
        check_choice("method", method, CLUSTER_METHODS)
        self.conflict_is_negative = bool(conflict_is_negative)
        self.method = method
        self.threshold = float(DEFAULT_THRESHOLDS[method] if threshold is None else threshold)
        self.margin = float(margin)
        if isinstance(model, dict):
            model = ContrastModel.from_dict(model)
        self.model = model or DEFAULT_CONTRAST_MODEL if method == "contrast" else None
        self._embedder = embedder
        self._default_embedder = embedder is None
        self._descriptions: dict[str, Description] = {}

    def __repr__(self) -> str:
        return (
            f"ClusterClassifier(method={self.method!r}, threshold={self.threshold}, "
            f"margin={self.margin})"
        )

    def config(self) -> dict[str, Any]:
        """The options that determine the judgements (what the fingerprint hashes)."""
        embedder = self._embedder.config() if self._embedder is not None else None
        model = self.model.to_dict() if self.model is not None else None
        return {"method": self.method, "threshold": self.threshold, "margin": self.margin,
                "embedder": embedder, "model": model, "conflict_is_negative": self.conflict_is_negative}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self._default_embedder:
            state["_embedder"] = None  # created on first use: being used must not change the hash
        state["_descriptions"] = {}  # a parse cache: being used must not change the hash
        return state

    def save(self, path: str | Path) -> Path:
        """Write the classifier's options (and the contrast model's weights) as JSON."""
        import json

        from refaug.io import atomic_write_text

        path = Path(path)
        config = {k: v for k, v in self.config().items() if k != "embedder"}
        atomic_write_text(path, json.dumps(config, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path, *, embedder: Embedder | None = None) -> ClusterClassifier:
        """Read a classifier written by :meth:`save`."""
        import json

        config = json.loads(Path(path).read_text())
        return cls(config["method"], threshold=config["threshold"], margin=config["margin"],
                   embedder=embedder, model=config.get("model"),
                   conflict_is_negative=config.get("conflict_is_negative", True))

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder()
        return self._embedder

    @property
    def centroid_based(self) -> bool:
        """True when the similarity is the cosine to the centroid (search can prune by it)."""
        return self.method in ("centroid", "radius")

    # -------------------------------------------------------------- contrast

    def describe(self, texts: Sequence[str]) -> list[Description]:
        """The contrastive description of each text (parsed once, then cached)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._descriptions]
        if missing:
            self._descriptions.update(zip(missing, describe_texts(missing), strict=True))
        return [self._descriptions[t] for t in texts]

    def contrast_probability(
        self, cluster: Description, candidates: Sequence[Description], cosine: np.ndarray
    ) -> tuple[np.ndarray, list[list[Finding]]]:
        """P(same referent) of each candidate, and the findings behind it."""
        findings = [compare(cluster, c) for c in candidates]
        if not findings:
            return np.zeros(0, np.float32), []
        features = np.stack([pair_features(f, float(s)) for f, s in zip(findings, cosine, strict=True)])
        return self.model.probability(features), findings

    def _conflicts(self, findings: Sequence[Sequence[Finding]]) -> np.ndarray:
        """Per candidate: a conflict that decides "negative" (when ``conflict_is_negative``)."""
        if not self.conflict_is_negative or self.model is None:
            return np.zeros(len(findings), bool)
        decisive = self.decisive_kinds
        return np.array([any(f.conflict and f.kind in decisive for f in found) for found in findings], bool)

    @property
    def decisive_kinds(self) -> frozenset[str]:
        """The conflict kinds that decide "negative" (:meth:`ContrastModel.decisive_kinds`)."""
        if not self.conflict_is_negative or self.model is None:
            return frozenset()
        return self.model.decisive_kinds(self.threshold)

    def explain(self, cluster_texts: Sequence[str], candidate: str, *,
                category: str | None = None) -> Explanation:
        """What the contrast judgement of ``candidate`` rests on: conflicts, agreements, scores.

        Works for every method (the findings are computed alike); ``score`` is the method's
        similarity.

        Example:
            >>> e = ClusterClassifier("contrast").explain(["left lady"], "lady on right")  # doctest: +SKIP
            >>> [str(c) for c in e.conflicts]  # doctest: +SKIP
            ['spatial: left vs right (head: lady)']
        """
        cosine, score, negative, findings = self._judge_texts(cluster_texts, [candidate], category=category)
        if findings is None:  # the embedding methods: the findings are for the record only
            cluster = Description.union(self.describe(list(cluster_texts)), category=category)
            findings = [compare(cluster, self.describe([candidate])[0])]
        return Explanation(
            conflicts=tuple(f for f in findings[0] if f.conflict),
            agreements=tuple(f for f in findings[0] if not f.conflict),
            cosine=float(cosine[0]), score=float(score[0]), negative=bool(negative[0]),
        )

    def _judge_texts(
        self, cluster_texts: Sequence[str], candidates: Sequence[str], *, category: str | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[list[Finding]] | None]:
        """Per candidate: cosine to the centroid, the method's similarity, the verdict, and
        for ``"contrast"`` the findings (None for the other methods)."""
        members, cands = self._embed(cluster_texts, candidates)
        cosine = cands @ normalize_rows(members.mean(axis=0, keepdims=True))[0]
        if self.method != "contrast":
            score = self.similarity_embeddings(members, cands)
            return cosine, score, score < self.cutoff_embeddings(members), None
        cluster = Description.union(self.describe(list(cluster_texts)), category=category)
        score, findings = self.contrast_probability(cluster, self.describe(list(candidates)), cosine)
        return cosine, score, (score < self.threshold) | self._conflicts(findings), findings

    # ----------------------------------------------------------- embeddings

    def similarity_embeddings(self, members: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """The method's similarity of each candidate row to the cluster of ``members`` rows.

        For ``"contrast"``, which needs the texts, this is the centroid cosine (its first
        feature); use :meth:`similarity` for the judgement.
        """
        if members.shape[0] == 0:
            raise ValueError("the cluster has no members; pass at least one text")
        if self.method == "nearest":
            return (candidates @ members.T).max(axis=1)
        centroid = normalize_rows(members.mean(axis=0, keepdims=True))[0]
        return candidates @ centroid

    def cutoff_embeddings(self, members: np.ndarray) -> float:
        """The similarity at and above which a candidate counts as inside the cluster."""
        if self.method != "radius":
            return self.threshold
        return self.radius_cutoffs(members_to_centroid_min(members), np.array([len(members)]))[0]

    def radius_cutoffs(self, min_member_similarity: np.ndarray, n_members: np.ndarray) -> np.ndarray:
        """Per-cluster cut-offs of ``"radius"`` from each cluster's loosest member."""
        cutoffs = np.asarray(min_member_similarity, dtype=np.float32) - self.margin
        return np.where(np.asarray(n_members) < 2, self.threshold, cutoffs).astype(np.float32)

    def cutoffs(self, min_member_similarity: np.ndarray, n_members: np.ndarray) -> np.ndarray:
        """Per-cluster cut-offs for many clusters at once (vectorised :meth:`cutoff_embeddings`)."""
        if self.method == "radius":
            return self.radius_cutoffs(min_member_similarity, n_members)
        return np.full(len(n_members), self.threshold, dtype=np.float32)

    # ----------------------------------------------------------------- texts

    def similarity(self, cluster_texts: Sequence[str], candidates: Sequence[str], *,
                   category: str | None = None) -> np.ndarray:
        """The similarity of each candidate text to the cluster (float32, one per candidate).

        For ``"contrast"`` it is P(same referent); ``category`` (the referent's dataset
        category, where known) stands in for a head noun the cluster's texts do not name.

        Example:
            >>> ClusterClassifier().similarity(["left lady"], ["left lady"]).round(3)  # doctest: +SKIP
            array([1.], dtype=float32)
        """
        return self._judge_texts(cluster_texts, candidates, category=category)[1]

    def is_negative(self, cluster_texts: Sequence[str], candidates: Sequence[str], *,
                    category: str | None = None) -> np.ndarray:
        """True for each candidate that lies outside the cluster (a negative)."""
        return self._judge_texts(cluster_texts, candidates, category=category)[2]

    def _embed(self, cluster_texts: Sequence[str], candidates: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        cluster_texts, candidates = list(cluster_texts), list(candidates)
        if not cluster_texts:
            raise ValueError("cluster_texts is empty; pass at least one member text")
        vectors = self.embedder.encode(cluster_texts + candidates)
        return vectors[: len(cluster_texts)], vectors[len(cluster_texts) :]

    def __call__(
        self,
        batch: dict[str, list],
        *,
        cluster_column: str = "expressions",
        candidate_column: str = "distractors",
    ) -> dict[str, list]:
        """Judge a batch, for ``Dataset.map(classifier, batched=True)``.

        ``candidate_column`` holds per row a list of strings or of candidate dicts (with a
        ``text`` key). Adds ``candidate_similarity`` and ``candidate_is_negative`` lists.
        """
        clusters = [list(c or []) for c in batch[cluster_column]]
        candidates = [[c["text"] if isinstance(c, dict) else c for c in row or []]
                      for row in batch[candidate_column]]
        flat = [t for c in clusters for t in c] + [t for row in candidates for t in row]
        vectors = dict(zip(flat, self.embedder.encode(flat))) if flat else {}
        categories = batch.get("category") or [None] * len(clusters)
        if self.method == "contrast":
            self.describe(flat)
        sims, negs = [], []
        for cluster, cands, category in zip(clusters, candidates, categories, strict=True):
            if not cluster or not cands:
                sims.append([])
                negs.append([])
                continue
            members = np.stack([vectors[t] for t in cluster])
            cand_vectors = np.stack([vectors[t] for t in cands])
            if self.method == "contrast":
                cosine = cand_vectors @ normalize_rows(members.mean(axis=0, keepdims=True))[0]
                union = Description.union(self.describe(cluster), category=category)
                sim, findings = self.contrast_probability(union, self.describe(cands), cosine)
                sims.append(sim.astype(float).tolist())
                negs.append(((sim < self.threshold) | self._conflicts(findings)).tolist())
                continue
            sim = self.similarity_embeddings(members, cand_vectors)
            sims.append(sim.astype(float).tolist())
            negs.append((sim < self.cutoff_embeddings(members)).tolist())
        return {"candidate_similarity": sims, "candidate_is_negative": negs}


@dataclass(frozen=True)
class Explanation:
    """Why a candidate was judged as it was (:meth:`ClusterClassifier.explain`).

    Attributes:
        conflicts: findings of incompatible values ("spatial: left vs right (head: lady)").
        agreements: findings of equal values.
        cosine: the candidate's cosine to the cluster centroid.
        score: the method's similarity (for ``"contrast"``, P(same referent)).
        negative: the judgement.
    """

    conflicts: tuple[Finding, ...]
    agreements: tuple[Finding, ...]
    cosine: float
    score: float
    negative: bool

    def __str__(self) -> str:
        found = [str(f) for f in (*self.conflicts, *self.agreements)] or ["no attributes to compare"]
        verdict = "negative" if self.negative else "inside the cluster"
        return f"{verdict} (score {self.score:.3f}, cosine {self.cosine:.3f}): " + "; ".join(found)


def members_to_centroid_min(members: np.ndarray) -> float:
    """The lowest cosine of a member to its cluster's normalised centroid."""
    centroid = normalize_rows(members.mean(axis=0, keepdims=True))[0]
    return float((members @ centroid).min())


# ------------------------------------------------------------------ calibration


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
        if self.method == "radius":
            return ClusterClassifier("radius", margin=-self.threshold, embedder=embedder)
        return ClusterClassifier(self.method, threshold=self.threshold, embedder=embedder, model=self.model)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def roc_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """ROC AUC: the probability that a positive scores above a negative (ties count half).

    Example:
        >>> roc_auc(np.array([0.9, 0.8]), np.array([0.1, 0.85]))
        0.75
    """
    positive, negative = np.asarray(positive, float), np.asarray(negative, float)
    if len(positive) == 0 or len(negative) == 0:
        return float("nan")
    scores = np.concatenate([positive, negative])
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    average_rank = ends - (counts - 1) / 2.0  # 1-based average rank of each distinct value
    ranks = average_rank[inverse]
    u = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2.0
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


def cluster_texts(row: dict[str, Any], *, include_expressions: bool = True) -> tuple[str, ...]:
    """The member texts of a row's cluster: its views' cluster, plus (option) its expressions.

    A row without views (or whose view generation failed, ``views=None``) falls back to its
    original expressions. Duplicates are removed, order is kept.

    Example:
        >>> cluster_texts({"expressions": ["left lady"], "views": None})
        ('left lady',)
    """
    views = row.get("views")
    texts: list[str] = []
    if views:
        texts += [views.get(k) for k in ("appearance", "action", "spatial", "alternative")]
    if include_expressions or not any(texts):
        texts += list(row.get("expressions") or ())
    return tuple(dict.fromkeys(t for t in texts if t))


def _statistic(clf: ClusterClassifier, members: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """The score a threshold is chosen on: the similarity, or for "radius" its offset."""
    sim = clf.similarity_embeddings(members, candidates)
    if clf.method == "radius":
        return sim - members_to_centroid_min(members)
    return sim


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
        centroid = normalize_rows(np.stack([vectors[t] for t in members]).mean(axis=0, keepdims=True))[0]
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
    if method == "contrast":
        score = _contrast_scorer(clf, clusters, categories, vectors)
    else:
        score = _embedding_scorer(clf, clusters, vectors)
    return _labelled_scores(clusters, images, score, min_members=3 if method == "radius" else 2,
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

    Returns:
        A :class:`Calibration`; ``.classifier()`` gives the classifier at that point.

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
    if method == "contrast":
        features = np.concatenate([pos, same, cross])
        labels = np.concatenate([np.ones(len(pos)), np.zeros(len(same) + len(cross))])
        model = ContrastModel.fit(features, labels, fitted_on=fitted_on or f"{len(features)} pairs")
        pos, same, cross = (model.probability(x) if len(x) else np.zeros(0) for x in (pos, same, cross))
    neg = np.concatenate([same, cross])
    threshold = choose_threshold(pos, neg, criterion=criterion, target_fnr=target_fnr)
    result = _operating_point(method, threshold, criterion, pos, same, cross)
    if model is not None:
        result = Calibration(**{**result.to_dict(), "model": model.to_dict()})
    if plot is not None:
        result = Calibration(**{**result.to_dict(), "plot": str(plot_calibration(result, pos, same, cross, plot))})
    logger.info(
        "calibrated %s: threshold %.3f (%s), AUC %.3f (same image %.3f, cross image %.3f), "
        "F1 %.3f, FNR %.3f, FPR %.3f on %d/%d/%d pairs",
        method, result.threshold, criterion, result.auc, result.auc_same_image,
        result.auc_cross_image, result.f1, result.false_negative_rate,
        result.false_positive_rate, len(pos), len(same), len(cross),
    )
    return result


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
    statistic = "similarity - loosest member" if result.method == "radius" else "cosine similarity"
    ax.set_xlabel(f"{result.method}: {statistic}")
    ax.set_ylabel("density")
    ax.set_title(f"AUC {result.auc:.3f} (same image {result.auc_same_image:.3f}), "
                 f"F1 {result.f1:.3f}, FNR {result.false_negative_rate:.3f}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
