"""A scorer around a plain function: :class:`FunctionScorer`."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from refaug.scoring.base import Scorer, _qualified_name


class FunctionScorer(Scorer):
    """A scorer around a plain function: plug any model in with a few lines.

    Args:
        fn: ``fn(referents, texts) -> list[array-like]``: for each referent, one score per
            text (higher = a better match). Define it at module level so the scorer pickles
            (``Dataset.map`` with ``num_proc`` and fingerprints need that).
        threshold: the model's decision point, or None for relative scores (see :class:`Scorer`).
        batch_size: referents per call. Defaults to 32.
        name: a name for logs; defaults to the function's name.
        settings: JSON-serialisable settings that determine the scores (checkpoint, prompt,
            version), added to :meth:`config` so a cache notices when they change.

    Example:
        >>> scorer = FunctionScorer(lambda refs, texts: [[0.0] * len(t) for t in texts],
        ...                         threshold=0.5, settings={"checkpoint": "my-model-v2"})
        >>> scorer.config()["settings"]
        {'checkpoint': 'my-model-v2'}
    """

    def __init__(
        self,
        fn: Callable[[Sequence[Mapping[str, Any]], Sequence[Sequence[str]]], Sequence[Any]],
        *,
        threshold: float | None = None,
        batch_size: int = 32,
        name: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        if not callable(fn):
            raise ValueError(f"fn={fn!r} is not callable; pass a function fn(referents, texts)")
        super().__init__(threshold=threshold, batch_size=batch_size,
                         name=name or getattr(fn, "__name__", None) or type(fn).__name__)
        self.fn = fn
        self.settings = dict(settings) if settings is not None else {}
        try:
            json.dumps(self.settings, sort_keys=True)
        except TypeError as exc:
            raise ValueError(
                f"settings={settings!r} is not JSON-serialisable ({exc}); pass plain strings, "
                "numbers, lists and dicts"
            ) from exc

    def _score(self, referents, texts):
        return self.fn(referents, texts)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "function": _qualified_name(self.fn), "settings": self.settings}

    def __repr__(self) -> str:
        return (f"FunctionScorer({_qualified_name(self.fn)}, threshold={self.threshold!r}, "
                f"batch_size={self.batch_size})")

