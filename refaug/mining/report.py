"""What a mining call tells its user: per kind, what came, what each rule dropped, what was kept and why.

Like sentence-transformers' ``mine_hard_negatives``, it logs "Skipped N candidates (x%)
because of <rule>", here per candidate kind, then a table per kind: candidates, kept, the share
verified and by what (:data:`refaug.records.VERIFICATIONS`), the share of the referent's
category, the similarity quantiles of the kept, and how many referents fell short of
``num_negatives``. :func:`~refaug.mining.mine_hard_negatives` returns the
:class:`MiningReport` with ``return_report=True``; the run's mine stage merges one per split.

Example:
    >>> report = MiningReport(referents=2, num_negatives=3, short=1, short_verified=1, kinds={})
    >>> report.to_dict()["short"]
    1
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from refaug.mining.candidates import Selected
from refaug.mining.corpus import Data
from refaug.mining.guards import RULE_NAMES
from refaug.mining.plausibility import PLAUSIBILITY_RULES
from refaug.records import CANDIDATE_KINDS, UNVERIFIED, VERIFICATIONS
from refaug.report import format_table

logger = logging.getLogger(__name__)

# The drop counts of a kind, in order: the guards', the plausibility filter's, then the
# ranking's (passed every guard, ranked below num_negatives), then the neighbours never judged
# because the ranking could not reach them (mine_hard_negatives' lazy_judgement).
DROP_KEYS: tuple[str, ...] = (*RULE_NAMES, *PLAUSIBILITY_RULES, "ranked_out", "not_judged")
QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)


@dataclass(frozen=True)
class KindReport:
    """One candidate kind's account.

    Attributes:
        candidates: candidates the guards considered.
        kept: negatives kept.
        verified: the kept per ``verified_by``.
        same_category: of the kept, how many are texts of an object of the referent's category.
        dropped: per rule of :data:`DROP_KEYS`, the candidates it dropped.
        kept_by_proof: per cosine rule, the candidates it would have dropped, kept because proven
            (or, for the margin, because the judgement found a decisive conflict).
        similarities: the kept negatives' cosines to the centroid.
    """

    candidates: int
    kept: int
    verified: dict[str, int]
    same_category: int
    dropped: dict[str, int]
    kept_by_proof: dict[str, int] = field(default_factory=dict)
    similarities: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)

    @property
    def verified_share(self) -> float:
        return (self.kept - self.verified.get(UNVERIFIED, 0)) / self.kept if self.kept else float("nan")

    def quantiles(self) -> list[float]:
        if not len(self.similarities):
            return [float("nan")] * len(QUANTILES)
        return [float(q) for q in np.quantile(self.similarities, QUANTILES)]

    def merge(self, other: KindReport) -> KindReport:
        return KindReport(candidates=self.candidates + other.candidates, kept=self.kept + other.kept,
                          verified=dict(Counter(self.verified) + Counter(other.verified)),
                          same_category=self.same_category + other.same_category,
                          dropped=dict(Counter(self.dropped) + Counter(other.dropped)),
                          kept_by_proof=dict(Counter(self.kept_by_proof) + Counter(other.kept_by_proof)),
                          similarities=np.concatenate([self.similarities, other.similarities]))

    def to_dict(self) -> dict[str, Any]:
        return {"candidates": self.candidates, "kept": self.kept, "verified_share": self.verified_share,
                "verified_by": dict(sorted(self.verified.items())),
                "same_category_share": self.same_category / self.kept if self.kept else float("nan"),
                "similarity_quantiles": dict(zip((f"p{round(q * 100)}" for q in QUANTILES), self.quantiles(),
                                                 strict=True)),
                "dropped": {k: v for k, v in self.dropped.items() if v},
                "kept_by_proof": {k: v for k, v in self.kept_by_proof.items() if v}}


@dataclass(frozen=True)
class MiningReport:
    """A mining call's account (:func:`mining_report`); ``merge`` adds another call's (a split's).

    Attributes:
        referents: referents mined.
        num_negatives: negatives wanted per referent.
        short: referents that got fewer than ``num_negatives``.
        short_verified: referents with fewer than ``num_negatives`` verified negatives.
        kinds: per candidate kind, its :class:`KindReport`.
        plausibility_checked: generated finalists the plausibility filter checked (0: off).
        plausibility_scored: of those, the ones the language model scored (the rest passed its
            first stage, :mod:`refaug.plausibility.bigrams`).
    """

    referents: int
    num_negatives: int
    short: int
    short_verified: int
    kinds: dict[str, KindReport]
    plausibility_checked: int = 0
    plausibility_scored: int = 0

    def merge(self, other: MiningReport) -> MiningReport:
        kinds = dict(self.kinds)
        for kind, part in other.kinds.items():
            kinds[kind] = kinds[kind].merge(part) if kind in kinds else part
        return MiningReport(referents=self.referents + other.referents, num_negatives=self.num_negatives,
                            short=self.short + other.short, short_verified=self.short_verified + other.short_verified,
                            kinds=dict(sorted(kinds.items())),
                            plausibility_checked=self.plausibility_checked + other.plausibility_checked,
                            plausibility_scored=self.plausibility_scored + other.plausibility_scored)

    def to_dict(self) -> dict[str, Any]:
        return {"referents": self.referents, "num_negatives": self.num_negatives, "short": self.short,
                "short_verified": self.short_verified,
                "kinds": {kind: part.to_dict() for kind, part in self.kinds.items()},
                "plausibility": self.plausibility()}

    def plausibility(self) -> dict[str, Any]:
        """The plausibility filter's account: finalists checked, and per kind what each check dropped."""
        rules = PLAUSIBILITY_RULES
        dropped = {kind: {rule.removeprefix("plausibility_"): part.dropped.get(rule, 0) for rule in rules}
                   for kind, part in self.kinds.items() if any(part.dropped.get(rule, 0) for rule in rules)}
        return {"checked": self.plausibility_checked, "scored": self.plausibility_scored, "dropped": dropped}

    def table(self) -> str:
        """The per-kind table: candidates, kept, verified (by what), same category, quantiles, drops."""
        rows = []
        for kind, part in self.kinds.items():
            by = ", ".join(f"{v} {n}" for v, n in sorted(part.verified.items(), key=lambda x: -x[1]) if v != UNVERIFIED)
            dropped = ", ".join(f"{k} {n}" for k, n in part.dropped.items() if n)
            same = f"{part.same_category / part.kept:.0%}" if part.kept else "-"
            verified = f"{part.verified_share:.0%}" if part.kept else "-"
            rows.append([kind, part.candidates, part.kept, verified, by or "-", same,
                         " / ".join(f"{q:.2f}" for q in part.quantiles()) if part.kept else "-", dropped or "-"])
        return format_table(rows, ["kind", "candidates", "kept", "verified", "verified by", "same category",
                                   "cosine p10 / p50 / p90", "dropped by"], title="negatives by kind")

    def log(self, options: dict[str, Any]) -> None:
        """Log the drops per kind and rule (naming each rule's setting), the table, the shortfall."""
        for kind, part in self.kinds.items():
            logger.info("%s: %d candidates considered", kind, part.candidates)
            for rule in DROP_KEYS:
                n = part.dropped.get(rule, 0)
                if n and rule == "not_judged":
                    logger.info("Did not judge %d %s candidates (%.2f%%): ranked below the %d kept", n, kind,
                                100.0 * n / max(part.candidates, 1), self.num_negatives)
                elif n:
                    setting = f" ({options[rule]})" if options.get(rule) is not None else ""
                    logger.info("Skipped %d %s candidates (%.2f%%) because of %s%s", n, kind,
                                100.0 * n / max(part.candidates, 1), rule, setting)
            for rule, n in part.kept_by_proof.items():
                if n:
                    logger.info("Kept %d %s candidates that %s would drop, because proven negative",
                                n, kind, rule)
        kept = sum(p.kept for p in self.kinds.values())
        verified = sum(p.kept - p.verified.get(UNVERIFIED, 0) for p in self.kinds.values())
        logger.info("kept %d negatives, %d (%.1f%%) verified; %d referents (%.2f%%) have fewer than %d, "
                    "%d fewer than %d verified\n%s", kept, verified, 100.0 * verified / max(kept, 1), self.short,
                    100.0 * self.short / max(self.referents, 1), self.num_negatives, self.short_verified,
                    self.num_negatives, self.table())


def mining_report(counts: Counter, selected: Selected, data: Data, num_negatives: int) -> MiningReport:
    """The report of a mining call from the guards' and ranking's ``counts`` and the kept negatives.

    Args:
        counts: ``(kind name, rule)`` -> count, from the guards and the ranking.
        selected: the kept negatives.
        data: the corpus (categories).
        num_negatives: the negatives wanted per referent.
    """
    category = np.asarray(data.category, object)
    same = (category[selected.owner] == category[selected.row]) & (category[selected.row] != "")
    kinds = {}
    for code, kind in enumerate(CANDIDATE_KINDS):
        mine = selected.kind == code
        if not counts[(kind, "considered")] and not mine.any():
            continue
        verified = Counter(VERIFICATIONS[v] for v in selected.verified[mine].tolist())
        kinds[kind] = KindReport(candidates=counts[(kind, "considered")], kept=int(mine.sum()),
                                 verified=dict(verified), same_category=int(same[mine].sum()),
                                 dropped={rule: counts[(kind, rule)] for rule in DROP_KEYS},
                                 kept_by_proof={rule: counts[(kind, f"kept_by_proof:{rule}")]
                                                for rule in ("inside_cluster", "relative_margin")},
                                 similarities=selected.sim[mine].astype(np.float32))
    per_row = np.bincount(selected.row, minlength=data.n)
    verified_rows = selected.row[selected.verified != VERIFICATIONS.index(UNVERIFIED)]
    per_row_verified = np.bincount(verified_rows, minlength=data.n)
    if counts[("scorer", "referents")]:
        logger.info("scorer: %d texts of %d referents scored (%.1f per referent); %d referents had no "
                    "reference score", counts[("scorer", "texts")], counts[("scorer", "referents")],
                    counts[("scorer", "texts")] / counts[("scorer", "referents")],
                    counts[("scorer", "no_reference")])
    return MiningReport(referents=data.n, num_negatives=num_negatives,
                        short=int((per_row < num_negatives).sum()),
                        short_verified=int((per_row_verified < num_negatives).sum()), kinds=kinds,
                        plausibility_checked=counts[("plausibility", "checked")],
                        plausibility_scored=counts[("plausibility", "scored")])
