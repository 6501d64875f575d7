"""One judgement: the method registry, the array routine, and the paths that call it agree."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from typing import get_args

import numpy as np
import pytest

from refaug.clusters import (
    CLUSTER_METHODS,
    DEFAULT_THRESHOLDS,
    METHODS,
    ClusterClassifier,
    ClusterMethod,
    ClusterSet,
    JudgementMethod,
    method_class,
)
from refaug.vectors import centroid, centroids, loosest_member, normalize_rows, pair_cosines

CLUSTERS = [
    ["the woman on the left", "lady in a red coat"],
    ["man on the right holding a bat", "the batter"],
    ["brown dog lying down"],
]
CANDIDATES = [
    ["lady on the right", "woman in red on the left", "the batter"],
    ["man on the left", "the man holding a bat on the right"],
    ["white cat sitting", "brown dog lying down on the rug"],
]


def test_registry_literal_and_defaults_agree():
    assert set(get_args(ClusterMethod)) == set(CLUSTER_METHODS) == set(METHODS)
    for name, cls in METHODS.items():
        assert issubclass(cls, JudgementMethod) and cls.name == name
        assert DEFAULT_THRESHOLDS[name] == cls.default_threshold
    with pytest.raises(ValueError, match="'centroid', 'contrast', 'nearest', 'radius'"):
        method_class("kmeans")


def test_centroid_arithmetic_is_one_function():
    rng = np.random.default_rng(0)
    vectors = normalize_rows(rng.normal(size=(7, 5)).astype(np.float32))
    ptr, idx = np.array([0, 3, 3, 7]), np.array([0, 1, 2, 3, 4, 5, 6])
    many, loosest = centroids(vectors, ptr, idx)
    np.testing.assert_allclose(many[0], centroid(vectors[:3]), atol=1e-6)
    np.testing.assert_allclose(many[2], centroid(vectors[3:]), atol=1e-6)
    assert not many[1].any() and loosest[1] == 1.0  # an empty cluster
    assert loosest[2] == pytest.approx(loosest_member(vectors[3:]), abs=1e-6)


@pytest.mark.parametrize("method", CLUSTER_METHODS)
def test_text_api_batch_api_and_arrays_give_one_verdict(method, embedder):
    clf = ClusterClassifier(method, embedder=embedder)
    batch = clf({"expressions": CLUSTERS, "distractors": CANDIDATES, "category": ["person", "person", "dog"]})
    for r, (cluster, candidates) in enumerate(zip(CLUSTERS, CANDIDATES, strict=True)):
        category = ["person", "person", "dog"][r]
        single = clf.is_negative(cluster, candidates, category=category)
        assert single.tolist() == batch["candidate_is_negative"][r]
        np.testing.assert_allclose(clf.similarity(cluster, candidates, category=category),
                                   batch["candidate_similarity"][r], atol=1e-5)
    cset, index = ClusterSet.from_texts(CLUSTERS, [t for c in CANDIDATES for t in c], embedder=embedder,
                                        category=["person", "person", "dog"])
    rows = np.array([r for r, c in enumerate(CANDIDATES) for _ in c])
    vocab = np.array([index[t] for c in CANDIDATES for t in c])
    verdict = clf.judge(cset, rows, vocab)
    assert verdict.negative.tolist() == [v for row in batch["candidate_is_negative"] for v in row]


def test_radius_judges_with_per_cluster_cutoffs(embedder):
    clf = ClusterClassifier("radius", margin=0.0, embedder=embedder)
    cset, index = ClusterSet.from_texts(CLUSTERS, ["the woman on the left"], embedder=embedder)
    cut = clf.cutoffs(cset.loosest, cset.n_members)
    assert cut[2] == pytest.approx(clf.threshold)  # a single member: the threshold
    assert cut[0] == pytest.approx(cset.loosest[0])  # two members: the loosest one, margin 0
    verdict = clf.judge(cset, np.array([0]), np.array([index["the woman on the left"]]))
    assert not verdict.negative[0]  # a member itself is inside


def test_contrast_conflict_decides_and_is_explained(embedder):
    clf = ClusterClassifier("contrast", embedder=embedder)
    verdict = clf.judge_texts([["left lady", "woman in white"]], [["lady on right", "the lady in white"]])[0]
    assert verdict.negative.tolist() == [True, False]
    assert verdict.conflict[0] and "spatial: left vs right" in verdict.notes()[0]
    assert "spatial: left vs right" in str(clf.explain(["left lady", "woman in white"], "lady on right"))


def test_alive_mask_skips_parses_but_not_verdicts(embedder):
    """Mining passes ``alive``: pairs out of play, or below the cosine floor, are not parsed;
    the verdicts of the live ones are those of the full judgement."""
    clf = ClusterClassifier("contrast", embedder=embedder)
    cset, index = ClusterSet.from_texts(CLUSTERS, [t for c in CANDIDATES for t in c], embedder=embedder)
    rows = np.array([r for r, c in enumerate(CANDIDATES) for _ in c])
    vocab = np.array([index[t] for c in CANDIDATES for t in c])
    full = clf.judge(cset, rows, vocab)
    alive = np.arange(len(rows)) % 2 == 0
    partial = clf.judge(cset, rows, vocab, alive=alive)
    assert all(partial.findings[i] is None for i in np.nonzero(~alive)[0])
    assert partial.negative[alive].tolist() == full.negative[alive].tolist()


@pytest.fixture(scope="module")
def rewritten_scenes():
    from refaug.data.synthetic import synthetic_scenes
    from refaug.rewrite import AttributeRewriter, NegationRewriter, Rewriters
    from refaug.views import ViewGenerator, get_backend

    ds = synthetic_scenes(10, seed=5, image_size=(64, 48))
    ds = ds.map(ViewGenerator(get_backend("rules")), batched=True, batch_size=64)
    return ds.map(Rewriters([AttributeRewriter(), NegationRewriter()]), batched=True)


@pytest.mark.parametrize("method", ["radius", "contrast"])
def test_run_report_and_mining_agree(method, rewritten_scenes, embedder, tmp_path, monkeypatch):
    """The classify stage's outside-cluster count and mining's kept distractors are one judgement."""
    from refaug import stages
    from refaug.clusters import cluster_texts
    from refaug.config import RunConfig
    from refaug.mining import mine_hard_negatives
    from refaug.run_context import RunContext
    from refaug.text import normalize_text

    ds = rewritten_scenes
    monkeypatch.setattr(stages, "build_embedder", lambda config, context: embedder)
    context = RunContext(out=tmp_path)
    stages.classify_stage(ds, RunConfig(method=method), context)
    clf = ClusterClassifier(method, embedder=embedder)
    rows = ds.to_list()
    clusters = [list(cluster_texts(r)) for r in rows]
    candidates = [[c["text"] for c in r["distractors"]] for r in rows]
    verdicts = clf.judge_texts(clusters, candidates, categories=[r["category"] for r in rows])
    assert context.stats["classify"]["outside_cluster"] == sum(int(v.negative.sum()) for v in verdicts if v)

    mined = mine_hard_negatives(ds, embedder=embedder, classifier=clf, sources=("distractors",),
                                num_negatives=10_000, relative_margin=None, require_verified=False)
    for row, cluster, cands, verdict, out in zip(rows, clusters, candidates, verdicts, mined, strict=True):
        own = {normalize_text(t) for t in cluster}
        expected = {normalize_text(t) for t, neg in zip(cands, verdict.negative if verdict else [], strict=True)
                    if neg and normalize_text(t) not in own}
        kept = {normalize_text(n["text"]): n["verified_by"] for n in out["hard_negatives"]}
        # Every judged negative is kept; beyond them only what a proof keeps (an own edit that
        # contradicts the referent), which the cut-off alone would call inside.
        assert expected <= set(kept), row["referent_id"]
        assert all(kept[t] in ("edit", "conflict", "conflict_view") for t in set(kept) - expected), row["referent_id"]


@pytest.mark.parametrize("chunk", [1, 7, 8192])
def test_pair_cosines_are_one_einsum_at_any_chunk(chunk):
    """Chunking the gathers (to bound their memory) leaves every cosine bit for bit as one einsum."""
    rng = np.random.default_rng(0)
    vectors = normalize_rows(rng.normal(size=(50, 384)).astype(np.float32))
    cents = normalize_rows(rng.normal(size=(9, 384)).astype(np.float32))
    vocab, rows = rng.integers(0, 50, 1000), rng.integers(0, 9, 1000)
    expected = np.einsum("nd,nd->n", vectors[vocab], cents[rows])
    got = pair_cosines(vectors, cents, vocab, rows, chunk=chunk)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
