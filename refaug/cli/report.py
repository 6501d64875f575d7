"""``refaug report RUN_DIR``: the page to look at a run's referents and negatives.

``register(subparsers)`` adds the command to the ``refaug`` parser. The handler prints; the
library code it calls (:mod:`refaug.review`) only logs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from refaug.review import DEFAULT_SAMPLE


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``refaug report`` to the ``refaug`` parser."""
    report = subparsers.add_parser(
        "report", help="write a static HTML page of sampled referents and their negatives",
        description="Write OUT/index.html (open it from disk; no server needed): sampled referents "
                    "with their image and box, expressions, views and negatives, filterable by "
                    "category, kind and verification.")
    report.add_argument("run_dir", help="a run folder, a publish folder or a save_to_disk folder")
    report.add_argument("--out", default=None, metavar="DIR", help="the page's folder (default: RUN_DIR/report)")
    report.add_argument("--sample", type=int, default=DEFAULT_SAMPLE, metavar="N",
                        help=f"referents on the page, taken in turn from each category (default: {DEFAULT_SAMPLE})")
    report.add_argument("--seed", type=int, default=0, help="the sampling seed (default: 0)")
    report.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    from refaug.cli.main import _open_results
    from refaug.review import write_review_page

    run_dir = Path(args.run_dir)
    out = Path(args.out) if args.out else run_dir / "report"
    page = write_review_page(_open_results(run_dir), out, sample=args.sample, seed=args.seed)
    print(f"wrote {page}: open it in a browser (file://{page.resolve()})")
    return 0
