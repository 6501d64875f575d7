"""Candidate sources: where a referent's candidate negatives come from.

One class per file (:mod:`.same_image`, :mod:`.cross_image`, :mod:`.distractors`), each a
:class:`~refaug.mining.sources.base.CandidateSource`, registered by name in
:data:`~refaug.mining.sources.registry.CANDIDATE_SOURCES`.

Example:
    >>> from refaug.mining.sources import SOURCES
    >>> "cross_image" in SOURCES
    True
"""

from __future__ import annotations

from refaug.mining.sources.base import CandidateSource, SourceContext
from refaug.mining.sources.registry import (
           CANDIDATE_SOURCES,
           SOURCES,
           Source,
           build_source,
           source_class,
)

__all__ = ["CANDIDATE_SOURCES", "SOURCES", "CandidateSource", "Source", "SourceContext", "build_source",
           "source_class"]
