"""The pipeline's stage functions: each builds its stage object from a :class:`RunConfig`.

Every function takes the previous dataset, the configuration and the run context, and
returns the next dataset (or None when it only fills a cache). Each is a thin adapter:
the work lives in :mod:`refaug.views`, :mod:`refaug.rewrite`, :mod:`refaug.embed`,
:mod:`refaug.clusters` and :mod:`refaug.mining`.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
from datasets import Dataset, Features, List, Value, concatenate_datasets

from refaug.records import CANDIDATE_FEATURE
from refaug.rewrite.registry import REWRITER_NAMES  # noqa: F401 - kept as an import path

if TYPE_CHECKING:
    from refaug.config import RunConfig
    from refaug.pipeline import RunContext

logger = logging.getLogger(__name__)

CLUSTER_STATS_FEATURE = {
    "size": Value("int32"),
    "member_similarity": List(Value("float32")),
    "mean_similarity": Value("float32"),
    "min_similarity": Value("float32"),
}
"""Published with every row: how tight the referent's cluster is around its centroid."""


def build_embedder(config: RunConfig, context: RunContext):
    from refaug.embed import Embedder

    return Embedder(config.embedder, batch_size=config.embed_batch_size, cache_dir=context.cache / "embeddings")


def views_stage(ds: Dataset, config: RunConfig, context: RunContext) -> Dataset:
    """Multi-view clusters; each finished image is cached, so a re-run only does what is missing."""
    from refaug.views import ViewGenerator, get_backend

    options: dict[str, Any] = {}
    if config.model:
        options["model"] = config.model
    if config.base_url:
        options["base_url"] = config.base_url
    generator = ViewGenerator(
        get_backend(config.backend, **options),
        template=config.template,
        batch_size=config.view_batch_size,
        max_retries=config.max_retries,
        cache_dir=context.cache / "views",
    )
    out = generator.run(ds)
    report = generator.report
    context.stats["views"] = {
        "referents": len(out),
        "with_views": sum(v is not None for v in out["views"]),
        "failed": sum(v is None for v in out["views"]),
        "report": report.summary() if hasattr(report, "summary") else str(report),
    }
    return out


def build_rewriters(config: RunConfig):
    from refaug.rewrite import Rewriters
    from refaug.rewrite.registry import build_rewriter

    return Rewriters([build_rewriter(n, max_per_text=config.max_per_text, seed=config.seed) for n in config.rewriters])


def rewrite_stage(ds: Dataset, config: RunConfig, context: RunContext) -> Dataset:
    """spaCy distractors of each referent's expressions and views, in a ``distractors`` column."""
    if not config.rewriters:
        return ds.add_column("distractors", [[] for _ in range(len(ds))], feature=List(CANDIDATE_FEATURE))
    rewriters = build_rewriters(config)
    out = ds.map(rewriters, batched=True, batch_size=512, desc="rewrite",
                 features=rewriters.output_features(ds.features))
    kinds = Counter(c["kind"] for row in out["distractors"] for c in row)
    context.stats["rewrite"] = {"distractors": sum(kinds.values()), "by_kind": dict(kinds)}
    return out


def _cluster(row: dict[str, Any]) -> list[str]:
    from refaug.clusters import cluster_texts

    return list(cluster_texts(row))


def embed_stage(ds: Dataset, config: RunConfig, context: RunContext) -> None:
    """Encode every distinct text once into the run's embedding cache (later stages read it)."""
    columns = [c for c in ("expressions", "views", "distractors") if c in ds.column_names]
    texts: set[str] = set()
    for row in ds.select_columns(columns):
        texts.update(_cluster(row))
        texts.update(c["text"] for c in row.get("distractors") or ())
    embedder = build_embedder(config, context)
    embedder.encode(sorted(texts))
    context.stats["embed"] = {"distinct_texts": len(texts), "model": embedder.model_name}
    return None


def classify_stage(ds: Dataset, config: RunConfig, context: RunContext) -> Dataset:
    """Each cluster's member-to-centroid similarities and each distractor's similarity to it."""
    from refaug.clusters import ClusterClassifier
    from refaug.contrast import Description

    classifier = ClusterClassifier(config.method, threshold=config.threshold, embedder=build_embedder(config, context))
    columns = [c for c in ("expressions", "views", "distractors", "category") if c in ds.column_names]
    rows = [(_cluster(row), [c["text"] for c in row.get("distractors") or ()], row.get("category"))
            for row in ds.select_columns(columns)]
    distinct = sorted({t for members, candidates, _ in rows for t in (*members, *candidates)})
    vectors = classifier.embedder.encode(distinct)  # one batched pass over the whole corpus
    contrast = config.method == "contrast"
    if contrast:
        classifier.describe(distinct)  # one nlp.pipe pass over the whole corpus
    index = {text: i for i, text in enumerate(distinct)}
    stats, distractor_sims = [], []
    negatives = total = 0
    for members, candidates, category in rows:
        member_emb = vectors[[index[t] for t in members]]
        centroid = member_emb.mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        sims = (classifier.similarity_embeddings(member_emb, vectors[[index[t] for t in candidates]])
                if candidates else np.zeros(0))
        if contrast and candidates:  # P(same referent) from the cosine and the attributes
            cluster = Description.union(classifier.describe(list(members)), category=category)
            sims = classifier.contrast_probability(cluster, classifier.describe(candidates), sims)[0]
        negatives += int((sims < classifier.threshold).sum())
        total += len(candidates)
        member_sims = member_emb @ centroid
        stats.append({"size": len(members), "member_similarity": member_sims.tolist(),
                      "mean_similarity": float(member_sims.mean()), "min_similarity": float(member_sims.min())})
        distractor_sims.append(np.asarray(sims, dtype=np.float32).tolist())
    context.stats["classify"] = {"method": config.method, "threshold": classifier.threshold,
                                 "distractors": total, "outside_cluster": negatives}
    features = Features({"cluster_stats": CLUSTER_STATS_FEATURE, "distractor_similarity": List(Value("float32"))})
    ds = ds.add_column("cluster_stats", stats, feature=features["cluster_stats"])
    return ds.add_column("distractor_similarity", distractor_sims, feature=features["distractor_similarity"])


def mine_stage(ds: Dataset, config: RunConfig, context: RunContext) -> Dataset:
    """Hard negatives per split (no negative crosses a split boundary)."""
    from refaug.clusters import ClusterClassifier
    from refaug.mining import mine_hard_negatives

    embedder = build_embedder(config, context)
    parts, reports = [], []
    for split in sorted(set(ds["split"])):
        part = ds.filter(lambda s, split=split: s == split, input_columns="split")
        mined = mine_hard_negatives(
            part,
            embedder=embedder,
            num_negatives=config.num_negatives,
            sources=tuple(config.mining_sources),
            same_class=config.same_class,
            classifier=ClusterClassifier(config.method, threshold=config.threshold, embedder=embedder),
            max_similarity=config.max_similarity,
            relative_margin=config.relative_margin,
            diversity=config.diversity,
            seed=config.seed,
            output_format="nested",
        )
        parts.append(mined)
        reports.append(getattr(mined, "info", None))
    out = concatenate_datasets(parts)
    kept = Counter(n["kind"] for row in out["hard_negatives"] for n in row)
    # The rewriters' candidates by kind (same-image and cross-image ones come from the search
    # and have no count of their own).
    proposed = Counter(c["kind"] for row in (ds["distractors"] if "distractors" in ds.column_names else [])
                       for c in row or ())
    context.stats["mine"] = {"kept": sum(kept.values()), "kept_by_kind": dict(kept),
                             "candidates_by_kind": dict(proposed)}
    return out
