"""The rewriters, by name: one registry line per rewriter (its module and class).

Modules are imported only when a rewriter is built, so reading the names (the CLI's
choices, config validation) costs no spaCy import. A new rewriter is one file under
``refaug/rewrite/`` with a :class:`~refaug.rewrite.base.Rewriter` subclass, plus one line here.

Example:
    >>> sorted(REWRITERS)
    ['attribute', 'negation', 'role_reversal', 'state', 'type']
    >>> rewriter_class("negation").__name__
    'NegationRewriter'
"""

from __future__ import annotations

from typing import Any

from refaug.registry import load_entry

REWRITERS: dict[str, str] = {
    "attribute": "refaug.rewrite.attribute:AttributeRewriter",
    "negation": "refaug.rewrite.negation:NegationRewriter",
    "role_reversal": "refaug.rewrite.roles:RoleReversalRewriter",
    "type": "refaug.rewrite.type_variants:TypeRewriter",
    "state": "refaug.rewrite.states:StateRewriter",
}
REWRITER_NAMES: tuple[str, ...] = tuple(REWRITERS)


def rewriter_class(name: str) -> type:
    """The :class:`~refaug.rewrite.base.Rewriter` subclass registered as ``name``."""
    return load_entry(REWRITERS, name, what="rewriter")


def build_rewriter(name: str, **options: Any) -> Any:
    """An instance of the rewriter ``name`` with ``options`` (``max_per_text``, ``seed``, ...)."""
    return rewriter_class(name)(**options)
