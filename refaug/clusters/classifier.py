"""The cluster classifier: one object that holds a method's options and judges texts or arrays.

:class:`ClusterClassifier` is a thin facade over the method classes of
:mod:`refaug.clusters.registry`: it keeps the options (``method``, ``threshold``,
``margin``, the contrast ``model``), the embedder and the parse cache, and every
judgement it makes goes through :meth:`ClusterClassifier.judge`, the one routine that the
pipeline's classify stage and mining call too.

Example:
    >>> clf = ClusterClassifier(method="centroid", threshold=0.7)
    >>> clf.is_negative(["the red circle on the left", "big red circle"],
    ...                 ["the blue square on the right"])  # doctest: +SKIP
    array([ True])
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from refaug.clusters.base import ClusterSet, Judgement, JudgementMethod
from refaug.clusters.contrast import DEFAULT_CONTRAST_MODEL
from refaug.clusters.radius import DEFAULT_RADIUS_MARGIN
from refaug.clusters.registry import DEFAULT_THRESHOLDS, ClusterMethod, method_class
from refaug.contrast import (
    ContrastModel,
    Description,
    Finding,
    compare,
    describe_texts,
)
from refaug.embed import Embedder
from refaug.vectors import loosest_member

logger = logging.getLogger(__name__)


class ClusterClassifier:
    """Judge candidates against a cluster of expressions.

    Args:
        method: ``"contrast"`` (the default), ``"centroid"``, ``"radius"`` or ``"nearest"``
            (:data:`refaug.clusters.CLUSTER_METHODS`; each one's module says what it does).
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
        method: ClusterMethod = "contrast",
        *,
        threshold: float | None = None,
        margin: float = DEFAULT_RADIUS_MARGIN,
        embedder: Embedder | None = None,
        model: ContrastModel | dict[str, Any] | None = None,
        conflict_is_negative: bool = True,
    ) -> None:
        method_class(method)  # a ValueError naming the valid methods
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
        from refaug.io import atomic_write_text

        path = Path(path)
        config = {k: v for k, v in self.config().items() if k != "embedder"}
        atomic_write_text(path, json.dumps(config, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path, *, embedder: Embedder | None = None) -> ClusterClassifier:
        """Read a classifier written by :meth:`save`."""
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
    def rule(self) -> JudgementMethod:
        """The method object (:mod:`refaug.clusters.registry`), reading this classifier's options."""
        return method_class(self.method)(self)

    @property
    def centroid_based(self) -> bool:
        """True when the similarity is the cosine to the centroid (search can prune by it)."""
        return self.rule.centroid_based

    # ------------------------------------------------------------ judgement

    def judge(self, clusters: ClusterSet, rows: np.ndarray, vocab: np.ndarray, *,
              cosine: np.ndarray | None = None, alive: np.ndarray | None = None) -> Judgement:
        """Judge candidate ``vocab[i]`` against cluster ``rows[i]``: the one judgement routine.

        The classifier's text methods, the pipeline's classify stage and mining all come
        here, so their verdicts agree. See :meth:`~refaug.clusters.base.JudgementMethod.judge`.
        """
        return self.rule.judge(clusters, rows, vocab, cosine=cosine, alive=alive)

    def judge_texts(self, clusters: Sequence[Sequence[str]], candidates: Sequence[Sequence[str]], *,
                    categories: Sequence[str | None] | None = None) -> list[Judgement | None]:
        """Judge ``candidates[r]`` against ``clusters[r]`` for each r (one embedding pass, one parse).

        Returns one :class:`~refaug.clusters.base.Judgement` per cluster, None where the
        cluster or its candidates are empty.
        """
        flat = [t for row in candidates for t in row]
        cset, index = ClusterSet.from_texts(clusters, flat, embedder=self.embedder, category=categories)
        if self.method == "contrast":
            self.describe(list(cset.texts))  # one nlp.pipe pass over every text
        judgeable = [r for r, (c, cands) in enumerate(zip(clusters, candidates, strict=True)) if c and cands]
        rows = np.fromiter((r for r in judgeable for _ in candidates[r]), np.int64)
        vocab = np.fromiter((index[t] for r in judgeable for t in candidates[r]), np.int64)
        verdict = self.judge(cset, rows, vocab)
        out: list[Judgement | None] = [None] * len(clusters)
        start = 0
        for r in judgeable:
            end = start + len(candidates[r])
            out[r] = _slice(verdict, start, end)
            start = end
        return out

    def _judge_one(self, cluster_texts: Sequence[str], candidates: Sequence[str], *,
                   category: str | None = None) -> Judgement:
        cluster_texts, candidates = list(cluster_texts), list(candidates)
        if not cluster_texts:
            raise ValueError("cluster_texts is empty; pass at least one member text")
        if not candidates:
            empty = np.zeros(0, np.float32)
            return Judgement(empty, empty, np.zeros(0, bool), np.zeros(0, bool), [])
        return self.judge_texts([cluster_texts], [candidates], categories=[category])[0]

    def similarity(self, cluster_texts: Sequence[str], candidates: Sequence[str], *,
                   category: str | None = None) -> np.ndarray:
        """The similarity of each candidate text to the cluster (float32, one per candidate).

        For ``"contrast"`` it is P(same referent); ``category`` (the referent's dataset
        category, where known) stands in for a head noun the cluster's texts do not name.

        Example:
            >>> ClusterClassifier().similarity(["left lady"], ["left lady"]).round(3)  # doctest: +SKIP
            array([1.], dtype=float32)
        """
        return self._judge_one(cluster_texts, candidates, category=category).similarity

    def is_negative(self, cluster_texts: Sequence[str], candidates: Sequence[str], *,
                    category: str | None = None) -> np.ndarray:
        """True for each candidate that lies outside the cluster (a negative)."""
        return self._judge_one(cluster_texts, candidates, category=category).negative

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
        categories = batch.get("category") or [None] * len(clusters)
        verdicts = self.judge_texts(clusters, candidates, categories=categories)
        return {
            "candidate_similarity": [v.similarity.astype(float).tolist() if v else [] for v in verdicts],
            "candidate_is_negative": [v.negative.tolist() if v else [] for v in verdicts],
        }

    # -------------------------------------------------------------- contrast

    def describe(self, texts: Sequence[str]) -> list[Description]:
        """The contrastive description of each text (parsed once, then cached)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._descriptions]
        if missing:
            self._descriptions.update(zip(missing, describe_texts(missing), strict=True))
        return [self._descriptions[t] for t in texts]

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
        verdict = self._judge_one(cluster_texts, [candidate], category=category)
        findings = verdict.findings[0] if verdict.findings else None
        if findings is None:  # the embedding methods (or no parse needed): findings for the record
            cluster = Description.union(self.describe(list(cluster_texts)), category=category)
            findings = compare(cluster, self.describe([candidate])[0])
        return Explanation(
            conflicts=tuple(f for f in findings if f.conflict),
            agreements=tuple(f for f in findings if not f.conflict),
            cosine=float(verdict.cosine[0]), score=float(verdict.similarity[0]), negative=bool(verdict.negative[0]),
        )

    # ----------------------------------------------------------- embeddings

    def similarity_embeddings(self, members: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """The method's similarity of each candidate row to the cluster of ``members`` rows.

        For ``"contrast"``, which needs the texts, this is the centroid cosine (its first
        feature); use :meth:`similarity` for the judgement.
        """
        if members.shape[0] == 0:
            raise ValueError("the cluster has no members; pass at least one text")
        cset = ClusterSet.build(np.concatenate([members, candidates]), [range(len(members))])
        rows = np.zeros(len(candidates), np.int64)
        vocab = np.arange(len(members), len(members) + len(candidates))
        return self.rule.similarity(cset, rows, vocab, cset.cosine(rows, vocab))

    def cutoff_embeddings(self, members: np.ndarray) -> np.float32:
        """The similarity at and above which a candidate counts as inside the cluster."""
        return self.cutoffs(np.array([loosest_member(members)]), np.array([len(members)]))[0]

    def radius_cutoffs(self, min_member_similarity: np.ndarray, n_members: np.ndarray) -> np.ndarray:
        """Per-cluster cut-offs of ``"radius"`` from each cluster's loosest member."""
        return method_class("radius")(self).cutoffs(min_member_similarity, n_members)

    def cutoffs(self, min_member_similarity: np.ndarray, n_members: np.ndarray) -> np.ndarray:
        """Per-cluster cut-offs for many clusters at once."""
        return self.rule.cutoffs(min_member_similarity, n_members)


def _slice(verdict: Judgement, start: int, end: int) -> Judgement:
    return Judgement(cosine=verdict.cosine[start:end], similarity=verdict.similarity[start:end],
                     negative=verdict.negative[start:end], conflict=verdict.conflict[start:end],
                     findings=verdict.findings[start:end] if verdict.findings is not None else None)


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
    return loosest_member(members)
