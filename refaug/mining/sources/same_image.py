"""Same-image candidates: the member texts of the other referents of the referent's image."""

from __future__ import annotations

import numpy as np

from refaug.mining.candidates import KIND_CODE, Candidates, Pool
from refaug.mining.corpus import Data
from refaug.mining.sources.base import CandidateSource, SourceContext


def same_image_pool(data: Data) -> Pool:
    """For each referent, the member texts of the other referents of its image (kind ``same_image``)."""
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
    kind = np.full(len(vocab), KIND_CODE["same_image"], np.int64)
    return Pool(ptr=ptr, vocab=vocab, kind=kind, detail=origin.copy(), origin=origin)


class SameImageSource(CandidateSource):
    """The texts of the other referents of the same image (kind ``same_image``)."""

    name = "same_image"
    pool: Pool

    def prepare(self, data: Data, context: SourceContext) -> None:
        self.pool = same_image_pool(data)

    def candidates(self, r0: int, r1: int) -> Candidates:
        return self.pool.chunk(r0, r1)
