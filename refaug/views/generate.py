"""Referents -> prompts -> backend -> parsed :class:`~refaug.records.Views`.

:class:`ViewGenerator` groups referents by image (one request per image: the image is
encoded once and the model sees every object it must tell apart), renders the prompt
template, asks the backend, parses and checks every response, retries the failures with
the reason fed back into the prompt, and records what still fails. With ``cache_dir``,
each finished image is written to disk at once (atomically), keyed by the image, its
referents, the template hash, the backend's model and sampling settings and the schema:
a killed run loses no finished image, and a re-run only asks for what is missing.

Two ways to run it:

* ``dataset.map(generator, batched=True)``: a stage over a batch of rows, adding a
  ``views`` column (None where generation failed). Batches split by ``map`` split an
  image's referents into two requests; sort by ``image_id`` and use a batch size above
  the number of referents per image, or use :meth:`ViewGenerator.run`.
* ``generator.run(dataset)``: groups the whole dataset by image first, shows a progress
  bar and logs a report.

Example:
    >>> from refaug.data.synthetic import synthetic_scenes
    >>> ds = synthetic_scenes(2, seed=0)
    >>> generator = ViewGenerator()  # the rules backend: no model needed
    >>> out = generator.run(ds, show_progress_bar=False)
    >>> out[0]["views"]["source"]["backend"]
    'rules'
    >>> generator.report.failed_referents
    0
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

from datasets import Dataset, Features
from tqdm.auto import tqdm

from refaug.columns import replace_columns
from refaug.errors import TemplateError, check_choice
from refaug.io import atomic_write_text
from refaug.prompts import PromptTemplate, find_template
from refaug.records import REFERENT_FEATURES, VIEWS_FEATURE, Referent, Views, ViewSource
from refaug.views.backends.base import ImageRequest, ViewBackend
from refaug.views.schema import ParseFailure, ViewSchema, local_ids, parse_response

logger = logging.getLogger(__name__)

GroupBy = Literal["image", "referent"]
GROUP_BY_CHOICES: tuple[str, ...] = get_args(GroupBy)
CACHE_FORMAT = 1  # bump when the cache file layout changes


@dataclass(frozen=True)
class ViewFailure:
    """An image whose views could not be written after every retry.

    Args:
        image_id: the image.
        referent_ids: the referents left without views.
        reason: why the last attempt failed.
        attempts: how many times the request was sent.
        raw: the start of the last response (at most 500 characters).
    """

    image_id: int
    referent_ids: tuple[str, ...]
    reason: str
    attempts: int
    raw: str = ""


@dataclass
class GenerationReport:
    """What a generator did, summed over every call since it was made (or reset)."""

    images: int = 0
    referents: int = 0
    requests: int = 0
    retries: int = 0
    cached_images: int = 0
    failures: list[ViewFailure] = field(default_factory=list)

    @property
    def failed_referents(self) -> int:
        return sum(len(f.referent_ids) for f in self.failures)

    def merge(self, other: GenerationReport) -> None:
        """Add ``other``'s counts and failures (a worker process's part of a run)."""
        for name in ("images", "referents", "requests", "retries", "cached_images"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures.extend(other.failures)

    def summary(self) -> str:
        failed = len(self.failures)
        return (
            f"{self.images} images, {self.referents} referents: {self.cached_images} images from "
            f"the cache, {self.requests} requests, {self.retries} retries, {failed} images "
            f"({self.failed_referents} referents) failed"
        )


@dataclass(frozen=True)
class _Job:
    """One request's worth of referents: all of an image's, or a single one."""

    image_id: int
    image: str | bytes | None
    referents: tuple[Referent, ...]
    cache_key: str = ""


class ViewGenerator:
    """Writes the multi-view cluster of every referent with a backend.

    Args:
        backend: the backend that answers the prompts; None uses the ``rules`` backend.
        template: the prompt template, ``NAME.vN``, ``NAME`` or a path (default
            ``"multiview.v1"``).
        template_dirs: folders searched for the template before the packaged ones.
        batch_size: requests (images) sent to the backend at once (default 8).
        max_retries: how many times a failed request is sent again (default 2).
        cache_dir: a folder where each finished image is written; None keeps no cache.
        group_by: ``"image"`` (one request per image, the default) or ``"referent"`` (one
            request per referent).
        include_boxes: list each referent's box in the prompt (default True).
        schema: bounds on the expressions; default :class:`ViewSchema()`.
    """

    def __init__(
        self,
        backend: ViewBackend | None = None,
        *,
        template: str | os.PathLike = "multiview.v1",
        template_dirs: Sequence[str | os.PathLike] = (),
        batch_size: int = 8,
        max_retries: int = 2,
        cache_dir: str | os.PathLike | None = None,
        group_by: GroupBy = "image",
        include_boxes: bool = True,
        schema: ViewSchema | None = None,
    ) -> None:
        check_choice("group_by", group_by, GROUP_BY_CHOICES)
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} is not valid; it must be >= 1")
        if max_retries < 0:
            raise ValueError(f"max_retries={max_retries!r} is not valid; it must be >= 0")
        if backend is None:
            from refaug.views.backends.rules import RulesBackend

            backend = RulesBackend()
        self.backend = backend
        self.template = str(template)
        self.template_dirs = tuple(str(d) for d in template_dirs)
        self._template: PromptTemplate | None = find_template(template, search_path=self.template_dirs)
        self.template_hash = self._template.hash
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.cache_dir = str(cache_dir) if cache_dir is not None else None
        self.group_by = group_by
        self.include_boxes = include_boxes
        self.schema = schema or ViewSchema()
        self.report = GenerationReport()

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, Any]:
        # Only the configuration: no loaded model (the backend drops its own), no report.
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        state.pop("report", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._template = None
        self.report = GenerationReport()

    @property
    def prompt_template(self) -> PromptTemplate:
        """The template in use (re-read after unpickling, and checked against the hash then)."""
        if self._template is None:
            template = find_template(self.template, search_path=self.template_dirs)
            if template.hash != self.template_hash:
                raise TemplateError(
                    f"{template.path} changed since this ViewGenerator was made (hash "
                    f"{self.template_hash} -> {template.hash}). Fix: make a new ViewGenerator"
                )
            self._template = template
        return self._template

    @property
    def source(self) -> ViewSource:
        """What every :class:`Views` this generator writes carries as its ``source``."""
        t = self.prompt_template
        return ViewSource(
            backend=self.backend.name,
            model=self.backend.model,
            template=t.full_name,
            template_version=t.version,
            template_hash=t.hash,
        )

    # ------------------------------------------------------------------ public API

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        """The ``Dataset.map(..., batched=True)`` stage: adds a ``views`` column.

        Pass ``features=views_features(ds.features)`` to ``map`` so that a batch whose views
        all failed (None) still gets the canonical type.

        Example:
            >>> from refaug.data.synthetic import synthetic_scenes
            >>> ds = synthetic_scenes(2)
            >>> out = ds.map(ViewGenerator(), batched=True, batch_size=64,
            ...              features=views_features(ds.features))
            >>> out.features["views"]["spatial"].dtype
            'string'
        """
        count = len(next(iter(batch.values()))) if batch else 0
        referents = [Referent.from_row({k: v[i] for k, v in batch.items()}) for i in range(count)]
        views = self.generate(referents)
        return {"views": [_views_row(views.get(r.referent_id)) for r in referents]}

    def generate(
        self, referents: Sequence[Referent], *, show_progress_bar: bool = False
    ) -> dict[str, Views | None]:
        """Views for each referent id (None for a referent whose request failed)."""
        with tqdm(desc="views", unit="request", disable=not show_progress_bar) as bar:
            bar.total = len(self._group(referents))
            return self._generate(referents, bar)

    def run(
        self, dataset: Dataset, *, show_progress_bar: bool = True, images_per_chunk: int = 256, workers: int = 1
    ) -> Dataset:
        """Write views for a whole dataset, image by image; returns it with a ``views`` column.

        The dataset is read ``images_per_chunk`` images at a time, so image bytes never all
        sit in memory at once. Rows keep their order.

        Args:
            dataset: rows in the canonical referent schema (an old ``views`` column is replaced).
            show_progress_bar: show a progress bar over the requests (default True).
            images_per_chunk: images read from the dataset at once (default 256).
            workers: processes that share the images when the backend computes on the CPU in
                this process (``backend.cpu_bound``: the rules backend), forked, each image
                whole in one of them: the same views as one process (default 1).
        """
        before = len(self.report.failures)
        rows = dataset.remove_columns([c for c in ("views",) if c in dataset.column_names])
        keys = rows["image_id"] if self.group_by == "image" else rows["referent_id"]
        groups: dict[Any, list[int]] = {}
        for index, key in enumerate(keys):
            groups.setdefault(key, []).append(index)
        members = list(groups.values())
        with tqdm(total=len(members), desc="views", unit="request", disable=not show_progress_bar) as bar:
            if workers > 1 and self.backend.cpu_bound and len(members) > images_per_chunk:
                found = self._forked_views(rows, members, bar, workers=workers, images_per_chunk=images_per_chunk)
            else:
                found = self._views_of(rows, members, bar, images_per_chunk)
        self._log_report(self.report.failures[before:])
        column = [found.get(i) for i in range(len(rows))]
        return replace_columns(rows, {"views": column}, {"views": VIEWS_FEATURE})

    def _views_of(self, rows: Dataset, members: list[list[int]], bar: tqdm,
                  images_per_chunk: int) -> dict[int, dict[str, Any] | None]:
        """The ``views`` value of each row of ``members`` (groups of row positions), by row."""
        found: dict[int, dict[str, Any] | None] = {}
        for start in range(0, len(members), images_per_chunk):
            indices = [i for group in members[start : start + images_per_chunk] for i in group]
            referents = [Referent.from_row(row) for row in rows.select(indices)]
            views = self._generate(referents, bar)
            for i, referent in zip(indices, referents):
                found[i] = _views_row(views[referent.referent_id])
        return found

    def _forked_views(self, rows: Dataset, members: list[list[int]], bar: tqdm, *, workers: int,
                      images_per_chunk: int) -> dict[int, dict[str, Any] | None]:
        """:meth:`_views_of` over ``workers`` forked processes (:func:`refaug.workers.fork_map`),
        a part of the images each (several parts per process, so the bar moves and no process
        idles long); the parts' reports are added to this generator's."""
        from refaug.workers import fork_map

        size = max(1, min(images_per_chunk, -(-len(members) // (workers * 4))))
        parts = [members[i : i + size] for i in range(0, len(members), size)]
        found: dict[int, dict[str, Any] | None] = {}
        for part, (views, report) in zip(parts, fork_map(_views_of_part, parts, workers=workers,
                                                          state=(self, rows, images_per_chunk)), strict=True):
            found.update(views)
            self.report.merge(report)
            bar.update(len(part))
        return found

    def _generate(self, referents: Sequence[Referent], bar: tqdm) -> dict[str, Views | None]:
        jobs = self._jobs(referents)
        results: dict[str, Views | None] = {r.referent_id: None for r in referents}
        self.report.referents += len(referents)
        self.report.images += len({r.image_id for r in referents})
        pending = self._from_cache(jobs, results, bar)
        for start in range(0, len(pending), self.batch_size):
            chunk = pending[start : start + self.batch_size]
            self._run_with_retries(chunk, results)
            bar.update(len(chunk))
        return results

    def _log_report(self, failures: list[ViewFailure]) -> None:
        logger.info("views: %s", self.report.summary())
        if failures:
            logger.warning(
                "views: %d images (%d referents) have no views after %d attempts; first: %s",
                len(failures),
                sum(len(f.referent_ids) for f in failures),
                self.max_retries + 1,
                failures[0].reason,
            )

    # ------------------------------------------------------------------ jobs and requests

    def _group(self, referents: Sequence[Referent]) -> list[list[Referent]]:
        groups: dict[Any, list[Referent]] = {}
        for referent in referents:
            key = referent.image_id if self.group_by == "image" else referent.referent_id
            groups.setdefault(key, []).append(referent)
        return list(groups.values())

    def _jobs(self, referents: Sequence[Referent]) -> list[_Job]:
        jobs = [
            _Job(image_id=members[0].image_id, image=members[0].image, referents=tuple(members))
            for members in self._group(referents)
        ]
        if self.cache_dir is None:
            return jobs
        return [replace(job, cache_key=self._cache_key(job)) for job in jobs]

    def _request(self, job: _Job, *, previous_error: str | None = None) -> ImageRequest:
        """The backend request of one job, with the failure of the last attempt when retrying."""
        ids = local_ids(len(job.referents))
        variables = prompt_variables(
            job.referents,
            image_size=image_size(job.image) if self.include_boxes else None,
            include_boxes=self.include_boxes,
            max_chars=self.schema.max_chars,
            previous_error=previous_error,
        )
        return ImageRequest(
            image_id=job.image_id,
            image=job.image,
            referents=job.referents,
            prompt=self.prompt_template.render(variables),
            json_schema=self.schema.json_schema(ids),
        )

    def _run_with_retries(self, jobs: list[_Job], results: dict[str, Views | None]) -> None:
        errors: dict[int, str | None] = {i: None for i in range(len(jobs))}
        raws: dict[int, str] = {}
        for attempt in range(self.max_retries + 1):
            if not errors:
                return
            if attempt:
                self.report.retries += len(errors)
            indices = list(errors)
            requests = [self._request(jobs[i], previous_error=errors[i]) for i in indices]
            self.report.requests += len(requests)
            responses = self.backend.generate(requests)
            for i, response in zip(indices, responses):
                outcome = self._accept(jobs[i], response, results)
                if outcome is None:
                    del errors[i]
                else:
                    errors[i], raws[i] = outcome
        for i, reason in errors.items():
            self._record_failure(jobs[i], reason or "no response", raws.get(i, ""))

    def _accept(
        self, job: _Job, response: str | Exception, results: dict[str, Views | None]
    ) -> tuple[str, str] | None:
        """Store a good response and return None; return ``(reason, raw)`` for a bad one."""
        if isinstance(response, Exception):
            return f"the backend failed: {response.__class__.__name__}: {response}", ""
        ids = local_ids(len(job.referents))
        parsed = parse_response(response, ids, schema=self.schema, source=self.source)
        if isinstance(parsed, ParseFailure):
            logger.debug("image %s: rejected response: %s", job.image_id, parsed.reason)
            return parsed.reason, response
        views = {r.referent_id: parsed.views[i] for i, r in zip(ids, job.referents)}
        results.update(views)
        self._write_cache(job, views, response)
        return None

    def _record_failure(self, job: _Job, reason: str, raw: str) -> None:
        failure = ViewFailure(
            image_id=job.image_id,
            referent_ids=tuple(r.referent_id for r in job.referents),
            reason=reason,
            attempts=self.max_retries + 1,
            raw=raw[:500],
        )
        self.report.failures.append(failure)
        logger.debug("image %s: no views after %d attempts: %s", job.image_id, failure.attempts, reason)

    # ------------------------------------------------------------------ cache

    def _cache_key(self, job: _Job) -> str:
        parts = {
            "format": CACHE_FORMAT,
            "image_id": job.image_id,
            "image": _image_digest(job.image),
            "referents": [
                [r.referent_id, r.category, list(r.bbox), list(r.expressions)] for r in job.referents
            ],
            "template": [self.prompt_template.full_name, self.template_hash],
            "backend": self.backend.identity(),
            "schema": [self.schema.max_chars, self.schema.max_words, self.schema.charset],
            "include_boxes": self.include_boxes,
        }
        text = json.dumps(parts, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _cache_path(self, key: str) -> Path:
        return Path(self.cache_dir) / key[:2] / f"{key}.json"

    def _from_cache(self, jobs: list[_Job], results: dict[str, Views | None], bar: tqdm) -> list[_Job]:
        if self.cache_dir is None:
            return jobs
        pending = []
        for job in jobs:
            views = self._read_cache(job)
            if views is None:
                pending.append(job)
                continue
            results.update(views)
            self.report.cached_images += 1
            bar.update(1)
        return pending

    def _read_cache(self, job: _Job) -> dict[str, Views] | None:
        path = self._cache_path(job.cache_key)
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            views = {rid: Views.from_row(row) for rid, row in data["views"].items()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("ignoring unreadable cache file %s: %s", path, exc)
            return None
        if set(views) != {r.referent_id for r in job.referents}:
            return None
        return views

    def _write_cache(self, job: _Job, views: dict[str, Views], raw: str) -> None:
        if self.cache_dir is None:
            return
        path = self._cache_path(job.cache_key)
        data = {
            "format": CACHE_FORMAT,
            "image_id": job.image_id,
            "views": {rid: v.to_row() for rid, v in views.items()},
            "raw": raw,
        }
        atomic_write_text(path, json.dumps(data, ensure_ascii=False))


# ---------------------------------------------------------------------- prompt variables


def prompt_variables(
    referents: Sequence[Referent],
    *,
    image_size: tuple[int, int] | None = None,
    include_boxes: bool = True,
    max_chars: int = 80,
    previous_error: str | None = None,
) -> dict[str, Any]:
    """The variables of a ``multiview`` template for the referents of one image.

    Boxes are written as ``[x1, y1, x2, y2]`` fractions of the image size (the format
    LLaVA-1.5 was trained on for grounding) when the size is known, else in pixels.

    Example:
        >>> r = Referent(referent_id="a", image_id=1, ann_id=1, ref_id=1, category="dog",
        ...              supercategory="animal", bbox=(10, 20, 30, 40), image=None,
        ...              expressions=("brown dog",), split="train")
        >>> prompt_variables([r], image_size=(100, 200))["referents"][0]["box"]
        '[0.10, 0.10, 0.40, 0.30]'
    """
    units = None
    if include_boxes:
        units = "normalized" if image_size else "pixels"
    items = []
    for local_id, referent in zip(local_ids(len(referents)), referents):
        box = _format_box(referent.bbox, image_size) if include_boxes else None
        expressions = [e.replace('"', "'").strip() for e in referent.expressions if e.strip()]
        items.append({"id": local_id, "category": referent.category, "expressions": expressions, "box": box})
    return {
        "referents": items,
        "box_units": units,
        "max_chars": max_chars,
        "previous_error": previous_error,
    }


def _format_box(bbox: Sequence[float], size: tuple[int, int] | None) -> str:
    x, y, w, h = bbox
    if size:
        width, height = size
        values = [x / width, y / height, (x + w) / width, (y + h) / height]
        return "[" + ", ".join(f"{min(max(v, 0.0), 1.0):.2f}" for v in values) + "]"
    return "[" + ", ".join(f"{v:.0f}" for v in (x, y, w, h)) + "]"


def image_size(image: str | bytes | None) -> tuple[int, int] | None:
    """``(width, height)`` of an image file or bytes, reading only its header; None if unknown."""
    if image is None:
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image) if isinstance(image, bytes) else image) as picture:
            return picture.size
    except (OSError, UnidentifiedImageError, ValueError):
        return None


# ---------------------------------------------------------------------- helpers


def _image_digest(image: str | bytes | None) -> str | None:
    if image is None:
        return None
    if isinstance(image, bytes):
        return hashlib.sha256(image).hexdigest()
    try:
        return hashlib.sha256(Path(image).read_bytes()).hexdigest()
    except OSError:
        return f"path:{image}"


def _views_of_part(state: tuple, part: list[list[int]]) -> tuple[dict[int, dict[str, Any] | None], GenerationReport]:
    """In a forked worker: the views of one part's images (by row) and what it took."""
    generator, rows, images_per_chunk = state
    generator.report = GenerationReport()
    return generator._views_of(rows, part, tqdm(disable=True), images_per_chunk), generator.report


def _views_row(views: Views | None) -> dict[str, Any] | None:
    return views.to_row() if views is not None else None


def views_features(features: Features | None = None) -> Features:
    """``features`` (default: the canonical referent schema) plus the ``views`` column."""
    base = dict(features if features is not None else REFERENT_FEATURES)
    base["views"] = VIEWS_FEATURE
    return Features(base)
