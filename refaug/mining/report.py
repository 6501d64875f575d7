"""What a mining call tells its user: what each guard dropped per source, and what was kept.

Like sentence-transformers' ``mine_hard_negatives``, it logs "Skipped N candidates (x%)
because of <rule>" per source, then how many negatives were kept and how many referents
fell short of ``num_negatives``.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import numpy as np

from refaug.mining.candidates import Selected
from refaug.mining.corpus import Data
from refaug.mining.guards import RULE_NAMES
from refaug.records import CANDIDATE_KINDS

logger = logging.getLogger(__name__)


def report_drops(counts: Counter, sources: tuple[str, ...], selected: Selected, data: Data,
                 num_negatives: int, options: dict[str, Any]) -> None:
    """Log what each rule dropped per source, with ratios, and how many referents fell short.

    Args:
        counts: ``(source position, rule)`` -> count, from the guards and the ranking.
        sources: the mining call's sources, in order.
        selected: the kept negatives.
        data: the corpus.
        num_negatives: the negatives wanted per referent.
        options: per rule, the setting to name beside it (None: nothing).
    """
    for s, source in enumerate(sources):
        total = counts[(s, "considered")]
        logger.info("%s: %d candidates considered", source, total)
        for rule in RULE_NAMES:
            if counts[(s, rule)]:
                setting = f" ({options[rule]})" if options.get(rule) is not None else ""
                logger.info("Skipped %d %s candidates (%.2f%%) because of %s%s", counts[(s, rule)],
                            source, 100.0 * counts[(s, rule)] / max(total, 1), rule, setting)
    for s, source in enumerate(sources):
        if counts[(s, "kept_by_conflict")]:
            logger.info("Kept %d %s candidates above the relative margin because the contrast "
                        "classifier found a conflict (a sure negative)", counts[(s, "kept_by_conflict")], source)
    if counts[("scorer", "referents")]:
        logger.info("scorer: %d texts of %d referents scored (%.1f per referent); %d referents had no "
                    "reference score", counts[("scorer", "texts")], counts[("scorer", "referents")],
                    counts[("scorer", "texts")] / counts[("scorer", "referents")],
                    counts[("scorer", "no_reference")])
    per_row = np.bincount(selected.row, minlength=data.n)
    short = int((per_row < num_negatives).sum())
    kinds = Counter(CANDIDATE_KINDS[k] for k in selected.kind.tolist())
    logger.info("kept %d negatives (%s); mean similarity %.3f; %d referents (%.2f%%) have fewer "
                "than %d", len(selected.row), dict(kinds), float(selected.sim.mean()) if len(selected.row) else float("nan"),
                short, 100.0 * short / max(data.n, 1), num_negatives)
