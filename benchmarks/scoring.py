"""The cost of model-in-the-loop mining: what the user's model adds to hard-negative mining.

On ``synthetic_scenes(300)`` (about 1,200 referents), with the ``"contrast"`` cluster
classifier (so colour-swapped candidates survive the guards and reach the model):

- ``mine_hard_negatives(num_negatives=10)`` without a scorer, and with a scorer and the
  default weights (similarity + uncertainty): the model scores each referent's own texts and
  its 40 most similar candidates, once;
- ``mine_rounds(rounds=4, per_round=10, min_new=1)``: round r shows the model the next 10
  candidates of each referent's similarity ranking and keeps the ones it calls matches;
  the loop stops after a round that finds none.

Scorers:

- ``text-colour-blind``: :class:`~refaug.scoring.TextScorer` (all-MiniLM-L6-v2) that deletes
  colour words first, threshold 0.995 (``tests/test_mining_scorer.py``): a model whose
  confusions are known, so its rounds should collect the colour swaps and dry up;
- ``text``: the same MiniLM seeing colours (threshold 0.995 in rounds, relative in the
  weighted ranking);
- ``clip-tiny-box``: :class:`~refaug.scoring.CLIPScorer` with ``crop="box"`` on the tiny
  random-weight CLIP of :mod:`refaug.testing.tiny_clip` (towers of width 32, 32-pixel
  inputs). Its scores are noise and its decision point is relative (the mean score of the
  referent's own texts), so it "confuses" about half of everything: it measures the
  plumbing and the cost of cropping, preprocessing and encoding with a small model, not a
  real CLIP's speed or judgement.

In the table, "ranked" is the candidates kept per referent by the similarity ranking
(``num_negatives``; for rounds the pool they slice, ``rounds x per_round``). Reported per
run: wall time (and per round), process CPU time, the ratio to the same mining without a scorer
(for rounds: to ``mine_hard_negatives(num_negatives=40)``, the pool the rounds slice), scorer
calls and texts scored per referent, peak resident memory during the call minus the
resident memory just before it (sampled every 10 ms), and new false positives per round.
Models are loaded before the clock starts. Mining embeddings come from a warm on-disk cache
(so the timings are the mining and the model); the text scorers embed with their own
uncached :class:`~refaug.embed.Embedder`, as a model being retrained between rounds would.
Everything runs on the CPU, with one torch thread by default (``--threads``): on a shared
2-core machine where another process holds a core, two threads spin against each other
(MiniLM encoded 640 short texts in 9.4 s with two threads, 1.7 s with one), which makes
wall and CPU times meaningless.

Run (about 70 seconds on 2 cores)::

    python benchmarks/scoring.py

Writes ``benchmarks/results/scoring_rounds.json`` and ``scoring_rounds.png``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

from benchmarks.mining import PeakRSS  # noqa: E402
from refaug.clusters import ClusterClassifier  # noqa: E402
from refaug.data.synthetic import synthetic_scenes  # noqa: E402
from refaug.embed import Embedder  # noqa: E402
from refaug.mining import mine_hard_negatives, mine_rounds  # noqa: E402
from refaug.report import format_table  # noqa: E402
from refaug.scoring import CLIPScorer, Scorer, TextScorer  # noqa: E402
from refaug.testing.tiny_clip import build_tiny_clip  # noqa: E402
from tests.test_mining_scorer import COLOUR_BLIND_THRESHOLD, colour_blind_scorer  # noqa: E402

logger = logging.getLogger("benchmarks.scoring")
MB = 1024 * 1024
PLOT_LABELS = {"text-colour-blind": "MiniLM, colour words deleted (threshold 0.995)",
               "text": "MiniLM (threshold 0.995): none, stops",
               "clip-tiny-box": "tiny random CLIP, box crops (relative)"}


def measure(fn: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """Run ``fn``: its result, and wall seconds, process CPU seconds, peak resident memory added (MB).

    CPU seconds are less sensitive than wall time to other work on a shared machine.
    """
    with PeakRSS() as rss:
        started, cpu = time.perf_counter(), time.process_time()
        result = fn()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return result, {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": (rss.peak - rss.baseline) / MB}


def make_scorers(clip_folder: str, *, rounds: bool) -> dict[str, Callable[[], Scorer]]:
    """Fresh scorers by name (fresh counters, uncached scorer embeddings).

    For rounds, the text scorers decide at 0.995 (the colour-blind reader's measured point);
    for the weighted ranking, the plain one is relative (the :class:`TextScorer` default).
    """
    def clip() -> Scorer:
        return CLIPScorer(clip_folder, crop="box", device="cpu", batch_size=32)

    if not rounds:
        return {"text": lambda: TextScorer(embedder=Embedder()), "clip-tiny-box": clip}
    return {
        "text-colour-blind": lambda: colour_blind_scorer(embedder=Embedder()),
        "text": lambda: TextScorer(embedder=Embedder(), threshold=COLOUR_BLIND_THRESHOLD),
        "clip-tiny-box": clip,
    }


def loaded(scorer: Scorer, dataset) -> Scorer:
    """The scorer with its model loaded (one untimed call) and its counters back at zero."""
    scorer(dataset.select(range(2)).to_list(), [["a red star"], ["a blue circle"]])
    scorer.calls = scorer.texts_scored = 0
    return scorer


def run_weighted(dataset, options: dict, name: str, scorer: Scorer | None, *, num_negatives: int) -> dict:
    """``mine_hard_negatives`` with or without a scorer (default weights)."""
    out, cost = measure(lambda: mine_hard_negatives(
        dataset, scorer=scorer, num_negatives=num_negatives, **options))
    negatives = [n for row in out["hard_negatives"] for n in row]
    fooled = sum("the model scores it as a match" in n["reason"] for n in negatives)
    n = len(dataset)
    return {"mode": "weighted", "scorer": name, "num_negatives": num_negatives, **cost,
            "scorer_calls": getattr(scorer, "calls", 0),
            "calls_per_referent": getattr(scorer, "calls", 0) / n,
            "texts_per_referent": getattr(scorer, "texts_scored", 0) / n,
            "negatives": len(negatives), "marked_as_match": fooled,
            "scorer_threshold": None if scorer is None else scorer.threshold}


def run_rounds(dataset, options: dict, name: str, scorer: Scorer, *, rounds: int, per_round: int,
               min_new: int, num_negatives: int) -> dict:
    """``mine_rounds`` with one scorer; the texts it scored in each round."""
    texts_at: list[int] = []
    (out, reports), cost = measure(lambda: mine_rounds(
        dataset, scorer=scorer, rounds=rounds, per_round=per_round, min_new=min_new,
        num_negatives=num_negatives, on_round=lambda report, found: texts_at.append(scorer.texts_scored),
        **options))
    n = len(dataset)
    per_round_rows = []
    for report, before, after in zip(reports, [0, *texts_at], texts_at, strict=False):
        per_round_rows.append({
            "round": report.round, "candidates": report.candidates,
            "new_false_positives": report.false_positives, "referents_hit": report.referents_hit,
            "scorer_calls": report.scorer_calls, "calls_per_referent": report.scorer_calls / n,
            "texts_per_referent": (after - before) / n, "seconds": report.seconds, "kinds": report.kinds,
        })
    return {"mode": "rounds", "scorer": name, "rounds_run": len(reports), **cost,
            "round_seconds": sum(r.seconds for r in reports),
            "scorer_calls": scorer.calls, "calls_per_referent": scorer.calls / n,
            "texts_per_referent": scorer.texts_scored / n, "scorer_threshold": scorer.threshold,
            "new_false_positives": [r.false_positives for r in reports], "per_round": per_round_rows}


def summary_table(results: list[dict], baselines: dict[int, dict[str, float]]) -> str:
    rows = []
    for r in results:
        k = r["num_negatives"] if r["mode"] == "weighted" else r["pool"]
        base = baselines[k]
        fps = ", ".join(str(x) for x in r.get("new_false_positives", [])) or "-"
        rows.append([r["mode"], r["scorer"] or "none", k, f"{r['seconds']:.1f}", f"{r['cpu_seconds']:.1f}",
                     f"{r['seconds'] / base['seconds']:.1f}x / {r['cpu_seconds'] / base['cpu_seconds']:.1f}x",
                     " / ".join(f"{x['seconds']:.1f}" for x in r.get("per_round", [])) or "-",
                     f"{r['calls_per_referent']:.3f}", f"{r['texts_per_referent']:.1f}",
                     f"{r['peak_rss_mb']:.0f}", fps])
    return format_table(rows, ["mining", "scorer", "ranked", "wall s", "CPU s", "vs no scorer (wall / CPU)",
                               "wall s per round",
                               "calls/referent", "texts/referent", "peak +RSS MB",
                               "new false positives per round"],
                        title="model-in-the-loop mining on synthetic scenes")


def plot(results: list[dict], path: Path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in results:
        if r["mode"] == "rounds":
            counts = r["new_false_positives"]
            ax.plot(range(1, len(counts) + 1), counts, marker="o", label=PLOT_LABELS.get(r["scorer"], r["scorer"]))
    ax.set_xlabel("round")
    ax.set_ylabel("new false positives")
    ax.set_title(title, fontsize=9)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.set_ylim(bottom=-0.03 * ax.get_ylim()[1], top=1.4 * ax.get_ylim()[1])  # room for the legend
    ax.legend(loc="upper center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "modified": git("status", "--short").splitlines()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--per-round", type=int, default=10)
    parser.add_argument("--min-new", type=int, default=1)
    parser.add_argument("--num-negatives", type=int, default=10)
    parser.add_argument("--json", type=Path, default=RESULTS / "scoring_rounds.json")
    parser.add_argument("--plot", type=Path, default=RESULTS / "scoring_rounds.png")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: see the module docstring; 0 keeps torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    started, load_before = time.perf_counter(), list(os.getloadavg())
    workdir = Path(tempfile.mkdtemp(prefix="refaug-scoring-"))
    dataset = synthetic_scenes(args.images, seed=0, image_size=(64, 48))
    embedder = Embedder(cache_dir=workdir / "embeddings")
    options = dict(embedder=embedder, classifier=ClusterClassifier("contrast", embedder=embedder),
                   show_progress_bar=False)
    clip_folder = build_tiny_clip(workdir / "tiny_clip")
    pool = args.rounds * args.per_round
    mine_hard_negatives(dataset, num_negatives=pool, **options)  # warm the caches, untimed
    baselines, results = {}, []
    for k in sorted({args.num_negatives, pool}):
        result = run_weighted(dataset, options, "", None, num_negatives=k)
        baselines[k] = {"seconds": result["seconds"], "cpu_seconds": result["cpu_seconds"]}
        results.append(result)
    for name, factory in make_scorers(clip_folder, rounds=False).items():
        results.append(run_weighted(dataset, options, name, loaded(factory(), dataset),
                                    num_negatives=args.num_negatives))
    for name, factory in make_scorers(clip_folder, rounds=True).items():
        result = run_rounds(dataset, options, name, loaded(factory(), dataset), rounds=args.rounds,
                            per_round=args.per_round,
                            min_new=args.min_new, num_negatives=args.num_negatives)
        results.append({**result, "pool": pool})
        logger.warning("%s rounds: %s new false positives", name, result["new_false_positives"])
    table = summary_table(results, baselines)
    print(table)
    report = {
        "benchmark": "benchmarks/scoring.py",
        "dataset": f"synthetic_scenes({args.images}, seed=0, image_size=(64, 48))",
        "referents": len(dataset), "classifier": "contrast",
        "settings": {"rounds": args.rounds, "per_round": args.per_round, "min_new": args.min_new,
                     "num_negatives": args.num_negatives, "colour_blind_threshold": COLOUR_BLIND_THRESHOLD},
        "note": ("clip-tiny-box is a random-weight CLIP (towers of width 32, 32-pixel inputs) with a relative "
                 "decision point: it measures the plumbing, cropping and encoding cost of a small model, not a "
                 "real CLIP's speed or judgement. Mining embeddings come from a warm disk cache; scorer "
                 "embeddings are computed in every call. CPU only."),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "torch_threads": _torch_threads()},
        "git": git_state(),
        "baselines": {str(k): v for k, v in baselines.items()},
        "load_average": {"before": load_before, "after": list(os.getloadavg())},
        "results": results,
        "summary_table": table,
        "process_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "total_seconds": time.perf_counter() - started,
    }
    args.json.write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    scored = results[-1]["per_round"][0]["candidates"]
    plot(results, args.plot, title=f"mine_rounds on {len(dataset)} synthetic referents: negatives the model "
                                   f"calls matches,\nof {scored:,} candidates scored per round "
                                   f"({args.per_round} per referent)")
    print(f"wrote {args.json} and {args.plot} in {report['total_seconds']:.0f} s")
    return 0


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main())
