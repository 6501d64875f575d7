"""The plausibility filter: is a generated text something a person would write?

A small language model's fluency score relative to the text a rewrite came from
(:mod:`.language_model`), and a colour/object co-occurrence check (:mod:`.cooccurrence`),
combined in :class:`PlausibilityFilter` (:mod:`.filter`); mining applies it lazily to the
generated finalists of each referent (:mod:`refaug.mining.plausibility`). README, "Plausibility filter".
"""

from __future__ import annotations

from refaug.plausibility.cooccurrence import Cooccurrence
from refaug.plausibility.filter import (
    DEFAULT_LM_MARGIN,
    PLAUSIBILITY_MODES,
    PlausibilityFilter,
    PlausibilityMode,
    PlausibilityVerdict,
)
from refaug.plausibility.language_model import LanguageModel, weights_folder

__all__ = [
    "DEFAULT_LM_MARGIN",
    "PLAUSIBILITY_MODES",
    "Cooccurrence",
    "LanguageModel",
    "PlausibilityFilter",
    "PlausibilityMode",
    "PlausibilityVerdict",
    "weights_folder",
]
