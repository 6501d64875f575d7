"""Mining's chunks judged in forked worker processes keep the very negatives of one process."""

from __future__ import annotations

import json

import pytest

from refaug.clusters import ClusterClassifier
from refaug.data.synthetic import synthetic_scenes
from refaug.mining import mine_hard_negatives
from refaug.workers import default_workers, workers_limit


@pytest.fixture(scope="module")
def scenes():
    return synthetic_scenes(40, seed=3, image_size=(64, 48))


def _mine(scenes, embedder, *, workers: int, **options):
    clf = ClusterClassifier("contrast", embedder=embedder)
    options = {"num_negatives": 4, "chunk_size": 16, "plausibility": "cooccurrence", **options}
    return mine_hard_negatives(scenes, embedder=embedder, classifier=clf, workers=workers, return_report=True,
                               **options)


@pytest.mark.parametrize("options", [{}, {"lazy_judgement": False}, {"no_target_per_image": 3},
                                     {"sources": ("cross_image",), "require_verified": False}])
def test_forked_chunks_keep_the_negatives_of_one_process(scenes, embedder, options):
    one, one_report = _mine(scenes, embedder, workers=1, **options)
    two, two_report = _mine(scenes, embedder, workers=2, **options)
    assert len(scenes) > 4 * 16  # chunks enough for two workers
    assert two["hard_negatives"] == one["hard_negatives"]  # every field of every negative, in order
    assert two["num_verified"] == one["num_verified"]
    # the chunks' counts summed (as JSON: a kind with nothing kept has NaN quantiles, and NaN != NaN)
    assert json.dumps(two_report.to_dict(), sort_keys=True) == json.dumps(one_report.to_dict(), sort_keys=True)
    if "no_target_per_image" in options:
        assert two["no_target"] == one["no_target"]


def test_workers_must_be_positive(scenes, embedder):
    with pytest.raises(ValueError, match="workers=0"):
        _mine(scenes, embedder, workers=0)


def test_workers_limit_sets_the_default():
    with workers_limit(1):
        assert default_workers() == 1
        with workers_limit(None):  # None leaves the setting as it is
            assert default_workers() == 1
    with pytest.raises(ValueError, match="workers=0"), workers_limit(0):
        pass


@pytest.mark.parametrize("interleaved", [False, True])
def test_split_parts_are_memory_mapped_without_an_indices_mapping(tmp_path, interleaved):
    """The mine stage's split rows: a slice where contiguous, else a copy on disk that goes once
    the split is mined; the rows of ``filter`` either way."""
    from datasets import Dataset, load_from_disk

    from refaug.stages import _split_parts

    splits = ["train", "val", "train", "testA", "val", "train"] if interleaved else \
        ["testA", "train", "train", "train", "val", "val"]
    Dataset.from_dict({"split": splits, "ref_id": list(range(6))}).save_to_disk(str(tmp_path / "ds"))
    ds = load_from_disk(str(tmp_path / "ds"))
    cache = tmp_path / "cache"
    seen = []
    for split, part in _split_parts(ds, cache):
        want = ds.filter(lambda s, split=split: s == split, input_columns="split")
        assert part["ref_id"] == want["ref_id"] and part._indices is None
        assert all(f["filename"].startswith(str(tmp_path)) for f in part.cache_files)  # memory-mapped
        scattered = interleaved and split != "testA"  # testA: one row
        assert any(cache.glob("*")) == scattered  # a copy only where the rows are not contiguous
        seen.append(split)
    assert seen == ["testA", "train", "val"] and not any(cache.glob("*"))
