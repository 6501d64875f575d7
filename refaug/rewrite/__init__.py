"""spaCy-driven distractors: attribute substitution, negation, role reversal, LLM proposals.

Example:
    >>> from refaug.rewrite import AttributeRewriter, NegationRewriter, RoleReversalRewriter, Rewriters
    >>> rw = NegationRewriter()
    >>> out = rw(["man holding an umbrella", "There are people in the picture."])  # doctest: +SKIP
    >>> out[0][0].text, out[0][0].kind  # doctest: +SKIP
    ('man not holding an umbrella', 'negation')
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use, so that reading the registry (refaug.rewrite.registry) or the
# lexicon costs no spaCy import.
_EXPORTS: dict[str, str] = {
    "AttributeRewriter": "refaug.rewrite.attribute",
    "LLMRewriter": "refaug.rewrite.llm",
    "NegationRewriter": "refaug.rewrite.negation",
    "Proposal": "refaug.rewrite.base",
    "Rewriter": "refaug.rewrite.base",
    "Rewriters": "refaug.rewrite.combined",
    "RoleReversalRewriter": "refaug.rewrite.roles",
    "StateRewriter": "refaug.rewrite.states",
    "TypeRewriter": "refaug.rewrite.type_variants",
}

__all__ = [
    "AttributeRewriter",
    "LLMRewriter",
    "NegationRewriter",
    "Proposal",
    "Rewriter",
    "Rewriters",
    "RoleReversalRewriter",
    "StateRewriter",
    "TypeRewriter",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'refaug.rewrite' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
