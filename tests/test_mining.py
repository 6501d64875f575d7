from __future__ import annotations

import logging
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
from datasets import Dataset, Features, List, Value
from hypothesis import given, settings
from hypothesis import strategies as st

from refaug.clusters import ClusterClassifier, cluster_texts
from refaug.data.synthetic import synthetic_scenes
from refaug.embed import Embedder
from refaug.mining import (
    BF16_ERROR,
    derive_categories,
    mine_hard_negatives,
    normalize_text,
    topk_outside,
)
from refaug.records import CANDIDATE_KINDS, HARD_NEGATIVE_FEATURE, VIEWS_FEATURE, HardNegative


@pytest.fixture(scope="module")
def embedder(tmp_path_factory) -> Embedder:
    return Embedder(cache_dir=tmp_path_factory.mktemp("mining_cache"))


@pytest.fixture(scope="module")
def scenes() -> Dataset:
    return synthetic_scenes(40, seed=1, image_size=(64, 48))


# ---------------------------------------------------------------------- search


def brute_force(queries, corpus, k, ceiling, start, end):
    scores = queries.astype(np.float64) @ corpus.T.astype(np.float64)
    for i in range(len(queries)):
        scores[i, start[i] : end[i]] = -np.inf
        scores[i, scores[i] >= ceiling[i]] = -np.inf
    if scores.shape[1] < k:
        scores = np.pad(scores, ((0, 0), (0, k - scores.shape[1])), constant_values=-np.inf)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), order


def unit_rows(rng, n, d=16):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_topk_outside_is_exact(precision):
    rng = np.random.default_rng(0)
    corpus, queries = unit_rows(rng, 700), unit_rows(rng, 130)
    start = rng.integers(0, 650, size=130)
    end = start + rng.integers(0, 40, size=130)
    ceiling = rng.uniform(0.2, 1.1, size=130).astype(np.float32)
    scores, index = topk_outside(queries, corpus, k=7, ceiling=ceiling, exclude_start=start,
                                 exclude_end=end, query_chunk=50, corpus_chunk=128, precision=precision)
    want_scores, want_index = brute_force(queries, corpus, 7, ceiling, start, end)
    finite = np.isfinite(want_scores)
    np.testing.assert_allclose(scores[finite], want_scores[finite], atol=1e-5)
    assert (index[~finite] == -1).all()
    for i in range(130):  # same sets (ties aside, none here)
        assert set(index[i][index[i] >= 0]) == set(want_index[i][finite[i]])


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 60), q=st.integers(1, 20), k=st.integers(1, 10), seed=st.integers(0, 999))
def test_topk_outside_property(n, q, k, seed):
    rng = np.random.default_rng(seed)
    corpus, queries = unit_rows(rng, n, 8), unit_rows(rng, q, 8)
    start = rng.integers(0, n, size=q)
    end = np.minimum(start + rng.integers(0, 5, size=q), n)
    scores, index = topk_outside(queries, corpus, k=k, exclude_start=start, exclude_end=end,
                                 query_chunk=7, corpus_chunk=16, precision="bf16")
    want, _ = brute_force(queries, corpus, k, np.full(q, np.inf), start, end)
    np.testing.assert_allclose(scores, want.astype(np.float32), atol=1e-5)
    for i in range(q):
        found = index[i][index[i] >= 0]
        assert not ((found >= start[i]) & (found < end[i])).any()


def test_bf16_error_bound_holds_on_real_embeddings(embedder, scenes):
    texts = list(dict.fromkeys(t for e in scenes["expressions"] for t in e))
    vectors = embedder.encode(texts)
    exact = vectors @ vectors.T
    import torch

    low = torch.from_numpy(vectors).bfloat16()
    approx = (low @ low.T).float().numpy()
    assert np.abs(approx - exact).max() < BF16_ERROR


def test_topk_outside_rejects_bad_options():
    with pytest.raises(ValueError, match="precision"):
        topk_outside(np.ones((1, 2), np.float32), np.ones((1, 2), np.float32), k=1, precision="int8")


# ---------------------------------------------------------------------- mining


def negatives_of(row):
    return [HardNegative.from_row(n) for n in row["hard_negatives"]]


def test_nested_output_has_declared_features_and_keeps_the_rules(scenes, embedder):
    out = mine_hard_negatives(scenes, embedder=embedder, num_negatives=6)
    assert out.features["hard_negatives"] == List(HARD_NEGATIVE_FEATURE)
    assert out.column_names[:-2] == scenes.column_names and len(out) == len(scenes)
    assert out.column_names[-2:] == ["hard_negatives", "num_verified"]
    assert out["num_verified"] == [sum(n["verified_by"] != "none" for n in r) for r in out["hard_negatives"]]
    images = dict(zip(scenes["referent_id"], scenes["image_id"], strict=True))

    def tier(n):  # the ranking's tiers: same image and own edits, same class, other category, unverified
        if n.verified_by == "none":
            return 3
        return 2 if n.verified_by == "category" else int(n.kind in ("same_class", "cross_image"))

    for row in out:
        negs = negatives_of(row)
        assert 0 < len(negs) <= 6
        own = {normalize_text(t) for t in cluster_texts(row)}
        assert all(n.kind in CANDIDATE_KINDS for n in negs)
        assert all(normalize_text(n.text) not in own for n in negs)
        assert all(n.reason.startswith("p_same ") and n.verified_by != "none" for n in negs)
        ranks = [(tier(n), -n.score) for n in negs]
        assert ranks == sorted(ranks)
        for n in negs:
            same = images[n.origin] == row["image_id"]
            assert same == (n.kind == "same_image")
        assert len({normalize_text(n.text) for n in negs}) == len(negs)


def test_same_image_only(scenes, embedder):
    out = mine_hard_negatives(scenes, embedder=embedder, num_negatives=30, sources=("same_image",),
                              threshold=0.99, relative_margin=None)
    by_image = {}
    for row in scenes:
        by_image.setdefault(row["image_id"], set()).update(row["expressions"])
    for row in out:
        others = by_image[row["image_id"]] - set(row["expressions"])
        got = {n["text"] for n in row["hard_negatives"]}
        assert got <= others
        assert {n["kind"] for n in row["hard_negatives"]} <= {"same_image"}


def test_cross_image_agrees_with_brute_force(scenes, embedder):
    """The source's two searches (same class, other categories) together hold the exact nearest texts."""
    from refaug.mining.corpus import prepare
    from refaug.mining.sources.base import SourceContext
    from refaug.mining.sources.cross_image import CrossImageSource

    source = CrossImageSource()
    data = prepare(scenes, embedder, include_expressions=True, sources=[source])
    source.prepare(data, SourceContext(num_negatives=5, same_class=False, centroid_based=True,
                                       ceiling=np.full(data.n, np.inf, np.float32), search="torch",
                                       precision="auto", chunk_size=64, corpus_chunk_size=128, device=None,
                                       show_progress_bar=False))
    found = source.candidates(0, data.n)
    assert set(found.kind.tolist()) <= {CANDIDATE_KINDS.index("same_class"), CANDIDATE_KINDS.index("cross_image")}
    rows = scenes.to_list()
    owner = {}
    for row in rows:
        for t in row["expressions"]:
            owner.setdefault(t, row["image_id"])
    corpus = list(owner)
    vectors = embedder.encode(corpus)
    for r, row in enumerate(rows[:25]):
        centroid = embedder.encode(row["expressions"]).mean(axis=0)
        centroid /= np.linalg.norm(centroid)
        sims = vectors @ centroid
        ranked = [corpus[i] for i in np.argsort(-sims) if owner[corpus[i]] != row["image_id"]]
        mine = found.row == r
        order = np.argsort(-found.sim[mine], kind="stable")
        assert [data.texts[v] for v in found.vocab[mine][order][:5]] == ranked[:5]


def test_guards_drop_and_log(scenes, embedder, caplog):
    with caplog.at_level(logging.INFO, logger="refaug.mining"):
        out = mine_hard_negatives(scenes, embedder=embedder, num_negatives=10, max_similarity=0.5,
                                  relative_margin=0.05)
    assert all(n["similarity"] <= 0.5 for row in out for n in row["hard_negatives"])
    assert "because of inside_cluster" in caplog.text or "because of max_similarity" in caplog.text
    assert "%" in caplog.text and "candidates considered" in caplog.text


def test_distractors_and_missing_views(scenes, embedder):
    distractors = [[{"text": e[0].replace("the ", "the not ", 1), "kind": "negation",
                     "detail": "negated", "origin": e[0]}] for e in scenes["expressions"]]
    views = [None if i % 2 else {"appearance": f"a shape number {i}", "action": None,
                                  "spatial": e[0], "alternative": None,
                                  "source": {"backend": "rules", "model": None, "template": None,
                                             "template_version": None, "template_hash": None}}
             for i, e in enumerate(scenes["expressions"])]
    features = scenes.features.copy()
    features["views"] = VIEWS_FEATURE
    features["distractors"] = List({"text": Value("string"), "kind": Value("string"),
                                    "detail": Value("string"), "origin": Value("string")})
    ds = scenes.add_column("views", views, feature=VIEWS_FEATURE)
    ds = ds.add_column("distractors", distractors, feature=features["distractors"])
    out = mine_hard_negatives(ds, embedder=embedder, num_negatives=40, threshold=0.95,
                              relative_margin=None)
    kinds = {n["kind"] for row in out for n in row["hard_negatives"]}
    assert "negation" in kinds
    negation = next(n for row in out for n in row["hard_negatives"] if n["kind"] == "negation")
    assert negation["detail"] == "negated"
    assert out[0]["views"]["appearance"] == "a shape number 0" and out[1]["views"] is None


def test_same_class_restricts_categories_and_derives_unknown_ones(scenes, embedder):
    blank = scenes.map(lambda r, i: {"category": "" if i % 3 == 0 else r["category"]}, with_indices=True)
    out = mine_hard_negatives(blank, embedder=embedder, num_negatives=5, same_class=True,
                              sources=("cross_image",), threshold=0.99, relative_margin=None)
    truth = dict(zip(scenes["referent_id"], scenes["category"], strict=True))
    kept = mismatched = 0
    for row in out:
        for n in row["hard_negatives"]:
            assert n["kind"] == "same_class"
            kept += 1
            mismatched += truth[n["origin"]] != truth[row["referent_id"]]
    assert kept > 0 and mismatched / kept < 0.05


def test_derive_categories_from_head_nouns():
    got = derive_categories([("the red circle on the left",), ("leftmost square", "big square"), ("left",)],
                            ["circle", "square"])
    assert got == ["circle", "square", ""]


def test_diversity_spreads_the_negatives(scenes, embedder):
    # One source, one ranking tier (same image): the greedy choice is the only difference.
    plain = mine_hard_negatives(scenes, embedder=embedder, num_negatives=4, sources=("same_image",))
    diverse = mine_hard_negatives(scenes, embedder=embedder, num_negatives=4, sources=("same_image",),
                                  diversity=1.0)

    def mean_pairwise(ds):
        values = []
        for row in ds:
            texts = [n["text"] for n in row["hard_negatives"]]
            if len(texts) > 2:
                v = embedder.encode(texts)
                s = v @ v.T
                values.append(s[np.triu_indices(len(texts), 1)].mean())
        return float(np.mean(values))

    assert mean_pairwise(diverse) < mean_pairwise(plain)
    assert diverse[0]["hard_negatives"][0]["score"] == pytest.approx(diverse[0]["hard_negatives"][0]["similarity"])


@pytest.mark.parametrize("method", ["radius", "nearest"])
def test_other_cluster_methods(scenes, embedder, method):
    clf = ClusterClassifier(method, embedder=embedder)
    out = mine_hard_negatives(scenes, embedder=embedder, num_negatives=5, classifier=clf)
    negs = [n for row in out for n in row["hard_negatives"]]
    assert negs and all(n["reason"].split()[0] in ("sim", "nearest") for n in negs)


def test_flat_formats(scenes, embedder):
    triplets = mine_hard_negatives(scenes, embedder=embedder, num_negatives=4, output_format="triplet")
    assert triplets.column_names == ["anchor", "positive", "negative"]
    assert triplets.features == Features({c: Value("string") for c in triplets.column_names})
    assert all(r["anchor"] != r["positive"] for r in triplets)
    tuples = mine_hard_negatives(scenes, embedder=embedder, num_negatives=4, output_format="n-tuple")
    assert tuples.column_names == ["anchor", "positive"] + [f"negative_{i}" for i in range(1, 5)]
    assert len(tuples) > 0 and len(triplets) >= len(tuples) * 4


def test_invalid_options_list_the_choices(scenes, embedder):
    with pytest.raises(ValueError, match="'cross_image', 'distractors', 'same_image'"):
        mine_hard_negatives(scenes, embedder=embedder, sources=("elsewhere",))
    with pytest.raises(ValueError, match="'n-tuple', 'nested', 'triplet'"):
        mine_hard_negatives(scenes, embedder=embedder, output_format="pairs")
    with pytest.raises(ValueError, match="num_negatives"):
        mine_hard_negatives(scenes, embedder=embedder, num_negatives=0)
    with pytest.raises(ValueError, match="either classifier"):
        mine_hard_negatives(scenes, embedder=embedder, classifier=ClusterClassifier(), threshold=0.5)


def test_agrees_with_sentence_transformers_miner(embedder):
    """Exact search on both sides: the same negatives (each referent in its own image)."""
    from sentence_transformers.util import mine_hard_negatives as st_mine

    rows = synthetic_scenes(30, seed=5, image_size=(64, 48)).to_list()
    rows = [r for r in rows if len(r["expressions"]) >= 2]
    seen, clusters = set(), []
    for r in rows:  # distinct texts, one referent per image
        texts = [t for t in r["expressions"] if t not in seen]
        seen.update(texts)
        if len(texts) >= 2:
            clusters.append(texts)
    ds = Dataset.from_dict({"image_id": list(range(len(clusters))), "expressions": clusters,
                            "referent_id": [f"r{i}" for i in range(len(clusters))]})
    ours = mine_hard_negatives(ds, embedder=embedder, num_negatives=3, sources=("cross_image",),
                               threshold=1.5, relative_margin=None)
    # sentence-transformers' side: anchor = first text, positives = the cluster; its query is the
    # anchor's own embedding, so compare with our search run on the same query vectors.
    pairs = Dataset.from_dict({"anchor": [c[0] for c in clusters for _ in c[1:]],
                               "positive": [t for c in clusters for t in c[1:]]})
    theirs = st_mine(pairs, embedder.model, num_negatives=3, output_format="n-tuple", verbose=False)
    theirs_by_anchor = {r["anchor"]: {r[f"negative_{j}"] for j in (1, 2, 3)} for r in theirs}
    corpus = list(dict.fromkeys(t for c in clusters for t in c[1:]))  # its corpus: the positives
    vectors = embedder.encode(corpus)
    queries = embedder.encode([c[0] for c in clusters])
    pos = {t: i for i, t in enumerate(corpus)}
    start = np.array([pos[c[1]] for c in clusters])
    end = np.array([pos[c[-1]] + 1 for c in clusters])
    _, index = topk_outside(queries, vectors, k=3, exclude_start=start, exclude_end=end)
    agree = np.mean([len({corpus[i] for i in index[q]} & theirs_by_anchor[c[0]]) / 3
                     for q, c in enumerate(clusters)])
    assert agree >= 0.99
    assert all(len(r["hard_negatives"]) == 3 for r in ours)


@pytest.mark.slow
def test_scale_memory_is_bounded(tmp_path):
    """30k referents x 3 texts with cheap random embeddings: the search stays within its blocks."""
    import resource

    class RandomEmbedder(Embedder):
        def encode_distinct(self, texts, *, show_progress_bar=None):
            rng = np.random.default_rng(len(texts))
            x = rng.normal(size=(len(texts), 64)).astype(np.float32)
            return x / np.linalg.norm(x, axis=1, keepdims=True)

    n = 30000
    ds = Dataset.from_dict({"image_id": [i // 4 for i in range(n)],
                            "expressions": [[f"text {i} {j}" for j in range(3)] for i in range(n)]})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Random texts state nothing and have no category: nothing verifies them, so the scale of
    # the search is measured with the unverified ranking (and the centroid cut-off).
    out = mine_hard_negatives(ds, embedder=RandomEmbedder(), num_negatives=10, require_verified=False,
                              classifier=ClusterClassifier("centroid", threshold=0.99),
                              chunk_size=1024, corpus_chunk_size=16384)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert len(out) == n and all(len(r) == 10 for r in out["hard_negatives"][:100])
    assert grown_mb < 1500  # a dense 90k x 30k score matrix alone would be 10 GB


def test_mines_refer_format_files(tmp_path, embedder):
    from datasets import concatenate_datasets

    from refaug.data.refer import load_refer
    from tests import refer_files

    refer_files.write_refer(tmp_path)
    ds = concatenate_datasets(list(load_refer(tmp_path).values()))
    out = mine_hard_negatives(ds, embedder=embedder, num_negatives=5)
    assert out.features["hard_negatives"] == List(HARD_NEGATIVE_FEATURE) and len(out) == len(ds)
    first = out[0]
    assert first["expressions"] and all(n["text"] not in first["expressions"] for n in first["hard_negatives"])
    triplets = mine_hard_negatives(ds, embedder=embedder, num_negatives=5, output_format="triplet")
    assert triplets.column_names == ["anchor", "positive", "negative"]


def test_faiss_search_matches_the_torch_search(scenes, embedder):
    pytest.importorskip("faiss")
    rng = np.random.default_rng(2)
    corpus, queries = unit_rows(rng, 400), unit_rows(rng, 50)
    start = rng.integers(0, 390, size=50)
    end = start + 5
    from refaug.mining import topk_outside_faiss

    want, want_i = topk_outside(queries, corpus, k=5, exclude_start=start, exclude_end=end, precision="fp32")
    got, got_i = topk_outside_faiss(queries, corpus, k=5, exclude_start=start, exclude_end=end)
    np.testing.assert_allclose(got, want, atol=1e-5)
    torch_out = mine_hard_negatives(scenes, embedder=embedder, num_negatives=5, sources=("cross_image",))
    faiss_out = mine_hard_negatives(scenes, embedder=embedder, num_negatives=5, sources=("cross_image",),
                                    search="faiss")
    same = [a["text"] == b["text"] for ra, rb in zip(torch_out, faiss_out, strict=True)
            for a, b in zip(ra["hard_negatives"], rb["hard_negatives"], strict=False)]
    assert np.mean(same) > 0.95
