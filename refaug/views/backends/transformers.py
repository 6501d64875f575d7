"""The ``transformers`` backend: a local image-text-to-text model (LLaVA and kin), no server.

``AutoProcessor`` + ``AutoModelForImageTextToText`` load the model on the first batch (kept
in ``_model`` / ``_processor``, outside pickles and ``datasets`` fingerprints). Requests are
answered ``batch_size`` at a time with one left-padded ``generate`` call each: every image
goes through the vision tower once, in a batch.

Structured output: with ``structured="auto"`` (the default) and the ``xgrammar`` package
installed, every request's JSON schema is compiled into a grammar and a logits processor
masks the tokens that would break it, so the answer always parses (even from a model with
random weights). Without xgrammar the model writes free text, and the generator's parser
and retries deal with what comes back.

Example:
    >>> backend = TransformersBackend(model="llava-hf/llava-1.5-7b-hf", batch_size=4)  # doctest: +SKIP
    >>> ViewGenerator(backend).run(dataset)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, get_args

from refaug.errors import BackendError, check_choice
from refaug.images import decode_image
from refaug.views.backends.base import ImageRequest, SamplingSettings, ViewBackend

logger = logging.getLogger(__name__)

Structured = Literal["auto", "xgrammar", "none"]
STRUCTURED_CHOICES: tuple[str, ...] = get_args(Structured)
DType = Literal["auto", "float32", "bfloat16", "float16"]
DTYPE_CHOICES: tuple[str, ...] = get_args(DType)
_GRAMMAR_CACHE_SIZE = 64  # compiled grammars kept; schemas differ only by the number of referents


class TransformersBackend(ViewBackend):
    """Writes views with a local Hugging Face image-text-to-text model.

    Args:
        model: a model folder or hub name (e.g. ``"llava-hf/llava-1.5-7b-hf"``).
        sampling: decoding settings; default :class:`SamplingSettings` (greedy).
        batch_size: requests per ``generate`` call (default 4).
        device: ``"cuda"``, ``"cpu"``, ...; None picks CUDA when available.
        dtype: ``"auto"`` (bfloat16 on CUDA, float32 on CPU), ``"float32"``, ``"bfloat16"`` or
            ``"float16"``.
        structured: ``"auto"`` (constrain to the JSON schema when xgrammar is installed),
            ``"xgrammar"`` (require it) or ``"none"``.
    """

    name: ClassVar[str] = "transformers"

    def __init__(
        self,
        *,
        model: str,
        sampling: SamplingSettings | None = None,
        batch_size: int = 4,
        device: str | None = None,
        dtype: DType = "auto",
        structured: Structured = "auto",
    ) -> None:
        check_choice("dtype", dtype, DTYPE_CHOICES)
        check_choice("structured", structured, STRUCTURED_CHOICES)
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} is not valid; it must be >= 1")
        if structured == "xgrammar" and importlib.util.find_spec("xgrammar") is None:
            raise BackendError(
                "structured='xgrammar' needs the xgrammar package. Fix: pip install xgrammar"
            )
        super().__init__(model=str(model), sampling=sampling)
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self.structured = structured

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "dtype": self.dtype, "structured": self.uses_grammar}

    @property
    def uses_grammar(self) -> bool:
        """Whether answers are constrained to the request's JSON schema."""
        if self.structured == "none":
            return False
        return importlib.util.find_spec("xgrammar") is not None

    # ------------------------------------------------------------------ generation

    def generate(self, requests: Sequence[ImageRequest]) -> list[str | Exception]:
        """One answer per request, in order; a batch that fails yields its exception per request."""
        self._load()
        answers: list[str | Exception] = [""] * len(requests)
        for batch in self._batches(requests):
            try:
                texts = self._generate_batch([requests[i] for i in batch])
            except (RuntimeError, ValueError, OSError) as exc:  # e.g. out of memory, a bad image
                logger.warning("transformers backend: a batch of %d failed: %s", len(batch), exc)
                texts = [exc] * len(batch)
            for i, text in zip(batch, texts):
                answers[i] = text
        return answers

    def _batches(self, requests: Sequence[ImageRequest]) -> list[list[int]]:
        """Indices in batches of ``batch_size``: with and without an image apart, similar lengths together."""
        batches = []
        for has_image in (True, False):
            indices = [i for i, r in enumerate(requests) if (r.image is not None) == has_image]
            indices.sort(key=lambda i: len(requests[i].prompt))
            batches += [
                indices[s : s + self.batch_size] for s in range(0, len(indices), self.batch_size)
            ]
        return batches

    def _generate_batch(self, requests: Sequence[ImageRequest]) -> list[str]:
        import torch

        processor, model = self._processor, self._model
        texts = [
            processor.apply_chat_template(_messages(r), add_generation_prompt=True, tokenize=False)
            for r in requests
        ]
        images = [_load_image(r.image) for r in requests] if requests[0].image is not None else None
        inputs = processor(images=images, text=texts, padding=True, return_tensors="pt")
        inputs = inputs.to(model.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
        options = self._generation_options(requests)
        with torch.inference_mode(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.sampling.seed)
            output = model.generate(**inputs, **options)
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        return processor.batch_decode(new_tokens, skip_special_tokens=True)

    def _generation_options(self, requests: Sequence[ImageRequest]) -> dict[str, Any]:
        sampling = self.sampling
        options: dict[str, Any] = {
            "max_new_tokens": sampling.max_tokens,
            "do_sample": sampling.temperature > 0,
            "pad_token_id": self._processor.tokenizer.pad_token_id,
        }
        if sampling.temperature > 0:
            options.update(temperature=sampling.temperature, top_p=sampling.top_p)
        if self.uses_grammar:
            grammars = [self._grammar(r.json_schema) for r in requests]
            options["logits_processor"] = [_GrammarLogitsProcessor(grammars)]
        return options

    # ------------------------------------------------------------------ loading

    def _load(self) -> None:
        if getattr(self, "_model", None) is not None:
            return
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = self.dtype
        if dtype == "auto":
            dtype = "bfloat16" if device.startswith("cuda") else "float32"
        try:
            processor = AutoProcessor.from_pretrained(self.model)
            model = AutoModelForImageTextToText.from_pretrained(
                self.model, dtype=getattr(torch, dtype)
            )
        except (OSError, ValueError) as exc:
            raise BackendError(
                f"cannot load the model {self.model!r} with transformers: {exc}. Fix: pass a "
                "local folder with the model and processor files, or a hub name that is cached"
            ) from exc
        processor.tokenizer.padding_side = "left"
        self._processor = processor
        self._model = model.to(device).eval()
        self._grammars: OrderedDict[str, Any] = OrderedDict()
        logger.info("transformers backend: loaded %s on %s (%s)", self.model, device, dtype)

    def _grammar(self, schema: dict[str, Any]) -> Any:
        """The compiled grammar of a JSON schema (cached; compiling costs milliseconds)."""
        import xgrammar as xgr

        key = json.dumps(schema)  # property order matters: the grammar writes keys in this order
        if key in self._grammars:
            self._grammars.move_to_end(key)
            return self._grammars[key]
        if getattr(self, "_compiler", None) is None:
            vocab_size = self._model.get_output_embeddings().weight.shape[0]
            info = xgr.TokenizerInfo.from_huggingface(
                self._processor.tokenizer, vocab_size=vocab_size
            )
            self._compiler = xgr.GrammarCompiler(info)
        # No free whitespace: a weak model would spend its token budget on it.
        grammar = self._compiler.compile_json_schema(key, any_whitespace=False, strict_mode=True)
        self._grammars[key] = grammar
        if len(self._grammars) > _GRAMMAR_CACHE_SIZE:
            self._grammars.popitem(last=False)
        return grammar


class _GrammarLogitsProcessor:
    """Masks, row by row, the tokens that would leave each row's grammar (one per ``generate``)."""

    def __init__(self, grammars: Sequence[Any]):
        import xgrammar as xgr

        self._xgr = xgr
        self.matchers = [xgr.GrammarMatcher(g) for g in grammars]
        self.bitmask = xgr.allocate_token_bitmask(
            len(grammars), grammars[0].tokenizer_info.vocab_size
        )
        self.started = False

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.started:
            for row, matcher in enumerate(self.matchers):
                if not matcher.is_terminated() and not matcher.accept_token(
                    int(input_ids[row, -1])
                ):
                    logger.debug(
                        "grammar rejected token %d in row %d", int(input_ids[row, -1]), row
                    )
        self.started = True
        for row, matcher in enumerate(self.matchers):
            if not matcher.is_terminated():
                matcher.fill_next_token_bitmask(self.bitmask, row)
        device = scores.device
        masked = scores.to("cpu") if device.type not in ("cpu", "cuda") else scores
        self._xgr.apply_token_bitmask_inplace(masked, self.bitmask.to(masked.device))
        return masked.to(device)


def _dtype_option(dtype: Any) -> dict[str, Any]:
    """``dtype=`` for transformers >= 4.56, ``torch_dtype=`` before (the old name)."""
    import transformers
    from packaging.version import Version

    name = "dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype"
    return {name: dtype}


def _messages(request: ImageRequest) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    if request.image is not None:
        content.append({"type": "image"})
    content.append({"type": "text", "text": request.prompt})
    return [{"role": "user", "content": content}]


def _load_image(image: str | bytes | None) -> Any:
    return decode_image(image)
