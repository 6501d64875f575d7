"""Typos in the words that tell objects apart: "le t", "teddt", "broccoi", "secibd", "bornw".

A word that no vocabulary knows (the encoder's word pieces, WordNet's nouns, the lexicon) and
lies one edit (two, for words of six letters or more) from a contrastive word of
:mod:`refaug.lexicon` (a position, colour, ordinal, number, size, head noun, garment) is
read as that word (:func:`correct`). Distances are optimal string alignment (a transposition
counts one edit: "bornw" -> "brown"), computed by rapidfuzz. Words split by a stray space
("le t") are joined where the join is a contrastive word.

Example:
    >>> correct("white teddt far le t")
    ('white teddy far left', (('le t', 'left'), ('teddt', 'teddy')))
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

from refaug import lexicon as lx

logger = logging.getLogger(__name__)
_WORD = re.compile(r"[A-Za-z]+")


@lru_cache(maxsize=1)
def _targets() -> tuple[str, ...]:
    from refaug.data.coco import COCO_CATEGORIES

    words = {*lx.POSITION_AXES, *lx.COLOR_FAMILIES, *lx.ORDINAL_WORDS, *lx.NUMBER_WORDS, *lx.SIZE_AXES,
             *lx.PERSON_TAGS, *lx.PERSON_NOUNS, *lx.HEAD_CATEGORIES, *lx.CLOTHING, *lx.PATTERNS,
             *lx.MATERIAL_CONTRASTS, *lx.POSTURES, *lx.POSITION_EXTREMES, *lx.ACCESSORIES,
             *(w for name, _ in COCO_CATEGORIES.values() for w in name.split())}
    return tuple(sorted(w for w in words if w.isalpha() and len(w) >= 3))


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    """Words taken as spelt right: the encoder's whole-word pieces, WordNet's nouns, the lexicon."""
    from refaug.contrast.synonyms import _wordnet
    from refaug.embed import resolve_model

    known = set(_targets()) | set(_wordnet())
    vocab = Path(resolve_model(None)) / "vocab.txt"
    if vocab.is_file():
        known |= {w for w in vocab.read_text(encoding="utf-8").split() if w.isalpha()}
    else:
        logger.warning("no word-piece vocabulary at %s: typo correction knows only WordNet's nouns", vocab)
    return frozenset(known)


@lru_cache(maxsize=65536)
def correct_word(word: str) -> str | None:
    """The contrastive word a misspelt ``word`` stands for, or None (known word, or nothing near)."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    low = word.lower()
    known, targets = _known(), _targets()
    if len(low) < 4 or low in known or low.rstrip("s") in known:
        return None
    if low.endswith("est") and low[:-3] in targets:  # "rightest"
        return low[:-3]
    for k in range(3, len(low) - 2):  # "lefthat": two words run together
        if low[:k] in targets and low[k:] in known:
            return f"{low[:k]} {low[k:]}"
    # Typists miss, swap or double letters inside a word more than its first one: a candidate
    # must keep the first letter ("blurry" is not "lorry").
    limit = 2 if len(low) >= 5 else 1
    found = process.extractOne(low, [t for t in targets if t[0] == low[0]], scorer=OSA.distance,
                               score_cutoff=limit)
    return found[0] if found else None


def _split_word(pair: str) -> str | None:
    """The contrastive word that a word cut by a stray space stands for ("le t" -> "left")."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    a, b = pair.lower().split(" ")
    if a + b in _targets() and a not in _targets():
        return a + b
    if len(a) < 2 or len(b) != 1 or b in "ai" or a in _known() and len(a) > 2:
        return None
    found = process.extractOne(pair.lower(), _targets(), scorer=OSA.distance, score_cutoff=1)
    return found[0] if found and len(found[0]) == len(pair) else None


def correct(text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The text with its typos of contrastive words corrected, and the corrections made."""
    corrections: list[tuple[str, str]] = []

    def joined(match: re.Match) -> str:
        right = _split_word(match.group(0))
        if right is None:
            return match.group(0)
        corrections.append((match.group(0), right))
        return right

    text = re.sub(r"\b([A-Za-z]{1,4}) ([A-Za-z])\b", joined, text)

    def fixed(match: re.Match) -> str:
        word = match.group(0)
        right = correct_word(word)
        if right is None:
            return word
        corrections.append((word, right))
        return right

    return _WORD.sub(fixed, text), tuple(corrections)
