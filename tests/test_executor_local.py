"""The local executor's worker processes: the same rows as one process, and every copy's counters."""

from __future__ import annotations

from typing import Any

import pytest
from datasets import Dataset, Features, Value

from refaug.executors import LocalExecutor, get_executor


def _square(batch: dict[str, list]) -> dict[str, list]:
    _square.calls = getattr(_square, "calls", 0) + 1
    return {"square": [n * n for n in batch["n"]]}


def _calls(fn: Any) -> dict[str, int]:
    return {"calls": getattr(fn, "calls", 0)}


FEATURES = Features({"n": Value("int64"), "square": Value("int32")})


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_map_batches_keeps_the_order_the_features_and_every_processs_counts(workers) -> None:
    _square.calls = 0
    ds = Dataset.from_dict({"n": list(range(50))})
    out, counts = LocalExecutor(workers=workers).map_batches(ds, _square, batch_size=7, features=FEATURES,
                                                             desc="test", counters=_calls)
    assert out["square"] == [n * n for n in range(50)]
    assert out.features == FEATURES  # the counters' column is gone
    shards = [ds.shard(workers, i, contiguous=True) for i in range(workers)]  # as datasets splits the rows
    assert counts["calls"] == sum(-(-len(shard) // 7) for shard in shards)  # whichever process ran them


def test_no_more_processes_than_batches_and_a_clear_error_for_none() -> None:
    ds = Dataset.from_dict({"n": list(range(5))})
    out, counts = LocalExecutor(workers=4).map_batches(ds, _square, batch_size=512, features=FEATURES,
                                                       desc="test", counters=None)
    assert out["square"] == [n * n for n in range(5)] and counts == {}
    with pytest.raises(ValueError, match="workers=0 must be >= 1"):
        LocalExecutor(workers=0)
    assert get_executor("local", workers=3).workers == 3
    assert get_executor("local").workers >= 1


def test_the_rewriters_in_two_processes_write_the_rows_of_one(synthetic_small) -> None:
    """Real spaCy rewriters (seeded per text): the distractors do not depend on how the rows
    were split over the processes; the failure counters add up."""
    from refaug.config import RunConfig
    from refaug.stages import build_rewriters, rewrite_counters

    rewriters = build_rewriters(RunConfig())
    features = rewriters.output_features(synthetic_small.features)
    one, one_counts = LocalExecutor(workers=1).map_batches(synthetic_small, rewriters, batch_size=4,
                                                           features=features, desc="rewrite",
                                                           counters=rewrite_counters)
    two, two_counts = LocalExecutor(workers=2).map_batches(synthetic_small, build_rewriters(RunConfig()),
                                                           batch_size=4, features=features, desc="rewrite",
                                                           counters=rewrite_counters)
    assert sum(len(d) for d in one["distractors"]) > 0
    assert two["distractors"] == one["distractors"]
    assert {k: v for k, v in two_counts.items() if k != "batches"} == \
        {k: v for k, v in one_counts.items() if k != "batches"}
    assert two_counts["batches"] == sum(-(-len(synthetic_small.shard(2, i, contiguous=True)) // 4) for i in range(2))


def test_the_rules_views_in_forked_processes_are_the_views_of_one(synthetic_small, tmp_path) -> None:
    """Each image whole in one process (the rules backend relates an image's objects to each
    other): the same views, in row order, and one report of the whole run."""
    from refaug.views import ViewGenerator, get_backend

    one = ViewGenerator(get_backend("rules"))
    alone = one.run(synthetic_small, show_progress_bar=False, images_per_chunk=2)
    many = ViewGenerator(get_backend("rules"), cache_dir=tmp_path / "views")
    shared = many.run(synthetic_small, show_progress_bar=False, images_per_chunk=2, workers=3)
    assert shared["views"] == alone["views"] and shared["referent_id"] == alone["referent_id"]
    assert many.report.summary() == one.report.summary()  # every part's counts added up
    again = ViewGenerator(get_backend("rules"), cache_dir=tmp_path / "views")
    assert again.run(synthetic_small, show_progress_bar=False, images_per_chunk=2, workers=3)["views"] == alone["views"]
    assert again.report.cached_images == len(set(synthetic_small["image_id"]))  # the workers wrote the cache


def _workers_here(_: int) -> int:
    from refaug.executors.local import default_workers

    return default_workers()


def test_a_pool_worker_starts_no_processes_of_its_own() -> None:
    """Inside a worker of a multiprocessing pool (Dataset.map(num_proc=...)), which may not have
    children, the default is one process."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map(_workers_here, [0]) == [1]
