"""Hard-negative mining: same-image, cross-image and same-class neighbours, plus distractors.

:func:`mine_hard_negatives` takes a ``Dataset`` of referents and returns a ``Dataset``:

1. each referent's cluster (its views and, optionally, its original expressions) is
   embedded once; its centroid is the normalised mean of its members;
2. candidates come from ``sources``: the texts of the other referents of the same image,
   the nearest texts of other images (exact search by blocked matrix products, memory
   bounded by the chunk sizes; optionally restricted to the same category), and the
   rewriters' ``distractors``;
3. guards drop likely false negatives (inside the cluster by the
   :class:`~refaug.clusters.ClusterClassifier`, above ``max_similarity``, within
   ``relative_margin`` of the cluster's own loosest member, exact or near-exact duplicates
   of the cluster's texts) and the function logs how many each rule dropped;
4. the rest are ranked by hardness (cosine to the centroid), optionally penalised by their
   similarity to negatives already chosen (``diversity``), and written as ``nested``
   :class:`~refaug.records.HardNegative` lists or the flat ``triplet`` / ``n-tuple`` formats of
   sentence-transformers' trainers.

Example:
    >>> from refaug.data.synthetic import synthetic_scenes
    >>> from refaug.embed import Embedder
    >>> ds = synthetic_scenes(20, image_size=(64, 48))
    >>> mined = mine_hard_negatives(ds, embedder=Embedder(), num_negatives=5)  # doctest: +SKIP
    >>> mined[0]["hard_negatives"][0]["kind"]  # doctest: +SKIP
    'same_image'
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pyarrow as pa
import torch
from datasets import Dataset, DatasetInfo, Features, List, concatenate_datasets
from datasets.table import InMemoryTable
from tqdm.auto import tqdm

from refaug.clusters import ClusterClassifier, cluster_texts
from refaug.contrast import Description, compare, pair_features
from refaug.embed import Embedder
from refaug.errors import check_choice
from refaug.records import CANDIDATE_KINDS, HARD_NEGATIVE_FEATURE, SCORE_PARTS
from refaug.text import normalize_text
from refaug.vectors import centroids

logger = logging.getLogger(__name__)

# =============================================================================== search
#
# topk_outside: for each query vector, the k most similar corpus rows outside an excluded range
# (the query's own image) and below a per-query ceiling, by blocked matrix products: memory is
# about query_chunk x corpus_chunk scores, never corpus x corpus. With precision="bf16" the
# blocks are multiplied in bfloat16 (about 5x fp32 on CPUs with AVX512-BF16/AMX) and the
# candidates re-scored in fp32; a query's answer is accepted only when the error bound proves no
# other row can enter its top k, else it is searched again (wider, then fp32): the result is
# the fp32 exact search's.

Precision = Literal["auto", "bf16", "fp32"]
PRECISIONS: tuple[str, ...] = get_args(Precision)

# Bound on |bf16 score - fp32 score| for unit vectors: rounding both inputs to bfloat16
# (unit roundoff u = 2**-8) moves a dot product by at most (2u + u**2) * sum|q_i c_i| <= 0.0079;
# the fp32 accumulation adds < 3e-5 (d = 384..1024) and rounding the output to bfloat16
# u * |s| <= 0.0039. Total < 0.0119; we use 0.0125. Used to widen the ceiling of the bf16 pass.
BF16_ERROR = 0.0125
# The exactness check uses a tighter bound per query, from the measured rounding errors:
# |q~.c~ - q.c| <= |q~ - q| (1 + e_c) + e_c, with e_c the largest |c~ - c| of the corpus,
# plus half a bfloat16 ulp of the output (2**-9 below 1, 2**-8 up to 2) and the fp32
# accumulation (< 1e-4).
_ACCUMULATION_ERROR = 1e-4
# Candidates fetched per query in the bf16 passes, (multiple of k, extra): a query whose
# exactness cannot be proven with the first width is searched again with the second, then
# in fp32. The share of queries that needed each pass is logged (benchmarks/mining.py).
_BF16_WIDTHS = ((2, 16), (8, 64))
_RESCORE_ROWS = 256


@lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU advertises AVX512-BF16 or AMX-BF16 (Linux ``/proc/cpuinfo``)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: Precision, device: torch.device) -> str:
    """``"auto"`` -> ``"bf16"`` on CUDA or on a CPU with fast bfloat16, else ``"fp32"``."""
    check_choice("precision", precision, PRECISIONS)
    if precision != "auto":
        return precision
    if device.type == "cuda" or (device.type == "cpu" and cpu_has_fast_bf16()):
        return "bf16"
    return "fp32"


def _mask_excluded(block: torch.Tensor, start: np.ndarray, end: np.ndarray, c0: int) -> None:
    """Set ``block[i, start_i - c0 : end_i - c0]`` to -inf where that range meets the block."""
    width = block.shape[1]
    rows = np.nonzero((end > c0) & (start < c0 + width) & (end > start))[0]
    for i in rows:
        block[i, max(int(start[i]) - c0, 0) : min(int(end[i]) - c0, width)] = -float("inf")


def _block_topk(
    queries: torch.Tensor, corpus: torch.Tensor, *, k: int, ceiling: torch.Tensor,
    start: np.ndarray, end: np.ndarray, corpus_chunk: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k of ``queries @ corpus.T`` below ``ceiling`` outside ``[start, end)``, blockwise."""
    n_queries, n_corpus = queries.shape[0], corpus.shape[0]
    best_v = torch.full((n_queries, 0), -float("inf"), dtype=torch.float32, device=queries.device)
    best_i = torch.zeros((n_queries, 0), dtype=torch.int64, device=queries.device)
    limit = ceiling.to(queries.dtype).unsqueeze(1)
    for c0 in range(0, n_corpus, corpus_chunk):
        block = queries @ corpus[c0 : c0 + corpus_chunk].T
        if bool(torch.isfinite(limit).any()):  # no ceiling at all: skip a pass over the block
            block.masked_fill_(block >= limit, -float("inf"))
        _mask_excluded(block, start, end, c0)
        v, i = torch.topk(block, min(k, block.shape[1]), dim=1)
        best_v = torch.cat([best_v, v.float()], dim=1)
        best_i = torch.cat([best_i, i + c0], dim=1)
        if best_v.shape[1] > k:
            best_v, pos = torch.topk(best_v, k, dim=1)
            best_i = torch.gather(best_i, 1, pos)
    return best_v, best_i


def _rescore(
    queries: torch.Tensor, corpus: torch.Tensor, approx: torch.Tensor, index: torch.Tensor,
    ceiling: torch.Tensor,
) -> torch.Tensor:
    """Exact fp32 scores of the candidates ``index``; -inf where missing or at the ceiling."""
    out = torch.empty_like(approx)
    for r0 in range(0, queries.shape[0], _RESCORE_ROWS):
        q = queries[r0 : r0 + _RESCORE_ROWS].unsqueeze(2)
        rows = index[r0 : r0 + _RESCORE_ROWS].clamp(min=0)
        cand = torch.index_select(corpus, 0, rows.flatten()).view(*rows.shape, corpus.shape[1])
        out[r0 : r0 + _RESCORE_ROWS] = torch.bmm(cand, q).squeeze(2)
    out[torch.isinf(approx)] = -float("inf")
    out[out >= ceiling.unsqueeze(1)] = -float("inf")
    return out


def _bf16_pass(
    queries: torch.Tensor, corpus: torch.Tensor, corpus_low: torch.Tensor, *, k: int, wide: int,
    ceiling: torch.Tensor, start: np.ndarray, end: np.ndarray, corpus_chunk: int, corpus_error: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """bf16 candidates, exact fp32 re-score, and which queries are provably complete.

    Rows whose bf16 score is at or above ``ceiling + BF16_ERROR`` (plus one bf16 ulp for the
    rounding of the limit itself) cannot be below the ceiling and are masked; rows between the
    ceiling and that limit take places in the list and are dropped at the re-score.
    """
    low = queries.to(torch.bfloat16)
    approx, index = _block_topk(low, corpus_low, k=wide, ceiling=ceiling + BF16_ERROR + 2.0**-7,
                                start=start, end=end, corpus_chunk=corpus_chunk)
    exact = _rescore(queries, corpus, approx, index, ceiling)
    exact, pos = torch.sort(exact, dim=1, descending=True)
    index = torch.gather(index, 1, pos)[:, :k]
    exact = exact[:, :k]
    # Every row outside the candidates has approx <= floor, hence exact <= floor + delta.
    query_error = torch.linalg.vector_norm(low.float() - queries, dim=1)
    floor = approx[:, -1] if approx.shape[1] == wide else torch.full_like(approx[:, 0], -float("inf"))
    output_error = torch.where(floor < 0.99, 2.0**-9, 2.0**-8)
    delta = query_error * (1 + corpus_error) + corpus_error + output_error + _ACCUMULATION_ERROR
    kth = exact[:, -1] if exact.shape[1] == k else torch.full_like(floor, -float("inf"))
    complete = torch.isinf(floor) | (kth >= floor + delta)
    return exact, index, complete


def _search_chunk(
    queries: torch.Tensor, corpus: torch.Tensor, corpus_low: torch.Tensor | None, *, k: int,
    ceiling: torch.Tensor, start: np.ndarray, end: np.ndarray, corpus_chunk: int,
    corpus_error: float, passes: Counter,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One query chunk: bf16 passes of growing width, then fp32 for what is left (or plain fp32)."""
    dev = queries.device
    todo = torch.arange(queries.shape[0], device=dev)
    scores = torch.full((queries.shape[0], k), -float("inf"), device=dev)
    index = torch.full((queries.shape[0], k), -1, dtype=torch.int64, device=dev)
    widths = [] if corpus_low is None else [min(a * k + b, corpus.shape[0]) for a, b in _BF16_WIDTHS]
    for level, wide in enumerate(widths):
        rows = todo.cpu().numpy()
        v, i, done = _bf16_pass(queries[todo], corpus, corpus_low, k=k, wide=wide,
                                ceiling=ceiling[todo], start=start[rows], end=end[rows],
                                corpus_chunk=corpus_chunk, corpus_error=corpus_error)
        scores[todo[done]], index[todo[done]] = v[done], i[done]
        passes[f"bf16 pass {level + 1}"] += int(done.sum())
        todo = todo[~done]
        if len(todo) == 0:
            return scores, index
    rows = todo.cpu().numpy()
    v, i = _block_topk(queries[todo], corpus, k=k, ceiling=ceiling[todo], start=start[rows],
                       end=end[rows], corpus_chunk=corpus_chunk)
    scores[todo, : v.shape[1]], index[todo, : i.shape[1]] = v, i
    passes["fp32"] += len(todo)
    return scores, index


def topk_outside(
    queries: np.ndarray,
    corpus: np.ndarray,
    *,
    k: int,
    ceiling: np.ndarray | None = None,
    exclude_start: np.ndarray | None = None,
    exclude_end: np.ndarray | None = None,
    query_chunk: int = 2048,
    corpus_chunk: int = 32768,
    precision: Precision = "auto",
    device: str | None = None,
    show_progress_bar: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` inner products per query, outside an excluded corpus range, below a ceiling.

    Args:
        queries: ``(Q, d)`` float32, L2-normalised.
        corpus: ``(N, d)`` float32, L2-normalised.
        k: neighbours per query.
        ceiling: ``(Q,)``; a corpus row counts only when its score is strictly below it.
            None: no ceiling.
        exclude_start, exclude_end: ``(Q,)``; corpus rows ``[start, end)`` are skipped for
            that query (e.g. the texts of its own image, stored contiguously). None: none.
        query_chunk, corpus_chunk: block sizes; peak memory is about
            ``query_chunk * corpus_chunk * 4`` bytes plus the corpus.
        precision: ``"bf16"`` (bfloat16 blocks, fp32 re-score, exact), ``"fp32"``, or
            ``"auto"`` (bf16 where the hardware has fast bfloat16).
        device: torch device; None uses CUDA when available.
        show_progress_bar: None shows one for more than 10 query chunks.

    Returns:
        ``(scores, indices)``, each ``(Q, k)``, best first; missing neighbours have score
        ``-inf`` and index ``-1``.
    """
    if k < 1:
        raise ValueError(f"k={k} must be >= 1")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    mode = resolve_precision(precision, dev)
    n_q = queries.shape[0]
    ceiling = np.full(n_q, np.inf, np.float32) if ceiling is None else np.asarray(ceiling, np.float32)
    start = np.zeros(n_q, np.int64) if exclude_start is None else np.asarray(exclude_start, np.int64)
    end = np.zeros(n_q, np.int64) if exclude_end is None else np.asarray(exclude_end, np.int64)
    corpus_t = torch.as_tensor(np.ascontiguousarray(corpus, dtype=np.float32), device=dev)
    corpus_low = corpus_t.to(torch.bfloat16) if mode == "bf16" else None
    k_eff = min(k, corpus.shape[0]) if corpus.shape[0] else 0
    scores = np.full((n_q, k), -np.inf, np.float32)
    index = np.full((n_q, k), -1, np.int64)
    if n_q == 0 or k_eff == 0:
        return scores, index
    corpus_error = 0.0
    if corpus_low is not None:
        corpus_error = float(torch.linalg.vector_norm(corpus_low.float() - corpus_t, dim=1).max())
    passes: Counter = Counter()
    chunks = range(0, n_q, query_chunk)
    show = len(chunks) > 10 if show_progress_bar is None else show_progress_bar
    for q0 in tqdm(chunks, desc="Cross-image search", unit="chunk", disable=not show):
        sl = slice(q0, q0 + query_chunk)
        q = torch.as_tensor(np.ascontiguousarray(queries[sl], dtype=np.float32), device=dev)
        ceil_t = torch.as_tensor(ceiling[sl], device=dev)
        v, i = _search_chunk(q, corpus_t, corpus_low, k=k_eff, ceiling=ceil_t, start=start[sl],
                             end=end[sl], corpus_chunk=corpus_chunk, corpus_error=corpus_error,
                             passes=passes)
        v, i = v.cpu().numpy(), i.cpu().numpy()
        i[np.isinf(v)] = -1
        scores[sl, : v.shape[1]], index[sl, : i.shape[1]] = v, i
    if mode == "bf16":
        logger.info("bf16 search of %d queries, exactness proven after: %s", n_q,
                    ", ".join(f"{name} {count} ({100.0 * count / max(n_q, 1):.2f}%)"
                              for name, count in passes.items()))
    return scores, index


def topk_outside_faiss(
    queries: np.ndarray, corpus: np.ndarray, *, k: int, ceiling: np.ndarray | None = None,
    exclude_start: np.ndarray | None = None, exclude_end: np.ndarray | None = None,
    oversample: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`topk_outside` with a FAISS flat inner-product index (``pip install faiss-cpu``).

    FAISS cannot skip rows per query, so it fetches ``k * oversample`` plus the largest excluded
    range and filters afterwards; a query whose filtered list is short is *not* searched again
    (use the torch search where exactness matters).
    """
    try:
        import faiss
    except ImportError as exc:
        raise ImportError("search='faiss' needs FAISS: pip install faiss-cpu") from exc
    n_q = queries.shape[0]
    start = np.zeros(n_q, np.int64) if exclude_start is None else np.asarray(exclude_start)
    end = np.zeros(n_q, np.int64) if exclude_end is None else np.asarray(exclude_end)
    ceiling = np.full(n_q, np.inf, np.float32) if ceiling is None else np.asarray(ceiling)
    index = faiss.IndexFlatIP(corpus.shape[1])
    index.add(np.ascontiguousarray(corpus, dtype=np.float32))
    wide = min(corpus.shape[0], k * oversample + int((end - start).max(initial=0)))
    raw_v, raw_i = index.search(np.ascontiguousarray(queries, dtype=np.float32), wide)
    bad = (raw_i < 0) | ((raw_i >= start[:, None]) & (raw_i < end[:, None]))
    bad |= raw_v >= ceiling[:, None]
    raw_v = np.where(bad, -np.inf, raw_v).astype(np.float32)
    order = np.argsort(-raw_v, axis=1, kind="stable")[:, :k]
    scores = np.take_along_axis(raw_v, order, axis=1)
    found = np.where(np.isinf(scores), -1, np.take_along_axis(raw_i, order, axis=1))
    pad = k - scores.shape[1]
    if pad > 0:
        scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
        found = np.pad(found, ((0, 0), (0, pad)), constant_values=-1)
    return scores, found.astype(np.int64)

# =============================================================================== mining

Source = Literal["same_image", "cross_image", "distractors"]
SOURCES: tuple[str, ...] = get_args(Source)
OutputFormat = Literal["nested", "triplet", "n-tuple"]
OUTPUT_FORMATS: tuple[str, ...] = get_args(OutputFormat)
SearchBackend = Literal["torch", "faiss"]
SEARCH_BACKENDS: tuple[str, ...] = get_args(SearchBackend)

# Keep a negative only if it is at least 5% of the loosest member's similarity below it:
# NV-Retriever's best setting, TopK-PercPos 95% (arXiv:2407.15831), the value
# sentence-transformers' mine_hard_negatives recommends for its relative_margin.
DEFAULT_RELATIVE_MARGIN = 0.05
# Extra cross-image neighbours fetched per referent, beyond num_negatives, to make up for the
# ones dropped afterwards as (near-)duplicates of the referent's own texts.
_CROSS_SLACK = 8
# In the diversity re-ranking, candidates considered per referent, as a multiple of
# num_negatives (the rest cannot be chosen before these run out).
_DIVERSITY_POOL = 4
_KIND_CODE = {kind: code for code, kind in enumerate(CANDIDATE_KINDS)}
_RULES = ("duplicate", "repeated", "inside_cluster", "max_similarity", "relative_margin")


@dataclass
class _Pool:
    """Candidates per referent in CSR layout: ``ptr[r]:ptr[r+1]`` are referent r's."""

    ptr: np.ndarray
    vocab: np.ndarray
    kind: np.ndarray
    detail: np.ndarray
    origin: np.ndarray


@dataclass
class _Data:
    """Everything the mining needs, as arrays over referents and distinct texts."""

    ids: list[str]
    image: np.ndarray  # image code per referent
    image_ids: list[Any]
    category: list[str]
    texts: list[str]  # distinct texts (members first, then distractors)
    vectors: np.ndarray  # (V, d), normalised
    norm: np.ndarray  # (V,) code of the normalised text
    member_ptr: np.ndarray
    member_idx: np.ndarray
    centroid: np.ndarray  # (R, d)
    min_member: np.ndarray  # (R,) loosest member's similarity to the centroid
    details: list[str]  # string table: one per referent first, then distractor details
    origins: list[str]  # string table: referent ids first, then distractor origins
    distractors: _Pool | None

    @property
    def n(self) -> int:
        return len(self.ids)

    def members(self, r: int) -> np.ndarray:
        return self.member_idx[self.member_ptr[r] : self.member_ptr[r + 1]]


def _read_rows(dataset: Dataset) -> dict[str, list]:
    wanted = ("referent_id", "image_id", "category", "expressions", "views", "distractors")
    present = [c for c in wanted if c in dataset.column_names]
    missing = {"image_id", "expressions"} - set(present)
    if missing:
        raise ValueError(f"the dataset lacks the column(s) {sorted(missing)}; it needs the "
                         "canonical referent columns (refaug.records.REFERENT_FEATURES)")
    return dataset.select_columns(present).to_dict()


class _Interner:
    """Assign consecutive codes to strings (a string table)."""

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


def _distractor_pool(
    rows: list[list[dict]] , vocab: _Interner, details: _Interner, origins: _Interner
) -> _Pool:
    ptr, idx, kind, detail, origin = [0], [], [], [], []
    for row in rows:
        for cand in row or ():
            if not cand or not cand.get("text"):
                continue
            idx.append(vocab(cand["text"]))
            kind.append(_KIND_CODE.get(cand.get("kind") or "", _KIND_CODE["llm_proposal"]))
            detail.append(details(cand.get("detail") or ""))
            origin.append(origins(cand.get("origin") or ""))
        ptr.append(len(idx))
    return _Pool(*(np.asarray(a, np.int64) for a in (ptr, idx, kind, detail, origin)))


def _prepare(dataset: Dataset, embedder: Embedder, *, include_expressions: bool,
             use_distractors: bool) -> _Data:
    cols = _read_rows(dataset)
    n = len(cols["image_id"])
    views = cols.get("views") or [None] * n
    clusters = [cluster_texts({"views": v, "expressions": e}, include_expressions=include_expressions)
                for v, e in zip(views, cols["expressions"], strict=True)]
    ids = [str(x) for x in cols.get("referent_id") or range(n)]
    categories = [c or "" for c in cols.get("category") or [""] * n]
    image_codes, image_ids = _codes(cols["image_id"])
    vocab = _Interner()
    member_idx = np.fromiter((vocab(t) for c in clusters for t in c), np.int64)
    member_ptr = np.concatenate([[0], np.cumsum([len(c) for c in clusters])]).astype(np.int64)
    details = _Interner([f"{categories[r] or 'object'} in image {cols['image_id'][r]}" for r in range(n)])
    origins = _Interner(list(ids))
    pool = None
    if use_distractors:
        pool = _distractor_pool(cols["distractors"], vocab, details, origins)
    vectors = embedder.encode_distinct(vocab.items)
    centroid, loosest = centroids(vectors, member_ptr, member_idx)
    norm_codes, _ = _codes([normalize_text(t) for t in vocab.items])
    return _Data(ids=ids, image=image_codes, image_ids=image_ids, category=categories,
                 texts=vocab.items, vectors=vectors, norm=norm_codes, member_ptr=member_ptr,
                 member_idx=member_idx, centroid=centroid, min_member=loosest,
                 details=details.items, origins=origins.items, distractors=pool)


def _codes(values: list[Any]) -> tuple[np.ndarray, list[Any]]:
    """Dense integer codes of ``values`` in order of first appearance, and the distinct values."""
    table: dict[Any, int] = {}
    codes = np.fromiter((table.setdefault(v, len(table)) for v in values), np.int64, len(values))
    return codes, list(table)


def _same_image_pool(data: _Data) -> _Pool:
    """For each referent, the member texts of the other referents of its image."""
    by_image: dict[int, list[int]] = {}
    for r, image in enumerate(data.image.tolist()):
        by_image.setdefault(image, []).append(r)
    parts_idx, parts_origin, counts = [], [], np.zeros(data.n, np.int64)
    for r in range(data.n):
        others = [j for j in by_image[int(data.image[r])] if j != r]
        for j in others:
            members = data.members(j)
            parts_idx.append(members)
            parts_origin.append(np.full(len(members), j, np.int64))
            counts[r] += len(members)
    vocab = np.concatenate(parts_idx) if parts_idx else np.zeros(0, np.int64)
    origin = np.concatenate(parts_origin) if parts_origin else np.zeros(0, np.int64)
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    kind = np.full(len(vocab), _KIND_CODE["same_image"], np.int64)
    return _Pool(ptr=ptr, vocab=vocab, kind=kind, detail=origin.copy(), origin=origin)


# ------------------------------------------------------------------- categories


def _head_noun(doc: Any) -> str | None:
    """The lemma of the expression's head noun: the root if it is a noun, else the first chunk's."""
    for token in doc:
        if token.dep_ == "ROOT" and token.pos_ in ("NOUN", "PROPN"):
            return token.lemma_.lower()
    for chunk in doc.noun_chunks:
        return chunk.root.lemma_.lower()
    nouns = [t for t in doc if t.pos_ in ("NOUN", "PROPN")]
    return nouns[-1].lemma_.lower() if nouns else None


def derive_categories(texts_per_referent: list[tuple[str, ...]], category_names: list[str],
                      *, batch_size: int = 256) -> list[str]:
    """For each referent, the dataset category its expressions' head nouns name ("" if none).

    Each distinct text is parsed once (``nlp.pipe``); a referent takes the category named by
    most of its texts.

    Example:
        >>> derive_categories([("the red circle",)], ["circle", "square"])  # doctest: +SKIP
        ['circle']
    """
    from refaug.nlp import load_nlp

    names = {}
    for name in category_names:
        lowered = name.lower()
        names.setdefault(lowered, name)
        names.setdefault(lowered.split()[-1], name)
    distinct = list(dict.fromkeys(t for texts in texts_per_referent for t in texts))
    nlp = load_nlp(disable=("ner",))
    heads = {t: _head_noun(doc) for t, doc in zip(distinct, nlp.pipe(distinct, batch_size=batch_size), strict=True)}
    out = []
    for texts in texts_per_referent:
        votes = Counter(names[h] for t in texts if (h := heads.get(t)) in names)
        out.append(votes.most_common(1)[0][0] if votes else "")
    return out


def _fill_categories(data: _Data) -> np.ndarray:
    """Category codes per referent, deriving unknown ones from head nouns; -1 where unknown."""
    unknown = [r for r, c in enumerate(data.category) if not c]
    known = sorted({c for c in data.category if c})
    if unknown and known:
        texts = [tuple(data.texts[i] for i in data.members(r)) for r in unknown]
        for r, category in zip(unknown, derive_categories(texts, known), strict=True):
            data.category[r] = category
        still = sum(1 for r in unknown if not data.category[r])
        logger.info("same_class: derived the category of %d of %d referents without one from "
                    "their head nouns; %d stay unknown and get no same-class negatives",
                    len(unknown) - still, len(unknown), still)
    table = {c: i for i, c in enumerate(sorted({c for c in data.category if c}))}
    return np.asarray([table.get(c, -1) for c in data.category], np.int64)


# ----------------------------------------------------------------- cross image


def _rows(matrix: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``matrix[index]``, as a view (no copy) when ``index`` is a contiguous ascending range."""
    if len(index) and index[-1] - index[0] == len(index) - 1 and (np.diff(index) == 1).all():
        return matrix[index[0] : index[-1] + 1]
    return matrix[index]


@dataclass
class _CrossResult:
    """Per referent, the nearest texts of other images: vocab index, owner, score."""

    vocab: np.ndarray  # (R, k), -1 where missing
    owner: np.ndarray  # (R, k)
    score: np.ndarray  # (R, k)


def _cross_image(data: _Data, ceiling: np.ndarray, *, k: int, same_class: bool, search: str,
                 precision: str, query_chunk: int, corpus_chunk: int, device: str | None,
                 show_progress_bar: bool | None) -> _CrossResult:
    """Search the distinct member texts, stored sorted by (category, image), for each referent."""
    corpus_vocab, first = np.unique(data.member_idx, return_index=True)
    owner_of_member = np.repeat(np.arange(data.n), np.diff(data.member_ptr))
    owner = owner_of_member[first]
    category = _fill_categories(data) if same_class else np.zeros(data.n, np.int64)
    n_images = int(data.image.max(initial=0)) + 1
    key_of = category * n_images + data.image
    order = np.argsort(key_of[owner], kind="stable")
    corpus_vocab, owner, keys = corpus_vocab[order], owner[order], key_of[owner[order]]
    result = _CrossResult(np.full((data.n, k), -1, np.int64), np.full((data.n, k), -1, np.int64),
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


# ------------------------------------------------------------------ judgement


@dataclass
class _Flat:
    """A flat list of candidates of a chunk of referents (one entry per candidate)."""

    row: np.ndarray
    vocab: np.ndarray
    kind: np.ndarray
    detail: np.ndarray
    origin: np.ndarray
    source: np.ndarray
    sim: np.ndarray

    @classmethod
    def concat(cls, parts: list[_Flat]) -> _Flat:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__))

    def take(self, mask: np.ndarray) -> _Flat:
        return _Flat(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))


def _from_pool(pool: _Pool, r0: int, r1: int, source: int) -> _Flat:
    a, b = pool.ptr[r0], pool.ptr[r1]
    row = np.repeat(np.arange(r0, r1), np.diff(pool.ptr[r0 : r1 + 1]))
    return _Flat(row, pool.vocab[a:b], pool.kind[a:b], pool.detail[a:b], pool.origin[a:b],
                 np.full(b - a, source, np.int64), np.full(b - a, np.nan, np.float32))


def _from_cross(cross: _CrossResult, r0: int, r1: int, source: int, kind: int) -> _Flat:
    vocab = cross.vocab[r0:r1]
    found = vocab >= 0
    row = np.nonzero(found)[0] + r0
    origin = cross.owner[r0:r1][found]
    return _Flat(row, vocab[found], np.full(len(row), kind, np.int64), origin, origin,
                 np.full(len(row), source, np.int64), cross.score[r0:r1][found])


def _nearest_similarity(data: _Data, rows: np.ndarray, vocab: np.ndarray) -> np.ndarray:
    """The largest similarity of each candidate to any single member of its referent's cluster."""
    counts = np.diff(data.member_ptr)[rows]
    best = np.full(len(rows), -np.inf, np.float32)
    for m in range(int(counts.max(initial=0))):
        has = counts > m
        member = data.member_idx[data.member_ptr[rows[has]] + m]
        sims = np.einsum("nd,nd->n", data.vectors[vocab[has]], data.vectors[member])
        best[has] = np.maximum(best[has], sims)
    return best


@dataclass(frozen=True)
class _Guards:
    cutoff: np.ndarray  # (R,) classifier cut-off per referent
    margin_bound: np.ndarray  # (R,) relative-margin bound per referent (inf: none)
    max_similarity: float | None
    nearest: bool
    contrast: ClusterClassifier | None = None  # the "contrast" classifier, judging texts


@dataclass
class _Contrast:
    """The contrast judgement of a chunk's candidates: P(same referent), conflicts found."""

    probability: np.ndarray
    conflict: np.ndarray
    note: np.ndarray


def _contrast_judgement(flat: _Flat, data: _Data, clf: ClusterClassifier, alive: np.ndarray) -> _Contrast:
    """Judge candidates by cosine and contrastive attributes (refaug.contrast).

    Candidates whose cosine is so low that no agreement could lift them to the threshold
    (``ContrastModel.cosine_floor``) get the cosine-only probability without a parse.
    """
    features = np.zeros((len(flat.row), len(pair_features([], 0.0))), np.float32)
    features[:, 0] = flat.sim
    probability = clf.model.probability(features)
    conflict = np.zeros(len(flat.row), bool)
    note = np.full(len(flat.row), "", object)
    need = np.nonzero(alive & (flat.sim >= clf.model.cosine_floor(clf.threshold)))[0]
    if len(need) == 0:
        return _Contrast(probability, conflict, note)
    rows = np.unique(flat.row[need])
    members = {int(r): [data.texts[i] for i in data.members(r)] for r in rows}
    candidates = np.unique(flat.vocab[need])
    member_texts = [t for texts in members.values() for t in texts]
    # One parse (nlp.pipe) for the chunk's members and candidates; the lookups below hit the cache.
    described = clf.describe(member_texts + [data.texts[v] for v in candidates])
    described = dict(zip(candidates.tolist(), described[len(member_texts) :], strict=True))
    clusters = {r: Description.union(clf.describe(texts), category=data.category[r] or None)
                for r, texts in members.items()}
    decisive = clf.decisive_kinds
    for i in need:
        findings = compare(clusters[int(flat.row[i])], described[int(flat.vocab[i])])
        features[i] = pair_features(findings, float(flat.sim[i]))
        conflict[i] = any(f.conflict and f.kind in decisive for f in findings)
        note[i] = "; ".join(str(f) for f in findings if f.conflict)
    probability[need] = clf.model.probability(features[need])
    return _Contrast(probability, conflict, note)


def _judge(flat: _Flat, data: _Data, guards: _Guards, counts: Counter) -> tuple[_Flat, np.ndarray, np.ndarray]:
    """Apply the guards in order; count what each drops per source; return survivors.

    Returns the surviving candidates, their classifier similarity, and per candidate the
    conflicts the contrast classifier found ("" otherwise).
    """
    todo = np.isnan(flat.sim)
    flat.sim[todo] = np.einsum("nd,nd->n", data.vectors[flat.vocab[todo]], data.centroid[flat.row[todo]])
    n_vocab = len(data.texts)
    rows = np.unique(flat.row)
    member_rows = np.repeat(np.arange(data.n), np.diff(data.member_ptr))
    in_chunk = np.isin(member_rows, rows)
    cluster_keys = member_rows[in_chunk] * n_vocab + data.norm[data.member_idx[in_chunk]]
    keys = flat.row * n_vocab + data.norm[flat.vocab]
    class_sim = _nearest_similarity(data, flat.row, flat.vocab) if guards.nearest else flat.sim
    alive = np.ones(len(keys), bool)
    note = np.full(len(keys), "", object)
    conflict = np.zeros(len(keys), bool)
    for source in np.unique(flat.source):
        counts[(int(source), "considered")] += int((flat.source == source).sum())

    def inside_cluster() -> np.ndarray:
        nonlocal class_sim, note, conflict
        if guards.contrast is not None:
            judged = _contrast_judgement(flat, data, guards.contrast, alive)
            class_sim, note, conflict = judged.probability, judged.note, judged.conflict
            # A decisive conflict makes a sure negative (none when conflict_is_negative is off).
            return (class_sim >= guards.cutoff[flat.row]) & ~conflict
        return class_sim >= guards.cutoff[flat.row]

    def relative_margin() -> np.ndarray:
        above = flat.sim > guards.margin_bound[flat.row]
        if guards.contrast is None:
            return above
        # A conflict makes a sure negative: the margin guards against false negatives only.
        for source in np.unique(flat.source[alive & above & conflict]):
            counts[(int(source), "kept_by_conflict")] += int((alive & above & conflict & (flat.source == source)).sum())
        return above & ~conflict

    rules = {
        "duplicate": lambda: np.isin(keys, cluster_keys),
        "repeated": lambda: ~_first_occurrence(keys, alive),
        "inside_cluster": inside_cluster,
        "max_similarity": lambda: flat.sim > (np.inf if guards.max_similarity is None else guards.max_similarity),
        "relative_margin": relative_margin,
    }
    for rule in _RULES:
        drop = alive & rules[rule]()
        for source in np.unique(flat.source[drop]):
            counts[(int(source), rule)] += int((drop & (flat.source == source)).sum())
        alive &= ~drop
    return flat.take(alive), np.asarray(class_sim)[alive], note[alive]


def _first_occurrence(keys: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """True where an alive entry's key appears for the first time among alive entries."""
    first = np.zeros(len(keys), bool)
    alive_pos = np.nonzero(alive)[0]
    _, idx = np.unique(keys[alive_pos], return_index=True)
    first[alive_pos[idx]] = True
    return first | ~alive


# -------------------------------------------------------------------- ranking


def _rank_top(flat: _Flat, tiebreak: np.ndarray, num_negatives: int) -> np.ndarray:
    """Entry order: per row, the ``num_negatives`` highest similarities (ties by ``tiebreak``)."""
    order = np.lexsort((tiebreak[flat.vocab], -flat.sim, flat.row))
    row = flat.row[order]
    rank = np.arange(len(row)) - np.searchsorted(row, row, "left")
    return order[rank < num_negatives]


def _rank_diverse(flat: _Flat, data: _Data, tiebreak: np.ndarray, *, num_negatives: int,
                  diversity: float, sub_rows: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Greedy selection: similarity minus ``diversity`` x the largest similarity to those chosen."""
    pool = _rank_top(flat, tiebreak, _DIVERSITY_POOL * num_negatives)
    picked, scores = [], []
    for slots in _slot_blocks(flat, pool, sub_rows):
        p, sc = _greedy(slots, flat, data, num_negatives=num_negatives, diversity=diversity)
        picked.append(p)
        scores.append(sc)
    return np.concatenate(picked), np.concatenate(scores)


def _slot_blocks(flat: _Flat, pool: np.ndarray, sub_rows: int) -> Iterator[np.ndarray]:
    """The pooled entries as ``(referents, width)`` blocks of ``sub_rows`` referents (-1: empty)."""
    rows, starts = np.unique(flat.row[pool], return_index=True)
    sizes = np.diff(np.append(starts, len(pool)))
    for b0 in range(0, len(rows), sub_rows):
        s = slice(b0, b0 + sub_rows)
        slots = np.full((len(sizes[s]), int(sizes[s].max())), -1, np.int64)
        for i, (st, sz) in enumerate(zip(starts[s], sizes[s], strict=True)):
            slots[i, :sz] = pool[st : st + sz]
        yield slots


def _greedy(slots: np.ndarray, flat: _Flat, data: _Data, *, num_negatives: int,
            diversity: float) -> tuple[np.ndarray, np.ndarray]:
    valid = torch.from_numpy(slots >= 0)
    entries = np.where(slots >= 0, slots, 0)
    vectors = torch.from_numpy(data.vectors[flat.vocab[entries]])
    pairwise = torch.bmm(vectors, vectors.transpose(1, 2))
    sim = torch.from_numpy(flat.sim[entries]).masked_fill(~valid, -float("inf"))
    penalty = torch.zeros_like(sim)
    taken = ~valid
    out_entry, out_score = [], []
    batch = torch.arange(len(slots))
    for _ in range(min(num_negatives, slots.shape[1])):
        effective = (sim - diversity * penalty.clamp(min=0)).masked_fill(taken, -float("inf"))
        best, pick = effective.max(dim=1)
        ok = torch.isfinite(best)
        out_entry.append(np.where(ok.numpy(), slots[batch.numpy(), pick.numpy()], -1))
        out_score.append(best.numpy())
        taken[batch, pick] = True
        penalty = torch.maximum(penalty, pairwise[batch, pick])
    entry = np.stack(out_entry, axis=1).ravel()
    score = np.stack(out_score, axis=1).ravel()
    return entry[entry >= 0], score[entry >= 0].astype(np.float32)


# ------------------------------------------------------ model-in-the-loop ranking

Weights = dict[str, float]
WEIGHT_NAMES: tuple[str, ...] = ("similarity", "uncertainty", "diversity")


@dataclass
class _Ranking:
    """How to rank with the user's model: the weights of each part, the scorer, the rows."""

    weights: Weights
    scorer: Any  # refaug.scoring.Scorer | None
    dataset: Dataset
    show_progress_bar: bool | None


def _score_pool(flat: _Flat, pool: np.ndarray, data: _Data, ranking: _Ranking,
                counts: Counter) -> tuple[np.ndarray, np.ndarray]:
    """The model's score of each pooled candidate, and its decision point per candidate.

    One scorer call covers a referent's own cluster texts (the positives) and its pooled
    candidates; the decision point is ``scorer.threshold``, or for relative scorers the mean
    score of the referent's own texts.
    """
    from refaug.scoring import decision_point, score_all

    model_score = np.full(len(flat.row), np.nan, np.float32)
    reference = np.full(len(flat.row), np.nan, np.float32)
    rows, starts = np.unique(flat.row[pool], return_index=True)
    ends = np.append(starts[1:], len(pool))
    positives = [[data.texts[i] for i in data.members(r)] for r in rows]
    texts = [pos + [data.texts[v] for v in flat.vocab[pool[a:b]]]
             for pos, a, b in zip(positives, starts, ends, strict=True)]
    referents = ranking.dataset.select(rows.tolist()).to_list()
    scores = score_all(ranking.scorer, referents, texts, show_progress_bar=False)
    for pos, a, b, got in zip(positives, starts, ends, scores, strict=True):
        ref = decision_point(ranking.scorer, got[: len(pos)])
        model_score[pool[a:b]] = got[len(pos) :]
        reference[pool[a:b]] = ref
        if np.isnan(ref):
            counts[("scorer", "no_reference")] += 1
    counts[("scorer", "referents")] += len(rows)
    counts[("scorer", "texts")] += sum(len(t) for t in texts)
    return model_score, reference


def _uncertainty(flat: _Flat, pool: np.ndarray, model_score: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """1 where the model scores a negative at or above its decision point (it calls it a match),
    falling to 0 at the candidate of the same referent it scores farthest below (min-max over the
    referent's pool); 0 where unknown.

    One-sided: a negative the model scores far above the point is its most confident mistake,
    not a sure call, so it ranks with the other false positives, first.
    """
    distance = np.maximum(reference - model_score, 0.0)
    out = np.zeros(len(flat.row), np.float32)
    known = pool[np.isfinite(distance[pool])]
    if len(known) == 0:
        return out
    rows = flat.row[known]
    order = np.argsort(rows, kind="stable")
    known, rows = known[order], rows[order]
    starts = np.unique(rows, return_index=True)[1]
    spread = np.maximum.reduceat(distance[known], starts)
    spread = np.repeat(spread, np.diff(np.append(starts, len(known))))
    out[known] = np.where(spread > 0, 1.0 - distance[known] / np.where(spread > 0, spread, 1.0), 1.0)
    return out


def _rank_weighted(flat: _Flat, data: _Data, tiebreak: np.ndarray, *, num_negatives: int,
                   ranking: _Ranking, counts: Counter, sub_rows: int = 256
                   ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...], np.ndarray]:
    """Greedy selection by ``w_s * similarity + w_u * uncertainty + w_d * diversity``.

    Diversity is the mean cosine distance of a candidate to the negatives already chosen for
    its referent (0 for the first pick). Returns the entries, their scores, the parts
    (uncertainty, diversity, model score) and a note for the model's false positives.
    """
    pool = _rank_top(flat, tiebreak, _DIVERSITY_POOL * num_negatives)
    model_score = np.full(len(flat.row), np.nan, np.float32)
    reference = model_score.copy()
    if ranking.scorer is not None and len(pool):
        model_score, reference = _score_pool(flat, pool, data, ranking, counts)
    uncertainty = _uncertainty(flat, pool, model_score, reference)
    w = ranking.weights
    base = w.get("similarity", 0.0) * flat.sim + w.get("uncertainty", 0.0) * uncertainty
    picked, scores, spreads = [], [], []
    for slots in _slot_blocks(flat, pool, sub_rows):
        p, sc, dv = _greedy_weighted(slots, flat, data, base, num_negatives=num_negatives,
                                     diversity=w.get("diversity", 0.0))
        picked.append(p)
        scores.append(sc)
        spreads.append(dv)
    if not picked:
        empty = np.zeros(0, np.float32)
        return np.zeros(0, np.int64), empty, (empty, empty, empty), np.zeros(0, object)
    entries = np.concatenate(picked)
    fp = model_score[entries] >= reference[entries]
    note = np.array([f"the model scores it as a match ({m:.3f} >= {r:.3f})" if f else ""
                     for f, m, r in zip(fp, model_score[entries], reference[entries], strict=True)], object)
    parts = (uncertainty[entries] if ranking.scorer is not None else np.full(len(entries), np.nan, np.float32),
             np.concatenate(spreads), model_score[entries])
    return entries, np.concatenate(scores), parts, note


def _greedy_weighted(slots: np.ndarray, flat: _Flat, data: _Data, base: np.ndarray, *,
                     num_negatives: int, diversity: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    valid = torch.from_numpy(slots >= 0)
    entries = np.where(slots >= 0, slots, 0)
    vectors = torch.from_numpy(data.vectors[flat.vocab[entries]])
    distance = 1.0 - torch.bmm(vectors, vectors.transpose(1, 2))
    value = torch.from_numpy(base[entries].astype(np.float32)).masked_fill(~valid, -float("inf"))
    total = torch.zeros_like(value)
    taken = ~valid
    batch = torch.arange(len(slots))
    out_entry, out_score, out_div = [], [], []
    for step in range(min(num_negatives, slots.shape[1])):
        spread = total / step if step else total
        effective = (value + diversity * spread).masked_fill(taken, -float("inf"))
        best, pick = effective.max(dim=1)
        ok = torch.isfinite(best).numpy()
        out_entry.append(np.where(ok, slots[batch.numpy(), pick.numpy()], -1))
        out_score.append(best.numpy())
        out_div.append(np.where(step > 0, spread[batch, pick].numpy(), np.nan))
        taken[batch, pick] = True
        total = total + distance[batch, pick]
    entry = np.stack(out_entry, axis=1).ravel()
    keep = entry >= 0
    return (entry[keep], np.stack(out_score, axis=1).ravel()[keep].astype(np.float32),
            np.stack(out_div, axis=1).ravel()[keep].astype(np.float32))


# --------------------------------------------------------------------- output


@dataclass
class _Selected:
    """The kept negatives, sorted by referent then rank."""

    row: np.ndarray
    vocab: np.ndarray
    kind: np.ndarray
    detail: np.ndarray
    origin: np.ndarray
    sim: np.ndarray
    score: np.ndarray
    class_sim: np.ndarray
    note: np.ndarray  # object: what else the reason should say ("" for nothing)
    uncertainty: np.ndarray  # NaN where not computed
    diversity: np.ndarray
    model_score: np.ndarray


def _reasons(selected: _Selected, cutoff: np.ndarray, label: str) -> pa.Array:
    """``"sim 0.612 < threshold 0.750"`` per negative, built from the distinct pairs only."""
    a = np.round(selected.class_sim.astype(np.float64) * 1000).astype(np.int64)
    b = np.round(cutoff[selected.row].astype(np.float64) * 1000).astype(np.int64)
    pairs, inverse = np.unique(np.stack([a, b], axis=1), axis=0, return_inverse=True)
    table = pa.array([f"{label.split()[0]} {x / 1000:.3f} < {label.split()[1]} {y / 1000:.3f}"
                      for x, y in pairs], pa.string())
    reasons = table.take(pa.array(inverse.ravel()))
    if not any(selected.note):
        return reasons
    return pa.array([f"{r}; {n}" if n else r for r, n in zip(reasons.to_pylist(), selected.note, strict=True)],
                    pa.string())


def _score_parts(selected: _Selected) -> pa.StructArray:
    """The ``score_parts`` struct: NaN (not computed) becomes null."""
    arrays = []
    for values in (selected.sim, selected.uncertainty, selected.diversity, selected.model_score):
        values = np.asarray(values, np.float32)
        arrays.append(pa.array(values, pa.float32(), mask=np.isnan(values)))
    return pa.StructArray.from_arrays(arrays, names=list(SCORE_PARTS))


def _negative_structs(selected: _Selected, data: _Data, cutoff: np.ndarray, label: str) -> pa.StructArray:
    texts = pa.array(data.texts, pa.string())
    kinds = pa.array(list(CANDIDATE_KINDS), pa.string())
    columns = [
        texts.take(pa.array(selected.vocab)),
        kinds.take(pa.array(selected.kind)),
        pa.array(data.details, pa.string()).take(pa.array(selected.detail)),
        pa.array(data.origins, pa.string()).take(pa.array(selected.origin)),
        pa.array(selected.sim.astype(np.float32)),
        pa.array(selected.score.astype(np.float32)),
        _reasons(selected, cutoff, label),
        _score_parts(selected),
    ]
    return pa.StructArray.from_arrays(columns, names=list(HARD_NEGATIVE_FEATURE))


def _nested(dataset: Dataset, selected: _Selected, data: _Data, cutoff: np.ndarray, label: str) -> Dataset:
    counts = np.bincount(selected.row, minlength=data.n)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    column = pa.ListArray.from_arrays(offsets, _negative_structs(selected, data, cutoff, label))
    features = Features({"hard_negatives": List(HARD_NEGATIVE_FEATURE)})
    negatives = Dataset(InMemoryTable(pa.table({"hard_negatives": column})), info=DatasetInfo(features=features))
    base = dataset.remove_columns("hard_negatives") if "hard_negatives" in dataset.column_names else dataset
    if base._indices is not None:
        base = base.flatten_indices()
    return concatenate_datasets([base, negatives], axis=1)


def _flat_format(selected: _Selected, data: _Data, *, output_format: str, num_negatives: int) -> Dataset:
    """``triplet``: (anchor, positive, negative) per negative; ``n-tuple``: one row per referent."""
    sizes = np.diff(data.member_ptr)
    texts = pa.array(data.texts, pa.string())
    counts = np.bincount(selected.row, minlength=data.n)
    keep = sizes[selected.row] >= 2
    if output_format == "n-tuple":
        keep &= counts[selected.row] >= num_negatives
    row, vocab = selected.row[keep], selected.vocab[keep]
    rank = np.arange(len(row)) - np.searchsorted(row, row, "left")
    anchor = data.member_idx[data.member_ptr[row]]
    if output_format == "triplet":
        positive = data.member_idx[data.member_ptr[row] + 1 + rank % np.maximum(sizes[row] - 1, 1)]
        columns = {"anchor": anchor, "positive": positive, "negative": vocab}
    else:
        first = rank == 0
        columns = {"anchor": anchor[first], "positive": data.member_idx[data.member_ptr[row[first]] + 1]}
        grid = vocab.reshape(-1, num_negatives)
        columns.update({f"negative_{j + 1}": grid[:, j] for j in range(num_negatives)})
    _log_flat_drops(data, sizes, counts, output_format, num_negatives, len(columns["anchor"]))
    table = pa.table({name: texts.take(pa.array(idx)) for name, idx in columns.items()})
    features = Features({name: HARD_NEGATIVE_FEATURE["text"] for name in columns})
    return Dataset(InMemoryTable(table), info=DatasetInfo(features=features))


def _log_flat_drops(data: _Data, sizes: np.ndarray, counts: np.ndarray, output_format: str,
                    num_negatives: int, n_rows: int) -> None:
    single = int(((sizes < 2) & (counts > 0)).sum())
    if single:
        logger.info("%s: skipped %d referents (%.2f%%) whose cluster has one text (no positive)",
                    output_format, single, 100.0 * single / max(data.n, 1))
    if output_format == "n-tuple":
        short = int(((sizes >= 2) & (counts < num_negatives)).sum())
        if short:
            logger.info("n-tuple: skipped %d referents (%.2f%%) with fewer than %d negatives",
                        short, 100.0 * short / max(data.n, 1), num_negatives)
    logger.info("%s: %d rows", output_format, n_rows)


def _report(counts: Counter, sources: tuple[str, ...], selected: _Selected, data: _Data,
            num_negatives: int, options: dict[str, Any]) -> None:
    """Log what each rule dropped per source, with ratios, and how many referents fell short."""
    for s, source in enumerate(sources):
        total = counts[(s, "considered")]
        logger.info("%s: %d candidates considered", source, total)
        for rule in _RULES:
            if counts[(s, rule)]:
                setting = f" ({options[rule]})" if options.get(rule) is not None else ""
                logger.info("Skipped %d %s candidates (%.2f%%) because of %s%s", counts[(s, rule)],
                            source, 100.0 * counts[(s, rule)] / max(total, 1), rule, setting)
    for s, source in enumerate(sources):
        if counts[(s, "kept_by_conflict")]:
            logger.info("Kept %d %s candidates above the relative margin because the contrast "
                        "classifier found a conflict (a sure negative)", counts[(s, "kept_by_conflict")], source)
    if counts[("scorer", "referents")]:
        logger.info("scorer: %d texts of %d referents scored (%.1f per referent); %d referents had no "
                    "reference score", counts[("scorer", "texts")], counts[("scorer", "referents")],
                    counts[("scorer", "texts")] / counts[("scorer", "referents")],
                    counts[("scorer", "no_reference")])
    per_row = np.bincount(selected.row, minlength=data.n)
    short = int((per_row < num_negatives).sum())
    kinds = Counter(CANDIDATE_KINDS[k] for k in selected.kind.tolist())
    logger.info("kept %d negatives (%s); mean similarity %.3f; %d referents (%.2f%%) have fewer "
                "than %d", len(selected.row), dict(kinds), float(selected.sim.mean()) if len(selected.row) else float("nan"),
                short, 100.0 * short / max(data.n, 1), num_negatives)


# ----------------------------------------------------------------------- main


def _check_options(sources: tuple[str, ...], output_format: str, num_negatives: int,
                   diversity: float, search: str, classifier: Any, threshold: float | None) -> None:
    if not sources:
        raise ValueError(f"sources is empty; choose one or more of {', '.join(SOURCES)}")
    for source in sources:
        check_choice("sources", source, SOURCES)
    check_choice("output_format", output_format, OUTPUT_FORMATS)
    check_choice("search", search, SEARCH_BACKENDS)
    if num_negatives < 1:
        raise ValueError(f"num_negatives={num_negatives} must be >= 1")
    if diversity < 0:
        raise ValueError(f"diversity={diversity} must be >= 0")
    if classifier is not None and threshold is not None:
        raise ValueError("pass either classifier= or threshold=, not both "
                         "(threshold= configures the default centroid classifier)")


def _check_weights(weights: Weights | None, scorer: Any, diversity: float) -> Weights | None:
    """Validate ``weights``; a scorer without weights ranks by similarity + uncertainty."""
    if weights is None:
        if scorer is not None and diversity > 0:
            raise ValueError("with scorer=, pass the diversity as weights={'similarity': 1, "
                             "'uncertainty': 1, 'diversity': ...} (mean distance), not diversity=")
        return {"similarity": 1.0, "uncertainty": 1.0, "diversity": 0.0} if scorer is not None else None
    unknown = set(weights) - set(WEIGHT_NAMES)
    if unknown:
        raise ValueError(f"unknown weights {sorted(unknown)}; valid: {', '.join(WEIGHT_NAMES)}")
    if any(not np.isfinite(v) or v < 0 for v in weights.values()):
        raise ValueError(f"weights={weights} must be finite and >= 0")
    if weights.get("uncertainty", 0.0) > 0 and scorer is None:
        raise ValueError("weights['uncertainty'] > 0 needs the model's scores; pass scorer= "
                         "(e.g. refaug.scoring.TextScorer() or CLIPScorer(checkpoint))")
    if diversity > 0:
        raise ValueError("pass either diversity= (penalty by the largest similarity) or "
                         "weights={'diversity': ...} (mean distance), not both")
    return {name: float(weights.get(name, 0.0)) for name in WEIGHT_NAMES}


def _guards(data: _Data, clf: ClusterClassifier, *, max_similarity: float | None,
            relative_margin: float | None) -> _Guards:
    cutoff = clf.cutoffs(data.min_member, np.diff(data.member_ptr))
    bound = np.full(data.n, np.inf, np.float32)
    if relative_margin is not None:
        bound = (data.min_member - np.abs(data.min_member) * relative_margin).astype(np.float32)
    return _Guards(cutoff=cutoff, margin_bound=bound, max_similarity=max_similarity,
                   nearest=clf.method == "nearest", contrast=clf if clf.method == "contrast" else None)


def _ceiling(guards: _Guards) -> np.ndarray:
    """Per referent, the centroid similarity at and above which no rule would keep a text."""
    ceiling = np.minimum(np.nextafter(guards.margin_bound, np.float32(np.inf)),
                         np.inf if guards.max_similarity is None else np.nextafter(
                             np.float32(guards.max_similarity), np.float32(np.inf)))
    if guards.contrast is not None:  # a conflict keeps a candidate of any cosine: no pruning
        limit = np.inf if guards.max_similarity is None else np.nextafter(
            np.float32(guards.max_similarity), np.float32(np.inf))
        return np.full(len(guards.margin_bound), limit, np.float32)
    if not guards.nearest:
        ceiling = np.minimum(ceiling, guards.cutoff)
    return ceiling.astype(np.float32)


def _select_chunk(data: _Data, parts: list[_Flat], guards: _Guards, counts: Counter,
                  tiebreak: np.ndarray, *, num_negatives: int, diversity: float,
                  ranking: _Ranking | None) -> _Selected:
    flat, class_sim, note = _judge(_Flat.concat(parts), data, guards, counts)
    nan = np.full(len(flat.row), np.nan, np.float32)
    uncertainty, spread, model_score = nan, nan.copy(), nan.copy()
    if ranking is not None:
        entries, score, (uncertainty, spread, model_score), model_note = _rank_weighted(
            flat, data, tiebreak, num_negatives=num_negatives, ranking=ranking, counts=counts)
        note = np.array(["; ".join(x for x in pair if x) for pair in zip(note[entries], model_note, strict=True)],
                        object)
    elif diversity > 0:
        entries, score = _rank_diverse(flat, data, tiebreak, num_negatives=num_negatives,
                                       diversity=diversity)
        note = note[entries]
    else:
        entries = _rank_top(flat, tiebreak, num_negatives)
        score = flat.sim[entries]
        note = note[entries]
    if ranking is None:
        uncertainty, spread, model_score = nan[entries], nan[entries], nan[entries]
    return _Selected(flat.row[entries], flat.vocab[entries], flat.kind[entries], flat.detail[entries],
                     flat.origin[entries], flat.sim[entries], score, class_sim[entries], note,
                     uncertainty, spread, model_score)


def mine_hard_negatives(
    dataset: Dataset,
    *,
    embedder: Embedder | None = None,
    num_negatives: int = 30,
    sources: tuple[str, ...] = ("same_image", "cross_image", "distractors"),
    same_class: bool = False,
    classifier: ClusterClassifier | None = None,
    threshold: float | None = None,
    max_similarity: float | None = None,
    relative_margin: float | None = DEFAULT_RELATIVE_MARGIN,
    diversity: float = 0.0,
    scorer: Any = None,
    weights: Weights | None = None,
    include_expressions: bool = True,
    seed: int = 0,
    output_format: OutputFormat = "nested",
    search: SearchBackend = "torch",
    precision: Precision = "auto",
    chunk_size: int = 2048,
    corpus_chunk_size: int = 32768,
    device: str | None = None,
    show_progress_bar: bool | None = None,
) -> Dataset:
    """Mine hard negatives for every referent of ``dataset``.

    Args:
        dataset: referent rows (canonical columns); optional ``views`` (None where
            generation failed) and ``distractors`` (lists of candidate dicts).
        embedder: the :class:`~refaug.embed.Embedder`; None uses the default model.
        num_negatives: negatives kept per referent (the hardest after the guards).
        sources: any of ``"same_image"`` (texts of the other referents of the image),
            ``"cross_image"`` (nearest texts of other images, exact search) and
            ``"distractors"`` (the rewriters' candidates; skipped when the column is absent).
        same_class: restrict cross-image candidates to referents of the same category
            (kind ``same_class``); unknown categories are derived from head nouns (spaCy).
        classifier: judges "inside the cluster"; None: ``ClusterClassifier("centroid")``
            at ``threshold`` (or the calibrated default).
        threshold: the centroid threshold, when ``classifier`` is None.
        max_similarity: drop candidates whose cosine to the centroid is above it; None: off.
        relative_margin: drop candidates above ``s - |s| * relative_margin``, with ``s`` the
            loosest member's similarity to its own centroid; None: off.
        diversity: > 0 penalises a candidate by ``diversity`` x its largest similarity to
            the negatives already chosen (greedy, maximal-marginal-relevance style).
        scorer: the user's model (a :class:`refaug.scoring.Scorer`): it scores each
            referent's own texts and its ``4 x num_negatives`` most similar candidates, and
            its opinion enters the ranking as ``uncertainty``.
        weights: ``{"similarity": a, "uncertainty": b, "diversity": c}``: rank greedily by
            ``a * cosine + b * uncertainty + c * diversity``, where uncertainty is 1 where
            the model scores a known negative at or above its decision point
            (``scorer.threshold``, or the mean score of the referent's own texts) and falls
            to 0 for the candidate it scores farthest below it, and diversity is the mean
            cosine distance to the negatives already chosen. None with a scorer:
            ``{"similarity": 1, "uncertainty": 1, "diversity": 0}``. Each kept negative
            records the parts in ``score_parts``; one the model scores as a match says so in
            its ``reason``. With a scorer, give the diversity here, not as ``diversity=``.
        include_expressions: add the original expressions to the views' cluster.
        seed: breaks ties between equal scores reproducibly.
        output_format: ``"nested"`` (adds ``hard_negatives``), ``"triplet"`` (anchor,
            positive, negative) or ``"n-tuple"`` (anchor, positive, negative_1..N).
        search: ``"torch"`` (exact, blocked matrix products) or ``"faiss"`` (flat index).
        precision: ``"auto"``, ``"bf16"`` or ``"fp32"`` for the torch search (all exact).
        chunk_size, corpus_chunk_size: referents per chunk and corpus texts per block; the
            search's memory is about ``chunk_size * corpus_chunk_size * 4`` bytes.
        device: torch device for the search; None: CUDA when available.
        show_progress_bar: None shows bars on long work.

    Returns:
        A ``Dataset`` in ``output_format`` with declared ``Features``.

    Example:
        >>> from refaug.data.synthetic import synthetic_scenes
        >>> ds = synthetic_scenes(10, image_size=(64, 48))
        >>> out = mine_hard_negatives(ds, embedder=Embedder(), num_negatives=3)  # doctest: +SKIP
        >>> out.features["hard_negatives"]  # doctest: +SKIP
    """
    sources = tuple(sources)
    _check_options(sources, output_format, num_negatives, diversity, search, classifier, threshold)
    weights = _check_weights(weights, scorer, diversity)
    if "distractors" in sources and "distractors" not in dataset.column_names:
        logger.info("no 'distractors' column: the distractors source is skipped")
        sources = tuple(s for s in sources if s != "distractors")
    embedder = embedder or Embedder()
    clf = classifier or ClusterClassifier("centroid", threshold=threshold, embedder=embedder)
    data = _prepare(dataset, embedder, include_expressions=include_expressions,
                    use_distractors="distractors" in sources)
    guards = _guards(data, clf, max_similarity=max_similarity, relative_margin=relative_margin)
    cross = None
    ranking = None if weights is None else _Ranking(weights, scorer, dataset, show_progress_bar)
    if "cross_image" in sources:
        k = num_negatives + _CROSS_SLACK if clf.centroid_based else 4 * num_negatives + _CROSS_SLACK
        cross = _cross_image(data, _ceiling(guards), k=k, same_class=same_class, search=search,
                             precision=precision, query_chunk=chunk_size, corpus_chunk=corpus_chunk_size,
                             device=device, show_progress_bar=show_progress_bar)
    selected = _mine_chunks(data, sources, cross, guards, same_class=same_class, seed=seed,
                            num_negatives=num_negatives, diversity=diversity, ranking=ranking,
                            chunk_size=chunk_size, show_progress_bar=show_progress_bar)
    _report(selected[1], sources, selected[0], data, num_negatives,
            {"inside_cluster": repr(clf), "max_similarity": max_similarity,
             "relative_margin": relative_margin})
    if output_format == "nested":
        label = {"nearest": "nearest threshold", "radius": "sim radius",
                 "contrast": "p_same threshold"}.get(clf.method, "sim threshold")
        return _nested(dataset, selected[0], data, guards.cutoff, label)
    return _flat_format(selected[0], data, output_format=output_format, num_negatives=num_negatives)


def _mine_chunks(data: _Data, sources: tuple[str, ...], cross: _CrossResult | None, guards: _Guards,
                 *, same_class: bool, seed: int, num_negatives: int, diversity: float,
                 ranking: _Ranking | None, chunk_size: int,
                 show_progress_bar: bool | None) -> tuple[_Selected, Counter]:
    same_image = _same_image_pool(data) if "same_image" in sources else None
    tiebreak = np.random.default_rng(seed).permutation(len(data.texts))
    cross_kind = _KIND_CODE["same_class" if same_class else "cross_image"]
    counts: Counter = Counter()
    chosen: list[_Selected] = []
    chunks = range(0, data.n, chunk_size)
    show = len(chunks) > 10 if show_progress_bar is None else show_progress_bar
    for r0 in tqdm(chunks, desc="Judging candidates", unit="chunk", disable=not show):
        r1 = min(r0 + chunk_size, data.n)
        parts = []
        for s, source in enumerate(sources):
            if source == "same_image" and same_image is not None:
                parts.append(_from_pool(same_image, r0, r1, s))
            elif source == "cross_image" and cross is not None:
                parts.append(_from_cross(cross, r0, r1, s, cross_kind))
            elif source == "distractors" and data.distractors is not None:
                parts.append(_from_pool(data.distractors, r0, r1, s))
        chosen.append(_select_chunk(data, parts, guards, counts, tiebreak, num_negatives=num_negatives,
                                    diversity=diversity, ranking=ranking))
    fields = _Selected.__dataclass_fields__
    return _Selected(*(np.concatenate([getattr(c, f) for c in chosen]) for f in fields)), counts


# --------------------------------------------------------------------- rounds


@dataclass(frozen=True)
class RoundReport:
    """What one mining round found (:func:`mine_rounds`).

    Attributes:
        round: 1-based.
        candidates: candidates the model scored this round (its slice of the ranking).
        false_positives: of those, how many the model scored as matches (new negatives).
        referents_hit: referents that got at least one.
        scorer_calls: calls of the scorer this round.
        seconds: wall time of the round.
        kinds: false positives per candidate kind.
    """

    round: int
    candidates: int
    false_positives: int
    referents_hit: int
    scorer_calls: int
    seconds: float
    kinds: dict[str, int]


def _round_slices(ranked: list[list[dict]], r: int, per_round: int) -> list[list[dict]]:
    return [negatives[(r - 1) * per_round : r * per_round] for negatives in ranked]


def _false_positives(scorer: Any, dataset: Dataset, positives: list[list[str]], slices: list[list[dict]],
                     show_progress_bar: bool | None) -> list[list[tuple[dict, float, float]]]:
    """Per referent, the candidates of its slice the model scores at or above its decision point."""
    from refaug.scoring import decision_point, score_all

    rows = [i for i, cands in enumerate(slices) if cands]
    if not rows:
        return [[] for _ in slices]
    texts = [positives[i] + [c["text"] for c in slices[i]] for i in rows]
    scores = score_all(scorer, dataset.select(rows), texts, show_progress_bar=show_progress_bar)
    found: list[list[tuple[dict, float, float]]] = [[] for _ in slices]
    for i, got in zip(rows, scores, strict=True):
        ref = decision_point(scorer, got[: len(positives[i])])
        if np.isnan(ref):
            continue
        for cand, value in zip(slices[i], got[len(positives[i]) :], strict=True):
            if value >= ref:
                found[i].append((cand, float(value), float(ref)))
    return found


def mine_rounds(
    dataset: Dataset,
    *,
    scorer: Any,
    rounds: int = 3,
    per_round: int | None = None,
    min_new: int = 1,
    num_negatives: int = 30,
    on_round: Any = None,
    show_progress_bar: bool | None = None,
    **options: Any,
) -> tuple[Dataset, list[RoundReport]]:
    """Mining rounds that collect the negatives the user's model confuses with the truth.

    The candidates that pass the guards are ranked by similarity once
    (:func:`mine_hard_negatives`, ``rounds * per_round`` per referent). Round r shows the
    model the next ``per_round`` of each referent's ranking; the ones it scores as matches
    (at or above ``scorer.threshold``, or for relative scorers the mean score of the
    referent's own texts) are its false positives, and join the referent's negatives.
    Deeper slices are easier, so the returns diminish; a round that finds fewer than
    ``min_new`` stops the loop. ``on_round(report, false_positives)`` runs after each round:
    retrain the model there, and the next round scores with the retrained model.

    Args:
        dataset: referent rows (with ``image`` and ``bbox`` for image scorers).
        scorer: a :class:`refaug.scoring.Scorer`.
        rounds: the most rounds to run.
        per_round: candidates per referent per round; None: ``num_negatives``.
        min_new: stop after a round that finds fewer new false positives than this.
        num_negatives: negatives per referent from the similarity ranking, kept besides the
            model's false positives.
        on_round: None, or a callable ``(RoundReport, list[list[dict]]) -> None``.
        show_progress_bar: None shows bars on long work.
        **options: passed on to :func:`mine_hard_negatives` (``embedder``, ``classifier``,
            ``sources``...).

    Returns:
        The dataset with ``hard_negatives`` (the model's false positives first, reason
        ``"model false positive, round r: ..."``, then the other mined negatives), and one
        :class:`RoundReport` per round run.
    """
    if rounds < 1 or min_new < 0:
        raise ValueError(f"rounds={rounds} must be >= 1 and min_new={min_new} >= 0")
    per_round = per_round or num_negatives
    options.update(output_format="nested", show_progress_bar=show_progress_bar)
    pool = mine_hard_negatives(dataset, num_negatives=max(num_negatives, rounds * per_round), **options)
    ranked = pool["hard_negatives"]
    rows = dataset.select_columns([c for c in ("expressions", "views") if c in dataset.column_names]).to_list()
    positives = [list(cluster_texts(r, include_expressions=options.get("include_expressions", True)))
                 for r in rows]
    collected: list[list[dict]] = [[] for _ in ranked]
    reports: list[RoundReport] = []
    for r in range(1, rounds + 1):
        started, calls = time.perf_counter(), scorer.calls
        slices = _round_slices(ranked, r, per_round)
        found = _false_positives(scorer, dataset, positives, slices, show_progress_bar)
        kinds: Counter = Counter()
        for i, hits in enumerate(found):
            for cand, value, ref in hits:
                collected[i].append({**cand, "reason": f"model false positive, round {r}: "
                                     f"score {value:.3f} >= {ref:.3f}; {cand['reason']}",
                                     "score_parts": {**(cand.get("score_parts") or {}), "model_score": value}})
                kinds[cand["kind"]] += 1
        report = RoundReport(round=r, candidates=sum(len(x) for x in slices),
                             false_positives=sum(len(x) for x in found),
                             referents_hit=sum(1 for x in found if x), scorer_calls=scorer.calls - calls,
                             seconds=time.perf_counter() - started, kinds=dict(kinds))
        reports.append(report)
        logger.info("round %d: %d candidates scored, %d new false positives (%d referents), %.1f s",
                    r, report.candidates, report.false_positives, report.referents_hit, report.seconds)
        if on_round is not None:
            on_round(report, [[c for c, _, _ in hits] for hits in found])
        if report.false_positives < min_new:
            logger.info("round %d found fewer than %d new false positives: stopping", r, min_new)
            break
    return _with_rounds(pool, ranked, collected, num_negatives), reports


def _with_rounds(pool: Dataset, ranked: list[list[dict]], collected: list[list[dict]],
                 num_negatives: int) -> Dataset:
    merged = []
    for negatives, hits in zip(ranked, collected, strict=True):
        seen = {c["text"] for c in hits}
        merged.append(hits + [c for c in negatives[:num_negatives] if c["text"] not in seen])
    features = pool.features
    return pool.remove_columns("hard_negatives").add_column("hard_negatives", merged,
                                                           feature=features["hard_negatives"])
