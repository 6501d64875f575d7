"""The blind-model defences applied to a mined dataset (the mine stage calls them after mining).

* :func:`add_negated_positives`: each referent's verified attribute and state edits, negated
  where they were edited, become extra positives (``views.derived``, kind
  ``"negated_negative"``; :mod:`refaug.plausibility.negated`);
* :func:`adversarial_filter_dataset`: the AFLite-style filter
  (:mod:`refaug.plausibility.adversarial`) over the distinct generated negatives of each kind
  against the referents' expressions, with the sentence embeddings of the run's cache; a
  dropped text leaves every row that holds it, a kept one carries its ``predictability``.

Example:
    >>> ds, stats = add_negated_positives(ds, seed=0)                       # doctest: +SKIP
    >>> ds, report = adversarial_filter_dataset(ds, embedder=e, adversarial=AdversarialFilter())  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from datasets import Dataset, List, Value

from refaug.plausibility.adversarial import AdversarialFilter
from refaug.plausibility.negated import EDIT_KINDS, NEGATED_NEGATIVE, negated_negatives
from refaug.records import DERIVED_POSITIVE_FEATURE, HARD_NEGATIVE_FEATURE, VIEWS_FEATURE
from refaug.rewrite.base import normalize

logger = logging.getLogger(__name__)

EDIT_VERIFICATION = "edit"  # the proof that a rewrite of the referent's own expression is false of it
# verified edits negated per referent at most (the first in rank order): spaCy parses each, about
# 2,000 a second on one core, so a RefCOCO-sized run (50k referents) spends about 50 s here
MAX_EDITS = 2
MAX_DERIVED = 2  # derived positives per referent at most


def derived_positives(rows: list[dict[str, Any]], *, seed: int = 0) -> list[list[dict[str, str]]]:
    """Per row (``expressions`` and ``hard_negatives``), its negated verified edits as
    ``DerivedPositive`` rows, none equal to one of its expressions or negatives."""
    triples, owner = [], []
    for r, row in enumerate(rows):
        own = set(row["expressions"])
        edits = [n for n in row.get("hard_negatives") or ()
                 if n["kind"] in EDIT_KINDS and n.get("verified_by") == EDIT_VERIFICATION and n["origin"] in own]
        for n in edits[:MAX_EDITS]:
            triples.append((n["origin"], n["text"], n["detail"]))
            owner.append(r)
    out: list[list[dict[str, str]]] = [[] for _ in rows]
    for r, (_, edit, _), found in zip(owner, triples, negated_negatives(triples, seed=seed), strict=True):
        taken = {normalize(t) for t in rows[r]["expressions"]} | {normalize(n["text"]) for n in rows[r]["hard_negatives"]}
        for text, detail in found:
            if len(out[r]) < MAX_DERIVED and normalize(text) not in taken | {normalize(d["text"]) for d in out[r]}:
                out[r].append({"text": text, "kind": NEGATED_NEGATIVE, "detail": detail, "origin": edit})
    return out


def add_negated_positives(ds: Dataset, *, seed: int = 0) -> tuple[Dataset, dict[str, int]]:
    """``ds`` with each row's negated verified edits in ``views.derived`` (rows without views
    get none: there is no positives structure to hold them)."""
    if "views" not in ds.column_names or "hard_negatives" not in ds.column_names:
        return ds, {"referents": 0, "positives": 0}
    rows = _edit_rows(ds)
    derived = derived_positives(rows, seed=seed)
    views = ds.data.column("views").combine_chunks() if ds._indices is None else ds.flatten_indices().data.column(
        "views").combine_chunks()
    has_views = np.asarray(views.is_valid())
    lists = [d if v else [] for d, v in zip(derived, has_views, strict=True)]
    derived_array = pa.array(lists, type=_arrow_type(List(DERIVED_POSITIVE_FEATURE))())
    fields = [views.field(name) if name in {f.name for f in views.type} else pa.nulls(len(views), type=feature())
              for name, feature in ((n, _arrow_type(VIEWS_FEATURE[n])) for n in VIEWS_FEATURE if n != "derived")]
    column = pa.StructArray.from_arrays([*fields, derived_array], names=list(VIEWS_FEATURE),
                                        mask=pc.invert(views.is_valid()))
    out = _replace_columns(ds, {"views": column}, {"views": VIEWS_FEATURE})
    stats = {"referents": int(sum(bool(d) for d in lists)), "positives": int(sum(len(d) for d in lists))}
    logger.info("negated positives: %d for %d referents", stats["positives"], stats["referents"])
    return out, stats


def _edit_rows(ds: Dataset) -> list[dict[str, Any]]:
    """Per row its expressions and, of its negatives, the verified attribute/state edits and the
    texts with a negation word (the only ones a negated edit could repeat), read column-wise."""
    table = (ds.flatten_indices() if ds._indices is not None else ds).data
    expressions = table.column("expressions").to_pylist()
    negatives = table.column("hard_negatives").combine_chunks()
    flat = pc.list_flatten(negatives)
    parent = np.asarray(pc.list_parent_indices(negatives))
    rows = [{"expressions": e, "hard_negatives": []} for e in expressions]
    if not len(flat):
        return rows
    edit = pc.and_(pc.is_in(flat.field("kind"), pa.array(list(EDIT_KINDS))),
                   pc.equal(flat.field("verified_by"), EDIT_VERIFICATION))
    negated = pc.match_substring_regex(flat.field("text"), r"(?i)\b(not|without|no|n't)\b")
    wanted = np.nonzero(np.asarray(pc.fill_null(pc.or_(edit, negated), False)))[0]
    part = flat.take(pa.array(wanted))
    columns = {name: part.field(name).to_pylist() for name in ("text", "kind", "detail", "origin", "verified_by")}
    for j, r in enumerate(parent[wanted].tolist()):
        rows[r]["hard_negatives"].append({name: values[j] for name, values in columns.items()})
    return rows


def _arrow_type(feature):
    """A zero-argument factory of the Arrow type of a ``datasets`` feature."""
    from datasets import Features

    return lambda: Features({"x": feature}).arrow_schema.field("x").type


def _replace_columns(ds: Dataset, columns: dict[str, pa.Array], features: dict[str, Any]) -> Dataset:
    """``ds`` with the given columns replaced (Arrow arrays, in row order), features declared."""
    from datasets import Features, concatenate_datasets
    from datasets.info import DatasetInfo
    from datasets.table import InMemoryTable

    base = ds.remove_columns([c for c in columns if c in ds.column_names])
    if base._indices is not None:
        base = base.flatten_indices()
    new = Dataset(InMemoryTable(pa.table(columns)), info=DatasetInfo(features=Features(features)))
    return concatenate_datasets([base, new], axis=1)


@lru_cache(maxsize=1)
def _state_words() -> frozenset[str]:
    from lemminflect import getAllInflections

    from refaug.rewrite.states import POSTURE_CONTRASTS, STATE_CONTRASTS

    words = {w for w in STATE_CONTRASTS if w not in ("on", "off")}
    for lemma in POSTURE_CONTRASTS:
        words |= {form for forms in getAllInflections(lemma, upos="VERB").values() for form in forms}
        words.add(lemma)
    return frozenset(words)


def positive_form(text: str, kind: str = "") -> str:
    """The negative kind whose form a positive has: ``negation`` for a derived negated
    negative, ``state`` for an expression with a state or posture word, else ``""``."""
    if kind == NEGATED_NEGATIVE:
        return "negation"
    return "state" if set(re.findall(r"[a-z]+", text.lower())) & _state_words() else ""


PREDICTABILITY_NOTE = "predictability"


def adversarial_filter_dataset(ds: Dataset, *, embedder, adversarial: AdversarialFilter, matched: bool = True,
                               limit: int | None = None) -> tuple[Dataset, dict[str, Any]]:
    """Drop the generated negatives the filter finds predictable, stamp ``predictability`` on the
    rest (in ``reason``: "...; predictability 0.43"), and keep each row's first ``limit`` (None:
    all). ``matched``: compare a kind with the positives of its form where there are enough
    (:func:`positive_form`). Column-wise in Arrow: a RefCOCO-sized pool costs seconds.
    Returns the dataset and the per-kind report."""
    if ds._indices is not None:
        ds = ds.flatten_indices()
    table = ds.data
    negatives = table.column("hard_negatives").combine_chunks()
    flat = pc.list_flatten(negatives)
    row_of = np.asarray(pc.list_parent_indices(negatives))
    kinds = np.asarray(flat.field("kind").to_pylist(), dtype=object)
    texts = np.asarray(flat.field("text").to_pylist(), dtype=object)
    groups = np.asarray(table.column("image_id").to_pylist() if "image_id" in ds.column_names else range(len(ds)))
    generated = np.isin(kinds, list(adversarial.kinds))
    pair_codes, pairs = pd.factorize(pd.Series(kinds[generated]) + "\x00" + pd.Series(texts[generated]))
    if not len(pairs):
        return (first_negatives(ds, limit) if limit is not None else ds), {}
    first = np.unique(pair_codes, return_index=True)[1]
    gen_rows = row_of[generated]
    pair_kind = kinds[generated][first]
    pair_text = texts[generated][first]
    pos_texts, pos_forms, pos_groups = _positives(table, groups)
    vocabulary = list(dict.fromkeys([*pair_text.tolist(), *pos_texts]))
    vectors = embedder.encode_distinct(vocabulary)
    index = {t: i for i, t in enumerate(vocabulary)}
    result = adversarial.filter(vectors[[index[t] for t in pos_texts]], vectors[[index[t] for t in pair_text]],
                                pair_kind.tolist(), positive_forms=pos_forms if matched else None,
                                positive_groups=pos_groups, negative_groups=groups[gen_rows[first]].tolist())
    keep = np.ones(len(flat), bool)
    keep[generated] = result.keep[pair_codes]
    score = np.full(len(flat), np.nan, np.float32)
    score[generated] = result.predictability[pair_codes]
    if limit is not None:
        keep &= _rank_in_row(row_of, keep, len(ds)) < limit
    column, verified = _kept_negatives(flat, row_of, keep, score, len(ds))
    out = _replace_columns(ds, {"hard_negatives": column, "num_verified": pa.array(verified, pa.int32())},
                           {"hard_negatives": List(HARD_NEGATIVE_FEATURE), "num_verified": Value("int32")})
    report = result.to_dict()
    for kind, part in report.items():
        gone = np.nonzero((pair_kind == kind) & ~result.keep)[0][:10]
        part["dropped_examples"] = [[pair_text[i], round(float(result.predictability[i]), 3)] for i in gone]
    return out, report


def _positives(table, groups: np.ndarray) -> tuple[list[str], list[str], list[Any]]:
    """The distinct positive texts (expressions, then derived ones), their forms and groups."""
    expressions = table.column("expressions").combine_chunks()
    found: dict[str, tuple[str, Any]] = {}
    parents = np.asarray(pc.list_parent_indices(expressions))
    for text, r in zip(pc.list_flatten(expressions).to_pylist(), parents.tolist(), strict=True):
        if text not in found:
            found[text] = (positive_form(text), groups[r])
    if "views" in table.column_names:
        views = table.column("views").combine_chunks()
        if "derived" in {f.name for f in views.type}:
            derived = views.field("derived")
            parents = np.asarray(pc.list_parent_indices(derived))
            flat = pc.list_flatten(derived)
            if not pa.types.is_struct(flat.type):  # no derived positive in the whole column
                flat = pa.array([], pa.struct([("text", pa.string()), ("kind", pa.string())]))
            for text, kind, r in zip(flat.field("text").to_pylist(), flat.field("kind").to_pylist(),
                                     parents.tolist(), strict=True):
                found[text] = (positive_form(text, kind), groups[r])
    texts = list(found)
    return texts, [found[t][0] for t in texts], [found[t][1] for t in texts]


def _rank_in_row(row_of: np.ndarray, keep: np.ndarray, rows: int) -> np.ndarray:
    """Each entry's position among its row's kept entries (rows are contiguous, in rank order)."""
    running = np.cumsum(keep) - keep
    starts = np.searchsorted(row_of, np.arange(rows))
    before = np.r_[running, 0][np.minimum(starts, len(running))] if len(running) else np.zeros(rows, int)
    return running - before[row_of]


def _kept_negatives(flat: pa.StructArray, row_of: np.ndarray, keep: np.ndarray, score: np.ndarray,
                    rows: int) -> tuple[pa.ListArray, np.ndarray]:
    """The ``hard_negatives`` list column of the kept entries (reasons stamped) and ``num_verified``."""
    index = np.nonzero(keep)[0]
    kept = flat.take(pa.array(index))
    reasons = kept.field("reason").to_pylist()
    values = score[index]
    reasons = [f"{r}; {PREDICTABILITY_NOTE} {v:.2f}" if r and np.isfinite(v) else
               (f"{PREDICTABILITY_NOTE} {v:.2f}" if np.isfinite(v) else r) for r, v in zip(reasons, values, strict=True)]
    present = {f.name for f in flat.type}
    children = []
    for name, feature in HARD_NEGATIVE_FEATURE.items():  # the declared fields, in order (nulls where absent)
        kind = _arrow_type(feature)()
        if name == "reason":
            children.append(pa.array(reasons, pa.string()))
        else:
            children.append(kept.field(name).cast(kind) if name in present else pa.nulls(len(kept), kind))
    struct = pa.StructArray.from_arrays(children, names=list(HARD_NEGATIVE_FEATURE))
    counts = np.bincount(row_of[index], minlength=rows)
    offsets = pa.array(np.r_[0, np.cumsum(counts)].astype(np.int32))
    verified = np.bincount(row_of[index][np.asarray(kept.field("verified_by").to_pylist(), dtype=object) != "none"],
                           minlength=rows).astype(np.int32)
    return pa.ListArray.from_arrays(offsets, struct), verified


def first_negatives(ds: Dataset, n: int) -> Dataset:
    """Each row's first ``n`` hard negatives (rank order), ``num_verified`` counted again."""
    if ds._indices is not None:
        ds = ds.flatten_indices()
    negatives = ds.data.column("hard_negatives").combine_chunks()
    flat = pc.list_flatten(negatives)
    row_of = np.asarray(pc.list_parent_indices(negatives))
    keep = _rank_in_row(row_of, np.ones(len(flat), bool), len(ds)) < n
    column, verified = _kept_negatives(flat, row_of, keep, np.full(len(flat), np.nan, np.float32), len(ds))
    return _replace_columns(ds, {"hard_negatives": column, "num_verified": pa.array(verified, pa.int32())},
                            {"hard_negatives": List(HARD_NEGATIVE_FEATURE), "num_verified": Value("int32")})
