"""Contrastive attributes: what an expression says about its referent, word by word.

Expressions of two objects in one image usually differ in one contrastive word ("left
lady" / "right lady", "guy in red" / "man in blue shirt", "2nd from left" / "third from
left"), which a sentence embedding barely registers. This package reads those words off a
spaCy parse and compares them:

- :func:`describe_texts` parses each distinct text once (``nlp.pipe``) and returns, per
  text, a :class:`Description` of its referent: the head noun (with its class and tags,
  through the synonym tables of :mod:`refaug.lexicon`) and its attributes
  (position, end of a row, ordinal, colour, pattern, size and age, count, material,
  clothing and accessories, actions and postures), each with its polarity ("without a
  hat" is a negative "hat"). Words that describe another object ("the star below *the
  blue circle*") are left out of the referent's attributes and kept as a
  :class:`Landmark`; an expression with no head noun ("2nd from right") describes the
  referent all the same. :func:`head_noun` gives the referent's head noun alone.
- :func:`compare` sets a cluster's description (the union over its texts) against a
  candidate's and returns :class:`Finding` s: conflicts (same kind, incompatible values,
  same head; or one text's landmark is the other's referent) and agreements (same kind,
  same value).
- :func:`pair_features` turns a pair's findings and cosine into a row of :data:`FEATURES`,
  which :class:`ContrastModel` (a logistic model with a bounded fit) weighs.

Every vocabulary comes from :mod:`refaug.lexicon`, shared with the rewriters.

Modules: :mod:`~refaug.contrast.describe` (parse -> description),
:mod:`~refaug.contrast.description` (the description types), :mod:`~refaug.contrast.compare`
(description x description -> findings), :mod:`~refaug.contrast.features` (findings ->
feature row) and :mod:`~refaug.contrast.model` (feature rows -> probability).

Example:
    >>> left, right = describe_texts(["left lady", "lady on right"])  # doctest: +SKIP
    >>> [str(f) for f in compare(left, right)]  # doctest: +SKIP
    ['head: lady = lady (head: lady)', 'spatial: left vs right (head: lady)']
"""

from __future__ import annotations

from refaug.contrast.compare import CONTRAST_KINDS, Finding, compare
from refaug.contrast.describe import describe, describe_texts, head_class, head_noun
from refaug.contrast.description import Attribute, Description, Landmark
from refaug.contrast.features import FEATURES, conflict_columns, feature_matrix, pair_features
from refaug.contrast.model import ContrastModel

__all__ = [
    "CONTRAST_KINDS",
    "FEATURES",
    "Attribute",
    "ContrastModel",
    "Description",
    "Finding",
    "Landmark",
    "compare",
    "conflict_columns",
    "describe",
    "describe_texts",
    "feature_matrix",
    "head_class",
    "head_noun",
    "pair_features",
]
