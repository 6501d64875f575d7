"""A static HTML page to look at a run's negatives: ``report/index.html``.

:func:`write_review_page` samples referents of a published dataset (seeded, stratified over
categories), draws each referent's box on a thumbnail of its image and saves the thumbnail
and a crop under ``images/`` (none when the row has no pixels), and renders one card per
referent: its expressions, its views and its negatives with kind, similarity, score,
``verified_by`` and reason. Category, kind and verification filters run in plain JavaScript
inside the page; nothing is fetched from the network, so the folder opens from disk. A
summary at the top counts referents and negatives (by kind and by ``verified_by``) over the
whole dataset, not only the sample.

The template is ``refaug/templates/review.html.jinja``, rendered in Jinja2's
``SandboxedEnvironment`` with autoescaping: expressions and negatives are user data.

Example:
    >>> from datasets import load_from_disk                                   # doctest: +SKIP
    >>> page = write_review_page(load_from_disk("runs/demo/publish/dataset"),
    ...                          "runs/demo/report", sample=200, seed=0)        # doctest: +SKIP
    >>> page.name                                                              # doctest: +SKIP
    'index.html'
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict

from refaug.errors import DataError
from refaug.images import decode_image
from refaug.records import UNVERIFIED, VIEW_FIELDS

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_SAMPLE", "UNVERIFIED", "review_summary", "sample_referents", "write_review_page"]

DEFAULT_SAMPLE = 200
"""Referents on the page by default: enough to see every category of RefCOCO (80) a few times."""

"""The ``verified_by`` of a negative that no check confirmed (and of runs made before the field)."""

TEMPLATE = "review.html.jinja"
THUMBNAIL_SIZE = (360, 270)  # the image with its box, fitted inside this many pixels
CROP_SIZE = (180, 180)  # the box's contents (plus CROP_MARGIN), scaled to fit this many pixels
CROP_MARGIN = 0.1  # of the box's width and height, on each side
BOX_COLOUR = (255, 32, 160)  # magenta: unlike the synthetic scenes' colours and most photos
JPEG_QUALITY = 85


def _as_dict(dataset: Dataset | DatasetDict) -> DatasetDict:
    return dataset if isinstance(dataset, DatasetDict) else DatasetDict({"data": dataset})


# ---------------------------------------------------------------- what goes on the page


def sample_referents(dataset: Dataset | DatasetDict, *, sample: int = DEFAULT_SAMPLE,
                     seed: int = 0) -> list[tuple[str, int]]:
    """Up to ``sample`` rows as ``(split, index)``, taken in turn from each category.

    Each category's rows are shuffled with a generator seeded by ``seed``; categories then
    give one row each in turn until ``sample`` rows are taken, so a rare category is seen as
    often as a common one while it lasts. The result is ordered by category, split and index,
    so referents of one image sit together.

    Args:
        dataset: the published rows (one split or a ``DatasetDict``).
        sample: how many referents at most (default :data:`DEFAULT_SAMPLE`); must be >= 1.
        seed: the sampling seed (default 0).

    Example:
        >>> from refaug.data.synthetic import synthetic_scenes
        >>> len(sample_referents(synthetic_scenes(4, seed=0, image_size=(64, 48)), sample=5))
        5
    """
    if sample < 1:
        raise ValueError(f"sample={sample} must be >= 1")
    by_category: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for split, ds in _as_dict(dataset).items():
        for index, category in enumerate(ds["category"]):
            by_category[category].append((split, index))
    rng = random.Random(seed)
    queues = []
    for category in sorted(by_category):
        rows = by_category[category]
        rng.shuffle(rows)
        queues.append((category, rows))
    taken: list[tuple[str, str, int]] = []
    depth = 0
    while len(taken) < sample and any(depth < len(rows) for _, rows in queues):
        for category, rows in queues:
            if depth < len(rows) and len(taken) < sample:
                taken.append((category, *rows[depth]))
        depth += 1
    return [(split, index) for _, split, index in sorted(taken)]


def _negative_columns(ds: Dataset) -> Iterable[Any]:
    """The flattened ``hard_negatives`` structs of ``ds``, one Arrow array per batch."""
    import pyarrow.compute as pc

    if "hard_negatives" not in ds.column_names:
        return
    arrow = ds.select_columns(["hard_negatives"]).with_format("arrow")
    for batch in arrow.iter(batch_size=8192):
        yield pc.list_flatten(batch.column("hard_negatives").combine_chunks())


def _value_counts(structs: Any, field: str, *, missing: str) -> Counter:
    import pyarrow.compute as pc

    if field not in {f.name for f in structs.type}:
        return Counter({missing: len(structs)}) if len(structs) else Counter()
    values = pc.fill_null(pc.struct_field(structs, field), missing)
    return Counter({item["values"].as_py(): item["counts"].as_py() for item in pc.value_counts(values)})


def review_summary(dataset: Dataset | DatasetDict) -> dict[str, Any]:
    """Referents per split and negatives by ``kind`` and by ``verified_by``, over every row.

    Negatives without a ``verified_by`` field (runs made before it) count as
    :data:`UNVERIFIED`. Counting runs on the Arrow columns, a batch at a time.

    Example:
        >>> from refaug.data.synthetic import synthetic_scenes
        >>> review_summary(synthetic_scenes(2, seed=0, image_size=(64, 48)))["negatives"]
        0
    """
    splits, kinds, verified = {}, Counter(), Counter()
    for split, ds in _as_dict(dataset).items():
        splits[split] = len(ds)
        for structs in _negative_columns(ds):
            kinds.update(_value_counts(structs, "kind", missing="unknown"))
            verified.update(_value_counts(structs, "verified_by", missing=UNVERIFIED))
    return {"referents": sum(splits.values()), "splits": splits, "negatives": sum(kinds.values()),
            "by_kind": dict(sorted(kinds.items())), "by_verified_by": dict(sorted(verified.items()))}


def _negative(item: dict[str, Any]) -> dict[str, Any]:
    return {"text": item.get("text") or "", "kind": item.get("kind") or "unknown",
            "detail": item.get("detail") or "", "origin": item.get("origin") or "",
            "similarity": item.get("similarity"), "score": item.get("score"),
            "verified_by": item.get("verified_by") or UNVERIFIED, "reason": item.get("reason") or "",
            "plausibility": item.get("plausibility")}  # the filter's relative LM score; None: not scored


def _card(row: dict[str, Any], split: str) -> dict[str, Any]:
    views = row.get("views") or {}
    return {
        "referent_id": str(row.get("referent_id", "")),
        "image_id": row.get("image_id"),
        "category": row.get("category") or "unknown",
        "split": split,
        "bbox": [round(float(v), 1) for v in row.get("bbox") or ()],
        "expressions": list(row.get("expressions") or ()),
        "views": [(name, views[name]) for name in VIEW_FIELDS if views.get(name)],
        "view_source": (views.get("source") or {}).get("backend"),
        "negatives": [_negative(item) for item in row.get("hard_negatives") or ()],
        "thumbnail": None,
        "crop": None,
    }


# ---------------------------------------------------------------- pictures


def _file_stem(position: int, referent_id: str) -> str:
    return f"{position:04d}-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", referent_id)[:80]


def _box_pictures(picture: Any, bbox: list[float]) -> tuple[Any, Any | None]:
    """The picture shrunk to :data:`THUMBNAIL_SIZE` with the box drawn, and the box's crop."""
    from PIL import ImageDraw, ImageOps

    x, y, w, h = (bbox + [0.0] * 4)[:4]
    crop = None
    if w > 0 and h > 0:
        mx, my = w * CROP_MARGIN, h * CROP_MARGIN
        area = (max(0, int(x - mx)), max(0, int(y - my)),
                min(picture.width, int(x + w + mx) + 1), min(picture.height, int(y + h + my) + 1))
        if area[2] > area[0] and area[3] > area[1]:
            crop = ImageOps.contain(picture.crop(area), CROP_SIZE)  # a small box is enlarged, too
    thumbnail = picture.copy()
    thumbnail.thumbnail(THUMBNAIL_SIZE)
    scale = thumbnail.width / picture.width
    line = max(2, round(thumbnail.width / 120))
    ImageDraw.Draw(thumbnail).rectangle(
        (x * scale, y * scale, (x + w) * scale, (y + h) * scale), outline=BOX_COLOUR, width=line)
    return thumbnail, crop


def _save_pictures(card: dict[str, Any], image: Any, folder: Path, stem: str) -> bool:
    """Fill the card's ``thumbnail`` and ``crop`` (paths relative to the page); False: no pixels."""
    try:
        picture = decode_image(image, row=card["referent_id"])
    except DataError as exc:
        logger.debug("review page: no picture for %s (%s)", card["referent_id"], exc)
        return False
    thumbnail, crop = _box_pictures(picture, card["bbox"])
    thumbnail.save(folder / f"{stem}.jpg", quality=JPEG_QUALITY)
    card["thumbnail"] = f"{folder.name}/{stem}.jpg"
    if crop is not None:
        crop.save(folder / f"{stem}-crop.jpg", quality=JPEG_QUALITY)
        card["crop"] = f"{folder.name}/{stem}-crop.jpg"
    return True


def _clear_pictures(folder: Path) -> None:
    """Remove the JPEGs of an earlier page, so a new sample leaves no stale files behind."""
    for path in folder.glob("*.jpg"):
        if path.is_file():
            path.unlink()


# ---------------------------------------------------------------- the page


def _cards(dd: DatasetDict, chosen: list[tuple[str, int]], images: Path) -> tuple[list[dict], int]:
    """The chosen rows as cards, their pictures saved in ``images``; also how many had no pixels."""
    by_split: dict[str, list[int]] = defaultdict(list)
    for split, index in chosen:
        by_split[split].append(index)
    rows = {}
    for split, indices in by_split.items():
        for index, row in zip(indices, dd[split].select(indices)):
            rows[split, index] = row
    cards, without_pixels = [], 0
    for position, key in enumerate(chosen):
        card = _card(rows[key], key[0])
        stem = _file_stem(position, card["referent_id"])
        if not _save_pictures(card, rows[key].get("image"), images, stem):
            without_pixels += 1
        cards.append(card)
    return cards, without_pixels


def _filter_choices(cards: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, list[str]]:
    negatives = [n for card in cards for n in card["negatives"]]
    return {
        "categories": sorted({card["category"] for card in cards}),
        "kinds": sorted({n["kind"] for n in negatives} | set(summary["by_kind"])),
        "verified_by": sorted({n["verified_by"] for n in negatives} | set(summary["by_verified_by"])),
    }


def _render(variables: dict[str, Any]) -> str:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    text = resources.files("refaug").joinpath("templates", TEMPLATE).read_text(encoding="utf-8")
    env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                               lstrip_blocks=True, keep_trailing_newline=True)
    return env.from_string(text).render(**variables)


def write_review_page(
    dataset: Dataset | DatasetDict,
    out_dir: str | Path,
    *,
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
    title: str = "refaug: referents and their negatives",
) -> Path:
    """Write ``out_dir/index.html``, ``out_dir/review.json`` and ``out_dir/images/*.jpg``.

    Args:
        dataset: the published rows (a split or a ``DatasetDict``, as ``load_from_disk`` gives).
        out_dir: the folder of the page (a run's ``report/``); created when missing. JPEGs
            already in its ``images/`` are removed first.
        sample: referents on the page at most (default :data:`DEFAULT_SAMPLE`), see
            :func:`sample_referents`.
        seed: the sampling seed (default 0).
        title: the page's title.

    Returns:
        the path of ``index.html``.

    Example:
        >>> from refaug.data.synthetic import synthetic_scenes
        >>> import tempfile
        >>> page = write_review_page(synthetic_scenes(2, seed=0, image_size=(64, 48)),
        ...                          tempfile.mkdtemp(), sample=3)
        >>> page.name, len(list((page.parent / "images").glob("*-crop.jpg")))
        ('index.html', 3)
    """
    dd = _as_dict(dataset)
    out = Path(out_dir)
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    _clear_pictures(images)
    chosen = sample_referents(dd, sample=sample, seed=seed)
    cards, without_pixels = _cards(dd, chosen, images)
    summary = review_summary(dd)
    page_info = {"sample": len(cards), "requested": sample, "seed": seed, "without_pixels": without_pixels}
    (out / "review.json").write_text(json.dumps({"summary": summary, "page": page_info, "referents": cards},
                                                indent=1, default=str), encoding="utf-8")
    html = _render({"title": title, "summary": summary, "page": page_info, "cards": cards,
                    "choices": _filter_choices(cards, summary), "unverified": UNVERIFIED})
    page = out / "index.html"
    page.write_text(html, encoding="utf-8")
    logger.info("review page: %s (%d referents, %d without pixels)", page, len(cards), without_pixels)
    return page
