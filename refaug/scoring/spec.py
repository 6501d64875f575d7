"""Scorers from command-line specs: :func:`scorer_from_spec` (``text``, ``clip:CHECKPOINT``,
``python:MODULE:NAME``...)."""

from __future__ import annotations

import os
from typing import Any

from refaug.scoring.base import Scorer
from refaug.scoring.clip import CLIPScorer
from refaug.scoring.text import TextScorer


def _import_module(module: str, *, spec: str) -> Any:
    """Import ``module``, looking in the current folder too (as ``python -m`` does)."""
    import importlib
    import sys

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        here, top = os.getcwd(), module.partition(".")[0]
        in_here = os.path.isdir(os.path.join(here, top)) or os.path.isfile(os.path.join(here, f"{top}.py"))
        if exc.name != top or here in sys.path or not in_here:
            raise ValueError(f"scorer spec {spec!r}: cannot import {module!r} ({exc}); run from the "
                             "folder that holds it or add that folder to PYTHONPATH") from exc
    sys.path.insert(0, here)
    return importlib.import_module(module)


def scorer_from_spec(spec: str, *, threshold: float | None = None) -> Scorer:
    """Build a scorer from a command-line spec.

    ``text`` or ``text:MODEL`` (:class:`TextScorer`), ``clip:CHECKPOINT`` (:class:`CLIPScorer`
    on the referent's box), ``clip-image:CHECKPOINT`` (on the whole image), or
    ``python:MODULE:NAME`` where ``NAME`` is a :class:`Scorer` instance, or a callable that
    returns one (called with no arguments); ``MODULE`` is looked for in the current folder
    too, as ``python -m`` does.

    Raises:
        ValueError: the spec is not valid, ``MODULE`` cannot be imported, or ``NAME`` is
            not a scorer.

    Example:
        >>> scorer_from_spec("text")  # doctest: +SKIP
        TextScorer(model=..., threshold=None)
    """
    kind, _, rest = spec.partition(":")
    if kind == "text":
        return TextScorer(rest or None, threshold=threshold)
    if kind in ("clip", "clip-image") and rest:
        return CLIPScorer(rest, crop="box" if kind == "clip" else "image", threshold=threshold)
    if kind == "python" and rest.count(":") == 1:
        module, name = rest.split(":")
        obj = getattr(_import_module(module, spec=spec), name, None)
        if obj is None:
            raise ValueError(f"scorer spec {spec!r}: module {module!r} has no {name!r}")
        scorer = obj() if callable(obj) and not isinstance(obj, Scorer) else obj
        if not isinstance(scorer, Scorer):
            raise ValueError(f"scorer spec {spec!r} gave {type(scorer).__name__}, not a "
                             "refaug.scoring.Scorer; NAME must be a Scorer or a function returning one")
        if threshold is not None:
            scorer.threshold = threshold
        return scorer
    raise ValueError(f"scorer spec {spec!r} is not valid; use text, text:MODEL, clip:CHECKPOINT, "
                     "clip-image:CHECKPOINT or python:MODULE:NAME")
