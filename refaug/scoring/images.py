"""Images for image scorers: a row's image decoded once per batch, and its referent's box."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from refaug.images import decode_image


def load_image(value: Any, *, referent: str = "referent") -> Any:
    """Decode a row's ``image`` into an RGB ``PIL.Image`` (:func:`refaug.images.decode_image`).

    Raises:
        DataError: the row has no image, or it cannot be read.

    Example:
        >>> from PIL import Image
        >>> load_image(Image.new("L", (4, 3))).mode
        'RGB'
    """
    return decode_image(value, row=referent, fix=(
        "load the dataset with its images (e.g. load_refer(..., image_root=...)) or "
        "score it with a text-only scorer such as TextScorer"))


def _image_key(value: Any) -> Any:
    """A hashable key that is equal for rows sharing one image (decode it once)."""
    if isinstance(value, Mapping):
        if value.get("bytes") is not None:
            return bytes(value["bytes"])
        return ("path", value.get("path"))
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, (str, os.PathLike)):
        return ("path", os.fspath(value))
    return ("object", id(value))


def crop_box(
    bbox: Sequence[float], image_size: tuple[int, int], *, padding: float = 0.0
) -> tuple[int, int, int, int]:
    """The pixel box ``(left, top, right, bottom)`` of ``bbox`` grown by ``padding``, in the image.

    Args:
        bbox: ``[x, y, w, h]`` in pixels.
        image_size: ``(width, height)``.
        padding: added on each side, as a fraction of the box's width and height.

    Example:
        >>> crop_box([10, 10, 20, 10], (64, 48), padding=0.5)
        (0, 5, 40, 25)
    """
    x, y, w, h = (float(v) for v in bbox)
    width, height = image_size
    if not (w > 0 and h > 0):
        raise ValueError(f"bbox={list(bbox)} has no area; boxes are [x, y, w, h] with w, h > 0")
    left = max(0, math.floor(x - padding * w))
    top = max(0, math.floor(y - padding * h))
    right = min(width, math.ceil(x + w + padding * w))
    bottom = min(height, math.ceil(y + h + padding * h))
    left, top = min(left, width - 1), min(top, height - 1)
    return left, top, max(right, left + 1), max(bottom, top + 1)

