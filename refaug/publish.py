"""Publish results the way the Hugging Face ecosystem and refer-based codebases read them.

- :func:`publish` writes a ``DatasetDict`` with declared ``Features`` (``save_to_disk``),
  one Parquet file per split, and a dataset card (README.md with YAML metadata).
- :func:`push_to_hub` uploads it; a failed upload says why and leaves the local copy intact.
- :func:`to_refer` writes a refer-toolkit folder (``instances.json`` + ``refs(<split_by>).p``
  whose refs gain the views as extra sentences, and a sidecar ``hard_negatives(<split_by>).json``),
  so LAVT/CRIS-style training code runs unchanged.

Example:
    >>> path = publish(dd, "out/refcoco-mv", info=PublishInfo(source="refcoco (unc)"))  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import pickle
import re
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml
from datasets import Dataset, DatasetDict

from refaug.columns import column, item_field, list_lengths, value_counts
from refaug.errors import RefaugError, check_choice
from refaug.io import atomic_write_bytes, atomic_write_text
from refaug.records import ROW_FEATURES, VIEW_FIELDS

logger = logging.getLogger(__name__)


class PublishError(RefaugError, RuntimeError):
    """An upload failed; the message says why and where the local copy is."""


@dataclass(frozen=True)
class PublishInfo:
    """What the dataset card states about how the data was made.

    Args:
        source: the source dataset, e.g. ``"refcoco (unc)"``.
        backends: view backends used, e.g. ``("rules",)``.
        models: models used (VLM, sentence encoder, spaCy).
        templates: prompt templates with their versions and hashes.
        thresholds: the thresholds of the cluster judgement and the mining guards.
        license: the card's license field.
        pretty_name: the card's title.
    """

    source: str = "unknown"
    backends: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    templates: tuple[str, ...] = ()
    thresholds: dict[str, float] = field(default_factory=dict)
    license: str = "cc-by-4.0"
    pretty_name: str = "refaug multi-view clusters and hard negatives"


# ---------------------------------------------------------------- dataset card


def kind_counts(dd: DatasetDict, column: str = "hard_negatives") -> Counter:
    """Items per ``kind`` in a list column (kept negatives by default), over all splits."""
    counts: Counter = Counter()
    for ds in dd.values():
        if column in ds.column_names:
            counts.update(value_counts(item_field(ds, column, "kind") or pa.array([], pa.string())))
    return counts


def dataset_card(dd: DatasetDict, info: PublishInfo, *, no_target: DatasetDict | None = None) -> str:
    """The README.md of a published dataset: YAML metadata, then what was done and the counts
    (``no_target``: the ``<split>_no_target`` splits, a config of their own)."""
    metadata = {
        "pretty_name": info.pretty_name,
        "license": info.license,
        "language": ["en"],
        "task_categories": ["image-segmentation", "zero-shot-object-detection"],
        "tags": ["referring-expressions", "refcoco", "hard-negatives", "multi-view", "refaug"],
        "source_datasets": [info.source],
        "configs": [
            {"config_name": "default", "data_files": [{"split": s, "path": f"data/{s}.parquet"} for s in dd]}
        ],
    }
    if no_target:
        metadata["configs"].append({"config_name": "no_target",
                                    "data_files": [{"split": s, "path": f"data/{s}.parquet"} for s in no_target]})
    kinds = kind_counts(dd)
    lines = [
        "---",
        yaml.safe_dump(metadata, sort_keys=False).strip(),
        "---",
        "",
        f"# {info.pretty_name}",
        "",
        f"Made with [refaug](https://github.com/refaug/refaug) from **{info.source}**.",
        "Every row is one referent with its original expressions, its multi-view cluster",
        "(appearance, action, spatial, alternative) and a ranked list of hard negatives",
        "with their provenance (`kind`, `detail`, `similarity`, `score`, `reason`).",
        "",
        "## How it was made",
        "",
        f"- view backends: {', '.join(info.backends) or 'none'}",
        f"- models: {', '.join(info.models) or 'none'}",
        f"- prompt templates: {', '.join(info.templates) or 'none'}",
        "- thresholds: " + (", ".join(f"{k} = {v:g}" for k, v in info.thresholds.items()) or "none"),
        "",
        "## Counts",
        "",
        "| split | referents | with views | negatives |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, ds in dd.items():
        lines.append(f"| {name} | {len(ds)} | {views_count(ds)} | {negatives_count(ds)} |")
    lines += ["", "| negative kind | kept |", "| --- | ---: |"]
    lines += [f"| {kind} | {n} |" for kind, n in sorted(kinds.items())] or ["| none | 0 |"]
    verified = verification_counts(dd)
    if verified:
        lines += ["", "What proves each negative is not the referent (`verified_by`; `none`: nothing):", "",
                  "| verified_by | negatives |", "| --- | ---: |"]
        lines += [f"| {name} | {n} |" for name, n in verified.most_common()]
    if no_target:
        lines += ["", "Image-level no-target expressions (config `no_target`, gRefCOCO's `<split>_no_target`",
                  "layout: they describe no annotated object of their image):", "",
                  "| split | images | expressions | verified |", "| --- | ---: | ---: | ---: |"]
        for name, ds in no_target.items():
            verified_rows = len(ds) - value_counts(column(ds, "verified_by"))["none"] \
                if "verified_by" in ds.column_names else 0
            lines.append(f"| {name} | {pc.count_distinct(column(ds, 'image_id')).as_py()} | {len(ds)} | {verified_rows} |")
    return "\n".join(lines) + "\n"


def verification_counts(dd: DatasetDict) -> Counter:
    """Kept negatives per ``verified_by`` over all splits (``none`` for rows written before the field)."""
    counts: Counter = Counter()
    for ds in dd.values():
        if "hard_negatives" in ds.column_names:
            found = item_field(ds, "hard_negatives", "verified_by")
            found = value_counts(found, null="none") if found is not None \
                else Counter({"none": int(list_lengths(ds, "hard_negatives").sum())})
            found["none"] += found.pop("", 0)  # an empty verified_by reads as none
            counts.update(found)
    return +counts


def views_count(ds: Dataset) -> int:
    """Rows with views."""
    return len(ds) - column(ds, "views").null_count if "views" in ds.column_names else 0


def negatives_count(ds: Dataset) -> int:
    """Kept negatives over the rows."""
    return int(list_lengths(ds, "hard_negatives").sum()) if "hard_negatives" in ds.column_names else 0


# ---------------------------------------------------------------- save and upload


def _as_dict(dataset: Dataset | DatasetDict) -> DatasetDict:
    return dataset if isinstance(dataset, DatasetDict) else DatasetDict({"train": dataset})


def publish(
    dataset: Dataset | DatasetDict,
    out_dir: str | Path,
    *,
    info: PublishInfo | None = None,
    parquet: bool = True,
    no_target: DatasetDict | dict[str, Dataset] | None = None,
) -> Path:
    """Write ``out_dir/dataset`` (save_to_disk), ``out_dir/data/<split>.parquet`` and ``out_dir/README.md``.

    Columns are cast to :data:`refaug.records.ROW_FEATURES` when they are the published
    columns; extra columns are kept with their own features. ``no_target`` (the
    ``<split>_no_target`` splits of :func:`refaug.mining.no_target.no_target_splits`, gRefCOCO's
    layout) goes to ``out_dir/no_target`` (save_to_disk) and ``out_dir/data/<split>_no_target.parquet``,
    a config of its own in the card (its columns differ from the referent rows').

    Returns:
        ``out_dir``.
    """
    dd = _as_dict(dataset)
    dd = DatasetDict({name: _declared(ds) for name, ds in dd.items()})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dd.save_to_disk(str(out / "dataset"))
    extra = DatasetDict(no_target or {})
    if extra:
        extra.save_to_disk(str(out / "no_target"))
    if parquet:
        (out / "data").mkdir(exist_ok=True)
        for name, ds in {**dd, **extra}.items():
            ds.to_parquet(str(out / "data" / f"{name}.parquet"))
    atomic_write_text(out / "README.md", dataset_card(dd, info or PublishInfo(), no_target=extra))
    (out / "publish_info.json").write_text(json.dumps(asdict(info or PublishInfo()), indent=2))
    logger.info("published %s to %s", {k: len(v) for k, v in dd.items()}, out)
    return out


def _declared(ds: Dataset) -> Dataset:
    if all(c in ds.column_names for c in ROW_FEATURES):
        features = ds.features.copy()
        features.update(ROW_FEATURES)
        return ds.cast(features)
    return ds


def push_to_hub(
    published: str | Path,
    repo_id: str,
    *,
    private: bool = True,
    token: str | None = None,
) -> str:
    """Upload a folder written by :func:`publish` to the Hub: the splits and the dataset card.

    Raises:
        PublishError: when the upload fails; the message names the cause and the intact local copy.
    """
    from datasets import load_from_disk
    from huggingface_hub import DatasetCard

    folder = Path(published)
    dd = load_from_disk(str(folder / "dataset"))
    card = (folder / "README.md").read_text()
    try:
        dd.push_to_hub(repo_id, private=private, token=token)
        DatasetCard(card).push_to_hub(repo_id, token=token, repo_type="dataset")
    except Exception as exc:  # network, auth, offline mode: all leave the local copy as it is
        raise PublishError(
            f"upload of {folder} to {repo_id} failed ({type(exc).__name__}: {exc}). "
            f"The local copy at {folder} is intact. Fix: check the network and the token "
            f"(HF_TOKEN or token=), unset HF_HUB_OFFLINE, then run `refaug publish push {folder} {repo_id}` again"
        ) from exc
    logger.info("pushed %s to %s", folder, repo_id)
    return repo_id


# ---------------------------------------------------------------- refer export


def refer_tokens(text: str) -> list[str]:
    """Tokens the way the refer toolkit's ``sent``/``tokens`` fields hold them: lower case, no punctuation."""
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())


def _view_sentences(views: dict | None, include: tuple[str, ...], next_id: Iterable[int]) -> list[dict]:
    if not views:
        return []
    ids = iter(next_id)
    wanted = VIEW_FIELDS if "views" in include else tuple(f for f in VIEW_FIELDS if f in include)
    out = []
    for name in wanted:
        text = views.get(name)
        if not text:
            continue
        tokens = refer_tokens(text)
        out.append(
            {"raw": text, "sent": " ".join(tokens), "sent_id": next(ids), "tokens": tokens,
             "view": name, "view_source": dict(views.get("source") or {})}
        )
    if "views" in include or "derived" in include:  # refaug's derived positives (Views.derived)
        for item in views.get("derived") or ():
            tokens = refer_tokens(item["text"])
            out.append({"raw": item["text"], "sent": " ".join(tokens), "sent_id": next(ids), "tokens": tokens,
                        "view": item["kind"], "view_source": {"backend": "refaug"},
                        "derived_from": item.get("origin"), "detail": item.get("detail")})
    return out


def _rows_by_ref(dd: DatasetDict) -> dict[int, dict[str, Any]]:
    rows = {}
    for ds in dd.values():
        columns = [c for c in ("ref_id", "ann_id", "image_id", "category", "split", "bbox", "expressions",
                               "views", "hard_negatives", "image") if c in ds.column_names]
        for row in ds.select_columns(columns):
            rows[int(row["ref_id"])] = row
    return rows


def _refs_from_rows(rows: dict[int, dict], categories: dict[str, int]) -> list[dict[str, Any]]:
    """Build refs for rows with no original refs file (synthetic or hub data)."""
    refs, sent_id = [], 0
    for ref_id, row in rows.items():
        sentences = []
        for text in row["expressions"]:
            tokens = refer_tokens(text)
            sentences.append({"raw": text, "sent": " ".join(tokens), "sent_id": sent_id, "tokens": tokens})
            sent_id += 1
        refs.append(
            {"ref_id": ref_id, "ann_id": int(row["ann_id"]), "image_id": int(row["image_id"]),
             "category_id": categories[row["category"]], "split": row["split"],
             "sent_ids": [s["sent_id"] for s in sentences], "sentences": sentences,
             "file_name": f"{row['image_id']}_{row['ann_id']}.jpg"}
        )
    return refs


def _instances_from_rows(rows: dict[int, dict]) -> dict[str, Any]:
    """A COCO-format instances file for rows with no original one (no masks: boxes only)."""
    names = sorted({r["category"] for r in rows.values()})
    categories = [{"id": i, "name": n, "supercategory": n} for i, n in enumerate(names, start=1)]
    ids = {c["name"]: c["id"] for c in categories}
    images: dict[int, dict] = {}
    annotations = []
    for row in rows.values():
        x, y, w, h = row["bbox"]
        image = images.setdefault(int(row["image_id"]), {
            "id": int(row["image_id"]),
            "file_name": Path((row.get("image") or {}).get("path") or f"{row['image_id']}.png").name,
            "width": 0, "height": 0,
        })
        image["width"] = max(image["width"], int(x + w) + 1)  # the extent of the boxes: the true size is unknown
        image["height"] = max(image["height"], int(y + h) + 1)
        annotations.append({"id": int(row["ann_id"]), "image_id": int(row["image_id"]), "category_id": ids[row["category"]],
                            "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0})
    return {"images": list(images.values()), "annotations": annotations, "categories": categories}


def _check_target(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{out} already holds files ({', '.join(sorted(p.name for p in out.iterdir())[:5])}); "
            "pass overwrite=True (--overwrite) to replace them, or choose an empty folder"
        )
    out.mkdir(parents=True, exist_ok=True)


def _source_files(refer_root: str | Path | None, dataset_name: str, split_by: str) -> tuple[Path | None, Path | None]:
    if refer_root is None:
        return None, None
    from refaug.data.refer import _refs_path  # one place knows the refer layout

    refs = _refs_path(Path(refer_root), dataset_name, split_by)
    return refs, refs.parent / "instances.json"


def _negatives_sidecar(rows: dict[int, dict]) -> dict[str, list[dict]]:
    keep = ("text", "kind", "detail", "similarity", "score", "origin", "reason", "score_parts", "verified_by")
    return {
        str(ref_id): [{k: n.get(k) for k in keep} for n in row.get("hard_negatives") or ()]
        for ref_id, row in rows.items()
        if row.get("hard_negatives")
    }


def to_refer(
    dataset: Dataset | DatasetDict,
    out_dir: str | Path,
    *,
    dataset_name: str = "refcoco",
    split_by: str = "unc",
    include: tuple[str, ...] = ("views",),
    refer_root: str | Path | None = None,
    overwrite: bool = False,
    no_target: DatasetDict | dict[str, Dataset] | None = None,
) -> Path:
    """Write a refer-toolkit folder that refer-based training code reads unchanged.

    Every ref keeps its original sentences and ids; the generated views are appended as
    extra sentences with new unique ``sent_id``s, ``raw``/``sent``/``tokens`` filled as the
    refer toolkit does, and a ``view`` field naming the perspective (absent on originals).
    Kept negatives go to a sidecar ``hard_negatives(<split_by>).json`` keyed by ``ref_id``,
    in rank order (text, kind, detail, similarity, score, origin, reason, score_parts, verified_by); ``load_refer`` on
    the exported folder reads them back into a ``hard_negatives`` column.

    Args:
        dataset: published rows (a ``Dataset`` or ``DatasetDict`` with ``views`` and/or
            ``hard_negatives`` columns).
        out_dir: the folder to write ``<out_dir>/<dataset_name>/`` into.
        dataset_name: the refer dataset name (folder name).
        split_by: the split scheme in the file names.
        include: which views become sentences: ``"views"`` for all of them and the derived
            positives, or any of ``"appearance"``, ``"action"``, ``"spatial"``, ``"alternative"``
            and ``"derived"`` (``Views.derived``, e.g. negated verified negatives: a sentence
            whose ``view`` is their kind, ``"negated_negative"``, with ``derived_from`` and
            ``detail``; ``load_refer`` does not read them back as views).
        refer_root: the original refer folder: its refs and ``instances.json`` (with masks)
            are copied; without it both are built from the rows (boxes only, no masks).
        overwrite: replace files in a non-empty ``out_dir``.
        no_target: ``<split>_no_target`` rows (:func:`refaug.mining.no_target.no_target_splits`;
            splits of ``dataset`` so named count too): written as gRefCOCO no-target refs
            (``ann_id`` ``[-1]``, ``no_target`` true; each sentence keeps ``kind``, ``detail``,
            ``origin``, ``verified_by``, ``similarity``, ``reason``) to a sidecar
            ``no_target(<split_by>).json``, which ``load_refer`` reads back as
            ``<split>_no_target`` splits; the refs file stays one the refer toolkit reads.

    Returns:
        ``out_dir``, ready for ``load_refer(out_dir, dataset_name, split_by)``.
    """
    for value in include:
        check_choice("include", value, ("views", *VIEW_FIELDS, "derived"))
    dd = _as_dict(dataset)
    no_target = {**{k: v for k, v in dd.items() if k.endswith(NO_TARGET_SUFFIX)}, **(no_target or {})}
    dd = DatasetDict({k: v for k, v in dd.items() if not k.endswith(NO_TARGET_SUFFIX)})
    out = Path(out_dir)
    _check_target(out, overwrite)
    folder = out / dataset_name
    folder.mkdir(exist_ok=True)
    rows = _rows_by_ref(dd)
    refs_path, instances_path = _source_files(refer_root, dataset_name, split_by)
    if refs_path is not None:
        from refaug.data.refer import _read_refs

        refs = _read_refs(refs_path)
        shutil.copyfile(instances_path, folder / ".instances.json.tmp")
        os.replace(folder / ".instances.json.tmp", folder / "instances.json")
    else:
        instances = _instances_from_rows(rows)
        refs = _refs_from_rows(rows, {c["name"]: c["id"] for c in instances["categories"]})
        atomic_write_text(folder / "instances.json", json.dumps(instances))
    refs = _with_views(refs, rows, include)
    atomic_write_bytes(folder / f"refs({split_by}).p", pickle.dumps(refs, protocol=pickle.HIGHEST_PROTOCOL))
    atomic_write_text(folder / f"hard_negatives({split_by}).json", json.dumps(_negatives_sidecar(rows)))
    if no_target:
        first = 1 + max((s["sent_id"] for r in refs for s in r.get("sentences", ())), default=-1)
        no_target_refs = _no_target_refs(no_target, first)
        atomic_write_text(folder / f"no_target({split_by}).json", json.dumps(no_target_refs))
        logger.info("wrote %d no-target refs to %s", len(no_target_refs), folder / f"no_target({split_by}).json")
    logger.info("wrote refer folder %s (%d refs)", folder, len(refs))
    return out


NO_TARGET_SUFFIX = "_no_target"


def _no_target_refs(splits: dict[str, Dataset], first_sent_id: int) -> list[dict[str, Any]]:
    """gRefCOCO-style no-target refs (``ann_id`` ``[-1]``) from ``<split>_no_target`` rows, one per ref id."""
    from refaug.records import NO_TARGET_EXTRA_FEATURES

    refs: dict[int, dict[str, Any]] = {}
    sent_id = first_sent_id
    for ds in splits.values():
        for row in ds:
            ref = refs.setdefault(int(row["ref_id"]), {
                "ref_id": int(row["ref_id"]), "ann_id": [-1], "category_id": [-1], "image_id": int(row["image_id"]),
                "split": row["split"], "no_target": True, "sent_ids": [], "sentences": [],
                "file_name": Path((row.get("image") or {}).get("path") or f"{row['image_id']}.jpg").name})
            tokens = refer_tokens(row["expression"])
            extra = {k: row[k] for k in NO_TARGET_EXTRA_FEATURES if k in row}
            ref["sentences"].append({"raw": row["expression"], "sent": " ".join(tokens), "sent_id": sent_id,
                                     "tokens": tokens, **extra})
            ref["sent_ids"].append(sent_id)
            sent_id += 1
    return list(refs.values())


def _with_views(refs: list[dict], rows: dict[int, dict], include: tuple[str, ...]) -> list[dict]:
    """Copies of the refs with the views appended as sentences; the originals stay untouched."""
    next_id = 1 + max((s["sent_id"] for r in refs for s in r.get("sentences", ())), default=-1)
    out = []
    for ref in refs:
        ref = dict(ref)
        row = rows.get(int(ref["ref_id"]))
        extra = _view_sentences(row.get("views") if row else None, include, itertools.count(next_id))
        next_id += len(extra)
        ref["sentences"] = [*ref["sentences"], *extra]
        ref["sent_ids"] = [*ref.get("sent_ids", ()), *(s["sent_id"] for s in extra)]
        out.append(ref)
    return out
