"""The quality of the published negatives on real RefCOCO-family refs, with the default options.

Runs the whole pipeline (``Pipeline(RunConfig(backend="rules"))``: views, rewrites, embedding,
judgement, mining, publishing) on the development file, once per dataset (refcoco, refcoco+,
refcocog, as ``refaug run`` would on a refer folder of each), and prints:

- the per-kind table of the run report (candidates, kept, share verified and by what, share of
  the referent's category, cosine quantiles, drops per rule);
- the goals of issue 16: the share of kept negatives that are verified; of the rewriters'
  distractors whose edit contradicts the referent (verified ``edit``, ``conflict`` or
  ``conflict_view`` when every distractor is judged), the share kept; of the other objects'
  texts of the same image, the share kept; broken texts among the kept (:func:`broken_text`);
  the referents with at least 10 verified negatives, and why the others fall short;
- the measurement behind ``refaug.mining.NEAR_IDENTICAL`` (the ambiguous-annotation guard).

The file has no pixels (COCO images cannot be fetched here): rows carry ``image=None``, so the
rules backend writes no colour (its views name category, size and place, the frame being the
boxes' extent) and no view conflict can be about colour. Results go to
``benchmarks/results/real_quality.json``.

    python benchmarks/real_quality.py --data ../shared/data/refcoco_real_dev.jsonl
    python benchmarks/real_quality.py --baseline   # also the old defaults (centroid, unverified)
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset, concatenate_datasets, load_from_disk

from refaug.clusters import ClusterClassifier
from refaug.config import RunConfig
from refaug.embed import Embedder
from refaug.mining import NEAR_IDENTICAL, mine_hard_negatives
from refaug.pipeline import Pipeline
from refaug.records import REFERENT_FEATURES, UNVERIFIED
from refaug.report import format_table

ROOT = Path(__file__).resolve().parent
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/refcoco_real_dev.jsonl"
REWRITE_KINDS = ("attribute", "negation", "role_reversal")
CONTRADICTING = ("edit", "conflict", "conflict_view")
# A text's last word of these parts of speech (spaCy's universal tags) leaves it hanging: "the man
# and", "the cup of the". A final preposition or particle does not ("chair she is sitting on",
# "man lying down" are how annotators write), except where a rewrite left one its origin lacks.
DANGLING = frozenset({"DET", "CCONJ", "SCONJ"})
DANGLING_IN_REWRITE = DANGLING | {"ADP", "AUX", "PART"}
GOAL_MIN_VERIFIED = 10


def load_dev(path: Path) -> dict[str, Dataset]:
    """The development file as canonical referent rows, one Dataset per dataset (no pixels)."""
    by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        r = json.loads(line)
        by_dataset[r["dataset"]].append({
            "referent_id": f"{r['dataset']}-{r['split_by']}-{r['ref_id']}", "image_id": r["image_id"],
            "ann_id": r["ann_id"], "ref_id": r["ref_id"], "category": r["category"], "supercategory": "",
            "bbox": r["bbox_xywh"], "image": None, "expressions": [s["sent"] for s in r["sentences"]],
            "split": r["split"]})
    return {name: Dataset.from_list(rows, features=REFERENT_FEATURES) for name, rows in sorted(by_dataset.items())}


def text_defects(doc: Any, *, rewrite: bool) -> set[str]:
    """What reads broken in a parsed text: empty, a doubled word ("the the"), a dangling last word
    (:data:`DANGLING`; for a rewrite :data:`DANGLING_IN_REWRITE`). Not a missing noun: annotators
    write "left" and "blue" and mean it, and the tagger calls "green" a noun and "blue" not."""
    words = [t for t in doc if not t.is_punct and not t.is_space]
    if not words:
        return {"empty"}
    found = set()
    lowered = [t.lower_ for t in words]
    if any(a == b for a, b in zip(lowered, lowered[1:])):
        found.add("doubled word")
    if words[-1].pos_ in (DANGLING_IN_REWRITE if rewrite else DANGLING):
        found.add(f"ends with {words[-1].pos_.lower()}")
    return found


def broken_texts(kept: list[dict[str, Any]]) -> dict[str, str]:
    """The kept negatives whose text reads broken, with why. A rewrite counts only for the defects
    its origin (the text it rewrote) does not have: the rewriter made those."""
    from refaug.nlp import load_nlp

    nlp = load_nlp(disable=("ner",))
    pairs = {(n["text"], n["origin"] if n["kind"] in REWRITE_KINDS else None) for n in kept}
    distinct = sorted({t for pair in pairs for t in pair if t})
    docs = dict(zip(distinct, nlp.pipe(distinct, batch_size=256), strict=True))
    broken = {}
    for text, origin in sorted(pairs, key=str):
        found = text_defects(docs[text], rewrite=origin is not None)
        if origin is not None:
            found -= text_defects(docs[origin], rewrite=True)
        if found:
            kinds = "/".join(sorted({n["kind"] for n in kept if n["text"] == text}))
            broken[text] = ", ".join(sorted(found)) + (f" (rewrite of {origin!r})" if origin else f" ({kinds})")
    return broken


def run_pipeline(ds: Dataset, out: Path, **options: Any) -> tuple[Dataset, dict[str, Any], Dataset]:
    """The published rows, the run's stats and the rewrite stage's rows (views, distractors)."""
    config = RunConfig(backend="rules", out=str(out), **options)
    result = Pipeline(config, show_progress=False).run(ds)
    published = concatenate_datasets(list(result.dataset.values()))
    rewritten = load_from_disk(str(next((out / "stages").glob("2-rewrite")) / "data"))
    return published, result.stats, rewritten


def contradicting_distractors(rewritten: Dataset, embedder: Embedder) -> list[dict[str, str]]:
    """Per referent, each distractor's ``verified_by`` when every distractor is judged.

    The same verification as mining's (``refaug.mining.verification``), with nothing dropped
    as inside the cluster (a centroid classifier whose cut-off no cosine reaches) and no margin.
    """
    judged = mine_hard_negatives(rewritten, embedder=embedder, sources=("distractors",), num_negatives=100_000,
                                 classifier=ClusterClassifier("centroid", threshold=2.0, embedder=embedder),
                                 relative_margin=None, require_verified=False, show_progress_bar=False)
    return [{n["text"]: n["verified_by"] for n in row} for row in judged["hard_negatives"]]


def same_image_texts(published: Dataset) -> list[tuple[set[str], set[str]]]:
    """Per referent, the texts of the other referents of its image: all members, human only."""
    rows = published.select_columns(["referent_id", "image_id", "split", "expressions", "views"]).to_list()
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):  # refcoco and refcoco+ share images: group within a dataset
        r["dataset"] = r["referent_id"].rsplit("-", 2)[0]
        groups[(r["dataset"], r["split"], r["image_id"])].append(i)

    def members(r: dict) -> set[str]:
        views = r["views"] or {}
        return {t for t in [views.get(k) for k in ("appearance", "action", "spatial", "alternative")]
                + list(r["expressions"]) if t}

    out = []
    for i, r in enumerate(rows):
        others = [j for j in groups[(r["dataset"], r["split"], r["image_id"])] if j != i]
        own = members(r)
        out.append(({t for j in others for t in members(rows[j])} - own,
                    {t for j in others for t in rows[j]["expressions"]} - own))
    return out


def goals(published: Dataset, rewritten: Dataset, embedder: Embedder) -> dict[str, Any]:
    """The figures issue 16 sets goals for."""
    negatives = published["hard_negatives"]
    kept = [n for row in negatives for n in row]
    verified = Counter(n["verified_by"] for n in kept)
    judged = contradicting_distractors(rewritten, embedder)
    published_negatives = dict(zip(published["referent_id"], negatives, strict=True))  # the stages reorder rows
    by_kind: dict[str, list[int]] = {k: [0, 0, 0] for k in REWRITE_KINDS}  # all, contradicting, kept of those
    for referent, verdicts, distractors in zip(rewritten["referent_id"], judged, rewritten["distractors"],
                                               strict=True):
        kept_texts = {n["text"] for n in published_negatives[referent]}  # under any kind: same_image comes first
        for kind, text in {(c["kind"], c["text"]) for c in distractors or ()}:
            if kind not in by_kind:
                continue
            by_kind[kind][0] += 1
            if verdicts.get(text) in CONTRADICTING:
                by_kind[kind][1] += 1
                by_kind[kind][2] += text in kept_texts
    same = same_image_texts(published)
    same_all = same_kept = human_all = human_kept = 0
    for row, (texts, human) in zip(negatives, same, strict=True):
        got = {n["text"] for n in row if n["kind"] == "same_image"}
        same_all, same_kept = same_all + len(texts), same_kept + len(texts & got)
        human_all, human_kept = human_all + len(human), human_kept + len(human & got)
    distinct = {n["text"] for n in kept}
    broken = broken_texts(kept)
    n_verified = np.asarray(published["num_verified"])
    return {
        "referents": len(published), "kept": len(kept),
        "verified_share": 1 - verified.get(UNVERIFIED, 0) / max(len(kept), 1),
        "verified_by": dict(verified.most_common()),
        "distractors": {k: {"all": a, "contradicting": c, "kept": n, "kept_share": n / max(c, 1)}
                        for k, (a, c, n) in by_kind.items()},
        "contradicting_kept_share": sum(v[2] for v in by_kind.values()) / max(sum(v[1] for v in by_kind.values()), 1),
        "same_image": {"texts": same_all, "kept": same_kept, "kept_share": same_kept / max(same_all, 1),
                       "human_texts": human_all, "human_kept": human_kept,
                       "human_kept_share": human_kept / max(human_all, 1)},
        "broken_kept": {"distinct_texts": len(distinct), "broken": len(broken),
                        "examples": dict(list(broken.items())[:12])},
        "min_verified": {"at_least": GOAL_MIN_VERIFIED,
                         "share": float((n_verified >= GOAL_MIN_VERIFIED).mean()) if len(n_verified) else 0.0,
                         "short": int((n_verified < GOAL_MIN_VERIFIED).sum())},
    }


def shortfall(published: Dataset) -> dict[str, Any]:
    """Why referents fall short of GOAL_MIN_VERIFIED verified negatives: what they got, how they read."""
    rows = published.select_columns(["expressions", "category", "hard_negatives", "num_verified"]).to_list()
    short = [r for r in rows if r["num_verified"] < GOAL_MIN_VERIFIED]
    if not short:
        return {"referents": 0}
    got = Counter(n["verified_by"] for r in short for n in r["hard_negatives"] if n["verified_by"] != UNVERIFIED)
    words = np.asarray([np.mean([len(e.split()) for e in r["expressions"]]) for r in short])
    all_words = np.asarray([np.mean([len(e.split()) for e in r["expressions"]]) for r in rows])
    return {"referents": len(short), "mean_verified": float(np.mean([r["num_verified"] for r in short])),
            "verified_by_per_referent": {k: v / len(short) for k, v in got.most_common()},
            "mean_words_per_expression": float(words.mean()), "mean_words_all_referents": float(all_words.mean()),
            "single_word_share": float((words <= 1).mean()),
            "categories": dict(Counter(r["category"] for r in short).most_common(8)),
            "examples": [r["expressions"] for r in short[:8]]}


def near_identical(datasets: dict[str, Dataset], embedder: Embedder) -> dict[str, Any]:
    """Cosines of one object's own expression pairs and of two objects of one image: how often each
    reaches NEAR_IDENTICAL, with the same-image pairs above it (the guard's measurement)."""
    own, other, above = [], [], []
    for ds in datasets.values():
        rows = ds.select_columns(["image_id", "split", "expressions"]).to_list()
        texts = sorted({e for r in rows for e in r["expressions"]})
        vectors = dict(zip(texts, embedder.encode(texts), strict=True))
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for r in rows:
            groups[(r["split"], r["image_id"])].append(r)
            e = r["expressions"]
            own += [float(vectors[a] @ vectors[b]) for i, a in enumerate(e) for b in e[i + 1 :]]
        for members in groups.values():
            for i, a in enumerate(members):
                for b in members[i + 1 :]:
                    for x in a["expressions"]:
                        for y in b["expressions"]:
                            cos = float(vectors[x] @ vectors[y])
                            other.append(cos)
                            if cos >= NEAR_IDENTICAL:
                                above.append((x, y, round(cos, 3)))
    own_a, other_a = np.asarray(own), np.asarray(other)
    return {"threshold": NEAR_IDENTICAL, "own_pairs": len(own), "own_share_above": float((own_a >= NEAR_IDENTICAL).mean()),
            "own_quantiles": [float(q) for q in np.quantile(own_a, (0.5, 0.9, 0.99))],
            "same_image_pairs": len(other), "same_image_share_above": float((other_a >= NEAR_IDENTICAL).mean()),
            "same_image_quantiles": [float(q) for q in np.quantile(other_a, (0.5, 0.9, 0.99))],
            "same_image_examples_above": above[:12]}


def kind_table(stats: list[dict[str, Any]], published: Dataset) -> tuple[str, dict[str, Any]]:
    """The run reports' per-kind figures summed over the datasets (quantiles from the published rows)."""
    kinds: dict[str, dict[str, Any]] = {}
    for mine in stats:
        for kind, part in mine["by_kind"].items():
            k = kinds.setdefault(kind, {"candidates": 0, "kept": 0, "verified_by": Counter(), "same_category": 0.0,
                                        "dropped": Counter()})
            k["candidates"] += part["candidates"]
            k["kept"] += part["kept"]
            k["verified_by"].update(part["verified_by"])
            k["same_category"] += (part["same_category_share"] * part["kept"]) if part["kept"] else 0.0
            k["dropped"].update(part["dropped"])
    sims: dict[str, list[float]] = defaultdict(list)
    for row in published["hard_negatives"]:
        for n in row:
            sims[n["kind"]].append(n["similarity"])
    rows, out = [], {}
    for kind, k in sorted(kinds.items()):
        q = [float(x) for x in np.quantile(sims[kind], (0.1, 0.5, 0.9))] if sims[kind] else []
        share = 1 - k["verified_by"].get(UNVERIFIED, 0) / k["kept"] if k["kept"] else float("nan")
        out[kind] = {"candidates": k["candidates"], "kept": k["kept"], "verified_share": share,
                     "verified_by": dict(k["verified_by"]), "same_category_share": k["same_category"] / max(k["kept"], 1),
                     "similarity_quantiles": q, "dropped": dict(k["dropped"])}
        rows.append([kind, k["candidates"], k["kept"], f"{share:.0%}" if k["kept"] else "-",
                     ", ".join(f"{v} {n}" for v, n in k["verified_by"].most_common() if v != UNVERIFIED) or "-",
                     f"{k['same_category'] / max(k['kept'], 1):.0%}" if k["kept"] else "-",
                     " / ".join(f"{x:.2f}" for x in q) or "-",
                     ", ".join(f"{r} {n}" for r, n in k["dropped"].most_common() if n) or "-"])
    table = format_table(rows, ["kind", "candidates", "kept", "verified", "verified by", "same category",
                                "cosine p10 / p50 / p90", "dropped by"], title="negatives by kind (all datasets)")
    return table, out


def evaluate(datasets: dict[str, Dataset], folder: Path, embedder: Embedder, **options: Any) -> dict[str, Any]:
    """Run the pipeline on each dataset; the per-kind table, the goals and the shortfall."""
    published, rewritten, stats = [], [], []
    started = time.perf_counter()
    for name, ds in datasets.items():
        out, run_stats, rows = run_pipeline(ds, folder / name, **options)
        published.append(out)
        rewritten.append(rows)
        stats.append(run_stats["mine"])
    seconds = time.perf_counter() - started
    published_all, rewritten_all = concatenate_datasets(published), concatenate_datasets(rewritten)
    table, kinds = kind_table(stats, published_all)
    return {"options": options, "seconds": seconds, "table": table, "kinds": kinds,
            "goals": goals(published_all, rewritten_all, embedder), "shortfall": shortfall(published_all)}


def goal_table(result: dict[str, Any]) -> str:
    g = result["goals"]
    d = g["distractors"]
    rows = [
        ["kept negatives verified", f"{g['verified_share']:.1%}", ">= 90%"],
        ["contradicting distractors kept", f"{g['contradicting_kept_share']:.1%}", ">= 80%"],
        *[[f"  {k} (contradicting of all)", f"{v['kept_share']:.1%} ({v['contradicting']} of {v['all']})", ""]
          for k, v in d.items()],
        ["same-image texts kept", f"{g['same_image']['kept_share']:.1%} of {g['same_image']['texts']}", ">= 90%"],
        ["  their human expressions", f"{g['same_image']['human_kept_share']:.1%} of {g['same_image']['human_texts']}",
         ""],
        ["broken texts among kept", f"{g['broken_kept']['broken']} of {g['broken_kept']['distinct_texts']}", "0"],
        [f"referents with >= {GOAL_MIN_VERIFIED} verified", f"{g['min_verified']['share']:.1%} "
         f"({g['min_verified']['short']} short)", "report"],
    ]
    return format_table(rows, ["figure", "value", "goal"], title=f"issue 16 goals ({g['referents']} referents, "
                        f"{g['kept']} kept negatives, {result['seconds']:.0f} s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.exists() else None,
                        help=f"the development JSONL (default {DEFAULT_DATA})")
    parser.add_argument("--baseline", action="store_true",
                        help="also run the old defaults (method centroid, no verification required)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "real_quality.json")
    args = parser.parse_args(argv)
    if args.data is None or not args.data.exists():
        parser.error("give --data PATH (the refcoco_real_dev.jsonl development file)")
    logging.basicConfig(level=logging.WARNING)
    datasets = load_dev(args.data)
    embedder = Embedder()
    print("no pixels in the file: the rules views carry no colour (the frame is the boxes' extent)")
    runs = {"default": {}}
    if args.baseline:
        runs["old default"] = {"method": "centroid", "require_verified": False}
    results: dict[str, Any] = {"data": str(args.data), "referents": {k: len(v) for k, v in datasets.items()},
                               "pixels": "none: rules views without colour"}
    with tempfile.TemporaryDirectory() as tmp:
        for name, options in runs.items():
            result = evaluate(datasets, Path(tmp) / name.replace(" ", "_"), embedder, **options)
            print(f"\n== {name} {options or ''}\n" + result["table"] + "\n\n" + goal_table(result))
            print("short of 10 verified: " + json.dumps(result["shortfall"], indent=1))
            results[name] = {k: v for k, v in result.items() if k != "table"}
    results["near_identical"] = near_identical(datasets, embedder)
    print("\nnear-identical wording: " + json.dumps(results["near_identical"], indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
