"""How many real texts make a rewriter raise: every text through every registered rewriter.

Each distinct text (the issue's five examples, then every sentence of each ``--data`` file)
is parsed once, and every rewriter of :data:`refaug.rewrite.registry.REWRITERS` is run on
it two ways:

- ``hook_raised``: the rewriter's hook (``propose``) consumed to the end in a ``try``: the
  texts on which the rewriter's own code raises, whatever the base class does about it;
- ``escaped``: ``rewrite_doc``, what ``__call__`` and ``Dataset.map`` run: the texts whose
  exception reaches the caller (before the per-text isolation, one such text failed its
  whole ``Dataset.map`` batch); ``isolated`` is the rewriter's own ``failed_texts`` count
  (texts it logged and gave no candidates), where the rewriter has one.

Then all rewriters run together through ``Rewriters`` on one batch of every text, as the
rewrite stage does; ``batch_error`` is the exception that batch raised, if any.

Usage:
    python benchmarks/rewrite_robustness.py
    python benchmarks/rewrite_robustness.py --data ../shared/data/refcoco_real_dev.jsonl captions.txt

A ``--data`` file is JSON lines with ``sentences`` (``[{"sent": ...}]``, the refer layout),
``expressions`` (a list of strings) or a ``caption``/``text`` string per line, or plain
text with one text a line. Results go to ``benchmarks/results/rewrite_robustness.json``,
under ``runs[--label]`` (other labels already in the file are kept, so a run of the code
before a fix and one after sit side by side).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import spacy

import refaug
from refaug.rewrite import Rewriters
from refaug.rewrite.base import text_rng
from refaug.rewrite.registry import REWRITER_NAMES, build_rewriter

logger = logging.getLogger("benchmarks.rewrite_robustness")
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/refcoco_real_dev.jsonl"
# The texts of issue 14: real COCO captions on which AttributeRewriter raised.
ISSUE_EXAMPLES: tuple[str, ...] = (
    "A red stop sign with a green street sign posted above it.",
    "A teddy bear sitting on a blue chair.",
    "Someone is cooking a vegtable stir fry for dinner",
    "A woman barefoot is sitting on the train tracks.",
    "A stop sighn is propped up against the side of a building.",
)
EXAMPLES_KEPT = 10  # raising texts listed per rewriter and exception type


def read_texts(path: Path) -> list[str]:
    """Every text of one ``--data`` file (see the module docstring for the layouts)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix != ".jsonl":
        return [line.strip() for line in lines if line.strip()]
    texts: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        row = json.loads(line)
        texts.extend(
            s["sent"] for s in row.get("sentences") or () if isinstance(s.get("sent"), str)
        )
        texts.extend(t for t in row.get("expressions") or () if isinstance(t, str))
        texts.extend(row[k] for k in ("caption", "text") if isinstance(row.get(k), str))
    return texts


def _shown(path: Path) -> str:
    """``path`` relative to the folder holding the checkout (``shared/data/...``) when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT.parent))
    except ValueError:
        return str(path)


def hook_failures(rewriter, docs) -> list[tuple[str, BaseException]]:
    """(text, exception) for each Doc on which the hook raised when consumed to the end."""
    failures = []
    for doc in docs:
        try:
            for _ in rewriter.propose(doc, text_rng(doc.text, rewriter.seed)):
                pass
        except Exception as exc:  # noqa: BLE001 - counting every kind is the point
            failures.append((doc.text, exc))
    return failures


def escaped_failures(rewriter, docs) -> list[tuple[str, BaseException]]:
    """(text, exception) for each Doc whose exception left ``rewrite_doc``."""
    failures = []
    for doc in docs:
        try:
            rewriter.rewrite_doc(doc)
        except Exception as exc:  # noqa: BLE001
            failures.append((doc.text, exc))
    return failures


def summarize(failures: list[tuple[str, BaseException]]) -> dict[str, Any]:
    by_type: dict[str, list[str]] = {}
    for text, exc in failures:
        by_type.setdefault(f"{type(exc).__name__}: {exc}", []).append(text)
    return {
        "texts": len(failures),
        "by_exception": {k: len(v) for k, v in sorted(by_type.items())},
        "examples": {k: v[:EXAMPLES_KEPT] for k, v in sorted(by_type.items())},
    }


def measure(texts: list[str]) -> dict[str, Any]:
    rewriters = {name: build_rewriter(name) for name in REWRITER_NAMES}
    first = next(iter(rewriters.values()))
    start = time.perf_counter()
    docs = first.parse(texts)
    logger.info("parsed %d texts in %.1fs", len(docs), time.perf_counter() - start)
    results: dict[str, Any] = {}
    for name, rewriter in rewriters.items():
        hook = hook_failures(rewriter, docs)
        escaped = escaped_failures(rewriter, docs)
        results[name] = {
            "hook_raised": summarize(hook),
            "escaped": summarize(escaped),
            "isolated": getattr(rewriter, "failed_texts", None),
        }
        logger.info("%s: hook raised on %d texts, %d escaped", name, len(hook), len(escaped))
    combined = Rewriters(list(rewriters.values()))
    try:
        combined({"expressions": [[t] for t in texts]})
        batch_error = None
    except Exception as exc:  # noqa: BLE001
        batch_error = f"{type(exc).__name__}: {exc}"
    return {"rewriters": results, "batch_error": batch_error}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        nargs="*",
        default=[DEFAULT_DATA] if DEFAULT_DATA.exists() else [],
        help=f"text files (default {DEFAULT_DATA} when present)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "rewrite_robustness.json")
    parser.add_argument("--label", default="current", help="the key of this run in the file")
    arguments = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(arguments)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    sources = {"issue_examples": list(ISSUE_EXAMPLES)}
    sources.update({_shown(path): read_texts(path) for path in args.data})
    texts = list(dict.fromkeys(t for part in sources.values() for t in part))
    report = {
        "command": shlex.join(["python", "benchmarks/rewrite_robustness.py", *arguments]),
        # Where refaug was imported from: a run of older code (a ``git archive`` of a
        # commit put first on PYTHONPATH) names its folder here.
        "refaug": str(Path(refaug.__file__).parent),
        "sources": {
            name: {"texts": len(part), "distinct": len(set(part))} for name, part in sources.items()
        },
        "distinct_texts": len(texts),
        "spacy": spacy.__version__,
        "python": platform.python_version(),
        **measure(texts),
    }
    report["raised_total"] = {n: r["hook_raised"]["texts"] for n, r in report["rewriters"].items()}
    runs = json.loads(args.out.read_text())["runs"] if args.out.exists() else {}
    runs[args.label] = report
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": runs}, indent=2, ensure_ascii=False) + "\n")
    for name, result in report["rewriters"].items():
        print(
            f"{name:15s} hook raised on {result['hook_raised']['texts']:5d} / {len(texts)} texts; "
            f"escaped {result['escaped']['texts']}; isolated {result['isolated']}"
        )
    print(f"batch through Rewriters: {report['batch_error'] or 'no exception'}")
    return report


if __name__ == "__main__":
    main()
