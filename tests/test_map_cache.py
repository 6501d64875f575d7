"""Every stage is a Dataset.map function whose fingerprint lets the datasets cache serve a repeat."""

from __future__ import annotations

import pytest
from datasets import load_from_disk
from datasets.fingerprint import Hasher

from refaug.clusters import ClusterClassifier
from refaug.embed import Embedder
from refaug.rewrite import AttributeRewriter, NegationRewriter, Rewriters
from refaug.views import ViewGenerator, get_backend


@pytest.fixture(scope="module")
def on_disk(tmp_path_factory, synthetic_small):
    folder = tmp_path_factory.mktemp("ds")
    synthetic_small.select(range(12)).save_to_disk(str(folder))
    return load_from_disk(str(folder))  # disk-backed: map results are cached next to it


def _stages():
    rewriters = Rewriters([AttributeRewriter(), NegationRewriter()])
    return [
        ("views", lambda ds: ViewGenerator(get_backend("rules"))),
        ("rewrite", lambda ds: rewriters),
        ("embed", lambda ds: Embedder()),
        ("classify", lambda ds: ClusterClassifier("centroid", threshold=0.7)),
    ]


def test_a_second_identical_map_is_served_from_the_cache(on_disk, monkeypatch):
    ds = on_disk
    for name, build in _stages():
        stage = build(ds)
        first = ds.map(stage, batched=True, batch_size=8, desc=name)
        hash_before = Hasher.hash(stage)

        def refuse(*args, name=name, **kwargs):
            raise AssertionError(
                f"the {name} stage ran again instead of being served from the cache"
            )

        with monkeypatch.context() as patch:
            patch.setattr(type(stage), "__call__", refuse)
            again = ds.map(build(ds), batched=True, batch_size=8, desc=name)
        assert Hasher.hash(build(ds)) == hash_before, f"{name}: the hash changed after use"
        assert again.cache_files == first.cache_files
        assert again[:] == first[:]
        ds = first
