"""How many true same-image negatives mining keeps, centroid threshold vs contrast classifier.

On the held-out half (odd image ids) of the hand-written RefCOCO-style set, every expression of
another object of the same image is a true negative. The centroid threshold (with the relative
margin) drops many of them as "inside the cluster" - exactly the hardest ones; the contrast
classifier keeps those with a conflicting attribute. Writes
benchmarks/results/contrast_mining.json.

    python benchmarks/contrast_mining.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from datasets import Dataset

from refaug.clusters import ClusterClassifier
from refaug.embed import Embedder
from refaug.mining import mine_hard_negatives
from refaug.report import format_table

ROOT = Path(__file__).resolve().parent


def main() -> int:
    rows = [json.loads(line) for line in (ROOT / "data" / "refcoco_style.jsonl").read_text().splitlines()]
    ds = Dataset.from_list([r for r in rows if r["image_id"] % 2 == 1])
    by_image: dict[int, list[dict]] = {}
    for r in ds:
        by_image.setdefault(r["image_id"], []).append(r)
    total = sum(len({t for o in by_image[r["image_id"]] if o["referent_id"] != r["referent_id"]
                     for t in o["expressions"]}) for r in ds)
    embedder = Embedder()
    results = {}
    for method in ("centroid", "contrast"):
        out = mine_hard_negatives(ds, embedder=embedder, num_negatives=50, sources=("same_image",),
                                  classifier=ClusterClassifier(method, embedder=embedder),
                                  show_progress_bar=False)
        sims = np.array([n["similarity"] for x in out["hard_negatives"] for n in x])
        results[method] = {"kept": int(len(sims)), "true_negatives": total, "share_kept": len(sims) / total,
                           "mean_cosine": float(sims.mean()),
                           "hardest_20_mean_cosine": float(np.sort(sims)[-20:].mean())}
    print(format_table([[m, r["kept"], r["true_negatives"], f"{r['share_kept']:.3f}", f"{r['mean_cosine']:.3f}",
                         f"{r['hardest_20_mean_cosine']:.3f}"] for m, r in results.items()],
                       ["classifier", "kept", "true negatives", "share kept", "mean cosine", "hardest 20 cosine"],
                       title="same-image negatives kept, RefCOCO-style odd images"))
    path = ROOT / "results" / "contrast_mining.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
