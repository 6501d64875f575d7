"""The views stage through ``ray.data.llm``: vLLM engine replicas, data-parallel over the cluster.

:class:`RayLLMBackend` stands in for the in-process ``vllm`` backend inside the same
:class:`~refaug.views.ViewGenerator`, so the generator still renders the prompt (template,
referents, boxes), builds the JSON schema, reads and writes the views cache, parses with
refaug's parser and retries a failure with its reason. Only the engine call changes: a batch
of requests (one per image) becomes a Ray dataset that a ``vLLMEngineProcessorConfig``
processor answers across ``replicas`` engines; each request is one chat (the image as a
data URL, then the prompt) with its schema as structured output. The backend's identity is
the ``vllm`` backend's, so both paths share cache entries: finished images are never sent
again, whichever path finished them.

Needs ``ray[data,llm]`` next to vLLM (``pip install 'refaug[ray]' 'ray[llm]'``).

Example:
    >>> generator = ViewGenerator(VLLMBackend("llava-hf/llava-1.5-7b-hf"), cache_dir="cache/views")  # doctest: +SKIP
    >>> out = generate_views_llm(ds, generator, replicas=4)                                    # doctest: +SKIP
"""

from __future__ import annotations

import base64
import copy
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from datasets import Dataset

from refaug.images import decode_image
from refaug.views.backends.base import ImageRequest, ViewBackend

if TYPE_CHECKING:
    from refaug.views import ViewGenerator
    from refaug.views.backends.vllm import VLLMBackend

logger = logging.getLogger(__name__)

REQUESTS_PER_REPLICA = 64  # requests sent per engine replica and call: keeps each engine's batch full
ERROR_COLUMN = "__inference_error__"  # ray.data.llm's column for a row that failed (should_continue_on_error)


def generate_views_llm(ds: Dataset, generator: ViewGenerator, *, replicas: int = 1) -> Dataset:
    """``generator.run(ds)`` with its ``vllm`` backend's engine calls on ``ray.data.llm``.

    Args:
        ds: the referents (an old ``views`` column is replaced).
        generator: a generator whose backend is a :class:`~refaug.views.backends.vllm.VLLMBackend`.
        replicas: vLLM engines (one per GPU with ``tensor_parallel_size`` 1; default 1).
    """
    remote = copy.copy(generator)
    remote.backend = RayLLMBackend(generator.backend, replicas=replicas)
    remote.batch_size = max(generator.batch_size, REQUESTS_PER_REPLICA * replicas)
    out = remote.run(ds, show_progress_bar=False)
    generator.report = remote.report
    return out


class RayLLMBackend(ViewBackend):
    """A ``vllm`` backend whose engine calls run on ``ray.data.llm`` replicas.

    Args:
        backend: the in-process backend whose model, engine options, sampling and structured
            decoding it uses (and whose :meth:`identity` it keeps, for the cache).
        replicas: data-parallel engine replicas (default 1).
    """

    name: ClassVar[str] = "vllm"

    def __init__(self, backend: VLLMBackend, *, replicas: int = 1) -> None:
        if replicas < 1:
            raise ValueError(f"replicas={replicas!r} is not valid; it must be >= 1")
        super().__init__(model=backend.model, sampling=backend.sampling)
        self.inner = backend
        self.replicas = replicas
        self._processor: Any = None

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    @property
    def processor(self) -> Any:
        """The ``ray.data.llm`` processor, built on first use."""
        if self._processor is None:
            self._processor = build_views_processor(self.inner, replicas=self.replicas)
        return self._processor

    def generate(self, requests: Sequence[ImageRequest]) -> list[str | Exception]:
        """Answer every request through the processor; a failed row gets its error."""
        if not requests:
            return []
        import ray

        results: list[str | Exception] = [RuntimeError("no answer")] * len(requests)
        items = []
        for slot, request in enumerate(requests):
            try:
                items.append(request_row(slot, request, structured=self.inner.structured))
            except Exception as error:  # an unreadable image fails this request only
                results[slot] = error
        for row in self.processor(ray.data.from_items(items)).take_all():
            error = row.get(ERROR_COLUMN)
            results[row["slot"]] = RuntimeError(error) if error else row["text"]
        return results


def request_row(slot: int, request: ImageRequest, *, structured: bool) -> dict[str, Any]:
    """One request as a row: the chat (image part, then the prompt) and the schema as JSON."""
    content: list[dict[str, Any]] = []
    if request.image is not None:
        content.append({"type": "image_url", "image_url": {"url": _data_url(request.image)}})
    content.append({"type": "text", "text": request.prompt})
    schema = json.dumps(request.json_schema) if structured and request.json_schema else ""
    return {"slot": slot, "messages": [{"role": "user", "content": content}], "schema": schema}


def build_views_processor(backend: VLLMBackend, *, replicas: int) -> Any:
    """A ``vLLMEngineProcessorConfig`` processor with the backend's model, engine and sampling."""
    try:
        from ray.data.llm import build_processor, vLLMEngineProcessorConfig
    except ImportError as error:
        raise ImportError("the views stage on Ray with the vllm backend needs ray.data.llm. Fix: "
                          "pip install 'ray[data,llm]' next to vLLM, or run with executor='local'") from error
    sampling = backend.sampling

    def preprocess(row: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {"temperature": sampling.temperature, "top_p": sampling.top_p,
                                  "max_tokens": sampling.max_tokens, "seed": sampling.seed}
        if row["schema"]:
            params["structured_outputs"] = {"json": json.loads(row["schema"])}
        return {"slot": row["slot"], "messages": row["messages"], "sampling_params": params}

    def postprocess(row: dict[str, Any]) -> dict[str, Any]:
        return {"slot": row["slot"], "text": row.get("generated_text") or "",
                ERROR_COLUMN: row.get(ERROR_COLUMN) or ""}

    config = vLLMEngineProcessorConfig(
        model_source=backend.model,
        engine_kwargs=backend._engine_kwargs(),  # the same engine options (compact JSON) as in process
        concurrency=replicas,
        batch_size=REQUESTS_PER_REPLICA,
        prepare_multimodal_stage=True,
        should_continue_on_error=True,
    )
    return build_processor(config, preprocess=preprocess, postprocess=postprocess)


def _data_url(image: str | bytes) -> str:
    """The image re-encoded as a PNG data URL (what the in-process backend decodes, losslessly)."""
    import io

    buffer = io.BytesIO()
    decode_image(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
