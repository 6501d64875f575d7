"""The ``refaug`` command line: ``refaug demo | load | prompts ...``.

The CLI is the only place that prints; library code logs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from refaug.report import dataset_counts, format_table

# Modules that add their own subcommands through ``register_cli(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = ()


def _demo(args: argparse.Namespace) -> int:
    from refaug.demo import run_demo

    result = run_demo(out=Path(args.out), n_images=args.images, seed=args.seed)
    print(format_table(result.summary_rows(), ["stage", "items", "seconds"], title="refaug demo"))
    print()
    for row in result.example_rows(args.examples):
        print(row)
        print()
    print(f"wrote {result.out} (datasets.load_from_disk reads it)")
    return 0


def _is_saved_dataset(path: Path) -> bool:
    return any((path / name).is_file() for name in ("dataset_dict.json", "state.json", "dataset_info.json"))


def _load(args: argparse.Namespace) -> int:
    from datasets import Dataset, DatasetDict, load_from_disk

    path = Path(args.path)
    if _is_saved_dataset(path):
        loaded = load_from_disk(str(path))
        splits = loaded if isinstance(loaded, DatasetDict) else {"data": loaded}
    else:
        from refaug.data.refer import load_refer

        splits = load_refer(path, args.dataset, args.split_by, images=args.images, on_error=args.on_error)
    _print_counts(splits)
    return 0


def _print_counts(splits: dict) -> None:
    rows = []
    categories, lengths = {}, {}
    for name, ds in splits.items():
        n_expr = sum(len(e) for e in ds["expressions"]) if "expressions" in ds.column_names else len(ds)
        n_images = len(set(ds["image_id"])) if "image_id" in ds.column_names else 0
        rows.append((name, len(ds), n_images, n_expr))
        counts = dataset_counts(name, ds)
        for key, value in counts["category"].items():
            categories[key] = categories.get(key, 0) + value
        for key, value in counts["length"].items():
            lengths[key] = lengths.get(key, 0) + value
    print(format_table(rows, ["split", "rows", "images", "expressions"], title="per split"))
    print()
    top = sorted(categories.items(), key=lambda kv: -kv[1])[:15]
    print(format_table(top, ["category", "referents"], title="per category (top 15)"))
    print()
    order = ["1-2", "3-4", "5-8", "9+"]
    print(format_table([(k, lengths.get(k, 0)) for k in order], ["words", "expressions"], title="per expression length"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refaug",
        description="Multi-view expression clusters and hard negatives for referring-expression datasets.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="run the stages on synthetic scenes and write ./refaug-demo/")
    demo.add_argument("--out", default="refaug-demo", help="output folder (default: refaug-demo)")
    demo.add_argument("--images", type=int, default=24, help="number of synthetic images (default: 24)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument("--examples", type=int, default=3, help="example rows to print (default: 3)")
    demo.set_defaults(handler=_demo)

    load = sub.add_parser("load", help="load a refer folder or a saved dataset and print counts")
    load.add_argument("path", help="refer data root (holding refcoco/...) or a save_to_disk folder")
    load.add_argument("--dataset", default="refcoco", help="refcoco, refcoco+, refcocog, refclef, grefcoco")
    load.add_argument("--split-by", default="unc", help="unc, google, umd, berkeley")
    load.add_argument("--images", default=None, help="folder of the COCO images")
    load.add_argument("--on-error", default="raise", choices=("raise", "skip"))
    load.set_defaults(handler=_load)

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register_cli(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        return int(args.handler(args) or 0)
    except (ValueError, OSError) as error:
        print(f"refaug {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"refaug {args.command}: interrupted; finished work is saved, run again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
