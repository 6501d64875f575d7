"""spaCy-driven distractors: attribute substitution, negation, role reversal, LLM proposals.

Example:
    >>> from refaug.rewrite import AttributeRewriter, NegationRewriter, RoleReversalRewriter, Rewriters
    >>> rw = NegationRewriter()
    >>> out = rw(["man holding an umbrella", "There are people in the picture."])  # doctest: +SKIP
    >>> out[0][0].text, out[0][0].kind  # doctest: +SKIP
    ('man not holding an umbrella', 'negation')
"""

from __future__ import annotations

from refaug.rewrite.attribute import AttributeRewriter
from refaug.rewrite.base import Proposal, Rewriter
from refaug.rewrite.combined import Rewriters
from refaug.rewrite.llm import LLMRewriter
from refaug.rewrite.negation import NegationRewriter
from refaug.rewrite.roles import RoleReversalRewriter

__all__ = [
    "AttributeRewriter",
    "LLMRewriter",
    "NegationRewriter",
    "Proposal",
    "Rewriter",
    "Rewriters",
    "RoleReversalRewriter",
]
