"""Moved to :mod:`refaug.lexicon` (judging reads the vocabularies without importing the rewriters).

This module re-exports it so that ``from refaug.rewrite import lexicon`` keeps working.
"""

from __future__ import annotations

import sys

from refaug import lexicon as _lexicon

sys.modules[__name__] = _lexicon
