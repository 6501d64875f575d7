"""The transformers backend, end to end on a tiny LLaVA with random weights built offline."""

from __future__ import annotations

import json

import jsonschema
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from datasets.fingerprint import Hasher  # noqa: E402

from refaug.errors import BackendError  # noqa: E402
from refaug.prompts import find_template  # noqa: E402
from refaug.records import Referent  # noqa: E402
from refaug.testing.tiny_llava import build_tiny_llava  # noqa: E402
from refaug.views.backends import get_backend  # noqa: E402
from refaug.views.backends.base import ImageRequest, SamplingSettings  # noqa: E402
from refaug.views.backends.transformers import TransformersBackend  # noqa: E402
from refaug.views.generate import ViewGenerator, image_size, prompt_variables  # noqa: E402
from refaug.views.schema import ViewSchema, local_ids  # noqa: E402

needs_xgrammar = pytest.mark.skipif(
    not TransformersBackend(model="x").uses_grammar, reason="structured output needs xgrammar"
)
SCHEMA = ViewSchema(max_chars=24, max_words=12)  # short strings keep a random model's answers short


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # On a small shared machine, torch's threads fight each other: 10x slower for a tiny model.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory):
    return build_tiny_llava(tmp_path_factory.mktemp("tiny-llava"))


def _backend(folder, **options) -> TransformersBackend:
    # A random model decoded greedily repeats one string everywhere, which the parser
    # rejects ("alternative repeats appearance"); sampling gives distinct strings.
    sampling = options.pop("sampling", SamplingSettings(temperature=1.0, max_tokens=1024, seed=1))
    return TransformersBackend(model=str(folder), sampling=sampling, **options)


def _requests(scenes, *, text_only_first: bool = True) -> list[ImageRequest]:
    by_image: dict[int, list[Referent]] = {}
    for row in scenes:
        by_image.setdefault(row["image_id"], []).append(Referent.from_row(row))
    template = find_template("multiview.v1")
    requests = []
    for n, referents in enumerate(by_image.values()):
        image = None if (n == 0 and text_only_first) else referents[0].image
        variables = prompt_variables(referents, image_size=image_size(image), max_chars=SCHEMA.max_chars)
        requests.append(
            ImageRequest(
                image_id=referents[0].image_id, image=image, referents=tuple(referents),
                prompt=template.render(variables), json_schema=SCHEMA.json_schema(local_ids(len(referents))),
            )
        )
    return requests


@needs_xgrammar
def test_views_end_to_end(tiny_llava, synthetic_small):
    scenes = synthetic_small.select(range(12))
    generator = ViewGenerator(_backend(tiny_llava, batch_size=4), schema=SCHEMA)
    out = generator.run(scenes, show_progress_bar=False)
    assert generator.report.failed_referents == 0, generator.report.failures
    assert all(v is not None for v in out["views"])
    source = out[0]["views"]["source"]
    assert source["backend"] == "transformers" and source["model"] == str(tiny_llava)
    assert source["template"] == "multiview.v1"


@needs_xgrammar
def test_constrained_answers_follow_the_schema_in_request_order(tiny_llava, synthetic_small):
    requests = _requests(synthetic_small.select(range(16)))
    assert requests[0].image is None and requests[1].image is not None
    greedy = SamplingSettings(temperature=0.0, max_tokens=1024)
    answers = _backend(tiny_llava, batch_size=2, sampling=greedy).generate(requests)
    assert len(answers) == len(requests)
    for request, answer in zip(requests, answers):
        data = json.loads(answer)  # greedy noise from random weights, but valid JSON
        jsonschema.validate(data, request.json_schema)
        assert list(data) == local_ids(len(request.referents))


def test_without_structured_output_bad_answers_are_failures_not_errors(tiny_llava, synthetic_small):
    backend = _backend(tiny_llava, structured="none", sampling=SamplingSettings(max_tokens=16))
    generator = ViewGenerator(backend, schema=SCHEMA, max_retries=0)
    out = generator.run(synthetic_small.select(range(8)), show_progress_bar=False)
    assert len(out) == 8
    assert generator.report.failed_referents == sum(v is None for v in out["views"]) > 0


def test_hash_ignores_the_loaded_model_and_follows_the_settings(tiny_llava, synthetic_small):
    backend = _backend(tiny_llava, structured="none", sampling=SamplingSettings(max_tokens=4))
    generator = ViewGenerator(backend)
    before = Hasher.hash(generator)
    backend.generate(_requests(synthetic_small.select(range(4)), text_only_first=False))
    assert getattr(backend, "_model", None) is not None
    assert Hasher.hash(generator) == before
    other = _backend(tiny_llava, structured="none", sampling=SamplingSettings(max_tokens=8))
    assert Hasher.hash(ViewGenerator(other)) != before


def test_missing_model_says_how_to_fix(tmp_path):
    backend = get_backend("transformers", model=str(tmp_path / "nothing-here"))
    request = ImageRequest(image_id=1, image=None, referents=(), prompt="hi")
    with pytest.raises(BackendError, match="Fix:"):
        backend.generate([request])


def test_bad_options_list_the_choices():
    with pytest.raises(ValueError, match="dtype='float8' is not valid; choose one of"):
        TransformersBackend(model="x", dtype="float8")
    with pytest.raises(ValueError, match="structured="):
        TransformersBackend(model="x", structured="outlines")
