"""``"contrast"``: the centroid cosine combined with the contrastive attributes the texts state.

A conflict ("left" vs "right" of the same head noun) pushes a candidate out, an agreement
in; the weight of each kind is a logistic model (:class:`~refaug.contrast.ContrastModel`)
fitted on labelled pairs, and the similarity is P(same referent), negative below
``threshold``. With ``conflict_is_negative`` a conflict of a kind the fit found decisive
makes a negative whatever the probability.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from refaug.clusters.base import ClusterSet, Judgement, JudgementMethod
from refaug.contrast import (
    FEATURES,
    ContrastModel,
    Description,
    compare,
    conflict_columns,
    feature_matrix,
)
from refaug.vectors import pair_cosines

# The contrast model's weights: fitted by `python benchmarks/contrast.py --data
# ../shared/data/refcoco_real_dev.jsonl --fit-defaults` (all-MiniLM-L6-v2; leave-one-out
# pairs of the real RefCOCO/RefCOCO+/RefCOCOg development file, all of it, 300 one-word edits
# of its expressions as negatives, plus synthetic_scenes(400, seed=0)); report in
# benchmarks/results/contrast.json. Fitted the same way on 4 of 5 image-grouped folds, the
# held-out fold scores same-image AUC 0.791 (cross-image 0.922; centroid 0.654 / 0.914): the
# figure to quote, not the in-sample one. With the minimal-edit finding (conflict:edit,
# agree:edit; refaug/contrast/edits.py) a real held-out paraphrase scores above a one-attribute
# rewrite of its cluster in 0.8996 of pairs out of fold (0.641 before it; centroid 0.100).
# Re-fit for another encoder or dataset with calibrate_threshold(dataset, method="contrast").
DEFAULT_CONTRAST_MODEL = ContrastModel(
    intercept=0.1806,
    weights={
        "cosine": 1.8998, "conflicts": -1.6642, "agreements": 0.8546,
        "conflict:head": -2.7457, "conflict:spatial": -1.1706, "conflict:extreme": -0.4672, "conflict:ordinal": -2.2496,
        "conflict:color": -2.3061, "conflict:pattern": -0.9991, "conflict:size": -1.6051, "conflict:count": -0.4619,
        "conflict:material": -0.9769, "conflict:clothing": 0.0, "conflict:action": 0.0, "conflict:negation": -1.6385,
        "conflict:landmark": -1.8426, "conflict:edit": -1.6947,
        "agree:head": -0.2313, "agree:spatial": -0.0192, "agree:extreme": 0.0432, "agree:ordinal": 0.1644,
        "agree:color": -0.0063, "agree:pattern": -0.1578, "agree:size": -0.0035, "agree:count": -0.5915,
        "agree:material": 0.2474, "agree:clothing": -0.4064, "agree:action": 0.9788, "agree:negation": 0.0,
        "agree:landmark": -0.2647, "agree:edit": 0.6178,
    },
    fitted_on="python benchmarks/contrast.py --data ../shared/data/refcoco_real_dev.jsonl --fit-defaults",
)


# The findings of the (cluster description, candidate description) pairs this process has
# compared: mining judges again the distractors the classify stage judged (and the same-image
# texts twice, against the cluster and against the human expressions), and ``compare`` is a
# pure function of the two descriptions. Emptied at its limit (about 150 MB).
_COMPARED: dict[tuple[Description, Description], list[Any]] = {}
_COMPARED_LIMIT = 500_000


def clear_memos() -> None:
    """Empty this process's memos of compared pairs and :func:`refaug.contrast.compare.compare`'s
    own (they only save time; the findings stay the same)."""
    from refaug.contrast.compare import clear_caches

    _COMPARED.clear()
    clear_caches()


class ContrastMethod(JudgementMethod):
    name = "contrast"
    # P(same referent) at 0.5: the balanced logistic model's own decision point (its
    # weights, DEFAULT_CONTRAST_MODEL, are fitted with classes balanced).
    default_threshold = 0.50
    centroid_based = False
    finds_sure_negatives = True
    similarity_label = "p_same threshold"
    fits_model = True

    def judge(self, clusters: ClusterSet, rows: np.ndarray, vocab: np.ndarray, *,
              cosine: np.ndarray | None = None, alive: np.ndarray | None = None) -> Judgement:
        """P(same referent) from the cosine and the findings of each cluster-candidate pair.

        With ``alive`` given (mining), candidates not alive, or whose cosine is so low that no
        agreement could lift them to the threshold
        (:meth:`~refaug.contrast.ContrastModel.cosine_floor`), get the cosine-only probability
        without a parse: their verdict (negative) is the same. Without it every pair is parsed.
        The features of the parsed pairs are built as one matrix (:func:`~refaug.contrast.feature_matrix`).
        """
        clf = self.classifier
        rows, vocab = np.asarray(rows, np.int64), np.asarray(vocab, np.int64)
        if cosine is None:
            cosine = pair_cosines(clusters.vectors, clusters.centroid, vocab, rows)
        cosine = np.asarray(cosine, np.float32)
        features = np.zeros((len(rows), len(FEATURES)), np.float32)
        features[:, 0] = cosine
        probability = clf.model.probability(features)
        conflict = np.zeros(len(rows), bool)
        findings: list[Any] = [None] * len(rows)
        if alive is None:  # judge every pair in full
            need = np.arange(len(rows))
        else:  # only the live pairs that findings could lift to the threshold
            need = np.nonzero(np.asarray(alive, bool) & (cosine >= clf.model.cosine_floor(clf.threshold)))[0]
        if len(need):
            found = self._findings(clusters, rows[need], vocab[need])
            features[need] = feature_matrix(found, cosine[need])
            decisive = conflict_columns(clf.decisive_kinds)
            if len(decisive):
                conflict[need] = features[need][:, decisive].any(axis=1)
            for i, f in zip(need.tolist(), found, strict=True):
                findings[i] = f
            probability[need] = clf.model.probability(features[need])
        return Judgement(cosine=cosine, similarity=probability, negative=(probability < clf.threshold) | conflict,
                         conflict=conflict, findings=findings)

    def _findings(self, clusters: ClusterSet, rows: np.ndarray, vocab: np.ndarray) -> list[list[Any]]:
        """The findings of each pair; the clusters' and candidates' texts parsed in one pass.

        ``compare`` is a function of the two descriptions alone, so a cluster meets each
        distinct candidate description once (texts that differ in words the parse does not
        read, "red car" and "the red car", describe alike).
        """
        clf = self.classifier
        members = {int(r): clusters.member_texts(int(r)) for r in np.unique(rows)}
        candidates = np.unique(vocab)
        member_texts = [t for texts in members.values() for t in texts]
        described = clf.describe(member_texts + [clusters.texts[v] for v in candidates])
        canonical: dict[Description, int] = {}
        code = {int(v): canonical.setdefault(d, len(canonical))
                for v, d in zip(candidates.tolist(), described[len(member_texts) :], strict=True)}
        by_code = list(canonical)
        unions = {r: Description.union(clf.describe(texts), category=_category(clusters, r))
                  for r, texts in members.items()}
        if len(_COMPARED) > _COMPARED_LIMIT:
            _COMPARED.clear()
        memo: dict[tuple[int, int], list[Any]] = {}
        out = []
        for r, v in zip(rows.tolist(), vocab.tolist(), strict=True):
            key = (r, code[v])
            found = memo.get(key)
            if found is None:
                pair = (unions[r], by_code[key[1]])
                found = _COMPARED.get(pair)
                if found is None:
                    found = _COMPARED[pair] = compare(*pair)
                memo[key] = found
            out.append(found)
        return out

    @classmethod
    def calibrated_options(cls, threshold: float, model: dict[str, Any] | None) -> dict[str, Any]:
        return {"threshold": threshold, "model": model}


def _category(clusters: ClusterSet, r: int) -> str | None:
    return (clusters.category[r] or None) if len(clusters.category) > r else None
