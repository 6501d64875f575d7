"""The entry point :func:`mine_hard_negatives`: corpus, sources, guards, ranking, output.

Example:
    >>> from refaug.data.synthetic import synthetic_scenes
    >>> ds = synthetic_scenes(10, image_size=(64, 48))
    >>> out = mine_hard_negatives(ds, embedder=Embedder(), num_negatives=3)  # doctest: +SKIP
    >>> out[0]["hard_negatives"][0]["kind"]  # doctest: +SKIP
    'same_image'
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from datasets import Dataset
from tqdm.auto import tqdm

from refaug.clusters import ClusterClassifier
from refaug.columns import replace_columns
from refaug.contrast.compare import clear_caches as clear_comparison_caches
from refaug.embed import Embedder
from refaug.errors import check_choice
from refaug.mining.candidates import KIND_CODE, Candidates, Selected
from refaug.mining.corpus import Data, prepare
from refaug.mining.formats import OUTPUT_FORMATS, OutputFormat, write_output
from refaug.mining.guards import (
    DEFAULT_RELATIVE_MARGIN,
    DEFAULT_SIMILARITY_FLOOR,
    SELECTIONS,
    GuardSettings,
    Selection,
    apply_guards,
    apply_judged_guards,
    apply_unjudged_guards,
    count_per_kind,
    guard_settings,
    search_ceiling,
)
from refaug.mining.judgement import CandidateJudgement, cluster_cutoffs, similarity_label
from refaug.mining.no_target import (
    NO_TARGET_COLUMN,
    NoTargetTexts,
    check_per_image,
    image_negatives,
    no_target_feature,
)
from refaug.mining.plausibility import FinalistCheck
from refaug.mining.ranking import DIVERSITY_POOL, Ranking, Weights, check_weights, rank_chunk
from refaug.mining.report import MiningReport, mining_report
from refaug.mining.search import SEARCH_BACKENDS, Precision, SearchBackend
from refaug.mining.sources.base import CandidateSource, SourceContext
from refaug.mining.sources.registry import SOURCES, build_source, source_class
from refaug.mining.verification import NEIGHBOUR_KINDS, Verification, category_proven, ranking_tier
from refaug.plausibility import PlausibilityFilter
from refaug.workers import check_workers, default_workers, fork_map

logger = logging.getLogger(__name__)

# Judge the cross-image neighbours in rank order, only as many as the ranking can reach
# (:func:`_judge_in_rank_order`; the same negatives as judging all). REFAUG_LAZY_JUDGEMENT=0
# judges every candidate (the eager path, for comparisons: benchmarks/end_to_end.py runs its
# pipeline in a child process, which reads the variable).
LAZY_JUDGEMENT = os.environ.get("REFAUG_LAZY_JUDGEMENT", "1") != "0"
# Neighbours judged per short referent in the first round beyond its shortfall; each later
# round doubles the batch.
LAZY_SLACK = 8


def mine_hard_negatives(
    dataset: Dataset, *, embedder: Embedder | None = None, num_negatives: int = 30,
    sources: tuple[str, ...] = SOURCES, same_class: bool = False, classifier: ClusterClassifier | None = None,
    threshold: float | None = None, max_similarity: float | None = None,
    relative_margin: float | None = DEFAULT_RELATIVE_MARGIN, require_verified: bool = True,
    selection: Selection = "verified", similarity_floor: float = DEFAULT_SIMILARITY_FLOOR,
    diversity: float = 0.0, scorer: Any = None, weights: Weights | None = None, include_expressions: bool = True, seed: int = 0,
    output_format: OutputFormat = "nested", search: SearchBackend = "torch", precision: Precision = "auto",
    chunk_size: int = 2048, corpus_chunk_size: int = 32768, device: str | None = None,
    show_progress_bar: bool | None = None, return_report: bool = False, no_target_per_image: int = 0,
    plausibility: str | PlausibilityFilter = "off", lazy_judgement: bool | None = None, workers: int | None = None,
) -> Dataset | tuple[Dataset, MiningReport]:
    """Mine hard negatives for every referent of ``dataset`` (the steps: :mod:`refaug.mining`); returns
    a ``Dataset`` in ``output_format`` with declared ``Features`` (and the report, ``return_report``).

    Args:
        dataset: referent rows (canonical columns); optional ``views`` and ``distractors``.
        embedder, num_negatives: the :class:`~refaug.embed.Embedder` (None: the default model);
            negatives kept per referent, the hardest after the guards (30).
        sources, same_class: names in :data:`~refaug.mining.SOURCES` (default: all; ``"distractors"``
            skipped without its column); True: cross-image candidates of the referent's category only
            (False: same class first, then other categories).
        classifier, threshold: judges "inside the cluster" (None: ``ClusterClassifier("contrast",
            threshold=threshold)``, threshold None: the calibrated default).
        max_similarity, relative_margin: drop unproven candidates above this cosine (None: off), or
            above ``s - |s| * relative_margin``, ``s`` the loosest member's cosine (0.05; None: off).
        require_verified: keep only candidates something proves negative (True; ``verified_by``
            says what, :mod:`refaug.mining.verification`); ``selection``: ``"verified"`` or
            ``"sam3"`` (cross-image ones must also reach ``similarity_floor``, 0.60, and share an
            attribute besides the conflict: SAM 3's rule).
        diversity, scorer, weights: rank by ``a * cosine + b * uncertainty + c * mean distance``
            (``weights={"similarity": a, ...}``, None; with a ``scorer``, the user's
            :class:`refaug.scoring.Scorer`, 1, 1, 0); ``diversity`` > 0 subtracts it x the largest
            similarity to those chosen (0). See :mod:`.ranking`.
        include_expressions, seed, output_format: add the expressions to the views' cluster (True);
            tie-break seed (0); ``"nested"`` (adds ``hard_negatives``), ``"triplet"`` or ``"n-tuple"``.
        search, precision, chunk_size, corpus_chunk_size, device: ``"torch"`` (exact; precision
            ``"auto"``, ``"bf16"`` or ``"fp32"``) or ``"faiss"``; referents per chunk (2048), corpus
            rows per block (32768), torch device (None: CUDA when available).
        show_progress_bar, return_report: bars on long work (None); also return the
            :class:`~refaug.mining.report.MiningReport` (False).
        plausibility: the plausibility filter of the generated finalists
            (:mod:`refaug.plausibility`): ``"lm"`` (language model and colour co-occurrence),
            ``"cooccurrence"`` (a run's default), ``"off"`` (the default here) or a
            :class:`~refaug.plausibility.PlausibilityFilter`; each negative's ``plausibility``.
        lazy_judgement: judge the neighbours in rank order, as many as the plain ranking keeps
            (None: :data:`LAZY_JUDGEMENT`, True unless ``REFAUG_LAZY_JUDGEMENT=0``); the same
            negatives either way; the unjudged count under ``not_judged``.
        no_target_per_image: up to this many image-level no-target expressions per image, in a
            ``no_target`` column (:mod:`refaug.mining.no_target`; 0, the default: none; nested only).
        workers: processes that judge the chunks of referents after the search, and the chunks of
            images of the no-target step, forked from this one (None:
            :func:`refaug.workers.default_workers`; 1: this process); the same negatives.
    """
    sources, weights = _checked_options(
        dataset, tuple(sources), output_format=output_format, num_negatives=num_negatives, diversity=diversity,
        search=search, classifier=classifier, threshold=threshold, weights=weights, scorer=scorer,
        selection=selection, no_target_per_image=no_target_per_image, workers=workers)
    plausibility_filter = plausibility if isinstance(plausibility, PlausibilityFilter) else PlausibilityFilter(
        mode=plausibility)
    embedder = embedder or Embedder()
    clf = classifier or ClusterClassifier("contrast", threshold=threshold, embedder=embedder)
    chosen = [build_source(name) for name in sources]
    no_target = NoTargetTexts() if no_target_per_image else None  # interns the distractors' texts
    data = prepare(dataset, embedder, include_expressions=include_expressions,
                   sources=chosen + ([no_target] if no_target else []))
    policy = dict(max_similarity=max_similarity, relative_margin=relative_margin, require_verified=require_verified,
                  selection=selection, similarity_floor=similarity_floor)
    settings = guard_settings(data, clf, **policy)
    context = _source_context(settings, data, num_negatives=num_negatives, same_class=same_class,
                              max_similarity=max_similarity, search=search, precision=precision,
                              chunk_size=chunk_size, corpus_chunk_size=corpus_chunk_size, device=device,
                              show_progress_bar=show_progress_bar)
    ranking = None if weights is None else Ranking(weights, scorer, dataset, show_progress_bar)
    check = FinalistCheck.prepare(plausibility_filter, data, clf) if plausibility_filter.active else None
    workers = default_workers() if workers is None else workers
    # The image-level lists first: they need no referent's negatives, and its forked processes then
    # share a parent that does not yet hold the split's kept negatives and their Arrow output (at
    # RefCOCO's size the parent grew by 1 GB between train's mining and its no-target fork).
    lists = None
    if no_target is not None:
        keep = None if check is None else (lambda codes: check.keep_texts(codes, data))
        categories = list(data.category)  # the step derives missing ones; mining sees them as before
        lists, _ = image_negatives(data, clf, settings.evidence, pool=no_target.pool, per_image=no_target_per_image,
                                   require_verified=require_verified, seed=seed, keep=keep, workers=workers,
                                   as_arrow=True)
        data.category[:] = categories
    selected, counts = _mine_chunks(data, chosen, settings, context, seed=seed, num_negatives=num_negatives,
                                    diversity=diversity, ranking=ranking, check=check,
                                    lazy=LAZY_JUDGEMENT if lazy_judgement is None else lazy_judgement,
                                    workers=workers)
    report = mining_report(counts, selected, data, num_negatives)
    report.log(_rule_settings(clf, **policy))
    out = write_output(dataset, selected, data, output_format=output_format, num_negatives=num_negatives,
                       cutoff=cluster_cutoffs(data, clf), label=similarity_label(clf))
    del selected
    if lists is not None:
        out = replace_columns(out, {NO_TARGET_COLUMN: lists}, {NO_TARGET_COLUMN: no_target_feature()})
    return (out, report) if return_report else out


def _source_context(settings: GuardSettings, data: Data, *, num_negatives: int, same_class: bool,
                    max_similarity: float | None, **search: Any) -> SourceContext:
    """What the sources need: the search's ceiling per referent and its options."""
    ceiling = search_ceiling(settings, data)
    return SourceContext(num_negatives=num_negatives, same_class=same_class,
                         centroid_based=bool(np.isfinite(ceiling).any() and max_similarity is None),
                         ceiling=ceiling, **search)


def _rule_settings(clf: ClusterClassifier, *, max_similarity: float | None, relative_margin: float | None,
                   require_verified: bool, selection: str, similarity_floor: float) -> dict[str, Any]:
    """Per guard rule, the setting the report names beside it (None: nothing)."""
    return {"inside_cluster": repr(clf), "max_similarity": max_similarity, "relative_margin": relative_margin,
            "unverified": "require_verified" if require_verified else None,
            "selection": f"sam3, floor {similarity_floor:g}" if selection == "sam3" else None}


def _checked_options(dataset: Dataset, sources: tuple[str, ...], *, output_format: str, num_negatives: int,
                     diversity: float, search: str, classifier: Any, threshold: float | None,
                     weights: Weights | None, scorer: Any, selection: str,
                     no_target_per_image: int = 0, workers: int | None = None) -> tuple[tuple[str, ...], Weights | None]:
    """Check the options (``ValueError`` naming the bad one); return the usable sources and the weights.

    A source is usable when the dataset has its columns; the others are skipped (and logged).
    """
    if not sources:
        raise ValueError(f"sources is empty; choose one or more of {', '.join(SOURCES)}")
    for source in sources:
        check_choice("sources", source, SOURCES)
    check_choice("output_format", output_format, OUTPUT_FORMATS)
    check_choice("search", search, SEARCH_BACKENDS)
    check_choice("selection", selection, SELECTIONS)
    if num_negatives < 1:
        raise ValueError(f"num_negatives={num_negatives} must be >= 1")
    check_workers(workers)
    if diversity < 0:
        raise ValueError(f"diversity={diversity} must be >= 0")
    if classifier is not None and threshold is not None:
        raise ValueError("pass either classifier= or threshold=, not both "
                         "(threshold= configures the default contrast classifier)")
    weights = check_weights(weights, scorer, diversity)
    check_per_image(no_target_per_image, output_format=output_format)
    return _active_sources(sources, dataset.column_names), weights


def _active_sources(sources: tuple[str, ...], column_names: Sequence[str]) -> tuple[str, ...]:
    """``sources`` less the ones whose columns the dataset lacks (each skip is logged)."""
    active = []
    for name in sources:
        missing = source_class(name).missing_columns(column_names)
        if missing:
            logger.info("no %s column: the %s source is skipped", ", ".join(repr(c) for c in missing), name)
        else:
            active.append(name)
    return tuple(active)


def _mine_chunks(data: Data, sources: list[CandidateSource], settings: GuardSettings, context: SourceContext, *,
                 seed: int, num_negatives: int, diversity: float,
                 ranking: Ranking | None, check: FinalistCheck | None = None,
                 lazy: bool = True, workers: int = 1) -> tuple[Selected, Counter]:
    """Prepare the sources, then guard and rank the candidates of the referents chunk by chunk,
    over ``workers`` forked processes when there are chunks enough (:func:`_chunk_workers`)."""
    for source in sources:
        source.prepare(data, context)
    tiebreak = np.random.default_rng(seed).permutation(len(data.texts))
    bounds = [(r0, min(r0 + context.chunk_size, data.n)) for r0 in range(0, data.n, context.chunk_size)]
    work = _ChunkWork(data, sources, settings, tiebreak, num_negatives, diversity, ranking, check,
                      lazy and ranking is None and diversity <= 0)  # the greedy rankings look at a whole pool
    workers = _chunk_workers(workers, len(bounds), ranking)
    show = len(bounds) > 10 if context.show_progress_bar is None else context.show_progress_bar
    done = fork_map(_mine_chunk, bounds, workers=workers, state=work, recycle=1) if workers > 1 else \
        (_mine_chunk(work, b) for b in bounds)
    counts: Counter = Counter()
    chosen: list[Selected] = []
    for selected, found in tqdm(done, total=len(bounds), desc="Judging candidates", unit="chunk", disable=not show):
        chosen.append(selected)
        counts.update(found)
    return Selected.concat(chosen), counts


def _chunk_workers(workers: int, chunks: int, ranking: Ranking | None) -> int:
    """The processes the chunks use: ``workers``, no more than there are chunks, one with a
    user's scorer (a model that may hold a GPU or threads that a fork does not copy)."""
    if ranking is not None and ranking.scorer is not None:
        return 1
    return max(1, min(workers, chunks))


@dataclass(frozen=True)
class _ChunkWork:
    """What every chunk reads (a forked worker inherits it)."""

    data: Data
    sources: list[CandidateSource]
    settings: GuardSettings
    tiebreak: np.ndarray
    num_negatives: int
    diversity: float
    ranking: Ranking | None
    check: FinalistCheck | None
    lazy: bool


def _mine_chunk(work: _ChunkWork, bounds: tuple[int, int]) -> tuple[Selected, Counter]:
    """The kept negatives of referents ``r0 .. r1 - 1`` (``bounds``) and the chunk's counts. In a
    forked worker the judgement reads the parse memo made before the fork, which holds the
    candidates' descriptions (at 1/8 of RefCOCO's size all chunks together parsed one new text)."""
    r0, r1 = bounds
    counts: Counter = Counter()
    data, settings, tiebreak = work.data, work.settings, work.tiebreak
    parts = [source.chunk(r0, r1, code=s) for s, source in enumerate(work.sources)]
    if work.lazy:  # the guards, the judgement and the plausibility check in rank order
        flat, judgement, verification, plausibility = _judge_in_rank_order(
            Candidates.concat(parts), data, settings, counts, tiebreak, num_negatives=work.num_negatives,
            check=work.check)
    else:
        flat, judgement, verification = apply_guards(Candidates.concat(parts), data, settings, counts)
        plausibility = None
        if work.check is not None:  # the plausibility filter, on the finalists only (refaug.mining.plausibility)
            window = work.num_negatives if work.ranking is None and work.diversity <= 0 \
                else DIVERSITY_POOL * work.num_negatives
            flat, judgement, verification, plausibility = work.check.apply(
                flat, judgement, verification, data, tiebreak, counts, window=window)
    selected = rank_chunk(flat, judgement, verification, data, tiebreak, counts,
                          num_negatives=work.num_negatives, diversity=work.diversity, ranking=work.ranking,
                          plausibility=plausibility)
    # Freed before the next chunk is gathered and judged, not when it replaces them: one chunk's
    # candidates, findings and notes (hundreds of MB) in memory at a time, not two; and the
    # comparison's memos with them (rebuilt in about a second a chunk), so they do not pile up over
    # a run of RefCOCO's size (benchmarks/results/end_to_end_full.md).
    del parts, flat, judgement, verification, plausibility
    clear_comparison_caches()
    return selected, counts


def _determined(survive: np.ndarray, tier: np.ndarray, reached_b: np.ndarray, reached_all: np.ndarray) -> np.ndarray:
    """The survivors no unjudged neighbour can rank before (a prefix of the final order): tiers 0
    and 1; tier 2 once every possible tier-1 neighbour is judged; all once everything is."""
    return survive & ((tier <= 1) | ((tier == 2) & reached_b) | reached_all)


def _judge_in_rank_order(flat: Candidates, data: Data, settings: GuardSettings, counts: Counter,
                         tiebreak: np.ndarray, *, num_negatives: int, check: FinalistCheck | None
                         ) -> tuple[Candidates, CandidateJudgement, Verification, np.ndarray | None]:
    """:func:`apply_guards` and the finalist check with the neighbours judged lazily: the other
    kinds all at once, the neighbours per referent in rank order, in growing batches, until the
    referent has ``num_negatives`` survivors that no unjudged neighbour can outrank.

    An unjudged neighbour not proven by category lands (if it survives) in tier 1 or 3, one
    proven by category in tier 2, each below the judged ones of its tier by similarity; so the
    survivors of tier 0 and 1, of tier 2 once no tier-1 one is unjudged, and of all tiers once
    none is, rank before any unjudged one (:func:`_determined`). The plain ranking keeps the first
    ``num_negatives`` of them that pass the check: the negatives of the eager path.
    """
    flat = apply_unjudged_guards(flat, data, settings, counts)
    n = len(flat.row)
    neighbour = np.isin(flat.kind, [KIND_CODE[k] for k in NEIGHBOUR_KINDS])
    proven = category_proven(flat, data)
    local = np.unique(flat.row, return_inverse=True)[1].reshape(-1) if n else np.zeros(0, np.int64)
    n_rows = int(local.max(initial=-1)) + 1
    entries = np.nonzero(neighbour)[0]
    entries = entries[np.lexsort((tiebreak[flat.vocab[entries]], -flat.sim[entries], proven[entries],
                                  local[entries]))]
    first = np.searchsorted(local[entries], np.arange(n_rows), "left")
    position = np.full(n, -1, np.int64)
    position[entries] = np.arange(len(entries)) - first[local[entries]]
    total = np.bincount(local[entries], minlength=n_rows)
    part_b = np.bincount(local[entries[~proven[entries]]], minlength=n_rows)
    reached = np.zeros(n_rows, np.int64)  # neighbours judged per referent (a prefix of the order)
    judged, survive, failed = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
    tier, owner = np.full(n, -1, np.int64), np.full(n, -1, np.int64)
    checked = np.ones(n, bool) if check is None else ~check.generated[flat.vocab]
    plausibility = np.full(n, np.nan, np.float32)
    pieces: list[tuple[np.ndarray, CandidateJudgement, Verification]] = []
    todo, step = np.nonzero(~neighbour)[0], 0
    while True:
        if len(todo) or not pieces:  # the first round always: an empty chunk has its (empty) judgement
            sub = flat.take(todo)
            keep, judgement, verification = apply_judged_guards(sub, data, settings, counts)
            judged[todo], survive[todo[keep]] = True, True
            tier[todo], owner[todo] = ranking_tier(sub, verification), verification.owner
            pieces.append((todo[keep], judgement.take(keep), verification.take(keep)))
            neighbours_done = neighbour[todo]
            reached += np.bincount(local[todo[neighbours_done]], minlength=n_rows)
        known = _determined(survive, tier, (reached >= part_b)[local], (reached >= total)[local])
        if check is not None:
            alive = known & ~failed
            check.screen(flat, tier, owner, data, tiebreak, counts, window=num_negatives, alive=alive,
                         checked=checked, plausibility=plausibility)
            failed |= known & ~alive
        have = np.bincount(local[known & ~failed], minlength=n_rows)
        short = (have < num_negatives) & (reached < total)
        if not short.any():
            break
        size = (num_negatives - have + LAZY_SLACK) << step
        step += 1
        pick = entries[short[local[entries]]]
        at = position[pick] - reached[local[pick]]
        todo = pick[(at >= 0) & (at < size[local[pick]])]
    count_per_kind(counts, flat.kind, ~judged, "not_judged")
    return _gathered(flat, pieces, survive & ~failed, plausibility if check is not None else None)


def _gathered(flat: Candidates, pieces: list[tuple[np.ndarray, CandidateJudgement, Verification]],
              final: np.ndarray, plausibility: np.ndarray | None
              ) -> tuple[Candidates, CandidateJudgement, Verification, np.ndarray | None]:
    """The ``final`` entries of ``flat`` with their judgement and verification, in ``flat``'s order."""
    index = np.concatenate([p[0] for p in pieces])
    order = np.argsort(index, kind="stable")
    keep = final[index[order]]
    judgement = CandidateJudgement.concat([p[1] for p in pieces]).take(order[keep])
    verification = Verification.concat([p[2] for p in pieces]).take(order[keep])
    return (flat.take(index[order][keep]), judgement, verification,
            None if plausibility is None else plausibility[index[order][keep]])
