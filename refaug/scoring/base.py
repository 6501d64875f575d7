"""Model-in-the-loop scorers: the user's own model says which texts describe a referent.

A hard negative is most useful when *the model being trained* confuses it with the truth.
A :class:`Scorer` gives refaug that model's opinion: for a batch of referents and, per
referent, a list of candidate texts, it returns one score per text. Higher means the model
thinks the text describes the referent more.

The interface:

* ``scorer(referents, texts) -> list[np.ndarray]``: ``referents`` are rows in refaug's
  schema (:data:`refaug.records.REFERENT_FEATURES`: ``image``, ``bbox`` as ``[x, y, w, h]``
  pixels, ``expressions``, ``category``...), ``texts[i]`` are the candidates of
  ``referents[i]``; the answer holds one float32 array per referent, one score per text.
* ``scorer.threshold``: the model's decision point (``score >= threshold`` means "the model
  says this text matches"), or None for *relative* scores that the caller compares with the
  scores of the referent's own expressions.
* ``scorer.batch_size`` (referents per call), ``scorer.name`` (for logs),
  ``scorer.config()`` (a JSON-serialisable description of what determines the scores, for
  caches and fingerprints), and the counters ``scorer.calls`` and ``scorer.texts_scored``.
* :func:`score_all` runs a scorer over many referents in batches with a progress bar.

Scorers provided: :class:`FunctionScorer` wraps any user function in a few lines,
:class:`CLIPScorer` scores image crops against texts with a CLIP or SigLIP checkpoint, and
:class:`TextScorer` is a text-only stand-in that compares candidates with the referent's own
expressions in a sentence-embedding space.

A new scorer subclasses :class:`Scorer` and implements one hook, ``_score``; the base
class checks the inputs and outputs and keeps the counts.

Example:
    >>> import numpy as np
    >>> def word_overlap(referents, texts):
    ...     out = []
    ...     for row, candidates in zip(referents, texts):
    ...         words = {w for e in row["expressions"] for w in e.split()}
    ...         out.append([len(words & set(t.split())) for t in candidates])
    ...     return out
    >>> scorer = FunctionScorer(word_overlap, threshold=2.0)
    >>> rows = [{"referent_id": "r1", "expressions": ["the red car"]}]
    >>> scorer(rows, [["a red car", "the dog"]])
    [array([2., 1.], dtype=float32)]
    >>> scorer.calls, scorer.texts_scored
    (1, 2)
"""

from __future__ import annotations

import abc
import json
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from tqdm.auto import tqdm

from refaug.embed import Embedder, model_identity
from refaug.errors import BackendError, DataError, check_choice
from refaug.images import decode_image

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
# score_all shows a progress bar by default when the work takes more batches than this.
_PROGRESS_MIN_BATCHES = 10


def _referent_label(row: Mapping[str, Any], index: int) -> str:
    """``referent #3 (synthetic-0-3)``: the position in the batch and the id when there is one."""
    rid = row.get("referent_id") if isinstance(row, Mapping) else None
    return f"referent #{index} ({rid})" if rid is not None else f"referent #{index}"


def _qualified_name(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{module}.{name}" if module else name


class Scorer(abc.ABC):
    """The user's model as a scorer of (referent, text) pairs.

    Subclasses implement :meth:`_score`; calling the scorer checks the inputs, calls the
    hook, checks that it returned one finite score per text and counts the work.

    Args:
        threshold: the model's decision point: ``score >= threshold`` means the model says
            the text matches the referent. None (the default) means the scores are
            relative: compare them with the scores of the referent's own expressions.
        batch_size: referents per call of the scorer (see :func:`score_all`). Defaults to 32.
        name: a name for logs; defaults to the class name.

    Attributes:
        calls: how many non-empty batches were scored (a benchmark reports calls per referent).
        texts_scored: how many texts were scored.
        allows_nan: whether a NaN score is a valid answer ("nothing to compare with").

    Example:
        >>> class Length(Scorer):
        ...     def _score(self, referents, texts):
        ...         return [[float(len(t)) for t in row] for row in texts]
        >>> Length()([{"referent_id": "r"}], [["ab", "abc"]])
        [array([2., 3.], dtype=float32)]
    """

    allows_nan: bool = False
    # Counters and loaded models, with the values they restart from: left out of the pickled
    # state so that ``datasets.fingerprint.Hasher`` gives a scorer one hash before and after use.
    _transient: Mapping[str, Any] = {"calls": 0, "texts_scored": 0}

    def __init__(
        self, *, threshold: float | None = None, batch_size: int = 32, name: str | None = None
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} must be an integer >= 1")
        if threshold is not None and not math.isfinite(float(threshold)):
            raise ValueError(f"threshold={threshold!r} must be a finite number or None")
        self._threshold = None if threshold is None else float(threshold)
        self.batch_size = batch_size
        self.name = name or type(self).__name__
        self.calls = 0
        self.texts_scored = 0

    # ------------------------------------------------------------------ state

    @property
    def threshold(self) -> float | None:
        """The decision point (``score >= threshold`` means a match), or None for relative scores."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float | None) -> None:
        if value is not None and not math.isfinite(float(value)):
            raise ValueError(f"threshold={value!r} must be a finite number or None")
        self._threshold = None if value is None else float(value)

    def config(self) -> dict[str, Any]:
        """What determines the scores and decisions, JSON-serialisable (for caches and fingerprints).

        Subclasses extend it with their model's identity and options.
        """
        return {"scorer": _qualified_name(type(self)), "threshold": self._threshold}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for key in self._transient:
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(self._transient)
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, threshold={self.threshold!r}, "
                f"batch_size={self.batch_size})")

    # ---------------------------------------------------------------- scoring

    @abc.abstractmethod
    def _score(
        self, referents: Sequence[Mapping[str, Any]], texts: Sequence[Sequence[str]]
    ) -> Sequence[Any]:
        """Return, per referent, one score per text (any array-like of numbers)."""

    def __call__(
        self, referents: Sequence[Mapping[str, Any]], texts: Sequence[Sequence[str]]
    ) -> list[np.ndarray]:
        """Score ``texts[i]`` against ``referents[i]``: one float32 array per referent.

        Raises:
            ValueError: the inputs do not pair up, or the model returned the wrong number
                of scores or a non-finite score.
        """
        referents, texts = list(referents), [list(t) for t in _check_texts(referents, texts)]
        total = sum(len(t) for t in texts)
        if total == 0:
            return [np.zeros(0, dtype=np.float32) for _ in referents]
        raw = self._score(referents, texts)
        scores = self._check_scores(raw, referents, texts)
        self.calls += 1
        self.texts_scored += total
        return scores

    def _check_scores(
        self, raw: Sequence[Any], referents: list, texts: list[list[str]]
    ) -> list[np.ndarray]:
        if raw is None or len(raw) != len(referents):
            got = "None" if raw is None else f"{len(raw)} arrays"
            raise ValueError(
                f"scorer {self.name!r} returned {got} for {len(referents)} referents; "
                "it must return one array of scores per referent"
            )
        out = []
        for i, (values, candidates) in enumerate(zip(raw, texts)):
            where = _referent_label(referents[i], i)
            try:
                array = np.asarray(values, dtype=np.float32)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"scorer {self.name!r} returned scores for {where} that are "
                                 f"not a flat list of numbers: {exc}") from exc
            if array.ndim != 1 or array.shape[0] != len(candidates):
                n = array.shape[0] if array.ndim == 1 else 0
                got = f"{n} score{'' if n == 1 else 's'}" if array.ndim == 1 else \
                    f"an array of shape {array.shape}"
                raise ValueError(
                    f"scorer {self.name!r} returned {got} for {where}; expected "
                    f"{len(candidates)} (one per candidate text, in a flat list)"
                )
            bad = np.isinf(array) if self.allows_nan else ~np.isfinite(array)
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"scorer {self.name!r} returned a non-finite score ({array[k]}) for {where}, "
                    f"text #{k} {candidates[k]!r}; scores must be finite numbers"
                )
            out.append(array)
        return out


def _check_texts(referents: Sequence[Any], texts: Sequence[Sequence[str]]) -> Sequence[Sequence[str]]:
    if len(referents) != len(texts):
        raise ValueError(
            f"got {len(referents)} referents and {len(texts)} lists of texts; pass one list of "
            "candidate texts per referent"
        )
    for i, candidates in enumerate(texts):
        if isinstance(candidates, str):
            raise ValueError(
                f"texts[{i}] is a string ({candidates!r}), not a list of strings; wrap it in a "
                "list: texts=[[...], ...] holds one list of candidates per referent"
            )
    return texts


# ------------------------------------------------------------------------ helpers


def _rows(referents: Any, start: int, stop: int) -> list[Mapping[str, Any]]:
    """Rows ``start:stop`` of a list of rows or of a ``datasets.Dataset`` (sliced by columns)."""
    part = referents[start:stop]
    if isinstance(part, Mapping):  # a Dataset slice: {column: [values]}
        columns = list(part)
        return [dict(zip(columns, values)) for values in zip(*(part[c] for c in columns))]
    return list(part)


def decision_point(scorer: Scorer, own_scores: np.ndarray) -> float:
    """Where ``scorer`` says "match": its ``threshold``, or for relative scorers the mean score
    of the referent's own texts (NaN when none of them could be scored).

    Example:
        >>> round(decision_point(FunctionScorer(lambda r, t: t), np.array([0.2, 0.4])), 2)
        0.3
    """
    if scorer.threshold is not None:
        return float(scorer.threshold)
    own = np.asarray(own_scores, np.float64)
    return float(np.nanmean(own)) if np.isfinite(own).any() else float("nan")


def score_all(
    scorer: Scorer,
    referents: Sequence[Mapping[str, Any]],
    texts: Sequence[Sequence[str]],
    *,
    show_progress_bar: bool | None = None,
) -> list[np.ndarray]:
    """Score every referent's texts, ``scorer.batch_size`` referents per call.

    Args:
        scorer: the scorer.
        referents: rows in refaug's schema: a list of dicts or a ``datasets.Dataset``.
        texts: one list of candidate texts per referent.
        show_progress_bar: show a progress bar; None (the default) shows one when the work
            takes more than 10 batches.

    Returns:
        One float32 array per referent, one score per text.

    Example:
        >>> scorer = FunctionScorer(lambda refs, texts: [[1.0] * len(t) for t in texts],
        ...                         batch_size=2)
        >>> rows = [{"referent_id": str(i)} for i in range(5)]
        >>> [len(s) for s in score_all(scorer, rows, [["a"], ["b", "c"], [], ["d"], ["e"]])]
        [1, 2, 0, 1, 1]
        >>> scorer.calls
        3
    """
    _check_texts(referents, texts)
    n, size = len(referents), scorer.batch_size
    batches = math.ceil(n / size) if n else 0
    show = batches > _PROGRESS_MIN_BATCHES if show_progress_bar is None else show_progress_bar
    calls_before, texts_before = scorer.calls, scorer.texts_scored
    out: list[np.ndarray] = []
    with tqdm(total=n, desc=f"Scoring ({scorer.name})", unit="referent", disable=not show) as bar:
        for start in range(0, n, size):
            stop = min(start + size, n)
            out.extend(scorer(_rows(referents, start, stop), texts[start:stop]))
            bar.update(stop - start)
    logger.info(
        "%s scored %d texts of %d referents in %d calls",
        scorer.name, scorer.texts_scored - texts_before, n, scorer.calls - calls_before,
    )
    return out


# --------------------------------------------------------------- function scorer


class FunctionScorer(Scorer):
    """A scorer around a plain function: plug any model in with a few lines.

    Args:
        fn: ``fn(referents, texts) -> list[array-like]``: for each referent, one score per
            text (higher = a better match). Define it at module level so the scorer pickles
            (``Dataset.map`` with ``num_proc`` and fingerprints need that).
        threshold: the model's decision point, or None for relative scores (see :class:`Scorer`).
        batch_size: referents per call. Defaults to 32.
        name: a name for logs; defaults to the function's name.
        settings: JSON-serialisable settings that determine the scores (checkpoint, prompt,
            version), added to :meth:`config` so a cache notices when they change.

    Example:
        >>> scorer = FunctionScorer(lambda refs, texts: [[0.0] * len(t) for t in texts],
        ...                         threshold=0.5, settings={"checkpoint": "my-model-v2"})
        >>> scorer.config()["settings"]
        {'checkpoint': 'my-model-v2'}
    """

    def __init__(
        self,
        fn: Callable[[Sequence[Mapping[str, Any]], Sequence[Sequence[str]]], Sequence[Any]],
        *,
        threshold: float | None = None,
        batch_size: int = 32,
        name: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        if not callable(fn):
            raise ValueError(f"fn={fn!r} is not callable; pass a function fn(referents, texts)")
        super().__init__(threshold=threshold, batch_size=batch_size,
                         name=name or getattr(fn, "__name__", None) or type(fn).__name__)
        self.fn = fn
        self.settings = dict(settings) if settings is not None else {}
        try:
            json.dumps(self.settings, sort_keys=True)
        except TypeError as exc:
            raise ValueError(
                f"settings={settings!r} is not JSON-serialisable ({exc}); pass plain strings, "
                "numbers, lists and dicts"
            ) from exc

    def _score(self, referents, texts):
        return self.fn(referents, texts)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "function": _qualified_name(self.fn), "settings": self.settings}

    def __repr__(self) -> str:
        return (f"FunctionScorer({_qualified_name(self.fn)}, threshold={self.threshold!r}, "
                f"batch_size={self.batch_size})")


# ------------------------------------------------------------------- images


def load_image(value: Any, *, referent: str = "referent") -> Any:
    """Decode a row's ``image`` into an RGB ``PIL.Image`` (:func:`refaug.images.decode_image`).

    Raises:
        DataError: the row has no image, or it cannot be read.

    Example:
        >>> from PIL import Image
        >>> load_image(Image.new("L", (4, 3))).mode
        'RGB'
    """
    return decode_image(value, row=referent, fix=(
        "load the dataset with its images (e.g. load_refer(..., image_root=...)) or "
        "score it with a text-only scorer such as TextScorer"))


def _image_key(value: Any) -> Any:
    """A hashable key that is equal for rows sharing one image (decode it once)."""
    if isinstance(value, Mapping):
        if value.get("bytes") is not None:
            return bytes(value["bytes"])
        return ("path", value.get("path"))
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, (str, os.PathLike)):
        return ("path", os.fspath(value))
    return ("object", id(value))


def crop_box(
    bbox: Sequence[float], image_size: tuple[int, int], *, padding: float = 0.0
) -> tuple[int, int, int, int]:
    """The pixel box ``(left, top, right, bottom)`` of ``bbox`` grown by ``padding``, in the image.

    Args:
        bbox: ``[x, y, w, h]`` in pixels.
        image_size: ``(width, height)``.
        padding: added on each side, as a fraction of the box's width and height.

    Example:
        >>> crop_box([10, 10, 20, 10], (64, 48), padding=0.5)
        (0, 5, 40, 25)
    """
    x, y, w, h = (float(v) for v in bbox)
    width, height = image_size
    if not (w > 0 and h > 0):
        raise ValueError(f"bbox={list(bbox)} has no area; boxes are [x, y, w, h] with w, h > 0")
    left = max(0, math.floor(x - padding * w))
    top = max(0, math.floor(y - padding * h))
    right = min(width, math.ceil(x + w + padding * w))
    bottom = min(height, math.ceil(y + h + padding * h))
    left, top = min(left, width - 1), min(top, height - 1)
    return left, top, max(right, left + 1), max(bottom, top + 1)


# --------------------------------------------------------------------- CLIP


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


# --------------------------------------------------------------------- text


class TextScorer(Scorer):
    """A text-only scorer: how close a candidate is to the referent's own expressions.

    The score of a candidate is the largest cosine similarity between it and the
    referent's ``expressions``, leaving out an expression identical to the candidate (so a
    referent's own expression is scored against its other expressions). Where nothing is
    left to compare with, the score is NaN.

    Args:
        model: a sentence-transformers model name or folder; None is the packaged
            all-MiniLM-L6-v2 (see :func:`refaug.embed.resolve_model`).
        embedder: an :class:`~refaug.embed.Embedder` to use instead of ``model`` (for its
            device, batch size or disk cache).
        threshold: the decision point, or None (the default) for relative scores.
        batch_size: referents per call. Defaults to 256.
        preprocess: a function ``str -> str`` applied to every text (candidates and
            expressions) before embedding, e.g. to model a reader that ignores colours.
            Define it at module level so the scorer pickles.

    Example:
        >>> scorer = TextScorer()
        >>> rows = [{"referent_id": "r", "expressions": ["the man on the left", "left guy"]}]
        >>> scorer(rows, [["the man on the left", "a bowl of soup"]])  # doctest: +SKIP
        [array([0.71, 0.05], dtype=float32)]
    """

    allows_nan = True

    def __init__(
        self,
        model: str | None = None,
        *,
        embedder: Embedder | None = None,
        threshold: float | None = None,
        batch_size: int = 256,
        preprocess: Callable[[str], str] | None = None,
    ) -> None:
        if embedder is not None and model is not None:
            raise ValueError("pass model= or embedder=, not both (the embedder names its model)")
        if preprocess is not None and not callable(preprocess):
            raise ValueError(f"preprocess={preprocess!r} is not callable; pass a function str -> str")
        self.embedder = embedder if embedder is not None else Embedder(model)
        super().__init__(threshold=threshold, batch_size=batch_size,
                         name=f"TextScorer({os.path.basename(self.embedder.model_name.rstrip('/'))})")
        self.preprocess = preprocess

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "embedder": self.embedder.config(),
            "preprocess": _qualified_name(self.preprocess) if self.preprocess else None,
        }

    def __repr__(self) -> str:
        pre = _qualified_name(self.preprocess) if self.preprocess else None
        return (f"TextScorer(model={self.embedder.model_name!r}, threshold={self._threshold!r}, "
                f"batch_size={self.batch_size}, preprocess={pre!r})")

    def _score(self, referents, texts):
        expressions = [list(row.get("expressions") or ()) for row in referents]
        every = [t for group in (*expressions, *texts) for t in group]
        distinct = list(dict.fromkeys(every))
        shown = [self.preprocess(t) for t in distinct] if self.preprocess else distinct
        vectors = self.embedder.encode(shown)
        row_of = {t: k for k, t in enumerate(distinct)}
        out = []
        for own, candidates in zip(expressions, texts):
            if not candidates:
                out.append(np.zeros(0, dtype=np.float32))
                continue
            if not own:
                out.append(np.full(len(candidates), np.nan, dtype=np.float32))
                continue
            cand = vectors[[row_of[t] for t in candidates]]
            sims = cand @ vectors[[row_of[t] for t in own]].T
            same = np.asarray(candidates, dtype=object)[:, None] == np.asarray(own, dtype=object)[None, :]
            sims = np.where(same, -np.inf, sims)
            best = sims.max(axis=1)
            out.append(np.where(np.isneginf(best), np.nan, best).astype(np.float32))
        return out


def _import_module(module: str, *, spec: str) -> Any:
    """Import ``module``, looking in the current folder too (as ``python -m`` does)."""
    import importlib
    import sys

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        here, top = os.getcwd(), module.partition(".")[0]
        in_here = os.path.isdir(os.path.join(here, top)) or os.path.isfile(os.path.join(here, f"{top}.py"))
        if exc.name != top or here in sys.path or not in_here:
            raise ValueError(f"scorer spec {spec!r}: cannot import {module!r} ({exc}); run from the "
                             "folder that holds it or add that folder to PYTHONPATH") from exc
    sys.path.insert(0, here)
    return importlib.import_module(module)


def scorer_from_spec(spec: str, *, threshold: float | None = None) -> Scorer:
    """Build a scorer from a command-line spec.

    ``text`` or ``text:MODEL`` (:class:`TextScorer`), ``clip:CHECKPOINT`` (:class:`CLIPScorer`
    on the referent's box), ``clip-image:CHECKPOINT`` (on the whole image), or
    ``python:MODULE:NAME`` where ``NAME`` is a :class:`Scorer` instance, or a callable that
    returns one (called with no arguments); ``MODULE`` is looked for in the current folder
    too, as ``python -m`` does.

    Raises:
        ValueError: the spec is not valid, ``MODULE`` cannot be imported, or ``NAME`` is
            not a scorer.

    Example:
        >>> scorer_from_spec("text")  # doctest: +SKIP
        TextScorer(model=..., threshold=None)
    """
    kind, _, rest = spec.partition(":")
    if kind == "text":
        return TextScorer(rest or None, threshold=threshold)
    if kind in ("clip", "clip-image") and rest:
        return CLIPScorer(rest, crop="box" if kind == "clip" else "image", threshold=threshold)
    if kind == "python" and rest.count(":") == 1:
        module, name = rest.split(":")
        obj = getattr(_import_module(module, spec=spec), name, None)
        if obj is None:
            raise ValueError(f"scorer spec {spec!r}: module {module!r} has no {name!r}")
        scorer = obj() if callable(obj) and not isinstance(obj, Scorer) else obj
        if not isinstance(scorer, Scorer):
            raise ValueError(f"scorer spec {spec!r} gave {type(scorer).__name__}, not a "
                             "refaug.scoring.Scorer; NAME must be a Scorer or a function returning one")
        if threshold is not None:
            scorer.threshold = threshold
        return scorer
    raise ValueError(f"scorer spec {spec!r} is not valid; use text, text:MODEL, clip:CHECKPOINT, "
                     "clip-image:CHECKPOINT or python:MODULE:NAME")
