"""Colour names as points in CIELAB, so colours compare by how far apart they look.

Annotators name one object's colour differently ("beige couch" / "white loveseat", "pink" /
"red skier", "dark sheep" / "black sheep"). A colour word is looked up in the XKCD colour
survey's names (then CSS4's), both shipped with matplotlib, converted from sRGB (D65) to
CIELAB, and two colours are compared by their CIE76 difference (the distance in CIELAB). A
shade word darkens or lightens the colour it qualifies ("dark red");
alone ("dark sheep") it is a grey of that lightness.

Example:
    >>> round(color_distance("beige", "white"), 1) < NEAR_COLOR_DISTANCE < round(color_distance("beige", "black"), 1)
    True
"""

from __future__ import annotations

import math
from functools import cache, lru_cache

from refaug import lexicon as lx

# Lightness (CIELAB L*) a shade word alone stands for, and how far it moves a colour.
SHADE_LIGHTNESS = {"dark": 25.0, "light": 85.0, "pale": 85.0, "deep": 30.0}
SHADE_SHIFT = {"dark": -20.0, "deep": -15.0, "light": 15.0, "pale": 15.0}


@cache
def color_lab(word: str, shade: str = "") -> tuple[float, float, float] | None:
    """The CIELAB (L*, a*, b*) of a colour word, optionally under a shade ("dark"); None: unknown."""
    word, shade = word.lower(), shade.lower()
    if word in SHADE_LIGHTNESS and not shade:
        return (SHADE_LIGHTNESS[word], 0.0, 0.0)
    hex_code = _table().get(word)
    if hex_code is None:
        return None
    lab = _srgb_to_lab(hex_code)
    shift = SHADE_SHIFT.get(shade, 0.0)
    return (min(100.0, max(0.0, lab[0] + shift)), lab[1], lab[2])


@lru_cache(maxsize=1)
def _table() -> dict[str, str]:
    from matplotlib import colors

    table = {name.lower(): code for name, code in colors.CSS4_COLORS.items()}
    table.update({name.removeprefix("xkcd:").lower(): code for name, code in colors.XKCD_COLORS.items()})
    table["grey"] = table.get("grey", table["gray"])
    return table


def _srgb_to_lab(hex_code: str) -> tuple[float, float, float]:
    rgb = [int(hex_code[k : k + 2], 16) / 255.0 for k in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    x = (0.4124 * lin[0] + 0.3576 * lin[1] + 0.1805 * lin[2]) / 0.95047
    y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    z = (0.0193 * lin[0] + 0.1192 * lin[1] + 0.9505 * lin[2]) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    fx, fy, fz = f(x), f(y), f(z)
    return (116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz))


def lab_distance(lab1: tuple[float, float, float], lab2: tuple[float, float, float]) -> float:
    """The CIE76 colour difference: the Euclidean distance in CIELAB."""
    return math.dist(lab1, lab2)


def color_distance(a: str, b: str, *, shade_a: str = "", shade_b: str = "") -> float:
    """The CIELAB (CIE76) difference of two colour words (inf when either is unknown)."""
    lab_a, lab_b = color_lab(a, shade_a), color_lab(b, shade_b)
    if lab_a is None or lab_b is None:
        return math.inf
    return lab_distance(lab_a, lab_b)


def _family_spread() -> float:
    """The median distance of a colour word to its family's name in
    :data:`refaug.lexicon.COLOR_FAMILIES` (navy to blue, beige to brown, ...): how far apart two
    words may be and still name one colour, by the lexicon's own grouping."""
    spread = sorted(d for word, family in lx.COLOR_FAMILIES.items()
                    if word != family and math.isfinite(d := color_distance(word, family)))
    return spread[len(spread) // 2]


# Two colours nearer than this are one colour seen or named differently (an agreement "~");
# farther, a conflict. The bound comes from the lexicon's own families (see _family_spread).
NEAR_COLOR_DISTANCE: float = round(_family_spread(), 1)
