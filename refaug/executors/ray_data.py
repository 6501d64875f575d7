"""The Ray executor: the batch stages on Ray Data, the corpus-wide ones on the driver.

* views: blocks of whole images (one request per image, as locally) go to an actor pool of
  :class:`~refaug.views.ViewGenerator` copies; each writes every finished image to the run's
  views cache, so a re-run sends only the missing images. The ``vllm`` backend goes through
  ``ray.data.llm`` instead (:mod:`refaug.executors.ray_llm`): data-parallel engine replicas.
* rewrite (and any ``map_batches``): an actor pool, one copy of the batch function per worker,
  so its models (spaCy) load once per worker.
* embed: the texts the cache lacks, in the local executor's chunks (so every vector has the
  same bits), encoded by an actor pool of sentence encoders; the driver writes each chunk to
  the cache as it arrives. Classify and mine read the vectors there, on the driver: they need
  the whole corpus (the judgement's statistics, the nearest-neighbour search).

Rows carry their position in a hidden column and come back sorted by it, cast to the
canonical ``Features``: the published rows equal the local executor's. The run folder must
be on a filesystem every node sees (the views workers write the cache there).

Example:
    >>> with RayExecutor(num_cpus=2) as executor:       # doctest: +SKIP
    ...     out, _ = executor.map_batches(ds, Rewriters([...]), batch_size=512,
    ...                                   features=features, desc="rewrite")
"""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
import math
import os
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pyarrow as pa
from datasets import Dataset, DatasetInfo, Features
from datasets.table import InMemoryTable

from refaug.executors.base import COUNTERS, BatchCounters, BatchFn, CounterGrowth, Executor

if TYPE_CHECKING:
    from refaug.embed import Embedder
    from refaug.views import ViewGenerator

logger = logging.getLogger(__name__)

ROW = "__refaug_row"
"""The hidden column with each row's position; rows are sorted by it when they come back."""
BLOCKS_PER_WORKER = 4  # enough blocks that no worker idles while another finishes a long one


def import_ray() -> Any:
    """``ray`` with Ray Data, or an ImportError that says how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401 - the Data library is an extra of ray
    except ImportError as error:
        raise ImportError(
            "executor='ray' needs Ray Data, which is not installed. Fix: pip install 'refaug[ray]' "
            "(ray[data]>=2.40), or run with executor='local'"
        ) from error
    return ray


def setup_worker() -> None:
    """Run in each Ray worker process on start: the same torchvision mend the vllm backend
    applies in the driver (:func:`refaug.torchvision_mend.ensure_torchvision_importable`), so
    that ``ray.data.llm``'s stages can import transformers' processors there too. Where vLLM is
    installed, its model inspection (a fresh interpreter per architecture) gets the mend too."""
    if importlib.util.find_spec("vllm") is not None:  # mends torchvision and the inspection
        from refaug.executors.ray_llm import alias_moved_vllm_modules
        from refaug.views.backends.vllm import import_vllm

        import_vllm()
        alias_moved_vllm_modules()
    elif importlib.util.find_spec("torchvision") is not None:
        from refaug.torchvision_mend import ensure_torchvision_importable

        ensure_torchvision_importable()


class RayExecutor(Executor):
    """Runs the batch stages on a Ray cluster through Ray Data.

    Args:
        address: the cluster to join (``"auto"``: the running one; ``"ray://host:10001"``);
            None (the default) starts a local Ray for the executor's lifetime.
        num_cpus: CPUs of the local Ray started when ``address`` is None (default: all).
        concurrency: actors per stage (default: one per CPU of the cluster; for the views
            stage on a GPU backend, one per GPU).
    """

    name: ClassVar[str] = "ray"

    def __init__(self, *, address: str | None = None, num_cpus: int | None = None,
                 concurrency: int | None = None) -> None:
        if concurrency is not None and concurrency < 1:
            raise ValueError(f"concurrency={concurrency!r} is not valid; it must be >= 1")
        self.address = address
        self.num_cpus = num_cpus
        self.concurrency = concurrency
        self._started = False
        self._data_log_level = logging.NOTSET

    # ------------------------------------------------------------------ the cluster

    def _ray(self) -> Any:
        ray = import_ray()
        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
            if self.address is None:  # a local Ray: its workers run this on start
                options["runtime_env"] = {"worker_process_setup_hook": f"{__name__}.setup_worker"}
            if self.address is None and self.num_cpus is not None:
                options["num_cpus"] = self.num_cpus
            ray.init(address=self.address, **options)
            self._started = True
            # Ray Data logs every dataset's plan and progress at INFO; the stages have their own
            self._data_log_level = logging.getLogger("ray.data").level
            logging.getLogger("ray.data").setLevel(logging.WARNING)
            logger.info("ray: %s", ray.cluster_resources())
        return ray

    def close(self) -> None:
        """Shut down the Ray this executor started (a cluster it joined keeps running)."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False
            logging.getLogger("ray.data").setLevel(self._data_log_level)

    def _pool(self, size: int) -> Any:
        """A fixed pool of ``size`` actors (each keeps its copy of the function and its models)."""
        return self._ray().data.ActorPoolStrategy(size=size)

    def workers(self, resource: str = "CPU") -> int:
        """Actors per stage: ``concurrency``, else one per ``resource`` of the cluster."""
        if self.concurrency is not None:
            return self.concurrency
        return max(1, int(self._ray().cluster_resources().get(resource, 1)))

    # ------------------------------------------------------------------ the stages

    def map_batches(self, ds: Dataset, fn: BatchFn, *, batch_size: int, features: Features, desc: str,
                    counters: BatchCounters | None = None) -> tuple[Dataset, Counter]:
        logger.info("%s: %d rows on ray", desc, len(ds))
        if len(ds) == 0:
            return ds.cast(features), Counter()
        workers = self.workers()
        block = max(1, min(batch_size, math.ceil(len(ds) / (workers * BLOCKS_PER_WORKER))))
        bounds = list(range(0, len(ds), block)) + [len(ds)]
        rds = self._blocks(_indexed_table(ds, range(len(ds))), bounds)
        out = rds.map_batches(BatchWorker, batch_size=None, batch_format="pyarrow", compute=self._pool(workers),
                              fn_constructor_kwargs={"fn": fn, "features": features, "counters": counters})
        return self._collect(out, features)

    def generate_views(self, ds: Dataset, generator: ViewGenerator, *, show_progress_bar: bool) -> Dataset:
        from refaug.views.generate import views_features

        if generator.backend.name == "vllm":
            from refaug.executors.ray_llm import generate_views_llm

            gpus = int(self._ray().cluster_resources().get("GPU", 0))
            return generate_views_llm(ds, generator, replicas=self.workers("GPU"), cpu=gpus == 0)
        rows = ds.remove_columns([c for c in ("views",) if c in ds.column_names])
        features = views_features(rows.features)
        if len(rows) == 0:
            return generator.run(rows, show_progress_bar=False)
        groups = _groups(rows["image_id"] if generator.group_by == "image" else rows["referent_id"])
        gpu = generator.backend.name == "transformers" and self.workers("GPU") > 0 and \
            self._ray().cluster_resources().get("GPU", 0) > 0
        workers = self.workers("GPU" if gpu else "CPU")
        per_block = max(1, min(generator.batch_size * 4, math.ceil(len(groups) / (workers * BLOCKS_PER_WORKER))))
        order = [i for group in groups for i in group]
        starts = np.cumsum([0] + [len(g) for g in groups])
        bounds = [int(starts[g]) for g in range(0, len(groups), per_block)] + [len(order)]
        rds = self._blocks(_indexed_table(rows, order), bounds)
        out = rds.map_batches(BatchWorker, batch_size=None, batch_format="pyarrow", compute=self._pool(workers),
                              num_gpus=1 if gpu else None,
                              fn_constructor_kwargs={"fn": generator, "features": features,
                                                     "counters": view_counters})
        result, counts = self._collect(out, features)
        generator.report = _view_report(result, counts, generator)
        logger.info("views: %s", generator.report.summary())
        return result

    def embed(self, embedder: Embedder, texts: Sequence[str]) -> None:
        if embedder.cache is None:  # nowhere to gather the vectors: encode in this process
            embedder.encode(texts)
            return
        from refaug.embed import _ENCODE_CHUNK

        found = embedder.cache.get(embedder.identity, list(texts))
        # the local executor's order and chunks, so each vector is computed from the same batch
        missing = sorted((t for t in dict.fromkeys(texts) if t not in found), key=len)
        logger.info("embed: %d texts (%d from the cache) on ray", len(found) + len(missing), len(found))
        if not missing:
            return
        bounds = list(range(0, len(missing), _ENCODE_CHUNK)) + [len(missing)]
        table = pa.table({"text": pa.array(missing, pa.string()), ROW: pa.array(range(len(missing)), pa.int64())})
        worker = copy.copy(embedder)
        worker.cache_dir, worker._cache, worker._model = None, None, None
        rds = self._blocks(table, bounds)
        out = rds.map_batches(EncodeWorker, batch_size=None, batch_format="pyarrow",
                              compute=self._pool(min(self.workers(), len(bounds) - 1)),
                              fn_constructor_kwargs={"embedder": worker, "threads": _torch_threads()})
        for batch in out.iter_batches(batch_size=None, batch_format="pyarrow"):
            vectors = batch.column("vector").combine_chunks()
            matrix = np.asarray(vectors.flatten()).reshape(len(batch), vectors.type.list_size)
            embedder.cache.put(embedder.identity, batch.column("text").to_pylist(), matrix)

    # ------------------------------------------------------------------ conversion

    def _blocks(self, table: pa.Table, bounds: Sequence[int]) -> Any:
        """A Ray dataset of ``table``'s rows, one block between each two ``bounds``."""
        ray = self._ray()
        return ray.data.from_arrow([table.slice(a, b - a) for a, b in zip(bounds, bounds[1:]) if b > a])

    def _collect(self, rds: Any, features: Features) -> tuple[Dataset, Counter]:
        """Every row back on the driver, in the original order and the canonical types."""
        ray = self._ray()
        tables = [t for t in ray.get(rds.to_arrow_refs()) if t.num_rows]
        table = pa.concat_tables(tables).sort_by(ROW)
        totals: Counter = Counter()
        for report in table.column(COUNTERS).to_pylist():
            if report:
                totals.update(json.loads(report))
        table = table.select(list(features)).cast(features.arrow_schema)
        return Dataset(InMemoryTable(table), info=DatasetInfo(features=features)), totals


class BatchWorker:
    """A Ray Data actor around a batch function: one copy per worker, so models load once.

    Args:
        fn: the batch function (``dict[str, list] -> dict[str, list]``, new columns only or all).
        features: the output's features (every column of the output, in order).
        counters: reads ``fn``'s running counters; each batch reports what it added.
    """

    def __init__(self, fn: BatchFn, features: Features, counters: BatchCounters | None = None) -> None:
        self.fn = fn
        self.features = features
        self.counters = counters
        self.schema = pa.schema([*features.arrow_schema.remove_metadata(),
                                 pa.field(ROW, pa.int64()), pa.field(COUNTERS, pa.string())])
        self._growth = CounterGrowth(counters)

    def __call__(self, table: pa.Table) -> pa.Table:
        table = table.sort_by(ROW)
        batch = table.drop_columns([ROW]).to_pydict()
        out = {**batch, **self.fn(batch)}
        columns = self.features.encode_batch({name: out[name] for name in self.features})
        columns[ROW] = table.column(ROW)
        columns[COUNTERS] = [self._growth(self.fn)] + [None] * (table.num_rows - 1)
        return pa.Table.from_pydict(columns, schema=self.schema)


class EncodeWorker:
    """A Ray Data actor that encodes a block of texts (one local chunk) with its own encoder copy.

    ``threads``: torch's CPU threads, the driver's count. Ray gives an actor one thread per CPU
    it asked for, and a matrix product split over another number of threads can round the
    last bit of a vector differently (measured: 1 in 816 rows of a 200-image run); with the
    driver's count, the vectors are the local executor's, bit for bit, on the same hardware.
    """

    def __init__(self, embedder: Embedder, threads: int | None = None) -> None:
        if threads:
            import torch

            torch.set_num_threads(threads)
        self.embedder = embedder

    def __call__(self, table: pa.Table) -> pa.Table:
        texts = table.column("text").to_pylist()
        vectors = self.embedder.encode_distinct(texts, show_progress_bar=False)
        flat = pa.array(vectors.astype(np.float32).ravel(), pa.float32())
        return pa.table({"text": table.column("text"),
                         "vector": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])})


def view_counters(generator: ViewGenerator) -> dict[str, int]:
    """What a worker's generator did (its report's counts)."""
    report = generator.report
    return {"requests": report.requests, "retries": report.retries, "cached_images": report.cached_images}


def _view_report(result: Dataset, counts: Counter, generator: ViewGenerator) -> Any:
    """The driver's :class:`GenerationReport`: the workers' counts, a failure per image without views."""
    from refaug.views.generate import GenerationReport, ViewFailure

    failed: dict[int, list[str]] = {}
    for image_id, referent_id, views in zip(result["image_id"], result["referent_id"], result["views"]):
        if views is None:
            failed.setdefault(image_id, []).append(referent_id)
    failures = [ViewFailure(image_id=i, referent_ids=tuple(ids), reason="failed on a Ray worker (its log says why)",
                            attempts=generator.max_retries + 1) for i, ids in failed.items()]
    return GenerationReport(images=len(set(result["image_id"])), referents=len(result),
                            requests=counts["requests"], retries=counts["retries"],
                            cached_images=counts["cached_images"], failures=failures)


def _torch_threads() -> int | None:
    import torch

    return torch.get_num_threads()


def _groups(keys: Sequence[Any]) -> list[list[int]]:
    """Row positions grouped by key, groups in order of first appearance (as ``ViewGenerator.run``)."""
    groups: dict[Any, list[int]] = {}
    for index, key in enumerate(keys):
        groups.setdefault(key, []).append(index)
    return list(groups.values())


def _indexed_table(ds: Dataset, order: Sequence[int]) -> pa.Table:
    """``ds``'s rows in ``order`` as one Arrow table, each with its position in ``ROW``."""
    table = ds.with_format("arrow")[:] if isinstance(order, range) else ds.select(order).with_format("arrow")[:]
    table = table.replace_schema_metadata(None)
    return table.append_column(ROW, pa.array(list(order), pa.int64()))
