"""Hard-negative mining: same-image, cross-image and same-class neighbours, plus distractors.

:func:`mine_hard_negatives` takes a ``Dataset`` of referents and returns a ``Dataset``:

1. each referent's cluster (its views and, optionally, its original expressions) is
   embedded once; its centroid is the normalised mean of its members (:mod:`.corpus`);
2. candidates come from ``sources`` (:mod:`.sources`, one class per source, by name in a
   registry): the texts of the other referents of the same image, the nearest texts of other
   images (exact search by blocked matrix products, memory bounded by the chunk sizes,
   :mod:`.search`; optionally restricted to the same category, :mod:`.categories`), and the
   rewriters' ``distractors``;
3. each candidate is verified (:mod:`.verification`): what proves it is not the referent
   (``same_image``, ``edit``, ``conflict``, ``conflict_view``, ``category`` or ``none``);
4. guards (:mod:`.guards`) drop likely false negatives (exact or near-exact duplicates of the
   cluster's texts; ambiguous same-image annotations; inside the cluster by the
   :class:`~refaug.clusters.ClusterClassifier`, asked in one place, :mod:`.judgement`; above
   ``max_similarity``; within ``relative_margin`` of the cluster's own loosest member), a
   proof overruling the cosine rules, and with ``require_verified`` (the default) every
   unproven candidate; the function logs how many each rule dropped, per kind (:mod:`.report`);
5. the rest are ranked by tier (same image and own edits, same class, other category,
   unverified) and hardness (cosine to the centroid), optionally penalised by their
   similarity to negatives already chosen (``diversity``) or weighed with the user's model
   (:mod:`.ranking`), and written as ``nested`` :class:`~refaug.records.HardNegative` lists or
   the flat ``triplet`` / ``n-tuple`` formats of sentence-transformers' trainers
   (:mod:`.formats`), each negative with its ``verified_by``.

:func:`mine_rounds` (:mod:`.rounds`) repeats the model-in-the-loop step in rounds.

Example:
    >>> from refaug.data.synthetic import synthetic_scenes
    >>> from refaug.embed import Embedder
    >>> ds = synthetic_scenes(20, image_size=(64, 48))
    >>> mined = mine_hard_negatives(ds, embedder=Embedder(), num_negatives=5)  # doctest: +SKIP
    >>> mined[0]["hard_negatives"][0]["kind"]  # doctest: +SKIP
    'same_image'
"""

from __future__ import annotations

from refaug.mining.categories import derive_categories
from refaug.mining.formats import OUTPUT_FORMATS, OutputFormat
from refaug.mining.guards import (
    DEFAULT_RELATIVE_MARGIN,
    DEFAULT_SIMILARITY_FLOOR,
    GUARD_RULES,
    NEAR_IDENTICAL,
    RULE_NAMES,
    SELECTIONS,
    Selection,
)
from refaug.mining.judgement import CandidateJudgement, judge_candidates
from refaug.mining.mine import mine_hard_negatives
from refaug.mining.ranking import WEIGHT_NAMES, Weights
from refaug.mining.report import KindReport, MiningReport
from refaug.mining.rounds import RoundReport, mine_rounds
from refaug.mining.search import (
    BF16_ERROR,
    PRECISIONS,
    SEARCH_BACKENDS,
    Precision,
    SearchBackend,
    cpu_has_fast_bf16,
    resolve_precision,
    topk_outside,
    topk_outside_faiss,
)
from refaug.mining.sources import CANDIDATE_SOURCES, SOURCES, CandidateSource, Source, SourceContext
from refaug.mining.verification import PROVEN, TIERS
from refaug.text import normalize_text

__all__ = [
    "BF16_ERROR",
    "CANDIDATE_SOURCES",
    "DEFAULT_RELATIVE_MARGIN",
    "DEFAULT_SIMILARITY_FLOOR",
    "GUARD_RULES",
    "NEAR_IDENTICAL",
    "OUTPUT_FORMATS",
    "PRECISIONS",
    "PROVEN",
    "RULE_NAMES",
    "SEARCH_BACKENDS",
    "SELECTIONS",
    "SOURCES",
    "TIERS",
    "WEIGHT_NAMES",
    "CandidateJudgement",
    "CandidateSource",
    "KindReport",
    "MiningReport",
    "OutputFormat",
    "Precision",
    "RoundReport",
    "SearchBackend",
    "Selection",
    "Source",
    "SourceContext",
    "Weights",
    "cpu_has_fast_bf16",
    "derive_categories",
    "judge_candidates",
    "mine_hard_negatives",
    "mine_rounds",
    "normalize_text",
    "resolve_precision",
    "topk_outside",
    "topk_outside_faiss",
]
