"""The rules backend: colours from pixels, ranks and relations from boxes, actions from verbs."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from refaug.records import Referent
from refaug.views.backends import get_backend
from refaug.views.backends.base import ImageRequest
from refaug.views.backends.rules import COLOR_NAMES, RulesBackend, color_indices
from refaug.views.generate import ViewGenerator


def _referent(i, category, bbox, expressions=("x",), image=None, image_id=1):
    return Referent(
        referent_id=f"t-{i}",
        image_id=image_id,
        ann_id=i,
        ref_id=i,
        category=category,
        supercategory="thing",
        bbox=bbox,
        image=image,
        expressions=tuple(expressions),
        split="train",
    )


def _answer(referents, image=None):
    request = ImageRequest(image_id=1, image=image, referents=tuple(referents), prompt="")
    (text,) = RulesBackend().generate([request])
    return json.loads(text)


@pytest.fixture(scope="module")
def rules_views(synthetic_small):
    return ViewGenerator(RulesBackend()).run(synthetic_small, show_progress_bar=False)


def test_colour_names_match_the_drawn_colours(rules_views):
    # Every synthetic first expression starts "the <colour> <shape>", true of the pixels.
    for row in rules_views:
        colour = row["expressions"][0].split()[1]
        assert colour in row["views"]["appearance"].split(), (row["expressions"], row["views"])


def test_leftmost_and_rightmost_agree_with_the_truth(rules_views):
    checked = 0
    for row in rules_views:
        words = ("leftmost", "rightmost")
        truth = {w for w in words for e in row["expressions"] if e.startswith(w)}
        said = {w for w in words if w in row["views"]["spatial"]}
        if truth and said:
            assert said == truth, (row["expressions"], row["views"]["spatial"])
            checked += 1
    assert checked >= 5


def test_static_shapes_have_no_action_and_an_alternative(rules_views):
    for row in rules_views:
        views = row["views"]
        assert views["action"] is None and views["alternative"]
        assert views["alternative"] not in (views["appearance"], views["spatial"])
        assert views["source"]["backend"] == "rules" and views["source"]["model"] == "rules-v1"


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((220, 30, 30), "red"),
        ((245, 130, 20), "orange"),
        ((240, 210, 20), "yellow"),
        ((30, 160, 50), "green"),
        ((30, 70, 220), "blue"),
        ((130, 40, 170), "purple"),
        ((245, 120, 190), "pink"),
        ((120, 70, 30), "brown"),
        ((15, 15, 15), "black"),
        ((250, 250, 250), "white"),
        ((128, 128, 128), "gray"),
    ],
)
def test_pixel_colour_names(rgb, name):
    assert COLOR_NAMES[int(color_indices(np.array([rgb]))[0])] == name


def _png(width, height, boxes_colours, background=(170, 170, 170)) -> bytes:
    picture = Image.new("RGB", (width, height), background)
    pixels = picture.load()
    for (x, y, w, h), colour in boxes_colours:
        for px in range(x, x + w):
            for py in range(y, y + h):
                pixels[px, py] = colour
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def test_ranks_sizes_and_relations():
    image = _png(
        200,
        100,
        [
            ((10, 40, 20, 20), (220, 30, 30)),
            ((90, 40, 20, 20), (30, 70, 220)),
            ((160, 35, 30, 30), (30, 160, 50)),
            ((100, 5, 10, 10), (240, 210, 20)),
        ],
    )
    referents = [
        _referent(0, "box", (10, 40, 20, 20), image=image),
        _referent(1, "box", (90, 40, 20, 20), image=image),
        _referent(2, "box", (160, 35, 30, 30), image=image),
        _referent(3, "ball", (100, 5, 10, 10), image=image),
    ]
    answer = _answer(referents, image)
    assert answer["r1"]["spatial"] == "the leftmost box"
    assert answer["r2"]["spatial"] == "the second box from the left"
    assert answer["r3"]["spatial"] == "the rightmost box"
    assert answer["r3"]["appearance"] == "the big green box"
    assert answer["r1"]["appearance"] == "the red box"
    assert answer["r4"]["spatial"] == "the ball above the blue box"
    assert answer["r4"]["alternative"] == "the yellow ball at the top of the image"


def test_actions_come_from_verbs_in_the_expressions():
    referents = [
        _referent(0, "person", (0, 0, 10, 10), ["man holding an umbrella"]),
        _referent(1, "car", (20, 0, 10, 10), ["parked car on left"]),
        _referent(2, "dog", (40, 0, 10, 10), ["dog that is jumping for the frisbee"]),
        _referent(3, "person", (60, 0, 10, 10), ["lady wearing a hat"]),
    ]
    answer = _answer(referents)
    assert (
        answer["r1"]["action"] == "the person holding an umbrella"
        and answer["r1"]["alternative"] is None
    )
    assert answer["r2"]["action"] is None and answer["r2"]["alternative"]
    assert answer["r3"]["action"] == "the dog jumping for the frisbee"
    assert answer["r4"]["action"] is None  # clothing is appearance, not action


def test_no_image_still_gives_views():
    answer = _answer([_referent(0, "cat", (0, 0, 5, 5)), _referent(1, "dog", (50, 0, 5, 5))])
    assert answer["r1"]["appearance"] == "the cat"
    assert answer["r1"]["spatial"] == "the cat left of the dog"


def test_unreadable_image_writes_views_without_colour(caplog):
    answer = _answer([_referent(0, "cat", (0, 0, 5, 5), image=b"not an image")], b"not an image")
    assert answer["r1"]["appearance"] == "the cat"
    assert "cannot read an image" in caplog.text


def test_registry_builds_the_rules_backend():
    backend = get_backend("rules")
    assert isinstance(backend, RulesBackend) and backend.identity()["backend"] == "rules"


def test_texts_keep_within_the_schema_bound(synthetic_small):
    from refaug.views.schema import ViewSchema, parse_response

    generator = ViewGenerator(RulesBackend(), schema=ViewSchema(max_chars=20))
    out = generator.run(synthetic_small.select(range(10)), show_progress_bar=False)
    texts = [t for v in out["views"] if v for k, t in v.items() if k != "source" and t]
    assert texts and max(len(t) for t in texts) <= 20
    assert parse_response('{"r1": {"appearance": "x", "action": null, "spatial": "y", "alternative": "z"}}', ["r1"]).ok


def test_colour_table_names_pixels_as_color_indices_does():
    from refaug.views.backends.rules import _color_table, _rgb_codes

    rng = np.random.default_rng(0)
    pixels = np.concatenate([rng.integers(0, 256, (50_000, 3)), np.repeat(np.arange(256), 3).reshape(-1, 3),
                             [[0, 0, 0], [255, 255, 255], [255, 0, 0], [120, 70, 30]]]).astype(np.uint8)
    np.testing.assert_array_equal(_color_table()[_rgb_codes(pixels)], color_indices(pixels))
