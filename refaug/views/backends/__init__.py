"""The view backends, by name: ``rules``, ``transformers``, ``vllm``, ``openai``.

Backend modules are imported only when asked for, so the optional engines (vLLM, the
OpenAI client) are needed only by those who use them.

Example:
    >>> get_backend("rules").name
    'rules'
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from refaug.errors import BackendError
from refaug.views.backends.base import ImageRequest, SamplingSettings, ViewBackend

BACKEND_MODULES: dict[str, str] = {
    "rules": "refaug.views.backends.rules",
    "transformers": "refaug.views.backends.transformers",
    "vllm": "refaug.views.backends.vllm",
    "openai": "refaug.views.backends.openai",
}

__all__ = [
    "BACKEND_MODULES",
    "ImageRequest",
    "SamplingSettings",
    "ViewBackend",
    "backend_class",
    "get_backend",
]


def backend_class(name: str) -> type[ViewBackend]:
    """The :class:`ViewBackend` subclass registered as ``name``."""
    if name not in BACKEND_MODULES:
        valid = ", ".join(repr(n) for n in sorted(BACKEND_MODULES))
        raise ValueError(f"backend={name!r} is not valid; choose one of {valid}")
    try:
        module = importlib.import_module(BACKEND_MODULES[name])
    except ImportError as exc:
        raise BackendError(
            f"the {name!r} backend cannot be imported: {exc}. Fix: pip install 'refaug[{name}]'"
        ) from exc
    for value in vars(module).values():
        if inspect.isclass(value) and issubclass(value, ViewBackend) and value.name == name:
            return value
    raise BackendError(f"{BACKEND_MODULES[name]} defines no ViewBackend named {name!r}")


def get_backend(name: str = "rules", **options: Any) -> ViewBackend:
    """Build the backend ``name`` with its keyword ``options`` (``model=...``, ``base_url=...``).

    Raises:
        ValueError: an unknown name (the message lists the valid ones) or an option the
            backend does not take.
    """
    cls = backend_class(name)
    accepted = inspect.signature(cls.__init__).parameters
    unknown = sorted(k for k in options if k not in accepted)
    if unknown and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        valid = ", ".join(sorted(k for k in accepted if k != "self"))
        raise ValueError(
            f"the {name!r} backend takes no option {', '.join(unknown)}; it takes {valid}"
        )
    return cls(**options)
