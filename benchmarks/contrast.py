"""Contrast-aware cluster judgement vs the embedding methods, on referents held out of the fit.

Two objects of one image are usually told apart by one word ("left lady" / "right lady"),
which a sentence embedding barely registers. This benchmark measures how much the
``"contrast"`` method of :class:`~refaug.clusters.ClusterClassifier` (centroid cosine plus
the attributes of :mod:`refaug.contrast`, weighed by a fitted logistic model) adds over the
embedding-only methods ``"centroid"``, ``"radius"`` and ``"nearest"``.

Labelled pairs come from :func:`refaug.clusters.labelled_pairs`: a member of a referent's
cluster against the rest of it (same referent), the texts of the image's other referents
(same image) and texts of other images (cross image).

- Fit (the shipped ``DEFAULT_CONTRAST_MODEL``): the hand-written RefCOCO-style set
  ``benchmarks/data/refcoco_style.jsonl``, even image ids, plus
  ``synthetic_scenes(400, seed=0, image_size=(64, 48))``.
- Held out: the RefCOCO-style set's odd image ids; ``synthetic_scenes(400, seed=1)``; and
  the labelled pairs table ``tests/data/contrast_pairs.tsv`` (accuracy at each method's
  default threshold, per kind for ``"contrast"``).
- Also: in-sample AUC (fit and score on all RefCOCO-style pairs), a 2-fold cross-fitted
  AUC (fit on one image parity, score the other, pool), and transfer: models fitted on the
  RefCOCO-style half only or on synthetic scenes only, scored on both held-out sets.
- Speed: expressions parsed and described per second (:func:`refaug.contrast.describe_texts`).

Run (under a minute on 2 cores)::

    python benchmarks/contrast.py                 # evaluate the shipped default weights
    python benchmarks/contrast.py --fit-defaults  # re-fit them, rewrite DEFAULT_CONTRAST_MODEL

Writes ``benchmarks/results/contrast.json`` and ``contrast_auc.png``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import platform
import pprint
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from refaug.embed import Embedder

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
REFCOCO_STYLE = ROOT / "benchmarks" / "data" / "refcoco_style.jsonl"
PAIRS_TABLE = ROOT / "tests" / "data" / "contrast_pairs.tsv"
CLUSTERS_MODULE = ROOT / "refaug" / "clusters.py"
EMBEDDING_METHODS: tuple[str, ...] = ("centroid", "radius", "nearest")
METHODS: tuple[str, ...] = (*EMBEDDING_METHODS, "contrast")
SYNTHETIC_SIZE = (64, 48)
logger = logging.getLogger("benchmarks.contrast")


class MemoEmbedder(Embedder):
    """An :class:`Embedder` that keeps every vector in memory: each text is encoded once per run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._memo: dict[str, np.ndarray] = {}

    def encode_distinct(self, texts: Sequence[str], *, show_progress_bar: bool | None = None) -> np.ndarray:
        missing = [t for t in texts if t not in self._memo]
        if missing:
            vectors = super().encode_distinct(missing, show_progress_bar=show_progress_bar)
            self._memo.update(zip(missing, vectors, strict=True))
        if not texts:
            return super().encode_distinct(texts)
        return np.stack([self._memo[t] for t in texts])


# ------------------------------------------------------------------ data


def load_refcoco_style(path: Path = REFCOCO_STYLE) -> Any:
    """The hand-written RefCOCO-style set as a ``datasets.Dataset`` (one referent per row)."""
    from datasets import Dataset

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return Dataset.from_list(rows)


def image_parity(dataset: Any, parity: int) -> Any:
    """The rows whose image id is even (``parity=0``) or odd (``parity=1``)."""
    return dataset.filter(lambda image_id: int(image_id) % 2 == parity, input_columns="image_id")


def load_pairs_table(path: Path = PAIRS_TABLE) -> list[dict[str, Any]]:
    """The labelled pairs table: cluster texts (split on " | "), candidate, same, kind, note."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [{"cluster": [t.strip() for t in r["cluster"].split("|")], "candidate": r["candidate"],
             "same": int(r["same"]), "kind": r["kind"], "note": r.get("note") or ""} for r in rows]


# ----------------------------------------------------------------- pairs


def pair_scores(dataset: Any, embedder: Embedder) -> dict[str, tuple[np.ndarray, ...]]:
    """Per method, the (positive, same-image, cross-image) pairs: statistics, or for
    ``"contrast"`` feature rows."""
    from refaug.clusters import labelled_pairs

    return {m: labelled_pairs(dataset, method=m, embedder=embedder) for m in METHODS}


def fit_model(feature_sets: Sequence[tuple[np.ndarray, ...]], *, fitted_on: str) -> Any:
    """Fit a :class:`~refaug.contrast.ContrastModel` on (pos, same, cross) feature sets."""
    from refaug.contrast import ContrastModel

    features = np.concatenate([x for pos, same, cross in feature_sets for x in (pos, same, cross)])
    labels = np.concatenate([np.r_[np.ones(len(pos)), np.zeros(len(same) + len(cross))]
                             for pos, same, cross in feature_sets])
    return ContrastModel.fit(features, labels, fitted_on=fitted_on)


def aucs(pos: np.ndarray, same: np.ndarray, cross: np.ndarray) -> dict[str, Any]:
    """AUC overall, against same-image and against cross-image negatives, with pair counts."""
    from refaug.clusters import roc_auc

    return {"auc": round(roc_auc(pos, np.concatenate([same, cross])), 4),
            "auc_same_image": round(roc_auc(pos, same), 4),
            "auc_cross_image": round(roc_auc(pos, cross), 4),
            "n_positive": len(pos), "n_same_image": len(same), "n_cross_image": len(cross)}


def method_aucs(scores: dict[str, tuple[np.ndarray, ...]], model: Any) -> dict[str, dict[str, Any]]:
    """AUCs of every method; ``"contrast"`` features are scored with ``model``."""
    out = {m: aucs(*scores[m]) for m in EMBEDDING_METHODS}
    out["contrast"] = aucs(*(model.probability(x) for x in scores["contrast"]))
    return out


def cross_fitted(halves: Sequence[tuple[np.ndarray, ...]]) -> dict[str, Any]:
    """2-fold AUC: fit on one half's pairs, score the other half's, pool the scores."""
    scored = []
    for k, held_out in enumerate(halves):
        model = fit_model([halves[1 - k]], fitted_on=f"fold {1 - k}")
        scored.append([model.probability(x) for x in held_out])
    pooled = [np.concatenate([s[j] for s in scored]) for j in range(3)]
    return {**aucs(*pooled), "per_fold_auc": [aucs(*s)["auc"] for s in scored]}


# ----------------------------------------------------------- pairs table


def judge_pairs_table(rows: list[dict[str, Any]], embedder: Embedder, model: Any) -> dict[str, Any]:
    """Judge every row with ``"centroid"`` and ``"contrast"`` (with ``model``) at their default
    thresholds: accuracy of the judgement (:meth:`~refaug.clusters.ClusterClassifier.explain`'s
    ``negative``, as ``is_negative``), AUC of the score, and per kind for ``"contrast"``."""
    from refaug.clusters import ClusterClassifier, roc_auc

    classifiers = {"centroid": ClusterClassifier("centroid", embedder=embedder),
                   "contrast": ClusterClassifier("contrast", embedder=embedder, model=model)}
    classifiers["contrast"].describe([t for r in rows for t in (*r["cluster"], r["candidate"])])
    judged, result = [dict(r) for r in rows], {}
    labels = np.array([r["same"] for r in rows])
    for name, clf in classifiers.items():
        for r in judged:
            explanation = clf.explain(r["cluster"], r["candidate"])
            r[name] = round(explanation.score, 4)
            r[f"{name}_right"] = explanation.negative != bool(r["same"])
            if name == "contrast":
                r["findings"] = [str(f) for f in (*explanation.conflicts, *explanation.agreements)]
        scores = np.array([r[name] for r in judged])
        right = np.array([r[f"{name}_right"] for r in judged])
        result[name] = {"threshold": clf.threshold, "accuracy": round(float(right.mean()), 4),
                        "right": int(right.sum()),
                        "auc": round(roc_auc(scores[labels == 1], scores[labels == 0]), 4)}
    kinds = sorted({r["kind"] for r in judged})
    result["contrast"]["per_kind_accuracy"] = {
        k: round(float(np.mean([r["contrast_right"] for r in judged if r["kind"] == k])), 4) for k in kinds}
    result["n"] = len(judged)
    result["misjudged_by_contrast"] = [
        {k: r[k] for k in ("cluster", "candidate", "same", "kind", "centroid", "contrast", "findings")}
        for r in judged if not r["contrast_right"]]
    return result


# ------------------------------------------------------------- error listing


def worst_errors(dataset: Any, embedder: Embedder, model: Any, *, k: int = 12) -> list[dict[str, Any]]:
    """The held-out pairs the contrast model gets most wrong, with the texts and findings.

    Enumerates the same pairs as :func:`~refaug.clusters.labelled_pairs` (it reuses its
    private pair walk with a scorer that records the texts).
    """
    from refaug.clusters import ClusterClassifier, _labelled_scores, cluster_texts
    from refaug.contrast import Description, compare, pair_features

    clf = ClusterClassifier("contrast", embedder=embedder, model=model)
    rows = dataset.select_columns(["image_id", "expressions", "category"]).to_list()
    clusters = [cluster_texts(r) for r in rows]
    clf.describe([t for c in clusters for t in c])
    records: list[dict[str, Any]] = []

    def score(i: int, held_out: int | None, texts: list[str]) -> np.ndarray:
        members = [t for j, t in enumerate(clusters[i]) if j != held_out]
        vectors = embedder.encode(members + texts)
        centroid = vectors[: len(members)].mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        union = Description.union(clf.describe(members), category=rows[i]["category"])
        for text, vector in zip(texts, vectors[len(members) :], strict=True):
            findings = compare(union, clf.describe([text])[0])
            p = float(model.probability(pair_features(findings, float(vector @ centroid))[None])[0])
            records.append({"cluster": members, "candidate": text, "same": held_out is not None,
                            "p_same": round(p, 4), "findings": [str(f) for f in findings]})
        return np.zeros(len(texts))

    _labelled_scores(clusters, [r["image_id"] for r in rows], score, min_members=2,
                     cross_image_per_referent=3, seed=0)
    for r in records:
        r["error"] = round(1.0 - r["p_same"] if r["same"] else r["p_same"], 4)
    return sorted(records, key=lambda r: -r["error"])[:k]


# ----------------------------------------------------------------- speed


def extraction_speed(texts: Sequence[str], *, repeats: int = 2) -> dict[str, Any]:
    """Texts described per second by :func:`~refaug.contrast.describe_texts` (spaCy loaded first)."""
    from refaug.contrast import describe_texts
    from refaug.nlp import load_nlp

    nlp = load_nlp(disable=("ner",))
    describe_texts(list(texts[:50]), nlp=nlp)  # warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        describe_texts(list(texts), nlp=nlp)
        best = min(best, time.perf_counter() - start)
    return {"texts": len(texts), "seconds": round(best, 3), "texts_per_second": round(len(texts) / best, 1)}


# --------------------------------------------------------------- defaults


def model_literal(model: Any, *, per_line: int = 4) -> str:
    """The ``DEFAULT_CONTRAST_MODEL = ContrastModel(...)`` statement for ``model``: the
    weights grouped as in :data:`~refaug.contrast.FEATURES` (counts, conflicts, agreements)."""
    from refaug.contrast import FEATURES

    groups = [[n for n in FEATURES if ":" not in n]]
    for prefix in ("conflict:", "agree:"):
        names = [n for n in FEATURES if n.startswith(prefix)]
        groups += [names[k : k + per_line] for k in range(0, len(names), per_line)]
    lines = ["        " + " ".join(f"{json.dumps(n)}: {model.weights.get(n, 0.0)!r}," for n in g) for g in groups]
    return "\n".join([
        "DEFAULT_CONTRAST_MODEL = ContrastModel(",
        f"    intercept={model.intercept!r},",
        "    weights={",
        *lines,
        "    },",
        f"    fitted_on={json.dumps(model.fitted_on)},",
        ")",
    ])


def rewrite_defaults(model: Any, path: Path = CLUSTERS_MODULE) -> None:
    """Replace the ``DEFAULT_CONTRAST_MODEL = ...`` statement of ``refaug/clusters.py``."""
    source = path.read_text(encoding="utf-8")
    pattern = re.compile(r"^DEFAULT_CONTRAST_MODEL = ContrastModel\(.*?\)\n(?=\n)", re.S | re.M)
    if len(pattern.findall(source)) != 1:
        raise RuntimeError(f"found no single DEFAULT_CONTRAST_MODEL statement in {path}; edit it by hand")
    path.write_text(pattern.sub(lambda _: model_literal(model) + "\n", source), encoding="utf-8")


# ----------------------------------------------------------------- report


def plot_aucs(evaluation: dict[str, dict[str, dict[str, Any]]], pairs_table: dict[str, Any], path: Path) -> Path:
    """A bar chart of AUC per method per evaluation set."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    sets = [*evaluation, "pairs table"]
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(METHODS)
    for k, method in enumerate(METHODS):
        values = [evaluation[s][method]["auc"] for s in evaluation]
        values.append(pairs_table[method]["auc"] if method in pairs_table else np.nan)
        xs = np.arange(len(sets)) + (k - (len(METHODS) - 1) / 2) * width
        bars = ax.bar(xs, values, width, label=method)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(np.arange(len(sets)), sets, fontsize=8)
    ax.set_ylim(0.4, 1.12)
    ax.set_ylabel("ROC AUC (same referent vs other object)")
    ax.set_title("Held-out AUC per method (contrast: the shipped default weights)")
    ax.legend(fontsize=8, loc="upper left", ncol=len(METHODS))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def summary_table(result: dict[str, Any]) -> str:
    """The AUCs per method per held-out set, and the pairs table accuracy, as text."""
    lines = [f"{'set':<28}{'method':<10}{'AUC':>7}{'same img':>10}{'cross img':>11}"]
    for name, per_method in result["evaluation"].items():
        for method, r in per_method.items():
            lines.append(f"{name:<28}{method:<10}{r['auc']:>7.3f}{r['auc_same_image']:>10.3f}"
                         f"{r['auc_cross_image']:>11.3f}")
    table = result["pairs_table"]
    for method in ("centroid", "contrast"):
        r = table[method]
        lines.append(f"{'pairs table (' + str(table['n']) + ' rows)':<28}{method:<10}{r['auc']:>7.3f}"
                     f"   accuracy {r['accuracy']:.3f} at {r['threshold']}")
    rc = result["refcoco_style"]
    lines.append(f"refcoco-style contrast AUC: in-sample {rc['in_sample']['auc']:.3f}, 2-fold cross-fitted "
                 f"{rc['cross_fitted']['auc']:.3f}")
    for name, per_set in result["transfer"].items():
        lines.append(f"transfer, fitted on {name + ':':<20}" + ", ".join(
            f"{s} {r['auc']:.3f} (same img {r['auc_same_image']:.3f})" for s, r in per_set.items()))
    speed = result["extraction_speed"]
    lines.append(f"extraction: {speed['texts_per_second']:.0f} texts/s ({speed['texts']} texts)")
    return "\n".join(lines)


# ------------------------------------------------------------------- main


def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Fit, evaluate on the held-out sets, and return the results (see the module docstring)."""
    from refaug.clusters import DEFAULT_CONTRAST_MODEL
    from refaug.data.synthetic import synthetic_scenes

    started = time.perf_counter()
    embedder = MemoEmbedder()
    refcoco = load_refcoco_style()
    halves = [image_parity(refcoco, p) for p in (0, 1)]
    test_synthetic = synthetic_scenes(args.synthetic, seed=1, image_size=SYNTHETIC_SIZE)
    half_scores = [pair_scores(h, embedder) for h in halves]
    training = {"refcoco_style_even": half_scores[0]["contrast"], "synthetic_seed0": pair_scores_contrast(
        synthetic_scenes(args.synthetic, seed=0, image_size=SYNTHETIC_SIZE), embedder)}
    fitted = fit_model(list(training.values()), fitted_on=command)
    model = fitted if args.fit_defaults else DEFAULT_CONTRAST_MODEL
    if args.fit_defaults:
        print(pprint.pformat(fitted.to_dict(), sort_dicts=False))
        rewrite_defaults(fitted)
        print(f"rewrote DEFAULT_CONTRAST_MODEL in {CLUSTERS_MODULE.relative_to(ROOT)}")
    held_out = {"refcoco_style_odd": half_scores[1],
                f"synthetic_{args.synthetic}_seed1": pair_scores(test_synthetic, embedder)}
    texts = list(dict.fromkeys(t for ds in (refcoco, test_synthetic) for e in ds["expressions"] for t in e))
    return {
        "command": command,
        "model": embedder.model_name.rsplit("/", 1)[-1],
        "contrast_model": model.to_dict(),
        "defaults_are_the_current_fit": (fitted.intercept, fitted.weights) == (model.intercept, model.weights),
        "training_pairs": {name: _counts(pairs) for name, pairs in training.items()},
        "evaluation": {name: method_aucs(scores, model) for name, scores in held_out.items()},
        "pairs_table": judge_pairs_table(load_pairs_table(), embedder, model),
        "in_sample": {name: aucs(*(model.probability(x) for x in pairs)) for name, pairs in training.items()},
        "refcoco_style": refcoco_style_report(refcoco, halves, half_scores, embedder, model),
        "transfer": transfer_report(training, held_out, model),
        "extraction_speed": extraction_speed(texts),
        "seconds": round(time.perf_counter() - started, 1),
        "platform": platform.platform(),
    }


def refcoco_style_report(refcoco: Any, halves: list[Any], half_scores: list[dict[str, Any]],
                         embedder: Embedder, model: Any) -> dict[str, Any]:
    """In-sample AUC (fit and score all pairs), 2-fold cross-fitted AUC, worst held-out errors."""
    pairs = pair_scores_contrast(refcoco, embedder)
    in_sample = fit_model([pairs], fitted_on="refcoco-style, all images")
    return {
        "in_sample": aucs(*(in_sample.probability(x) for x in pairs)),
        "cross_fitted": cross_fitted([half_scores[0]["contrast"], half_scores[1]["contrast"]]),
        "worst_held_out_errors": worst_errors(halves[1], embedder, model),
    }


def transfer_report(training: dict[str, tuple[np.ndarray, ...]], held_out: dict[str, dict[str, Any]],
                    model: Any) -> dict[str, dict[str, Any]]:
    """Held-out AUC of models fitted on each training set alone, and of ``model`` (both)."""
    models = {name: fit_model([pairs], fitted_on=name) for name, pairs in training.items()}
    models["both (default)"] = model
    return {name: {s: aucs(*(m.probability(x) for x in scores["contrast"])) for s, scores in held_out.items()}
            for name, m in models.items()}


def _counts(pairs: tuple[np.ndarray, ...]) -> dict[str, int]:
    return dict(zip(("positive", "same_image", "cross_image"), map(len, pairs), strict=True))


def pair_scores_contrast(dataset: Any, embedder: Embedder) -> tuple[np.ndarray, ...]:
    """The contrast feature rows of a dataset's (positive, same-image, cross-image) pairs."""
    from refaug.clusters import labelled_pairs

    return labelled_pairs(dataset, method="contrast", embedder=embedder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic", type=int, default=400, help="synthetic images per set (default 400)")
    parser.add_argument("--fit-defaults", action="store_true",
                        help="fit the default weights, print them and rewrite DEFAULT_CONTRAST_MODEL")
    parser.add_argument("--out", default=str(RESULTS / "contrast.json"))
    parser.add_argument("--plot", default=str(RESULTS / "contrast_auc.png"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import datasets

    datasets.disable_progress_bars()
    command = "python benchmarks/contrast.py --fit-defaults" + (
        f" --synthetic {args.synthetic}" if args.synthetic != 400 else "")
    result = run(args, command)
    result["plot"] = str(plot_aucs(result["evaluation"], result["pairs_table"], Path(args.plot)))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(summary_table(result))
    print(f"wrote {args.out} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
