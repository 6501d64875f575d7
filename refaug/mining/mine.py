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
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from datasets import Dataset
from tqdm.auto import tqdm

from refaug.clusters import ClusterClassifier
from refaug.contrast.compare import clear_caches as clear_comparison_caches
from refaug.embed import Embedder
from refaug.errors import check_choice
from refaug.mining.candidates import Candidates, Selected
from refaug.mining.corpus import Data, prepare
from refaug.mining.formats import OUTPUT_FORMATS, OutputFormat, write_output
from refaug.mining.guards import (
    DEFAULT_RELATIVE_MARGIN,
    DEFAULT_SIMILARITY_FLOOR,
    SELECTIONS,
    GuardSettings,
    Selection,
    apply_guards,
    guard_settings,
    search_ceiling,
)
from refaug.mining.judgement import cluster_cutoffs, similarity_label
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
from refaug.plausibility import PlausibilityFilter

logger = logging.getLogger(__name__)


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
    plausibility: str | PlausibilityFilter = "off",
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
        no_target_per_image: up to this many image-level no-target expressions per image, in a
            ``no_target`` column (:mod:`refaug.mining.no_target`; 0, the default: none; nested only).
    """
    sources, weights = _checked_options(
        dataset, tuple(sources), output_format=output_format, num_negatives=num_negatives, diversity=diversity,
        search=search, classifier=classifier, threshold=threshold, weights=weights, scorer=scorer,
        selection=selection, no_target_per_image=no_target_per_image)
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
    selected, counts = _mine_chunks(data, chosen, settings, context, seed=seed, num_negatives=num_negatives,
                                    diversity=diversity, ranking=ranking, check=check)
    report = mining_report(counts, selected, data, num_negatives)
    report.log(_rule_settings(clf, **policy))
    out = write_output(dataset, selected, data, output_format=output_format, num_negatives=num_negatives,
                       cutoff=cluster_cutoffs(data, clf), label=similarity_label(clf))
    if no_target is not None:
        keep = None if check is None else (lambda codes: check.keep_texts(codes, data))
        lists, _ = image_negatives(data, clf, settings.evidence, pool=no_target.pool, per_image=no_target_per_image,
                                   require_verified=require_verified, seed=seed, keep=keep)
        out = out.remove_columns([c for c in (NO_TARGET_COLUMN,) if c in out.column_names])
        out = out.add_column(NO_TARGET_COLUMN, lists, feature=no_target_feature())
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
                     no_target_per_image: int = 0) -> tuple[tuple[str, ...], Weights | None]:
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
                 ranking: Ranking | None, check: FinalistCheck | None = None) -> tuple[Selected, Counter]:
    """Prepare the sources, then guard and rank the candidates of the referents chunk by chunk."""
    for source in sources:
        source.prepare(data, context)
    tiebreak = np.random.default_rng(seed).permutation(len(data.texts))
    counts: Counter = Counter()
    chosen: list[Selected] = []
    chunks = range(0, data.n, context.chunk_size)
    show = len(chunks) > 10 if context.show_progress_bar is None else context.show_progress_bar
    for r0 in tqdm(chunks, desc="Judging candidates", unit="chunk", disable=not show):
        r1 = min(r0 + context.chunk_size, data.n)
        parts = [source.chunk(r0, r1, code=s) for s, source in enumerate(sources)]
        flat, judgement, verification = apply_guards(Candidates.concat(parts), data, settings, counts)
        plausibility = None
        if check is not None:  # the plausibility filter, on the finalists only (refaug.mining.plausibility)
            window = num_negatives if ranking is None and diversity <= 0 else DIVERSITY_POOL * num_negatives
            flat, judgement, verification, plausibility = check.apply(flat, judgement, verification, data,
                                                                      tiebreak, counts, window=window)
        chosen.append(rank_chunk(flat, judgement, verification, data, tiebreak, counts,
                                 num_negatives=num_negatives, diversity=diversity, ranking=ranking,
                                 plausibility=plausibility))
        # Freed before the next chunk is gathered and judged, not when it replaces them: one
        # chunk's candidates, findings and notes (hundreds of MB) in memory at a time, not two;
        # and the comparison's memos with them (rebuilt in about a second a chunk), so they do
        # not pile up over a run of RefCOCO's size (benchmarks/results/end_to_end_full.md).
        del parts, flat, judgement, verification, plausibility
        clear_comparison_caches()
    return Selected.concat(chosen), counts

