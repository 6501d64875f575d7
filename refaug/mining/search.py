"""Exact nearest-neighbour search outside an excluded range and below a ceiling.

:func:`topk_outside`: for each query vector, the k most similar corpus rows outside an
excluded range (the query's own image) and below a per-query ceiling, by blocked matrix
products: memory is about query_chunk x corpus_chunk scores, never corpus x corpus. With
``precision="bf16"`` the blocks are multiplied in bfloat16 (about 5x fp32 on CPUs with
AMX; with AVX512-BF16 alone the products are 3.5x faster but the whole search slower, see
:func:`cpu_has_fast_bf16`) and the candidates re-scored in fp32; a query's answer is accepted only when
the error bound proves no other row can enter its top k, else it is searched again (wider,
then fp32): the result is the fp32 exact search's. :func:`topk_outside_faiss` does the same
with a FAISS flat index, without the exactness guarantee.

This module imports no other refaug module.

Example:
    >>> import numpy as np
    >>> corpus = np.eye(3, dtype=np.float32)
    >>> scores, index = topk_outside(corpus[:1], corpus, k=1, exclude_start=np.array([0]),
    ...                              exclude_end=np.array([1]), precision="fp32", device="cpu")
    >>> index.tolist()
    [[1]]
"""

from __future__ import annotations

import logging
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import torch
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

Precision = Literal["auto", "bf16", "fp32"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
SearchBackend = Literal["torch", "faiss"]
SEARCH_BACKENDS: tuple[str, ...] = get_args(SearchBackend)

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
    """True when the CPU advertises AMX-BF16 (Linux ``/proc/cpuinfo``).

    AVX512-BF16 alone is not enough: on an AMD EPYC with it (and no AMX) the bf16 search took
    1.6x the CPU time of fp32 (4,096 centroids x 150,000 texts, k=38: 10.4 s vs 6.5 s), its
    matrix products 3.5x faster but the top-k over bfloat16 blocks and the re-score slower
    (``benchmarks/end_to_end.py``'s note, issue 18).
    """
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags


def resolve_precision(precision: Precision, device: torch.device) -> str:
    """``"auto"`` -> ``"bf16"`` on CUDA or on a CPU with AMX-BF16 (:func:`cpu_has_fast_bf16`), else ``"fp32"``."""
    if precision not in PRECISIONS:
        valid = ", ".join(repr(c) for c in sorted(PRECISIONS, key=str))
        raise ValueError(f"precision={precision!r} is not valid; choose one of {valid}")
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


def _search_all(
    queries: np.ndarray, corpus: torch.Tensor, corpus_low: torch.Tensor | None, *, k: int,
    ceiling: np.ndarray, start: np.ndarray, end: np.ndarray, scores: np.ndarray, index: np.ndarray,
    query_chunk: int, corpus_chunk: int, show_progress_bar: bool | None,
) -> Counter:
    """Fill ``scores`` and ``index`` chunk by chunk; return how many queries each pass settled."""
    corpus_error = 0.0
    if corpus_low is not None:
        corpus_error = float(torch.linalg.vector_norm(corpus_low.float() - corpus, dim=1).max())
    passes: Counter = Counter()
    chunks = range(0, queries.shape[0], query_chunk)
    show = len(chunks) > 10 if show_progress_bar is None else show_progress_bar
    for q0 in tqdm(chunks, desc="Cross-image search", unit="chunk", disable=not show):
        sl = slice(q0, q0 + query_chunk)
        q = torch.as_tensor(np.ascontiguousarray(queries[sl], dtype=np.float32), device=corpus.device)
        ceil_t = torch.as_tensor(ceiling[sl], device=corpus.device)
        v, i = _search_chunk(q, corpus, corpus_low, k=k, ceiling=ceil_t, start=start[sl],
                             end=end[sl], corpus_chunk=corpus_chunk, corpus_error=corpus_error,
                             passes=passes)
        v, i = v.cpu().numpy(), i.cpu().numpy()
        i[np.isinf(v)] = -1
        scores[sl, : v.shape[1]], index[sl, : i.shape[1]] = v, i
    return passes


def topk_outside(
    queries: np.ndarray, corpus: np.ndarray, *, k: int, ceiling: np.ndarray | None = None,
    exclude_start: np.ndarray | None = None, exclude_end: np.ndarray | None = None,
    query_chunk: int = 2048, corpus_chunk: int = 32768, precision: Precision = "auto",
    device: str | None = None, show_progress_bar: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` inner products per query, outside an excluded corpus range, below a ceiling.

    Args:
        queries: ``(Q, d)`` float32, L2-normalised.
        corpus: ``(N, d)`` float32, L2-normalised.
        k: neighbours per query.
        ceiling: ``(Q,)``; a corpus row counts only when its score is strictly below it.
            None (default): no ceiling.
        exclude_start, exclude_end: ``(Q,)``; corpus rows ``[start, end)`` are skipped for
            that query (e.g. the texts of its own image, stored contiguously). None: none.
        query_chunk, corpus_chunk: block sizes (2048, 32768); peak memory is about
            ``query_chunk * corpus_chunk * 4`` bytes plus the corpus.
        precision: ``"bf16"`` (bfloat16 blocks, fp32 re-score, exact), ``"fp32"``, or
            ``"auto"`` (default: bf16 where the hardware has fast bfloat16).
        device: torch device; None (default) uses CUDA when available.
        show_progress_bar: None (default) shows one for more than 10 query chunks.

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
    passes = _search_all(queries, corpus_t, corpus_low, k=k_eff, ceiling=ceiling, start=start, end=end,
                         scores=scores, index=index, query_chunk=query_chunk, corpus_chunk=corpus_chunk,
                         show_progress_bar=show_progress_bar)
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
