"""One image decoder for every stage that needs pixels (views backends, scorers, the collator).

Example:
    >>> from PIL import Image
    >>> decode_image(Image.new("L", (4, 3))).mode
    'RGB'
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from typing import Any

from refaug.errors import DataError

_NO_IMAGE_FIX = "load the dataset with its images (e.g. load_refer(..., image_root=...))"


def decode_image(value: Any, *, row: str | None = None, fix: str = _NO_IMAGE_FIX) -> Any:
    """Decode a row's ``image`` into a fully loaded RGB ``PIL.Image``.

    Args:
        value: a ``{"bytes": ..., "path": ...}`` dict (``datasets.Image(decode=False)``), a
            ``PIL.Image``, encoded bytes, or a file path.
        row: how to name the row in errors (a referent or image id).
        fix: what the error tells the user to do when the row has no image.

    Raises:
        DataError: the row has no image, or it cannot be read (the file and the cause named).

    Example:
        >>> decode_image(None, row="r1")  # doctest: +SKIP
        DataError: row r1: the row has no image (neither bytes nor a path). Fix: ...
    """
    from PIL import Image, UnidentifiedImageError

    source = value
    if isinstance(value, Mapping):
        source = value.get("bytes") if value.get("bytes") is not None else value.get("path")
    if source is None or (isinstance(source, str) and not source):
        raise DataError("the row has no image (neither bytes nor a path)", row=row, fix=fix)
    if isinstance(source, Image.Image):
        return source.convert("RGB")
    try:
        if isinstance(source, (bytes, bytearray)):
            with Image.open(io.BytesIO(source)) as opened:
                return opened.convert("RGB")
        with Image.open(os.fspath(source)) as opened:
            return opened.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"cannot read the image {source if isinstance(source, str) else ''}: {exc}".replace("  ", " "),
                        row=row, fix="check that the image file exists and is a valid picture") from exc
