"""Model-in-the-loop scorers: the user's own model says which texts describe a referent.

A hard negative is most useful when *the model being trained* confuses it with the truth.
A :class:`Scorer` gives refaug that model's opinion: for a batch of referents and, per
referent, a list of candidate texts, it returns one score per text. Higher means the model
thinks the text describes the referent more.

The interface:

* ``scorer(referents, texts) -> list[np.ndarray]``: ``referents`` are rows in refaug's
  schema (:data:`refaug.records.REFERENT_FEATURES`: ``image``, ``bbox`` as ``[x, y, w, h]``
  pixels, ``expressions``, ``category``...), ``texts[i]`` are the candidates of
  ``referents[i]``; the answer holds one float32 array per referent, one score per text.
* ``scorer.threshold``: the model's decision point (``score >= threshold`` means "the model
  says this text matches"), or None for *relative* scores that the caller compares with the
  scores of the referent's own expressions.
* ``scorer.batch_size`` (referents per call), ``scorer.name`` (for logs),
  ``scorer.config()`` (a JSON-serialisable description of what determines the scores, for
  caches and fingerprints), and the counters ``scorer.calls`` and ``scorer.texts_scored``.
* :func:`score_all` runs a scorer over many referents in batches with a progress bar.

Scorers provided: :class:`FunctionScorer` wraps any user function in a few lines,
:class:`CLIPScorer` scores image crops against texts with a CLIP or SigLIP checkpoint, and
:class:`TextScorer` is a text-only stand-in that compares candidates with the referent's own
expressions in a sentence-embedding space.

A new scorer subclasses :class:`Scorer` and implements one hook, ``_score``; the base
class checks the inputs and outputs and keeps the counts.

Modules: :mod:`~refaug.scoring.base` (the interface), :mod:`~refaug.scoring.run` (batches,
decision points), :mod:`~refaug.scoring.function`, :mod:`~refaug.scoring.clip` and
:mod:`~refaug.scoring.text` (the scorers), :mod:`~refaug.scoring.images` (decoding, boxes)
and :mod:`~refaug.scoring.spec` (command-line specs).

Example:
    >>> import numpy as np
    >>> def word_overlap(referents, texts):
    ...     out = []
    ...     for row, candidates in zip(referents, texts):
    ...         words = {w for e in row["expressions"] for w in e.split()}
    ...         out.append([len(words & set(t.split())) for t in candidates])
    ...     return out
    >>> scorer = FunctionScorer(word_overlap, threshold=2.0)
    >>> rows = [{"referent_id": "r1", "expressions": ["the red car"]}]
    >>> scorer(rows, [["a red car", "the dog"]])
    [array([2., 1.], dtype=float32)]
    >>> scorer.calls, scorer.texts_scored
    (1, 2)
"""


from __future__ import annotations

from refaug.scoring.base import Scorer
from refaug.scoring.clip import CROP_MODES, DTYPES, SIGLIP_THRESHOLD, CLIPScorer, CropMode
from refaug.scoring.function import FunctionScorer
from refaug.scoring.images import crop_box, load_image
from refaug.scoring.run import decision_point, score_all
from refaug.scoring.spec import scorer_from_spec
from refaug.scoring.text import TextScorer

# The scorers keep ``refaug.scoring`` as their module, the path users import them by:
# Scorer.config() names a scorer's class by it (caches and fingerprints compare configs, so
# they stay valid across the split into modules), and so do pickles.
for _cls in (Scorer, FunctionScorer, CLIPScorer, TextScorer):
    _cls.__module__ = __name__
del _cls

__all__ = [
    "CROP_MODES",
    "DTYPES",
    "SIGLIP_THRESHOLD",
    "CLIPScorer",
    "CropMode",
    "FunctionScorer",
    "Scorer",
    "TextScorer",
    "crop_box",
    "decision_point",
    "load_image",
    "score_all",
    "scorer_from_spec",
]
