"""The ``refaug`` command line: ``refaug demo | load | prompts ...``.

The CLI is the only place that prints; library code logs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from refaug.config import field_choices
from refaug.errors import RefaugError
from refaug.report import dataset_counts, format_table

# Modules that add their own subcommands through ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = ("refaug.cli.prompts", "refaug.cli.mine", "refaug.cli.report")


def _demo(args: argparse.Namespace) -> int:
    from refaug.demo import example_rows, run_demo
    from refaug.pipeline import library_progress_bars_off

    with library_progress_bars_off():  # the demo's own save_to_disk, after the run, too
        result = run_demo(out=Path(args.out), n_images=args.images, seed=args.seed)
    print(result.summary_table())
    print()
    for row in example_rows(result, args.examples):
        print(row)
        print()
    print(f"wrote {result.out}: datasets.load_from_disk({str(result.out)!r}) reads the published dataset;")
    print(f"plots and tables in {result.out / 'report'}, the run log in {result.out / 'run.log'}")
    return 0


def _is_saved_dataset(path: Path) -> bool:
    return any((path / name).is_file() for name in ("dataset_dict.json", "state.json", "dataset_info.json"))


def _load(args: argparse.Namespace) -> int:
    from datasets import DatasetDict, load_from_disk

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


def _open_results(path: Path):
    """A saved dataset folder, or a run/publish folder holding one in ``dataset/``."""
    from datasets import load_from_disk

    for candidate in (path, path / "dataset", path / "publish" / "dataset"):
        if _is_saved_dataset(candidate):
            return load_from_disk(str(candidate))
    raise FileNotFoundError(f"{path} holds no saved dataset (looked in ., dataset/, publish/dataset/)")


def _open_no_target(path: Path):
    """The ``<split>_no_target`` splits a run or publish folder holds in ``no_target/``, or None."""
    from datasets import load_from_disk

    for candidate in (path / "no_target", path / "publish" / "no_target", path.parent / "no_target"):
        if _is_saved_dataset(candidate):
            return load_from_disk(str(candidate))
    return None


def _export_refer(args: argparse.Namespace) -> int:
    from refaug.publish import to_refer

    out = to_refer(
        _open_results(Path(args.run_dir)),
        args.out_dir,
        no_target=_open_no_target(Path(args.run_dir)),
        dataset_name=args.dataset,
        split_by=args.split_by,
        include=tuple(args.include),
        refer_root=args.refer_root,
        overwrite=args.overwrite,
    )
    print(f"wrote {out / args.dataset} (refs({args.split_by}).p, instances.json, hard_negatives({args.split_by}).json)")
    return 0


def _publish_push(args: argparse.Namespace) -> int:
    from refaug.publish import push_to_hub

    push_to_hub(args.folder, args.repo_id, private=not args.public, token=args.token)
    print(f"pushed {args.folder} to {args.repo_id}")
    return 0


def _field_type(hint: str):
    if "bool" in hint:
        return "bool"
    if "tuple" in hint:
        return "list"
    if "float" in hint:
        return float
    if "int" in hint:
        return int
    return str


class _RunHelpFormatter(argparse.HelpFormatter):
    """One line per option on a 100-column terminal: help from column 31, ``--[no-]flag``."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=31)

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if isinstance(action, argparse.BooleanOptionalAction):
            return "--[no-]" + action.option_strings[0].removeprefix("--")
        return super()._format_action_invocation(action)


def _shown_default(value: Any, choices: tuple[str, ...]) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return "all" if value and value == choices else " ".join(value) or "none"
    return "none" if value is None else str(value)


def _option_help(name: str, default: Any, choices: tuple[str, ...]) -> str:
    """``text: choice, choice (default: value)`` from :data:`refaug.config.FIELD_HELP`."""
    from refaug.config import FIELD_HELP

    info = FIELD_HELP[name]
    listed = ", ".join(choices)
    text = info.text.format(choices=listed) if "{choices}" in info.text else (
        f"{info.text}: {listed}" if choices else info.text)
    return f"{text} (default: {info.default or _shown_default(default, choices)})".replace("%", "%%")


def _add_run(sub) -> None:
    """``refaug run``: every RunConfig field is an option (``--refer-root``, ``--backend``...).

    Help texts and groups come from :data:`refaug.config.FIELD_HELP`, choices from the
    registries the code uses (:func:`refaug.config.field_choices`), defaults from RunConfig.
    """
    from refaug.config import FIELD_HELP, OPTION_GROUPS, REFER_CHOICES, RunConfig, field_choices

    run = sub.add_parser(
        "run", help="the whole pipeline, resumable: load -> views -> ... -> publish", add_help=False,
        formatter_class=_RunHelpFormatter, usage="%(prog)s [--config FILE] [OPTION ...]",
        description="Run every stage into OUT; the same command again resumes. Options override --config.",
    )
    groups = {name: run.add_argument_group(name) for name in OPTION_GROUPS}
    groups["data"].add_argument("--config", default=None, metavar="FILE",
                                help="a YAML or TOML RunConfig; the options below override it")
    defaults = RunConfig()
    for f in fields(RunConfig):
        if f.name == "extra":
            continue
        info = FIELD_HELP[f.name]
        choices = field_choices(f.name)
        default = None if f.name == "source" else getattr(defaults, f.name)
        options: dict[str, Any] = {"dest": f.name, "default": None, "help": _option_help(f.name, default, choices)}
        if choices and f.name not in REFER_CHOICES:  # dataset, split_by: checked with the source
            options["choices"] = choices
        flag = "--" + f.name.replace("_", "-")
        kind = _field_type(str(f.type))
        if kind == "bool":
            groups[info.group].add_argument(flag, action=argparse.BooleanOptionalAction, **options)
        elif kind == "list":
            groups[info.group].add_argument(flag, nargs="*", metavar=info.metavar or "VALUE", **options)
        else:
            groups[info.group].add_argument(flag, type=kind, metavar=info.metavar or "VALUE", **options)
    _add_verbosity(groups["output"])
    groups["output"].add_argument("-h", "--help", action="help", help="show this help and exit")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from refaug.config import FIELD_HELP, RunConfig
    from refaug.pipeline import Pipeline

    base = RunConfig.load(args.config) if args.config else RunConfig()
    config = base.override(**{name: getattr(args, name, None) for name in FIELD_HELP})
    if not getattr(args, "quiet", False):
        print(f"refaug run: {config.source_description()} -> {config.out}", file=sys.stderr)
    result = Pipeline(config).run()
    print(result.summary_table())
    print(f"\nrun folder: {result.out} (publish/, report/index.html: the review page, report/similarities.png, run.log)")
    return 0


def _add_export(sub) -> None:
    export = sub.add_parser("export", help="write results where other codebases read them")
    formats = export.add_subparsers(dest="format", metavar="FORMAT", required=True)
    refer = formats.add_parser("refer", help="a refer-toolkit folder (refs(<split_by>).p + instances.json)")
    refer.add_argument("run_dir", help="a run folder, a publish folder or a save_to_disk folder")
    refer.add_argument("out_dir", help="the folder to write <dataset>/ into")
    refer.add_argument("--dataset", default="refcoco", help="refer dataset name (default: refcoco)")
    refer.add_argument("--split-by", default="unc", help="split scheme (default: unc)")
    refer.add_argument("--refer-root", default=None, help="the original refer folder (copies instances.json with masks)")
    refer.add_argument("--include", nargs="+", default=["views"], help="views, or some of appearance action spatial alternative")
    refer.add_argument("--overwrite", action="store_true", help="replace files in a non-empty OUT_DIR")
    refer.set_defaults(handler=_export_refer)

    publish = sub.add_parser("publish", help="upload a published folder to the Hugging Face Hub")
    actions = publish.add_subparsers(dest="action", metavar="ACTION", required=True)
    push = actions.add_parser("push", help="push FOLDER (written by refaug run/publish) to REPO_ID")
    push.add_argument("folder")
    push.add_argument("repo_id")
    push.add_argument("--public", action="store_true", help="make the repository public (default: private)")
    push.add_argument("--token", default=None, help="a Hub token (default: HF_TOKEN or the cached login)")
    push.set_defaults(handler=_publish_push)


def _add_verbosity(parser, *, top: bool = False) -> None:
    """``-q/--quiet`` and ``-v/--verbose``, accepted before the command and after it.

    A subcommand's copies default to "not given" (SUPPRESS), so ``refaug -v run`` keeps the
    ``-v`` given before the command.
    """
    missing = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars; only errors and the results",
                        **({"default": False} if top else missing))
    parser.add_argument("-v", "--verbose", action="count", help="refaug's debug log on the console (-vv: every library's)",
                        **({"default": 0} if top else missing))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refaug",
        description="Multi-view expression clusters and hard negatives for referring-expression datasets.",
    )
    _add_verbosity(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="run the stages on synthetic scenes and write ./refaug-demo/")
    demo.add_argument("--out", default="refaug-demo", help="output folder (default: refaug-demo)")
    demo.add_argument("--images", type=int, default=24, help="number of synthetic images (default: 24)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument("--examples", type=int, default=3, help="example rows to print (default: 3)")
    _add_verbosity(demo)
    demo.set_defaults(handler=_demo)

    load = sub.add_parser("load", help="load a refer folder or a saved dataset and print counts")
    load.add_argument("path", help="refer data root (holding refcoco/...) or a save_to_disk folder")
    load.add_argument("--dataset", default="refcoco", choices=field_choices("dataset"), metavar="NAME",
                      help=f"the refer dataset: {', '.join(field_choices('dataset'))} (default: refcoco)")
    load.add_argument("--split-by", default="unc", choices=field_choices("split_by"), metavar="NAME",
                      help=f"the split scheme: {', '.join(field_choices('split_by'))} (default: unc)")
    load.add_argument("--images", default=None, help="folder of the COCO images (default: none)")
    load.add_argument("--on-error", default="raise", choices=field_choices("on_error"),
                      help="a bad ref: stop, or drop it and warn (default: raise)")
    load.set_defaults(handler=_load)

    _add_run(sub)
    _add_export(sub)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def _configure_logging(*, quiet: bool, verbose: int) -> None:
    """The console shows warnings; ``--quiet`` only errors (and no progress), ``-v`` refaug's debug log.

    The run log in a run folder keeps INFO whatever the console shows (see refaug.pipeline).
    """
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.WARNING
    console = logging.StreamHandler()
    console.setLevel(level)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose > 1 else logging.WARNING, handlers=[console])
    # Pipeline shows progress bars unless the refaug logger is above WARNING.
    logging.getLogger("refaug").setLevel(logging.ERROR if quiet else logging.DEBUG if verbose else logging.NOTSET)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet, verbose = getattr(args, "quiet", False), getattr(args, "verbose", 0)
    if quiet and verbose:
        parser.error("--quiet and --verbose contradict each other; give one of them")
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    previous = logging.getLogger("refaug").level  # restored for in-process callers (tests, notebooks)
    _configure_logging(quiet=quiet, verbose=verbose)
    try:
        return int(args.handler(args) or 0)
    except (ValueError, OSError, RefaugError) as error:
        print(f"refaug {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"refaug {args.command}: interrupted; finished work is saved, run again to resume", file=sys.stderr)
        return 130
    finally:
        logging.getLogger("refaug").setLevel(previous)


if __name__ == "__main__":
    sys.exit(main())
