"""Error paths of the openai backend against a scripted HTTP server on 127.0.0.1.

The backend's success path against a real vLLM server lives in tests/test_backend_vllm.py
(marker ``vllm``); these tests pin what the fake can show better: the exact request body,
retries on 429/5xx/timeouts and none on 4xx, bounded concurrency, the API key.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

pytest.importorskip("openai", reason="the openai backend needs the 'openai' package")

from PIL import Image  # noqa: E402

from refaug.errors import BackendError  # noqa: E402
from refaug.records import Referent  # noqa: E402
from refaug.views.backends.base import ImageRequest, SamplingSettings  # noqa: E402
from refaug.views.backends.openai import OpenAIBackend, image_data_url  # noqa: E402

SCHEMA = {
    "type": "object",
    "properties": {"r1": {"type": "string", "pattern": "^[a-z ]{1,20}$"}},
    "required": ["r1"],
    "additionalProperties": False,
}

# A reply: (status, headers, body) or a number of seconds to stall before answering 200.
Reply = tuple[int, dict[str, str], str]


def completion(text: str, finish_reason: str = "stop") -> Reply:
    body = {
        "id": "cmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "tiny",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }
        ],
    }
    return 200, {}, json.dumps(body)


def error(status: int, headers: dict[str, str] | None = None) -> Reply:
    return status, headers or {}, json.dumps({"error": {"message": f"status {status}"}})


class FakeServer:
    """Answers POST /v1/chat/completions from a script; records every request it saw."""

    def __init__(self, script: Callable[[int, dict[str, Any]], Reply | float]) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    number = len(server.requests)
                    server.requests.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    reply = server.script(number, body)
                    if isinstance(reply, (int, float)):
                        time.sleep(reply)
                        reply = completion('{"r1": "late"}')
                finally:
                    # Out of flight before the reply is sent: once the client has it, it may
                    # send its next request before this thread would run a later decrement.
                    with server.lock:
                        server.in_flight -= 1
                status, headers, text = reply
                payload = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out
                    pass

        return Handler

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[..., FakeServer]]:
    servers: list[FakeServer] = []

    def start(script: Callable[[int, dict[str, Any]], Reply | float]) -> FakeServer:
        server = FakeServer(script).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


@pytest.fixture
def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def make_request(image: str | bytes | None, image_id: int = 1) -> ImageRequest:
    referent = Referent(
        referent_id="r1",
        image_id=image_id,
        ann_id=1,
        ref_id=1,
        category="cat",
        supercategory="animal",
        bbox=(0.0, 0.0, 4.0, 4.0),
        image=image,
        expressions=("a red cat",),
        split="train",
    )
    return ImageRequest(
        image_id=image_id,
        image=image,
        referents=(referent,),
        prompt="Describe r1.",
        json_schema=SCHEMA,
    )


def backend_for(server: FakeServer, **options: Any) -> OpenAIBackend:
    defaults: dict[str, Any] = {"api_key_env": None, "backoff": 0.01, "timeout": 5.0}
    return OpenAIBackend("tiny", base_url=server.url, **{**defaults, **options})


def test_sends_image_data_url_schema_and_sampling(serve, png_bytes) -> None:
    server = serve(lambda n, body: completion('{"r1": "a red cat"}'))
    sampling = SamplingSettings(temperature=0.3, top_p=0.9, max_tokens=99, seed=7)
    backend = backend_for(server, sampling=sampling)
    assert backend.generate([make_request(png_bytes)]) == ['{"r1": "a red cat"}']
    (body,) = server.requests
    image_part, text_part = body["messages"][0]["content"]
    url = image_part["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == png_bytes
    assert text_part == {"type": "text", "text": "Describe r1."}
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA
    assert "guided_json" not in body and "guided_json" not in json.dumps(body)
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (
        0.3,
        0.9,
        99,
        7,
    )
    assert body["model"] == "tiny"


def test_image_from_path_and_text_only_request(serve, png_bytes, tmp_path) -> None:
    path = tmp_path / "scene.bmp"
    Image.open(io.BytesIO(png_bytes)).save(path)  # BMP: re-encoded as PNG
    server = serve(lambda n, body: completion("{}"))
    backend = backend_for(server, structured=False)
    assert backend.generate([make_request(str(path)), make_request(None, 2)]) == ["{}", "{}"]
    with_image, text_only = sorted(server.requests, key=lambda b: len(b["messages"][0]["content"]))[
        ::-1
    ]
    assert with_image["messages"][0]["content"][0]["image_url"]["url"].startswith("data:image/png")
    assert [p["type"] for p in text_only["messages"][0]["content"]] == ["text"]
    assert "response_format" not in with_image


def test_answers_keep_request_order(serve, png_bytes) -> None:
    def script(n: int, body: dict[str, Any]) -> Reply | float:
        text = body["messages"][0]["content"][-1]["text"]
        time.sleep(0.05 if text.endswith("0") else 0.0)  # the first request answers last
        return completion(text)

    server = serve(script)
    requests = [
        ImageRequest(image_id=i, image=None, referents=(), prompt=f"prompt {i}") for i in range(6)
    ]
    assert backend_for(server).generate(requests) == [f"prompt {i}" for i in range(6)]


def test_rate_limit_then_success_honours_retry_after(serve, png_bytes) -> None:
    server = serve(
        lambda n, body: error(429, {"Retry-After": "0.2"}) if n < 2 else completion("ok")
    )
    started = time.monotonic()
    assert backend_for(server, max_retries=3).generate([make_request(png_bytes)]) == ["ok"]
    assert len(server.requests) == 3
    assert time.monotonic() - started >= 0.4  # two waits of Retry-After, not of backoff=0.01


def test_server_errors_are_retried_then_returned(serve, png_bytes) -> None:
    import openai

    server = serve(lambda n, body: error(500))
    (result,) = backend_for(server, max_retries=2).generate([make_request(png_bytes)])
    assert isinstance(result, openai.InternalServerError)
    assert len(server.requests) == 3  # one try and two retries


def test_client_errors_are_not_retried(serve, png_bytes) -> None:
    import openai

    server = serve(lambda n, body: error(400))
    (result,) = backend_for(server, max_retries=3).generate([make_request(png_bytes)])
    assert isinstance(result, openai.BadRequestError)
    assert len(server.requests) == 1


def test_timeouts_are_retried(serve, png_bytes) -> None:
    import openai

    server = serve(lambda n, body: 1.0 if n == 0 else completion("fast"))
    backend = backend_for(server, timeout=0.3, max_retries=1)
    assert backend.generate([make_request(png_bytes)]) == ["fast"]
    server_all_slow = serve(lambda n, body: 1.0)
    (result,) = backend_for(server_all_slow, timeout=0.2, max_retries=1).generate(
        [make_request(png_bytes)]
    )
    assert isinstance(result, openai.APITimeoutError)
    assert len(server_all_slow.requests) == 2


def test_connection_refused_is_an_exception_in_its_slot(png_bytes) -> None:
    import socket

    import openai

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = OpenAIBackend(
        "tiny",
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key_env=None,
        backoff=0.01,
        max_retries=1,
    )
    (result,) = backend.generate([make_request(png_bytes)])
    assert isinstance(result, openai.APIConnectionError)


def test_bad_json_text_is_returned_for_the_parser(serve, png_bytes) -> None:
    server = serve(lambda n, body: completion('sure! {"r1": "a red', finish_reason="length"))
    assert backend_for(server).generate([make_request(png_bytes)]) == ['sure! {"r1": "a red']


def test_malformed_http_body_fails_only_its_request(serve, png_bytes) -> None:
    server = serve(lambda n, body: (200, {}, "not json") if n == 0 else completion("ok"))
    backend = backend_for(server, max_concurrency=1, max_retries=0)
    first, second = backend.generate([make_request(png_bytes, 1), make_request(png_bytes, 2)])
    assert isinstance(first, Exception) and second == "ok"


def test_unreadable_image_fails_only_its_request(serve, png_bytes) -> None:
    server = serve(lambda n, body: completion("ok"))
    first, second = backend_for(server).generate(
        [make_request(b"not an image", 1), make_request(png_bytes, 2)]
    )
    assert isinstance(first, Exception) and second == "ok"
    assert len(server.requests) == 1


def test_concurrency_is_bounded(serve) -> None:
    server = serve(lambda n, body: 0.1)
    requests = [ImageRequest(image_id=i, image=None, referents=(), prompt="p") for i in range(9)]
    results = backend_for(server, max_concurrency=3).generate(requests)
    assert len(results) == 9 and all(r == '{"r1": "late"}' for r in results)
    assert server.max_in_flight == 3


def test_api_key_comes_from_the_environment(serve, png_bytes, monkeypatch) -> None:
    server = serve(lambda n, body: completion("ok"))
    monkeypatch.setenv("REFAUG_TEST_KEY", "sk-test-123")
    backend_for(server, api_key_env="REFAUG_TEST_KEY").generate([make_request(png_bytes)])
    assert server.headers[0]["authorization"] == "Bearer sk-test-123"


def test_missing_api_key_names_the_variable(serve, png_bytes, monkeypatch) -> None:
    server = serve(lambda n, body: completion("ok"))
    monkeypatch.delenv("REFAUG_TEST_KEY", raising=False)
    backend = backend_for(server, api_key_env="REFAUG_TEST_KEY")
    with pytest.raises(BackendError, match=r"\$REFAUG_TEST_KEY"):
        backend.generate([make_request(png_bytes)])
    assert server.requests == []


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_concurrency", 0),
        ("timeout", 0),
        ("max_retries", -1),
        ("backoff", -1.0),
        ("base_url", ""),
    ],
)
def test_bad_options_raise_value_error(option: str, value: Any) -> None:
    options = {"base_url": "http://127.0.0.1:1/v1", option: value}
    with pytest.raises(ValueError, match=option):
        OpenAIBackend("tiny", **options)


def test_pickle_drops_the_client_and_keeps_identity(serve, png_bytes) -> None:
    server = serve(lambda n, body: completion("ok"))
    backend = backend_for(server)
    backend.generate([make_request(png_bytes)])
    assert backend._client is not None
    clone = pickle.loads(pickle.dumps(backend))
    assert clone._client is None and clone.identity() == backend.identity()
    assert clone.generate([make_request(png_bytes)]) == ["ok"]


def test_datasets_fingerprint_is_stable_and_tracks_options() -> None:
    from datasets.fingerprint import Hasher

    def make(**options: Any) -> OpenAIBackend:
        return OpenAIBackend("tiny", base_url="http://127.0.0.1:1/v1", **options)

    assert Hasher.hash(make()) == Hasher.hash(make())
    assert Hasher.hash(make()) != Hasher.hash(make(structured=False))


def test_image_data_url_keeps_jpeg(tmp_path) -> None:
    path = tmp_path / "a.jpg"
    Image.new("RGB", (4, 4)).save(path)
    assert image_data_url(path).startswith("data:image/jpeg;base64,")
