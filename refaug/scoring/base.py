"""The scorer interface: :class:`Scorer`, the base class every scorer subclasses.

A subclass implements one hook, ``_score``; calling the scorer checks the inputs and the
outputs (one finite score per text) and keeps the counts.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _referent_label(row: Mapping[str, Any], index: int) -> str:
    """``referent #3 (synthetic-0-3)``: the position in the batch and the id when there is one."""
    rid = row.get("referent_id") if isinstance(row, Mapping) else None
    return f"referent #{index} ({rid})" if rid is not None else f"referent #{index}"


def _qualified_name(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{module}.{name}" if module else name


class Scorer(abc.ABC):
    """The user's model as a scorer of (referent, text) pairs.

    Subclasses implement :meth:`_score`; calling the scorer checks the inputs, calls the
    hook, checks that it returned one finite score per text and counts the work.

    Args:
        threshold: the model's decision point: ``score >= threshold`` means the model says
            the text matches the referent. None (the default) means the scores are
            relative: compare them with the scores of the referent's own expressions.
        batch_size: referents per call of the scorer (see :func:`score_all`). Defaults to 32.
        name: a name for logs; defaults to the class name.

    Attributes:
        calls: how many non-empty batches were scored (a benchmark reports calls per referent).
        texts_scored: how many texts were scored.
        allows_nan: whether a NaN score is a valid answer ("nothing to compare with").

    Example:
        >>> class Length(Scorer):
        ...     def _score(self, referents, texts):
        ...         return [[float(len(t)) for t in row] for row in texts]
        >>> Length()([{"referent_id": "r"}], [["ab", "abc"]])
        [array([2., 3.], dtype=float32)]
    """

    allows_nan: bool = False
    # Counters and loaded models, with the values they restart from: left out of the pickled
    # state so that ``datasets.fingerprint.Hasher`` gives a scorer one hash before and after use.
    _transient: Mapping[str, Any] = {"calls": 0, "texts_scored": 0}

    def __init__(
        self, *, threshold: float | None = None, batch_size: int = 32, name: str | None = None
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} must be an integer >= 1")
        if threshold is not None and not math.isfinite(float(threshold)):
            raise ValueError(f"threshold={threshold!r} must be a finite number or None")
        self._threshold = None if threshold is None else float(threshold)
        self.batch_size = batch_size
        self.name = name or type(self).__name__
        self.calls = 0
        self.texts_scored = 0

    # ------------------------------------------------------------------ state

    @property
    def threshold(self) -> float | None:
        """The decision point (``score >= threshold`` means a match), or None for relative scores."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float | None) -> None:
        if value is not None and not math.isfinite(float(value)):
            raise ValueError(f"threshold={value!r} must be a finite number or None")
        self._threshold = None if value is None else float(value)

    def config(self) -> dict[str, Any]:
        """What determines the scores and decisions, JSON-serialisable (for caches and fingerprints).

        Subclasses extend it with their model's identity and options.
        """
        return {"scorer": _qualified_name(type(self)), "threshold": self._threshold}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for key in self._transient:
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(self._transient)
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, threshold={self.threshold!r}, "
                f"batch_size={self.batch_size})")

    # ---------------------------------------------------------------- scoring

    @abc.abstractmethod
    def _score(
        self, referents: Sequence[Mapping[str, Any]], texts: Sequence[Sequence[str]]
    ) -> Sequence[Any]:
        """Return, per referent, one score per text (any array-like of numbers)."""

    def __call__(
        self, referents: Sequence[Mapping[str, Any]], texts: Sequence[Sequence[str]]
    ) -> list[np.ndarray]:
        """Score ``texts[i]`` against ``referents[i]``: one float32 array per referent.

        Raises:
            ValueError: the inputs do not pair up, or the model returned the wrong number
                of scores or a non-finite score.
        """
        referents, texts = list(referents), [list(t) for t in _check_texts(referents, texts)]
        total = sum(len(t) for t in texts)
        if total == 0:
            return [np.zeros(0, dtype=np.float32) for _ in referents]
        raw = self._score(referents, texts)
        scores = self._check_scores(raw, referents, texts)
        self.calls += 1
        self.texts_scored += total
        return scores

    def _check_scores(
        self, raw: Sequence[Any], referents: list, texts: list[list[str]]
    ) -> list[np.ndarray]:
        if raw is None or len(raw) != len(referents):
            got = "None" if raw is None else f"{len(raw)} arrays"
            raise ValueError(
                f"scorer {self.name!r} returned {got} for {len(referents)} referents; "
                "it must return one array of scores per referent"
            )
        out = []
        for i, (values, candidates) in enumerate(zip(raw, texts)):
            where = _referent_label(referents[i], i)
            try:
                array = np.asarray(values, dtype=np.float32)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"scorer {self.name!r} returned scores for {where} that are "
                                 f"not a flat list of numbers: {exc}") from exc
            if array.ndim != 1 or array.shape[0] != len(candidates):
                n = array.shape[0] if array.ndim == 1 else 0
                got = f"{n} score{'' if n == 1 else 's'}" if array.ndim == 1 else \
                    f"an array of shape {array.shape}"
                raise ValueError(
                    f"scorer {self.name!r} returned {got} for {where}; expected "
                    f"{len(candidates)} (one per candidate text, in a flat list)"
                )
            bad = np.isinf(array) if self.allows_nan else ~np.isfinite(array)
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"scorer {self.name!r} returned a non-finite score ({array[k]}) for {where}, "
                    f"text #{k} {candidates[k]!r}; scores must be finite numbers"
                )
            out.append(array)
        return out


def _check_texts(referents: Sequence[Any], texts: Sequence[Sequence[str]]) -> Sequence[Sequence[str]]:
    if len(referents) != len(texts):
        raise ValueError(
            f"got {len(referents)} referents and {len(texts)} lists of texts; pass one list of "
            "candidate texts per referent"
        )
    for i, candidates in enumerate(texts):
        if isinstance(candidates, str):
            raise ValueError(
                f"texts[{i}] is a string ({candidates!r}), not a list of strings; wrap it in a "
                "list: texts=[[...], ...] holds one list of candidates per referent"
            )
    return texts

