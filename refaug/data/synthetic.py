"""Generated scenes with real pixels, true boxes and true descriptions.

Every image holds 2-6 flat shapes of several kinds, colours and sizes on a plain
background. Each shape is a referent whose expressions are *true* of the picture:
its colour and shape, its horizontal position, its size among shapes of its kind, its
rank from the left among shapes of its kind, and its relation to its nearest neighbour.
This is the demo data and the test bed of every stage: the truth is known.

Example:
    >>> ds = synthetic_scenes(4, seed=0)
    >>> ds[0]["expressions"]  # doctest: +SKIP
    ['the red circle on the left', 'big red circle']
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import Dataset
from PIL import Image, ImageDraw

from refaug.records import REFERENT_FEATURES

logger = logging.getLogger(__name__)

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "hexagon", "diamond")
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 160, 50),
    "blue": (30, 70, 220),
    "yellow": (240, 210, 20),
    "orange": (245, 130, 20),
    "purple": (130, 40, 170),
    "pink": (245, 120, 190),
    "brown": (120, 70, 30),
    "black": (15, 15, 15),
    "white": (250, 250, 250),
}
BACKGROUND = (170, 170, 170)
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")


@dataclass(frozen=True)
class Shape:
    """One drawn object: kind, colour name, centre and radius in pixels."""

    kind: str
    color: str
    cx: float
    cy: float
    r: float

    def polygon(self) -> list[tuple[float, float]]:
        return _polygon(self.kind, self.cx, self.cy, self.r)

    def bbox(self, width: int, height: int) -> tuple[float, float, float, float]:
        xs, ys = zip(*self.polygon())
        x0, y0 = max(0.0, min(xs)), max(0.0, min(ys))
        x1, y1 = min(float(width), max(xs)), min(float(height), max(ys))
        return (round(x0, 1), round(y0, 1), round(x1 - x0, 1), round(y1 - y0, 1))


def _regular(cx: float, cy: float, r: float, n: int, phase: float) -> list[tuple[float, float]]:
    return [
        (cx + r * math.cos(phase + 2 * math.pi * k / n), cy + r * math.sin(phase + 2 * math.pi * k / n))
        for k in range(n)
    ]


def _polygon(kind: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if kind == "circle":
        return _regular(cx, cy, r, 48, 0.0)
    if kind == "square":
        return _regular(cx, cy, r, 4, math.pi / 4)
    if kind == "triangle":
        return _regular(cx, cy, r, 3, -math.pi / 2)
    if kind == "hexagon":
        return _regular(cx, cy, r, 6, 0.0)
    if kind == "diamond":
        return [(cx, cy - r), (cx + 0.65 * r, cy), (cx, cy + r), (cx - 0.65 * r, cy)]
    if kind == "star":
        outer = _regular(cx, cy, r, 5, -math.pi / 2)
        inner = _regular(cx, cy, r * 0.45, 5, -math.pi / 2 + math.pi / 5)
        return [p for pair in zip(outer, inner) for p in pair]
    raise ValueError(f"shape kind={kind!r} is not valid; choose one of {', '.join(SHAPES)}")


def _place_shapes(rng: np.random.Generator, width: int, height: int) -> list[Shape]:
    """Draw 2-6 shapes that do not overlap; at least one kind repeats in most scenes."""
    n = int(rng.integers(2, 7))
    kinds = list(rng.choice(SHAPES, size=n, replace=True))
    if n >= 3 and len(set(kinds)) == n:  # make repeated kinds common: they make hard cases
        kinds[-1] = kinds[0]
    scale = min(width, height)
    shapes: list[Shape] = []
    for kind in kinds:
        for _ in range(200):
            r = float(rng.uniform(0.06, 0.16) * scale)
            cx = float(rng.uniform(r, width - r))
            cy = float(rng.uniform(r, height - r))
            if all(math.hypot(cx - s.cx, cy - s.cy) > r + s.r + 0.02 * scale for s in shapes):
                used = {s.color for s in shapes if s.kind == kind}
                free = [c for c in COLORS if c not in used]
                color = str(rng.choice(free))
                shapes.append(Shape(str(kind), color, cx, cy, r))
                break
    return shapes


def _render(shapes: list[Shape], width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for s in shapes:
        draw.polygon(s.polygon(), fill=COLORS[s.color], outline=(60, 60, 60))
    return image


def _horizontal(s: Shape, width: int) -> str | None:
    if s.cx < width / 3:
        return "on the left"
    if s.cx > 2 * width / 3:
        return "on the right"
    return None


def _size_word(s: Shape, same_kind: list[Shape]) -> str | None:
    if len(same_kind) < 2:
        return None
    radii = sorted(o.r for o in same_kind)
    if s.r == radii[-1] and radii[-1] > 1.25 * radii[-2]:
        return "big"
    if s.r == radii[0] and radii[1] > 1.25 * radii[0]:
        return "small"
    return None


def _relation(s: Shape, shapes: list[Shape]) -> str | None:
    others = [o for o in shapes if o is not s]
    if not others:
        return None
    near = min(others, key=lambda o: math.hypot(o.cx - s.cx, o.cy - s.cy))
    dx, dy = near.cx - s.cx, near.cy - s.cy
    if abs(dy) >= abs(dx):
        word = "above" if dy > 0 else "below"
    else:
        word = "left of" if dx > 0 else "right of"
    return f"the {s.kind} {word} the {near.color} {near.kind}"


def _expressions(s: Shape, shapes: list[Shape], width: int, rng: np.random.Generator) -> list[str]:
    """Between one and three true expressions for ``s``, most specific first."""
    same_kind = sorted((o for o in shapes if o.kind == s.kind), key=lambda o: o.cx)
    options: list[str] = []
    where = _horizontal(s, width)
    options.append(f"the {s.color} {s.kind} {where}" if where else f"the {s.color} {s.kind}")
    size = _size_word(s, same_kind)
    if size:
        options.append(f"{size} {s.color} {s.kind}")
    if len(same_kind) >= 2:
        rank = same_kind.index(s)
        if rank == 0:
            options.append(f"leftmost {s.kind}")
        elif rank == len(same_kind) - 1:
            options.append(f"rightmost {s.kind}")
        else:
            options.append(f"the {ORDINALS[rank]} {s.kind} from the left")
    relation = _relation(s, shapes)
    if relation:
        options.append(relation)
    k = int(rng.integers(1, min(3, len(options)) + 1))
    keep = [options[0], *rng.permutation(options[1:]).tolist()][:k]
    return keep


def _encode_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _scene_rows(
    index: int, *, seed: int, width: int, height: int, image_dir: Path | None
) -> list[dict]:
    rng = np.random.default_rng([seed, index])
    shapes = _place_shapes(rng, width, height)
    picture = _render(shapes, width, height)
    if image_dir is not None:
        path = image_dir / f"synthetic_{index:07d}.png"
        picture.save(path, format="PNG", compress_level=1)
        image = {"bytes": None, "path": str(path)}
    else:
        image = {"bytes": _encode_png(picture), "path": None}
    rows = []
    for k, s in enumerate(shapes):
        ref_id = index * 10 + k
        rows.append(
            {
                "referent_id": f"synthetic-{index}-{k}",
                "image_id": index,
                "ann_id": ref_id,
                "ref_id": ref_id,
                "category": s.kind,
                "supercategory": "shape",
                "bbox": list(s.bbox(width, height)),
                "image": image,
                "expressions": _expressions(s, shapes, width, rng),
                "split": "train",
            }
        )
    return rows


def synthetic_scenes(
    n_images: int,
    *,
    seed: int = 0,
    image_size: tuple[int, int] = (640, 480),
    image_dir: str | Path | None = None,
) -> Dataset:
    """Render ``n_images`` scenes and return one row per shape in the canonical schema.

    Args:
        n_images: how many images to render (about 3.6 referents each).
        seed: the seed; image ``i`` uses its own generator derived from ``(seed, i)``, so
            the first images are the same whatever ``n_images`` is.
        image_size: ``(width, height)`` in pixels.
        image_dir: when given, images are written there as PNG files and rows hold their
            paths; otherwise rows hold the PNG bytes.

    Returns:
        A ``datasets.Dataset`` with :data:`refaug.records.REFERENT_FEATURES`.

    Example:
        >>> ds = synthetic_scenes(2, seed=1, image_size=(64, 48))
        >>> sorted(ds.column_names)[:3]
        ['ann_id', 'bbox', 'category']
    """
    if n_images < 0:
        raise ValueError(f"n_images={n_images} must be >= 0")
    width, height = image_size
    if width < 32 or height < 32:
        raise ValueError(f"image_size={image_size} is too small; use at least (32, 32)")
    folder = Path(image_dir) if image_dir is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for index in range(n_images):
        rows.extend(_scene_rows(index, seed=seed, width=width, height=height, image_dir=folder))
    logger.info("rendered %d synthetic images with %d referents", n_images, len(rows))
    return Dataset.from_list(rows, features=REFERENT_FEATURES)
