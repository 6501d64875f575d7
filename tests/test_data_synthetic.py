from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from refaug.data.synthetic import COLORS, SHAPES, synthetic_scenes
from refaug.records import REFERENT_FEATURES


def test_schema_counts_and_determinism(synthetic_small):
    ds = synthetic_small
    assert ds.features == REFERENT_FEATURES
    per_image = np.bincount(ds["image_id"])
    assert per_image.min() >= 2 and per_image.max() <= 6
    assert all(1 <= len(e) <= 3 for e in ds["expressions"])
    assert synthetic_scenes(12, seed=0)[:] == ds[:]
    assert synthetic_scenes(12, seed=1)["expressions"] != ds["expressions"]
    assert len(set(ds["referent_id"])) == len(ds)


def test_prefix_stability():
    """Image i depends only on (seed, i): a bigger run starts with the same images."""
    small, big = synthetic_scenes(3, seed=5), synthetic_scenes(6, seed=5)
    assert big.select(range(len(small)))[:] == small[:]


def test_pixels_inside_the_box_have_the_named_colour(synthetic_small):
    for row in synthetic_small.select(range(20)):
        image = np.asarray(Image.open(io.BytesIO(row["image"]["bytes"])).convert("RGB"))
        x, y, w, h = (int(round(v)) for v in row["bbox"])
        cx, cy = x + w // 2, y + h // 2
        color = next(c for c in COLORS if c in row["expressions"][0].split())
        assert tuple(image[cy, cx]) == COLORS[color], row["referent_id"]
        assert row["category"] in SHAPES
        assert row["category"] in row["expressions"][0]


def test_spatial_words_are_true(synthetic_small):
    for row in synthetic_small:
        x, _, w, _ = row["bbox"]
        for text in row["expressions"]:
            if text.endswith("on the left"):
                assert x + w / 2 < 640 / 3 + 1
            if text.endswith("on the right"):
                assert x + w / 2 > 2 * 640 / 3 - 1


def test_image_dir_writes_files(tmp_path):
    ds = synthetic_scenes(2, seed=0, image_size=(64, 48), image_dir=tmp_path)
    paths = {r["image"]["path"] for r in ds}
    assert len(paths) == 2 and all(Image.open(p).size == (64, 48) for p in paths)


def test_bad_arguments():
    with pytest.raises(ValueError, match="image_size"):
        synthetic_scenes(1, image_size=(8, 8))
    with pytest.raises(ValueError, match="n_images"):
        synthetic_scenes(-1)
