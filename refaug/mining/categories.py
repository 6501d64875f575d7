"""Referent categories for same-class mining, derived from head nouns where the data has none.

Example:
    >>> derive_categories([("the red circle",)], ["circle", "square"])  # doctest: +SKIP
    ['circle']
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np

from refaug.contrast import head_noun
from refaug.mining.corpus import Data

logger = logging.getLogger(__name__)


def derive_categories(texts_per_referent: list[tuple[str, ...]], category_names: list[str],
                      *, batch_size: int = 256) -> list[str]:
    """For each referent, the dataset category its expressions' head nouns name ("" if none).

    Each distinct text is parsed once (``nlp.pipe``); its head noun is the one the contrast
    judgement reads (:func:`refaug.contrast.head_noun`); a referent takes the category named
    by most of its texts.

    Args:
        texts_per_referent: each referent's texts.
        category_names: the dataset's categories; a name also matches by its last word.
        batch_size: texts per ``nlp.pipe`` batch. Defaults to 256.

    Example:
        >>> derive_categories([("the red circle",)], ["circle", "square"])  # doctest: +SKIP
        ['circle']
    """
    from refaug.nlp import load_nlp

    names = {}
    for name in category_names:
        lowered = name.lower()
        names.setdefault(lowered, name)
        names.setdefault(lowered.split()[-1], name)
    distinct = list(dict.fromkeys(t for texts in texts_per_referent for t in texts))
    nlp = load_nlp(disable=("ner",))
    heads = {t: head_noun(doc) for t, doc in zip(distinct, nlp.pipe(distinct, batch_size=batch_size), strict=True)}
    out = []
    for texts in texts_per_referent:
        votes = Counter(names[h] for t in texts if (h := heads.get(t)) in names)
        out.append(votes.most_common(1)[0][0] if votes else "")
    return out


def fill_categories(data: Data) -> np.ndarray:
    """Category codes per referent, deriving unknown ones from head nouns; -1 where unknown.

    The derived categories are written into ``data.category`` (the contrast judgement reads them).
    """
    unknown = [r for r, c in enumerate(data.category) if not c]
    known = sorted({c for c in data.category if c})
    if unknown and known:
        texts = [tuple(data.texts[i] for i in data.members(r)) for r in unknown]
        for r, category in zip(unknown, derive_categories(texts, known), strict=True):
            data.category[r] = category
        still = sum(1 for r in unknown if not data.category[r])
        logger.info("same_class: derived the category of %d of %d referents without one from "
                    "their head nouns; %d stay unknown and get no same-class negatives",
                    len(unknown) - still, len(unknown), still)
    table = {c: i for i, c in enumerate(sorted({c for c in data.category if c}))}
    return np.asarray([table.get(c, -1) for c in data.category], np.int64)
