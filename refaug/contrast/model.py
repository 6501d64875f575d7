"""The contrast model: a logistic model of "same referent" over the pair features, with its
bounded fit (L-BFGS-B, the cosine's weight kept >= 0)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from refaug.contrast.compare import CONTRAST_KINDS
from refaug.contrast.features import FEATURES


@dataclass(frozen=True)
class ContrastModel:
    """A logistic model of "same referent" over :data:`FEATURES`.

    Attributes:
        intercept: the bias.
        weights: feature name -> weight (missing features weigh 0).
        fitted_on: where the weights come from (a command, a dataset), for the record.

    Example:
        >>> m = ContrastModel(intercept=-5.0, weights={"cosine": 8.0, "conflict:spatial": -4.0})
        >>> round(float(m.probability(np.array([[0.9] + [0.0] * (len(FEATURES) - 1)]))[0]), 3)
        0.9
    """

    intercept: float
    weights: dict[str, float]
    fitted_on: str = ""

    def vector(self) -> np.ndarray:
        return np.array([self.weights.get(name, 0.0) for name in FEATURES], np.float64)

    def logits(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features, np.float64) @ self.vector() + self.intercept

    def probability(self, features: np.ndarray) -> np.ndarray:
        """P(same referent) per row of ``features``."""
        return (1.0 / (1.0 + np.exp(-self.logits(features)))).astype(np.float32)

    def decisive_kinds(self, threshold: float) -> frozenset[str]:
        """The kinds whose conflict alone keeps a pair below ``threshold``, even at cosine 1.

        Where the fit found a kind's conflicts reliable, one decides "negative"; a kind the
        fit weighs lightly (a word the annotators use loosely) leaves it to the probability.
        """
        w = self.weights
        target = float(np.log(threshold / (1.0 - threshold))) if 0 < threshold < 1 else np.inf
        base = self.intercept + w.get("cosine", 0.0) + w.get("conflicts", 0.0)
        return frozenset(k for k in CONTRAST_KINDS if base + w.get(f"conflict:{k}", 0.0) < target)

    def cosine_floor(self, threshold: float) -> float:
        """The cosine below which no findings can lift a pair to ``threshold`` (a bound)."""
        w = self.vector()
        if w[0] <= 0:
            return -np.inf
        n = len(CONTRAST_KINDS)
        lift = sum(max(0.0, v) for v in w[3:]) + n * max(0.0, w[1]) + n * max(0.0, w[2])
        target = float(np.log(threshold / (1.0 - threshold))) if 0 < threshold < 1 else np.inf
        return float((target - self.intercept - lift) / w[0])

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, *, c: float = 1.0,
            fitted_on: str = "") -> ContrastModel:
        """Fit by L2-regularised logistic regression, classes balanced, cosine weight >= 0 and
        each kind's conflict weight <= 0.

        Args:
            features: ``(n, len(FEATURES))``.
            labels: 1 for "same referent", 0 for "other object".
            c: inverse regularisation strength.
            fitted_on: recorded with the weights.
        """
        from scipy.optimize import minimize

        labels = np.asarray(labels, np.float64)
        if len(np.unique(labels)) < 2:
            raise ValueError("fitting the contrast model needs pairs of both labels (same referent "
                             "and other object); the data has only one")
        # Standardise the cosine and the counts, so the L2 penalty weighs them like the 0/1
        # indicators, which stay as they are: a rare kind's weight then shrinks towards 0 and
        # the shared counts judge it. The scaling is folded back into the weights.
        x = np.asarray(features, np.float64)
        mean, std = x.mean(axis=0), x.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        indicator = np.array([":" in name for name in FEATURES])
        mean[indicator], std[indicator] = 0.0, 1.0
        z = (x - mean) / std
        # Classes balanced (each class weighs half), as sklearn's class_weight="balanced".
        sample = np.where(labels == 1, 0.5 / labels.sum(), 0.5 / (1 - labels).sum()) * len(labels)
        signs = 2 * labels - 1

        def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
            margin = signs * (z @ params[1:] + params[0])
            value = np.logaddexp(0, -margin)
            grad_margin = -sample * signs / (1 + np.exp(margin))
            grad = np.concatenate([[grad_margin.sum()], z.T @ grad_margin])
            grad[1:] += params[1:] / c
            return float((sample * value).sum() + (params[1:] ** 2).sum() / (2 * c)), grad

        # The cosine's weight is bounded at 0: more similar never makes "same" less likely; and
        # a conflict's at 0 from above: a stated contradiction never makes "same" more likely
        # (real data shows some kinds a handful of times, "with a hat" / "without a hat" on 8
        # pairs of the development file, too few for the sign of a free weight to mean anything).
        bounds = [(None, None), (0.0, None)] + [
            (None, 0.0) if name.startswith("conflict:") else (None, None) for name in FEATURES[1:]]
        result = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=bounds)
        coef = result.x[1:] / std
        intercept = float(result.x[0] - (coef * mean).sum())
        weights = {name: round(float(w), 4) for name, w in zip(FEATURES, coef, strict=True)}
        return cls(intercept=round(intercept, 4), weights=weights, fitted_on=fitted_on)

    def to_dict(self) -> dict[str, Any]:
        return {"intercept": self.intercept, "weights": dict(self.weights), "fitted_on": self.fitted_on}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContrastModel:
        unknown = set(data.get("weights", {})) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown contrast features {sorted(unknown)}; valid: {', '.join(FEATURES)}")
        return cls(intercept=float(data["intercept"]), weights={k: float(v) for k, v in data["weights"].items()},
                   fitted_on=str(data.get("fitted_on", "")))
