"""The demo: every stage that exists, on synthetic scenes, written as a dataset.

Example:
    >>> result = run_demo(out="refaug-demo", n_images=8)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from datasets import Dataset, DatasetDict

from refaug.data.synthetic import synthetic_scenes
from refaug.records import ROW_FEATURES

logger = logging.getLogger(__name__)


@dataclass
class DemoResult:
    """What the demo wrote, with per-stage counts and times."""

    out: Path
    dataset: DatasetDict
    stages: list[tuple[str, int, float]] = field(default_factory=list)

    def summary_rows(self) -> list[tuple[str, int, float]]:
        return list(self.stages)

    def example_rows(self, n: int) -> list[str]:
        rows = self.dataset["train"].select(range(min(n, len(self.dataset["train"]))))
        keep = ("referent_id", "category", "bbox", "expressions", "views", "hard_negatives")
        out = []
        for row in rows:
            shown = {k: row[k] for k in keep if k in row}
            shown["hard_negatives"] = [
                f"{n['text']} ({n['kind']}, sim {n['similarity']:.2f})" for n in (row.get("hard_negatives") or [])[:5]
            ]
            out.append(json.dumps(shown, indent=2, default=str))
        return out


def _as_published(ds: Dataset) -> Dataset:
    """Add the published columns a stage has not written yet, and cast to the canonical schema."""
    if "views" not in ds.column_names:
        ds = ds.add_column("views", [None] * len(ds))
    if "hard_negatives" not in ds.column_names:
        ds = ds.add_column("hard_negatives", [[] for _ in range(len(ds))])
    extra = [c for c in ds.column_names if c not in ROW_FEATURES]
    return ds.remove_columns(extra).cast(ROW_FEATURES)


def run_demo(*, out: str | Path = "refaug-demo", n_images: int = 24, seed: int = 0) -> DemoResult:
    """Run the stages on ``n_images`` synthetic scenes and save the result to ``out``.

    Args:
        out: the output folder; replaced if it exists.
        n_images: how many synthetic images to render.
        seed: the random seed.

    Returns:
        A :class:`DemoResult` with the saved ``DatasetDict`` and per-stage timings.
    """
    out = Path(out)
    stages: list[tuple[str, int, float]] = []
    start = time.perf_counter()
    ds = synthetic_scenes(n_images, seed=seed)
    stages.append(("load (synthetic scenes)", len(ds), time.perf_counter() - start))

    start = time.perf_counter()
    published = DatasetDict({"train": _as_published(ds)})
    if out.exists():
        shutil.rmtree(out)
    published.save_to_disk(str(out))
    stages.append(("publish (save_to_disk)", len(ds), time.perf_counter() - start))
    logger.info("demo wrote %s", out)
    return DemoResult(out=out, dataset=published, stages=stages)
