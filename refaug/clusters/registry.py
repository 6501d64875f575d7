"""The cluster methods, by name: one registry line per method.

A new method is one :class:`~refaug.clusters.base.JudgementMethod` subclass in one file
under ``refaug/clusters/`` plus one line in :data:`METHODS` (and its name in
:data:`ClusterMethod`, the type the options are checked against; a test keeps the two equal).

Example:
    >>> CLUSTER_METHODS
    ('centroid', 'radius', 'nearest', 'contrast')
    >>> DEFAULT_THRESHOLDS["contrast"]
    0.5
"""

from __future__ import annotations

from typing import Literal

from refaug.clusters.base import JudgementMethod
from refaug.clusters.centroid import CentroidMethod
from refaug.clusters.contrast import ContrastMethod
from refaug.clusters.nearest import NearestMethod
from refaug.clusters.radius import RadiusMethod
from refaug.errors import check_choice

METHODS: dict[str, type[JudgementMethod]] = {
    "centroid": CentroidMethod,
    "radius": RadiusMethod,
    "nearest": NearestMethod,
    "contrast": ContrastMethod,
}

ClusterMethod = Literal["centroid", "radius", "nearest", "contrast"]
CLUSTER_METHODS: tuple[str, ...] = tuple(METHODS)
# Default thresholds per method (each method's class says where its value comes from).
DEFAULT_THRESHOLDS: dict[str, float] = {name: cls.default_threshold for name, cls in METHODS.items()}


def method_class(name: str) -> type[JudgementMethod]:
    """The :class:`JudgementMethod` registered as ``name`` (ValueError listing the valid ones)."""
    check_choice("method", name, CLUSTER_METHODS)
    return METHODS[name]
