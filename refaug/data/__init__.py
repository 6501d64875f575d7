"""Loaders that return ``datasets`` objects in the canonical schema."""

from __future__ import annotations

from refaug.data.hub import from_hub_rows
from refaug.data.refer import load_refer
from refaug.data.synthetic import synthetic_scenes

__all__ = ["from_hub_rows", "load_refer", "synthetic_scenes"]
