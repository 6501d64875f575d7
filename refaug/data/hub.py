"""Map RefCOCO-style datasets from the Hugging Face Hub to the canonical schema.

The function takes a ``Dataset`` the user already loaded (it downloads nothing) in one of
the two common layouts:

- ``refer`` (jxu124/refcoco style): ``ref_id, ann_id, image_id, category_id, split,
  sentences[{raw, sent, sent_id, tokens}], bbox, file_name``;
- ``lmms`` (lmms-lab/RefCOCO style): ``question_id, image, answer (list[str]), bbox, file_name``.

Example:
    >>> from datasets import load_dataset                                  # doctest: +SKIP
    >>> ds = from_hub_rows(load_dataset("jxu124/refcoco", split="train"))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
import zlib
from pathlib import Path
from typing import Any, Literal

from datasets import Dataset
from datasets import Image as ImageFeature

from refaug.data.coco import COCO_CATEGORIES
from refaug.errors import DataError, check_choice
from refaug.records import REFERENT_FEATURES

logger = logging.getLogger(__name__)

HubSchema = Literal["auto", "refer", "lmms"]
LAYOUTS: dict[str, tuple[str, ...]] = {
    "refer": ("ref_id", "ann_id", "image_id", "category_id", "split", "sentences", "bbox", "file_name"),
    "lmms": ("question_id", "image", "answer", "bbox", "file_name"),
}


def detect_schema(columns: list[str]) -> str:
    """Name the layout whose columns are all present, or raise listing what each layout needs."""
    for name, needed in LAYOUTS.items():
        if all(c in columns for c in needed):
            return name
    expected = "; ".join(f"{name}: {', '.join(cols)}" for name, cols in LAYOUTS.items())
    raise DataError(
        f"unknown dataset layout with columns {sorted(columns)}",
        fix=f"rename the columns to one of the known layouts ({expected}), or pass schema=",
    )


def _stable_int(value: Any) -> int:
    """An int id from an int-like value or, failing that, a stable hash of its text."""
    if isinstance(value, int):
        return value
    text = str(value)
    if text.isdigit():
        return int(text)
    return zlib.crc32(text.encode("utf-8"))


def _image_id_from_file(file_name: str) -> int:
    """COCO_train2014_000000581857[_16].jpg -> 581857; other names get a stable hash."""
    match = re.search(r"_(\d{6,})(?:_\d+)?\.\w+$", file_name)
    return int(match.group(1)) if match else zlib.crc32(file_name.encode("utf-8"))


def _texts(values: Any, where: str) -> list[str]:
    texts = []
    for value in values or []:
        text = value.get("sent", value.get("raw")) if isinstance(value, dict) else value
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"empty or non-string expression {text!r}", row=where, fix="drop or fix the row")
        texts.append(text.strip())
    if not texts:
        raise DataError("no expressions", row=where, fix="drop the row")
    return texts


def _bbox(value: Any, where: str) -> list[float]:
    try:
        x, y, w, h = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"bbox {value!r} is not [x, y, w, h]", row=where, fix="give boxes as [x, y, w, h] in pixels") from exc
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise DataError(f"bbox {[x, y, w, h]} is empty or negative", row=where, fix="check the box format (x, y, w, h)")
    return [x, y, w, h]


def _image(file_name: str, images: Path | None, embedded: Any = None) -> dict | None:
    if embedded is not None:
        return embedded
    if images is None:
        return None
    return {"bytes": None, "path": str(images / file_name)}


def _refer_row(row: dict[str, Any], *, prefix: str, images: Path | None) -> dict[str, Any]:
    where = f"ref_id {row['ref_id']}"
    category_id = int(row["category_id"])
    name, supercategory = COCO_CATEGORIES.get(category_id, (str(category_id), ""))
    return {
        "referent_id": f"{prefix}-{row['ref_id']}",
        "image_id": _stable_int(row["image_id"]),
        "ann_id": _stable_int(row["ann_id"]),
        "ref_id": _stable_int(row["ref_id"]),
        "category": name,
        "supercategory": supercategory,
        "bbox": _bbox(row["bbox"], where),
        "image": _image(row["file_name"], images),
        "expressions": _texts(row["sentences"], where),
        "split": str(row["split"]),
    }


def _lmms_row(row: dict[str, Any], *, prefix: str, images: Path | None, split: str) -> dict[str, Any]:
    where = f"question_id {row['question_id']}"
    ref_id = _stable_int(row["question_id"])
    return {
        "referent_id": f"{prefix}-{row['question_id']}",
        "image_id": _image_id_from_file(row["file_name"]),
        "ann_id": ref_id,
        "ref_id": ref_id,
        "category": "",  # unknown in this layout; mining derives it from the head noun
        "supercategory": "",
        "bbox": _bbox(row["bbox"], where),
        "image": _image(row["file_name"], images, row.get("image")),
        "expressions": _texts(row["answer"], where),
        "split": split,
    }


def _mapper(schema: str, *, prefix: str, images: Path | None, split: str):
    def convert(batch: dict[str, list]) -> dict[str, list]:
        n = len(next(iter(batch.values())))
        rows = [{k: v[i] for k, v in batch.items()} for i in range(n)]
        if schema == "refer":
            out = [_refer_row(r, prefix=prefix, images=images) for r in rows]
        else:
            out = [_lmms_row(r, prefix=prefix, images=images, split=split) for r in rows]
        return {k: [o[k] for o in out] for k in REFERENT_FEATURES}

    return convert


def from_hub_rows(
    dataset: Dataset,
    schema: HubSchema = "auto",
    *,
    images: str | Path | None = None,
    prefix: str = "hub",
    split: str | None = None,
) -> Dataset:
    """Map a RefCOCO-style hub dataset to the canonical referent schema.

    Args:
        dataset: a ``Dataset`` already loaded by the user (nothing is downloaded here).
        schema: ``"refer"``, ``"lmms"``, or ``"auto"`` to detect it from the columns.
        images: a folder holding ``file_name`` images; rows then carry paths. In the
            ``lmms`` layout the embedded ``image`` column is kept as bytes instead.
        prefix: the prefix of ``referent_id`` (e.g. ``"refcoco-unc"``).
        split: the split name for layouts without a ``split`` column (default: the
            dataset's own split, else ``"train"``).

    Returns:
        A ``Dataset`` with :data:`refaug.records.REFERENT_FEATURES`.

    Raises:
        DataError: for an unknown layout (listing the expected columns) or a bad row.
    """
    check_choice("schema", schema, ("auto", *LAYOUTS))
    name = detect_schema(dataset.column_names) if schema == "auto" else schema
    missing = [c for c in LAYOUTS[name] if c not in dataset.column_names]
    if missing:
        raise DataError(
            f"schema={name!r} needs the columns {', '.join(LAYOUTS[name])}; missing {', '.join(missing)}",
            fix="pass schema='auto' or rename the columns",
        )
    if name == "lmms" and "image" in dataset.column_names:
        dataset = dataset.cast_column("image", ImageFeature(decode=False))
    split_name = split or (str(dataset.split) if dataset.split is not None else "train")
    convert = _mapper(name, prefix=prefix, images=Path(images) if images else None, split=split_name)
    out = dataset.map(
        convert,
        batched=True,
        remove_columns=dataset.column_names,
        features=REFERENT_FEATURES,
        desc=f"mapping {name} rows",
    )
    logger.info("mapped %d %s-layout rows to the canonical schema", len(out), name)
    return out
