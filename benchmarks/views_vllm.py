"""Views throughput with an in-process vLLM engine: one request per image vs per referent.

Runs the real pipeline (ViewGenerator: packaged prompt, JSON schema, structured decoding,
parser) on synthetic scenes with the tiny random LLaVA that the tests build, on whatever
vLLM runs here (the CPU build in ``.venv-vllm``). A random model fills every string of the
schema, so the figures measure the engine and the request layout, not a model's wit.

    bash .ci/vllm-env.sh
    .venv-vllm/bin/python benchmarks/views_vllm.py --images 12 --repeats 2

Prints a Markdown table; ``--output FILE.json`` also writes the figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.vllm_support

logger = logging.getLogger("benchmarks.views_vllm")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12, help="synthetic images (default 12)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per layout (default 2)")
    parser.add_argument("--batch-size", type=int, default=16, help="requests per engine call")
    parser.add_argument("--max-chars", type=int, default=24, help="longest expression")
    parser.add_argument("--max-tokens", type=int, default=1024, help="token budget per request")
    parser.add_argument(
        "--model", default=None, help="a LLaVA folder (default: build the tiny one)"
    )
    parser.add_argument("--output", type=Path, default=None, help="also write the figures here")
    return parser.parse_args(argv)


def scenes(n_images: int) -> list[Any]:
    from refaug.data.synthetic import synthetic_scenes
    from refaug.records import Referent

    return [
        Referent.from_row(row) for row in synthetic_scenes(n_images, seed=0, image_size=(96, 64))
    ]


def timed_run(
    backend: Any, referents: list[Any], *, group_by: str, args: argparse.Namespace
) -> dict[str, Any]:
    from refaug.views.generate import ViewGenerator
    from refaug.views.schema import ViewSchema

    generator = ViewGenerator(
        backend, group_by=group_by, schema=ViewSchema(max_chars=args.max_chars),
        max_retries=0, batch_size=args.batch_size,
    )  # fmt: skip
    started = time.perf_counter()
    generator.generate(referents)
    seconds = time.perf_counter() - started
    report = generator.report
    return {
        "group_by": group_by,
        "seconds": seconds,
        "requests": report.requests,
        "failed_referents": report.failed_referents,
    }


def summarise(runs: list[dict[str, Any]], n_images: int, n_referents: int) -> dict[str, Any]:
    seconds = statistics.median(r["seconds"] for r in runs)
    return {
        "group_by": runs[0]["group_by"],
        "requests": runs[0]["requests"],
        "median_seconds": round(seconds, 3),
        "images_per_s": round(n_images / seconds, 3),
        "referents_per_s": round(n_referents / seconds, 3),
        "failed_referents": [r["failed_referents"] for r in runs],
        "runs_seconds": [round(r["seconds"], 3) for r in runs],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from refaug.views.backends.base import SamplingSettings
    from refaug.views.backends.vllm import VLLMBackend, import_vllm
    from tests.vllm_support import CPU_ENGINE_OPTIONS, build_vllm_model, vllm_environment

    vllm = import_vllm()
    work = Path(tempfile.mkdtemp(prefix="refaug-bench-vllm-"))
    os.environ.update(vllm_environment(work))
    model = args.model or str(build_vllm_model(work / "tiny-llava"))
    backend = VLLMBackend(
        model,
        engine_options=CPU_ENGINE_OPTIONS,
        sampling=SamplingSettings(max_tokens=args.max_tokens),
    )
    started = time.perf_counter()
    backend.llm  # noqa: B018 (start the engine outside the timings)
    startup = time.perf_counter() - started
    referents = scenes(args.images)
    n_images = len({r.image_id for r in referents})
    timed_run(backend, referents[:4], group_by="image", args=args)  # warm-up: grammars, caches
    runs: dict[str, list[dict[str, Any]]] = {"image": [], "referent": []}
    for repeat in range(args.repeats):
        order = ("image", "referent") if repeat % 2 == 0 else ("referent", "image")
        for group_by in order:
            runs[group_by].append(timed_run(backend, referents, group_by=group_by, args=args))
    results = {
        "vllm": vllm.__version__,
        "model": "tiny random LLaVA" if args.model is None else args.model,
        "engine_options": CPU_ENGINE_OPTIONS,
        "engine_startup_s": round(startup, 1),
        "images": n_images,
        "referents": len(referents),
        "batch_size": args.batch_size,
        "max_chars": args.max_chars,
        "cpus": os.cpu_count(),
        "layouts": [summarise(runs[g], n_images, len(referents)) for g in ("image", "referent")],
    }
    print(table(results))
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def table(results: dict[str, Any]) -> str:
    lines = [
        f"vLLM {results['vllm']} on {results['cpus']} CPUs, {results['model']}, "
        f"{results['images']} images / {results['referents']} referents, "
        f"batch {results['batch_size']}, engine start {results['engine_startup_s']} s",
        "",
        "| one request per | requests | median s | images/s | referents/s | failed referents |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in results["layouts"]:
        lines.append(
            f"| {row['group_by']} | {row['requests']} | {row['median_seconds']} | {row['images_per_s']} "
            f"| {row['referents_per_s']} | {row['failed_referents']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
