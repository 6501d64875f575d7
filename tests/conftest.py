"""Shared fixtures: small data the tests make, and the models loaded once per session."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def synthetic_small():
    """Twelve synthetic images (about 45 referents) with PNG bytes."""
    from refaug.data.synthetic import synthetic_scenes

    return synthetic_scenes(12, seed=0)


@pytest.fixture(scope="session")
def embedder():
    """The packaged all-MiniLM-L6-v2, loaded once (modules that test the disk cache override it)."""
    from refaug.embed import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def nlp():
    from refaug.nlp import load_nlp

    return load_nlp()
