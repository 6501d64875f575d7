"""Write small refer-toolkit folders in exactly the original formats, for tests.

``refs(<split_by>).p`` is a pickled list of refs; ``instances.json`` is COCO format;
gRefCOCO's ``grefs(unc).json`` is JSON with ``ann_id`` lists (``[-1]`` for no target).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

CATEGORIES = [
    {"id": 1, "name": "person", "supercategory": "person"},
    {"id": 18, "name": "dog", "supercategory": "animal"},
    {"id": 3, "name": "car", "supercategory": "vehicle"},
]

# (image_id, ann_id, category_id, bbox, sentences, split)
REFS: list[tuple[int, int, int, list[float], list[str], str]] = [
    (100, 1000, 1, [10.0, 20.0, 100.0, 200.0], ["left lady", "woman in red on the left"], "train"),
    (
        100,
        1001,
        1,
        [300.0, 20.0, 100.0, 200.0],
        ["right lady", "lady holding an umbrella"],
        "train",
    ),
    (100, 1002, 18, [200.0, 300.0, 80.0, 60.0], ["dog in the middle"], "train"),
    (
        101,
        1010,
        3,
        [0.0, 0.0, 320.0, 240.0],
        ["white car on left", "car parked beside the red car"],
        "val",
    ),
    (101, 1011, 3, [320.0, 10.0, 300.0, 230.0], ["red car"], "val"),
    (102, 1020, 1, [50.0, 50.0, 60.0, 150.0], ["man on left holding bat", "batter"], "testA"),
    (102, 1021, 1, [400.0, 60.0, 80.0, 160.0], ["2nd from right", "catcher"], "testB"),
]


def sentence(text: str, sent_id: int) -> dict[str, Any]:
    return {"raw": text, "sent": text.lower(), "sent_id": sent_id, "tokens": text.lower().split()}


def instances(extra_images: list[dict] | None = None) -> dict[str, Any]:
    images = [
        {
            "id": image_id,
            "file_name": f"COCO_train2014_{image_id:012d}.jpg",
            "width": 640,
            "height": 480,
        }
        for image_id in sorted({r[0] for r in REFS})
    ]
    annotations = [
        {
            "id": ann_id,
            "image_id": image_id,
            "category_id": cat,
            "bbox": bbox,
            "area": bbox[2] * bbox[3],
            "iscrowd": 0,
        }
        for image_id, ann_id, cat, bbox, _, _ in REFS
    ]
    return {
        "images": images + (extra_images or []),
        "annotations": annotations,
        "categories": CATEGORIES,
    }


def refs(split_by: str = "unc") -> list[dict[str, Any]]:
    out, sent_id = [], 0
    for ref_id, (image_id, ann_id, cat, _, texts, split) in enumerate(REFS, start=1):
        sentences = []
        for text in texts:
            sentences.append(sentence(text, sent_id))
            sent_id += 1
        split = {"umd": {"testA": "test", "testB": "test"}}.get(split_by, {}).get(split, split)
        out.append(
            {
                "ref_id": ref_id,
                "ann_id": ann_id,
                "image_id": image_id,
                "category_id": cat,
                "split": split,
                "sent_ids": [s["sent_id"] for s in sentences],
                "sentences": sentences,
                "file_name": f"COCO_train2014_{image_id:012d}_{ann_id}.jpg",
            }
        )
    return out


def write_refer(
    root: Path,
    dataset: str = "refcoco",
    split_by: str = "unc",
    *,
    ref_list: list | None = None,
    coco: dict | None = None,
) -> Path:
    """Write ROOT/<dataset>/instances.json and refs(<split_by>).p; return ROOT."""
    folder = root / dataset
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "instances.json").write_text(json.dumps(coco if coco is not None else instances()))
    with (folder / f"refs({split_by}).p").open("wb") as handle:
        pickle.dump(ref_list if ref_list is not None else refs(split_by), handle)
    return root


def write_grefcoco(root: Path) -> Path:
    """gRefCOCO: one multi-target ref, one no-target ref, the others single-target."""
    grefs = refs("unc")
    for ref in grefs:
        ref["ann_id"] = [ref["ann_id"]]
        ref["category_id"] = [ref["category_id"]]
        ref["no_target"] = False
    grefs.append(
        {
            "ref_id": 90,
            "ann_id": [1000, 1001],
            "category_id": [1, 1],
            "image_id": 100,
            "split": "train",
            "sent_ids": [900],
            "sentences": [sentence("two ladies", 900)],
            "file_name": "x.jpg",
            "no_target": False,
        }
    )
    grefs.append(
        {
            "ref_id": 91,
            "ann_id": [-1],
            "category_id": [-1],
            "image_id": 100,
            "split": "train",
            "sent_ids": [901, 902],
            "sentences": [sentence("the cat on the sofa", 901), sentence("man with a kite", 902)],
            "file_name": "x.jpg",
            "no_target": True,
        }
    )
    folder = root / "grefcoco"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "instances.json").write_text(json.dumps(instances()))
    (folder / "grefs(unc).json").write_text(json.dumps(grefs))
    return root
