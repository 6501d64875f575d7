"""The demo: the whole pipeline on synthetic scenes, with the published dataset at the top of the folder.

Example:
    >>> result = run_demo(out="refaug-demo", n_images=8)  # doctest: +SKIP
    >>> datasets.load_from_disk("refaug-demo")            # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from refaug.config import RunConfig
from refaug.pipeline import Pipeline, RunResult

logger = logging.getLogger(__name__)


def run_demo(*, out: str | Path = "refaug-demo", n_images: int = 24, seed: int = 0,
             num_negatives: int = 10) -> RunResult:
    """Run every stage on ``n_images`` synthetic scenes with the model-free ``rules`` backend.

    The run folder is ``out`` (resumable like any ``refaug run``); the published
    ``DatasetDict`` is also saved at its top, so ``datasets.load_from_disk(out)`` reads it.

    Args:
        out: the output folder.
        n_images: how many synthetic images to render.
        seed: the random seed.
        num_negatives: hard negatives kept per referent.
    """
    config = RunConfig(source="synthetic", synthetic_images=n_images, seed=seed, backend="rules",
                       num_negatives=num_negatives, out=str(out))
    result = Pipeline(config).run()
    result.dataset.save_to_disk(str(out))
    logger.info("demo wrote %s", out)
    return result


def example_rows(result: RunResult, n: int) -> list[str]:
    """A few published rows, shortened for the terminal."""
    train = result.dataset[next(iter(result.dataset))]
    out = []
    for row in train.select(range(min(n, len(train)))):
        shown = {
            "referent_id": row["referent_id"],
            "category": row["category"],
            "bbox": [round(v, 1) for v in row["bbox"]],
            "expressions": row["expressions"],
            "views": _shown_views(row["views"]),
            "hard_negatives": [f"{n['text']}  [{n['kind']}, sim {n['similarity']:.2f}]"
                               for n in row["hard_negatives"][:6]],
        }
        out.append(json.dumps(shown, indent=2))
    return out


def _shown_views(views: dict | None) -> dict:
    """The views' texts; the derived positives (``views.derived``) as their texts only."""
    shown = {k: v for k, v in (views or {}).items() if k not in ("source", "derived") and v}
    derived = [d["text"] for d in (views or {}).get("derived") or ()]
    return {**shown, "derived": derived} if derived else shown
