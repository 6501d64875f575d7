"""Ranking the candidates that passed the guards: hardness, diversity, and the user's model.

Three rankings, one greedy routine (:func:`greedy_select`):

* by tier, then hardness (cosine to the centroid, ties broken by a seeded permutation); the
  tier comes from the verification (:func:`refaug.mining.verification.ranking_tier`): the
  same image's objects and the referent's own contradicting edits first, then same-class
  neighbours with a conflict, then other categories, unverified last;
* ``diversity > 0``: greedily, the cosine minus ``diversity`` x the largest similarity to the
  negatives already chosen (maximal-marginal-relevance style; mode ``"max_similarity"``);
* with ``weights`` (and optionally a scorer, the model in the loop): greedily,
  ``w_s * cosine + w_u * uncertainty + w_d * mean distance to those chosen`` (mode
  ``"mean_distance"``), where the uncertainty comes from the scorer's scores of each
  referent's own texts and its pooled candidates.

Example:
    >>> check_weights({"similarity": 1}, None, 0.0)
    {'similarity': 1.0, 'uncertainty': 0.0, 'diversity': 0.0}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from datasets import Dataset

from refaug.mining.candidates import Candidates, Selected
from refaug.mining.corpus import Data
from refaug.mining.judgement import CandidateJudgement
from refaug.mining.verification import Verification, ranking_tier
from refaug.records import CANDIDATE_KINDS

Weights = dict[str, float]
WEIGHT_NAMES: tuple[str, ...] = ("similarity", "uncertainty", "diversity")
# How the greedy routine counts the negatives already chosen: "max_similarity" subtracts
# diversity x the largest similarity to them, "mean_distance" adds diversity x the mean distance.
DiversityMode = Literal["max_similarity", "mean_distance"]
# In the greedy re-rankings, candidates considered per referent, as a multiple of
# num_negatives (the rest cannot be chosen before these run out).
DIVERSITY_POOL = 4


@dataclass
class Ranking:
    """How to rank with the user's model: the weights of each part, the scorer, the rows."""

    weights: Weights
    scorer: Any  # refaug.scoring.Scorer | None
    dataset: Dataset
    show_progress_bar: bool | None


def check_weights(weights: Weights | None, scorer: Any, diversity: float) -> Weights | None:
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


def rank_top(flat: Candidates, tiebreak: np.ndarray, num_negatives: int,
             tier: np.ndarray | None = None) -> np.ndarray:
    """Entry order: per row, the ``num_negatives`` first by ``tier`` (None: one tier), then the
    highest similarities (ties by ``tiebreak``)."""
    tier = np.zeros(len(flat.row), np.int64) if tier is None else tier
    order = np.lexsort((tiebreak[flat.vocab], -flat.sim, tier, flat.row))
    row = flat.row[order]
    rank = np.arange(len(row)) - np.searchsorted(row, row, "left")
    return order[rank < num_negatives]


def _slot_blocks(flat: Candidates, pool: np.ndarray, sub_rows: int) -> Iterator[np.ndarray]:
    """The pooled entries as ``(referents, width)`` blocks of ``sub_rows`` referents (-1: empty)."""
    rows, starts = np.unique(flat.row[pool], return_index=True)
    sizes = np.diff(np.append(starts, len(pool)))
    for b0 in range(0, len(rows), sub_rows):
        s = slice(b0, b0 + sub_rows)
        slots = np.full((len(sizes[s]), int(sizes[s].max())), -1, np.int64)
        for i, (st, sz) in enumerate(zip(starts[s], sizes[s], strict=True)):
            slots[i, :sz] = pool[st : st + sz]
        yield slots


def _greedy_block(slots: np.ndarray, flat: Candidates, data: Data, value: np.ndarray, *, num_negatives: int,
                  diversity: float, mode: DiversityMode) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy picks per row of ``slots``: entries, effective scores, mean distances (NaN first)."""
    valid = torch.from_numpy(slots >= 0)
    entries = np.where(slots >= 0, slots, 0)
    vectors = torch.from_numpy(data.vectors[flat.vocab[entries]])
    pairwise = torch.bmm(vectors, vectors.transpose(1, 2))
    if mode == "mean_distance":
        pairwise = 1.0 - pairwise
    base = torch.from_numpy(value[entries].astype(np.float32)).masked_fill(~valid, -float("inf"))
    chosen = torch.zeros_like(base)  # max similarity to, or summed distance from, those chosen
    taken = ~valid
    batch = torch.arange(len(slots))
    out_entry, out_score, out_div = [], [], []
    for step in range(min(num_negatives, slots.shape[1])):
        if mode == "max_similarity":
            spread = chosen
            effective = (base - diversity * chosen.clamp(min=0)).masked_fill(taken, -float("inf"))
        else:
            spread = chosen / step if step else chosen
            effective = (base + diversity * spread).masked_fill(taken, -float("inf"))
        best, pick = effective.max(dim=1)
        ok = torch.isfinite(best).numpy()
        out_entry.append(np.where(ok, slots[batch.numpy(), pick.numpy()], -1))
        out_score.append(best.numpy())
        out_div.append(np.where(step > 0, spread[batch, pick].numpy(), np.nan))
        taken[batch, pick] = True
        if mode == "max_similarity":
            chosen = torch.maximum(chosen, pairwise[batch, pick])
        else:
            chosen = chosen + pairwise[batch, pick]
    entry = np.stack(out_entry, axis=1).ravel()
    keep = entry >= 0
    return (entry[keep], np.stack(out_score, axis=1).ravel()[keep].astype(np.float32),
            np.stack(out_div, axis=1).ravel()[keep].astype(np.float32))


def greedy_select(flat: Candidates, data: Data, pool: np.ndarray, value: np.ndarray, *, num_negatives: int,
                  diversity: float, mode: DiversityMode,
                  sub_rows: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy selection of ``num_negatives`` per referent from the ``pool`` entries.

    Args:
        flat: the candidates; ``pool`` indexes them, grouped by referent.
        data: the corpus (the candidates' embeddings).
        pool: entries of ``flat`` to choose from, sorted by referent.
        value: per entry of ``flat``, its score before the diversity term.
        num_negatives: picks per referent.
        diversity: the weight of the diversity term.
        mode: ``"max_similarity"`` (subtract ``diversity`` x the largest similarity to those
            chosen) or ``"mean_distance"`` (add ``diversity`` x the mean distance from them).
        sub_rows: referents per block (memory: ``sub_rows * pool width**2`` similarities).

    Returns:
        ``(entries, scores, mean distances)``, by referent then pick; the distance is NaN for
        a referent's first pick (and meaningless in mode ``"max_similarity"``).
    """
    picked, scores, spreads = [], [], []
    for slots in _slot_blocks(flat, pool, sub_rows):
        p, sc, dv = _greedy_block(slots, flat, data, value, num_negatives=num_negatives, diversity=diversity,
                                  mode=mode)
        picked.append(p)
        scores.append(sc)
        spreads.append(dv)
    if not picked:
        empty = np.zeros(0, np.float32)
        return np.zeros(0, np.int64), empty, empty.copy()
    return np.concatenate(picked), np.concatenate(scores), np.concatenate(spreads)


def _score_pool(flat: Candidates, pool: np.ndarray, data: Data, ranking: Ranking,
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


def _uncertainty(flat: Candidates, pool: np.ndarray, model_score: np.ndarray, reference: np.ndarray) -> np.ndarray:
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


def rank_weighted(flat: Candidates, data: Data, tiebreak: np.ndarray, *, num_negatives: int,
                  ranking: Ranking, counts: Counter, tier: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...], np.ndarray]:
    """Greedy selection by ``w_s * similarity + w_u * uncertainty + w_d * diversity``.

    Diversity is the mean cosine distance of a candidate to the negatives already chosen for
    its referent (0 for the first pick). Returns the entries, their scores, the parts
    (uncertainty, diversity, model score) and a note for the model's false positives.
    """
    pool = rank_top(flat, tiebreak, DIVERSITY_POOL * num_negatives, tier)
    model_score = np.full(len(flat.row), np.nan, np.float32)
    reference = model_score.copy()
    if ranking.scorer is not None and len(pool):
        model_score, reference = _score_pool(flat, pool, data, ranking, counts)
    uncertainty = _uncertainty(flat, pool, model_score, reference)
    w = ranking.weights
    base = w.get("similarity", 0.0) * flat.sim + w.get("uncertainty", 0.0) * uncertainty
    entries, scores, spreads = greedy_select(flat, data, pool, base, num_negatives=num_negatives,
                                             diversity=w.get("diversity", 0.0), mode="mean_distance")
    fp = model_score[entries] >= reference[entries]
    note = np.array([f"the model scores it as a match ({m:.3f} >= {r:.3f})" if f else ""
                     for f, m, r in zip(fp, model_score[entries], reference[entries], strict=True)], object)
    parts = (uncertainty[entries] if ranking.scorer is not None else np.full(len(entries), np.nan, np.float32),
             spreads, model_score[entries])
    return entries, scores, parts, note


def rank_chunk(flat: Candidates, judgement: CandidateJudgement, verification: Verification, data: Data,
               tiebreak: np.ndarray, counts: Counter, *, num_negatives: int, diversity: float,
               ranking: Ranking | None, plausibility: np.ndarray | None = None) -> Selected:
    """Rank a chunk's surviving candidates and keep the best ``num_negatives`` per referent.

    The greedy rankings (diversity, the user's model) choose from the tiered pool; the plain
    one keeps the tier order outright. ``plausibility`` (per candidate, NaN: not scored; None:
    the filter is off) is carried to the kept ones.
    """
    note = judgement.note
    tier = ranking_tier(flat, verification)
    nan = np.full(len(flat.row), np.nan, np.float32)
    uncertainty, spread, model_score = nan, nan.copy(), nan.copy()
    if ranking is not None:
        entries, score, (uncertainty, spread, model_score), model_note = rank_weighted(
            flat, data, tiebreak, num_negatives=num_negatives, ranking=ranking, counts=counts, tier=tier)
        note = np.array(["; ".join(x for x in pair if x) for pair in zip(note[entries], model_note, strict=True)],
                        object)
    elif diversity > 0:
        pool = rank_top(flat, tiebreak, DIVERSITY_POOL * num_negatives, tier)
        entries, score, _ = greedy_select(flat, data, pool, flat.sim, num_negatives=num_negatives,
                                          diversity=diversity, mode="max_similarity")
        note = note[entries]
    else:
        entries = rank_top(flat, tiebreak, num_negatives, tier)
        score = flat.sim[entries]
        note = note[entries]
    if ranking is None:
        uncertainty, spread, model_score = nan[entries], nan[entries], nan[entries]
    _count_ranked_out(counts, flat, entries)
    return Selected(flat.row[entries], flat.vocab[entries], flat.kind[entries], flat.detail[entries],
                    flat.origin[entries], flat.sim[entries], score, judgement.similarity[entries], note,
                    uncertainty, spread, model_score, verification.code[entries], verification.owner[entries],
                    (np.full(len(flat.row), np.nan, np.float32) if plausibility is None else plausibility)[entries])


def _count_ranked_out(counts: Counter, flat: Candidates, entries: np.ndarray) -> None:
    """Count, per kind, the candidates that passed the guards but ranked below ``num_negatives``."""
    out = np.ones(len(flat.row), bool)
    out[entries] = False
    for k in np.unique(flat.kind[out]):
        counts[(CANDIDATE_KINDS[int(k)], "ranked_out")] += int((out & (flat.kind == k)).sum())
