"""View generation speed: one request per image vs one request per referent, per backend.

For each backend and each grouping, a fresh :class:`~refaug.views.generate.ViewGenerator`
(no cache) writes the views of the same synthetic scenes; the model (or spaCy) is loaded
and warmed up on two other images first, so the figures are steady-state throughput.
Reported: images/s, referents/s, requests, retries, failed referents, and the prompt and
answer characters the backend handled (one prompt per referent repeats the instructions
and the image for every referent of an image).

Backends:

- ``rules``: no model (pixels, boxes, spaCy).
- ``transformers``: the tiny random-weight LLaVA from :mod:`refaug.testing.tiny_llava`
  (or ``--model``), JSON-schema-constrained with xgrammar, sampling at temperature 1.
- ``vllm``: the same tiny model in an in-process ``vllm.LLM`` (run this script with the
  vLLM environment's Python, ``.venv-vllm/bin/python``); skipped where vLLM does not import.

A model's expressions are bounded to ``--max-chars`` characters so a random model's answers
stay short; the rules backend keeps the default bound (80).

Run (about 2 minutes on 2 cores)::

    python benchmarks/views.py --images 40 --backends rules transformers

Writes ``benchmarks/results/views_benchmark.json``.
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

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
logger = logging.getLogger("benchmarks.views")


def make_backend(name: str, *, model: str | None, workdir: Path) -> Any:
    from refaug.views.backends import get_backend
    from refaug.views.backends.base import SamplingSettings

    if name == "rules":
        return get_backend("rules")
    if name == "vllm":
        sys.path.insert(0, str(ROOT / "tests"))
        from vllm_support import CPU_ENGINE_OPTIONS, vllm_available, vllm_environment

        os.environ.update(vllm_environment(workdir / "vllm"))
        ok, why = vllm_available()  # also mends a torchvision whose operators do not load
        if not ok:
            raise RuntimeError(why)
    sampling = SamplingSettings(temperature=1.0, max_tokens=1024, seed=0)
    model = model or str(_tiny_llava(workdir))
    if name == "transformers":
        return get_backend("transformers", model=model, sampling=sampling, batch_size=8)
    if name == "vllm":
        # vLLM's CPU build refuses seeded sampling ("CPU Generator does not use offset"): greedy.
        greedy = SamplingSettings(temperature=0.0, max_tokens=1024)
        return get_backend("vllm", model=model, sampling=greedy, engine_options=dict(CPU_ENGINE_OPTIONS))
    raise ValueError(f"backend={name!r} is not valid; choose one of 'rules', 'transformers', 'vllm'")


def _tiny_llava(workdir: Path) -> Path:
    folder = workdir / "tiny-llava"
    if not (folder / "config.json").is_file():
        from refaug.testing.tiny_llava import build_tiny_llava

        build_tiny_llava(folder)
    return folder


class _Counting:
    """Wraps a backend's ``generate`` to count the prompt and answer characters it handles."""

    def __init__(self, backend: Any):
        self.backend, self.prompt_chars, self.answer_chars = backend, 0, 0
        self._generate = backend.generate

    def __call__(self, requests: Any) -> list[Any]:
        answers = self._generate(requests)
        self.prompt_chars += sum(len(r.prompt) for r in requests)
        self.answer_chars += sum(len(a) for a in answers if isinstance(a, str))
        return answers


def measure(
    backend: Any, dataset: Any, warmup: Any, *, group_by: str, max_chars: int
) -> dict[str, Any]:
    from refaug.views.generate import ViewGenerator
    from refaug.views.schema import ViewSchema

    # The bound is there to keep a random model's answers short; the rules backend keeps the default.
    schema = (
        ViewSchema() if backend.name == "rules" else ViewSchema(max_chars=max_chars, max_words=12)
    )
    ViewGenerator(backend, group_by=group_by, schema=schema).run(warmup, show_progress_bar=False)
    generator = ViewGenerator(backend, group_by=group_by, schema=schema, batch_size=8)
    counting = _Counting(backend)
    backend.generate = counting
    try:
        start = time.perf_counter()
        generator.run(dataset, show_progress_bar=False)
        seconds = time.perf_counter() - start
    finally:
        del backend.generate
    report = generator.report
    images = len(set(dataset["image_id"]))
    return {
        "backend": backend.name,
        "group_by": group_by,
        "images": images,
        "referents": len(dataset),
        "seconds": round(seconds, 3),
        "images_per_s": round(images / seconds, 2),
        "referents_per_s": round(len(dataset) / seconds, 2),
        "requests": report.requests,
        "retries": report.retries,
        "failed_referents": report.failed_referents,
        "prompt_chars": counting.prompt_chars,
        "answer_chars": counting.answer_chars,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=40, help="synthetic images (default 40)")
    parser.add_argument("--backends", nargs="+", default=["rules", "transformers"])
    parser.add_argument(
        "--model", help="a model folder for transformers/vllm (default: the tiny LLaVA)"
    )
    parser.add_argument(
        "--max-chars", type=int, default=24, help="longest model expression (default 24)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1: a shared 2-core box)"
    )
    parser.add_argument("--out", default=str(RESULTS / "views_benchmark.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    import torch

    torch.set_num_threads(args.threads)
    from refaug.data.synthetic import synthetic_scenes

    dataset = synthetic_scenes(args.images, seed=0)
    warmup = synthetic_scenes(args.images + 2, seed=0).select(range(len(dataset), len(dataset) + 5))
    rows, skipped = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.backends:
            try:
                backend = make_backend(name, model=args.model, workdir=Path(tmp))
            except (RuntimeError, ImportError) as exc:
                skipped[name] = str(exc)
                print(f"skipped {name}: {exc}")
                continue
            for group_by in ("image", "referent"):
                row = measure(backend, dataset, warmup, group_by=group_by, max_chars=args.max_chars)
                rows.append(row)
                print(json.dumps(row))
    _write(args, rows, skipped)
    return 0


def _write(args: argparse.Namespace, rows: list[dict[str, Any]], skipped: dict[str, str]) -> None:
    import torch

    result = {
        "command": "python benchmarks/views.py " + " ".join(sys.argv[1:]),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch_threads": args.threads,
            "torch": torch.__version__,
        },
        "max_chars": args.max_chars,
        "rows": rows,
        "skipped": skipped,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    header = f"{'backend':<13}{'requests per':<14}{'images/s':>10}{'referents/s':>13}{'requests':>10}{'failed':>8}"
    print(header)
    for row in rows:
        print(
            f"{row['backend']:<13}{row['group_by']:<14}{row['images_per_s']:>10}{row['referents_per_s']:>13}"
            f"{row['requests']:>10}{row['failed_referents']:>8}"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    raise SystemExit(main())
