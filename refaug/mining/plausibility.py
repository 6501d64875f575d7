"""The plausibility filter (:mod:`refaug.plausibility`) as a step of mining, after the guards:
only the candidates that could be published are checked.

A corpus brings hundreds of thousands of generated texts, and the language model scores tens
of them a second on a CPU. So the filter runs after the guards, lazily: per referent, the
candidates the ranking would keep (its ``window``: ``num_negatives``, or the greedy rankings'
pool) are checked; the ones dropped make room for the next, which are checked in turn, until
the window holds no unchecked text. Only *generated* texts are checked (the rewriters' and the
LLM's proposals, the machine-written views of other objects), never a human expression, and
the language model scores each distinct text once per mining call (cached by text).

A distractor's source is the expression it was edited from (its ``origin``); a view's, its
referent's human expressions (their mean score). Each drop is counted per kind under
``plausibility_lm`` or ``plausibility_cooccurrence`` (the mining report's ``dropped``).

Example:
    >>> PLAUSIBILITY_RULES
    ('plausibility_lm', 'plausibility_cooccurrence')
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import numpy as np

from refaug.clusters import ClusterClassifier
from refaug.mining.candidates import KIND_CODE, Candidates
from refaug.mining.corpus import Data
from refaug.mining.judgement import CandidateJudgement
from refaug.mining.ranking import rank_top
from refaug.mining.verification import PROPOSAL_KINDS, REWRITE_KINDS, Verification, ranking_tier
from refaug.plausibility.filter import PlausibilityFilter

logger = logging.getLogger(__name__)

PLAUSIBILITY_RULES: tuple[str, ...] = ("plausibility_lm", "plausibility_cooccurrence")
_EDIT_CODES = np.asarray([KIND_CODE[k] for k in (*REWRITE_KINDS, *PROPOSAL_KINDS)], np.int64)


@dataclass
class FinalistCheck:
    """One mining call's plausibility check (:meth:`prepare` it, then :meth:`apply` per chunk)."""

    filter: PlausibilityFilter
    classifier: ClusterClassifier
    generated: np.ndarray  # (V,) True where a text is no referent's human expression

    @classmethod
    def prepare(cls, plausibility: PlausibilityFilter, data: Data, classifier: ClusterClassifier) -> FinalistCheck:
        """Mark the generated texts; build the colour counts from the human expressions."""
        generated = np.ones(len(data.texts), bool)
        generated[data.human_idx] = False
        humans = [data.texts[i] for i in np.unique(data.human_idx)]
        plausibility.fit_counts(classifier.describe(humans), humans)
        return cls(filter=plausibility, classifier=classifier, generated=generated)

    def apply(self, flat: Candidates, judgement: CandidateJudgement, verification: Verification, data: Data,
              tiebreak: np.ndarray, counts: Counter, *,
              window: int) -> tuple[Candidates, CandidateJudgement, Verification, np.ndarray]:
        """Drop the implausible generated finalists (module docstring); return the survivors and
        their ``plausibility`` (NaN where not scored)."""
        n = len(flat.row)
        plausibility = np.full(n, np.nan, np.float32)
        alive = np.ones(n, bool)
        checked = ~self.generated[flat.vocab]
        self.screen(flat, ranking_tier(flat, verification), verification.owner, data, tiebreak, counts,
                    window=window, alive=alive, checked=checked, plausibility=plausibility)
        return flat.take(alive), judgement.take(alive), verification.take(alive), plausibility[alive]

    def screen(self, flat: Candidates, tier: np.ndarray, owner: np.ndarray, data: Data, tiebreak: np.ndarray,
               counts: Counter, *, window: int, alive: np.ndarray, checked: np.ndarray,
               plausibility: np.ndarray) -> None:
        """Check the unchecked finalists among the ``alive`` entries (in place): per referent, until
        its first ``window`` alive ones by tier and similarity are all checked; a drop clears
        ``alive``, a check sets ``checked`` and ``plausibility`` (the lazy judgement's hook too)."""
        while True:
            index = np.nonzero(alive)[0]
            top = index[rank_top(flat.take(alive), tiebreak, window, tier[alive])]
            todo = top[~checked[top]]
            if not len(todo):
                break
            checked[todo] = True
            verdict = self._judge(todo, flat, owner, data)
            plausibility[todo] = verdict.plausibility
            alive[todo[verdict.drop]] = False
            for rule, code in zip(PLAUSIBILITY_RULES, ("lm", "cooccurrence"), strict=True):
                hit = verdict.reason == code
                for k in np.unique(flat.kind[todo[hit]]):
                    counts[(_kind_name(k), rule)] += int((flat.kind[todo[hit]] == k).sum())
            counts[("plausibility", "checked")] += len(todo)
            counts[("plausibility", "scored")] += int(np.isfinite(verdict.plausibility).sum())

    def keep_texts(self, codes: np.ndarray, data: Data) -> np.ndarray:
        """The no-target step's hook (:func:`refaug.mining.no_target.image_negatives`'s ``keep``):
        a mask of the generated texts ``codes`` (vocabulary indices) that pass. A no-target text
        has no single source to be scored against, so only the co-occurrence check applies (its
        drops count under the no-target report's ``filtered``)."""
        texts = [data.texts[int(v)] for v in codes]
        verdict = self.filter.judge(texts, np.full(len(texts), np.nan, np.float32),
                                    descriptions=self.classifier.describe(texts),
                                    source_descriptions=[None] * len(texts))
        return ~np.asarray(verdict.drop, bool)

    def _judge(self, entries: np.ndarray, flat: Candidates, owner: np.ndarray, data: Data):
        """The filter's verdict on the given entries, each against its source."""
        texts = [data.texts[v] for v in flat.vocab[entries]]
        edit = np.isin(flat.kind[entries], _EDIT_CODES)
        sources: list[str | None] = [data.origins[o] if e else None
                                     for o, e in zip(flat.origin[entries], edit, strict=True)]
        owners = owner[entries]
        source_scores = np.full(len(entries), np.nan, np.float32)
        novel = self.filter.needs_model(texts)
        if novel.any():  # the first stage passes the others unscored
            own = {int(o): [data.texts[h] for h in data.humans(int(o))] for o in np.unique(owners[~edit & novel])}
            wanted = [t for t, s, m in zip(texts, sources, novel, strict=True) if m for t in (t, s) if t]
            wanted += [t for h in own.values() for t in h]
            table = dict(zip(wanted, self.filter.scores(wanted).tolist(), strict=True))
            for j in np.nonzero(novel)[0]:
                source = sources[j]
                values = [table[source]] if source else [table[t] for t in own.get(int(owners[j]), ())]
                values = [v for v in values if np.isfinite(v)]
                source_scores[j] = np.mean(values) if values else np.nan
        descriptions = self.classifier.describe(texts)
        source_descriptions = [d if s else None for s, d in
                               zip(sources, self.classifier.describe([s or "" for s in sources]), strict=True)]
        return self.filter.judge(texts, source_scores, descriptions=descriptions,
                                 source_descriptions=source_descriptions)


def _kind_name(code: int) -> str:
    from refaug.records import CANDIDATE_KINDS

    return CANDIDATE_KINDS[int(code)]
