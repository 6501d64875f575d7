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
from refaug.embed import Embedder
from refaug.errors import check_choice
from refaug.mining.candidates import Candidates, Selected
from refaug.mining.corpus import Data, prepare
from refaug.mining.formats import OUTPUT_FORMATS, OutputFormat, write_output
from refaug.mining.guards import (
    DEFAULT_RELATIVE_MARGIN,
    GuardSettings,
    apply_guards,
    guard_settings,
    search_ceiling,
)
from refaug.mining.judgement import cluster_cutoffs, similarity_label
from refaug.mining.ranking import Ranking, Weights, check_weights, rank_chunk
from refaug.mining.report import report_drops
from refaug.mining.search import SEARCH_BACKENDS, Precision, SearchBackend
from refaug.mining.sources.base import CandidateSource, SourceContext
from refaug.mining.sources.registry import SOURCES, build_source, source_class

logger = logging.getLogger(__name__)


def mine_hard_negatives(
    dataset: Dataset, *, embedder: Embedder | None = None, num_negatives: int = 30,
    sources: tuple[str, ...] = SOURCES, same_class: bool = False, classifier: ClusterClassifier | None = None,
    threshold: float | None = None, max_similarity: float | None = None,
    relative_margin: float | None = DEFAULT_RELATIVE_MARGIN, diversity: float = 0.0, scorer: Any = None,
    weights: Weights | None = None, include_expressions: bool = True, seed: int = 0,
    output_format: OutputFormat = "nested", search: SearchBackend = "torch", precision: Precision = "auto",
    chunk_size: int = 2048, corpus_chunk_size: int = 32768, device: str | None = None,
    show_progress_bar: bool | None = None,
) -> Dataset:
    """Mine hard negatives for every referent of ``dataset`` (the steps: :mod:`refaug.mining`).

    Args:
        dataset: referent rows (canonical columns); optional ``views`` and ``distractors``.
        embedder: the :class:`~refaug.embed.Embedder`; None (default): the default model.
        num_negatives: negatives kept per referent, the hardest after the guards (30).
        sources: names in :data:`~refaug.mining.SOURCES` (default: all): ``"same_image"``,
            ``"cross_image"`` (exact search), ``"distractors"`` (skipped without the column).
        same_class: cross-image candidates of the referent's category only (False).
        classifier: judges "inside the cluster"; None: ``ClusterClassifier("centroid")``.
        threshold: that centroid classifier's threshold (None: the calibrated default).
        max_similarity: drop candidates whose cosine to the centroid is above it (None: off).
        relative_margin: drop candidates above ``s - |s| * relative_margin``, ``s`` the loosest
            member's cosine to the centroid (0.05; None: off).
        diversity: > 0 subtracts ``diversity`` x the largest similarity to those chosen (0).
        scorer: the user's model (:class:`refaug.scoring.Scorer`): it scores each referent's texts
            and ``4 x num_negatives`` candidates; its uncertainty joins the ranking (None).
        weights: ``{"similarity": a, "uncertainty": b, "diversity": c}``: rank by ``a * cosine
            + b * uncertainty + c * mean distance`` (None; with a scorer 1, 1, 0; see :mod:`.ranking`).
        include_expressions: add the original expressions to the views' cluster (True).
        seed: breaks ties between equal scores reproducibly (0).
        output_format: ``"nested"`` (default: adds ``hard_negatives``), ``"triplet"`` or ``"n-tuple"``.
        search, precision: ``"torch"`` (default, exact) or ``"faiss"``; for torch ``"auto"``
            (default), ``"bf16"`` or ``"fp32"``, all exact.
        chunk_size, corpus_chunk_size: referents per chunk (2048), corpus rows per block (32768).
        device: torch device for the search (None: CUDA when available).
        show_progress_bar: None (default) shows bars on long work.

    Returns:
        A ``Dataset`` in ``output_format`` with declared ``Features``.
    """
    sources, weights = _checked_options(
        dataset, tuple(sources), output_format=output_format, num_negatives=num_negatives, diversity=diversity,
        search=search, classifier=classifier, threshold=threshold, weights=weights, scorer=scorer)
    embedder = embedder or Embedder()
    clf = classifier or ClusterClassifier("centroid", threshold=threshold, embedder=embedder)
    chosen = [build_source(name) for name in sources]
    data = prepare(dataset, embedder, include_expressions=include_expressions, sources=chosen)
    settings = guard_settings(data, clf, max_similarity=max_similarity, relative_margin=relative_margin)
    context = SourceContext(num_negatives=num_negatives, same_class=same_class, centroid_based=clf.centroid_based,
                            ceiling=search_ceiling(settings, data), search=search, precision=precision,
                            chunk_size=chunk_size, corpus_chunk_size=corpus_chunk_size, device=device,
                            show_progress_bar=show_progress_bar)
    ranking = None if weights is None else Ranking(weights, scorer, dataset, show_progress_bar)
    selected, counts = _mine_chunks(data, chosen, settings, context, seed=seed, num_negatives=num_negatives,
                                    diversity=diversity, ranking=ranking)
    report_drops(counts, sources, selected, data, num_negatives,
                 {"inside_cluster": repr(clf), "max_similarity": max_similarity, "relative_margin": relative_margin})
    return write_output(dataset, selected, data, output_format=output_format, num_negatives=num_negatives,
                        cutoff=cluster_cutoffs(data, clf), label=similarity_label(clf))


def _checked_options(dataset: Dataset, sources: tuple[str, ...], *, output_format: str, num_negatives: int,
                     diversity: float, search: str, classifier: Any, threshold: float | None,
                     weights: Weights | None, scorer: Any) -> tuple[tuple[str, ...], Weights | None]:
    """Check the options (``ValueError`` naming the bad one); return the usable sources and the weights.

    A source is usable when the dataset has its columns; the others are skipped (and logged).
    """
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
    weights = check_weights(weights, scorer, diversity)
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
                 ranking: Ranking | None) -> tuple[Selected, Counter]:
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
        flat, judgement = apply_guards(Candidates.concat(parts), data, settings, counts)
        chosen.append(rank_chunk(flat, judgement, data, tiebreak, counts, num_negatives=num_negatives,
                                 diversity=diversity, ranking=ranking))
    return Selected.concat(chosen), counts
