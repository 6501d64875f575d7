"""The ``rules`` backend: views without a model.

It is honest about what it is. From what a request holds (the boxes of every referent of
the image, the pixels, the original expressions) it writes:

* **appearance**: the dominant colour of the pixels inside the box (named by hue,
  saturation and value, with the colours of a ring just outside the box subtracted so the
  background does not win), the relative size among objects of the same category, and
  the category: ``"the big red circle"``.
* **spatial**: the rank along the axis where objects of the same category spread most
  (``"the second circle from the left"``, ``"the topmost square"``); for a category that
  occurs once, the relation to the nearest other object (``"the square above the green
  star"``); alone in the image, the place in the image (``"the star in the top left of
  the image"``).
* **action**: a verb phrase found by spaCy in the original expressions (``"man holding
  an umbrella"`` -> ``"the person holding an umbrella"``); null when there is none, and
  then **alternative** is the object's place in the image with its colour.

The answer is the same JSON a model would write, so it goes through the same parser.
Its ``source`` says ``rules``, model ``rules-v1``.

Example:
    >>> from refaug.data.synthetic import synthetic_scenes
    >>> from refaug.views.generate import ViewGenerator
    >>> out = ViewGenerator(RulesBackend()).run(synthetic_scenes(1), show_progress_bar=False)
    >>> sorted(out[0]["views"]) == ["action", "alternative", "appearance", "source", "spatial"]
    True
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from refaug.nlp import load_nlp
from refaug.records import Referent
from refaug.views.backends.base import ImageRequest, SamplingSettings, ViewBackend
from refaug.views.schema import local_ids, text_bound

logger = logging.getLogger(__name__)

RULES_VERSION = "rules-v1"  # bump when the wording changes: it is part of every cache key
COLOR_NAMES: tuple[str, ...] = (
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "brown",
    "black",
    "white",
    "gray",
)
ORDINALS: tuple[str, ...] = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh")
# A size word needs a margin: 1.5x the area of the next object of the category. Below that,
# people disagree on "big" (RefCOCO's size words are relative and mostly for clear gaps).
SIZE_RATIO = 1.5
# A colour must cover at least this share of the box, net of the surrounding ring, to be named.
MIN_COLOR_SHARE = 0.12
MAX_SAMPLED_PIXELS = 4096  # pixels sampled per box; enough for a stable histogram
ACTION_TAGS = frozenset({"VBG", "VBZ", "VBP", "VBD", "VB"})  # not VBN: "parked", "striped"
NOT_ACTIONS = frozenset(
    {
        "be",
        "have",
        "do",
        "left",
        "right",
        "top",
        "bottom",
        "front",
        "back",
        "center",
        "centre",
        "middle",
        "face",
        "near",
        "close",
        "far",
        "see",
        "look",
        "show",
        "wear",
        "dress",
    }
)
MAX_ACTION_WORDS = 7
UNBOUNDED = 10_000  # the bound when a request's schema sets none
_UNSAFE = re.compile(r"[^A-Za-z0-9 ,.'\-]+")


@dataclass(frozen=True)
class _Box:
    cx: float
    cy: float
    area: float


class RulesBackend(ViewBackend):
    """Writes views from boxes, pixels and the parse of the original expressions.

    Args:
        spacy_model: the spaCy pipeline used to find verbs (default: :func:`refaug.nlp.load_nlp`'s).
        sampling: unused (nothing is sampled); accepted for a uniform interface.
    """

    name: ClassVar[str] = "rules"
    cpu_bound: ClassVar[bool] = True

    def __init__(self, *, spacy_model: str | None = None, sampling: SamplingSettings | None = None):
        super().__init__(model=RULES_VERSION, sampling=sampling)
        self.spacy_model = spacy_model
        # the verb phrase of each text parsed so far: expressions repeat across referents and the
        # generator calls generate() a few images at a time, so a text is parsed once per backend
        # (underscored: left out of pickles and fingerprints, ViewBackend.__getstate__)
        self._phrases: dict[str, str | None] = {}

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model, "spacy_model": self.spacy_model}

    def generate(self, requests: Sequence[ImageRequest]) -> list[str | Exception]:
        """One JSON answer per request, in order."""
        actions = self._actions([r for request in requests for r in request.referents])
        return [json.dumps(self._answer(request, actions)) for request in requests]

    def _answer(self, request: ImageRequest, actions: dict[str, str | None]) -> dict[str, Any]:
        """One answer; each text is the most detailed phrasing that fits the schema's bound."""
        referents = request.referents
        limit = text_bound(request.json_schema) or UNBOUNDED
        pixels = _load_pixels(request.image)
        frame = (pixels.shape[1], pixels.shape[0]) if pixels is not None else _frame(referents)
        boxes = [_box(r.bbox) for r in referents]
        colors = [_dominant_color(pixels, r.bbox) for r in referents]
        answer = {}
        for i, (local_id, referent) in enumerate(zip(local_ids(len(referents)), referents)):
            category, color = _clean(referent.category) or "object", colors[i]
            place, near = _place_in_image(boxes[i], frame)
            size = _size_word(i, referents, boxes)
            appearance = _choose(
                [
                    _words("the", size, color, category),
                    _words("the", color, category),
                    _words(color, category),
                    _words("the", category),
                ],
                limit,
            )
            spatial = _choose(_spatial(i, referents, boxes, colors, (place, near)), limit)
            action = _fit(actions.get(referent.referent_id), limit)
            alternative = None
            if action is None:
                alternative = _choose(
                    [
                        _words("the", color, category, place),
                        _words("the", category, place),
                        _words("the", color, category, near),
                        _words("the", category, near),
                        _words(category, near),
                        _words(category, near.split(" ", 2)[-1]),
                    ],
                    limit,
                    avoid=(appearance, spatial),
                )
            answer[local_id] = {
                "appearance": appearance,
                "action": action,
                "spatial": spatial,
                "alternative": alternative,
            }
        return answer

    # ------------------------------------------------------------------ actions (spaCy)

    def _actions(self, referents: Sequence[Referent]) -> dict[str, str | None]:
        """The first verb phrase in each referent's expressions, parsed in one ``nlp.pipe``."""
        texts = [(e, r) for r in referents for e in r.expressions if e.strip()]
        found: dict[str, str | None] = {r.referent_id: None for r in referents}
        phrases = self.__dict__.setdefault("_phrases", {})  # absent in an unpickled copy
        new = [t for t in dict.fromkeys(text for text, _ in texts) if t not in phrases]
        if new:
            nlp = load_nlp(self.spacy_model, disable=("ner",))
            phrases.update(zip(new, map(_verb_phrase, nlp.pipe(new, batch_size=256)), strict=True))
        for text, referent in texts:
            phrase = phrases[text]
            if found[referent.referent_id] is None and phrase:
                found[referent.referent_id] = _words("the", _clean(referent.category), phrase)
        return found


def _verb_phrase(doc: Any) -> str | None:
    for token in doc:
        if token.pos_ != "VERB" or token.tag_ not in ACTION_TAGS:
            continue
        if token.lemma_.lower() in NOT_ACTIONS or token.text.lower() in NOT_ACTIONS:
            continue
        words = [t.text for t in doc[token.i : token.right_edge.i + 1]][:MAX_ACTION_WORDS]
        phrase = _clean(" ".join(words))
        if phrase:
            return phrase
    return None


# ---------------------------------------------------------------------- geometry


def _box(bbox: Sequence[float]) -> _Box:
    x, y, w, h = bbox
    return _Box(cx=x + w / 2, cy=y + h / 2, area=max(w, 0.0) * max(h, 0.0))


def _frame(referents: Sequence[Referent]) -> tuple[float, float]:
    """The extent of all boxes: the frame used when the image size is unknown."""
    right = max((r.bbox[0] + r.bbox[2] for r in referents), default=1.0)
    bottom = max((r.bbox[1] + r.bbox[3] for r in referents), default=1.0)
    return max(right, 1.0), max(bottom, 1.0)


def _size_word(i: int, referents: Sequence[Referent], boxes: Sequence[_Box]) -> str | None:
    peers = [
        boxes[j].area
        for j, r in enumerate(referents)
        if j != i and r.category == referents[i].category
    ]
    if not peers or boxes[i].area <= 0:
        return None
    if boxes[i].area >= SIZE_RATIO * max(peers):
        return "big"
    if boxes[i].area * SIZE_RATIO <= min(peers):
        return "small"
    return None


def _spatial(
    i: int,
    referents: Sequence[Referent],
    boxes: Sequence[_Box],
    colors: Sequence[str | None],
    place: tuple[str, str],
) -> list[str]:
    """Spatial phrasings of referent ``i``, the most detailed first."""
    category = _clean(referents[i].category) or "object"
    peers = [j for j, r in enumerate(referents) if r.category == referents[i].category]
    if len(peers) >= 2:
        phrase = _rank_phrase(i, peers, boxes, category)
        return [phrase, phrase.replace(" from the ", " from ").removeprefix("the ")]
    others = [j for j in range(len(referents)) if j != i]
    if not others:
        return [_words("the", category, place[0]), _words("the", category, place[1])]
    nearest = min(others, key=lambda j: _distance(boxes[i], boxes[j]))
    other = _clean(referents[nearest].category) or "object"
    relation = _relation(boxes[i], boxes[nearest])
    return [
        _words("the", category, relation, "the", colors[nearest], other),
        _words("the", category, relation, "the", other),
        _words(category, relation, other),
    ]


def _rank_phrase(i: int, peers: Sequence[int], boxes: Sequence[_Box], category: str) -> str:
    xs = [boxes[j].cx for j in peers]
    ys = [boxes[j].cy for j in peers]
    horizontal = (max(xs) - min(xs)) >= (max(ys) - min(ys))
    key = (lambda j: boxes[j].cx) if horizontal else (lambda j: boxes[j].cy)
    order = sorted(peers, key=key)
    rank, last = order.index(i), len(order) - 1
    first_side, last_side = ("left", "right") if horizontal else ("top", "bottom")
    extreme = {"left": "leftmost", "right": "rightmost", "top": "topmost", "bottom": "lowest"}
    if rank == 0:
        return _words("the", extreme[first_side], category)
    if rank == last:
        return _words("the", extreme[last_side], category)
    if rank <= last - rank:
        return _words(
            "the", ORDINALS[min(rank, len(ORDINALS) - 1)], category, "from the", first_side
        )
    back = last - rank
    return _words("the", ORDINALS[min(back, len(ORDINALS) - 1)], category, "from the", last_side)


def _relation(box: _Box, other: _Box) -> str:
    dx, dy = box.cx - other.cx, box.cy - other.cy
    if abs(dx) >= abs(dy):
        return "left of" if dx < 0 else "right of"
    return "above" if dy < 0 else "below"


def _distance(a: _Box, b: _Box) -> float:
    return float(np.hypot(a.cx - b.cx, a.cy - b.cy))


def _place_in_image(box: _Box, size: tuple[float, float]) -> tuple[str, str]:
    """Where the box's centre lies in the image (thirds), in a long and a short phrasing."""
    width, height = size
    fx, fy = box.cx / max(width, 1.0), box.cy / max(height, 1.0)
    horizontal = "left" if fx < 1 / 3 else "right" if fx > 2 / 3 else None
    vertical = "top" if fy < 1 / 3 else "bottom" if fy > 2 / 3 else None
    if horizontal and vertical:
        short = f"in the {vertical} {horizontal}"
    elif horizontal:
        short = f"on the {horizontal}"
    elif vertical:
        short = f"at the {vertical}"
    else:
        short = "in the centre"
    return f"{short} of the image", short


# ---------------------------------------------------------------------- colour


def _load_pixels(image: str | bytes | None) -> np.ndarray | None:
    if image is None:
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image) if isinstance(image, bytes) else image) as picture:
            return np.asarray(picture.convert("RGB"))
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        logger.warning(
            "rules backend: cannot read an image (%s); writing views without colour", exc
        )
        return None


def _dominant_color(pixels: np.ndarray | None, bbox: Sequence[float]) -> str | None:
    """The colour that covers most of the box beyond its share of the ring around the box."""
    if pixels is None:
        return None
    height, width = pixels.shape[:2]
    x, y, w, h = bbox
    x0, y0 = max(int(x), 0), max(int(y), 0)
    x1, y1 = min(int(np.ceil(x + w)), width), min(int(np.ceil(y + h)), height)
    if x1 <= x0 or y1 <= y0:
        return None
    inside = _color_shares(_sample(pixels[y0:y1, x0:x1]))
    margin = max(2, int(0.15 * max(w, h)))
    ring = _ring(pixels, x0, y0, x1, y1, margin)
    outside = _color_shares(_sample(ring)) if ring.size else np.zeros(len(COLOR_NAMES))
    net = inside - outside
    best = int(np.argmax(net))
    if inside[best] < MIN_COLOR_SHARE or net[best] <= 0:
        best = int(np.argmax(inside))  # the object fills the ring too: take the plain majority
    return COLOR_NAMES[best] if inside[best] >= MIN_COLOR_SHARE else None


def _ring(pixels: np.ndarray, x0: int, y0: int, x1: int, y1: int, margin: int) -> np.ndarray:
    height, width = pixels.shape[:2]
    X0, Y0 = max(x0 - margin, 0), max(y0 - margin, 0)
    X1, Y1 = min(x1 + margin, width), min(y1 + margin, height)
    outer = pixels[Y0:Y1, X0:X1].reshape(-1, 3)
    mask = np.ones((Y1 - Y0, X1 - X0), dtype=bool)
    mask[y0 - Y0 : y1 - Y0, x0 - X0 : x1 - X0] = False
    return outer[mask.reshape(-1)]


def _sample(region: np.ndarray) -> np.ndarray:
    flat = region.reshape(-1, 3)
    step = max(1, flat.shape[0] // MAX_SAMPLED_PIXELS)
    return flat[::step]


def _color_shares(rgb: np.ndarray) -> np.ndarray:
    """The share of each of :data:`COLOR_NAMES` among ``rgb`` pixels (rows of 0-255 values)."""
    if rgb.size == 0:
        return np.zeros(len(COLOR_NAMES))
    names = _color_table()[_rgb_codes(rgb)] if rgb.dtype == np.uint8 else color_indices(rgb)
    return np.bincount(names, minlength=len(COLOR_NAMES)) / len(names)


def _rgb_codes(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int32)
    return (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]


@lru_cache(maxsize=1)
def _color_table() -> np.ndarray:
    """:func:`color_indices` of every 8-bit RGB value (16 MB, built once in about a second):
    naming a pixel is then one lookup, with the very same names."""
    table = np.empty(1 << 24, np.uint8)
    for red in range(0, 256, 16):  # in slices of 16 reds: 50 MB of float32 at a time, not 800
        codes = np.arange(red << 16, (red + 16) << 16, dtype=np.int32)
        rgb = np.stack([codes >> 16, (codes >> 8) & 255, codes & 255], axis=1).astype(np.uint8)
        table[codes] = color_indices(rgb)
    return table


def color_indices(rgb: np.ndarray) -> np.ndarray:
    """Name each pixel: an index into :data:`COLOR_NAMES`, from its hue, saturation and value."""
    values = rgb.astype(np.float32) / 255.0
    r, g, b = values[:, 0], values[:, 1], values[:, 2]
    high, low = np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)
    chroma = high - low
    saturation = np.where(high > 0, chroma / np.maximum(high, 1e-6), 0.0)
    hue = _hue(values, high, chroma)
    bins = np.array([15, 40, 70, 170, 260, 300, 340], dtype=np.float32)
    by_hue = np.array([0, 1, 2, 3, 4, 5, 6, 0])[np.searchsorted(bins, hue, side="right")]
    names = by_hue.copy()
    warm = (by_hue <= 1) & (high < 0.6)
    names[warm] = COLOR_NAMES.index("brown")
    light_red = (by_hue == 0) & (saturation < 0.5) & (high > 0.8)
    names[light_red] = COLOR_NAMES.index("pink")
    grey = saturation < 0.2
    names[grey] = np.where(high[grey] > 0.85, COLOR_NAMES.index("white"), COLOR_NAMES.index("gray"))
    names[high < 0.2] = COLOR_NAMES.index("black")
    return names


def _hue(values: np.ndarray, high: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    r, g, b = values[:, 0], values[:, 1], values[:, 2]
    safe = np.maximum(chroma, 1e-6)
    hue = np.where(
        high == r,
        ((g - b) / safe) % 6,
        np.where(high == g, (b - r) / safe + 2, (r - g) / safe + 4),
    )
    return (hue * 60.0) % 360.0


# ---------------------------------------------------------------------- text


def _clean(text: str | None) -> str:
    return " ".join(_UNSAFE.sub(" ", text or "").split())


_DANGLING = frozenset({"the", "a", "of", "from", "in", "on", "at", "to", "and", "with", "seen"})


def _choose(candidates: Sequence[str], limit: int, *, avoid: Sequence[str | None] = ()) -> str:
    """The first candidate within ``limit`` characters and unlike ``avoid``; else the first, cut."""
    taken = {a.lower() for a in avoid if a}
    for candidate in candidates:
        if candidate and len(candidate) <= limit and candidate.lower() not in taken:
            return candidate
    for candidate in candidates:
        cut = _fit(candidate, limit)
        if cut and cut.lower() not in taken:
            return cut
    return _fit(candidates[0], limit) or candidates[0][:limit]


def _fit(text: str | None, limit: int) -> str | None:
    """``text`` cut at a word boundary to at most ``limit`` characters, without a dangling word."""
    if text is None or len(text) <= limit:
        return text
    words = text[: limit + 1].split()
    if len(text) > limit and len(" ".join(words)) > limit:
        words = words[:-1]
    while len(words) > 1 and words[-1].lower() in _DANGLING:
        words.pop()
    return " ".join(words)[:limit] or text[:limit]


def _words(*parts: str | None) -> str:
    return " ".join(p for p in parts if p)
