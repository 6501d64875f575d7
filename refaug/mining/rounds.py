"""Mining rounds: collect the negatives the user's model confuses with the truth.

Example:
    >>> from refaug.scoring import TextScorer
    >>> from refaug.data.synthetic import synthetic_scenes
    >>> ds = synthetic_scenes(10, image_size=(64, 48))
    >>> mined, reports = mine_rounds(ds, scorer=TextScorer(threshold=0.9), rounds=2)  # doctest: +SKIP
    >>> [r.false_positives for r in reports]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from datasets import Dataset

from refaug.clusters import cluster_texts
from refaug.columns import replace_columns
from refaug.mining.mine import mine_hard_negatives

logger = logging.getLogger(__name__)

# Per referent, the candidates the model scored as matches: (candidate, its score, decision point).
Hits = list[list[tuple[dict, float, float]]]


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
                     show_progress_bar: bool | None) -> Hits:
    """Per referent, the candidates of its slice the model scores at or above its decision point."""
    from refaug.scoring import decision_point, score_all

    rows = [i for i, cands in enumerate(slices) if cands]
    if not rows:
        return [[] for _ in slices]
    texts = [positives[i] + [c["text"] for c in slices[i]] for i in rows]
    scores = score_all(scorer, dataset.select(rows), texts, show_progress_bar=show_progress_bar)
    found: Hits = [[] for _ in slices]
    for i, got in zip(rows, scores, strict=True):
        ref = decision_point(scorer, got[: len(positives[i])])
        if np.isnan(ref):
            continue
        for cand, value in zip(slices[i], got[len(positives[i]) :], strict=True):
            if value >= ref:
                found[i].append((cand, float(value), float(ref)))
    return found


def _collect(found: Hits, collected: list[list[dict]], r: int) -> Counter:
    """Add round ``r``'s false positives to ``collected``; return their count per kind."""
    kinds: Counter = Counter()
    for i, hits in enumerate(found):
        for cand, value, ref in hits:
            collected[i].append({**cand, "reason": f"model false positive, round {r}: "
                                 f"score {value:.3f} >= {ref:.3f}; {cand['reason']}",
                                 "score_parts": {**(cand.get("score_parts") or {}), "model_score": value}})
            kinds[cand["kind"]] += 1
    return kinds


def _run_round(r: int, *, scorer: Any, dataset: Dataset, ranked: list[list[dict]], positives: list[list[str]],
               per_round: int, collected: list[list[dict]],
               show_progress_bar: bool | None) -> tuple[RoundReport, Hits]:
    """Score round ``r``'s slice of every ranking; collect and report the false positives."""
    started, calls = time.perf_counter(), scorer.calls
    slices = _round_slices(ranked, r, per_round)
    found = _false_positives(scorer, dataset, positives, slices, show_progress_bar)
    kinds = _collect(found, collected, r)
    report = RoundReport(round=r, candidates=sum(len(x) for x in slices),
                         false_positives=sum(len(x) for x in found),
                         referents_hit=sum(1 for x in found if x), scorer_calls=scorer.calls - calls,
                         seconds=time.perf_counter() - started, kinds=dict(kinds))
    logger.info("round %d: %d candidates scored, %d new false positives (%d referents), %.1f s",
                r, report.candidates, report.false_positives, report.referents_hit, report.seconds)
    return report, found


def mine_rounds(
    dataset: Dataset, *, scorer: Any, rounds: int = 3, per_round: int | None = None, min_new: int = 1,
    num_negatives: int = 30, on_round: Any = None, show_progress_bar: bool | None = None, **options: Any,
) -> tuple[Dataset, list[RoundReport]]:
    """Mining rounds that collect the negatives the user's model confuses with the truth.

    The candidates that pass the guards are ranked by similarity once
    (:func:`~refaug.mining.mine_hard_negatives`, ``rounds * per_round`` per referent). Round r
    shows the model the next ``per_round`` of each ranking; the ones it scores as matches (at
    or above ``scorer.threshold``, or for relative scorers the mean score of the referent's
    own texts) are its false positives and join the referent's negatives. Deeper slices are
    easier, so the returns diminish; a round that finds fewer than ``min_new`` stops the loop.

    Args:
        dataset: referent rows (with ``image`` and ``bbox`` for image scorers).
        scorer: a :class:`refaug.scoring.Scorer`.
        rounds: the most rounds to run (3).
        per_round: candidates per referent per round; None (default): ``num_negatives``.
        min_new: stop after a round that finds fewer new false positives than this (1).
        num_negatives: negatives per referent from the similarity ranking, kept besides the
            model's false positives (30).
        on_round: None, or ``(RoundReport, list[list[dict]]) -> None`` run after each round
            with its false positives: retrain the model there, the next round scores with it.
        show_progress_bar: None (default) shows bars on long work.
        **options: passed on to :func:`~refaug.mining.mine_hard_negatives` (``embedder``,
            ``classifier``, ``sources``...).

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
        report, found = _run_round(r, scorer=scorer, dataset=dataset, ranked=ranked, positives=positives,
                                   per_round=per_round, collected=collected, show_progress_bar=show_progress_bar)
        reports.append(report)
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
    return replace_columns(pool, {"hard_negatives": merged}, {"hard_negatives": features["hard_negatives"]})
