"""The corpus mining works on: referents, their clusters, and every distinct text embedded once.

:func:`prepare` reads the referent rows, interns every distinct text (the clusters' members
first, then what the candidate sources bring, e.g. the rewriters' distractors) into one
string table, embeds the table once and computes each cluster's centroid with
:func:`refaug.vectors.centroids` (the arithmetic the cluster judgement and the stages use).
Near-duplicate checks compare :func:`refaug.text.normalize_text` keys.

Example:
    >>> codes, distinct = table_codes(["b", "a", "b"])
    >>> codes.tolist(), distinct
    ([0, 1, 0], ['b', 'a'])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from datasets import Dataset

from refaug.clusters import ClusterSet, cluster_texts
from refaug.embed import Embedder
from refaug.text import normalize_text
from refaug.vectors import centroids

if TYPE_CHECKING:
    from refaug.mining.sources.base import CandidateSource

# The referent columns mining reads; a source adds the columns it needs (CandidateSource.columns).
REFERENT_COLUMNS = ("referent_id", "image_id", "category", "expressions", "views")


@dataclass
class Data:
    """Everything the mining needs, as arrays over referents and distinct texts."""

    ids: list[str]
    image: np.ndarray  # image code per referent
    image_ids: list[Any]
    category: list[str]
    texts: list[str]  # distinct texts (members first, then what the sources added)
    vectors: np.ndarray  # (V, d), normalised
    norm: np.ndarray  # (V,) code of the normalised text
    member_ptr: np.ndarray
    member_idx: np.ndarray
    centroid: np.ndarray  # (R, d)
    min_member: np.ndarray  # (R,) loosest member's similarity to the centroid
    details: list[str]  # string table: one per referent first, then the sources' details
    origins: list[str]  # string table: referent ids first, then the sources' origins
    human_ptr: np.ndarray  # referent r's human expressions: human_idx[human_ptr[r]:human_ptr[r + 1]]
    human_idx: np.ndarray
    category_given: np.ndarray  # (R,) True where the dataset names the category (not derived)

    @property
    def n(self) -> int:
        return len(self.ids)

    def members(self, r: int) -> np.ndarray:
        return self.member_idx[self.member_ptr[r] : self.member_ptr[r + 1]]

    def humans(self, r: int) -> np.ndarray:
        """The text codes of referent r's human (original) expressions."""
        return self.human_idx[self.human_ptr[r] : self.human_ptr[r + 1]]

    def cluster_set(self) -> ClusterSet:
        """The clusters as the judgement reads them (no copy: the same arrays and lists)."""
        return ClusterSet(texts=self.texts, vectors=self.vectors, member_ptr=self.member_ptr,
                          member_idx=self.member_idx, centroid=self.centroid, loosest=self.min_member,
                          category=self.category)

    def human_cluster_set(self) -> ClusterSet:
        """Each referent's human expressions alone, as a cluster (the views left out): what a
        conflict must be stated against to rest on the annotation, not on a machine view."""
        centroid, loosest = centroids(self.vectors, self.human_ptr, self.human_idx)
        return ClusterSet(texts=self.texts, vectors=self.vectors, member_ptr=self.human_ptr,
                          member_idx=self.human_idx, centroid=centroid, loosest=loosest, category=self.category)


class Interner:
    """Assign consecutive codes to strings (a string table).

    ``initial`` items take the first codes without being looked up (they may repeat).
    """

    def __init__(self, initial: list[str] | None = None) -> None:
        self.items: list[str] = []
        self.codes: dict[str, int] = {}
        for item in initial or ():
            self.items.append(item)

    def __call__(self, item: str) -> int:
        code = self.codes.get(item)
        if code is None:
            code = self.codes[item] = len(self.items)
            self.items.append(item)
        return code


@dataclass(frozen=True)
class StringTables:
    """The string tables a source adds to before the texts are embedded."""

    texts: Interner  # distinct texts: every one is embedded
    details: Interner
    origins: Interner


def table_codes(values: list[Any]) -> tuple[np.ndarray, list[Any]]:
    """Dense integer codes of ``values`` in order of first appearance, and the distinct values."""
    table: dict[Any, int] = {}
    codes = np.fromiter((table.setdefault(v, len(table)) for v in values), np.int64, len(values))
    return codes, list(table)


def read_rows(dataset: Dataset, extra_columns: Iterable[str] = ()) -> dict[str, list]:
    """The referent columns (and ``extra_columns``) of ``dataset`` that are present, as lists."""
    wanted = tuple(dict.fromkeys((*REFERENT_COLUMNS, *extra_columns)))
    present = [c for c in wanted if c in dataset.column_names]
    missing = {"image_id", "expressions"} - set(present)
    if missing:
        raise ValueError(f"the dataset lacks the column(s) {sorted(missing)}; it needs the "
                         "canonical referent columns (refaug.records.REFERENT_FEATURES)")
    return dataset.select_columns(present).to_dict()


def prepare(dataset: Dataset, embedder: Embedder, *, include_expressions: bool,
            sources: list[CandidateSource]) -> Data:
    """Read, intern and embed the corpus; each source adds its texts before the embedding."""
    cols = read_rows(dataset, (c for source in sources for c in source.columns))
    n = len(cols["image_id"])
    views = cols.get("views") or [None] * n
    clusters = [cluster_texts({"views": v, "expressions": e}, include_expressions=include_expressions)
                for v, e in zip(views, cols["expressions"], strict=True)]
    ids = [str(x) for x in cols.get("referent_id") or range(n)]
    categories = [c or "" for c in cols.get("category") or [""] * n]
    image_codes, image_ids = table_codes(cols["image_id"])
    vocab = Interner()
    member_idx = np.fromiter((vocab(t) for c in clusters for t in c), np.int64)
    member_ptr = np.concatenate([[0], np.cumsum([len(c) for c in clusters])]).astype(np.int64)
    humans = [tuple(dict.fromkeys(t for t in e or () if t)) for e in cols["expressions"]]
    human_idx = np.fromiter((vocab(t) for h in humans for t in h), np.int64)
    human_ptr = np.concatenate([[0], np.cumsum([len(h) for h in humans])]).astype(np.int64)
    details = Interner([f"{categories[r] or 'object'} in image {cols['image_id'][r]}" for r in range(n)])
    origins = Interner(list(ids))
    tables = StringTables(texts=vocab, details=details, origins=origins)
    for source in sources:
        source.add_texts(cols, tables)
    vectors = embedder.encode_distinct(vocab.items)
    centroid, loosest = centroids(vectors, member_ptr, member_idx)
    norm_codes, _ = table_codes([normalize_text(t) for t in vocab.items])
    return Data(ids=ids, image=image_codes, image_ids=image_ids, category=categories,
                texts=vocab.items, vectors=vectors, norm=norm_codes, member_ptr=member_ptr,
                member_idx=member_idx, centroid=centroid, min_member=loosest,
                details=details.items, origins=origins.items, human_ptr=human_ptr, human_idx=human_idx,
                category_given=np.asarray([bool(c) for c in categories], bool))
