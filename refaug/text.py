"""When two texts are "the same": one normalisation for every duplicate check in refaug.

Mining drops a candidate that duplicates a member of the referent's cluster, the rewriters
drop a rewrite that equals its source, the collator drops a negative that repeats a
positive: all of them compare :func:`normalize_text` keys, so a text one stage calls new
is never a duplicate in another.

Example:
    >>> normalize_text("The red circle, on the left.")
    'red circle on the left'
"""

from __future__ import annotations

import re

_ARTICLE = re.compile(r"^(?:the|a|an)\s+")
_PUNCT = re.compile(r"[^\w\s]")


def normalize_text(text: str) -> str:
    """The key under which two texts are near-exact duplicates (case, punctuation, article).

    Case is folded, punctuation becomes space, whitespace collapses and one leading article
    goes: "The red circle, on the left." and "red circle on the left" share a key.

    Example:
        >>> normalize_text("  A   man.  ")
        'man'
    """
    words = " ".join(_PUNCT.sub(" ", text.casefold()).split())
    return _ARTICLE.sub("", words)
