"""``refaug prompts ...`` and ``refaug views ...``: templates and view generation from the shell.

``register(subparsers)`` adds both commands to the ``refaug`` parser. The handlers
print; the library code they call only logs.

* ``refaug prompts list`` — every template found, user folders first.
* ``refaug prompts show NAME`` — a template's text, with its path and hash.
* ``refaug prompts render NAME --example`` — the prompt of a synthetic scene, so whoever
  edits a template sees the result at once (``NAME`` may be a path to a ``.jinja`` file).
* ``refaug prompts copy NAME FOLDER`` — a copy to edit, under the next free version.
* ``refaug views --synthetic N OUT`` / ``refaug views --input DATASET OUT`` — write views.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

from refaug.prompts import (
    TEMPLATE_SUFFIX,
    describe,
    example_variables,
    find_template,
    list_templates,
)

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``prompts`` and ``views`` commands to the ``refaug`` parser."""
    _add_prompts(subparsers)
    _add_views(subparsers)


# ----------------------------------------------------------------------------- prompts


def _add_prompts(subparsers: argparse._SubParsersAction) -> None:
    prompts = subparsers.add_parser("prompts", help="list, show, render and copy prompt templates")
    actions = prompts.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="every template found, user folders first")
    _add_path(listing)
    listing.add_argument("--all", action="store_true", help="also list templates shadowed by a user copy")
    listing.set_defaults(handler=_prompts_list)

    show = actions.add_parser("show", help="print a template's text")
    show.add_argument("name", help="NAME.vN, NAME (highest version) or a path to a .jinja file")
    _add_path(show)
    show.set_defaults(handler=_prompts_show)

    render = actions.add_parser("render", help="render a template on an example")
    render.add_argument("name", help="NAME.vN, NAME or a path to a .jinja file")
    _add_path(render)
    given = render.add_mutually_exclusive_group(required=True)
    given.add_argument("--example", action="store_true", help="the referents of a synthetic scene")
    given.add_argument("--vars", metavar="FILE", help="a JSON file with the template's variables")
    render.add_argument("--seed", type=int, default=0, help="the synthetic scene's seed (default 0)")
    render.add_argument("--no-boxes", action="store_true", help="leave the boxes out of the prompt")
    render.set_defaults(handler=_prompts_render)

    copy = actions.add_parser("copy", help="copy a template into a folder to edit it")
    copy.add_argument("name", help="the template to copy")
    copy.add_argument("folder", help="the folder to copy it into (created if missing)")
    copy.add_argument("--version", help="the copy's version, e.g. v2 (default: the next free one)")
    _add_path(copy)
    copy.set_defaults(handler=_prompts_copy)


def _add_path(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--path", action="append", default=[], metavar="DIR",
        help="a folder searched before $REFAUG_PROMPT_PATH and the packaged templates (repeatable)",
    )


def _prompts_list(args: argparse.Namespace) -> int:
    templates = list_templates(search_path=args.path, include_shadowed=args.all)
    for line in describe(templates):
        print(line)
    return 0


def _prompts_show(args: argparse.Namespace) -> int:
    template = find_template(args.name, search_path=args.path)
    print(f"# {template.full_name}  hash {template.hash}  {template.path}")
    print(f"# variables: {', '.join(sorted(template.variables))}")
    print(template.source, end="" if template.source.endswith("\n") else "\n")
    return 0


def _prompts_render(args: argparse.Namespace) -> int:
    template = find_template(args.name, search_path=args.path)
    if args.vars:
        variables = json.loads(Path(args.vars).read_text(encoding="utf-8"))
    else:
        variables = example_scene_variables(seed=args.seed, include_boxes=not args.no_boxes)
    print(template.render(variables))
    return 0


def example_scene_variables(*, seed: int = 0, include_boxes: bool = True) -> dict:
    """The variables of the first synthetic scene with at least three referents."""
    from refaug.data.synthetic import synthetic_scenes
    from refaug.records import Referent
    from refaug.views.generate import image_size, prompt_variables

    scenes = synthetic_scenes(8, seed=seed, image_size=(320, 240))
    by_image: dict[int, list[Referent]] = {}
    for row in scenes:
        by_image.setdefault(row["image_id"], []).append(Referent.from_row(row))
    referents = next((r for r in by_image.values() if len(r) >= 3), next(iter(by_image.values())))
    size = image_size(referents[0].image)
    # Variables other templates use (max_items, types...) keep their example values.
    return {**example_variables(), **prompt_variables(referents, image_size=size, include_boxes=include_boxes)}


def _prompts_copy(args: argparse.Namespace) -> int:
    template = find_template(args.name, search_path=args.path)
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    version = args.version or _next_version(template.name, template.version, [folder, *map(Path, args.path)])
    target = folder / f"{template.name}.{version}{TEMPLATE_SUFFIX}"
    if target.exists():
        print(f"{target} exists already; pick another --version")
        return 1
    shutil.copyfile(template.path, target)
    print(f"copied {template.full_name} to {target}")
    print(f"edit it, then see the result with: refaug prompts render {target} --example")
    print(f"and use it with: template={template.name}.{version}, template_dirs=[{str(folder)!r}]")
    return 0


def _next_version(name: str, version: str, folders: list[Path]) -> str:
    taken = {int(version[1:])}
    for template in list_templates(search_path=folders, include_shadowed=True):
        if template.name == name:
            taken.add(int(template.version[1:]))
    return f"v{max(taken) + 1}"


# ----------------------------------------------------------------------------- views


def _add_views(subparsers: argparse._SubParsersAction) -> None:
    from refaug.views.backends import BACKEND_MODULES

    views = subparsers.add_parser("views", help="write multi-view clusters for a dataset")
    source = views.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", metavar="DIR", help="a dataset saved with save_to_disk")
    source.add_argument("--synthetic", type=int, metavar="N", help="N synthetic images")
    views.add_argument("out", help="where to save the dataset with its views column")
    views.add_argument("--backend", default="rules", help=f"the view backend: {', '.join(BACKEND_MODULES)} (default: rules)")
    views.add_argument("--model", help="the backend's model (default: the backend's own)")
    views.add_argument("--base-url", help="the openai backend's server API root (default: none)")
    views.add_argument("--template", default="multiview.v1", help="the prompt template (default: multiview.v1)")
    _add_path(views)
    views.add_argument("--batch-size", type=int, default=8, help="requests per backend call (default: 8)")
    views.add_argument("--max-retries", type=int, default=2, help="retries of a failed request (default: 2)")
    views.add_argument("--cache-dir", help="cache each finished image here; a re-run resumes (default: no cache)")
    views.add_argument("--per-referent", action="store_true", help="one request per referent, not per image")
    views.add_argument("--limit", type=int, help="only the first N rows (default: all)")
    views.set_defaults(handler=_views)


def _views(args: argparse.Namespace) -> int:
    from datasets import load_from_disk

    from refaug.views import ViewGenerator, get_backend

    if args.synthetic is not None:
        from refaug.data.synthetic import synthetic_scenes

        dataset = synthetic_scenes(args.synthetic)
    else:
        dataset = load_from_disk(args.input)
    if args.limit is not None:
        dataset = dataset.select(range(min(args.limit, len(dataset))))
    options = {k: v for k, v in (("model", args.model), ("base_url", args.base_url)) if v}
    generator = ViewGenerator(
        get_backend(args.backend, **options),
        template=args.template,
        template_dirs=args.path,
        batch_size=args.batch_size,
        max_retries=args.max_retries,
        cache_dir=args.cache_dir,
        group_by="referent" if args.per_referent else "image",
    )
    out = generator.run(dataset)
    out.save_to_disk(args.out)
    print(generator.report.summary())
    for failure in generator.report.failures[:5]:
        print(f"  image {failure.image_id}: {failure.reason}")
    print(f"wrote {args.out}")
    return 0 if not generator.report.failures else 2
