"""Image crops against texts with a CLIP or SigLIP checkpoint: :class:`CLIPScorer`."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from refaug.embed import model_identity
from refaug.errors import BackendError, DataError, check_choice
from refaug.scoring.base import Scorer, _referent_label
from refaug.scoring.images import _image_key, crop_box, load_image

logger = logging.getLogger(__name__)

CropMode = Literal["box", "image"]
CROP_MODES: tuple[str, ...] = ("box", "image")
DTYPES: tuple[str, ...] = ("float32", "float16", "bfloat16")
# SigLIP scores are probabilities (a sigmoid of the calibrated logit); 0.5 is the point where
# the model's own training loss separates "matches" from "does not match" (Zhai et al. 2023).
SIGLIP_THRESHOLD = 0.5
# Distinct texts per text-encoder forward pass: bounds memory when a batch of referents
# brings thousands of candidates.
_TEXT_CHUNK = 256


def _features(output: Any) -> Any:
    """The embeddings from ``get_*_features``: a tensor (transformers 4) or a model output (5)."""
    import torch

    if isinstance(output, torch.Tensor):
        return output
    pooled = getattr(output, "pooler_output", None)
    if pooled is None and isinstance(output, (tuple, list)) and len(output) > 1:
        pooled = output[1]
    if not isinstance(pooled, torch.Tensor):
        raise BackendError(
            f"get_image_features/get_text_features returned {type(output).__name__} without "
            "embeddings; CLIPScorer needs a CLIP or SigLIP checkpoint"
        )
    return pooled


class CLIPScorer(Scorer):
    """Score texts against a referent's image crop with a CLIP or SigLIP checkpoint.

    Each referent's crop is encoded once (referents that share a crop share the encoding),
    each distinct text of a batch once, and the score is the cosine similarity of the
    normalised embeddings. For SigLIP models (``model_type`` containing ``siglip``) the
    score is the model's match probability ``sigmoid(exp(logit_scale) * cos + logit_bias)``
    and the threshold defaults to 0.5; for CLIP the threshold defaults to None (relative).

    The model is loaded on first use and left out of the pickled state, so a scorer is
    cheap to build, pickles, and hashes stably with ``datasets.fingerprint.Hasher``.

    Args:
        model: a ``transformers`` CLIP or SigLIP checkpoint folder or hub name.
        crop: ``"box"`` (the default) scores the referent's box, grown by ``padding``;
            ``"image"`` scores the whole image.
        padding: with ``crop="box"``, the margin added on each side as a fraction of the
            box's width and height, clipped to the image. Defaults to 0.1.
        device: a torch device; None picks ``"cuda"`` when available, else ``"cpu"``.
        batch_size: referents per call. Defaults to 32.
        threshold: the decision point; None (the default) is 0.5 for SigLIP, relative for CLIP.
        dtype: ``"float32"``, ``"float16"`` or ``"bfloat16"``; None keeps the checkpoint's.

    Example:
        >>> scorer = CLIPScorer("openai/clip-vit-base-patch32", crop="box")
        >>> scores = scorer(dataset.select(range(2)), [["the red car"], ["a dog", "a cat"]])  # doctest: +SKIP
    """

    _transient = {**Scorer._transient, "_model": None, "_processor": None, "_model_type": None}

    def __init__(
        self,
        model: str | os.PathLike,
        *,
        crop: CropMode = "box",
        padding: float = 0.1,
        device: str | None = None,
        batch_size: int = 32,
        threshold: float | None = None,
        dtype: str | None = None,
    ) -> None:
        check_choice("crop", crop, CROP_MODES)
        if dtype is not None:
            check_choice("dtype", dtype, DTYPES)
        if not (isinstance(padding, (int, float)) and math.isfinite(padding) and padding >= 0):
            raise ValueError(f"padding={padding!r} must be a number >= 0 (a fraction of the box size)")
        self.model_name = os.fspath(model)
        super().__init__(threshold=threshold, batch_size=batch_size,
                         name=f"CLIPScorer({os.path.basename(self.model_name.rstrip('/'))})")
        self.crop = crop
        self.padding = float(padding)
        self.device = device
        self.dtype = dtype
        self._identity: str | None = None
        self._model: Any = None
        self._processor: Any = None
        self._model_type: str | None = None

    # ------------------------------------------------------------------ state

    @property
    def identity(self) -> str:
        """The checkpoint's identity (see :func:`refaug.embed.model_identity`)."""
        if self._identity is None:
            self._identity = model_identity(self.model_name)
        return self._identity

    @property
    def model_type(self) -> str:
        """The checkpoint's ``model_type`` (``"clip"``, ``"siglip"``...), read from its config."""
        if self._model_type is None:
            if self._model is not None:
                self._model_type = str(self._model.config.model_type)
            else:
                from transformers import AutoConfig

                self._model_type = str(AutoConfig.from_pretrained(self.model_name).model_type)
        return self._model_type

    @property
    def is_siglip(self) -> bool:
        return "siglip" in self.model_type

    @property
    def threshold(self) -> float | None:
        if self._threshold is None and self.is_siglip:
            return SIGLIP_THRESHOLD
        return self._threshold

    @threshold.setter
    def threshold(self, value: float | None) -> None:
        Scorer.threshold.fset(self, value)

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "model": self.model_name,
            "identity": self.identity,
            "crop": self.crop,
            "padding": self.padding if self.crop == "box" else None,
            "dtype": self.dtype,
        }

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_identity"] = self.identity
        return state

    def __repr__(self) -> str:
        return (f"CLIPScorer(model={self.model_name!r}, crop={self.crop!r}, padding={self.padding}, "
                f"device={self.device!r}, batch_size={self.batch_size}, "
                f"threshold={self._threshold!r}, dtype={self.dtype!r})")

    def _load(self) -> tuple[Any, Any]:
        """Load the model and processor (once)."""
        if self._model is None:
            import torch
            from transformers import AutoModel, AutoProcessor

            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            logger.info("loading %s on %s", self.model_name, device)
            try:
                model = AutoModel.from_pretrained(self.model_name)
                processor = AutoProcessor.from_pretrained(self.model_name)
            except (OSError, ValueError) as exc:
                raise BackendError(
                    f"cannot load CLIP/SigLIP checkpoint {self.model_name!r}: {exc}. Fix: pass a "
                    "local checkpoint folder, or allow downloads (unset HF_HUB_OFFLINE)"
                ) from exc
            if not (hasattr(model, "get_image_features") and hasattr(model, "get_text_features")):
                raise BackendError(
                    f"{self.model_name!r} is a {type(model).__name__}, which has no "
                    "get_image_features/get_text_features; pass a CLIP or SigLIP checkpoint"
                )
            if self.dtype is not None:
                model = model.to(getattr(torch, self.dtype))
            self._model, self._processor = model.to(device).eval(), processor
            self._model_type = str(model.config.model_type)
        return self._model, self._processor

    # ---------------------------------------------------------------- scoring

    def _crops(self, referents: Sequence[Mapping[str, Any]]) -> tuple[list[Any], list[int]]:
        """The distinct crops of a batch and, per referent, the index of its crop."""
        images: dict[Any, Any] = {}
        crops: dict[Any, int] = {}
        pictures: list[Any] = []
        index: list[int] = []
        for i, row in enumerate(referents):
            label = _referent_label(row, i)
            value = row.get("image")
            key = _image_key(value)
            if key not in images:
                images[key] = load_image(value, referent=label)
            picture = images[key]
            box = None
            if self.crop == "box":
                if row.get("bbox") is None:
                    raise DataError("the row has no bbox", row=label,
                                    fix='add [x, y, w, h] boxes or use crop="image"')
                try:
                    box = crop_box(row["bbox"], picture.size, padding=self.padding)
                except ValueError as exc:
                    raise DataError(str(exc), row=label, fix="drop rows with empty boxes") from exc
            if (key, box) not in crops:
                crops[(key, box)] = len(pictures)
                pictures.append(picture if box is None else picture.crop(box))
            index.append(crops[(key, box)])
        return pictures, index

    def _encode_images(self, pictures: list[Any]) -> np.ndarray:
        import torch

        model, processor = self._load()
        inputs = processor(images=pictures, return_tensors="pt")
        inputs = {k: v.to(model.device) if hasattr(v, "to") else v for k, v in inputs.items()}
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
        with torch.inference_mode():
            emb = _features(model.get_image_features(**inputs)).float()
        return torch.nn.functional.normalize(emb, dim=-1).cpu().numpy()

    def _text_max_length(self) -> int:
        model, processor = self._load()
        limits = [int(getattr(model.config.text_config, "max_position_embeddings", 0) or 0),
                  int(getattr(getattr(processor, "tokenizer", None), "model_max_length", 0) or 0)]
        limits = [n for n in limits if 0 < n < 1_000_000]
        return min(limits) if limits else 77

    def _encode_texts(self, texts: list[str]) -> np.ndarray:
        import torch

        model, processor = self._load()
        # SigLIP pools the last position, so it needs the padding it was trained with.
        padding: Any = "max_length" if self.is_siglip else True
        max_length = self._text_max_length()
        parts = []
        for start in range(0, len(texts), _TEXT_CHUNK):
            inputs = processor(text=texts[start : start + _TEXT_CHUNK], padding=padding,
                               truncation=True, max_length=max_length, return_tensors="pt")
            inputs = {k: v.to(model.device) if hasattr(v, "to") else v
                      for k, v in inputs.items() if k != "token_type_ids"}
            with torch.inference_mode():
                emb = _features(model.get_text_features(**inputs)).float()
            parts.append(torch.nn.functional.normalize(emb, dim=-1).cpu().numpy())
        return np.concatenate(parts)

    def _calibration(self) -> tuple[float, float]:
        """SigLIP's ``(exp(logit_scale), logit_bias)``."""
        model, _ = self._load()
        return float(model.logit_scale.detach().float().exp()), float(model.logit_bias.detach().float())

    def _score(self, referents, texts):
        pictures, index = self._crops(referents)
        image_emb = self._encode_images(pictures)
        distinct = list(dict.fromkeys(t for candidates in texts for t in candidates))
        text_emb = self._encode_texts(distinct)
        row_of = {t: k for k, t in enumerate(distinct)}
        out = []
        for i, candidates in enumerate(texts):
            rows = np.fromiter((row_of[t] for t in candidates), dtype=np.int64, count=len(candidates))
            out.append(text_emb[rows] @ image_emb[index[i]])
        if self.is_siglip:
            scale, bias = self._calibration()
            # sigmoid(x) = (1 + tanh(x / 2)) / 2, without overflow for large |x|
            out = [0.5 * (1.0 + np.tanh(0.5 * (scale * cos + bias))) for cos in out]
        return out

