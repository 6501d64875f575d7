"""Moved to :mod:`refaug.cli.prompts` (the CLI lives in one package); kept as an import path."""

from __future__ import annotations

from refaug.cli.prompts import example_scene_variables
from refaug.cli.prompts import register as register_cli

__all__ = ["example_scene_variables", "register_cli"]
