"""Multi-view cluster generation: prompts -> backend -> parsed views.

Example:
    >>> from refaug.views import ViewGenerator, get_backend
    >>> generator = ViewGenerator(get_backend("rules"))
"""

from __future__ import annotations

from refaug.views.backends import SamplingSettings, ViewBackend, get_backend
from refaug.views.generate import GenerationReport, ViewFailure, ViewGenerator, prompt_variables
from refaug.views.schema import ParsedViews, ParseFailure, ViewSchema, parse_response

__all__ = [
    "GenerationReport",
    "ParseFailure",
    "ParsedViews",
    "SamplingSettings",
    "ViewBackend",
    "ViewFailure",
    "ViewGenerator",
    "ViewSchema",
    "get_backend",
    "parse_response",
    "prompt_variables",
]
