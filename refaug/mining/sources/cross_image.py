"""Cross-image candidates: the nearest member texts of other images, same class first.

The distinct member texts are stored sorted by (category, image), so a referent's own image
is one contiguous range the search skips (:func:`refaug.mining.search.topk_outside`). Two
searches (the seed's Method 2 first): the rows of the referent's category (kind
``same_class``), then, unless ``same_class`` restricts mining to those, every category, of
which the neighbours of another category are kept (kind ``cross_image``; a referent whose
category is unknown keeps all). Together they hold the nearest texts of all categories.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refaug.mining.candidates import KIND_CODE, Candidates
from refaug.mining.categories import fill_categories
from refaug.mining.corpus import Data
from refaug.mining.search import topk_outside, topk_outside_faiss
from refaug.mining.sources.base import CandidateSource, SourceContext

# Extra cross-image neighbours fetched per referent, beyond num_negatives, to make up for the
# ones dropped afterwards as (near-)duplicates of the referent's own texts.
CROSS_SLACK = 8


def _rows(matrix: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``matrix[index]``, as a view (no copy) when ``index`` is a contiguous ascending range."""
    if len(index) and index[-1] - index[0] == len(index) - 1 and (np.diff(index) == 1).all():
        return matrix[index[0] : index[-1] + 1]
    return matrix[index]


@dataclass
class CrossResult:
    """Per referent, the nearest texts of other images: vocab index, owner, score."""

    vocab: np.ndarray  # (R, k), -1 where missing
    owner: np.ndarray  # (R, k)
    score: np.ndarray  # (R, k)


def cross_image_search(data: Data, ceiling: np.ndarray, *, k: int, category: np.ndarray, search: str,
                       precision: str, query_chunk: int, corpus_chunk: int, device: str | None,
                       show_progress_bar: bool | None) -> CrossResult:
    """Search the distinct member texts, stored sorted by (category, image), for each referent.

    ``category`` codes per referent: each referent searches its own code's rows (all zeros:
    every row; -1: the referent is not searched).
    """
    corpus_vocab, first = np.unique(data.member_idx, return_index=True)
    owner_of_member = np.repeat(np.arange(data.n), np.diff(data.member_ptr))
    owner = owner_of_member[first]
    n_images = int(data.image.max(initial=0)) + 1
    key_of = category * n_images + data.image
    order = np.argsort(key_of[owner], kind="stable")
    corpus_vocab, owner, keys = corpus_vocab[order], owner[order], key_of[owner[order]]
    result = CrossResult(np.full((data.n, k), -1, np.int64), np.full((data.n, k), -1, np.int64),
                         np.full((data.n, k), -np.inf, np.float32))
    for code in np.unique(category[category >= 0]):
        queries = np.nonzero((category == code) & (np.diff(data.member_ptr) > 0))[0]
        lo, hi = np.searchsorted(keys, [code * n_images, (code + 1) * n_images])
        if len(queries) == 0 or hi <= lo:
            continue
        own = key_of[queries]
        start = np.searchsorted(keys[lo:hi], own, "left")
        end = np.searchsorted(keys[lo:hi], own, "right")
        finder = topk_outside if search == "torch" else topk_outside_faiss
        options = dict(query_chunk=query_chunk, corpus_chunk=corpus_chunk, precision=precision,
                       device=device, show_progress_bar=show_progress_bar) if search == "torch" else {}
        scores, index = finder(data.centroid[queries], _rows(data.vectors, corpus_vocab[lo:hi]), k=k,
                               ceiling=ceiling[queries], exclude_start=start, exclude_end=end, **options)
        found = index >= 0
        pos = np.where(found, index + lo, 0)
        result.vocab[queries] = np.where(found, corpus_vocab[pos], -1)
        result.owner[queries] = np.where(found, owner[pos], -1)
        result.score[queries] = scores
    return result


def other_category(result: CrossResult, category: np.ndarray) -> CrossResult:
    """``result`` with only the neighbours whose owner's category differs from the referent's
    (all of them where the referent's category is unknown)."""
    own = category[:, None]
    keep = (result.vocab >= 0) & ((category[np.maximum(result.owner, 0)] != own) | (own < 0))
    return CrossResult(np.where(keep, result.vocab, -1), np.where(keep, result.owner, -1),
                       np.where(keep, result.score, -np.inf).astype(np.float32))


class CrossImageSource(CandidateSource):
    """The nearest texts of other images, by exact search: same class (kind ``same_class``)
    and, unless ``same_class``, of other categories (kind ``cross_image``)."""

    name = "cross_image"
    results: list[tuple[int, CrossResult]]

    def prepare(self, data: Data, context: SourceContext) -> None:
        # Unless the search is pruned by a cut-off (context.centroid_based), the guards drop many
        # neighbours afterwards (unverified, inside the cluster): fetch more.
        k = (1 if context.centroid_based else 4) * context.num_negatives + CROSS_SLACK
        category = fill_categories(data)
        options = dict(k=k, search=context.search, precision=context.precision, query_chunk=context.chunk_size,
                       corpus_chunk=context.corpus_chunk_size, device=context.device,
                       show_progress_bar=context.show_progress_bar)
        self.results = [(KIND_CODE["same_class"], cross_image_search(data, context.ceiling, category=category,
                                                                      **options))]
        if not context.same_class:
            found = cross_image_search(data, context.ceiling, category=np.zeros(data.n, np.int64), **options)
            self.results.append((KIND_CODE["cross_image"], other_category(found, category)))

    def candidates(self, r0: int, r1: int) -> Candidates:
        parts = []
        for kind, result in self.results:
            vocab = result.vocab[r0:r1]
            found = vocab >= 0
            row = np.nonzero(found)[0] + r0
            origin = result.owner[r0:r1][found]
            parts.append(Candidates.of(row=row, vocab=vocab[found], kind=np.full(len(row), kind, np.int64),
                                       detail=origin, origin=origin, sim=result.score[r0:r1][found]))
        return Candidates.concat(parts)
