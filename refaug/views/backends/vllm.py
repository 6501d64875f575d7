"""The ``vllm`` backend: an in-process ``vllm.LLM`` engine (batch jobs on a GPU box).

All requests of a batch go to the engine in **one** ``LLM.chat`` call, one conversation per
image (the image as a PIL image part, then the rendered prompt), so vLLM schedules them
together with continuous batching. Each request carries its own JSON schema as
``SamplingParams(structured_outputs=StructuredOutputsParams(json=schema))``; the schema's
strings are bounded by patterns (see :mod:`refaug.views.schema`), so constrained decoding
always finishes with valid JSON, even on a model with random weights.

The engine is built on the first batch and kept in ``_llm``, outside pickles and
``datasets`` fingerprints.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from refaug.errors import BackendError
from refaug.images import decode_image
from refaug.torchvision_mend import ensure_torchvision_importable
from refaug.views.backends.base import ImageRequest, SamplingSettings, ViewBackend

logger = logging.getLogger(__name__)

# vllm.LLM options that change what the model writes (so they belong in cache keys).
_OUTPUT_OPTIONS = frozenset(
    {"dtype", "quantization", "revision", "tokenizer", "tokenizer_revision", "hf_overrides"}
)


class VLLMBackend(ViewBackend):
    """Writes views with a vision-language model run by an in-process ``vllm.LLM``.

    Args:
        model: a model folder or hub name vLLM can load (e.g. ``"llava-hf/llava-1.5-7b-hf"``).
        sampling: decoding settings; default :class:`SamplingSettings` (greedy).
        engine_options: keyword arguments for ``vllm.LLM`` (``dtype``, ``max_model_len``,
            ``enforce_eager``, ``tensor_parallel_size``, ``gpu_memory_utilization``...);
            default none. Those that change the outputs (``dtype``, ``quantization``,
            ``revision``, ``tokenizer``...) are part of :meth:`identity`; the others are not.
        structured: constrain decoding to each request's JSON schema (default True).
        compact_json: forbid whitespace between JSON tokens (default True). Without it a
            weak model can fill its whole token budget with blank space between two tokens
            (measured: a random tiny LLaVA wrote ``{`` and then 1,500 tokens of ``\\r``
            and ``\\n``). vLLM sets this per engine, so it goes into
            ``structured_outputs_config`` (``disable_any_whitespace``, with the ``xgrammar``
            backend unless ``engine_options`` names another one).

    Raises:
        ValueError: ``engine_options`` sets ``model``, which is its own argument.

    Example:
        >>> backend = VLLMBackend("llava-hf/llava-1.5-7b-hf",
        ...                       engine_options={"max_model_len": 4096})
        >>> backend.identity()["backend"]
        'vllm'
    """

    name: ClassVar[str] = "vllm"

    def __init__(
        self,
        model: str,
        *,
        sampling: SamplingSettings | None = None,
        engine_options: Mapping[str, Any] | None = None,
        structured: bool = True,
        compact_json: bool = True,
    ) -> None:
        super().__init__(model=str(model), sampling=sampling)
        options = dict(engine_options or {})
        if "model" in options:
            raise ValueError(
                "engine_options={'model': ...} is not valid; pass the model as `model`"
            )
        self.engine_options = options
        self.structured = bool(structured)
        self.compact_json = bool(compact_json)
        self._llm: Any = None

    def identity(self) -> dict[str, Any]:
        """Backend, model, sampling and the structured-output mode (for cache keys)."""
        engine = {k: v for k, v in self.engine_options.items() if k in _OUTPUT_OPTIONS}
        return {
            **super().identity(),
            "engine": dict(sorted(engine.items())),
            "structured": self.structured,
            "compact_json": self.compact_json,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._llm = None

    @property
    def llm(self) -> Any:
        """The ``vllm.LLM`` engine, built on first use."""
        if self._llm is None:
            vllm = import_vllm()
            logger.info("starting vllm.LLM(%r, %s)", self.model, self.engine_options)
            try:
                self._llm = vllm.LLM(model=self.model, **self._engine_kwargs())
            except Exception as error:
                raise BackendError(
                    f"vllm.LLM({self.model!r}) did not start: {error}. Fix: check the model "
                    "folder and engine_options (max_model_len, dtype, memory)"
                ) from error
        return self._llm

    def _engine_kwargs(self) -> dict[str, Any]:
        options = dict(self.engine_options)
        if self.structured and self.compact_json:
            config = options.get("structured_outputs_config") or {}
            if not isinstance(config, Mapping):  # a vllm StructuredOutputsConfig object
                config = {k: getattr(config, k) for k in ("backend", "disable_any_whitespace")}
            config = {"backend": "xgrammar", **config, "disable_any_whitespace": True}
            if config["backend"] == "auto":
                config["backend"] = "xgrammar"
            options["structured_outputs_config"] = config
        return options

    def generate(self, requests: Sequence[ImageRequest]) -> list[str | Exception]:
        """Answer every request in one engine call.

        A request whose image cannot be read gets its exception and is not sent. When the
        engine rejects the batch (a prompt longer than ``max_model_len``, say), each request
        is sent on its own so that only the bad ones fail.

        Raises:
            BackendError: vLLM is not installed or the engine cannot start.
        """
        if not requests:
            return []
        llm = self.llm  # first: a missing vLLM is a BackendError, not a per-request failure
        results: list[str | Exception | None] = [None] * len(requests)
        conversations, params, slots = [], [], []
        for slot, request in enumerate(requests):
            try:
                conversations.append(_conversation(request))
            except Exception as error:  # an unreadable image fails this request only
                logger.warning("image %s: cannot read the image: %s", request.image_id, error)
                results[slot] = error
                continue
            params.append(self._sampling_params(request))
            slots.append(slot)
        if conversations:
            answers = self._chat(llm, conversations, params, [requests[s] for s in slots])
            for slot, answer in zip(slots, answers, strict=True):
                results[slot] = answer
        return [r if r is not None else RuntimeError("no answer") for r in results]

    def _chat(
        self, llm: Any, conversations: list, params: list, requests: list[ImageRequest]
    ) -> list[str | Exception]:
        try:
            outputs = llm.chat(conversations, sampling_params=params, use_tqdm=False)
        except Exception as error:
            if len(conversations) == 1:
                logger.warning("image %s: the engine failed: %s", requests[0].image_id, error)
                return [error]
            logger.warning(
                "the engine rejected a batch of %d (%s); sending one by one",
                len(conversations),
                error,
            )
            return [
                self._chat(llm, [c], [p], [r])[0]
                for c, p, r in zip(conversations, params, requests, strict=True)
            ]
        return [_output_text(o, r.image_id) for o, r in zip(outputs, requests, strict=True)]

    def _sampling_params(self, request: ImageRequest) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        structured = None
        if self.structured and request.json_schema:
            structured = StructuredOutputsParams(json=request.json_schema)
        return SamplingParams(
            temperature=self.sampling.temperature,
            top_p=self.sampling.top_p,
            max_tokens=self.sampling.max_tokens,
            seed=self.sampling.seed,
            structured_outputs=structured,
        )


def _conversation(request: ImageRequest) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    if request.image is not None:
        content.append({"type": "image_pil", "image_pil": load_image(request.image)})
    content.append({"type": "text", "text": request.prompt})
    return [{"role": "user", "content": content}]


def _output_text(output: Any, image_id: int) -> str:
    completion = output.outputs[0]
    if completion.finish_reason == "length":
        logger.warning("image %s: the response hit max_tokens and is cut short", image_id)
    return completion.text


def load_image(image: str | os.PathLike[str] | bytes) -> Any:
    """Open an image file or encoded bytes as an RGB ``PIL.Image`` (fully loaded)."""
    return decode_image(image)


def import_vllm() -> Any:
    """Import ``vllm``, mending a torchvision whose compiled operators do not load.

    Raises:
        BackendError: vLLM is not installed or fails to import.
    """
    if importlib.util.find_spec("vllm") is None:
        raise BackendError(
            "the vllm backend needs vLLM: `pip install vllm` on a GPU machine, or build the CPU "
            "test environment with `bash .ci/vllm-env.sh`"
        )
    mended = ensure_torchvision_importable()
    try:
        import vllm

        if mended:
            _mend_registry_subprocess()
    except Exception as error:
        raise BackendError(f"vLLM is installed but does not import: {error!r}") from error
    return vllm


def python_command(module: str) -> list[str]:
    """The command that runs ``python -m module`` with torchvision mended first when needed.

    Use it to start vLLM's own programs in a subprocess, e.g. the OpenAI-compatible server:
    ``python_command("vllm.entrypoints.openai.api_server") + ["--model", folder]``.
    """
    code = (
        "from refaug.views.backends.vllm import import_vllm; import_vllm(); "
        f"import runpy; runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
    )
    return [sys.executable, "-c", code]


def _mend_registry_subprocess() -> None:
    # vLLM inspects model classes in a fresh interpreter (`python -m ...registry`), which
    # would import torchvision unmended; the module documents this command as replaceable.
    from vllm.model_executor.models import registry

    registry._SUBPROCESS_COMMAND = python_command("vllm.model_executor.models.registry")

