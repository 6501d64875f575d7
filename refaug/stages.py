"""The pipeline's stage functions: each builds its stage object from a :class:`RunConfig`.

Every function takes the previous dataset, the configuration and the run context, and
returns the next dataset (or None when it only fills a cache). Each is a thin adapter:
the work lives in :mod:`refaug.data`, :mod:`refaug.views`, :mod:`refaug.rewrite`,
:mod:`refaug.embed`, :mod:`refaug.clusters` and :mod:`refaug.mining`. The runner
(:mod:`refaug.pipeline`) imports this module; this module imports only
:mod:`refaug.run_context` and :mod:`refaug.config` of the run machinery.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
from datasets import (
    Dataset,
    DatasetDict,
    Features,
    List,
    Value,
    concatenate_datasets,
    load_from_disk,
)

from refaug.columns import replace_columns
from refaug.config import RunConfig
from refaug.records import CANDIDATE_FEATURE
from refaug.rewrite.registry import REWRITER_NAMES  # noqa: F401 - kept as an import path
from refaug.run_context import (
    CLASSIFY_FIELDS,
    DEFENCE_FIELDS,
    EMBED_FIELDS,
    MINE_FIELDS,
    RunContext,
    save_atomic,
)

logger = logging.getLogger(__name__)

CLUSTER_STATS_FEATURE = {
    "size": Value("int32"),
    "member_similarity": List(Value("float32")),
    "mean_similarity": Value("float32"),
    "min_similarity": Value("float32"),
}
"""Published with every row: how tight the referent's cluster is around its centroid."""


def load_stage(ds: Dataset | None, config: RunConfig, context: RunContext) -> Dataset:
    """Rows from the configured source (or the dataset given to ``run``), splits and limit applied."""
    if ds is None:
        ds = _load_source(config)
    if config.splits:
        ds = ds.filter(lambda s: s in config.splits, input_columns="split")
    if config.limit is not None:
        parts = [ds.filter(lambda v, s=s: v == s, input_columns="split") for s in sorted(set(ds["split"]))]
        ds = concatenate_datasets([p.select(range(min(config.limit, len(p)))) for p in parts])
    context.stats["load"] = {"referents": len(ds), "images": len(set(ds["image_id"])),
                             "expressions": sum(len(e) for e in ds["expressions"])}
    return ds


def _load_source(config: RunConfig) -> Dataset:
    logger.info("load: %s", config.source_description())
    if config.source == "synthetic":
        from refaug.data.synthetic import synthetic_scenes

        return synthetic_scenes(config.synthetic_images, seed=config.seed)
    if config.source == "refer":
        from refaug.data.refer import load_refer

        dd = load_refer(config.refer_root, config.dataset, config.split_by, images=config.images, on_error=config.on_error)
        return concatenate_datasets([d for name, d in dd.items() if not name.endswith("_no_target")])
    loaded = load_from_disk(config.disk_path)
    return concatenate_datasets(list(loaded.values())) if isinstance(loaded, DatasetDict) else loaded


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
    out = context.executor.generate_views(ds, generator, show_progress_bar=context.show_progress)
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
        return replace_columns(ds, {"distractors": [[] for _ in range(len(ds))]}, {"distractors": List(CANDIDATE_FEATURE)})
    rewriters = build_rewriters(config)
    out, counts = context.executor.map_batches(ds, rewriters, batch_size=512, desc="rewrite",
                                               features=rewriters.output_features(ds.features),
                                               counters=rewrite_counters)
    kinds = Counter(c["kind"] for row in out["distractors"] for c in row)
    # the counters sum every worker's copy; when the datasets cache served the map, nothing
    # ran and the failures are unknown (None).
    ran = counts["batches"] > 0 or len(ds) == 0
    failed = {r.kind: counts[f"failed:{r.kind}"] for r in rewriters.rewriters} if ran else None
    if failed and sum(failed.values()):
        logger.warning("rewrite: %d texts raised in a rewriter and got no distractors from it (%s); "
                       "each is named above", sum(failed.values()), failed)
    context.stats["rewrite"] = {"distractors": sum(kinds.values()), "by_kind": dict(kinds),
                                "failed_texts": None if failed is None else sum(failed.values()),
                                "failed_by_kind": failed}
    return out


def rewrite_counters(rewriters) -> dict[str, int]:
    """The batches a :class:`~refaug.rewrite.Rewriters` copy rewrote and, per kind, its failed texts."""
    return {"batches": rewriters.batches_seen,
            **{f"failed:{kind}": n for kind, n in rewriters.failure_counts().items()}}


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
    context.executor.embed(embedder, sorted(texts))
    context.stats["embed"] = {"distinct_texts": len(texts), "model": embedder.model_name}
    return None


def classify_stage(ds: Dataset, config: RunConfig, context: RunContext) -> Dataset:
    """Each cluster's member-to-centroid similarities and each distractor's judgement.

    The verdicts come from :meth:`refaug.clusters.ClusterClassifier.judge`, the routine
    mining calls too, so the report's outside-cluster count is mining's judgement.
    """
    from refaug.clusters import ClusterClassifier, ClusterSet

    classifier = ClusterClassifier(config.method, threshold=config.threshold, embedder=build_embedder(config, context))
    columns = [c for c in ("expressions", "views", "distractors", "category") if c in ds.column_names]
    rows = [(_cluster(row), [c["text"] for c in row.get("distractors") or ()], row.get("category"))
            for row in ds.select_columns(columns)]
    clusters, index = ClusterSet.from_texts(  # one batched embedding pass over the whole corpus
        [members for members, _, _ in rows], [t for _, candidates, _ in rows for t in candidates],
        embedder=classifier.embedder, category=[category for _, _, category in rows])
    owner = np.fromiter((r for r, (members, candidates, _) in enumerate(rows) if members for _ in candidates),
                        np.int64)
    vocab = np.fromiter((index[t] for members, candidates, _ in rows if members for t in candidates), np.int64)
    verdict = classifier.judge(clusters, owner, vocab)
    similarity = iter(np.split(verdict.similarity, np.cumsum([len(c) for m, c, _ in rows if m])[:-1]))
    stats, distractor_sims = [], []
    for r, (members, _, _) in enumerate(rows):
        member_sims = clusters.vectors[clusters.members(r)] @ clusters.centroid[r]
        stats.append({"size": len(members), "member_similarity": member_sims.tolist(),
                      "mean_similarity": float(member_sims.mean()) if len(members) else 0.0,
                      "min_similarity": float(member_sims.min()) if len(members) else 0.0})
        distractor_sims.append(next(similarity).tolist() if members else [])
    context.stats["classify"] = {"method": config.method, "threshold": classifier.threshold,
                                 "distractors": int(len(vocab)), "outside_cluster": int(verdict.negative.sum())}
    features = Features({"cluster_stats": CLUSTER_STATS_FEATURE, "distractor_similarity": List(Value("float32"))})
    return replace_columns(ds, {"cluster_stats": stats, "distractor_similarity": distractor_sims}, dict(features))


def mine_stage(ds: Dataset, config: RunConfig, context: RunContext) -> Dataset:
    """Hard negatives per split (no negative crosses a split boundary), and the images' no-target
    expressions (``no_target`` column); then the blind-model defences, once over all splits; the
    per-kind report and the no-target counts in the stats.

    Each split's mined pool is checkpointed (:class:`MinedSplits`): a crash or Ctrl-C during a
    later split, or a change to a defence's setting only, mines no finished split again."""
    from refaug.clusters import ClusterClassifier
    from refaug.mining import mine_hard_negatives
    from refaug.mining.no_target import no_target_stats

    embedder = build_embedder(config, context)
    adversarial = build_adversarial(config)
    # the adversarial filter drops up to max_share of a kind: mine a pool that large, keep the first N after it;
    # the lexical balance alone drops negation and state negatives: twice the pool refills their slots
    pool = pool_size(config.num_negatives, config.adversarial_max_share if adversarial is not None else 0.5) \
        if adversarial is not None or config.form_balance != "off" else config.num_negatives
    checkpoints = MinedSplits(context.cache / "mine-splits", config, pool=pool,
                              source=context.input_fingerprint or ds._fingerprint)
    parts, report = [], None
    for split, part in _split_parts(ds, context.cache / "mine-input"):
        done = checkpoints.load(split, part)
        if done is None:
            mined, found = mine_hard_negatives(
                part,
                embedder=embedder,
                num_negatives=pool,
                sources=tuple(config.mining_sources),
                same_class=config.same_class,
                classifier=ClusterClassifier(config.method, threshold=config.threshold, embedder=embedder),
                max_similarity=config.max_similarity,
                relative_margin=config.relative_margin,
                require_verified=config.require_verified,
                selection=config.selection,
                similarity_floor=config.similarity_floor,
                diversity=config.diversity,
                seed=config.seed,
                output_format="nested",
                show_progress_bar=None if context.show_progress else False,
                return_report=True,
                no_target_per_image=config.no_target_per_image,
                plausibility=config.plausibility,
            )
            done = checkpoints.save(split, part, mined, found)  # read back memory-mapped
            del mined
        mined, found = done
        parts.append(mined)
        report = found if report is None else report.merge(found)
    _release_judgement_memos()  # the defences and publishing need none of them
    out, blind = blind_model_defences(concatenate_datasets(parts), config, embedder, adversarial)
    kept, lengths = _negative_counts(out)
    verified = np.asarray(out["num_verified"])
    by_kind = report.to_dict()["kinds"] if report is not None else {}
    dropped: Counter = Counter()
    for part in by_kind.values():
        dropped.update(part["dropped"])
    context.stats["mine"] = {"kept": sum(kept.values()), "kept_by_kind": dict(kept),
                             "candidates_by_kind": {k: v["candidates"] for k, v in by_kind.items()},
                             "verified": int(verified.sum()), "by_kind": by_kind, "dropped": dict(dropped),
                             "short": int((lengths < config.num_negatives).sum()),
                             "short_verified": int((verified < config.num_negatives).sum()),
                             "no_target": no_target_stats(out),
                             "plausibility": {"mode": config.plausibility,
                                              **(report.plausibility() if report else {})},
                             "checkpointed_splits": checkpoints.reused,
                             **blind}
    if blind.get("adversarial"):
        context.stats["mine"]["dropped"]["adversarial"] = sum(k["dropped"] for k in blind["adversarial"].values())
    return out


def _split_parts(ds: Dataset, cache) -> Iterator[tuple[str, Dataset]]:
    """Each split's rows, in order of the split's name, as a dataset whose table is memory-mapped
    and has no indices mapping: a slice of ``ds`` where the split's rows are contiguous (as the
    load stage writes them), else a copy written under ``cache`` (removed once the split is
    mined). Mining joins its negatives to these rows; rows read through an indices mapping are
    first copied into memory (RefCOCO's train split with its views and distractors: gigabytes)."""
    import shutil

    splits = np.asarray(ds["split"], dtype=object)
    for split in sorted(set(splits.tolist())):
        rows = np.flatnonzero(splits == split)
        if rows[-1] - rows[0] + 1 == len(rows):
            yield split, ds.select(range(int(rows[0]), int(rows[-1]) + 1))
            continue
        folder = cache / f"{split}-{ds._fingerprint}"
        folder.mkdir(parents=True, exist_ok=True)
        try:
            yield split, ds.select(rows).flatten_indices(cache_file_name=str(folder / "rows.arrow"))
        finally:
            shutil.rmtree(folder, ignore_errors=True)


# The fields that shape one split's mined pool; the blind-model defences' own settings are not
# among them (they only move the pool's size, which the key holds): changing one of those
# re-runs the defences over the checkpointed pools, not the mining.
POOL_FIELDS = tuple(f for f in MINE_FIELDS if f not in DEFENCE_FIELDS) + EMBED_FIELDS + CLASSIFY_FIELDS


class MinedSplits:
    """The mine stage's checkpoint: each split's mined pool and report, under
    ``<run>/cache/mine-splits/<split>-<key>``, the key a digest of the stage's input (its
    ``source``: the runner's fingerprint of the stages before, else the dataset's own), the
    split, :data:`POOL_FIELDS`, the pool size and refaug's version. A folder is complete
    once its ``done.json`` is written (last, as the pipeline's stage folders); a split's older
    keys are removed when a new one is saved."""

    def __init__(self, root, config: RunConfig, *, pool: int, source: str) -> None:
        from refaug import __version__

        self.root, self.reused = root, []
        self.settings = f"{source}|{config.digest(POOL_FIELDS)}|pool={pool}|{__version__}"

    def _folder(self, split: str, part: Dataset):
        import hashlib

        key = hashlib.sha1(f"{self.settings}|{split}|{len(part)}".encode()).hexdigest()[:16]
        return self.root / f"{split}-{key}"

    def load(self, split: str, part: Dataset):
        """The split's ``(mined, report)`` when checkpointed under this key, else None."""
        import pickle

        folder = self._folder(split, part)
        if not (folder / "done.json").exists():
            return None
        logger.info("mine: split %s read from its checkpoint %s", split, folder)
        self.reused.append(split)
        return load_from_disk(str(folder / "data")), pickle.loads((folder / "report.pkl").read_bytes())

    def save(self, split: str, part: Dataset, mined: Dataset, report):
        """Write the split's pool and report (:func:`~refaug.run_context.save_atomic`); return
        them, the pool memory-mapped from disk. The split's folders of other keys are removed."""
        import pickle
        import shutil

        folder = self._folder(split, part)
        save_atomic(mined, folder, {"split": split, "rows": len(mined)}, files={"report.pkl": pickle.dumps(report)})
        for old in self.root.glob(f"{split}-*"):
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)
        return load_from_disk(str(folder / "data")), report


def _negative_counts(ds: Dataset) -> tuple[Counter, np.ndarray]:
    """The published negatives per kind and each row's count, read column-wise in Arrow (a
    RefCOCO-sized run publishes 1.5 million: as Python dicts, seconds and a gigabyte)."""
    import pyarrow.compute as pc

    if ds._indices is not None:
        ds = ds.flatten_indices()
    negatives = ds.data.column("hard_negatives")  # chunked, memory-mapped: read, not copied
    lengths = pc.fill_null(pc.list_value_length(negatives), 0).to_numpy()
    kinds = pc.struct_field(pc.list_flatten(negatives), "kind")
    counts = pc.value_counts(kinds).to_pylist() if len(kinds) else []
    return Counter({c["values"]: c["counts"] for c in counts}), lengths


def _release_judgement_memos() -> None:
    """Empty the comparison memos once mining is done (they only save time within it), so that
    publishing does not run with them held (hundreds of MB at RefCOCO's size)."""
    import gc

    from refaug.clusters.contrast import clear_memos

    clear_memos()
    gc.collect()


POOL_CAP = 2.0
"""The most times ``num_negatives`` that mining finds per referent for the blind-model defences.
They drop only generated kinds (at most ``adversarial_max_share`` of each), and generated kinds are
about a tenth of what a referent publishes (at 1/8 of RefCOCO's size 20k of 188k; the rest is
mined: benchmarks/results/blind_model.json ``run_balance``), so twice the pool refills the slots
they empty (at RefCOCO's size 225 of 50,308 referents end short: the mine stats in
benchmarks/results/end_to_end_full.json)."""


def pool_size(num_negatives: int, max_share: float) -> int:
    """How many negatives mining finds per referent when the blind-model defences are on: enough
    that the first ``num_negatives`` survive where they drop ``max_share`` of them, at most
    ``POOL_CAP`` times as many; the first ``num_negatives`` left after them are kept (the mine
    stats' ``short`` counts the others)."""
    return int(np.ceil(num_negatives * min(1.0 / max(1.0 - max_share, 1e-9), POOL_CAP)))


def build_adversarial(config: RunConfig):
    """The run's :class:`~refaug.plausibility.adversarial.AdversarialFilter`, or None when off."""
    from refaug.plausibility.adversarial import AdversarialFilter

    adversarial = AdversarialFilter(target_auc=config.adversarial_auc, max_share=config.adversarial_max_share,
                                    models=config.adversarial_models, seed=config.seed)
    return adversarial if adversarial.active else None


def blind_model_defences(ds: Dataset, config: RunConfig, embedder, adversarial) -> tuple[Dataset, dict[str, Any]]:
    """After mining one split: the negated verified edits as extra positives, then the
    adversarial filter, the lexical balance (:mod:`refaug.plausibility.published`) and the cut
    to ``num_negatives``. Returns the dataset and the reports (``negated_positives``,
    ``adversarial``, ``balance``)."""
    from refaug.plausibility.published import add_negated_positives, adversarial_filter_dataset

    out: dict[str, Any] = {}
    if config.negated_positives:
        ds, out["negated_positives"] = add_negated_positives(ds, seed=config.seed)
    if (adversarial is not None or config.form_balance != "off") and len(ds):
        balance: dict[str, Any] = {}
        ds, report = adversarial_filter_dataset(ds, embedder=embedder, adversarial=adversarial,
                                                limit=config.num_negatives, balance=config.form_balance,
                                                balance_report=balance)
        if adversarial is not None:
            out["adversarial"] = report
        if config.form_balance == "rate":
            from refaug.plausibility.published import match_form_rates

            ds, rates = match_form_rates(ds)
            for kind, row in rates.items():
                balance.setdefault(kind, {})["derived_dropped"] = row["derived_dropped"]
                out.setdefault("balance_rates", {})[kind] = row
        if balance:
            out["balance"] = {"mode": config.form_balance, **balance}
    return ds, out
