from __future__ import annotations

import io

import pytest
from datasets import Dataset, Features, Image, List, Value
from PIL import Image as PILImage

from refaug.data.hub import from_hub_rows
from refaug.errors import DataError
from refaug.records import REFERENT_FEATURES
from tests import refer_files


def _refer_layout() -> Dataset:
    rows = []
    for ref, (_, _, _, bbox, _, _) in zip(refer_files.refs(), refer_files.REFS):
        rows.append({**ref, "bbox": bbox, "raw_anns": "{}"})
    return Dataset.from_list(rows)


def _png(color: str) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (8, 8), color).save(buffer, format="PNG")
    return buffer.getvalue()


def _lmms_layout() -> Dataset:
    features = Features(
        {
            "question_id": Value("string"),
            "image": Image(),
            "question": Value("string"),
            "answer": List(Value("string")),
            "bbox": List(Value("float32")),
            "file_name": Value("string"),
        }
    )
    rows = [
        {
            "question_id": "1234",
            "image": {"bytes": _png("red"), "path": None},
            "question": "q",
            "answer": ["guy in red", "man on left"],
            "bbox": [1.0, 2.0, 3.0, 4.0],
            "file_name": "COCO_train2014_000000581857.jpg",
        },
        {
            "question_id": "abc",
            "image": {"bytes": _png("blue"), "path": None},
            "question": "q",
            "answer": ["blue thing"],
            "bbox": [5.0, 6.0, 7.0, 8.0],
            "file_name": "other.jpg",
        },
    ]
    return Dataset.from_list(rows, features=features, split="val")


def test_refer_layout_maps_to_canonical_schema():
    out = from_hub_rows(_refer_layout(), prefix="refcoco-unc", images="/coco/train2014")
    assert out.features == REFERENT_FEATURES
    row = out[0]
    assert row["referent_id"] == "refcoco-unc-1"
    assert row["category"] == "person" and row["supercategory"] == "person"
    assert row["expressions"] == ["left lady", "woman in red on the left"]
    assert row["image"]["path"] == "/coco/train2014/COCO_train2014_000000000100_1000.jpg"
    assert out[2]["category"] == "dog" and out[2]["supercategory"] == "animal"


def test_lmms_layout_keeps_embedded_images_and_derives_ids():
    out = from_hub_rows(_lmms_layout())
    assert out.features == REFERENT_FEATURES
    first, second = out[0], out[1]
    assert first["image_id"] == 581857
    assert first["ref_id"] == 1234
    assert first["expressions"] == ["guy in red", "man on left"]
    assert first["split"] == "val"
    assert first["image"]["bytes"].startswith(b"\x89PNG")
    assert isinstance(second["ref_id"], int) and second["ref_id"] > 0
    assert first["category"] == ""


def test_auto_detection_is_the_same_as_naming_the_schema():
    assert from_hub_rows(_refer_layout(), "refer")[:] == from_hub_rows(_refer_layout())[:]


def test_unknown_layout_lists_the_expected_columns():
    with pytest.raises(DataError) as info:
        from_hub_rows(Dataset.from_dict({"text": ["a"], "label": [0]}))
    message = str(info.value)
    assert "question_id, image, answer, bbox, file_name" in message
    assert "ref_id, ann_id, image_id, category_id, split, sentences, bbox, file_name" in message


def test_named_schema_with_missing_columns():
    with pytest.raises(DataError, match="missing question_id"):
        from_hub_rows(_refer_layout(), "lmms")


def test_bad_schema_name_lists_valid():
    with pytest.raises(ValueError, match="'auto', 'lmms', 'refer'"):
        from_hub_rows(_refer_layout(), "jxu")


def test_empty_expression_is_an_error_naming_the_row():
    ds = _refer_layout()
    rows = ds.to_list()
    rows[1]["sentences"][0]["sent"] = ""
    with pytest.raises(DataError, match="ref_id 2: empty or non-string expression"):
        from_hub_rows(Dataset.from_list(rows))
