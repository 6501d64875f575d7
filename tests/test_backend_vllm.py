"""The vllm and openai backends against a real vLLM engine and a real vLLM server (CPU).

Tests marked ``vllm`` need the separate environment built by ``.ci/vllm-env.sh``:

    bash .ci/vllm-env.sh
    .venv-vllm/bin/python -m pytest -m vllm tests/test_backend_vllm.py

Elsewhere they skip with that reason. Both the engine and the server run the tiny LLaVA with
random weights (refaug.testing.tiny_llava): its words are noise, but structured decoding
makes every answer valid JSON under the request's schema, which is what these tests check.
The unmarked tests at the top need no vLLM and run in the default test run.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from refaug.errors import BackendError
from refaug.records import Referent
from refaug.views.backends import get_backend
from refaug.views.backends.base import ImageRequest, SamplingSettings
from refaug.views.backends.vllm import VLLMBackend
from refaug.views.schema import ViewSchema, local_ids
from tests.vllm_support import CPU_ENGINE_OPTIONS, VLLMServer, vllm_available

# Short expressions keep the random model's answers (which fill every string) quick to decode.
SCHEMA = ViewSchema(max_chars=24)
SAMPLING = SamplingSettings(max_tokens=1024)
# The server needs compact JSON too: a random model otherwise writes whitespace forever.
SERVER_ARGS = (
    "--structured-outputs-config",
    json.dumps({"backend": "xgrammar", "disable_any_whitespace": True}),
)

VLLM_OK, VLLM_REASON = vllm_available()


def needs_vllm(test: Any) -> Any:
    """Mark a test ``vllm`` and ``slow``, and skip it (saying why) where vLLM does not import."""
    return pytest.mark.vllm(
        pytest.mark.slow(pytest.mark.skipif(not VLLM_OK, reason=VLLM_REASON)(test))
    )


# ---------------------------------------------------------------- without vLLM


def test_engine_options_cannot_name_the_model() -> None:
    with pytest.raises(ValueError, match="model"):
        VLLMBackend("m", engine_options={"model": "other"})


def test_identity_pickle_and_fingerprint() -> None:
    from datasets.fingerprint import Hasher

    backend = VLLMBackend("m", engine_options={"dtype": "float32", "enforce_eager": True})
    identity = backend.identity()
    assert identity["backend"] == "vllm" and identity["model"] == "m"
    assert identity["engine"] == {"dtype": "float32"}  # enforce_eager does not change outputs
    clone = pickle.loads(pickle.dumps(backend))
    assert clone._llm is None and clone.identity() == identity
    assert Hasher.hash(backend) == Hasher.hash(
        VLLMBackend("m", engine_options={"dtype": "float32", "enforce_eager": True})
    )
    assert Hasher.hash(backend) != Hasher.hash(
        VLLMBackend("m", engine_options={"dtype": "bfloat16"})
    )


def test_compact_json_configures_the_engine() -> None:
    options = VLLMBackend("m", engine_options={"max_model_len": 64})._engine_kwargs()
    assert options["structured_outputs_config"] == {
        "backend": "xgrammar",
        "disable_any_whitespace": True,
    }
    guidance = {"structured_outputs_config": {"backend": "guidance"}}
    assert VLLMBackend("m", engine_options=guidance)._engine_kwargs()[
        "structured_outputs_config"
    ] == {
        "backend": "guidance",
        "disable_any_whitespace": True,
    }
    assert "structured_outputs_config" not in VLLMBackend("m", compact_json=False)._engine_kwargs()


def test_registry_builds_both_backends() -> None:
    vllm_backend = get_backend("vllm", model="m", engine_options={"dtype": "float32"})
    assert isinstance(vllm_backend, VLLMBackend)
    pytest.importorskip("openai")
    openai_backend = get_backend("openai", model="m", base_url="http://127.0.0.1:1/v1")
    assert openai_backend.name == "openai"


@pytest.mark.skipif(VLLM_OK, reason="vllm is installed here")
def test_without_vllm_the_error_says_how_to_install() -> None:
    request = ImageRequest(image_id=1, image=None, referents=(), prompt="p")
    with pytest.raises(BackendError, match=r"vllm-env\.sh"):
        VLLMBackend("m").generate([request])


# ---------------------------------------------------------------- fixtures (vLLM)


@pytest.fixture(scope="session")
def vllm_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every vLLM cache and temp file of the session, in one temp folder."""
    from tests.vllm_support import vllm_environment

    folder = tmp_path_factory.mktemp("vllm")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in vllm_environment(folder / "engine").items():
            patch.setenv(name, value)
        yield folder


@pytest.fixture(scope="session")
def tiny_llava_vllm(vllm_folder: Path) -> Path:
    from tests.vllm_support import build_vllm_model

    return build_vllm_model(vllm_folder / "tiny-llava")


@pytest.fixture(scope="session")
def engine(tiny_llava_vllm: Path) -> Iterator[VLLMBackend]:
    backend = VLLMBackend(
        str(tiny_llava_vllm), sampling=SAMPLING, engine_options=CPU_ENGINE_OPTIONS
    )
    yield backend
    backend._llm = None


@pytest.fixture(scope="session")
def server(tiny_llava_vllm: Path, vllm_folder: Path) -> Iterator[VLLMServer]:
    with VLLMServer(
        tiny_llava_vllm,
        vllm_folder / "server",
        served_model_name="tiny-llava",
        extra_args=SERVER_ARGS,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def scenes() -> list[list[Referent]]:
    """Three synthetic images (PNG bytes), each with its referents."""
    from refaug.data.synthetic import synthetic_scenes

    images: dict[int, list[Referent]] = {}
    for row in synthetic_scenes(3, seed=0, image_size=(96, 64)):
        images.setdefault(row["image_id"], []).append(Referent.from_row(row))
    return list(images.values())


def view_request(referents: list[Referent]) -> ImageRequest:
    """The request ViewGenerator sends for one image: the packaged prompt and the schema."""
    from refaug.prompts import find_template
    from refaug.views.generate import image_size, prompt_variables

    first = referents[0]
    variables = prompt_variables(
        referents, image_size=image_size(first.image), max_chars=SCHEMA.max_chars
    )
    return ImageRequest(
        image_id=first.image_id,
        image=first.image,
        referents=tuple(referents),
        prompt=find_template("multiview.v1").render(variables),
        json_schema=SCHEMA.json_schema(local_ids(len(referents))),
    )


def assert_schema_valid(answer: str | Exception, request: ImageRequest) -> dict[str, Any]:
    import jsonschema

    assert isinstance(answer, str), f"image {request.image_id} failed: {answer!r}"
    data = json.loads(answer)
    jsonschema.validate(data, request.json_schema)
    assert sorted(data) == sorted(local_ids(len(request.referents)))
    return data


# ---------------------------------------------------------------- the engine


@needs_vllm
def test_engine_answers_a_batch_in_one_call_with_schema_valid_json(engine, scenes) -> None:
    requests = [view_request(referents) for referents in scenes]
    llm = engine.llm
    calls: list[int] = []
    original_chat = llm.chat

    def counting_chat(conversations, **kwargs):
        calls.append(len(conversations))
        return original_chat(conversations, **kwargs)

    llm.chat = counting_chat
    try:
        answers = engine.generate(requests)
    finally:
        llm.chat = original_chat
    assert calls == [len(requests)]
    for answer, request in zip(answers, requests, strict=True):
        assert_schema_valid(answer, request)


@needs_vllm
def test_engine_fails_only_the_bad_requests(engine, scenes) -> None:
    good = view_request(scenes[0])
    unreadable = ImageRequest(
        image_id=98, image=b"not an image", referents=good.referents, prompt="p"
    )
    too_long = ImageRequest(
        image_id=99, image=good.image, referents=good.referents, prompt="circle " * 3000,
        json_schema=good.json_schema,
    )  # fmt: skip
    answers = engine.generate([unreadable, good, too_long])
    assert isinstance(answers[0], Exception)
    assert_schema_valid(answers[1], good)
    assert isinstance(answers[2], Exception)


@needs_vllm
def test_view_generator_runs_on_the_engine_and_accounts_for_every_referent(engine, scenes) -> None:
    from refaug.views.generate import ViewGenerator

    generator = ViewGenerator(engine, schema=SCHEMA, max_retries=0, batch_size=8)
    referents = [r for image in scenes for r in image]
    views = generator.generate(referents)
    failed = {rid for failure in generator.report.failures for rid in failure.referent_ids}
    assert set(views) == {r.referent_id for r in referents}
    assert {rid for rid, v in views.items() if v is None} == failed  # nothing silently dropped
    assert generator.report.requests == len(scenes)
    # Failures of a random model are about content (repeated texts), never about the JSON.
    for failure in generator.report.failures:
        assert "JSON" not in failure.reason, failure.reason


@needs_vllm
def test_an_engine_that_cannot_start_is_a_backend_error(vllm_folder, tmp_path) -> None:
    backend = VLLMBackend(str(tmp_path / "no-model-here"), engine_options=CPU_ENGINE_OPTIONS)
    request = ImageRequest(image_id=1, image=None, referents=(), prompt="p")
    with pytest.raises(BackendError, match="did not start"):
        backend.generate([request])


# ---------------------------------------------------------------- the server


@needs_vllm
def test_openai_backend_against_the_vllm_server(server, scenes) -> None:
    pytest.importorskip("openai")
    from refaug.views.backends.openai import OpenAIBackend

    backend = OpenAIBackend(
        server.model_name, base_url=server.base_url, api_key_env=None, sampling=SAMPLING,
        max_concurrency=4, timeout=120, max_retries=1,
    )  # fmt: skip
    requests = [view_request(referents) for referents in scenes]
    answers = backend.generate(requests)
    for answer, request in zip(answers, requests, strict=True):
        assert_schema_valid(answer, request)


@needs_vllm
def test_the_server_enforces_response_format(server, scenes) -> None:
    """Without response_format the random model writes no JSON: the schema did the work."""
    pytest.importorskip("openai")
    from refaug.views.backends.openai import OpenAIBackend

    backend = OpenAIBackend(
        server.model_name, base_url=server.base_url, api_key_env=None, structured=False,
        sampling=SamplingSettings(max_tokens=48), timeout=120, max_retries=0,
    )  # fmt: skip
    import jsonschema

    request = view_request(scenes[0])
    (answer,) = backend.generate([request])
    assert isinstance(answer, str)
    try:
        data = json.loads(answer)
    except ValueError:
        return  # not JSON at all
    with pytest.raises(jsonschema.ValidationError):  # or JSON, but not the schema's
        jsonschema.validate(data, request.json_schema)
