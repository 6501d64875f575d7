"""Cross-image hard-negative search: refaug vs sentence-transformers' mine_hard_negatives.

Side by side in one run, on the same texts and the same embedder (all-MiniLM-L6-v2, the
packaged copy), with the embeddings computed once and shared:

- refaug: ``mine_hard_negatives(ds, sources=("cross_image",), ...)``, reading the shared
  embeddings from the Embedder's on-disk cache;
- sentence-transformers: ``sentence_transformers.util.mine_hard_negatives`` (exact search,
  ``use_faiss=False``), reading the same embeddings through its ``cache_folder``.

The task is the same on both sides: for each referent, the ``num_negatives`` corpus texts
most similar to the referent's centroid, excluding the referent's own texts. Each referent
is in its own image, so refaug's "outside the referent's image" and sentence-transformers'
"not one of the anchor's positives" exclude the same texts; refaug's guards are switched
off (``threshold`` above 1, no margin), as sentence-transformers runs without ``max_score``
or margins. Each side runs in a fresh subprocess; memory is the peak resident set size
sampled every 10 ms during the call, minus the resident size just before it.

Run (about 15 minutes on 2 cores; the embeddings are cached under ``--workdir``)::

    python benchmarks/mining.py --sizes 10000 50000 150000

Writes ``benchmarks/results/mining_benchmark.json`` and ``mining_scaling.png``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
logger = logging.getLogger("benchmarks.mining")

COLORS = (
    "red",
    "green",
    "blue",
    "yellow",
    "orange",
    "purple",
    "pink",
    "brown",
    "black",
    "white",
    "grey",
    "teal",
    "navy",
    "golden",
    "silver",
    "beige",
)
SHAPES = (
    "circle",
    "square",
    "triangle",
    "star",
    "hexagon",
    "diamond",
    "oval",
    "pentagon",
    "heart",
    "cross",
    "ring",
    "arrow",
)
SIZES = ("big", "small", "tiny", "large", "medium", "huge", "narrow", "wide")
WHERE = (
    "on the left",
    "on the right",
    "at the top",
    "at the bottom",
    "in the middle",
    "in the top left corner",
    "in the top right corner",
    "in the bottom left corner",
    "in the bottom right corner",
    "near the centre",
    "by the left edge",
    "by the right edge",
)
RELATIONS = (
    "left of",
    "right of",
    "above",
    "below",
    "next to",
    "behind",
    "in front of",
    "touching",
    "far from",
    "close to",
)
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")
PATTERNS = ("striped", "dotted", "plain", "checkered", "shiny", "faded", "outlined", "shaded")


def _with_outline(text: str, color: str) -> str:
    return f"{text} with {'an' if color[0] in 'aeiou' else 'a'} {color} outline"


def make_clusters(n_referents: int, *, seed: int = 0, distinct: bool = True) -> list[tuple[str, str, str]]:
    """``n_referents`` clusters of three distinct texts (appearance, spatial, relation views),
    in the style of the synthetic scenes' expressions; every text in the corpus is distinct."""
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    clusters = []
    while len(clusters) < n_referents:
        c, s, z, p = (
            rng.choice(COLORS),
            rng.choice(SHAPES),
            rng.choice(SIZES),
            rng.choice(PATTERNS),
        )
        texts = (
            _with_outline(f"the {z} {p} {c} {s}", str(rng.choice(COLORS))),
            f"the {rng.choice(ORDINALS)} {z} {c} {s} {rng.choice(WHERE)}",
            f"{c} {s} {rng.choice(RELATIONS)} the {rng.choice(COLORS)} {rng.choice(SHAPES)} "
            f"{rng.choice(WHERE)}",
        )
        if distinct and any(t in seen for t in texts):
            continue
        seen.update(texts)
        clusters.append(texts)
    return clusters


class PeakRSS:
    """Sample this process's resident set size every ``interval`` seconds."""

    def __init__(self, interval: float = 0.01) -> None:
        import psutil

        self.process = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> PeakRSS:
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


# ------------------------------------------------------------------------ workers


def _load_inputs(workdir: Path, size: int) -> tuple[list[tuple[str, str, str]], np.ndarray]:
    clusters = json.loads((workdir / "clusters.json").read_text())[: size // 3]
    vectors = np.load(workdir / "vectors.npy", mmap_mode="r")[: 3 * len(clusters)]
    return [tuple(c) for c in clusters], vectors


def _precomputed_embedder(workdir: Path, size: int):
    from refaug.embed import Embedder

    clusters, _ = _load_inputs(workdir, size)
    row = {t: i for i, t in enumerate(t for c in clusters for t in c)}
    n_rows = len(row)

    class PrecomputedEmbedder(Embedder):
        """Reads the shared embeddings (inside the timed call, as sentence-transformers does)."""

        def encode_distinct(self, texts, *, show_progress_bar=None):
            vectors = np.load(workdir / "vectors.npy", mmap_mode="r")[:n_rows]
            index = np.fromiter((row[t] for t in texts), np.int64, len(texts))
            if np.array_equal(index, np.arange(n_rows)):
                return np.array(vectors)  # one copy in memory, as on the other side
            return np.asarray(vectors)[index]

    return PrecomputedEmbedder()


def worker_refaug(workdir: Path, size: int, num_negatives: int) -> dict:
    from datasets import Dataset

    from refaug.clusters import ClusterClassifier
    from refaug.mining import mine_hard_negatives

    clusters, _ = _load_inputs(workdir, size)
    ds = Dataset.from_dict(
        {
            "referent_id": [f"ref-{i}" for i in range(len(clusters))],
            "image_id": list(range(len(clusters))),
            "category": ["shape"] * len(clusters),
            "expressions": [list(c) for c in clusters],
        }
    )
    embedder = _precomputed_embedder(workdir, size)
    _ = embedder.model  # load the model on both sides, so the baselines compare
    # Guards off, as on the sentence-transformers side: nothing is "inside the cluster".
    classifier = ClusterClassifier("centroid", threshold=1.5, embedder=embedder)
    with PeakRSS() as rss:
        start = time.perf_counter()
        out = mine_hard_negatives(
            ds,
            embedder=embedder,
            classifier=classifier,
            num_negatives=num_negatives,
            sources=("cross_image",),
            relative_margin=None,
            output_format="n-tuple",
            show_progress_bar=False,
        )
        seconds = time.perf_counter() - start
    negatives = {
        row["anchor"]: [row[f"negative_{j + 1}"] for j in range(num_negatives)] for row in out
    }
    by_ref = {f"ref-{i}": negatives.get(c[0], []) for i, c in enumerate(clusters)}
    return {
        "seconds": seconds,
        "baseline_rss": rss.baseline,
        "peak_rss": rss.peak,
        "rows": len(out),
        "negatives": by_ref,
    }


def _st_cache(model, workdir: Path, cache: Path, clusters, vectors) -> list[str]:
    """Write the shared embeddings where sentence-transformers' ``cache_folder`` looks for them:
    the queries are the referents' centroids, the corpus their texts (the same vectors)."""
    queries = [f"ref-{i}" for i in range(len(clusters))]
    corpus = list(dict.fromkeys([t for c in clusters for t in c] * 2))
    centroids = vectors.reshape(len(clusters), 3, -1).mean(axis=1)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    name = model.model_card_data.base_model or ""
    for kind, texts, array in (
        ("query", queries, centroids),
        ("corpus", corpus, np.asarray(vectors)),
    ):
        digest = hashlib.sha256(
            repr((name, None, None, texts)).encode(), usedforsecurity=False
        ).hexdigest()
        np.save(cache / f"{kind}_embeddings_{digest}.npy", array.astype(np.float32))
    return queries


def worker_st(workdir: Path, size: int, num_negatives: int) -> dict:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import mine_hard_negatives

    from refaug.embed import resolve_model

    clusters, vectors = _load_inputs(workdir, size)
    model = SentenceTransformer(resolve_model(None), device="cpu")
    cache = workdir / f"st_cache_{size}"
    cache.mkdir(exist_ok=True)
    queries = _st_cache(model, workdir, cache, clusters, vectors)
    pairs = Dataset.from_dict(
        {
            "anchor": [q for q in queries for _ in range(3)],
            "positive": [t for c in clusters for t in c],
        }
    )
    with PeakRSS() as rss:
        start = time.perf_counter()
        out = mine_hard_negatives(
            pairs,
            model,
            num_negatives=num_negatives,
            output_format="n-tuple",
            use_faiss=False,
            cache_folder=str(cache),
            verbose=False,
        )
        seconds = time.perf_counter() - start
    negatives = {}
    for row in out:
        negatives.setdefault(
            row["anchor"], [row[f"negative_{j + 1}"] for j in range(num_negatives)]
        )
    return {
        "seconds": seconds,
        "baseline_rss": rss.baseline,
        "peak_rss": rss.peak,
        "rows": len(out),
        "negatives": negatives,
    }


# ------------------------------------------------------------------------- scale


def _word_embedder():
    from refaug.embed import Embedder

    class WordEmbedder(Embedder):
        """MiniLM word vectors composed per text (see word_vectors), computed in the call."""

        def encode_distinct(self, texts, *, show_progress_bar=None):
            return word_vectors(list(texts), Embedder())

    return WordEmbedder()


def _distractors(texts: tuple[str, str, str], rng: np.random.Generator) -> list[dict]:
    appearance, _, relation = texts
    color = appearance.split()[3]  # "the {size} {pattern} {colour} {shape} with ..."
    other = str(rng.choice([c for c in COLORS if c != color]))
    subject, _, rest = relation.partition(" the ")  # "{colour} {shape} {relation} the {colour} {shape} ..."
    words, target = subject.split(), rest.split()[:2]
    return [
        {"text": appearance.replace(f" {color} ", f" {other} ", 1), "kind": "attribute",
         "detail": f"color: {color} -> {other}", "origin": appearance},
        {"text": "not " + appearance, "kind": "negation", "detail": "negated", "origin": appearance},
        {"text": f"the {' '.join(target)} {' '.join(words[2:])} the {' '.join(words[:2])}",
         "kind": "role_reversal", "detail": "subject <-> object", "origin": relation},
    ]


def scale_run(n_referents: int) -> dict:
    """All sources on ``n_referents`` referents with 3 cluster texts and 3 distractors each."""
    from datasets import Dataset

    from refaug.mining import mine_hard_negatives

    rng = np.random.default_rng(1)
    clusters = make_clusters(n_referents, seed=1, distinct=False)
    ds = Dataset.from_dict({
        "referent_id": [f"ref-{i}" for i in range(n_referents)],
        "image_id": [i // 4 for i in range(n_referents)],
        "category": [c[0].split()[-5] for c in clusters],  # the shape word of the appearance text
        "expressions": [list(c) for c in clusters],
        "distractors": [_distractors(c, rng) for c in clusters],
    })
    with PeakRSS(interval=0.05) as rss:
        start = time.perf_counter()
        out = mine_hard_negatives(ds, embedder=_word_embedder(), num_negatives=30, show_progress_bar=False)
        seconds = time.perf_counter() - start
    counts = [len(n) for n in out["hard_negatives"]]
    return {"referents": n_referents, "cluster_texts": 3 * n_referents, "distractors": 3 * n_referents,
            "seconds": seconds, "baseline_rss_mb": rss.baseline / 2**20, "peak_rss_mb": rss.peak / 2**20,
            "work_rss_mb": (rss.peak - rss.baseline) / 2**20, "mean_negatives": float(np.mean(counts)),
            "referents_with_30": int(np.sum(np.asarray(counts) == 30))}


# ------------------------------------------------------------------------ driver


def word_vectors(texts: list[str], embedder) -> np.ndarray:
    """A fast stand-in for encoding every text: MiniLM vectors of the distinct words, summed
    with weights falling along the text (so word order matters), centred and normalised."""
    words = sorted({w for t in texts for w in t.split()})
    table = dict(zip(words, embedder.encode(words), strict=True))
    out = np.zeros((len(texts), len(table[words[0]])), np.float32)
    for i, t in enumerate(texts):
        for j, w in enumerate(t.split()):
            out[i] += table[w] / (1.0 + 0.25 * j)
    out -= out.mean(axis=0)  # centred: cosines spread like a sentence encoder's, not all ~0.9
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def prepare(workdir: Path, max_size: int, embeddings: str) -> float:
    """Generate the texts and embed them once (cached); return the encoding throughput."""
    from refaug.embed import Embedder

    workdir.mkdir(parents=True, exist_ok=True)
    clusters = make_clusters(max_size // 3)
    (workdir / "clusters.json").write_text(json.dumps(clusters))
    texts = [t for c in clusters for t in c]
    embedder = Embedder(cache_dir=workdir / "cache", batch_size=128, show_progress_bar=True)
    start = time.perf_counter()
    vectors = embedder.encode(texts) if embeddings == "model" else word_vectors(texts, embedder)
    seconds = time.perf_counter() - start
    np.save(workdir / "vectors.npy", vectors)
    logger.info("embedded %d texts (%s) in %.1f s", len(texts), embeddings, seconds)
    return len(texts) / seconds


def run_side(side: str, workdir: Path, size: int, num_negatives: int, timeout: int) -> dict:
    """Run one side in a fresh interpreter; an out-of-memory kill or a timeout is reported."""
    out = workdir / f"result_{side}_{size}.json"
    out.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        side,
        "--size",
        str(size),
        "--workdir",
        str(workdir),
        "--num-negatives",
        str(num_negatives),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    try:
        proc = subprocess.run(cmd, env=env, timeout=timeout, capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or "")[-1500:]
        return {"error": f"exit code {proc.returncode}", "stderr_tail": tail}
    return json.loads(out.read_text())


def overlap(ours: dict, theirs: dict) -> float:
    shared = [k for k in ours if k in theirs and ours[k]]
    if not shared:
        return float("nan")
    return float(np.mean([len(set(ours[k]) & set(theirs[k])) / len(theirs[k]) for k in shared]))


def compare(workdir: Path, sizes: list[int], num_negatives: int, timeout: int) -> list[dict]:
    rows = []
    for size in sizes:
        row = {"texts": size, "referents": size // 3, "num_negatives": num_negatives}
        for side in ("refaug", "sentence_transformers"):
            result = run_side(side, workdir, size, num_negatives, timeout)
            negatives = result.pop("negatives", None)
            if negatives is not None:
                (workdir / f"negatives_{side}_{size}.json").write_text(json.dumps(negatives))
                result["work_rss_mb"] = (result["peak_rss"] - result["baseline_rss"]) / 2**20
                result["peak_rss_mb"] = result["peak_rss"] / 2**20
            row[side] = result
            logger.info("%d texts, %s: %s", size, side, result)
        paths = [
            workdir / f"negatives_{s}_{size}.json" for s in ("refaug", "sentence_transformers")
        ]
        if all("error" not in row[s] for s in ("refaug", "sentence_transformers")):
            ours, theirs = (json.loads(p.read_text()) for p in paths)
            row["overlap"] = overlap(ours, theirs)
            row["speedup"] = row["sentence_transformers"]["seconds"] / row["refaug"]["seconds"]
            row["memory_ratio"] = (
                row["refaug"]["work_rss_mb"] / row["sentence_transformers"]["work_rss_mb"]
            )
        rows.append(row)
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    for side, label in (
        ("refaug", "refaug cross_image"),
        ("sentence_transformers", "sentence-transformers"),
    ):
        ok = [r for r in rows if "error" not in r[side]]
        sizes = [r["texts"] for r in ok]
        ax_t.plot(sizes, [r[side]["seconds"] for r in ok], "o-", label=label)
        ax_m.plot(sizes, [r[side]["work_rss_mb"] for r in ok], "o-", label=label)
    ax_t.set(xlabel="texts in the corpus", ylabel="wall time (s)", title="mining time")
    ax_m.set(
        xlabel="texts in the corpus", ylabel="peak RSS above baseline (MiB)", title="mining memory"
    )
    for ax in (ax_t, ax_m):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 50000, 150000])
    parser.add_argument("--num-negatives", type=int, default=30)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/refaug_mining_bench"))
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--worker", choices=("refaug", "sentence_transformers"))
    parser.add_argument("--size", type=int)
    parser.add_argument("--embeddings", choices=("model", "words"), default="model",
                        help="model: encode every text with all-MiniLM-L6-v2; words: MiniLM word "
                             "vectors composed per text (fast stand-in where encoding is too slow)")
    parser.add_argument("--scale", type=int, default=0, metavar="N",
                        help="instead: mine N referents with every source (word-vector embeddings)")
    parser.add_argument("--prepare-only", action="store_true", help="only generate and embed the texts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.scale:
        result = scale_run(args.scale)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"mining_scale_{args.scale}.json").write_text(json.dumps(result, indent=2))
        logger.info("%s", result)
        return
    if args.worker:
        work = worker_refaug if args.worker == "refaug" else worker_st
        result = work(args.workdir, args.size, args.num_negatives)
        (args.workdir / f"result_{args.worker}_{args.size}.json").write_text(json.dumps(result))
        return
    throughput = prepare(args.workdir, max(args.sizes), args.embeddings)
    if args.prepare_only:
        return
    rows = compare(args.workdir, sorted(args.sizes), args.num_negatives, args.timeout)
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {"embeddings": args.embeddings, "encode_texts_per_second": throughput,
              "cpu_threads": os.cpu_count(), "load_average": os.getloadavg(), "rows": rows}
    (RESULTS / "mining_benchmark.json").write_text(json.dumps(report, indent=2))
    plot(rows, RESULTS / "mining_scaling.png")
    for r in rows:
        logger.info(
            "%s", {k: v for k, v in r.items() if k not in ("refaug", "sentence_transformers")}
        )


if __name__ == "__main__":
    main()
