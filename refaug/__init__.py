"""refaug: multi-view expression clusters and hard negatives for referring-expression datasets.

The public API, imported lazily so that ``import refaug`` and the CLI start fast::

    from refaug import load_refer, synthetic_scenes, ViewGenerator, Rewriters, Embedder
    from refaug import ClusterClassifier, mine_hard_negatives, Pipeline, RunConfig
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # records
    "Referent": "refaug.records",
    "Views": "refaug.records",
    "ViewSource": "refaug.records",
    "Candidate": "refaug.records",
    "HardNegative": "refaug.records",
    "Row": "refaug.records",
    "ROW_FEATURES": "refaug.records",
    "REFERENT_FEATURES": "refaug.records",
    # data
    "load_refer": "refaug.data.refer",
    "from_hub_rows": "refaug.data.hub",
    "synthetic_scenes": "refaug.data.synthetic",
    # views
    "ViewGenerator": "refaug.views",
    "get_backend": "refaug.views",
    # rewrite
    "AttributeRewriter": "refaug.rewrite",
    "NegationRewriter": "refaug.rewrite",
    "RoleReversalRewriter": "refaug.rewrite",
    "Rewriters": "refaug.rewrite",
    # embeddings, clusters, mining
    "Embedder": "refaug.embed",
    "ClusterClassifier": "refaug.clusters",
    "calibrate_threshold": "refaug.clusters",
    "mine_hard_negatives": "refaug.mining",
    # run and publish
    "Pipeline": "refaug.pipeline",
    "RunConfig": "refaug.config",
    "publish": "refaug.publish",
    "push_to_hub": "refaug.publish",
    "to_refer": "refaug.publish",
    # training
    "hard_negative_contrastive_loss": "refaug.training",
    "HardNegativeCurriculum": "refaug.training",
    "HardNegativeCollator": "refaug.training",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'refaug' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
