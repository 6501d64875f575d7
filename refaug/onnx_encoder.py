"""A sentence-transformers model run by ONNX Runtime: exported once from the local weights, cached on disk.

sentence-transformers' own ONNX backend (``SentenceTransformer(..., backend="onnx")``) needs
``optimum``, whose releases pin ``transformers`` below the version this project uses, and it
reads an exported file from the model's folder or the hub. This module needs only
``onnxruntime`` (and ``onnx`` for int8): it exports the model's transformer with
``torch.onnx.export`` from the folder it was loaded from, puts the mean pooling and the L2
normalisation in the graph, and for ``"onnx-int8"`` quantises the weights of its matrix
products to int8 with ONNX Runtime's dynamic quantisation (what sentence-transformers'
``export_dynamic_quantized_onnx_model`` calls through optimum). The files are written once
under :func:`onnx_cache_root`, keyed by the model's identity, and reused by every run.

Measured on the real dev expressions (``benchmarks/embed_backends.py``, 4,002 texts): fp32 ONNX
gives the torch vectors to within 3e-7 (neighbour overlap 1.0, the same judgement AUCs) at 2.1x
the texts per CPU second; int8 at 4.3x, approximate: cosine to the fp32 vector 0.992 on average
(0.960 at least), overlap of the 10 nearest neighbours 0.905, same-image AUC unchanged (0.7957),
cross-image 0.9267 (fp32 0.9271).

Example:
    >>> from refaug.embed import resolve_model
    >>> encoder = OnnxEncoder(resolve_model(None), quantized=True)  # doctest: +SKIP
    >>> encoder.encode(["left lady"]).shape  # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_OPSET = 17
ONNX_FORMAT = 1  # bump when the exported graph changes: it names the cached file


def onnx_cache_root() -> Path:
    """Where exported models live: ``$REFAUG_CACHE/onnx``, else ``$XDG_CACHE_HOME/refaug/onnx``
    (``~/.cache/refaug/onnx``)."""
    if os.environ.get("REFAUG_CACHE"):
        return Path(os.environ["REFAUG_CACHE"]) / "onnx"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "refaug" / "onnx"


def _require_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError("the onnx embedding backends need ONNX Runtime: pip install onnxruntime onnx "
                          "(or choose embed_backend='torch')") from exc
    return onnxruntime


def _check_pipeline(model: Any) -> None:
    """The exported graph is transformer -> mean pooling -> normalise: refuse other pipelines."""
    modules = list(model)
    pooling = modules[1] if len(modules) > 1 else None
    config = pooling.get_config_dict() if hasattr(pooling, "get_config_dict") else {}
    mean = config.get("pooling_mode") == "mean" or config.get("pooling_mode_mean_tokens") is True
    names = [type(m).__name__ for m in modules]
    if len(modules) > 3 or names[:2] != ["Transformer", "Pooling"] or not mean or names[2:] not in ([], ["Normalize"]):
        raise ValueError(f"the onnx embedding backends support Transformer -> mean Pooling (-> Normalize) models; "
                         f"this one is {' -> '.join(names)} ({config}); choose embed_backend='torch'")


def export_onnx(model: Any, target: Path) -> Path:
    """Export ``model`` (a loaded ``SentenceTransformer``) to ``target``: ids in, unit vectors out."""
    import torch

    _check_pipeline(model)
    transformer = model[0].auto_model.eval()

    class MeanPooled(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            tokens = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    sample = model.tokenizer(["a sample text", "another one"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in _INPUTS} | {"embedding": {0: "batch"}}
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes
        path = Path(tmp) / "model.onnx"
        torch.onnx.export(MeanPooled(transformer), tuple(sample[n] for n in _INPUTS), str(path),
                          input_names=list(_INPUTS), output_names=["embedding"], dynamic_axes=axes,
                          opset_version=_OPSET, dynamo=False)
        os.replace(path, target)
    return target


def quantize_onnx(source: Path, target: Path) -> Path:
    """Dynamic int8 quantisation of ``source``'s matrix products (weights per channel), to ``target``."""
    _require_onnxruntime()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        path = Path(tmp) / "model_int8.onnx"
        root = logging.getLogger()
        was = root.disabled
        root.disabled = True  # quantize_dynamic logs its "pre-process first" advice on the root logger
        try:
            quantize_dynamic(str(source), str(path), weight_type=QuantType.QInt8, per_channel=True)
        finally:
            root.disabled = was
        os.replace(path, target)
    return target


def exported_model(model: Any, identity: str, *, quantized: bool, cache_root: Path | None = None) -> Path:
    """The cached ONNX file of ``model`` (exported, and quantised, on first use)."""
    folder = (cache_root or onnx_cache_root()) / f"{identity.replace(':', '-')}-v{ONNX_FORMAT}"
    fp32 = folder / "model.onnx"
    if not fp32.exists():
        logger.info("exporting %s to ONNX (once): %s", identity, fp32)
        export_onnx(model, fp32)
    if not quantized:
        return fp32
    int8 = folder / "model_int8.onnx"
    if not int8.exists():
        logger.info("quantising %s to int8 (once): %s", identity, int8)
        quantize_onnx(fp32, int8)
    return int8


class OnnxEncoder:
    """``encode`` like ``SentenceTransformer.encode``, run by ONNX Runtime on an exported copy.

    Args:
        model: the loaded ``SentenceTransformer`` (its tokenizer, maximum length and weights).
        identity: the model's identity (:func:`refaug.embed.model_identity`): keys the cached file.
        quantized: int8 weights (True) or fp32 (False).
        threads: ONNX Runtime's intra-op threads (None: its default, one per core).
        cache_root: where the exported files live (None: :func:`onnx_cache_root`).
    """

    def __init__(self, model: Any, identity: str, *, quantized: bool, threads: int | None = None,
                 cache_root: Path | None = None) -> None:
        ort = _require_onnxruntime()
        self.tokenizer = model.tokenizer
        self.max_seq_length = int(model.max_seq_length)
        self.dimension = int(model[0].auto_model.config.hidden_size)
        self.path = exported_model(model, identity, quantized=quantized, cache_root=cache_root)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}

    def get_sentence_embedding_dimension(self) -> int:
        return self.dimension

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, **_: Any) -> np.ndarray:
        """Unit vectors of ``texts`` in order (the keyword options of ``SentenceTransformer.encode``
        that refaug passes are accepted: the output is always normalised float32 numpy)."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")  # as sentence-transformers batches
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            encoded = self.tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                                     max_length=self.max_seq_length, return_tensors="np")
            feed = {name: np.asarray(encoded[name], np.int64) for name in _INPUTS if name in self._inputs}
            if "token_type_ids" in self._inputs and "token_type_ids" not in encoded:
                feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
            out[rows] = self.session.run(None, feed)[0]
        return out
