"""Lazy registries: a name maps to ``"module:Class"``, imported only when it is asked for.

The rewriters (:mod:`refaug.rewrite.registry`) and the candidate sources
(:mod:`refaug.mining.sources.registry`) are tables of this form, so reading their names (the
CLI's choices, config checks) imports nothing heavy.

Example:
    >>> load_entry({"path": "pathlib:PurePosixPath"}, "path", what="entry").__name__
    'PurePosixPath'
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from refaug.errors import check_choice


def load_entry(table: Mapping[str, str], name: str, *, what: str) -> Any:
    """The object ``table[name]`` names (``"module:attribute"``); a ValueError naming ``what``
    and the valid names when ``name`` is not in the table."""
    check_choice(what, name, tuple(table))
    module, _, attribute = table[name].partition(":")
    return getattr(importlib.import_module(module), attribute)
