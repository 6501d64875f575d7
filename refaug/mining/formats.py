"""Writing the kept negatives: ``nested`` HardNegative lists, or sentence-transformers' flat formats.

* ``nested``: the input rows plus a ``hard_negatives`` column of
  :class:`~refaug.records.HardNegative` structs (text, kind, detail, origin, similarity,
  score, reason, score_parts, verified_by, plausibility), built as Arrow arrays without Python loops per
  negative, and a ``num_verified`` column (how many of them are verified);
* ``triplet``: one (anchor, positive, negative) row per negative;
* ``n-tuple``: one (anchor, positive, negative_1..N) row per referent with N negatives.

Example:
    >>> OUTPUT_FORMATS
    ('nested', 'triplet', 'n-tuple')
"""

from __future__ import annotations

import logging
from typing import Literal, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets import Dataset, DatasetInfo, Features, List
from datasets.table import InMemoryTable

from refaug.columns import replace_columns
from refaug.mining.candidates import Selected
from refaug.mining.corpus import Data
from refaug.records import (
    CANDIDATE_KINDS,
    HARD_NEGATIVE_FEATURE,
    ROW_FEATURES,
    SCORE_PARTS,
    UNVERIFIED,
    VERIFICATIONS,
)

logger = logging.getLogger(__name__)

OutputFormat = Literal["nested", "triplet", "n-tuple"]
OUTPUT_FORMATS: tuple[str, ...] = get_args(OutputFormat)


def _reasons(selected: Selected, cutoff: np.ndarray, label: str) -> pa.Array:
    """``"sim 0.612 < threshold 0.750"`` per negative (``>=`` where a proof kept one the cut-off
    calls inside), then ``"verified: same_image"`` and the conflicts found; built from the
    distinct triples only."""
    a = np.round(selected.class_sim.astype(np.float64) * 1000).astype(np.int64)
    b = np.round(cutoff[selected.row].astype(np.float64) * 1000).astype(np.int64)
    triples, inverse = np.unique(np.stack([a, b, selected.verified], axis=1), axis=0, return_inverse=True)
    name, bound = label.split()
    table = pa.array([f"{name} {x / 1000:.3f} {'<' if x < y else '>='} {bound} {y / 1000:.3f}"
                      + (f"; verified: {VERIFICATIONS[v]}" if VERIFICATIONS[v] != UNVERIFIED else "")
                      for x, y, v in triples], pa.string())
    reasons = table.take(pa.array(inverse.ravel()))
    if not any(selected.note):
        return reasons
    # "<reason>; <note>" where there is a note, joined in Arrow (RefCOCO's train split: 2.5 million)
    notes = pa.array(selected.note, pa.string())
    noted = pc.fill_null(pc.not_equal(notes, ""), False)
    return pc.if_else(noted, pc.binary_join_element_wise(reasons, notes, "; "), reasons)


def _score_parts(selected: Selected) -> pa.StructArray:
    """The ``score_parts`` struct: NaN (not computed) becomes null."""
    arrays = []
    for values in (selected.sim, selected.uncertainty, selected.diversity, selected.model_score):
        values = np.asarray(values, np.float32)
        arrays.append(pa.array(values, pa.float32(), mask=np.isnan(values)))
    return pa.StructArray.from_arrays(arrays, names=list(SCORE_PARTS))


def _negative_structs(selected: Selected, data: Data, cutoff: np.ndarray, label: str) -> pa.StructArray:
    texts = pa.array(data.texts, pa.string())
    kinds = pa.array(list(CANDIDATE_KINDS), pa.string())
    columns = [
        texts.take(pa.array(selected.vocab)),
        kinds.take(pa.array(selected.kind)),
        pa.array(data.details, pa.string()).take(pa.array(selected.detail)),
        pa.array(data.origins, pa.string()).take(pa.array(selected.origin)),
        pa.array(selected.sim.astype(np.float32)),
        pa.array(selected.score.astype(np.float32)),
        _reasons(selected, cutoff, label),
        _score_parts(selected),
        pa.array(list(VERIFICATIONS), pa.string()).take(pa.array(selected.verified)),
        pa.array(selected.plausibility.astype(np.float32), pa.float32(), mask=np.isnan(selected.plausibility)),
    ]
    return pa.StructArray.from_arrays(columns, names=list(HARD_NEGATIVE_FEATURE))


def nested_format(dataset: Dataset, selected: Selected, data: Data, cutoff: np.ndarray, label: str) -> Dataset:
    """``dataset`` with its ``hard_negatives`` and ``num_verified`` columns replaced by the kept negatives.

    ``cutoff`` (per referent) and ``label`` (e.g. ``"sim threshold"``) write the reasons;
    ``num_verified`` counts each row's negatives whose ``verified_by`` is not ``"none"``.
    """
    counts = np.bincount(selected.row, minlength=data.n)
    verified = np.bincount(selected.row[selected.verified != VERIFICATIONS.index(UNVERIFIED)], minlength=data.n)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    column = pa.ListArray.from_arrays(offsets, _negative_structs(selected, data, cutoff, label))
    return replace_columns(dataset, {"hard_negatives": column, "num_verified": pa.array(verified.astype(np.int32))},
                           {"hard_negatives": List(HARD_NEGATIVE_FEATURE), "num_verified": ROW_FEATURES["num_verified"]})


def flat_format(selected: Selected, data: Data, *, output_format: str, num_negatives: int) -> Dataset:
    """``triplet``: (anchor, positive, negative) per negative; ``n-tuple``: one row per referent."""
    sizes = np.diff(data.member_ptr)
    texts = pa.array(data.texts, pa.string())
    counts = np.bincount(selected.row, minlength=data.n)
    keep = sizes[selected.row] >= 2
    if output_format == "n-tuple":
        keep &= counts[selected.row] >= num_negatives
    row, vocab = selected.row[keep], selected.vocab[keep]
    rank = np.arange(len(row)) - np.searchsorted(row, row, "left")
    anchor = data.member_idx[data.member_ptr[row]]
    if output_format == "triplet":
        positive = data.member_idx[data.member_ptr[row] + 1 + rank % np.maximum(sizes[row] - 1, 1)]
        columns = {"anchor": anchor, "positive": positive, "negative": vocab}
    else:
        first = rank == 0
        columns = {"anchor": anchor[first], "positive": data.member_idx[data.member_ptr[row[first]] + 1]}
        grid = vocab.reshape(-1, num_negatives)
        columns.update({f"negative_{j + 1}": grid[:, j] for j in range(num_negatives)})
    _log_flat_drops(data, sizes, counts, output_format, num_negatives, len(columns["anchor"]))
    table = pa.table({name: texts.take(pa.array(idx)) for name, idx in columns.items()})
    features = Features({name: HARD_NEGATIVE_FEATURE["text"] for name in columns})
    return Dataset(InMemoryTable(table), info=DatasetInfo(features=features))


def write_output(dataset: Dataset, selected: Selected, data: Data, *, output_format: str, num_negatives: int,
                 cutoff: np.ndarray, label: str) -> Dataset:
    """The kept negatives in ``output_format`` (``cutoff`` and ``label`` write the nested reasons)."""
    if output_format == "nested":
        return nested_format(dataset, selected, data, cutoff, label)
    return flat_format(selected, data, output_format=output_format, num_negatives=num_negatives)


def _log_flat_drops(data: Data, sizes: np.ndarray, counts: np.ndarray, output_format: str,
                    num_negatives: int, n_rows: int) -> None:
    single = int(((sizes < 2) & (counts > 0)).sum())
    if single:
        logger.info("%s: skipped %d referents (%.2f%%) whose cluster has one text (no positive)",
                    output_format, single, 100.0 * single / max(data.n, 1))
    if output_format == "n-tuple":
        short = int(((sizes >= 2) & (counts < num_negatives)).sum())
        if short:
            logger.info("n-tuple: skipped %d referents (%.2f%%) with fewer than %d negatives",
                        short, 100.0 * short / max(data.n, 1), num_negatives)
    logger.info("%s: %d rows", output_format, n_rows)
