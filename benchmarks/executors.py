"""The local executor vs the Ray executor: wall time per stage on synthetic scenes (rules backend).

Both runs start from an empty run folder (no views or embedding cache) and write the same
rows (the script checks it). The Ray run starts a local Ray with ``--cpus`` CPUs before the
clock starts; its time per stage includes starting each stage's actor pool (a fresh worker
process that imports refaug and loads its models) and moving rows to and from the workers,
which is what Ray costs on one small machine. The gain Ray is for, more workers than one
process has, needs more cores or GPUs than this benchmark's machine.

Run (a few minutes on 2 cores)::

    python benchmarks/executors.py --images 24 200

Writes ``benchmarks/results/executors.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "executors.json"


def run_once(images: int, executor: str, out: Path) -> dict:
    from datasets import load_from_disk

    from refaug.config import RunConfig
    from refaug.pipeline import Pipeline

    start = time.perf_counter()
    result = Pipeline(RunConfig(synthetic_images=images, out=str(out), executor=executor), show_progress=False).run()
    total = time.perf_counter() - start
    published = load_from_disk(str(out / "publish" / "dataset"))
    return {"seconds": round(total, 2), "stages": {s["name"]: round(s["seconds"], 2) for s in result.stages},
            "rows": {name: part.to_list() for name, part in published.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, nargs="+", default=[24, 200])
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="WARNING")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for images in args.images:
            local = run_once(images, "local", Path(tmp) / f"local-{images}")
            remote = run_once(images, "ray", Path(tmp) / f"ray-{images}")
            rows.append({"images": images, "referents": sum(len(r) for r in local["rows"].values()),
                         "identical_rows": local["rows"] == remote["rows"],
                         "local": {k: local[k] for k in ("seconds", "stages")},
                         "ray": {k: remote[k] for k in ("seconds", "stages")},
                         "ray_over_local": round(remote["seconds"] / local["seconds"], 2)})
            print(json.dumps(rows[-1]))
            shutil.rmtree(Path(tmp) / f"local-{images}", ignore_errors=True)
    ray.shutdown()
    RESULTS.write_text(json.dumps({
        "machine": {"cpus": os.cpu_count(), "ray_cpus": args.cpus, "python": platform.python_version(),
                    "ray": ray.__version__},
        "backend": "rules", "embedder": "all-MiniLM-L6-v2 (packaged)", "runs": rows,
    }, indent=2))


if __name__ == "__main__":
    main()
