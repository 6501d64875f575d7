"""Can a model that never sees the image tell refaug's negatives from real expressions?

SugarCrepe (Hsieh et al. 2023) showed that implausible or ungrammatical negatives let a
text-only model pick out the negative without the image, which makes a benchmark or a
training signal worthless. This benchmark trains such blind models to separate positives
(the real expressions of the dev file) from refaug's generated negatives (the rewriters'
distractors of those expressions), per kind, before and after the plausibility filter
(:mod:`refaug.plausibility`), and on synthetic scenes (the negatives a small pipeline run
publishes, filter off vs on):

* ``embedding``: logistic regression over all-MiniLM-L6-v2 sentence embeddings, 5-fold
  cross-validation grouped by image (a negative is in the fold of the expression it came from);
* ``lm``: the language model's score alone (mean token log-probability): the AUC of that one
  number, in whichever direction separates better (a trained one-feature model learns the
  direction; ``lm_auc_raw_*`` keeps the AUC of "positives score higher").

An AUC near 0.5 means the negatives carry no text-only shortcut; the goal is <= 0.60 after the
filter. It also calibrates the filter's margin: the spread of the LM score between two human
expressions of one object (the null), and per margin the share dropped and the LM-alone AUC.

    python benchmarks/blind_model.py --data ../shared/data/refcoco_real_dev.jsonl

writes ``benchmarks/results/blind_model.json`` and ``blind_model.md``. LM scores are cached in
``--cache`` (default ``runs/blind_model/lm_scores.json``), so a second run costs no scoring.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from refaug.contrast import describe_texts
from refaug.embed import Embedder
from refaug.plausibility import DEFAULT_LM_MARGIN, Cooccurrence, LanguageModel
from refaug.plausibility.adversarial import AdversarialFilter
from refaug.plausibility.bigrams import AttestedBigrams
from refaug.plausibility.negated import EDIT_KINDS, negated_negatives
from refaug.plausibility.published import positive_form
from refaug.report import format_table
from refaug.rewrite.base import normalize
from refaug.rewrite.combined import Rewriters
from refaug.rewrite.registry import REWRITER_NAMES, build_rewriter

ROOT = Path(__file__).resolve().parent
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/refcoco_real_dev.jsonl"
GOAL_AUC = 0.60
MARGINS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
FOLDS = 5


def load_objects(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """One dict per dev object: its image group, category and expressions (the first ``limit``)."""
    objects = []
    for line in path.read_text().splitlines()[:limit]:
        r = json.loads(line)
        objects.append({"group": f"{r['dataset']}-{r['image_id']}", "category": r["category"],
                        "expressions": list(dict.fromkeys(s["sent"] for s in r["sentences"]))})
    return objects


def rewrite_objects(objects: list[dict[str, Any]], *, per_kind: int, seed: int) -> list[dict[str, Any]]:
    """The rewriters' distractors of every object's expressions (each rewriter's own defaults),
    deduplicated per kind and text, at most ``per_kind`` per kind (seeded sample)."""
    rewrite = Rewriters([build_rewriter(name, seed=seed) for name in REWRITER_NAMES], views_column=None)
    out = rewrite({"expressions": [o["expressions"] for o in objects]})
    real = {normalize(t) for o in objects for t in o["expressions"]}
    by_kind: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for o, (obj, cands) in enumerate(zip(objects, out["distractors"], strict=True)):
        for c in cands:
            if normalize(c["text"]) not in real:
                by_kind[c["kind"]].setdefault(c["text"], {**c, "group": obj["group"], "object": o})
    rng = np.random.default_rng(seed)
    negatives = []
    for kind in sorted(by_kind):
        items = list(by_kind[kind].values())
        pick = rng.permutation(len(items))[:per_kind]
        negatives += [items[i] for i in sorted(pick)]
    return negatives


def cached_scores(texts: list[str], cache: Path, lm: LanguageModel) -> dict[str, float]:
    """LM scores of ``texts``, read from and added to the JSON ``cache``."""
    known = json.loads(cache.read_text()) if cache.exists() else {}
    missing = [t for t in dict.fromkeys(texts) if t not in known]
    if missing:
        logging.info("scoring %d texts with the LM", len(missing))
        for b0 in range(0, len(missing), 2048):
            part = missing[b0 : b0 + 2048]
            known.update(zip(part, lm.score(part).astype(float).tolist(), strict=True))
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(known))
    return {t: known[t] for t in texts}


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a positive scores above a negative), ties half."""
    from sklearn.metrics import roc_auc_score

    if not len(pos) or not len(neg):
        return float("nan")
    return float(roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg]))


def embedding_auc(pos: np.ndarray, pos_groups: list[str], neg: np.ndarray, neg_groups: list[str], *,
                  seed: int) -> float:
    """Out-of-fold AUC of a logistic regression on the embeddings (folds grouped by image)."""
    return embedding_oof(pos, pos_groups, neg, neg_groups, seed=seed)[0]


def embedding_oof(pos: np.ndarray, pos_groups: list[str], neg: np.ndarray, neg_groups: list[str], *,
                  seed: int) -> tuple[float, np.ndarray]:
    """The out-of-fold AUC and the out-of-fold decision values of the negatives (higher: more
    positive-looking); NaN where there are too few negatives or image groups for the folds."""
    folds = min(FOLDS, len(set(pos_groups + neg_groups)))
    if len(neg) < FOLDS or folds < 2:
        return float("nan"), np.full(len(neg), np.nan)
    value, negatives, _ = _oof(pos, pos_groups, neg, neg_groups, seed=seed, folds=folds)
    return value, negatives


def negated_positives(objects: list[dict[str, Any]], negatives: list[dict[str, Any]], *,
                      seed: int) -> list[dict[str, Any]]:
    """The shipped matched positives (:mod:`refaug.plausibility.negated`): every attribute and
    state rewrite of an object's expression, negated where edited (true of the object when the
    edit is false of it: the rewriter's claim, which mining verifies as ``edit``)."""
    by_text = {t: o["group"] for o in objects for t in o["expressions"]}
    edits = [n for n in negatives if n["kind"] in EDIT_KINDS and n["origin"] in by_text and "object" in n]
    found = negated_negatives([(n["origin"], n["text"], n["detail"]) for n in edits], seed=seed)
    real = {normalize(t) for t in by_text} | {normalize(n["text"]) for n in negatives}
    out = {}
    for n, items in zip(edits, found, strict=True):
        for text, detail in items:
            if normalize(text) not in real:
                out.setdefault(text, {"text": text, "origin": n["text"], "detail": detail,
                                      "group": by_text[n["origin"]], "object": n["object"]})
    return list(out.values())


# (target AUC, max share) pairs the calibration table tries besides the defaults
CALIBRATION = ((0.60, 0.25), (0.60, 0.5), (0.60, 0.75), (0.55, 0.5), (0.55, 0.75))


def shipped_rows(negatives: list[dict[str, Any]], keep: np.ndarray, objects: list[dict[str, Any]],
                 derived: list[dict[str, Any]], vectors: dict[str, np.ndarray], *,
                 seed: int) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Per kind: the shipped adversarial filter (defaults, matched positives as a run uses them)
    on the negatives the plausibility filter kept, then a *fresh* blind model (another fold
    split, grouped by image) after it, against three sets of positives: ``plain`` (the human
    expressions), ``with_derived`` (plus the negated negatives, what a run publishes) and
    ``matched`` (only the positives of the kind's form, where there are enough)."""
    pos_texts = [t for o in objects for t in o["expressions"]] + [d["text"] for d in derived]
    pos_groups = [o["group"] for o in objects for _ in o["expressions"]] + [d["group"] for d in derived]
    forms = np.asarray([positive_form(t) for o in objects for t in o["expressions"]] + ["negation"] * len(derived))
    human = np.r_[np.ones(len(pos_texts) - len(derived), bool), np.zeros(len(derived), bool)]
    pos_vec = np.vstack([vectors[t] for t in pos_texts])
    idx = np.nonzero(keep)[0]
    filt = AdversarialFilter(seed=seed)
    start = time.perf_counter()
    neg_groups = [negatives[i]["group"] for i in idx]
    result = filt.filter(pos_vec, np.vstack([vectors[negatives[i]["text"]] for i in idx]),
                         [negatives[i]["kind"] for i in idx], positive_forms=forms.tolist(),
                         positive_groups=pos_groups, negative_groups=neg_groups)
    seconds = time.perf_counter() - start
    out = {}
    for kind, report in result.kinds.items():
        mine = np.asarray([negatives[i]["kind"] == kind for i in idx])
        row: dict[str, Any] = {**report.to_dict(), "matched_positives": int((forms == kind).sum())}
        for stage, mask in (("after_plausibility", mine), ("after_adversarial", mine & result.keep)):
            chosen = idx[mask]
            neg = np.vstack([vectors[negatives[i]["text"]] for i in chosen])
            groups = [negatives[i]["group"] for i in chosen]
            for name, pmask in (("plain", human), ("with_derived", np.ones(len(pos_texts), bool)),
                                ("matched", forms == kind)):
                if pmask.sum() < 20:
                    continue
                row[f"auc_{name}_{stage}"] = embedding_auc(pos_vec[pmask], [g for g, m in zip(pos_groups, pmask)
                                                                               if m], neg, groups, seed=seed + 1)
        out[kind] = row
        logging.info("shipped %s: %s", kind, {k: v for k, v in row.items() if k.startswith("auc")})
    scores = result.predictability[np.isfinite(result.predictability)]
    calibration = []
    for target, share in CALIBRATION:
        other = AdversarialFilter(target_auc=target, max_share=share, seed=seed).filter(
            pos_vec, np.vstack([vectors[negatives[i]["text"]] for i in idx]), [negatives[i]["kind"] for i in idx],
            positive_forms=forms.tolist(), positive_groups=pos_groups, negative_groups=neg_groups)
        row = {"target_auc": target, "max_share": share}
        for kind, report in other.kinds.items():
            chosen = idx[np.asarray([negatives[i]["kind"] == kind for i in idx]) & other.keep]
            pmask = forms == kind if report.matched else human
            row[kind] = {"dropped_share": report.dropped / report.negatives, "matched": report.matched,
                         "auc": embedding_auc(pos_vec[pmask], [g for g, m in zip(pos_groups, pmask) if m],
                                              np.vstack([vectors[negatives[i]["text"]] for i in chosen]),
                                              [negatives[i]["group"] for i in chosen], seed=seed + 1)}
        calibration.append(row)
    return out, {"calibration": calibration,"seconds": seconds, "negatives": int(len(idx)), "positives": int(len(pos_texts)),
                 "derived_positives": len(derived),
                 "predictability_quantiles": np.quantile(scores, [0.1, 0.5, 0.9]).tolist() if len(scores) else []}


def joint_auc(pos: list[tuple[str, Any]], neg: list[tuple[str, str, Any]], vectors: dict[str, np.ndarray], *,
              seed: int, max_pos: int = 20_000, max_neg: int = 30_000) -> dict[str, Any]:
    """What a user's text-only model sees on published data: one logistic regression over the
    sentence embeddings of all published positives (``(text, group)``: expressions and derived
    ones) against all published negatives (``(text, kind, group)``, every kind together, in
    their published proportions), 5-fold out-of-fold grouped by image; per kind, the AUC of the
    positives' out-of-fold scores against that kind's. At most ``max_pos`` positives and
    ``max_neg`` negatives (uniform seeded draws, so the kinds keep their proportions)."""
    rng = np.random.default_rng(seed)
    pos = [pos[i] for i in np.sort(rng.permutation(len(pos))[:max_pos])]
    neg = [neg[i] for i in np.sort(rng.permutation(len(neg))[:max_neg])]
    kinds = np.asarray([k for _, k, _ in neg])
    _, oof_neg, oof_pos = _oof(np.vstack([vectors[t] for t, _ in pos]), [str(g) for _, g in pos],
                               np.vstack([vectors[t] for t, _, _ in neg]), [str(g) for _, _, g in neg], seed=seed)
    out: dict[str, Any] = {"positives": len(pos), "negatives": len(neg), "kinds": {}}
    for kind in sorted(set(kinds.tolist())):
        out["kinds"][kind] = {"negatives": int((kinds == kind).sum()), "auc": auc(oof_pos, oof_neg[kinds == kind])}
    out["auc_all"] = auc(oof_pos, oof_neg)
    return out


def _oof(pos: np.ndarray, pos_groups: list[str], neg: np.ndarray, neg_groups: list[str], *,
         seed: int, folds: int = FOLDS) -> tuple[float, np.ndarray, np.ndarray]:
    """A logistic regression on the embeddings, ``folds`` folds grouped by image: the out-of-fold
    AUC and the negatives' and the positives' out-of-fold decision values."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    groups = np.asarray(pos_groups + neg_groups)
    x = np.vstack([pos, neg])
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    oof = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y, groups):
        model = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(x[train], y[train])
        oof[test] = model.decision_function(x[test])
    return auc(oof[y == 1], oof[y == 0]), oof[y == 0], oof[y == 1]


def dev_published(negatives: list[dict[str, Any]], keep: np.ndarray, objects: list[dict[str, Any]],
                  derived: list[dict[str, Any]], vectors: dict[str, np.ndarray], *, seed: int) -> dict[str, Any]:
    """The dev file as a run would publish it: per object its rewrites that both filters kept,
    with the lexical balance (``refaug.plausibility.published.balance_mask``) per object or
    over the file, or off; :func:`joint_auc` of each, and the counts per kind."""
    from datasets import Dataset

    from refaug.plausibility.published import adversarial_filter_dataset, match_form_rates

    filt = AdversarialFilter(seed=seed)
    pos_texts = [t for o in objects for t in o["expressions"]] + [d["text"] for d in derived]
    pos_groups = [o["group"] for o in objects for _ in o["expressions"]] + [d["group"] for d in derived]
    forms = [positive_form(t) for o in objects for t in o["expressions"]] + ["negation"] * len(derived)
    idx = np.nonzero(keep)[0]
    result = filt.filter(np.vstack([vectors[t] for t in pos_texts]),
                         np.vstack([vectors[negatives[i]["text"]] for i in idx]), [negatives[i]["kind"] for i in idx],
                         positive_forms=forms, positive_groups=pos_groups,
                         negative_groups=[negatives[i]["group"] for i in idx])
    kept = idx[result.keep]
    rows = [{"expressions": o["expressions"], "hard_negatives": [],
             "views": {"appearance": None, "action": None, "spatial": None, "alternative": None,
                       "source": {"backend": "dev", "model": None, "template": None, "template_version": None,
                                  "template_hash": None}, "derived": []}} for o in objects]
    for i in kept:
        n = negatives[i]
        rows[n["object"]]["hard_negatives"].append({"text": n["text"], "kind": n["kind"], "detail": n["detail"],
                                                    "origin": n["origin"], "verified_by": "edit", "reason": ""})
    for d in derived:
        rows[d["object"]]["views"]["derived"].append({"text": d["text"], "kind": "negated_negative",
                                                     "detail": d["detail"], "origin": d["origin"]})
    ds = Dataset.from_list(rows)
    out: dict[str, Any] = {}
    for mode in ("off", "referent", "split", "rate"):  # the mine stage's own code on the dev rows
        report: dict[str, Any] = {}
        mined, _ = adversarial_filter_dataset(ds, embedder=None, adversarial=None, balance=mode, balance_report=report)
        if mode == "rate":
            mined, report["rates"] = match_form_rates(mined)
        pos, neg = [], []
        for o, row in zip(objects, mined, strict=True):
            pos += [(t, o["group"]) for t in dict.fromkeys([*row["expressions"],
                                                             *(x["text"] for x in row["views"]["derived"])])]
            neg += [(n["text"], n["kind"], o["group"]) for n in row["hard_negatives"]]
        out[mode] = joint_auc(pos, neg, vectors, seed=seed + 2)
        out[mode]["derived_positives"] = sum(len(row["views"]["derived"]) for row in mined)
        out[mode]["balance"] = report
        logging.info("dev published, balance %s: %s", mode, out[mode])
    return out


BALANCE_MODES_MEASURED = ("off", "referent", "split", "rate")


def run_balance_benchmark(run: Path, *, seed: int, work: Path) -> dict[str, Any]:
    """A finished run's pool mined again from its classify stage (``run/stages/4-classify``,
    its ``config.yaml``, plausibility ``cooccurrence``, no no-target expressions), then the
    mine stage's blind-model defences with each ``form_balance``: per mode the published
    counts per kind, the balance report and :func:`joint_auc` of the published rows (texts
    from a copy of the run's embedding cache). ``work``: where the cache copy and the published
    rows (JSON) are written; the run folder is only read."""
    import dataclasses

    import yaml
    from datasets import load_from_disk

    from refaug import stages
    from refaug.clusters import ClusterClassifier
    from refaug.config import RunConfig
    from refaug.mining import mine_hard_negatives
    from refaug.run_context import RunContext

    work.mkdir(parents=True, exist_ok=True)
    names = {f.name for f in dataclasses.fields(RunConfig)}
    given = {k: v for k, v in yaml.safe_load((run / "config.yaml").read_text()).items() if k in names}
    import shutil

    config = RunConfig(**{**given, "out": str(work), "plausibility": "cooccurrence", "no_target_per_image": 0,
                          "seed": seed})
    context = RunContext(out=work, show_progress=False)
    if not (work / "cache" / "embeddings").exists() and (run / "cache" / "embeddings").exists():
        shutil.copytree(run / "cache" / "embeddings", work / "cache" / "embeddings")  # the run's own is left as it was
    ds = load_from_disk(str(run / "stages/4-classify/data"))
    embedder = stages.build_embedder(config, context)
    adversarial = stages.build_adversarial(config)
    start = time.perf_counter()
    pools = []
    for split in sorted(set(ds["split"])):
        part = ds.filter(lambda s, split=split: s == split, input_columns="split")
        pools.append(mine_hard_negatives(
            part, embedder=embedder, num_negatives=stages.pool_size(config.num_negatives, config.adversarial_max_share),
            sources=tuple(config.mining_sources), same_class=config.same_class,
            classifier=ClusterClassifier(config.method, threshold=config.threshold, embedder=embedder),
            max_similarity=config.max_similarity, relative_margin=config.relative_margin,
            require_verified=config.require_verified, selection=config.selection,
            similarity_floor=config.similarity_floor, diversity=config.diversity, seed=config.seed,
            output_format="nested", show_progress_bar=False, no_target_per_image=0, plausibility=config.plausibility))
    out: dict[str, Any] = {"run": str(run), "referents": len(ds), "mine_seconds": time.perf_counter() - start}
    for mode in BALANCE_MODES_MEASURED:
        chosen = dataclasses.replace(config, form_balance=mode)
        rows, reports = [], {}
        for k, pool in enumerate(pools):
            mined, reports[k] = stages.blind_model_defences(pool, chosen, embedder, adversarial)
            rows += published_rows(mined)
        merged = stages._merge_blind(reports)
        path = work / f"published-{mode}.json"
        path.write_text(json.dumps(rows))
        row = published_benchmark(path, embedder=embedder, seed=seed)
        row["balance"] = merged.get("balance")
        row["derived_made"] = (merged.get("negated_positives") or {}).get("positives")
        row["short"] = sum(len(r["negatives"]) < config.num_negatives for r in rows)
        out[mode] = row
        logging.info("run %s, balance %s: %s", run, mode, {k: v["auc"] for k, v in row["kinds"].items()})
    return out


def published_rows(ds) -> list[dict[str, Any]]:
    """A mined or published dataset's rows as ``{image_id, expressions, derived, negatives:
    [[text, kind], ...]}``."""
    return [{"image_id": r["image_id"], "expressions": r["expressions"],
             "derived": [d["text"] for d in ((r["views"] or {}).get("derived") or ())],
             "negatives": [[n["text"], n["kind"]] for n in r["hard_negatives"]]}
            for r in ds.select_columns(["image_id", "expressions", "views", "hard_negatives"])]


def published_benchmark(path: Path, *, embedder: Embedder, seed: int) -> dict[str, Any]:
    """:func:`joint_auc` on a run's published rows: a ``save_to_disk`` folder (a run's
    ``publish/dataset``, or a stage's output) or a JSON list of ``{image_id, expressions,
    derived, negatives: [[text, kind], ...]}``."""
    if path.suffix == ".json":
        rows = json.loads(path.read_text())
    else:
        from datasets import Dataset, load_from_disk

        data = load_from_disk(str(path))
        rows = [row for ds in ([data] if isinstance(data, Dataset) else data.values()) for row in published_rows(ds)]
    pos = list({t: (t, r["image_id"]) for r in rows for t in [*r["expressions"], *r["derived"]]}.values())
    neg = list({(t, k): (t, k, r["image_id"]) for r in rows for t, k in r["negatives"]}.values())
    texts = list(dict.fromkeys([t for t, _ in pos] + [t for t, _, _ in neg]))
    vectors = dict(zip(texts, embedder.encode_distinct(texts), strict=True))
    out = joint_auc(pos, neg, vectors, seed=seed)
    out["source"] = str(path)
    out["rows"] = len(rows)
    out["published_by_kind"] = dict(sorted(Counter(k for r in rows for _, k in r["negatives"]).items()))
    out["derived_positives"] = sum(len(r["derived"]) for r in rows)
    return out


def human_null(objects: list[dict[str, Any]], scores: dict[str, float]) -> dict[str, float]:
    """The LM score difference between two human expressions of one object (both orders)."""
    diffs = [scores[a] - scores[b] for o in objects for a in o["expressions"] for b in o["expressions"] if a != b]
    diffs = np.asarray(diffs)
    return {"pairs": int(len(diffs)), "p1": float(np.quantile(diffs, 0.01)), "p5": float(np.quantile(diffs, 0.05)),
            "p10": float(np.quantile(diffs, 0.10)), "median": float(np.median(diffs))}


def filter_verdicts(negatives: list[dict[str, Any]], scores: dict[str, float], cooccurrence: Cooccurrence,
                    descriptions: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Per negative, its relative LM score (text - origin) and whether the co-occurrence check flags it."""
    relative = np.asarray([scores[n["text"]] - scores[n["origin"]] for n in negatives])
    clash = np.asarray([cooccurrence.clash(descriptions[n["text"]], source=descriptions[n["origin"]]) is not None
                        for n in negatives])
    return relative, clash


def kind_rows(negatives: list[dict[str, Any]], keep: np.ndarray, objects: list[dict[str, Any]],
              scores: dict[str, float], vectors: dict[str, np.ndarray], *, seed: int) -> dict[str, dict[str, float]]:
    """Per kind (and all together): counts, share dropped, blind AUCs before and after the filter."""
    pos_texts = [t for o in objects for t in o["expressions"]]
    pos_groups = [o["group"] for o in objects for _ in o["expressions"]]
    pos_vec = np.vstack([vectors[t] for t in pos_texts])
    pos_lm = np.asarray([scores[t] for t in pos_texts])
    kinds = np.asarray([n["kind"] for n in negatives])
    out = {}
    for kind in [*sorted(set(kinds)), "all"]:
        mine = np.ones(len(negatives), bool) if kind == "all" else kinds == kind
        row = {"negatives": int(mine.sum()), "dropped_share": float(1 - keep[mine].mean()) if mine.any() else 0.0}
        for stage, mask in (("before", mine), ("after", mine & keep)):
            idx = np.nonzero(mask)[0]
            texts = [negatives[i]["text"] for i in idx]
            groups = [negatives[i]["group"] for i in idx]
            neg_vec = np.vstack([vectors[t] for t in texts]) if texts else np.zeros((0, pos_vec.shape[1]))
            row[f"embedding_auc_{stage}"] = embedding_auc(pos_vec, pos_groups, neg_vec, groups, seed=seed)
            raw = auc(pos_lm, np.asarray([scores[t] for t in texts]))
            row[f"lm_auc_raw_{stage}"] = raw
            row[f"lm_auc_{stage}"] = max(raw, 1.0 - raw)
        out[kind] = row
        logging.info("%s: %s", kind, row)
    return out


def calibration(negatives: list[dict[str, Any]], relative: np.ndarray, clash: np.ndarray,
                objects: list[dict[str, Any]], scores: dict[str, float]) -> list[dict[str, Any]]:
    """Per margin: the share of negatives dropped and the LM-alone AUC after the filter, per kind."""
    pos_lm = np.asarray([scores[t] for o in objects for t in o["expressions"]])
    kinds = np.asarray([n["kind"] for n in negatives])
    neg_lm = np.asarray([scores[n["text"]] for n in negatives])
    rows = []
    for margin in MARGINS:
        keep = (relative >= -margin) & ~clash  # the LM on every text (no first stage)
        per_kind = {k: {"dropped_share": float(1 - keep[kinds == k].mean()),
                        "lm_auc_raw_after": auc(pos_lm, neg_lm[(kinds == k) & keep])} for k in sorted(set(kinds))}
        rows.append({"margin": margin, "dropped_share": float(1 - keep.mean()),
                     "lm_auc_raw_after": auc(pos_lm, neg_lm[keep]), "kinds": per_kind})
    return rows


def scale_timing(negatives: list[dict[str, Any]], objects: list[dict[str, Any]], vectors: dict[str, np.ndarray], *,
                 size: int, positives: int, seed: int) -> dict[str, Any]:
    """The shipped filter's cost at corpus size: the dev vectors tiled (plus noise of 0.01 per
    dimension, so no two are equal) to ``size`` negatives over the dev kinds and ``positives``
    positives, one call of :meth:`AdversarialFilter.filter` timed (embeddings already in memory)."""
    rng = np.random.default_rng(seed)
    neg = np.vstack([vectors[n["text"]] for n in negatives])
    pos = np.vstack([vectors[t] for o in objects for t in o["expressions"]])
    take_n, take_p = rng.integers(len(neg), size=size), rng.integers(len(pos), size=positives)
    big_neg = (neg[take_n] + rng.normal(0, 0.01, (size, neg.shape[1]))).astype(np.float32)
    big_pos = (pos[take_p] + rng.normal(0, 0.01, (positives, pos.shape[1]))).astype(np.float32)
    kinds = [negatives[i]["kind"] for i in take_n]
    start = time.perf_counter()
    result = AdversarialFilter(seed=seed).filter(big_pos, big_neg, kinds)
    seconds = time.perf_counter() - start
    return {"negatives": size, "positives": positives, "seconds": seconds,
            "dropped_share": float(1 - result.keep.mean()), "threads": os.environ.get("OMP_NUM_THREADS")}


def real_benchmark(path: Path, *, per_kind: int, margin: float, cache: Path, seed: int,
                   embedder: Embedder, lm: LanguageModel, limit: int | None = None,
                   scale: int = 0) -> dict[str, Any]:
    objects = load_objects(path, limit)
    start = time.perf_counter()
    negatives = rewrite_objects(objects, per_kind=per_kind, seed=seed)
    rewrite_s = time.perf_counter() - start
    humans = [t for o in objects for t in o["expressions"]]
    texts = list(dict.fromkeys(humans + [n["text"] for n in negatives] + [n["origin"] for n in negatives]))
    before = lm.seconds, lm.scored
    scores = cached_scores(texts, cache, lm)
    lm_cost = (lm.seconds - before[0]) / max(lm.scored - before[1], 1) if lm.scored > before[1] else None
    described = dict(zip(texts, describe_texts(texts), strict=True))
    cooccurrence = Cooccurrence.from_descriptions(described[t] for t in dict.fromkeys(humans))
    relative, clash = filter_verdicts(negatives, scores, cooccurrence, described)
    attested = AttestedBigrams.from_texts(humans)
    novel = np.asarray([attested.novel(n["text"]) for n in negatives])
    lm_drop = novel & (relative < -margin)  # the default filter: the LM sees only what the first stage sends
    keep = ~lm_drop & ~clash
    vectors = dict(zip(texts, embedder.encode_distinct(texts), strict=True))
    kinds = kind_rows(negatives, keep, objects, scores, vectors, seed=seed)
    derived = negated_positives(objects, negatives, seed=seed)
    extra = [d["text"] for d in derived if d["text"] not in vectors]
    vectors.update(zip(extra, embedder.encode_distinct(extra), strict=True))
    adversarial, adversarial_cost = shipped_rows(negatives, keep, objects, derived, vectors, seed=seed)
    published = dev_published(negatives, keep, objects, derived, vectors, seed=seed)
    if scale:
        adversarial_cost["scale"] = scale_timing(negatives, objects, vectors, size=scale, positives=145_000,
                                                 seed=seed)
        logging.info("scale: %s", adversarial_cost["scale"])
    for kind, row in kinds.items():
        mine = np.ones(len(negatives), bool) if kind == "all" else np.asarray([n["kind"] == kind for n in negatives])
        row["dropped_lm_share"] = float(lm_drop[mine].mean()) if mine.any() else 0.0
        row["dropped_cooccurrence_share"] = float(clash[mine].mean()) if mine.any() else 0.0
        row["sent_to_lm_share"] = float(novel[mine].mean()) if mine.any() else 0.0
        ungated = mine & (relative < -margin)
        row["lm_drops_missed_by_gate"] = float((ungated & ~novel).sum() / max(ungated.sum(), 1))
    examples = {"lm": [(n["origin"], n["text"], round(float(r), 2)) for n, r, c in zip(negatives, relative, clash,
                                                                                        strict=True) if r < -margin][:12],
                "cooccurrence": [(n["origin"], n["text"]) for n, c in zip(negatives, clash, strict=True) if c][:12]}
    return {"objects": len(objects), "expressions": len(humans), "negatives": len(negatives),
            "margin": margin, "rewrite_seconds": rewrite_s, "lm_seconds_per_text": lm_cost,
            "human_null": human_null(objects, scores), "kinds": kinds, "adversarial": adversarial,
            "published": published,
            "adversarial_cost": adversarial_cost, "derived_examples": [(d["origin"], d["text"]) for d in derived[:15]],
            "examples": examples,
            "calibration": calibration(negatives, relative, clash, objects, scores)}


def synthetic_benchmark(images: int, *, seed: int, embedder: Embedder, lm: LanguageModel) -> dict[str, Any]:
    """The negatives a small pipeline (rules views, every rewriter) publishes on synthetic scenes,
    filter off vs on (``lm``), against the scenes' expressions; the filter's cost in mining."""
    from refaug.data.synthetic import synthetic_scenes
    from refaug.mining import mine_hard_negatives
    from refaug.plausibility import PlausibilityFilter
    from refaug.views import ViewGenerator, get_backend

    ds = synthetic_scenes(images, seed=seed, image_size=(96, 72))
    ds = ds.map(ViewGenerator(get_backend("rules")), batched=True, batch_size=64)
    ds = ds.map(Rewriters([build_rewriter(n, seed=seed) for n in REWRITER_NAMES]), batched=True)
    out: dict[str, Any] = {"images": images, "referents": len(ds)}
    published = {}
    for mode in ("off", "lm"):
        plausibility = PlausibilityFilter(mode=mode, language_model=lm if mode == "lm" else None)
        before = lm.seconds, lm.scored
        start = time.perf_counter()
        mined, report = mine_hard_negatives(ds, embedder=embedder, num_negatives=30, seed=seed,
                                            plausibility=plausibility, return_report=True, show_progress_bar=False)
        out[f"mine_seconds_{mode}"] = time.perf_counter() - start
        if mode == "lm":
            out["lm_texts_scored"] = lm.scored - before[1]
            out["lm_seconds"] = lm.seconds - before[0]
            out["dropped"] = {k: {r: n for r, n in v["dropped"].items() if r.startswith("plausibility")}
                              for k, v in report.to_dict()["kinds"].items()}
        published[mode] = [(n["text"], n["kind"], row["image_id"]) for row in mined for n in row["hard_negatives"]]
    humans = {t: row["image_id"] for row in ds for t in row["expressions"]}
    texts = list(dict.fromkeys([*humans, *(t for rows in published.values() for t, _, _ in rows)]))
    vectors = dict(zip(texts, embedder.encode_distinct(texts), strict=True))
    pos = np.vstack([vectors[t] for t in humans])
    groups = [str(g) for g in humans.values()]
    generated = {"off": {}, "lm": {}}
    for mode, rows in published.items():
        for text, kind, image in rows:
            if text not in humans:  # a generated text: a distractor or a rules view
                generated[mode].setdefault(kind, {})[text] = str(image)
    kinds = {}
    for kind in sorted(set(generated["off"]) | set(generated["lm"])):
        row = {}
        for mode, stage in (("off", "before"), ("lm", "after")):
            items = generated[mode].get(kind, {})
            row[f"negatives_{stage}"] = len(items)
            neg = np.vstack([vectors[t] for t in items]) if items else np.zeros((0, pos.shape[1]))
            row[f"embedding_auc_{stage}"] = embedding_auc(pos, groups, neg, list(items.values()), seed=seed)
        kinds[kind] = row
    out["kinds"] = kinds
    return out


def int8_agreement(path: Path, *, limit: int | None, per_kind: int, sample: int, cache: Path, seed: int,
                   margin: float) -> dict[str, Any]:
    """torch dynamic int8 against fp32 on ``sample`` rewrites and their sources: speed, rank
    agreement of the scores and of the relative scores, agreement of the drop decisions."""
    from scipy.stats import spearmanr

    negatives = rewrite_objects(load_objects(path, limit), per_kind=per_kind, seed=seed)
    pick = [negatives[i] for i in np.random.default_rng(seed + 1).permutation(len(negatives))[:sample]]
    texts = list(dict.fromkeys(t for n in pick for t in (n["text"], n["origin"])))
    fp32 = cached_scores(texts, cache, LanguageModel())
    lm = LanguageModel(precision="int8")
    lm.score(["warm up"])
    start = time.perf_counter()
    int8 = dict(zip(texts, lm.score(texts).astype(float).tolist(), strict=True))
    seconds = time.perf_counter() - start
    a, b = (np.asarray([scores[t] for t in texts]) for scores in (fp32, int8))
    ra, rb = (np.asarray([scores[n["text"]] - scores[n["origin"]] for n in pick]) for scores in (fp32, int8))
    return {"texts": len(texts), "int8_texts_per_s": len(texts) / seconds,
            "spearman_scores": float(spearmanr(a, b)[0]), "mean_abs_diff": float(np.abs(a - b).mean()),
            "spearman_relative": float(spearmanr(ra, rb)[0]), "margin": margin,
            "drops_fp32": int((ra < -margin).sum()), "drops_int8": int((rb < -margin).sum()),
            "drops_both": int(((ra < -margin) & (rb < -margin)).sum())}


def markdown(result: dict[str, Any]) -> str:
    real = result["real"]
    rows = [[kind, r["negatives"], f"{r['sent_to_lm_share']:.0%}", f"{r['lm_drops_missed_by_gate']:.0%}",
             f"{r['dropped_share']:.1%}", f"{r['dropped_lm_share']:.1%}",
             f"{r['dropped_cooccurrence_share']:.1%}", f"{r['embedding_auc_before']:.3f}",
             f"{r['embedding_auc_after']:.3f}", f"{r['lm_auc_before']:.3f}", f"{r['lm_auc_after']:.3f}"]
            for kind, r in real["kinds"].items()]
    parts = [f"# Blind-model benchmark (goal: AUC <= {GOAL_AUC} after the filter)", "", f"`{result['command']}`", "",
             f"Real dev expressions: {real['objects']} objects, {real['expressions']} expressions, "
             f"{real['negatives']} rewriter negatives; margin {real['margin']} nats/token.", "",
             format_table(rows, ["kind", "negatives", "to LM", "LM drops gated", "dropped", "by lm", "by co-occ.",
                                 "emb. AUC before",
                                 "emb. AUC after", "LM AUC before", "LM AUC after"], title="real dev, per kind"),
             "", f"Human null (LM score, expression - other expression of the same object): {real['human_null']}",
             "", format_table([[c["margin"], f"{c['dropped_share']:.1%}", f"{c['lm_auc_raw_after']:.3f}"]
                               for c in real["calibration"]], ["margin", "dropped", "LM AUC after (raw)"],
                              title="calibration (all kinds)"),
             "", adversarial_table(real), "", published_table(real, result.get("published_runs", [])),
             "", run_balance_table(result.get("run_balance"))]
    if "synthetic" in result:
        syn = result["synthetic"]
        rows = [[k, r["negatives_before"], r["negatives_after"], f"{r['embedding_auc_before']:.3f}",
                 f"{r['embedding_auc_after']:.3f}"] for k, r in syn["kinds"].items()]
        parts += ["", format_table(rows, ["kind", "published (off)", "published (lm)", "emb. AUC off", "emb. AUC lm"],
                                   title=f"synthetic scenes ({syn['images']} images), published negatives"),
                  "", f"mining: {syn['mine_seconds_off']:.1f} s off, {syn['mine_seconds_lm']:.1f} s with the filter; "
                      f"{syn['lm_texts_scored']} texts scored in {syn['lm_seconds']:.1f} s"]
    if "int8" in result:
        parts += ["", f"int8 (torch dynamic quantisation) against fp32: {result['int8']}"]
    return "\n".join(parts) + "\n"


def published_table(real: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    """The figure a user's text-only model sees on published data (:func:`joint_auc`), per kind."""
    dev = real.get("published")
    parts = []
    if dev:
        modes = ("off", "referent", "split", "rate")
        kinds = sorted(set().union(*(dev[m]["kinds"] for m in modes)))
        rows = [[k, *(f"{dev[m]['kinds'][k]['auc']:.3f} ({dev[m]['kinds'][k]['negatives']})" if k in dev[m]["kinds"]
                      else "-" for m in modes)] for k in kinds]
        rows.append(["all", *(f"{dev[m]['auc_all']:.3f} ({dev[m]['negatives']})" for m in modes)])
        rows.append(["derived positives", *(dev[m]["derived_positives"] for m in modes)])
        parts += [format_table(rows, ["kind", "balance off", "per referent", "per split", "rate (default)"],
                               title="published (dev file, the rewrites both filters kept, per object): one blind "
                                     "model, all positives (human + derived) against all published negatives, AUC "
                                     "per kind (negatives published), per form_balance")]
    for run in runs:
        rows = [[k, run["published_by_kind"].get(k, 0), r["negatives"], f"{r['auc']:.3f}"] for k, r in run["kinds"].items()]
        rows.append(["all", sum(run["published_by_kind"].values()), run["negatives"], f"{run['auc_all']:.3f}"])
        parts += ["", format_table(rows, ["kind", "published", "sampled", "AUC"],
                                   title=f"published rows {run['source']}: {run['rows']} referents, "
                                         f"{run['positives']} positives sampled ({run['derived_positives']} derived "
                                         f"in all); one blind model, AUC per kind")]
    return "\n".join(parts)


def run_balance_table(run: dict[str, Any] | None) -> str:
    if not run:
        return ""
    modes = [m for m in BALANCE_MODES_MEASURED if m in run]
    kinds = sorted(set().union(*(run[m]["kinds"] for m in modes)))
    rows = [[k, *(f"{run[m]['kinds'][k]['auc']:.3f} ({run[m]['published_by_kind'].get(k, 0)})" for m in modes)]
            for k in kinds]
    rows.append(["all", *(f"{run[m]['auc_all']:.3f} ({sum(run[m]['published_by_kind'].values())})" for m in modes)])
    rows.append(["derived positives", *(run[m]["derived_positives"] for m in modes)])
    rows.append(["short referents", *(run[m]["short"] for m in modes)])
    return format_table(rows, ["kind", *(f"{m}{' (default)' if m == 'rate' else ''}" for m in modes)],
                        title=f"published rows of {run['run']} ({run['referents']} referents, pool mined again in "
                              f"{run['mine_seconds']:.0f} s): one blind model over all published positives "
                              f"(expressions + derived) and negatives, AUC per kind (published count), per "
                              f"form_balance")


def adversarial_table(real: dict[str, Any]) -> str:
    def cell(r: dict[str, Any], key: str) -> str:
        return f"{r[key]:.3f}" if key in r else "-"

    rows = [[k, r["negatives"], f"{r['dropped_share']:.0%}", r["stopped"], r["matched_positives"],
             cell(r, "auc_plain_after_plausibility"), cell(r, "auc_plain_after_adversarial"),
             cell(r, "auc_with_derived_after_adversarial"), cell(r, "auc_matched_after_plausibility"),
             cell(r, "auc_matched_after_adversarial"), f"{r['auc_before']:.3f} -> {r['auc_after']:.3f}"]
            for k, r in real["adversarial"].items()]
    cost = real["adversarial_cost"]
    return "\n".join([
        format_table(rows, ["kind", "negatives", "dropped", "stopped", "matched pos.", "plain, after plaus.",
                            "plain, after adv.", "+derived, after adv.", "matched, after plaus.",
                            "matched, after adv.", "filter's own AUC"],
                     title="shipped adversarial filter (defaults): fresh blind model (emb. AUC) after it"),
        "", f"filter: {cost['seconds']:.2f} s for {cost['negatives']} negatives against {cost['positives']} "
            f"positives ({cost['derived_positives']} negated negatives); predictability p10/p50/p90 "
            f"{[round(q, 3) for q in cost['predictability_quantiles']]}"
            + (f"; at scale: {cost['scale']['seconds']:.1f} s for {cost['scale']['negatives']} negatives against "
               f"{cost['scale']['positives']} positives (dev vectors tiled, OMP_NUM_THREADS="
               f"{cost['scale']['threads']})" if "scale" in cost else ""),
        "", format_table([[f"{c['target_auc']:.2f}", f"{c['max_share']:.0%}",
                           *(f"{c[k]['auc']:.3f} ({c[k]['dropped_share']:.0%})" if k in c else "-"
                             for k in real["adversarial"])] for c in cost["calibration"]],
                         ["target", "max share", *real["adversarial"]],
                         title="calibration: fresh blind AUC (share dropped) per setting; matched positives "
                               "where the filter uses them, else plain"),
        "", "plain: positives are the human expressions; +derived: plus the negated negatives a run publishes "
            "(views.derived); matched: only positives of the kind's form (negation: the negated negatives; "
            "state: human expressions with a state or posture word), which the filter uses where there are "
            "20 or more. Negated negatives (edit -> its negation), first ones: "
            + "; ".join(f"{a!r} -> {b!r}" for a, b in real["derived_examples"][:8])])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the dev JSONL file")
    parser.add_argument("--per-kind", type=int, default=1500, help="negatives sampled per kind")
    parser.add_argument("--margin", type=float, default=DEFAULT_LM_MARGIN)
    parser.add_argument("--synthetic", type=int, default=40, help="synthetic images (0: skip)")
    parser.add_argument("--precision", choices=("fp32", "int8"), default="fp32")
    parser.add_argument("--cache", type=Path, default=Path("runs/blind_model/lm_scores.json"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="the first N objects only (a smoke test)")
    parser.add_argument("--int8-agreement", type=int, default=0, metavar="N",
                        help="also compare int8 with fp32 on N rewrites (0: skip)")
    parser.add_argument("--scale", type=int, default=0, metavar="N",
                        help="also time the adversarial filter on N negatives (dev vectors tiled; 0: skip)")
    parser.add_argument("--published", type=Path, nargs="*", default=[], metavar="PATH",
                        help="also measure published rows: a save_to_disk folder (a run's publish/dataset) "
                             "or a JSON list of {image_id, expressions, derived, negatives}")
    parser.add_argument("--run", type=Path, default=None, metavar="DIR",
                        help="also mine a finished run's pool again (its classify stage) and measure its "
                             "published rows under each form_balance (e.g. the end-to-end benchmark's 1/8 run)")
    parser.add_argument("--work", type=Path, default=Path("runs/blind_model"),
                        help="where --run writes the published rows it measures")
    parser.add_argument("--embedding-cache", type=Path, default=None, metavar="DIR",
                        help="the embedder's cache (a run's cache/embeddings: --published texts cost nothing)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "blind_model")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not args.data.exists():
        parser.error(f"{args.data} not found: pass --data PATH (the dev JSONL file)")
    embedder = Embedder(cache_dir=args.embedding_cache) if args.embedding_cache else Embedder()
    lm = LanguageModel(precision=args.precision)
    cache = args.cache.with_name(f"{args.cache.stem}.{args.precision}{args.cache.suffix}")
    given = sys.argv[1:] if argv is None else argv
    result: dict[str, Any] = {"command": "python benchmarks/blind_model.py " + " ".join(given),
                              "real": real_benchmark(args.data, per_kind=args.per_kind, margin=args.margin,
                                                     cache=cache, seed=args.seed, embedder=embedder, lm=lm,
                                                     limit=args.limit, scale=args.scale)}
    if args.int8_agreement:
        result["int8"] = int8_agreement(args.data, limit=args.limit, per_kind=args.per_kind,
                                        sample=args.int8_agreement, cache=cache, seed=args.seed, margin=args.margin)
    if args.run:
        result["run_balance"] = run_balance_benchmark(args.run, seed=args.seed, work=args.work)
    if args.published:
        result["published_runs"] = [published_benchmark(p, embedder=embedder, seed=args.seed) for p in args.published]
    if args.synthetic:
        result["synthetic"] = synthetic_benchmark(args.synthetic, seed=args.seed, embedder=embedder, lm=lm)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2, default=float))
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
