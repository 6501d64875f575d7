"""Embedding arithmetic shared by judgement, the classify stage and mining.

A cluster's *centroid* is the L2-normalised mean of its members' (normalised) embeddings;
its *loosest member* is the lowest member-to-centroid cosine. Both are written once here,
for one cluster (:func:`centroid`) and for many clusters in CSR layout (:func:`centroids`),
so every stage computes the same numbers.

Example:
    >>> import numpy as np
    >>> centroid(np.eye(2, dtype=np.float32)).round(3)
    array([0.707, 0.707], dtype=float32)
"""

from __future__ import annotations

import numpy as np


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """L2-normalise the rows of ``matrix`` (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def pair_cosines(vectors: np.ndarray, centroids: np.ndarray, vocab: np.ndarray, rows: np.ndarray, *,
                 chunk: int = 8192) -> np.ndarray:
    """``vectors[vocab[i]] @ centroids[rows[i]]`` for every pair i, ``chunk`` pairs at a time.

    The same numbers as one ``einsum`` over the gathered rows, without holding two
    ``(pairs, d)`` copies at once (a run's distractor pairs number in the millions). Each
    chunk gathers two ``(chunk, d)`` float32 blocks: 25 MB at 8,192 pairs and MiniLM's 384
    dimensions (65,536 pairs held 200 MB, in every forked mining process at once).
    """
    out = np.empty(len(vocab), np.float32)
    for start in range(0, len(vocab), chunk):
        stop = start + chunk
        out[start:stop] = np.einsum("nd,nd->n", vectors[vocab[start:stop]], centroids[rows[start:stop]])
    return out


def centroid(members: np.ndarray) -> np.ndarray:
    """The normalised mean of the ``members`` rows (one cluster)."""
    if members.shape[0] == 0:
        raise ValueError("the cluster has no members; pass at least one text")
    return normalize_rows(members.mean(axis=0, keepdims=True))[0]


def loosest_member(members: np.ndarray) -> float:
    """The lowest cosine of a member to its cluster's centroid (one cluster)."""
    return float((members @ centroid(members)).min())


def centroids(vectors: np.ndarray, ptr: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centroids of many clusters and each one's loosest member similarity.

    Cluster r's members are ``vectors[idx[ptr[r]:ptr[r + 1]]]`` (CSR layout). An empty
    cluster gets a zero centroid and loosest similarity 1.

    Returns:
        ``(centroid (R, d) float32, loosest (R,) float32)``.
    """
    n = len(ptr) - 1
    counts = np.diff(ptr)
    nonempty = counts > 0
    out = np.zeros((n, vectors.shape[1]), np.float32)
    loosest = np.ones(n, np.float32)
    if idx.size:
        starts = ptr[:-1][nonempty]
        members = vectors[idx]
        out[nonempty] = normalize_rows(np.add.reduceat(members, starts, axis=0))
        owner = np.repeat(np.arange(n), counts)
        sims = np.einsum("md,md->m", members, out[owner])
        loosest[nonempty] = np.minimum.reduceat(sims, starts)
    return out, loosest
