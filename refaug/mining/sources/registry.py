"""The candidate sources, by name: one registry line per source (its module and class).

``sources=`` of :func:`~refaug.mining.mine_hard_negatives`, its default and the CLI's
``--sources`` choices all come from here. A new source is one file under
``refaug/mining/sources/`` with a :class:`~refaug.mining.sources.base.CandidateSource`
subclass, plus one line here.

Example:
    >>> SOURCES
    ('same_image', 'cross_image', 'distractors')
    >>> build_source("same_image").name
    'same_image'
"""

from __future__ import annotations

from typing import Any

from refaug.registry import load_entry

CANDIDATE_SOURCES: dict[str, str] = {
    "same_image": "refaug.mining.sources.same_image:SameImageSource",
    "cross_image": "refaug.mining.sources.cross_image:CrossImageSource",
    "distractors": "refaug.mining.sources.distractors:DistractorSource",
}
# A source name: one of SOURCES (the registry's keys).
Source = str
SOURCES: tuple[str, ...] = tuple(CANDIDATE_SOURCES)


def source_class(name: str) -> type:
    """The :class:`~refaug.mining.sources.base.CandidateSource` subclass registered as ``name``."""
    return load_entry(CANDIDATE_SOURCES, name, what="sources")


def build_source(name: str) -> Any:
    """A fresh instance of the source ``name`` (an instance serves one mining call)."""
    return source_class(name)()
