"""Contrast judgement on real referring expressions: leave-one-out AUC per method, image-grouped
cross-validation of the fitted weights, per-kind confusion and the fit report.

Two objects of one image are usually told apart by one word ("left lady" / "right lady"),
which a sentence embedding barely registers. This benchmark measures the ``"contrast"``
method of :class:`~refaug.clusters.ClusterClassifier` (centroid cosine plus the findings of
:mod:`refaug.contrast`, weighed by a fitted logistic model) against the centroid cosine, on
real annotations read with ``--data``:

- a JSONL file of objects, one a line, with ``dataset``, ``image_id``, ``category`` and
  ``sentences`` (``[{"sent": ...}, ...]``) or ``expressions`` (the development file's
  format), or
- a refer-toolkit folder (``refcoco/``, ``refcoco+/``, ``refcocog/``, read with
  :func:`refaug.data.refer.load_refer`).

Pairs (leave one out): for each object with two or more distinct expressions and each of
them, the cluster is the object's other expressions and the positive is the held-out one;
the same-image negatives are every expression of the other objects of the same
(dataset, image); the cross-image negatives the first expression of ``--cross`` random
objects of other images. The object's category is passed, as the pipeline passes it.

Figures:

- ``shipped``: the method as shipped (``DEFAULT_CONTRAST_MODEL``); in-sample when the
  defaults were fitted on the same data (the JSON says whether they were).
- ``cross_validated``: ``--folds``-fold cross-validation grouped by COCO image (every
  dataset's annotations of one image fall in one fold): the contrast weights are fitted on
  the other folds' pairs plus ``synthetic_scenes(--synthetic, seed=0)`` and score the held-out
  fold; the AUC is over the pooled out-of-fold scores. This is the figure to report.
- ``confusion``: per finding kind, how often it fires as a conflict on same-object pairs
  (wrongly) and on other-object pairs (rightly), and as an agreement on each.
- ``fit``: the weights fitted on all pairs (dev plus synthetic), each with its support
  (pairs where the feature fires, per label), and the kinds that are decisive at the
  method's threshold.
- ``paraphrase_vs_edit``: how often a real held-out paraphrase scores above a one-attribute
  edit (refaug's attribute rewriter) of the same cluster's first member.
- Speed: expressions described per second (:func:`refaug.contrast.describe_texts`).

Run (a few minutes on 2 cores)::

    python benchmarks/contrast.py --data ../shared/data/refcoco_real_dev.jsonl
    python benchmarks/contrast.py --data ../shared/data/refcoco_real_dev.jsonl --fit-defaults

``--fit-defaults`` re-fits the shipped weights on all pairs plus synthetic scenes and rewrites
``DEFAULT_CONTRAST_MODEL`` in ``refaug/clusters/contrast.py``. Writes
``benchmarks/results/contrast.json`` and ``contrast_auc.png``.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import re
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from refaug.embed import Embedder

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CONTRAST_MODULE = ROOT / "refaug" / "clusters" / "contrast.py"
SYNTHETIC_SIZE = (64, 48)
KINDS = ("positive", "same_image", "cross_image")
logger = logging.getLogger("benchmarks.contrast")


class MemoEmbedder(Embedder):
    """An :class:`Embedder` that keeps every vector in memory: each text is encoded once per run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._memo: dict[str, np.ndarray] = {}

    def encode_distinct(self, texts: Sequence[str], *, show_progress_bar: bool | None = None) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if missing:
            vectors = super().encode_distinct(missing, show_progress_bar=show_progress_bar)
            self._memo.update(zip(missing, vectors, strict=True))
        if not texts:
            return super().encode_distinct(texts)
        return np.stack([self._memo[t] for t in texts])


# ------------------------------------------------------------------ data


@dataclass(frozen=True)
class Referent:
    """One annotated object: its (dataset, image) group, COCO image, category and expressions."""

    group: tuple[str, Any]
    image: Any
    category: str | None
    expressions: tuple[str, ...]


def _clean(texts: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(" ".join(t.split()) for t in texts if t and t.strip()))


def load_referents(path: str | Path) -> list[Referent]:
    """The objects of a JSONL file (the development file's format) or of a refer folder."""
    path = Path(path)
    if path.is_dir():
        return _refer_referents(path)
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        texts = row.get("expressions") or [s["sent"] for s in row.get("sentences", [])]
        dataset = str(row.get("dataset", ""))
        out.append(Referent((dataset, row["image_id"]), row["image_id"], row.get("category"), _clean(texts)))
    return out


def _refer_referents(root: Path) -> list[Referent]:
    from refaug.data.refer import SPLIT_BYS, load_refer

    out = []
    for dataset, split_bys in SPLIT_BYS.items():
        for split_by in split_bys:
            if not list((root / dataset).glob(f"refs({split_by}).p*")) and not list(root.glob(f"refs({split_by}).p*")):
                continue
            for split in load_refer(root, dataset=dataset, split_by=split_by, on_error="skip").values():
                if "expressions" not in split.column_names:
                    continue
                for row in split.select_columns(["image_id", "category", "expressions"]).to_list():
                    out.append(Referent((dataset, row["image_id"]), row["image_id"], row["category"],
                                        _clean(row["expressions"])))
            break
    if not out:
        raise SystemExit(f"{root}: no refs(...).p file under refcoco/, refcoco+/ or refcocog/")
    return out


@dataclass(frozen=True)
class Pairs:
    """Labelled cluster-candidate pairs, parallel lists: which kind each is, its image group."""

    clusters: list[tuple[str, ...]]
    candidates: list[str]
    categories: list[str | None]
    kinds: np.ndarray  # "positive", "same_image", "cross_image"
    images: np.ndarray  # the COCO image of the referent (the fold group)

    @property
    def labels(self) -> np.ndarray:
        return (self.kinds == "positive").astype(np.int64)

    def __len__(self) -> int:
        return len(self.candidates)


def leave_one_out_pairs(referents: Sequence[Referent], *, cross: int = 3, seed: int = 0) -> Pairs:
    """The pairs of the module docstring: per object with 2+ expressions and per held-out one."""
    rng = np.random.default_rng(seed)
    by_group: dict[Any, list[int]] = defaultdict(list)
    for i, r in enumerate(referents):
        by_group[r.group].append(i)
    clusters, candidates, categories, kinds, images = [], [], [], [], []

    def add(cluster: tuple[str, ...], text: str, kind: str, r: Referent) -> None:
        clusters.append(cluster), candidates.append(text), categories.append(r.category)
        kinds.append(kind), images.append(r.image)

    for i, r in enumerate(referents):
        if len(r.expressions) < 2:
            continue
        others = [t for j in by_group[r.group] if j != i for t in referents[j].expressions
                  if t not in r.expressions]
        for k, held_out in enumerate(r.expressions):
            cluster = r.expressions[:k] + r.expressions[k + 1 :]
            add(cluster, held_out, "positive", r)
            for t in others:
                add(cluster, t, "same_image", r)
            for j in rng.integers(0, len(referents), size=cross):
                if referents[j].image != r.image and referents[j].expressions:
                    add(cluster, referents[j].expressions[0], "cross_image", r)
    return Pairs(clusters, candidates, categories, np.array(kinds), np.array(images, dtype=object))


def edit_pairs(referents: Sequence[Referent], *, n: int, seed: int = 0) -> Pairs:
    """One-word edits of each object's first expression against its cluster (kind ``"edit"``,
    label 0): attribute substitutions and negations (:mod:`refaug.rewrite`). They teach the fit
    the kinds real pairs rarely show (counts, negation, materials), as synthetic scenes teach
    colours and positions; they stay in their object's image fold. ``n`` edits are drawn (one per
    object at most): a few, so that they teach the rare kinds without outweighing real pairs."""
    from refaug.rewrite import AttributeRewriter, NegationRewriter

    rng = np.random.default_rng(seed)
    have = [r for r in referents if r.expressions]
    chosen = [have[i] for i in sorted(rng.permutation(len(have)))]
    firsts = [r.expressions[0] for r in chosen]
    proposals = [a + b for a, b in zip(AttributeRewriter()(firsts), NegationRewriter()(firsts), strict=True)]
    clusters, candidates, categories, images = [], [], [], []
    # Stratified by what the edit changes (colour, size, position, count, material, negation),
    # so each kind is taught: one edit per object, kinds taken in turn.
    by_kind: dict[str, list[tuple[Referent, Any]]] = defaultdict(list)
    for r, found in zip(chosen, proposals, strict=True):
        found = [c for c in found if c.text not in r.expressions]
        if found:
            c = found[int(rng.integers(len(found)))]
            by_kind[(c.detail or c.kind).split(":")[0]].append((r, c))
    queues = [list(v) for _, v in sorted(by_kind.items())]
    while len(candidates) < n and any(queues):
        for queue in queues:
            if queue and len(candidates) < n:
                r, c = queue.pop(0)
                clusters.append(r.expressions), candidates.append(c.text)
                categories.append(r.category), images.append(r.image)
    return Pairs(clusters, candidates, categories, np.array(["edit"] * len(candidates)),
                 np.array(images, dtype=object))


def synthetic_pairs(n_images: int, *, seed: int, cross: int = 3) -> Pairs:
    """The same leave-one-out pairs over ``synthetic_scenes(n_images, seed=seed)``."""
    from refaug.data.synthetic import synthetic_scenes

    scenes = synthetic_scenes(n_images, seed=seed, image_size=SYNTHETIC_SIZE)
    rows = scenes.select_columns(["image_id", "category", "expressions"]).to_list()
    referents = [Referent(("synthetic", r["image_id"]), f"synthetic-{r['image_id']}", r["category"],
                          _clean(r["expressions"])) for r in rows]
    return leave_one_out_pairs(referents, cross=cross, seed=seed)


# ----------------------------------------------------------------- scoring


def centroid_cosines(pairs: Pairs, embedder: Embedder) -> np.ndarray:
    """The cosine of each candidate to its cluster's normalised centroid."""
    from refaug.vectors import centroid

    distinct = list(dict.fromkeys([t for c in pairs.clusters for t in c] + pairs.candidates))
    vectors = dict(zip(distinct, embedder.encode_distinct(distinct), strict=True))
    centroids = {c: centroid(np.stack([vectors[t] for t in c])) for c in dict.fromkeys(pairs.clusters)}
    return np.array([float(vectors[t] @ centroids[c]) for c, t in zip(pairs.clusters, pairs.candidates,
                                                                         strict=True)], np.float32)


def contrast_features(pairs: Pairs, cosine: np.ndarray) -> tuple[np.ndarray, list[list[Any]]]:
    """The feature rows (:data:`refaug.contrast.FEATURES`) and findings of every pair."""
    from refaug.clusters import ClusterClassifier
    from refaug.contrast import Description, compare, pair_features

    clf = ClusterClassifier("contrast")
    clf.describe([t for c in pairs.clusters for t in c] + pairs.candidates)
    unions = {(c, cat): Description.union(clf.describe(list(c)), category=cat)
              for c, cat in dict.fromkeys(zip(pairs.clusters, pairs.categories, strict=True))}
    findings = [compare(unions[(c, cat)], clf.describe([t])[0])
                for c, cat, t in zip(pairs.clusters, pairs.categories, pairs.candidates, strict=True)]
    features = np.stack([pair_features(f, float(s)) for f, s in zip(findings, cosine, strict=True)])
    return features, findings


def aucs(scores: np.ndarray, kinds: np.ndarray) -> dict[str, Any]:
    """AUC against same-image, cross-image and all negatives, with pair counts."""
    from refaug.clusters import roc_auc

    pos, same, cross = (scores[kinds == k] for k in KINDS)
    return {"auc_same_image": round(roc_auc(pos, same), 4), "auc_cross_image": round(roc_auc(pos, cross), 4),
            "auc": round(roc_auc(pos, np.concatenate([same, cross])), 4),
            "n_positive": len(pos), "n_same_image": len(same), "n_cross_image": len(cross)}


def image_folds(images: np.ndarray, *, folds: int, seed: int = 0) -> np.ndarray:
    """A fold index per pair: the COCO images shuffled and dealt round-robin into ``folds``."""
    distinct = sorted(set(images.tolist()), key=str)
    order = np.random.default_rng(seed).permutation(len(distinct))
    fold_of = {distinct[i]: k % folds for k, i in enumerate(order)}
    return np.array([fold_of[i] for i in images.tolist()])


def fit(features: Sequence[np.ndarray], labels: Sequence[np.ndarray], *, fitted_on: str) -> Any:
    from refaug.contrast import ContrastModel

    return ContrastModel.fit(np.concatenate(features), np.concatenate(labels), fitted_on=fitted_on)


def cross_validated(dev: tuple[np.ndarray, np.ndarray, np.ndarray], edits: tuple[np.ndarray, np.ndarray],
                    synthetic: tuple[np.ndarray, np.ndarray], *, folds: int) -> tuple[np.ndarray, list[Any]]:
    """Out-of-fold P(same) of every dev pair: fitted on the other folds' pairs and edits (``edits``:
    features and folds) plus the synthetic pairs."""
    features, labels, fold = dev
    out = np.zeros(len(labels), np.float32)
    models = []
    for k in range(folds):
        test = fold == k
        train_edits = edits[0][edits[1] != k]
        model = fit([features[~test], train_edits, synthetic[0]],
                    [labels[~test], np.zeros(len(train_edits)), synthetic[1]], fitted_on=f"fold {k}")
        out[test] = model.probability(features[test])
        models.append(model)
    return out, models


# ----------------------------------------------------------------- reports


def confusion(findings: Sequence[Sequence[Any]], kinds: np.ndarray) -> dict[str, dict[str, Any]]:
    """Per finding kind: conflict and agreement rates on same-object and other-object pairs."""
    from refaug.contrast import CONTRAST_KINDS

    same = kinds == "positive"
    table = {}
    for kind in CONTRAST_KINDS:
        conflict = np.array([any(f.kind == kind and f.conflict for f in fs) for fs in findings])
        agree = np.array([any(f.kind == kind and not f.conflict for f in fs) for fs in findings])
        table[kind] = {
            "conflict_on_same_object": int(conflict[same].sum()),
            "conflict_on_other_object": int(conflict[~same].sum()),
            "agree_on_same_object": int(agree[same].sum()),
            "agree_on_other_object": int(agree[~same].sum()),
            "false_conflict_rate": round(float(conflict[same].mean()), 4),
            "conflict_precision": round(float(conflict[~same].sum() / max(conflict.sum(), 1)), 4),
        }
    return table


def confusion_examples(pairs: Pairs, findings: Sequence[Sequence[Any]], scores: np.ndarray,
                       *, k: int = 25) -> dict[str, list[dict[str, Any]]]:
    """The worst-scored pairs: same-object pairs scored lowest, same-image pairs scored highest."""
    same = np.nonzero(pairs.kinds == "positive")[0]
    other = np.nonzero(pairs.kinds == "same_image")[0]

    def rows(index: np.ndarray) -> list[dict[str, Any]]:
        return [{"cluster": list(pairs.clusters[i]), "candidate": pairs.candidates[i],
                 "category": pairs.categories[i], "p_same": round(float(scores[i]), 4),
                 "findings": [str(f) for f in findings[i]]} for i in index]

    return {"same_object_scored_low": rows(same[np.argsort(scores[same])[:k]]),
            "same_image_scored_high": rows(other[np.argsort(-scores[other])[:k]])}


def fit_report(model: Any, features: np.ndarray, labels: np.ndarray, *, threshold: float) -> dict[str, Any]:
    """Each weight with its support (pairs where the feature is non-zero, per label), decisive kinds."""
    from refaug.contrast import FEATURES

    support = {}
    for j, name in enumerate(FEATURES):
        on = features[:, j] != 0
        support[name] = {"weight": model.weights.get(name, 0.0), "same": int((on & (labels == 1)).sum()),
                         "other": int((on & (labels == 0)).sum())}
    return {"intercept": model.intercept, "weights": support,
            "decisive_kinds": sorted(model.decisive_kinds(threshold))}


def paraphrase_vs_edit(referents: Sequence[Referent], embedder: Embedder, model: Any, *,
                       fold_models: Sequence[Any] = (), fold_of: dict[Any, int] | None = None) -> dict[str, Any]:
    """How often a real held-out paraphrase scores above a one-attribute edit of the cluster.

    For each object with 2+ expressions: cluster = all but the last expression, paraphrase =
    the last, edit = each attribute rewrite (:class:`refaug.rewrite.AttributeRewriter`) of the
    cluster's members. Both are scored against the cluster with ``model``; with ``fold_models``
    and ``fold_of`` (COCO image -> fold) also with the model of the fold that held the object's
    image out (``contrast_cross_validated``): the fit's dev edits are of the same rewriter.
    """
    pairs = paraphrase_edit_pairs(referents)
    cosine = centroid_cosines(pairs, embedder)
    features, _ = contrast_features(pairs, cosine)
    scored = [("centroid", cosine), ("contrast", model.probability(features))]
    if fold_models and fold_of is not None:
        folds = np.array([fold_of[i] for i in pairs.images.tolist()])
        oof = np.zeros(len(pairs), np.float32)
        for k, fold_model in enumerate(fold_models):
            oof[folds == k] = fold_model.probability(features[folds == k])
        scored.append(("contrast_cross_validated", oof))
    result = {}
    for name, scores in scored:
        result[name] = _wins(pairs, scores)
    result["n_objects"] = int((pairs.kinds == "positive").sum())
    result["n_edits"] = int((pairs.kinds != "positive").sum())
    return result


def paraphrase_edit_pairs(referents: Sequence[Referent]) -> Pairs:
    """The pairs of :func:`paraphrase_vs_edit`: per object, its paraphrase (kind ``"positive"``)
    followed by the edits of its cluster (kind ``"same_image"``), as :func:`_wins` reads them."""
    from refaug.rewrite import AttributeRewriter

    multi = [r for r in referents if len(r.expressions) >= 2]
    members = [t for r in multi for t in r.expressions[:-1]]
    rewriter = AttributeRewriter()
    edits = dict(zip(members, rewriter(members), strict=True))
    clusters, candidates, categories, kinds, images = [], [], [], [], []
    for r in multi:
        cluster = r.expressions[:-1]
        found = [c.text for t in cluster for c in edits[t] if c.text not in r.expressions]
        if not found:
            continue
        for text, kind in [(r.expressions[-1], "positive"), *((e, "same_image") for e in found)]:
            clusters.append(cluster), candidates.append(text), categories.append(r.category)
            kinds.append(kind), images.append(r.image)
    return Pairs(clusters, candidates, categories, np.array(kinds), np.array(images, dtype=object))


def _wins(pairs: Pairs, scores: np.ndarray) -> float:
    """The share of (paraphrase, edit) pairs of one cluster where the paraphrase scores higher."""
    wins, total, start = 0.0, 0, 0
    kinds = pairs.kinds
    while start < len(kinds):
        end = start + 1
        while end < len(kinds) and kinds[end] != "positive":
            end += 1
        edits = scores[start + 1 : end]
        wins += float((scores[start] > edits).sum() + 0.5 * (scores[start] == edits).sum())
        total += len(edits)
        start = end
    return round(wins / max(total, 1), 4)


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
    """The ``DEFAULT_CONTRAST_MODEL = ContrastModel(...)`` statement for ``model``."""
    from refaug.contrast import FEATURES

    groups = [[n for n in FEATURES if ":" not in n]]
    for prefix in ("conflict:", "agree:"):
        names = [n for n in FEATURES if n.startswith(prefix)]
        groups += [names[k : k + per_line] for k in range(0, len(names), per_line)]
    lines = ["        " + " ".join(f"{json.dumps(n)}: {model.weights.get(n, 0.0)!r}," for n in g) for g in groups]
    return "\n".join(["DEFAULT_CONTRAST_MODEL = ContrastModel(", f"    intercept={model.intercept!r},",
                      "    weights={", *lines, "    },", f"    fitted_on={json.dumps(model.fitted_on)},", ")"])


def rewrite_defaults(model: Any, path: Path = CONTRAST_MODULE) -> None:
    """Replace the ``DEFAULT_CONTRAST_MODEL = ...`` statement of ``refaug/clusters/contrast.py``."""
    source = path.read_text(encoding="utf-8")
    pattern = re.compile(r"^DEFAULT_CONTRAST_MODEL = ContrastModel\(.*?\n\)\n", re.S | re.M)
    if len(pattern.findall(source)) != 1:
        raise RuntimeError(f"found no single DEFAULT_CONTRAST_MODEL statement in {path}; edit it by hand")
    path.write_text(pattern.sub(lambda _: model_literal(model) + "\n", source), encoding="utf-8")


def plot_aucs(result: dict[str, Any], path: Path) -> Path:
    """A bar chart of same-image and cross-image AUC per method (cross-validated contrast)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    methods = {"centroid": result["shipped"]["centroid"], "contrast (shipped)": result["shipped"]["contrast"],
               "contrast (cross-validated)": result["cross_validated"]}
    fig, ax = plt.subplots(figsize=(8, 4))
    for k, metric in enumerate(("auc_same_image", "auc_cross_image")):
        values = [m[metric] for m in methods.values()]
        bars = ax.bar(np.arange(len(methods)) + (k - 0.5) * 0.38, values, 0.38, label=metric)
        ax.bar_label(bars, fmt="%.3f", fontsize=8)
    ax.set_xticks(np.arange(len(methods)), list(methods), fontsize=8)
    ax.set_ylim(0.4, 1.05)
    ax.set_ylabel("ROC AUC (held-out expression vs other object)")
    ax.set_title(f"Leave-one-out AUC on {Path(result['data']).name}")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def summary_table(result: dict[str, Any]) -> str:
    lines = [f"{'method':<34}{'same img':>10}{'cross img':>11}{'all':>8}"]
    rows = [(f"{m} (shipped)", r) for m, r in result["shipped"].items()]
    rows.append((f"contrast ({result['folds']}-fold image-grouped CV)", result["cross_validated"]))
    for name, r in rows:
        lines.append(f"{name:<34}{r['auc_same_image']:>10.3f}{r['auc_cross_image']:>11.3f}{r['auc']:>8.3f}")
    n = result["cross_validated"]
    lines.append(f"pairs: {n['n_positive']} positive, {n['n_same_image']} same-image, {n['n_cross_image']} cross-image")
    lines.append("kinds firing wrongly (conflict on same-object pairs / on other-object pairs):")
    for kind, c in result["confusion"].items():
        if c["conflict_on_same_object"] or c["conflict_on_other_object"]:
            lines.append(f"  {kind:<10}{c['conflict_on_same_object']:>5} / {c['conflict_on_other_object']:<5}"
                         f" precision {c['conflict_precision']:.3f}")
    lines.append(f"decisive kinds: {', '.join(result['fit']['decisive_kinds']) or 'none'}")
    if "paraphrase_vs_edit" in result:
        p = result["paraphrase_vs_edit"]
        cv = f", contrast CV {p['contrast_cross_validated']:.3f}" if "contrast_cross_validated" in p else ""
        lines.append(f"paraphrase above a one-attribute edit: centroid {p['centroid']:.3f}, contrast {p['contrast']:.3f}"
                     f"{cv} ({p['n_objects']} objects, {p['n_edits']} edits)")
    speed = result["extraction_speed"]
    lines.append(f"extraction: {speed['texts_per_second']:.0f} texts/s ({speed['texts']} texts)")
    return "\n".join(lines)


# ------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> dict[str, Any]:
    from refaug.clusters import DEFAULT_CONTRAST_MODEL, ClusterClassifier

    started = time.perf_counter()
    embedder = MemoEmbedder()
    referents = load_referents(args.data)
    pairs = leave_one_out_pairs(referents, cross=args.cross, seed=0)
    cosine = centroid_cosines(pairs, embedder)
    features, findings = contrast_features(pairs, cosine)
    labels = pairs.labels
    synthetic = synthetic_pairs(args.synthetic, seed=0, cross=args.cross)
    synthetic_features, _ = contrast_features(synthetic, centroid_cosines(synthetic, embedder))
    edits = edit_pairs(referents, n=args.edits)
    edit_features, _ = contrast_features(edits, centroid_cosines(edits, embedder))
    every_image = np.array([r.image for r in referents], dtype=object)
    fold_of = dict(zip(every_image.tolist(), image_folds(every_image, folds=args.folds).tolist(), strict=True))
    folds = np.array([fold_of[i] for i in pairs.images.tolist()])
    edit_folds = np.array([fold_of[i] for i in edits.images.tolist()])
    oof, fold_models = cross_validated((features, labels, folds), (edit_features, edit_folds),
                             (synthetic_features, synthetic.labels), folds=args.folds)
    command = f"python benchmarks/contrast.py --data {args.data} --fit-defaults" + (
        f" --synthetic {args.synthetic}" if args.synthetic != 400 else "")
    full = fit([features, edit_features, synthetic_features], [labels, np.zeros(len(edits)), synthetic.labels],
               fitted_on=command)
    if args.fit_defaults:
        rewrite_defaults(full)
        print(f"rewrote DEFAULT_CONTRAST_MODEL in {CONTRAST_MODULE.relative_to(ROOT)}")
    shipped = full if args.fit_defaults else DEFAULT_CONTRAST_MODEL
    threshold = ClusterClassifier("contrast").threshold
    texts = list(dict.fromkeys(t for r in referents for t in r.expressions))
    result = {
        "data": str(args.data), "folds": args.folds, "encoder": embedder.model_name.rsplit("/", 1)[-1],
        "n_referents": len(referents), "n_images": len({r.image for r in referents}),
        "shipped_fitted_on": shipped.fitted_on,
        "shipped": {"centroid": aucs(cosine, pairs.kinds), "contrast": aucs(shipped.probability(features), pairs.kinds)},
        "cross_validated": aucs(oof, pairs.kinds),
        "confusion": confusion(findings, pairs.kinds),
        "fit": fit_report(full, np.concatenate([features, edit_features, synthetic_features]),
                          np.concatenate([labels, np.zeros(len(edits)), synthetic.labels]), threshold=threshold),
        "training_pairs": {"dev": len(pairs), "dev_edits": len(edits), "synthetic": len(synthetic)},
        "errors_out_of_fold": confusion_examples(pairs, findings, oof),
    }
    if not args.skip_edits:
        result["paraphrase_vs_edit"] = paraphrase_vs_edit(referents, embedder, shipped, fold_models=fold_models,
                                                          fold_of=fold_of)
    result["extraction_speed"] = extraction_speed(texts)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["platform"] = platform.platform()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a JSONL file of objects or a refer-toolkit folder")
    parser.add_argument("--folds", type=int, default=5, help="image-grouped cross-validation folds (default 5)")
    parser.add_argument("--cross", type=int, default=3, help="cross-image negatives per pair (default 3)")
    parser.add_argument("--synthetic", type=int, default=400, help="synthetic images in the fit (default 400)")
    parser.add_argument("--edits", type=int, default=300,
                        help="one-word edits of dev expressions added to the fit as negatives (default 300)")
    parser.add_argument("--fit-defaults", action="store_true",
                        help="fit the default weights on all pairs and rewrite DEFAULT_CONTRAST_MODEL")
    parser.add_argument("--skip-edits", action="store_true", help="skip the paraphrase-vs-edit check")
    parser.add_argument("--out", default=str(RESULTS / "contrast.json"))
    parser.add_argument("--plot", default=str(RESULTS / "contrast_auc.png"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import datasets

    datasets.disable_progress_bars()
    result = run(args)
    result["plot"] = str(plot_aucs(result, Path(args.plot)))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(summary_table(result))
    print(f"wrote {args.out} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
