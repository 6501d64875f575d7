"""The views stage on vLLM: in process vs through ``ray.data.llm`` (Ray Data's vLLM processor).

Both paths run the same ViewGenerator (packaged prompt, JSON schema, structured decoding,
parser, one request per image) on synthetic scenes with the tiny random LLaVA the tests build.
Each starts from an empty views cache. The in-process run builds its ``vllm.LLM`` inside the
timed call; the Ray run starts a local Ray (``--cpus``) before the clock starts, and its time
includes ray.data.llm's stages (chat template, tokenizer, multimodal preparation) and the
engine replica's start in a Ray worker. On a CPU machine with a tiny model this measures what
Ray Data costs per image on top of the engine; the gain it is for, one replica per GPU, needs
GPUs (run it on a GPU box with ``--replicas N``, without the CPU engine options).

    bash .ci/vllm-env.sh
    .venv-vllm/bin/python benchmarks/views_ray_llm.py --images 8

Writes ``benchmarks/results/views_ray_llm.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.vllm_support
RESULTS = REPO / "benchmarks" / "results" / "views_ray_llm.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8, help="synthetic images (default 8)")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray (default 2)")
    parser.add_argument("--replicas", type=int, default=1, help="engine replicas on Ray (default 1)")
    parser.add_argument("--max-tokens", type=int, default=256, help="token budget per request")
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def _generator(backend: Any, cache: Path) -> Any:
    from refaug.views import ViewGenerator

    return ViewGenerator(backend, cache_dir=cache, max_retries=0)


def run_in_process(ds: Any, backend: Any, cache: Path) -> dict[str, Any]:
    generator = _generator(backend, cache)
    started = time.perf_counter()
    out = generator.run(ds, show_progress_bar=False)
    return _figures("in process", time.perf_counter() - started, out, generator)


def run_on_ray(ds: Any, backend: Any, cache: Path, args: argparse.Namespace) -> dict[str, Any]:
    from refaug.executors.ray_data import RayExecutor

    with RayExecutor(num_cpus=args.cpus, concurrency=args.replicas) as executor:
        executor._ray()  # the cluster's start is not the stage's cost
        generator = _generator(backend, cache)
        started = time.perf_counter()
        out = executor.generate_views(ds, generator, show_progress_bar=False)
        return _figures(f"ray.data.llm ({args.replicas} replica)", time.perf_counter() - started, out, generator)


def _figures(path: str, seconds: float, out: Any, generator: Any) -> dict[str, Any]:
    images = len(set(out["image_id"]))
    written = sum(v is not None for v in out["views"])
    return {
        "path": path,
        "seconds": round(seconds, 2),
        "images": images,
        "referents": len(out),
        "requests": generator.report.requests,
        "referents_with_views": written,
        "images_per_s": round(images / seconds, 3),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from refaug.data.synthetic import synthetic_scenes
    from refaug.views.backends.base import SamplingSettings
    from refaug.views.backends.vllm import VLLMBackend
    from tests.vllm_support import CPU_ENGINE_OPTIONS, build_vllm_model, vllm_environment

    # AF_UNIX socket paths (Ray's session, vLLM's engine core) must stay under 107 bytes.
    os.environ.update(vllm_environment(tempfile.mkdtemp(prefix="vllm", dir="/tmp")))
    os.environ["RAY_TMPDIR"] = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    work = Path(tempfile.mkdtemp(prefix="views-ray-llm-"))
    model = build_vllm_model(work / "tiny-llava")
    ds = synthetic_scenes(args.images, seed=0, image_size=(96, 64))
    backend = VLLMBackend(str(model), sampling=SamplingSettings(max_tokens=args.max_tokens),
                          engine_options=CPU_ENGINE_OPTIONS)
    runs = [run_in_process(ds, backend, work / "cache-local"),
            run_on_ray(ds, backend, work / "cache-ray", args)]
    result = {
        "command": "python benchmarks/views_ray_llm.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "note": "tiny random LLaVA on vLLM's CPU engine; wall time includes each path's engine start",
        "runs": runs,
        "ray_over_in_process": round(runs[1]["seconds"] / runs[0]["seconds"], 2),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print("| path | images | requests | s | images/s |\n| --- | --- | --- | --- | --- |")
    for r in runs:
        print(f"| {r['path']} | {r['images']} | {r['requests']} | {r['seconds']} | {r['images_per_s']} |")
    print(f"Ray / in process: {result['ray_over_in_process']}x wall time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
