"""The guards: an ordered list of rules that drop likely false negatives, counted per source.

Each rule is a function of explicit inputs (:class:`RuleInputs`) returning a
:class:`Verdict` (what it drops, and what it keeps by exception); the rules run in the order
of :data:`GUARD_RULES`, each on the candidates the earlier ones left:

1. ``duplicate``: the candidate is an exact or near-exact duplicate of a cluster text
   (:func:`refaug.text.normalize_text`);
2. ``repeated``: the same text already came for the referent (from any source);
3. ``inside_cluster``: :func:`~refaug.mining.judgement.judge_candidates` calls it inside;
4. ``max_similarity``: its centroid cosine is above ``max_similarity``;
5. ``relative_margin``: its cosine is above ``s - |s| * relative_margin``, ``s`` the loosest
   member's; a decisive conflict of the judgement keeps it (a sure negative).

The judgement is made once per chunk, right before the first rule that needs it, on the
candidates still alive. :func:`search_ceiling` is the cosine at and above which no rule would
keep a text, so the cross-image search can skip those rows.

Example:
    >>> [rule.name for rule in GUARD_RULES]
    ['duplicate', 'repeated', 'inside_cluster', 'max_similarity', 'relative_margin']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from refaug.clusters import ClusterClassifier
from refaug.mining.candidates import Candidates
from refaug.mining.corpus import Data
from refaug.mining.judgement import (
    CandidateJudgement,
    centroid_cutoff,
    cluster_cutoffs,
    finds_sure_negatives,
    judge_candidates,
)

# Keep a negative only if it is at least 5% of the loosest member's similarity below it:
# NV-Retriever's best setting, TopK-PercPos 95% (arXiv:2407.15831), the value
# sentence-transformers' mine_hard_negatives recommends for its relative_margin.
DEFAULT_RELATIVE_MARGIN = 0.05


@dataclass(frozen=True)
class GuardSettings:
    """The guards' options for one mining call."""

    classifier: ClusterClassifier
    max_similarity: float | None
    margin_bound: np.ndarray  # (R,) relative-margin bound per referent (inf: none)


def guard_settings(data: Data, classifier: ClusterClassifier, *, max_similarity: float | None,
                   relative_margin: float | None) -> GuardSettings:
    """The settings of :func:`apply_guards`: the per-referent relative-margin bound."""
    bound = np.full(data.n, np.inf, np.float32)
    if relative_margin is not None:
        bound = (data.min_member - np.abs(data.min_member) * relative_margin).astype(np.float32)
    return GuardSettings(classifier=classifier, max_similarity=max_similarity, margin_bound=bound)


def search_ceiling(settings: GuardSettings, data: Data) -> np.ndarray:
    """Per referent, the centroid similarity at and above which no rule would keep a text."""
    limit = np.inf if settings.max_similarity is None else np.nextafter(
        np.float32(settings.max_similarity), np.float32(np.inf))
    if finds_sure_negatives(settings.classifier):  # a conflict keeps a candidate of any cosine: no pruning
        return np.full(len(settings.margin_bound), limit, np.float32)
    ceiling = np.minimum(np.nextafter(settings.margin_bound, np.float32(np.inf)), limit)
    inside = centroid_cutoff(settings.classifier, cluster_cutoffs(data, settings.classifier))
    if inside is not None:
        ceiling = np.minimum(ceiling, inside)
    return ceiling.astype(np.float32)


@dataclass(frozen=True)
class RuleInputs:
    """What a rule may look at."""

    flat: Candidates
    settings: GuardSettings
    keys: np.ndarray  # (referent, normalised text) key per candidate
    cluster_keys: np.ndarray  # the keys of the chunk's cluster members
    alive: np.ndarray  # the candidates the earlier rules left
    judgement: CandidateJudgement | None  # set for the rules that need it


@dataclass(frozen=True)
class Verdict:
    """What a rule drops, and what it keeps by exception (counted under the dict's key)."""

    drop: np.ndarray
    kept: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class GuardRule:
    """One guard: its name (in the logs and counts) and its check."""

    name: str
    check: Callable[[RuleInputs], Verdict]
    needs_judgement: bool = False


def first_occurrence(keys: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """True where an alive entry's key appears for the first time among alive entries."""
    first = np.zeros(len(keys), bool)
    alive_pos = np.nonzero(alive)[0]
    _, idx = np.unique(keys[alive_pos], return_index=True)
    first[alive_pos[idx]] = True
    return first | ~alive


def _duplicate(inputs: RuleInputs) -> Verdict:
    return Verdict(np.isin(inputs.keys, inputs.cluster_keys))


def _repeated(inputs: RuleInputs) -> Verdict:
    return Verdict(~first_occurrence(inputs.keys, inputs.alive))


def _inside_cluster(inputs: RuleInputs) -> Verdict:
    return Verdict(inputs.judgement.inside)


def _max_similarity(inputs: RuleInputs) -> Verdict:
    limit = np.inf if inputs.settings.max_similarity is None else inputs.settings.max_similarity
    return Verdict(inputs.flat.sim > limit)


def _relative_margin(inputs: RuleInputs) -> Verdict:
    above = inputs.flat.sim > inputs.settings.margin_bound[inputs.flat.row]
    # A conflict makes a sure negative: the margin guards against false negatives only.
    conflict = inputs.judgement.conflict
    return Verdict(above & ~conflict, {"kept_by_conflict": above & conflict})


GUARD_RULES: tuple[GuardRule, ...] = (
    GuardRule("duplicate", _duplicate),
    GuardRule("repeated", _repeated),
    GuardRule("inside_cluster", _inside_cluster, needs_judgement=True),
    GuardRule("max_similarity", _max_similarity),
    GuardRule("relative_margin", _relative_margin, needs_judgement=True),
)
RULE_NAMES: tuple[str, ...] = tuple(rule.name for rule in GUARD_RULES)


def _count(counts: Counter, source: np.ndarray, mask: np.ndarray, key: str) -> None:
    """Add the entries of ``mask`` per source to ``counts[(source, key)]``."""
    for s in np.unique(source[mask]):
        counts[(int(s), key)] += int((mask & (source == s)).sum())


def _keys(flat: Candidates, data: Data) -> tuple[np.ndarray, np.ndarray]:
    """(referent, normalised text) keys of the candidates and of the chunk's cluster members."""
    n_vocab = len(data.texts)
    rows = np.unique(flat.row)
    member_rows = np.repeat(np.arange(data.n), np.diff(data.member_ptr))
    in_chunk = np.isin(member_rows, rows)
    cluster_keys = member_rows[in_chunk] * n_vocab + data.norm[data.member_idx[in_chunk]]
    return flat.row * n_vocab + data.norm[flat.vocab], cluster_keys


def apply_guards(flat: Candidates, data: Data, settings: GuardSettings,
                 counts: Counter) -> tuple[Candidates, CandidateJudgement]:
    """Apply :data:`GUARD_RULES` in order; count what each drops per source; return survivors.

    Fills in the centroid cosine (``sim``) of the candidates whose source did not compute it.
    Returns the surviving candidates and their judgement.
    """
    todo = np.isnan(flat.sim)
    flat.sim[todo] = np.einsum("nd,nd->n", data.vectors[flat.vocab[todo]], data.centroid[flat.row[todo]])
    keys, cluster_keys = _keys(flat, data)
    alive = np.ones(len(keys), bool)
    _count(counts, flat.source, alive, "considered")
    judgement = None
    for rule in GUARD_RULES:
        if rule.needs_judgement and judgement is None:
            judgement = judge_candidates(flat, data, settings.classifier, alive)
        verdict = rule.check(RuleInputs(flat=flat, settings=settings, keys=keys, cluster_keys=cluster_keys,
                                        alive=alive, judgement=judgement))
        for key, kept in verdict.kept.items():
            _count(counts, flat.source, alive & kept, key)
        drop = alive & verdict.drop
        _count(counts, flat.source, drop, rule.name)
        alive &= ~drop
    if judgement is None:
        judgement = judge_candidates(flat, data, settings.classifier, alive)
    return flat.take(alive), judgement.take(alive)
