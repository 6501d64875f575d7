"""The member texts of a referent's cluster."""

from __future__ import annotations

from typing import Any


def cluster_texts(row: dict[str, Any], *, include_expressions: bool = True) -> tuple[str, ...]:
    """The member texts of a row's cluster: its views' cluster, plus (option) its expressions.

    A row without views (or whose view generation failed, ``views=None``) falls back to its
    original expressions. Duplicates are removed, order is kept.

    Example:
        >>> cluster_texts({"expressions": ["left lady"], "views": None})
        ('left lady',)
    """
    views = row.get("views")
    texts: list[str] = []
    if views:
        texts += [views.get(k) for k in ("appearance", "action", "spatial", "alternative")]
    if include_expressions or not any(texts):
        texts += list(row.get("expressions") or ())
    return tuple(dict.fromkeys(t for t in texts if t))
