"""The one interface every view backend implements.

A backend turns a batch of :class:`ImageRequest` (one per image: the rendered prompt,
the image and every referent of that image) into raw response texts. Parsing, retries,
caching and bookkeeping live in :mod:`refaug.views.generate`, not here, so a backend
only talks to its model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from refaug.records import Referent


@dataclass(frozen=True)
class SamplingSettings:
    """Decoding settings shared by the model backends (part of every cache key)."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 768
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ImageRequest:
    """Everything a backend needs to write the views of all referents of one image.

    Args:
        image_id: the image's id.
        image: a file path, encoded bytes, or None (text-only prompt).
        referents: every referent of the image that needs views, in a fixed order.
        prompt: the rendered prompt text (from ``prompts/``).
        json_schema: the JSON schema the response must follow.
    """

    image_id: int
    image: str | bytes | None
    referents: tuple[Referent, ...]
    prompt: str
    json_schema: dict[str, Any] = field(default_factory=dict)


class ViewBackend(ABC):
    """Base class of the view backends.

    Subclasses set ``name`` and implement :meth:`generate`. ``generate`` returns one item
    per request, in order: the raw response text, or an ``Exception`` for a request that
    failed in transport (timeout, server error) so the caller can retry just that one.
    """

    name: ClassVar[str] = "base"
    # computes on this machine's CPU in this process (no server, no GPU): worker processes can
    # share a dataset's images (ViewGenerator.run(workers=...))
    cpu_bound: ClassVar[bool] = False

    def __init__(self, *, model: str | None = None, sampling: SamplingSettings | None = None):
        self.model = model
        self.sampling = sampling or SamplingSettings()

    @abstractmethod
    def generate(self, requests: Sequence[ImageRequest]) -> list[str | Exception]:
        """Answer every request; never raise for a single bad request."""

    def identity(self) -> dict[str, Any]:
        """What makes two responses comparable: backend, model and sampling (for cache keys)."""
        return {"backend": self.name, "model": self.model, "sampling": self.sampling.to_dict()}

    def __getstate__(self) -> dict[str, Any]:
        # Loaded engines, models and clients stay out of pickles and datasets fingerprints.
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
