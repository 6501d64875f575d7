"""Views throughput with an in-process vLLM engine: one request per image vs per referent.

Runs the real pipeline (ViewGenerator: packaged prompt, JSON schema, structured decoding,
parser) on synthetic scenes with the tiny random LLaVA that the tests build, on whatever
vLLM runs here (the CPU build in ``.venv-vllm``). A random model fills every string of the
schema, so the figures measure the engine and the request layout, not a model's wit.

    bash .ci/vllm-env.sh
    .venv-vllm/bin/python benchmarks/views_vllm.py --images 12 --repeats 2

Prints a Markdown table: rates from the median wall time; ``best s`` is the fastest run and
``CPU s`` the median CPU time of this process (the engine runs in it), both less disturbed
by other work on a shared machine. ``--output FILE.json`` also writes the figures.
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


class TokenCounter:
    """Wraps ``llm.chat`` to count engine calls, prompt tokens and generated tokens."""

    def __init__(self, llm: Any) -> None:
        self.chat = llm.chat
        self.calls = self.prompt_tokens = self.output_tokens = 0

    def __call__(self, conversations: Any, **options: Any) -> Any:
        outputs = self.chat(conversations, **options)
        self.calls += 1
        for output in outputs:
            self.prompt_tokens += len(output.prompt_token_ids or ())
            self.output_tokens += len(output.outputs[0].token_ids)
        return outputs

    def take(self) -> dict[str, int]:
        """The counts since the last call, then zero them."""
        counts = {
            "engine_calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens,
        }
        self.calls = self.prompt_tokens = self.output_tokens = 0
        return counts


def timed_run(
    backend: Any,
    referents: list[Any],
    *,
    group_by: str,
    args: argparse.Namespace,
    counter: TokenCounter,
) -> dict[str, Any]:
    from refaug.views.generate import ViewGenerator
    from refaug.views.schema import ViewSchema

    generator = ViewGenerator(
        backend, group_by=group_by, schema=ViewSchema(max_chars=args.max_chars),
        max_retries=0, batch_size=args.batch_size,
    )  # fmt: skip
    started, cpu_started = time.perf_counter(), time.process_time()
    generator.generate(referents)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    report = generator.report
    return {
        "group_by": group_by,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "requests": report.requests,
        "failed_referents": report.failed_referents,
        **counter.take(),
    }


def summarise(runs: list[dict[str, Any]], n_images: int, n_referents: int) -> dict[str, Any]:
    seconds = statistics.median(r["seconds"] for r in runs)
    return {
        "group_by": runs[0]["group_by"],
        "requests": runs[0]["requests"],
        "median_seconds": round(seconds, 3),
        "best_seconds": round(min(r["seconds"] for r in runs), 3),
        # CPU time of this process (the engine runs in it): steadier than wall time when
        # other work shares the cores.
        "median_cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in runs), 3),
        "images_per_s": round(n_images / seconds, 3),
        "referents_per_s": round(n_referents / seconds, 3),
        "engine_calls": runs[0]["engine_calls"],
        "prompt_tokens": runs[0]["prompt_tokens"],
        "output_tokens": runs[0]["output_tokens"],
        "output_tokens_per_s": round(
            statistics.median(r["output_tokens"] / r["seconds"] for r in runs), 1
        ),
        "failed_referents": [r["failed_referents"] for r in runs],
        "runs_seconds": [round(r["seconds"], 3) for r in runs],
        "runs_cpu_seconds": [round(r["cpu_seconds"], 3) for r in runs],
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
    llm = backend.llm  # start the engine outside the timings
    startup = time.perf_counter() - started
    counter = TokenCounter(llm)
    llm.chat = counter
    referents = scenes(args.images)
    n_images = len({r.image_id for r in referents})
    # Warm-up (grammar compilation, caches), outside the timings.
    timed_run(backend, referents[:4], group_by="image", args=args, counter=counter)
    counter.take()
    runs: dict[str, list[dict[str, Any]]] = {"image": [], "referent": []}
    for repeat in range(args.repeats):
        order = ("image", "referent") if repeat % 2 == 0 else ("referent", "image")
        for group_by in order:
            run = timed_run(backend, referents, group_by=group_by, args=args, counter=counter)
            runs[group_by].append(run)
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
        "| one request per | requests | engine calls | prompt tok | output tok | median s "
        "| best s | CPU s | images/s | referents/s | output tok/s | failed referents |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in results["layouts"]:
        lines.append(
            f"| {row['group_by']} | {row['requests']} | {row['engine_calls']} "
            f"| {row['prompt_tokens']} | {row['output_tokens']} | {row['median_seconds']} "
            f"| {row['best_seconds']} | {row['median_cpu_seconds']} "
            f"| {row['images_per_s']} | {row['referents_per_s']} | {row['output_tokens_per_s']} "
            f"| {row['failed_referents']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
