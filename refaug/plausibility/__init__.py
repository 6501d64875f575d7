"""The plausibility filter: is a generated text something a person would write?

A small language model's fluency score relative to the text a rewrite came from
(:mod:`.language_model`), and a colour/object co-occurrence check (:mod:`.cooccurrence`),
combined in :class:`PlausibilityFilter` (:mod:`.filter`); mining applies it lazily to the
generated finalists of each referent (:mod:`refaug.mining.plausibility`). README, "Plausibility filter".

After mining, what a text-only model still spots is removed: :class:`AdversarialFilter`
(:mod:`.adversarial`, AFLite-style) and the negated verified negatives published as positives
(:mod:`.negated`), both applied to a mined dataset by :mod:`.published`. README, "Blind model".
"""

from __future__ import annotations

from refaug.plausibility.adversarial import AdversarialFilter
from refaug.plausibility.cooccurrence import Cooccurrence
from refaug.plausibility.filter import (
    DEFAULT_LM_MARGIN,
    PLAUSIBILITY_MODES,
    PlausibilityFilter,
    PlausibilityMode,
    PlausibilityVerdict,
)
from refaug.plausibility.language_model import LanguageModel, weights_folder
from refaug.plausibility.negated import NEGATED_NEGATIVE, negated_negatives

__all__ = [
    "DEFAULT_LM_MARGIN",
    "NEGATED_NEGATIVE",
    "PLAUSIBILITY_MODES",
    "AdversarialFilter",
    "Cooccurrence",
    "LanguageModel",
    "PlausibilityFilter",
    "PlausibilityMode",
    "PlausibilityVerdict",
    "negated_negatives",
    "weights_folder",
]
