from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
from datasets import Dataset
from datasets.fingerprint import Hasher

from refaug.clusters import (
    CLUSTER_METHODS,
    ClusterClassifier,
    calibrate_threshold,
    choose_threshold,
    cluster_texts,
    normalize_rows,
    roc_auc,
)
from refaug.data.synthetic import synthetic_scenes
from refaug.embed import Embedder


@pytest.fixture(scope="module")
def embedder(tmp_path_factory) -> Embedder:
    return Embedder(cache_dir=tmp_path_factory.mktemp("clusters_cache"))


@pytest.fixture(scope="module")
def scenes() -> Dataset:
    return synthetic_scenes(40, seed=3, image_size=(64, 48))


def unit(*rows: list[float]) -> np.ndarray:
    return normalize_rows(np.asarray(rows, np.float32))


def test_invalid_method_lists_the_choices():
    with pytest.raises(ValueError, match="'centroid', 'contrast', 'nearest', 'radius'"):
        ClusterClassifier("median")


def test_centroid_judges_texts(embedder):
    clf = ClusterClassifier("centroid", threshold=0.6, embedder=embedder)
    cluster = ["the red circle on the left", "big red circle", "leftmost circle"]
    sims = clf.similarity(cluster, ["the red circle on the left", "a man riding a horse"])
    assert sims.dtype == np.float32 and sims[0] > 0.8 and sims[1] < 0.3
    assert clf.is_negative(cluster, ["a man riding a horse", "big red circle"]).tolist() == [True, False]


def test_centroid_is_cosine_to_normalised_mean():
    members = unit([1, 0, 0], [0, 1, 0])
    cand = unit([1, 1, 0], [0, 0, 1])
    sims = ClusterClassifier("centroid").similarity_embeddings(members, cand)
    np.testing.assert_allclose(sims, [1.0, 0.0], atol=1e-6)


def test_radius_is_strict_for_tight_and_lenient_for_loose_clusters():
    clf = ClusterClassifier("radius", margin=0.05)
    tight = unit([1, 0.05, 0], [1, -0.05, 0])
    loose = unit([1, 1, 0], [1, -1, 0])
    assert clf.cutoff_embeddings(tight) > clf.cutoff_embeddings(loose)
    cand = unit([1, 0.5, 0])  # cosine ~0.89 to both centroids
    assert clf.similarity_embeddings(tight, cand)[0] < clf.cutoff_embeddings(tight)  # negative
    assert clf.similarity_embeddings(loose, cand)[0] >= clf.cutoff_embeddings(loose)  # inside
    assert clf.cutoff_embeddings(unit([1, 0, 0])) == clf.threshold  # singleton: no spread known


def test_nearest_takes_the_best_member():
    members = unit([1, 0, 0], [0, 1, 0])
    sims = ClusterClassifier("nearest").similarity_embeddings(members, unit([1, 0.1, 0]))
    assert sims[0] == pytest.approx(float(unit([1, 0.1, 0])[0, 0]), abs=1e-6)


def test_empty_cluster_is_an_error(embedder):
    with pytest.raises(ValueError, match="cluster"):
        ClusterClassifier(embedder=embedder).similarity([], ["x"])


def test_roc_auc_matches_the_rank_definition():
    assert roc_auc(np.array([0.9, 0.8]), np.array([0.1, 0.85])) == 0.75
    assert roc_auc(np.array([1.0]), np.array([1.0])) == 0.5
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(1, 1, 200), rng.normal(0, 1, 300)
    brute = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert roc_auc(pos, neg) == pytest.approx(brute)


def test_choose_threshold_f1_and_fnr():
    pos, neg = np.array([0.9, 0.8, 0.7, 0.4]), np.array([0.1, 0.2, 0.5, 0.55])
    assert choose_threshold(pos, neg, criterion="f1") == 0.7
    assert choose_threshold(pos, neg, criterion="fnr", target_fnr=0.25) == 0.7
    assert choose_threshold(pos, neg, criterion="fnr", target_fnr=0.0) == 0.4
    with pytest.raises(ValueError, match="'f1', 'fnr'"):
        choose_threshold(pos, neg, criterion="auc")


@pytest.mark.parametrize("method", CLUSTER_METHODS)
def test_calibrate_reports_auc_operating_point_and_plot(scenes, embedder, tmp_path, method):
    png = tmp_path / f"{method}.png"
    cal = calibrate_threshold(scenes, method=method, embedder=embedder, plot=png)
    assert 0.5 < cal.auc <= 1.0 and 0.5 < cal.auc_cross_image <= 1.0
    assert cal.n_positive > 0 and cal.n_same_image > 0 and cal.n_cross_image > 0
    assert 0.0 <= cal.false_negative_rate <= 1.0 and png.exists() and cal.plot == str(png)
    clf = cal.classifier(embedder=embedder)
    assert clf.method == method


def test_calibrate_target_false_negative_rate(scenes, embedder):
    cal = calibrate_threshold(scenes, embedder=embedder, criterion="fnr", target_fnr=0.1)
    assert cal.false_negative_rate <= 0.1 + 1e-9


def test_cluster_texts_prefers_views_and_falls_back():
    views = {"appearance": "red circle", "action": None, "spatial": "circle on the left",
             "alternative": None, "source": None}
    row = {"views": views, "expressions": ["the red circle", "red circle"]}
    assert cluster_texts(row) == ("red circle", "circle on the left", "the red circle")
    assert cluster_texts(row, include_expressions=False) == ("red circle", "circle on the left")
    assert cluster_texts({"views": None, "expressions": ["a"]}, include_expressions=False) == ("a",)


def test_hash_is_stable_and_follows_the_configuration(embedder):
    a = ClusterClassifier("centroid", threshold=0.7, embedder=embedder)
    b = ClusterClassifier("centroid", threshold=0.7, embedder=embedder)
    assert Hasher.hash(a) == Hasher.hash(b)
    assert Hasher.hash(a) != Hasher.hash(ClusterClassifier("centroid", threshold=0.71, embedder=embedder))
    assert Hasher.hash(a) != Hasher.hash(ClusterClassifier("nearest", threshold=0.7, embedder=embedder))


def test_classifier_in_dataset_map(embedder):
    ds = Dataset.from_dict({
        "expressions": [["the red circle on the left", "big red circle"], ["a dog"]],
        "distractors": [[{"text": "the blue square", "kind": "attribute", "detail": "", "origin": ""}], []],
    })
    clf = ClusterClassifier("centroid", threshold=0.6, embedder=embedder)
    out = ds.map(clf, batched=True)
    assert out[0]["candidate_is_negative"] == [True] and out[1]["candidate_similarity"] == []
