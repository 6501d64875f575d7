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
import importlib
import importlib.util
import json
import logging
import sys
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


# ray.data.llm imports vLLM modules by their old paths; vLLM 0.30+ moved them (Ray 2.60 pins
# vllm 0.29). Old path -> new path, aliased only where the old one is gone and the new one exists.
MOVED_VLLM_MODULES = {"vllm.entrypoints.chat_utils": "vllm.renderers.chat_utils"}


def alias_moved_vllm_modules() -> list[str]:
    """Make ``ray.data.llm``'s imports of moved vLLM modules resolve; returns the aliases made.

    Run in the driver and in every Ray worker (:func:`refaug.executors.ray_data.setup_worker`).
    The moved functions kept their signatures (``parse_chat_messages_async(messages,
    model_config, content_format=)``), which ``tests/test_executor_ray.py`` exercises end to end.
    """
    made = []
    for old, new in MOVED_VLLM_MODULES.items():
        if old in sys.modules or importlib.util.find_spec(new) is None:
            continue
        try:
            importlib.import_module(old)
        except ImportError:
            sys.modules[old] = importlib.import_module(new)
            made.append(old)
            logger.info("aliased %s -> %s for ray.data.llm", old, new)
    return made


def generate_views_llm(ds: Dataset, generator: ViewGenerator, *, replicas: int = 1,
                       cpu: bool = False) -> Dataset:
    """``generator.run(ds)`` with its ``vllm`` backend's engine calls on ``ray.data.llm``.

    Args:
        ds: the referents (an old ``views`` column is replaced).
        generator: a generator whose backend is a :class:`~refaug.views.backends.vllm.VLLMBackend`.
        replicas: vLLM engines (one per GPU with ``tensor_parallel_size`` 1; default 1).
        cpu: the engines run on CPU (vLLM's CPU build, a cluster without GPUs): each replica
            asks Ray for one CPU instead of ray.data.llm's default bundle of one GPU.
    """
    remote = copy.copy(generator)
    remote.backend = RayLLMBackend(generator.backend, replicas=replicas, cpu=cpu)
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
        cpu: each replica reserves one CPU, not one GPU (vLLM's CPU build).
    """

    name: ClassVar[str] = "vllm"

    def __init__(self, backend: VLLMBackend, *, replicas: int = 1, cpu: bool = False) -> None:
        if replicas < 1:
            raise ValueError(f"replicas={replicas!r} is not valid; it must be >= 1")
        super().__init__(model=backend.model, sampling=backend.sampling)
        self.inner = backend
        self.replicas = replicas
        self.cpu = cpu
        self._processor: Any = None

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    @property
    def processor(self) -> Any:
        """The ``ray.data.llm`` processor, built on first use."""
        if self._processor is None:
            self._processor = build_views_processor(self.inner, replicas=self.replicas, cpu=self.cpu)
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


def build_views_processor(backend: VLLMBackend, *, replicas: int, cpu: bool = False) -> Any:
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
        # Ray's Prometheus export of the engine's metrics; vLLM's exporter needs Ray Serve
        log_engine_metrics=_ray_serve_importable(),
        # ray.data.llm reserves a {"GPU": 1, "CPU": 1} bundle per replica unless told otherwise
        **({"placement_group_config": {"bundles": [{"CPU": 1}]}} if cpu else {}),
    )
    return build_processor(config, preprocess=preprocess, postprocess=postprocess)


def _ray_serve_importable() -> bool:
    try:
        import ray.serve  # noqa: F401 - vllm.v1.metrics.ray_wrappers imports it
    except ImportError:
        logger.info("ray.serve does not import (pip install 'ray[serve]'): vLLM engine metrics "
                    "are not exported to Ray's Prometheus endpoint")
        return False
    return True


def _data_url(image: str | bytes) -> str:
    """The image re-encoded as a PNG data URL (what the in-process backend decodes, losslessly)."""
    import io

    buffer = io.BytesIO()
    decode_image(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
