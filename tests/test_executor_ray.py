"""The Ray executor writes the local executor's rows, on a real local Ray cluster (2 CPUs).

The cluster starts once per module (no dashboard, no usage stats, no network); the tests
that need it skip cleanly where Ray is not installed (``pip install 'refaug[ray]'``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from datasets import load_from_disk

from refaug.config import ConfigError, RunConfig
from refaug.executors import get_executor
from refaug.pipeline import Pipeline

RAY_MISSING = importlib.util.find_spec("ray") is None
needs_ray = pytest.mark.skipif(RAY_MISSING, reason="ray is not installed: pip install 'refaug[ray]'")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    """A local Ray with 2 CPUs for the module's tests, shut down afterwards."""
    if RAY_MISSING:
        pytest.skip("ray is not installed: pip install 'refaug[ray]'")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        yield ray
    finally:
        ray.shutdown()


def run(out: Path, executor: str, **options: Any):
    config = RunConfig(synthetic_images=6, out=str(out), executor=executor, **options)
    return Pipeline(config, show_progress=False).run()


# ---------------------------------------------------------------- without Ray


def test_an_unknown_executor_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="'local', 'ray'"):
        get_executor("dask")
    with pytest.raises(ConfigError, match="executor"):
        RunConfig(executor="dask")


def test_the_executor_is_in_no_fingerprint() -> None:
    from refaug.pipeline import default_stages

    assert all("executor" not in s.fields and "ray_address" not in s.fields for s in default_stages())


# ---------------------------------------------------------------- on a local Ray cluster


@needs_ray
def test_both_executors_publish_the_same_rows(ray_cluster, tmp_path: Path) -> None:
    local = run(tmp_path / "local", "local")
    remote = run(tmp_path / "ray", "ray")
    assert [s["status"] for s in remote.stages] == ["ran"] * 7
    a = load_from_disk(str(tmp_path / "local" / "publish" / "dataset"))
    b = load_from_disk(str(tmp_path / "ray" / "publish" / "dataset"))
    assert sorted(a) == sorted(b)
    for split in a:
        assert a[split].features == b[split].features
        assert a[split].to_list() == b[split].to_list()
    parquet = sorted(p.name for p in (tmp_path / "local" / "publish" / "data").iterdir())
    for name in parquet:  # the published files, byte for byte
        assert (tmp_path / "local" / "publish" / "data" / name).read_bytes() == \
            (tmp_path / "ray" / "publish" / "data" / name).read_bytes()
    # the workers' counters come back summed: every rewrite ran, none failed
    assert remote.stats["rewrite"]["failed_texts"] == local.stats["rewrite"]["failed_texts"] == 0
    assert remote.stats["rewrite"]["by_kind"] == local.stats["rewrite"]["by_kind"]
    assert remote.stats["views"]["with_views"] == local.stats["views"]["with_views"]


@needs_ray
def test_the_ray_views_stage_sends_no_finished_image_again(ray_cluster, tmp_path: Path) -> None:
    first = run(tmp_path, "local")
    images = first.stats["load"]["images"]
    for stage in (tmp_path / "stages").iterdir():  # every stage but load must run again
        if not stage.name.startswith("0-"):
            shutil.rmtree(stage)
    again = run(tmp_path, "ray")
    assert [s["status"] for s in again.stages][:2] == ["cached", "ran"]
    assert again.stats["views"]["report"].startswith(f"{images} images")
    assert f"{images} images from the cache, 0 requests" in again.stats["views"]["report"]


@needs_ray
def test_map_batches_keeps_the_order_and_the_features(ray_cluster) -> None:
    from datasets import Dataset, Features, Value

    from refaug.executors.ray_data import RayExecutor

    ds = Dataset.from_dict({"n": list(range(50))})
    features = Features({"n": Value("int64"), "square": Value("int32")})
    out, counts = RayExecutor().map_batches(ds, _square, batch_size=7, features=features, desc="test",
                                            counters=_calls)
    assert out["square"] == [n * n for n in range(50)]
    assert out.features == features
    assert counts["calls"] == 8  # ceil(50 / 7) blocks of at most 7 rows, one call each


def _square(batch: dict[str, list]) -> dict[str, list]:
    _square.calls = getattr(_square, "calls", 0) + 1
    return {"square": [n * n for n in batch["n"]]}


def _calls(fn: Any) -> dict[str, int]:
    return {"calls": getattr(fn, "calls", 0)}


# ---------------------------------------------------------------- ray.data.llm on the tiny LLaVA


def _ray_llm_missing() -> str:
    if RAY_MISSING:
        return "ray is not installed in this environment: pip install 'ray[data,llm]'"
    if importlib.util.find_spec("ray.llm") is None:
        return "ray.data.llm is not installed in this environment: pip install 'ray[llm]'"
    from tests.vllm_support import vllm_available

    ok, reason = vllm_available()
    return "" if ok else reason


@pytest.mark.vllm
@pytest.mark.slow
def test_views_through_ray_data_llm_on_the_tiny_llava(tmp_path: Path, monkeypatch) -> None:
    reason = _ray_llm_missing()
    if reason:
        pytest.skip(reason)
    from refaug.data.synthetic import synthetic_scenes
    from refaug.executors.ray_data import RayExecutor
    from refaug.views import ViewGenerator
    from refaug.views.backends.base import SamplingSettings
    from refaug.views.backends.vllm import VLLMBackend
    from tests.vllm_support import CPU_ENGINE_OPTIONS, build_vllm_model, vllm_environment

    # Ray's session sockets and vLLM's engine sockets (under TMPDIR) are AF_UNIX paths, which
    # may not exceed 107 bytes: pytest's tmp_path is too deep for them.
    for name, value in vllm_environment(tempfile.mkdtemp(prefix="vllm", dir="/tmp")).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RAY_TMPDIR", tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    model = build_vllm_model(tmp_path / "tiny-llava")
    ds = synthetic_scenes(2, seed=0, image_size=(96, 64))
    backend = VLLMBackend(str(model), sampling=SamplingSettings(max_tokens=256), engine_options=CPU_ENGINE_OPTIONS)
    generator = ViewGenerator(backend, cache_dir=tmp_path / "views", max_retries=0)
    # ray.data.llm runs four CPU stages besides the engine replica (chat template, tokenize,
    # multimodal preparation, detokenize), each an actor holding one logical CPU: with only two,
    # the engine and detokenize actors can take both and the stages upstream never start.
    with RayExecutor(num_cpus=6, concurrency=1) as executor:
        out = executor.generate_views(ds, generator, show_progress_bar=False)
        assert generator.report.requests == 2  # one request per image
        written = [v for v in out["views"] if v is not None]
        assert len(written) + generator.report.failed_referents == len(ds)
        assert all(v["source"]["backend"] == "vllm" for v in written)
        again = ViewGenerator(backend, cache_dir=tmp_path / "views", max_retries=0)
        executor.generate_views(ds, again, show_progress_bar=False)
        assert again.report.requests == len(generator.report.failures)  # finished images: not sent
