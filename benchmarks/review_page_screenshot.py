"""A screenshot of the review page of a real run, to see how it reads.

Runs the whole pipeline (``rules`` views, the default mining) on ``synthetic_scenes(12)`` into a
temporary run folder, which writes ``report/index.html``, then opens the page in the system
Chromium (``/usr/bin/chromium``, driven by Playwright as in ``tests/test_review_page.py``) and
saves the top of it, filters untouched.

Run (about 30 seconds on 2 cores)::

    python benchmarks/review_page_screenshot.py [--images 12] [--out benchmarks/results/review_page.png]

Writes ``benchmarks/results/review_page.png``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from refaug.config import RunConfig  # noqa: E402
from refaug.pipeline import Pipeline  # noqa: E402
from tests.test_review_page import chromium_page  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12, help="synthetic images in the run (default: 12)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "review_page.png"))
    parser.add_argument("--height", type=int, default=1500, help="pixels of the page shown (default: 1500)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = RunConfig(source="synthetic", synthetic_images=args.images, backend="rules",
                           num_negatives=8, out=folder)
        Pipeline(config, show_progress=False).run()
        page = Path(folder) / "report" / "index.html"
        with chromium_page(width=1400, height=args.height) as tab:
            tab.goto(page.resolve().as_uri())
            tab.wait_for_load_state("load")
            tab.screenshot(path=args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
