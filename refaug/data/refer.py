"""Load the refer toolkit's original files into the canonical schema.

Reads ``refs(unc).p`` / ``refs(google).p`` / ``refs(umd).p`` (pickled list of refs) and the
COCO-format ``instances.json`` of RefCOCO, RefCOCO+, RefCOCOg (and RefCLEF), and
gRefCOCO's ``grefs(unc).json``. One row per referent, one split per split in the refs.

Expected layout (the refer toolkit's)::

    ROOT/refcoco/instances.json
    ROOT/refcoco/refs(unc).p
    ROOT/refcocog/refs(umd).p
    ROOT/grefcoco/grefs(unc).json

``root`` may be ``ROOT`` or the dataset folder itself.

Example:
    >>> dd = load_refer("data/refer", dataset="refcoco", split_by="unc")  # doctest: +SKIP
    >>> dd["train"][0]["expressions"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import pickle
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from datasets import Dataset, DatasetDict, Features, Image, List, Value

from refaug.errors import DataError, check_choice
from refaug.records import (
    HARD_NEGATIVE_FEATURE,
    NO_TARGET_EXTRA_FEATURES,
    REFERENT_FEATURES,
    VIEW_FIELDS,
    VIEWS_FEATURE,
)

logger = logging.getLogger(__name__)

SPLIT_BYS: dict[str, tuple[str, ...]] = {
    "refcoco": ("unc", "google"),
    "refcoco+": ("unc",),
    "refcocog": ("umd", "google"),
    "refclef": ("unc", "berkeley"),
    "grefcoco": ("unc",),
}
REF_KEYS = ("ref_id", "ann_id", "image_id", "split", "sentences")

NO_TARGET_FEATURES = Features(
    {
        "ref_id": Value("int64"),
        "image_id": Value("int64"),
        "expression": Value("string"),
        "image": Image(decode=False),
        "split": Value("string"),
    }
)

OnError = Literal["raise", "skip"]


class _Skipped(Exception):
    """One bad ref under on_error="skip": the reason goes into the summary warning."""


@dataclass
class _Coco:
    """The parts of instances.json the loader needs, indexed by id."""

    path: Path
    images: dict[int, dict[str, Any]]
    annotations: dict[int, dict[str, Any]]
    categories: dict[int, dict[str, Any]]


@dataclass
class _Report:
    """What the loader skipped, and why."""

    on_error: str
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def bad(self, error: DataError) -> None:
        if self.on_error == "raise":
            raise error
        self.skipped[error.reason] += 1
        self.examples.setdefault(error.reason, str(error))

    def log(self, path: Path) -> None:
        if not self.skipped:
            return
        total = sum(self.skipped.values())
        reasons = "; ".join(f"{n} x {reason} (e.g. {self.examples[reason]})" for reason, n in self.skipped.most_common())
        logger.warning("%s: skipped %d refs: %s", path, total, reasons)


def _read_sidecar(path: Path) -> dict[str, list[dict]] | None:
    """The kept negatives a refaug export wrote beside the refs, keyed by ref id, or None."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"cannot read the negatives sidecar ({exc})", file=str(path), fix="export again") from exc
    defaults = {"detail": "", "origin": "", "reason": ""}
    return {ref_id: [{**defaults, **n} for n in negatives] for ref_id, negatives in data.items()}


def _refs_path(root: Path, dataset: str, split_by: str) -> Path:
    name = f"grefs({split_by}).json" if dataset == "grefcoco" else f"refs({split_by}).p"
    for folder in (root / dataset, root):
        if (folder / name).is_file():
            return folder / name
    raise DataError(
        f"no {name} found",
        file=str(root / dataset / name),
        fix=f"pass the folder that holds {dataset}/{name} and {dataset}/instances.json (the refer toolkit's layout)",
    )


def _read_refs(path: Path) -> list[dict[str, Any]]:
    try:
        if path.suffix == ".json":
            refs = json.loads(path.read_text())
        else:
            with path.open("rb") as handle:
                refs = pickle.load(handle)
    except (pickle.UnpicklingError, json.JSONDecodeError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the refs file ({exc})", file=str(path), fix="download the file again") from exc
    if not isinstance(refs, list):
        raise DataError(
            f"expected a list of refs, found {type(refs).__name__}",
            file=str(path),
            fix="pass the refer toolkit's original refs file (a pickled list of dicts)",
        )
    return refs


def _read_coco(path: Path) -> _Coco:
    if not path.is_file():
        raise DataError("instances.json is missing", file=str(path), fix="put the dataset's instances.json beside its refs file")
    try:
        data = json.loads(path.read_text())
        images = {int(i["id"]): i for i in data["images"]}
        annotations = {int(a["id"]): a for a in data["annotations"]}
        categories = {int(c["id"]): c for c in data["categories"]}
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(
            f"not a COCO-format instances file ({type(exc).__name__}: {exc})",
            file=str(path),
            fix="it needs 'images', 'annotations' (with 'bbox') and 'categories' (with 'supercategory')",
        ) from exc
    return _Coco(path, images, annotations, categories)


def _views(ref: dict[str, Any]) -> dict[str, Any] | None:
    """The views a refaug export appended as sentences with a ``view`` field, or None; a
    sentence whose ``view`` is no view field (``"negated_negative"``) is a derived positive
    (``Views.derived``: text, kind, detail and origin from ``derived_from``)."""
    appended = [s for s in ref["sentences"] if isinstance(s, dict) and s.get("view")]
    if not appended:
        return None
    found = {s["view"]: s for s in appended if s["view"] in VIEW_FIELDS}
    source = next(iter(found.values()), appended[0]).get("view_source") or {"backend": "unknown"}
    views = {name: found[name]["raw"] if name in found else None for name in VIEW_FIELDS}
    derived = [{"text": s.get("raw") or s.get("sent") or "", "kind": s["view"], "detail": s.get("detail") or "",
                "origin": s.get("derived_from") or ""} for s in appended if s["view"] not in VIEW_FIELDS]
    # none appended: null, as in rows written before the field (Views.from_row reads both as none)
    return {**views, "source": {k: source.get(k) for k in VIEWS_FEATURE["source"]}, "derived": derived or None}


def _expressions(ref: dict[str, Any], where: dict[str, Any]) -> list[str]:
    sentences = ref["sentences"]
    if isinstance(sentences, list):  # views appended by a refaug export are not originals
        sentences = [s for s in sentences if not (isinstance(s, dict) and s.get("view"))]
    if not isinstance(sentences, list) or not sentences:
        raise DataError("the ref has no sentences", **where, fix="drop the ref or add its sentences")
    texts = []
    for k, sentence in enumerate(sentences):
        text = sentence.get("sent", sentence.get("raw")) if isinstance(sentence, dict) else sentence
        if not isinstance(text, str) or not text.strip():
            raise DataError(
                f"sentence {k} is empty or not a string ({text!r})",
                **where,
                fix="fix the sentence in the refs file or load with on_error='skip'",
            )
        texts.append(text.strip())
    return texts


def _checked_bbox(annotation: dict[str, Any], image: dict[str, Any], where: dict[str, Any]) -> list[float]:
    try:
        x, y, w, h = (float(v) for v in annotation["bbox"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"annotation {annotation.get('id')} has no valid bbox", **where, fix="give it [x, y, w, h]") from exc
    width, height = float(image.get("width", float("inf"))), float(image.get("height", float("inf")))
    tolerance = 1.0  # COCO boxes are float pixel coordinates; allow rounding at the border
    if w <= 0 or h <= 0 or x < -tolerance or y < -tolerance or x + w > width + tolerance or y + h > height + tolerance:
        raise DataError(
            f"bbox {[x, y, w, h]} lies outside its image ({width:g}x{height:g})",
            **where,
            fix="check the annotation's bbox (x, y, w, h in pixels) or load with on_error='skip'",
        )
    return [x, y, w, h]


def _ann_ids(ref: dict[str, Any]) -> list[int]:
    value = ref["ann_id"]
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)]


def _union(boxes: list[list[float]]) -> list[float]:
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return [x0, y0, x1 - x0, y1 - y0]


def _image_field(coco: _Coco, image_id: int, images: Path | None, where: dict[str, Any]) -> dict | None:
    if images is None:
        return None
    info = coco.images.get(image_id)
    path = images / info["file_name"]
    if not path.is_file():
        raise DataError(f"image file {path} is missing", **where, fix="pass images= the folder of the COCO images (e.g. train2014/)")
    return {"bytes": None, "path": str(path)}


def _ref_row(
    ref: Any, index: int, *, coco: _Coco, dataset: str, split_by: str, images: Path | None, path: Path
) -> dict[str, Any]:
    """Turn one ref into a canonical row; raise DataError for anything wrong with it."""
    if not isinstance(ref, dict) or any(key not in ref for key in REF_KEYS):
        missing = [k for k in REF_KEYS if not isinstance(ref, dict) or k not in ref]
        raise DataError(
            f"ref #{index} is not a refer-toolkit ref (missing {', '.join(missing)})",
            file=str(path),
            row=f"ref #{index}",
            fix="pass the original refs file; each ref needs ref_id, ann_id, image_id, split and sentences",
        )
    where = {"file": str(path), "row": f"ref_id {ref['ref_id']}"}
    image_id = int(ref["image_id"])
    if image_id not in coco.images:
        raise DataError(f"image_id {image_id} is not in {coco.path.name}", **where, fix="use the instances.json of the same dataset")
    boxes, categories = [], []
    for ann_id in _ann_ids(ref):
        annotation = coco.annotations.get(ann_id)
        if annotation is None:
            raise DataError(
                f"ann_id {ann_id} is not in {coco.path.name}",
                **where,
                fix=f"use the instances.json that ships with {dataset}, or load with on_error='skip'",
            )
        boxes.append(_checked_bbox(annotation, coco.images[image_id], where))
        categories.append(coco.categories.get(int(annotation["category_id"]), {}))
    names = sorted({c.get("name", "") for c in categories})
    return {
        "referent_id": f"{dataset}-{split_by}-{ref['ref_id']}",
        "image_id": image_id,
        "ann_id": _ann_ids(ref)[0],
        "ref_id": int(ref["ref_id"]),
        "category": "+".join(names),
        "supercategory": "+".join(sorted({c.get("supercategory", "") for c in categories})),
        "bbox": _union(boxes),
        "image": _image_field(coco, image_id, images, where),
        "expressions": _expressions(ref, where),
        "split": str(ref["split"]),
        "views": _views(ref),
    }


def _no_target_rows(ref: dict[str, Any], *, images: Path | None, coco: _Coco, path: Path) -> list[dict[str, Any]]:
    where = {"file": str(path), "row": f"ref_id {ref['ref_id']}"}
    image_id = int(ref["image_id"])
    image = _image_field(coco, image_id, images, where) if image_id in coco.images else None
    rows = [
        {"ref_id": int(ref["ref_id"]), "image_id": image_id, "expression": text, "image": image, "split": str(ref["split"])}
        for text in _expressions(ref, where)
    ]
    sentences = [x for x in ref["sentences"] if not (isinstance(x, dict) and x.get("view"))]
    for row, sentence in zip(rows, sentences, strict=True):  # what a refaug export adds to a sentence
        if isinstance(sentence, dict) and NO_TARGET_EXTRA_FEATURES.keys() & sentence.keys():
            row.update({k: sentence.get(k) for k in NO_TARGET_EXTRA_FEATURES})
    return rows


def _read_no_target_sidecar(path: Path) -> list[dict[str, Any]]:
    """The no-target refs a refaug export wrote beside the refs (gRefCOCO's layout), or none."""
    if not path.is_file():
        return []
    try:
        refs = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"cannot read the no-target sidecar ({exc})", file=str(path), fix="export again") from exc
    if not isinstance(refs, list):
        raise DataError(f"expected a list of no-target refs, found {type(refs).__name__}", file=str(path),
                        fix="export again")
    return refs


def _collect(
    refs: Iterable[Any], *, coco: _Coco, dataset: str, split_by: str, images: Path | None, path: Path, report: _Report
) -> tuple[dict[str, list], dict[str, list], Counter]:
    by_split: dict[str, list] = defaultdict(list)
    no_target: dict[str, list] = defaultdict(list)
    stats: Counter = Counter()
    for index, ref in enumerate(refs):
        try:
            if isinstance(ref, dict) and "ann_id" in ref and _ann_ids(ref) == [-1]:
                rows = _no_target_rows(ref, images=images, coco=coco, path=path)
                no_target[str(ref["split"])].extend(rows)
                stats["no_target_refs"] += 1
                stats["no_target_expressions"] += len(rows)
                continue
            row = _ref_row(ref, index, coco=coco, dataset=dataset, split_by=split_by, images=images, path=path)
        except DataError as error:
            report.bad(error)
            continue
        except (TypeError, ValueError, KeyError) as exc:
            report.bad(DataError(f"malformed ref ({type(exc).__name__}: {exc})", file=str(path), row=f"ref #{index}", fix="check the ref's fields"))
            continue
        stats["multi_target_refs"] += isinstance(ref["ann_id"], (list, tuple)) and len(ref["ann_id"]) > 1
        by_split[row["split"]].append(row)
    return by_split, no_target, stats


def load_refer(
    root: str | Path,
    dataset: str = "refcoco",
    split_by: str = "unc",
    images: str | Path | None = None,
    on_error: OnError = "raise",
) -> DatasetDict:
    """Load a refer-toolkit dataset as a ``DatasetDict`` with one split per split in the refs.

    Args:
        root: the refer data root (holding ``refcoco/``, ``refcocog/``...) or the dataset folder.
        dataset: one of ``refcoco``, ``refcoco+``, ``refcocog``, ``refclef``, ``grefcoco``.
        split_by: the split scheme: ``unc``, ``google``, ``umd`` (refcocog), ``berkeley`` (refclef).
        images: the folder of the COCO images; rows then carry image paths (checked to exist).
        on_error: ``"raise"`` stops at the first bad ref with an error naming the file, the ref id
            and the fix; ``"skip"`` drops bad refs and logs one warning with the counts and reasons.

    Returns:
        A ``DatasetDict`` in the canonical schema (:data:`refaug.records.REFERENT_FEATURES`).
        A folder written by :func:`refaug.publish.to_refer` loads with its original
        expressions in ``expressions``, the appended views back in a ``views`` column and
        the sidecar's negatives in a ``hard_negatives`` column.
        For gRefCOCO, no-target expressions (refs with ``ann_id == [-1]``) are kept apart in
        splits named ``<split>_no_target`` (columns ``ref_id, image_id, expression, image, split``):
        they are ready-made negatives for their image. A refaug export's no-target refs (the
        sidecar ``no_target(<split_by>).json``, same layout) join them, with the columns
        ``kind, detail, origin, verified_by, similarity, reason`` too. Multi-target refs become one row whose
        bbox is the union of the targets' boxes.

    Example:
        >>> dd = load_refer("data/refer", dataset="refcocog", split_by="umd")  # doctest: +SKIP
    """
    check_choice("dataset", dataset, tuple(SPLIT_BYS))
    check_choice("split_by", split_by, SPLIT_BYS[dataset])
    check_choice("on_error", on_error, ("raise", "skip"))
    root = Path(root)
    if not root.exists():
        raise DataError("the folder does not exist", file=str(root), fix="pass the refer data root")
    path = _refs_path(root, dataset, split_by)
    coco = _read_coco(path.parent / "instances.json")
    image_root = Path(images) if images is not None else None
    if image_root is not None and not image_root.is_dir():
        raise DataError("the images folder does not exist", file=str(image_root), fix="pass the folder of the COCO images")
    report = _Report(on_error=on_error)
    refs = _read_refs(path) + _read_no_target_sidecar(path.parent / f"no_target({split_by}).json")
    by_split, no_target, stats = _collect(
        refs, coco=coco, dataset=dataset, split_by=split_by, images=image_root, path=path, report=report
    )
    report.log(path)
    if stats["no_target_refs"] or stats["multi_target_refs"]:
        logger.info(
            "%s: %d no-target refs (%d expressions, kept apart as <split>_no_target), %d multi-target refs",
            path, stats["no_target_refs"], stats["no_target_expressions"], stats["multi_target_refs"],
        )
    if not by_split and not no_target:
        raise DataError("no usable refs", file=str(path), fix="check the file, or the reasons logged above")
    splits = _to_datasets(by_split, no_target, sidecar_path=path.parent / f"hard_negatives({split_by}).json")
    logger.info("%s: loaded %s", path, ", ".join(f"{k}={len(v)}" for k, v in splits.items()))
    return DatasetDict(splits)


def _to_datasets(by_split: dict[str, list[dict]], no_target: dict[str, list[dict]], *,
                 sidecar_path: Path) -> dict[str, Dataset]:
    """The rows as one dataset per split: a ``views`` column only when some row has views,
    a ``hard_negatives`` column when the folder has a sidecar at ``sidecar_path``, and the
    no-target splits as ``<split>_no_target``."""
    has_views = any(row["views"] for rows in by_split.values() for row in rows)
    features = Features({**REFERENT_FEATURES, "views": VIEWS_FEATURE}) if has_views else REFERENT_FEATURES
    if not has_views:
        for rows in by_split.values():
            for row in rows:
                del row["views"]
    sidecar = _read_sidecar(sidecar_path)
    if sidecar is not None:
        features = Features({**features, "hard_negatives": List(HARD_NEGATIVE_FEATURE)})
        for rows in by_split.values():
            for row in rows:
                row["hard_negatives"] = sidecar.get(str(row["ref_id"]), [])
    splits = {name: Dataset.from_list(rows, features=features) for name, rows in sorted(by_split.items())}
    for name, rows in sorted(no_target.items()):
        features = NO_TARGET_FEATURES
        if any(NO_TARGET_EXTRA_FEATURES.keys() & row.keys() for row in rows):  # a refaug export's
            features = Features({**NO_TARGET_FEATURES, **NO_TARGET_EXTRA_FEATURES})
            rows = [{**dict.fromkeys(NO_TARGET_EXTRA_FEATURES), **row} for row in rows]
        splits[f"{name}_no_target"] = Dataset.from_list(rows, features=features)
    return splits
