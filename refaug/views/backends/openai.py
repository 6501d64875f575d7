"""The ``openai`` backend: any OpenAI-compatible chat server, e.g. ``vllm serve llava-hf/llava-1.5-7b-hf``.

Each :class:`~refaug.views.backends.base.ImageRequest` becomes one chat completion: the image
as a base64 data URL and the rendered prompt in one user message, and the request's JSON
schema as ``response_format={"type": "json_schema", ...}``, which vLLM's server turns into
structured (grammar-constrained) decoding. The old ``guided_json`` field is not sent: current
vLLM ignores it silently.

Requests of a batch run concurrently (at most ``max_concurrency`` at once), each with a
timeout. Connection errors, timeouts, 429 and 5xx answers are retried with exponential
backoff (honouring ``Retry-After``); other 4xx answers are not, since sending the same
request again cannot mend them. A request that still fails comes back as an ``Exception`` in
its slot, so :class:`~refaug.views.generate.ViewGenerator` retries just that one later.

Serving a weak model (a small or fine-tuned one) with vLLM, start the server with
``--structured-outputs-config '{"backend": "xgrammar", "disable_any_whitespace": true}'``:
JSON grammars allow whitespace between tokens, and a random tiny LLaVA was measured filling
its whole token budget with it.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

from refaug.errors import BackendError
from refaug.views.backends.base import ImageRequest, SamplingSettings, ViewBackend

logger = logging.getLogger(__name__)

# Formats every OpenAI-compatible vision server accepts as they are; others are re-encoded as PNG.
_PASS_THROUGH_FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
_PLACEHOLDER_KEY = "EMPTY"  # what a local server started without --api-key is sent


class OpenAIBackend(ViewBackend):
    """Writes views with a vision-language model behind an OpenAI-compatible chat API.

    Args:
        model: the served model's name, as the server knows it (``GET /v1/models``).
        base_url: the API root, e.g. ``"http://127.0.0.1:8000/v1"``.
        sampling: decoding settings; default :class:`SamplingSettings` (greedy).
        api_key_env: the environment variable that holds the API key (default
            ``"OPENAI_API_KEY"``); it is read when the first batch is sent, never stored.
            ``None`` sends no real key, for a local server started without ``--api-key``.
        max_concurrency: most requests in flight at once (default 8).
        timeout: seconds one HTTP request may take (default 60).
        max_retries: retries of a request after a connection error, a timeout, a 429 or a
            5xx answer (default 3; 0 never retries).
        backoff: seconds before the first retry, doubled for every further one (default 1).
        max_backoff: the longest wait between two tries, also the cap on ``Retry-After``
            (default 30).
        structured: send the request's JSON schema as ``response_format`` (default True).

    Raises:
        ValueError: an option is out of range.

    Example:
        >>> backend = OpenAIBackend("llava-hf/llava-1.5-7b-hf", base_url="http://127.0.0.1:8000/v1",
        ...                         api_key_env=None, max_concurrency=4)
        >>> backend.identity()["backend"]
        'openai'
    """

    name: ClassVar[str] = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        sampling: SamplingSettings | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        max_concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        structured: bool = True,
    ) -> None:
        super().__init__(model=model, sampling=sampling)
        _check_positive(max_concurrency=max_concurrency, timeout=timeout)
        _check_non_negative(max_retries=max_retries, backoff=backoff, max_backoff=max_backoff)
        if not base_url:
            raise ValueError(
                "base_url is empty; give the API root, e.g. 'http://127.0.0.1:8000/v1'"
            )
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.max_concurrency = int(max_concurrency)
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.structured = bool(structured)
        self._client: Any = None
        self._client_lock = threading.Lock()

    def identity(self) -> dict[str, Any]:
        """Backend, model, sampling and whether output was schema-constrained (for cache keys)."""
        return {**super().identity(), "structured": self.structured}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._client = None
        self._client_lock = threading.Lock()

    def generate(self, requests: Sequence[ImageRequest]) -> list[str | Exception]:
        """Answer every request: the response text, or the ``Exception`` that ended its last try.

        Raises:
            BackendError: the API key variable is not set, or the ``openai`` package is missing.
        """
        if not requests:
            return []
        client = self._get_client()
        workers = min(self.max_concurrency, len(requests))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="refaug-openai") as pool:
            return list(pool.map(lambda request: self._answer(client, request), requests))

    def _get_client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                self._client = self._build_client()
            return self._client

    def _build_client(self) -> Any:
        try:
            import openai
        except ImportError as error:
            raise BackendError(
                "the openai backend needs the 'openai' package; install it with "
                "`pip install 'refaug[openai]'`"
            ) from error
        api_key = _read_api_key(self.api_key_env)
        # Retries are ours (the client's own would also retry 408/409 and hide the count).
        return openai.OpenAI(
            api_key=api_key, base_url=self.base_url, timeout=self.timeout, max_retries=0
        )

    def _answer(self, client: Any, request: ImageRequest) -> str | Exception:
        try:
            body = self._request_body(request)
        except Exception as error:  # an unreadable image fails this request only
            logger.warning("image %s: cannot build the request: %s", request.image_id, error)
            return error
        attempt = 0
        while True:
            try:
                return _response_text(client.chat.completions.create(**body), request.image_id)
            except Exception as error:
                delay = self._retry_delay(error, attempt)
                if delay is None:
                    logger.warning("image %s: request failed: %r", request.image_id, error)
                    return error
                attempt += 1
                logger.info(
                    "image %s: %r; retry %d/%d in %.2f s",
                    request.image_id,
                    error,
                    attempt,
                    self.max_retries,
                    delay,
                )
                time.sleep(delay)

    def _request_body(self, request: ImageRequest) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if request.image is not None:
            content.append(
                {"type": "image_url", "image_url": {"url": image_data_url(request.image)}}
            )
        content.append({"type": "text", "text": request.prompt})
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": content}],
            "temperature": self.sampling.temperature,
            "top_p": self.sampling.top_p,
            "max_tokens": self.sampling.max_tokens,
            "seed": self.sampling.seed,
        }
        if self.structured and request.json_schema:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "views", "schema": request.json_schema, "strict": True},
            }
        return body

    def _retry_delay(self, error: Exception, attempt: int) -> float | None:
        """Seconds to wait before the next try, or None when this error is final."""
        if attempt >= self.max_retries or not _is_retryable(error):
            return None
        delay = self.backoff * (2**attempt)
        retry_after = _retry_after_seconds(error)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, self.max_backoff)


def image_data_url(image: str | os.PathLike[str] | bytes) -> str:
    """Encode an image file or encoded bytes as a ``data:`` URL.

    PNG, JPEG, WebP and GIF are sent as they are; any other format PIL reads is re-encoded
    as PNG.

    Example:
        >>> image_data_url(Path("scene.png").read_bytes())[:22]  # doctest: +SKIP
        'data:image/png;base64,'
    """
    from PIL import Image

    data = image if isinstance(image, bytes) else Path(image).read_bytes()
    with Image.open(io.BytesIO(data)) as opened:
        mime = _PASS_THROUGH_FORMATS.get(opened.format or "")
        if mime is None:
            buffer = io.BytesIO()
            opened.convert("RGB").save(buffer, format="PNG")
            data, mime = buffer.getvalue(), "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _response_text(completion: Any, image_id: int) -> str:
    choice = completion.choices[0]
    if choice.finish_reason == "length":
        logger.warning("image %s: the response hit max_tokens and is cut short", image_id)
    return choice.message.content or ""


def _is_retryable(error: Exception) -> bool:
    import openai

    if isinstance(error, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(error, openai.APIStatusError):
        return error.status_code == 429 or error.status_code >= 500
    return False


def _retry_after_seconds(error: Exception) -> float | None:
    response = getattr(error, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: fall back to our own backoff
        return None


def _read_api_key(variable: str | None) -> str:
    if variable is None:
        return _PLACEHOLDER_KEY
    key = os.environ.get(variable)
    if not key:
        raise BackendError(
            f"the openai backend reads its API key from ${variable}, which is not set; "
            f"export {variable}=... or pass api_key_env=None for a local server without --api-key"
        )
    return key


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name}={value!r} is not valid; it must be greater than 0")


def _check_non_negative(**values: float) -> None:
    for name, value in values.items():
        if not value >= 0:
            raise ValueError(f"{name}={value!r} is not valid; it must be 0 or more")
