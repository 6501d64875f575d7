from __future__ import annotations

import os
import pickle

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
from datasets import Dataset
from datasets.fingerprint import Hasher

from refaug.embed import DEFAULT_MODEL, Embedder, EmbeddingCache, model_identity, resolve_model


@pytest.fixture(scope="module")
def embedder(tmp_path_factory) -> Embedder:
    return Embedder(cache_dir=tmp_path_factory.mktemp("embed_cache"))


class CountingModel:
    """Wraps a model and records every text it encodes."""

    def __init__(self, model):
        self.model = model
        self.seen: list[str] = []

    def encode(self, texts, **kwargs):
        self.seen.extend(texts)
        return self.model.encode(texts, **kwargs)


def test_default_model_resolves_to_packaged_copy():
    path = resolve_model(None)
    assert path == resolve_model("all-MiniLM-L6-v2") == resolve_model(DEFAULT_MODEL)
    assert path.endswith("model") and os.path.exists(os.path.join(path, "modules.json"))
    assert resolve_model("some/other-model") == "some/other-model"


def test_encode_is_normalised_float32_in_input_order(embedder):
    texts = ["left lady", "right lady", "left lady", "a red car"]
    vectors = embedder.encode(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    single = embedder.encode(["a red car"])
    np.testing.assert_allclose(single[0], vectors[3], atol=1e-6)


def test_each_distinct_text_is_encoded_once(tmp_path):
    emb = Embedder()
    counting = CountingModel(emb.encoder)
    emb._encoder = counting
    emb.encode(["a", "b", "a", "b", "a", "c"])
    assert sorted(counting.seen) == ["a", "b", "c"]


def test_disk_cache_avoids_encoding_again(tmp_path):
    texts = ["the man on the left", "the woman in red", "the man on the left"]
    first = Embedder(cache_dir=tmp_path).encode(texts)
    second_embedder = Embedder(cache_dir=tmp_path)
    second = second_embedder.encode(texts)
    assert second_embedder._model is None  # never loaded: everything came from the cache
    np.testing.assert_array_equal(first, second)


def test_cache_is_keyed_by_model_identity(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put("model-a", ["x"], np.ones((1, 3), np.float32))
    assert set(cache.get("model-a", ["x", "y"])) == {"x"}
    assert cache.get("model-b", ["x"]) == {}


def test_model_identity_changes_with_the_weights(tmp_path):
    (tmp_path / "config.json").write_text('{"a": 1}')
    (tmp_path / "model.safetensors").write_bytes(b"0" * 10)
    before = model_identity(str(tmp_path))
    (tmp_path / "model.safetensors").write_bytes(b"0" * 11)
    assert model_identity(str(tmp_path)) != before
    assert model_identity("org/name") == "hub:org/name"


def test_empty_input():
    assert Embedder().encode([]).shape[0] == 0


def test_pickle_drops_the_model_and_hash_is_stable(embedder):
    embedder.encode(["load the model"])
    assert embedder._model is not None
    clone = pickle.loads(pickle.dumps(embedder))
    assert clone._model is None
    assert Hasher.hash(embedder) == Hasher.hash(Embedder(cache_dir=embedder.cache_dir))
    assert Hasher.hash(embedder) != Hasher.hash(Embedder(batch_size=7))


def test_works_in_dataset_map(embedder):
    ds = Dataset.from_dict({"expressions": [["left lady", "woman on the left"], ["red car"]],
                            "text": ["x", "y"]})
    out = ds.map(embedder, batched=True, fn_kwargs={"column": "expressions"})
    assert len(out[0]["expressions_embedding"]) == 2
    assert len(out[1]["expressions_embedding"][0]) == 384
    flat = ds.map(embedder, batched=True, fn_kwargs={"column": "text", "output_column": "vec"})
    assert len(flat[0]["vec"]) == 384


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        Embedder(batch_size=0)


TEXTS = ["left lady", "lady on the right", "the man in a red shirt", "guy in blue", "red car on the left",
         "the small white dog", "big brown bear", "second zebra from left", "bowl of rice", "empty chair"]


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_onnx_backends_agree_with_torch(backend, tmp_path, monkeypatch):
    """The ONNX export of the packaged MiniLM (built here from the local weights) against torch fp32."""
    monkeypatch.setenv("REFAUG_CACHE", str(tmp_path))
    reference = Embedder(backend="torch").encode(TEXTS)
    onnx = Embedder(backend=backend)
    vectors = onnx.encode(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == reference.shape
    assert list(tmp_path.glob("onnx/*/model*.onnx"))  # exported and cached on disk
    cosine = (vectors * reference).sum(1)
    if backend == "onnx":
        np.testing.assert_allclose(vectors, reference, atol=1e-5)
        assert onnx.identity == Embedder(backend="torch").identity  # the same vectors share a cache
    else:
        assert cosine.min() > 0.95
        assert onnx.identity != Embedder(backend="torch").identity
        # the pairwise similarities keep their shape (0.994 measured; a broken quantisation is far below)
        upper = np.triu_indices(len(TEXTS), 1)
        assert np.corrcoef((reference @ reference.T)[upper], (vectors @ vectors.T)[upper])[0, 1] > 0.98


def test_bad_backend():
    with pytest.raises(ValueError, match="backend='tensorflow' is not valid; choose one of torch, onnx"):
        Embedder(backend="tensorflow")
