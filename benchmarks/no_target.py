"""Image-level no-target expressions on real RefCOCO-family refs: counts, verification, cost, a sample.

On the development file (one run per dataset, mining per split as ``refaug run`` does, rules
views, every rewriter, the packaged MiniLM, the contrast judgement), this measures:

- per image, the verified no-target expressions (``refaug.mining.no_target``, cap 30): min,
  median and the share of images reaching 30, over the images with two or more objects (the
  goal of issue 17: at least 30) and over all images; the mix by kind and by ``verified_by``;
- the verified share of the candidates that the judgement places outside every object of
  their image (the run that keeps unverified ones too, ``require_verified=False``);
- the cost: the no-target step's seconds next to mining's, on the same corpus and classifier;
- a paraphrase proxy: the kept texts whose cosine to one of the image's human expressions is
  at least ``refaug.mining.NEAR_IDENTICAL`` (0.90: "reads like the same words") or 0.80;
- a seeded sample of 20 kept expressions of images with two or more objects, with the image's
  annotated expressions, for a human read (the verdicts of that read are in the note, not here).

The file has no pixels: the rules views name category, size and place, no colour. Results go to
``benchmarks/results/no_target.json``.

    python benchmarks/no_target.py --data ../shared/data/refcoco_real_dev.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_quality import DEFAULT_DATA, load_dev  # noqa: E402

from refaug.clusters import ClusterClassifier  # noqa: E402
from refaug.config import RunConfig  # noqa: E402
from refaug.embed import Embedder  # noqa: E402
from refaug.mining import NEAR_IDENTICAL, mine_hard_negatives  # noqa: E402
from refaug.mining.corpus import prepare  # noqa: E402
from refaug.mining.no_target import NoTargetTexts, image_negatives  # noqa: E402
from refaug.mining.verification import build_evidence  # noqa: E402
from refaug.records import UNVERIFIED  # noqa: E402
from refaug.report import format_table  # noqa: E402
from refaug.stages import build_rewriters  # noqa: E402
from refaug.views import ViewGenerator, get_backend  # noqa: E402

ROOT = Path(__file__).resolve().parent
PER_IMAGE = 30


def rewritten(ds: Dataset) -> Dataset:
    """The rules views and every rewriter's distractors, as the views and rewrite stages write them."""
    ds = ds.map(ViewGenerator(get_backend("rules")), batched=True, batch_size=64)
    return ds.map(build_rewriters(RunConfig()), batched=True, batch_size=512)


def no_target_split(part: Dataset, embedder: Embedder) -> dict[str, Any]:
    """Mine one split, then time the no-target step on its corpus (kept: verified; and all)."""
    clf = ClusterClassifier("contrast", embedder=embedder)
    start = time.perf_counter()
    mine_hard_negatives(part, embedder=embedder, classifier=clf, num_negatives=30, show_progress_bar=False)
    mining = time.perf_counter() - start
    helper = NoTargetTexts()
    data = prepare(part, embedder, include_expressions=True, sources=[helper])
    evidence = build_evidence(data, clf)
    runs = {}
    for verified_only in (True, False):
        start = time.perf_counter()
        lists, report = image_negatives(data, clf, evidence, pool=helper.pool, per_image=PER_IMAGE,
                                        require_verified=verified_only, seed=0)
        runs[verified_only] = (lists, report, time.perf_counter() - start)
    return {"data": data, "mining_seconds": mining, "runs": runs}


def image_rows(data: Any, lists: list[list[dict]]) -> dict[int, dict[str, Any]]:
    """Per image code: its objects' human expressions and its kept no-target expressions."""
    images: dict[int, dict[str, Any]] = defaultdict(lambda: {"objects": [], "kept": []})
    for r in range(data.n):
        entry = images[int(data.image[r])]
        entry["objects"].append({"category": data.category[r],
                                 "expressions": [data.texts[i] for i in data.humans(r)]})
        entry["kept"].extend(lists[r])
    return images


def paraphrase_proxy(data: Any, lists: list[list[dict]], embedder: Embedder) -> dict[str, Any]:
    """Kept texts whose cosine to one of their image's human expressions is >= 0.90 / >= 0.80."""
    by_image = defaultdict(list)
    for r in range(data.n):
        by_image[int(data.image[r])].append(r)
    kept = [(n["text"], r, n["kind"]) for r in range(data.n) for n in lists[r]]
    vectors = embedder.encode([t for t, _, _ in kept]) if kept else np.zeros((0, 1))
    best, examples, by_kind = [], [], defaultdict(lambda: [0, 0])
    for (text, r, kind), v in zip(kept, vectors, strict=True):
        humans = np.concatenate([data.humans(j) for j in by_image[int(data.image[r])]])
        sims = data.vectors[humans] @ v
        best.append(float(sims.max()))
        by_kind[kind][0] += 1
        by_kind[kind][1] += int(sims.max() >= NEAR_IDENTICAL)
        if sims.max() >= NEAR_IDENTICAL:
            examples.append((text, data.texts[int(humans[sims.argmax()])], round(float(sims.max()), 3)))
    best = np.asarray(best)
    return {"kept": len(best), "share_ge_0.90": float((best >= NEAR_IDENTICAL).mean()) if len(best) else 0.0,
            "share_ge_0.80": float((best >= 0.80).mean()) if len(best) else 0.0,
            "examples_ge_0.90": examples[:15], "by_kind": dict(by_kind)}


def summarise(images: dict[int, dict[str, Any]]) -> dict[str, Any]:
    def dist(values: list[int]) -> dict[str, Any]:
        arr = np.asarray(values or [0])
        return {"images": len(values), "min": int(arr.min()), "median": float(np.median(arr)),
                "mean": round(float(arr.mean()), 2), "share_at_cap": float((arr >= PER_IMAGE).mean())}

    multi = [len(e["kept"]) for e in images.values() if len(e["objects"]) >= 2]
    single = [len(e["kept"]) for e in images.values() if len(e["objects"]) == 1]
    kept = [n for e in images.values() for n in e["kept"]]
    return {"two_or_more_objects": dist(multi), "one_object": dist(single),
            "by_kind": dict(Counter(n["kind"] for n in kept).most_common()),
            "verified_by": dict(Counter(n["verified_by"] for n in kept).most_common()),
            "verified_share": 1 - sum(n["verified_by"] == UNVERIFIED for n in kept) / max(len(kept), 1)}


def sample_for_reading(images: dict[int, dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    pool = [(code, item) for code, e in sorted(images.items()) if len(e["objects"]) >= 2 for item in e["kept"]]
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(pool), min(n, len(pool)), replace=False) if pool else []
    return [{"no_target": pool[i][1]["text"], "kind": pool[i][1]["kind"], "detail": pool[i][1]["detail"],
             "verified_by": pool[i][1]["verified_by"],
             "objects": [f"{o['category']}: {' | '.join(o['expressions'])}" for o in images[pool[i][0]]["objects"]]}
            for i in sorted(picked)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sample", type=int, default=20, help="kept expressions shown for a human read")
    parser.add_argument("--spot", type=int, default=50, help="a second sample, for the paraphrase spot check")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "no_target.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results: dict[str, Any] = {"data": str(args.data), "per_image": PER_IMAGE, "datasets": {}}
    all_images: dict[tuple, dict] = {}
    unfiltered: dict[tuple, dict] = {}
    totals = Counter()
    proxies = []
    with tempfile.TemporaryDirectory() as tmp:
        embedder = Embedder(cache_dir=Path(tmp) / "embeddings")
        for name, ds in load_dev(args.data).items():
            ds = rewritten(ds)
            for split in sorted(set(ds["split"])):
                part = ds.filter(lambda s, split=split: s == split, input_columns="split")
                found = no_target_split(part, embedder)
                data = found["data"]
                (lists, report, seconds), (lists_all, _, _) = found["runs"][True], found["runs"][False]
                for code, entry in image_rows(data, lists).items():
                    all_images[(name, split, code)] = entry
                for code, entry in image_rows(data, lists_all).items():
                    unfiltered[(name, split, code)] = entry
                outside = sum(report.kept.values()) + report.dropped["over_the_cap"] + report.dropped["unverified"]
                totals.update({"mining_seconds": found["mining_seconds"], "no_target_seconds": seconds,
                               "referents": data.n, "outside_every_object": outside,
                               "outside_unverified": report.dropped["unverified"],
                               **{f"considered_{k}": v for k, v in report.considered.items()},
                               **{f"dropped_{k}": v for k, v in report.dropped.items()}})
                proxies.append(paraphrase_proxy(data, lists, embedder))
                results["datasets"].setdefault(name, {})[split] = {
                    "referents": data.n, "images": report.images, "mining_seconds": round(found["mining_seconds"], 2),
                    "no_target_seconds": round(seconds, 2), "kept": sum(report.kept.values()),
                    "dropped": dict(report.dropped), "considered": dict(report.considered)}
    kept = sum(p["kept"] for p in proxies)
    results["verified_only"] = summarise(all_images)
    results["unverified_kept_too"] = summarise(unfiltered)
    results["verified_share_of_outside_every_object"] = 1 - totals["outside_unverified"] / max(
        totals["outside_every_object"], 1)
    results["cost"] = {"referents": totals["referents"], "mining_seconds": round(totals["mining_seconds"], 1),
                       "no_target_seconds": round(totals["no_target_seconds"], 1),
                       "note": "2 shared cores, other jobs running: noisy"}
    results["counts"] = {k: v for k, v in totals.items() if k.startswith(("considered", "dropped", "outside"))}
    results["paraphrase_proxy"] = {
        "kept": kept,
        "share_ge_0.90": sum(p["share_ge_0.90"] * p["kept"] for p in proxies) / max(kept, 1),
        "share_ge_0.80": sum(p["share_ge_0.80"] * p["kept"] for p in proxies) / max(kept, 1),
        "examples_ge_0.90": [e for p in proxies for e in p["examples_ge_0.90"]][:20],
        "by_kind_kept_ge_0.90": {k: [sum(p["by_kind"].get(k, (0, 0))[i] for p in proxies) for i in (0, 1)]
                                 for k in sorted({k for p in proxies for k in p["by_kind"]})}}
    results["sample"] = sample_for_reading(all_images, args.sample, seed=0)
    results["spot_check_sample"] = sample_for_reading(all_images, args.spot, seed=1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    multi = results["verified_only"]["two_or_more_objects"]
    print(format_table([(k, v["images"], v["min"], v["median"], v["mean"], f"{100 * v['share_at_cap']:.1f}%")
                        for k, v in (("2+ objects", multi), ("1 object", results["verified_only"]["one_object"]))],
                       ["images", "n", "min", "median", "mean", f">= {PER_IMAGE}"], title="verified no-target per image"))
    print(json.dumps({k: results[k] for k in ("cost", "verified_share_of_outside_every_object", "paraphrase_proxy")},
                     indent=2))
    for item in results["sample"]:
        print(f"- {item['no_target']!r} [{item['kind']}, {item['verified_by']}] vs {item['objects']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
