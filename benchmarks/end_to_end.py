"""refaug end to end at RefCOCO's size: wall time, CPU time, peak memory and rows per stage.

RefCOCO (unc) has 50,000 referents with 142,209 expressions in 19,994 images. This benchmark
builds an input of that shape and runs ``refaug run``'s pipeline on it with the defaults of the
day (rules views, every rewriter, all-MiniLM-L6-v2, ``method: contrast``, every mining source),
at several fractions of the size, each in a fresh process and a fresh run folder:

- **images**: synthetic scenes (:mod:`refaug.data.synthetic`, real pixels, true boxes), written
  as JPEG files (COCO's format) under the input cache. A scene holds 2-6 shapes; referents are
  dropped at random, image by image, down to RefCOCO's 2.5 referents per image (the dropped
  shapes stay in the picture, as unannotated COCO objects do).
- **expressions**: each referent keeps its true synthetic expressions and is filled up to
  RefCOCO's 2.84 per referent with expressions in the real dev file's words and lengths
  (``--data``): the first words of one real expression, the referent's shape, the last words
  of another, cut to the length of a third. They make the texts as varied as real ones (the
  synthetic texts alone repeat, which would flatter every text stage).
- **splits**: by image, in RefCOCO's proportions (train 85%, val 7.5%, testA 4%, testB 3.5%).

The input is built in chunks of 500 images, each cached on disk (``--workdir``), so a rerun
(or a larger size) only builds what is missing. Each size runs in a subprocess; every stage is
wrapped to record its wall time, CPU time (process, all threads, and its worker processes), peak resident memory
(sampled every 20 ms) and rows, written to ``<run>/stage_times.jsonl`` as the stage ends; the
resident size once a second goes to ``<run>/rss.tsv`` (to find where in a stage the peak is). The
peak is also given for the private (anonymous) pages alone, ``peak_anon_mb``: the resident size
counts the pages of the memory-mapped Arrow files a stage reads, which the kernel drops under
pressure (about a gigabyte while the mine stage reads RefCOCO's pools). A
killed run resumes: the pipeline loads its finished stages from the run folder and the
benchmark keeps their recorded times (the record says ``resumed``). A size that finished is
not run again unless ``--force``.

Run (estimated from the 1/8 size: about 35 minutes for the full size on 2 free cores, an hour for
all three, plus about 3 minutes to build the input the first time; the LM plausibility filter, when
it is the default, adds its own time to the mine stage: ``--set plausibility=off`` leaves it out)::

    python benchmarks/end_to_end.py --data /work/shared/data/refcoco_real_dev.jsonl --sizes 0.125 0.5 1

``--set FIELD=VALUE`` overrides a field of the run's ``RunConfig`` (repeatable); a size's result is
reused only when it ran with the same overrides.

Profile one size (cProfile; the top functions go to ``<run>/profile.txt``)::

    python benchmarks/end_to_end.py --data ... --sizes 0.125 --profile

Check that a speed change left the published rows as they were (every column of every split but
the image, and the overlap of the negatives; JSON on stdout)::

    python benchmarks/end_to_end.py --compare runs/end_to_end/RUN_BEFORE runs/end_to_end/RUN_AFTER

Writes ``benchmarks/results/end_to_end.json``, ``end_to_end.md`` and ``end_to_end.png``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
logger = logging.getLogger("benchmarks.end_to_end")

# RefCOCO (unc), Yu et al. 2016: 50,000 referents, 142,209 expressions, 19,994 images.
FULL_REFERENTS = 50_000
FULL_IMAGES = 20_000
EXPRESSIONS_PER_REFERENT = 142_209 / 50_000
SPLIT_SHARES = (("train", 0.85), ("val", 0.075), ("testA", 0.04), ("testB", 0.035))
CHUNK_IMAGES = 500
INPUT_VERSION = "v2"  # bump when the built input changes: it names the cache folder
STAGES = ("load", "views", "rewrite", "embed", "classify", "mine", "publish")


# ---------------------------------------------------------------------------- the input


def real_sentences(path: Path | None) -> list[list[str]]:
    """The dev file's expressions as word lists (empty without ``--data``)."""
    if path is None:
        return []
    words = []
    with open(path) as handle:
        for n, line in enumerate(handle, 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{n}: not JSON ({exc}); pass the refcoco_real_dev.jsonl file") from exc
            words.extend(s["sent"].split() for s in row.get("sentences", ()) if s.get("sent", "").strip())
    if not words:
        raise SystemExit(f"{path}: no sentences found; pass the refcoco_real_dev.jsonl file")
    return words


def filler_expression(rng: np.random.Generator, kind: str, real: list[list[str]], own: list[str]) -> str:
    """An expression in the real file's words and lengths, about a shape of ``kind``."""
    if not real:  # no dev file: splice the referent's own expressions with a position word
        base = own[int(rng.integers(len(own)))].split()
        return " ".join([*base, str(rng.choice(["near the edge", "in the back", "up front", "at the side"]))])
    length = len(real[int(rng.integers(len(real)))])
    head = real[int(rng.integers(len(real)))]
    tail = real[int(rng.integers(len(real)))]
    n_head = int(rng.integers(0, min(3, len(head)) + 1))
    words = [*head[:n_head], kind]
    rest = max(0, length - len(words))
    words += tail[len(tail) - min(rest, len(tail)):] if rest else []
    return " ".join(words)


def build_chunk(index: int, folder: Path, real: list[list[str]], *, seed: int) -> Path:
    """Images ``[index * CHUNK_IMAGES, (index + 1) * CHUNK_IMAGES)`` and their rows, cached as JSON lines."""
    from PIL import Image

    from refaug.data.synthetic import (
        _scene_rows,  # one scene's rows; the public API renders from image 0
    )

    target = folder / f"rows-{index:04d}.jsonl"
    if target.exists():
        return target
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    # 2.65 drawn per image (2 or 3, at most the scene's shapes) keeps 2.53 on average: RefCOCO's 2.5
    keep = 2.65
    lines = []
    for image_index in range(index * CHUNK_IMAGES, (index + 1) * CHUNK_IMAGES):
        rng = np.random.default_rng([seed, 7, image_index])
        rows = _scene_rows(image_index, seed=seed, width=640, height=480, image_dir=None)
        jpeg = images / f"scene_{image_index:07d}.jpg"
        if not jpeg.exists():
            import io

            with Image.open(io.BytesIO(rows[0]["image"]["bytes"])) as picture:
                picture.convert("RGB").save(jpeg, format="JPEG", quality=90)
        n_keep = max(1, min(len(rows), int(keep) + int(rng.random() < keep - int(keep))))
        chosen = sorted(rng.choice(len(rows), size=n_keep, replace=False).tolist())
        split = _split_of(image_index, seed=seed)
        for k in chosen:
            row = rows[k]
            target_n = max(len(row["expressions"]), int(rng.choice([2, 3, 4], p=[0.3, 0.56, 0.14])))
            expressions = list(row["expressions"])
            while len(expressions) < target_n:
                text = filler_expression(rng, row["category"], real, row["expressions"])
                if text not in expressions:
                    expressions.append(text)
            row = {**row, "expressions": expressions, "split": split,
                   "image": {"bytes": None, "path": str(jpeg)}}
            lines.append(json.dumps(row))
    tmp = target.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, target)
    return target


def _split_of(image_index: int, *, seed: int) -> str:
    u = float(np.random.default_rng([seed, 11, image_index]).random())
    for name, share in SPLIT_SHARES:
        if u < share:
            return name
        u -= share
    return SPLIT_SHARES[-1][0]


def build_input(fraction: float, workdir: Path, data: Path | None, *, seed: int) -> Path:
    """A ``save_to_disk`` folder of ``fraction`` of the full input (cached)."""
    from datasets import Dataset, concatenate_datasets

    from refaug.records import REFERENT_FEATURES

    folder = workdir / f"input-{INPUT_VERSION}-{'real' if data else 'synthetic'}-seed{seed}"
    n_chunks = max(1, round(fraction * FULL_IMAGES / CHUNK_IMAGES))
    target = folder / f"disk-{n_chunks * CHUNK_IMAGES}"
    if (target / "dataset_info.json").exists():
        return target
    real = real_sentences(data)
    parts = []
    for index in range(n_chunks):
        start = time.perf_counter()
        path = build_chunk(index, folder, real, seed=seed)
        logger.info("input chunk %d/%d ready (%.1fs)", index + 1, n_chunks, time.perf_counter() - start)
        rows = [json.loads(line) for line in path.read_text().splitlines() if line]
        parts.append(Dataset.from_list(rows, features=REFERENT_FEATURES))
    ds = concatenate_datasets(parts)
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    ds.save_to_disk(str(tmp))
    os.replace(tmp, target)
    return target


# ----------------------------------------------------------------------- measuring a run


PSS_INTERVAL = 1.0  # seconds between reads of the proportional sizes, while worker processes run


class RssSampler:
    """The peak resident set size of this process (and its children) since the last ``reset``;
    with a ``timeline`` path, also the resident size once a second (``epoch seconds<TAB>MB``),
    to place a peak against the log's timestamps."""

    def __init__(self, interval: float = 0.02, timeline: Path | None = None) -> None:
        self.interval = interval
        self.peak = self.peak_anon = 0
        self._timeline = open(timeline, "a") if timeline is not None else None  # noqa: SIM115 (closed in stop)
        self._last_line = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    _last_pss = float("-inf")
    _pss = (0, 0)

    @staticmethod
    def current() -> tuple[int, int]:
        """Bytes resident (all pages, and the anonymous ones alone: not the memory-mapped Arrow
        files, which the kernel can drop) of this process and its children. With children (the
        rewrite stage's worker processes, forked) the proportional sizes (``Pss``), so that the
        pages they share with this process are counted once, read once a second (the kernel walks
        every page table for them: read every 20 ms they took a core from the workers); alone,
        ``VmRSS`` and ``RssAnon`` (microseconds)."""
        pids = [os.getpid()]
        try:
            children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
            pids += [int(p) for p in children]
        except OSError:
            pass
        source, fields = ("smaps_rollup", ("Pss:", "Pss_Anon:")) if len(pids) > 1 else ("status", ("VmRSS:", "RssAnon:"))
        if source == "smaps_rollup":  # the kernel walks every page table: 15 ms for a 1.4 GB process
            now = time.monotonic()
            if now - RssSampler._last_pss < PSS_INTERVAL:
                return RssSampler._pss
            RssSampler._last_pss = now
        total = [0, 0]
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
                    for k, field in enumerate(fields):
                        if line.startswith(field):
                            total[k] += int(line.split()[1]) * 1024
            except OSError:
                continue
        if source == "smaps_rollup":
            RssSampler._pss = (total[0], total[1])
        return total[0], total[1]

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            now, anon = self.current()
            self.peak, self.peak_anon = max(self.peak, now), max(self.peak_anon, anon)
            if self._timeline is not None and time.time() - self._last_line >= 1.0:
                self._last_line = time.time()
                self._timeline.write(f"{self._last_line:.1f}\t{now / 2**20:.0f}\t{anon / 2**20:.0f}\n")
                self._timeline.flush()

    def reset(self) -> None:
        self.peak, self.peak_anon = self.current()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        if self._timeline is not None:
            self._timeline.close()


def _cpu_seconds() -> float:
    """CPU seconds of this process (all threads) and of its finished children (worker processes)."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _measured(name: str, fn, sampler: RssSampler, log: Path):
    def run(ds, config, context):
        sampler.reset()
        wall, cpu = time.perf_counter(), _cpu_seconds()
        out = fn(ds, config, context)
        source = ds if out is None or name == "publish" else out  # publish returns the split dict
        rows = len(source) if source is not None else 0
        record = {"stage": name, "wall_s": round(time.perf_counter() - wall, 2),
                  "cpu_s": round(_cpu_seconds() - cpu, 2), "peak_rss_mb": round(sampler.peak / 2**20, 1),
                  "peak_anon_mb": round(sampler.peak_anon / 2**20, 1),
                  "rows": rows, "stats": _small(context.stats.get(name, {}))}
        with open(log, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        return out

    return run


def _small(stats: dict[str, Any]) -> dict[str, Any]:
    """The scalar statistics of a stage (counts), not its nested report."""
    return {k: v for k, v in stats.items() if isinstance(v, (int, float, str))}


def run_size(input_dir: Path, out: Path, *, profile: bool, overrides: dict[str, Any]) -> dict[str, Any]:
    """Run the pipeline on ``input_dir`` into ``out`` (this process) and return the measurements."""
    from refaug.config import RunConfig
    from refaug.pipeline import Pipeline, default_stages
    from refaug.run_context import Stage

    out.mkdir(parents=True, exist_ok=True)
    sampler = RssSampler(timeline=out / "rss.tsv")
    log = out / "stage_times.jsonl"
    earlier = _read_log(log)
    stages = tuple(Stage(s.name, s.fields, _measured(s.name, s.run, sampler, log), s.own_progress_bar)
                   for s in default_stages())

    class MeasuredPipeline(Pipeline):
        def _publish(self, ds, context, records):
            return _measured("publish", lambda d, c, x: super(MeasuredPipeline, self)._publish(d, x, records),
                             sampler, log)(ds, self.config, context)

    config = RunConfig(source="disk", disk_path=str(input_dir), out=str(out)).override(**overrides)
    wall, cpu = time.perf_counter(), time.process_time()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    result = MeasuredPipeline(config, stages=stages, show_progress=False).run()
    if profiler is not None:
        profiler.disable()
        _write_profile(profiler, out)
    sampler.stop()
    measured = _read_log(log)
    statuses = {s["name"]: s["status"] for s in result.stages}
    resumed = [name for name, status in statuses.items() if status == "cached"]
    for name in resumed:  # a resumed run: the time recorded when the stage ran
        measured[name] = earlier.get(name, {"stage": name, "wall_s": None})
    import resource

    return {"input": str(input_dir), "run": str(out), "overrides": overrides, "stats": {k: _small(v) for k, v in result.stats.items()},
            "load": result.stats.get("load", {}), "stages": [measured.get(n, {"stage": n}) for n in STAGES],
            "resumed": resumed, "wall_s_this_process": round(time.perf_counter() - wall, 1),
            "cpu_s_this_process": round(time.process_time() - cpu, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _read_log(log: Path) -> dict[str, dict[str, Any]]:
    if not log.exists():
        return {}
    return {r["stage"]: r for r in map(json.loads, log.read_text().splitlines()) if r}


def _write_profile(profiler, out: Path) -> None:
    import io
    import pstats

    profiler.dump_stats(str(out / "profile.prof"))
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    stats.sort_stats("cumulative").print_stats(80)
    stats.sort_stats("tottime").print_stats(60)
    (out / "profile.txt").write_text(buffer.getvalue())


# ------------------------------------------------------------------------------ reports


def growth(results: list[dict[str, Any]], key: str = "wall_s") -> list[dict[str, Any]]:
    """Per stage and pair of consecutive sizes: log(t2 / t1) / log(n2 / n1) of ``key`` (wall_s or
    cpu_s; 1.0 is linear). On a shared machine the CPU seconds' exponent is the one to read."""
    done = sorted((r for r in results if r.get("referents")), key=lambda r: r["referents"])
    out = []
    for a, b in zip(done, done[1:]):
        ratio = b["referents"] / a["referents"]
        if ratio <= 1:
            continue
        row: dict[str, Any] = {"from": a["referents"], "to": b["referents"], "of": key}
        for name in (*STAGES, "total"):
            ta, tb = _wall(a, name, key), _wall(b, name, key)
            row[name] = round(math.log(tb / ta) / math.log(ratio), 2) if ta and tb and ta > 0.05 else None
        out.append(row)
    return out


def _wall(result: dict[str, Any], name: str, key: str = "wall_s") -> float | None:
    if name == "total":
        walls = [s.get(key) for s in result["stages"]]
        return sum(w for w in walls if w) or None
    return next((s.get(key) for s in result["stages"] if s.get("stage") == name), None)


def _stage_value(result: dict[str, Any], name: str, key: str) -> float:
    value = next((s.get(key) for s in result["stages"] if s.get("stage") == name), None)
    return float(value or 0.0)


def write_reports(payload: dict[str, Any], stem: Path) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(payload, indent=2))
    stem.with_suffix(".md").write_text(markdown(payload))
    plot(payload, stem.with_suffix(".png"))


def markdown(payload: dict[str, Any]) -> str:
    runs = sorted(payload["runs"], key=lambda r: r.get("referents", 0))
    lines = ["# refaug end to end", "", f"Machine: {payload['machine']}. Command: `{payload['command']}`", ""]
    head = "| stage | " + " | ".join(f"{r['referents']:,} refs: wall s / cpu s / peak MB (private MB) / rows"
                                     for r in runs) + " |"
    lines += [head, "|" + " --- |" * (len(runs) + 1)]
    for name in (*STAGES, "total"):
        cells = []
        for r in runs:
            if name == "total":
                anon = max((s.get("peak_anon_mb") or 0 for s in r["stages"]), default=0) or None
                cells.append(f"**{r['total_wall_s']}** / {r['total_cpu_s']} / {r['peak_rss_mb']} ({anon}) / "
                             f"{r['referents']:,}")
                continue
            s = next((s for s in r["stages"] if s.get("stage") == name), {})
            cells.append(f"{s.get('wall_s')} / {s.get('cpu_s')} / {s.get('peak_rss_mb')} ({s.get('peak_anon_mb')}) / "
                         f"{s.get('rows')}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Inputs: " + "; ".join(f"{r['referents']:,} referents, {r['load'].get('expressions', 0):,} "
                                          f"expressions, {r['load'].get('images', 0):,} images" for r in runs), ""]
    if payload["growth"]:
        lines += ["Growth exponents (log t2/t1 over log n2/n1; 1 is linear; on a shared machine read the CPU rows):",
                  "", "| sizes | of | " + " | ".join((*STAGES, "total")) + " |", "|" + " --- |" * (len(STAGES) + 3)]
        for g in payload["growth"]:
            lines.append(f"| {g['from']:,} -> {g['to']:,} | {g.get('of', 'wall_s')} | "
                         + " | ".join(str(g[n]) for n in (*STAGES, "total")) + " |")
    return "\n".join(lines) + "\n"


def plot(payload: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = sorted(payload["runs"], key=lambda r: r.get("referents", 0))
    if not runs:
        return
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    labels = [f"{r['referents']:,}" for r in runs]
    for ax, key, title in ((axes[0], "wall_s", "wall time"), (axes[1], "cpu_s", "CPU time (all threads)")):
        bottom = np.zeros(len(runs))
        for name in STAGES:
            values = np.array([_stage_value(r, name, key) for r in runs])
            ax.bar(labels, values, bottom=bottom, label=name)
            bottom += values
        ax.set_xlabel("referents")
        ax.set_ylabel("seconds")
        ax.set_title(f"refaug run per stage: {title}")
    axes[0].axhline(900, color="black", linestyle="--", linewidth=1, label="15 minutes")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------- identical outputs


def compare_published(a: Path, b: Path) -> dict[str, Any]:
    """Whether two runs published the same rows: every column of every split's Parquet file but the
    image, and the overlap of their (referent, negative text) pairs (``--compare RUN_A RUN_B``: a
    speed change must leave the published negatives as they were)."""
    import pyarrow.parquet as pq

    splits, union, shared = {}, 0, 0
    for fa in sorted((a / "publish" / "data").glob("*.parquet")):
        fb = b / "publish" / "data" / fa.name
        if not fb.exists():
            splits[fa.stem] = {"identical": False, "missing": str(fb)}
            continue
        names = [n for n in pq.read_schema(fa).names if n != "image"]  # the pixels are not read
        if names != [n for n in pq.read_schema(fb).names if n != "image"]:
            splits[fa.stem] = {"identical": False, "columns": [names, pq.read_schema(fb).names]}
            continue
        ta, tb = pq.read_table(fa, columns=names), pq.read_table(fb, columns=names)
        if ta.column_names != tb.column_names or ta.num_rows != tb.num_rows:
            splits[fa.stem] = {"identical": False, "columns": [ta.column_names, tb.column_names],
                               "rows": [ta.num_rows, tb.num_rows]}
            continue
        differing = [c for c in ta.column_names if c != "image" and not ta.column(c).equals(tb.column(c))]
        entry: dict[str, Any] = {"identical": not differing, "rows": ta.num_rows, "differing_columns": differing}
        if "hard_negatives" in ta.column_names:
            ids = ta.column("referent_id").to_pylist()
            pairs = [{(r, n["text"]) for r, row in zip(ids, t.column("hard_negatives").to_pylist()) for n in row}
                     for t in (ta, tb)]
            entry.update(negatives=[len(p) for p in pairs], shared=len(pairs[0] & pairs[1]))
            union, shared = union + len(pairs[0] | pairs[1]), shared + len(pairs[0] & pairs[1])
        splits[fa.stem] = entry
    return {"a": str(a), "b": str(b), "identical": bool(splits) and all(s["identical"] for s in splits.values()),
            "negative_pairs": union, "shared": shared, "overlap": shared / union if union else 1.0, "splits": splits}


# --------------------------------------------------------------------------------- main


def child(args: argparse.Namespace) -> None:
    result = run_size(Path(args.input), Path(args.run), profile=args.profile, overrides=_overrides(args.set))
    Path(args.result).write_text(json.dumps(result, indent=2))


def _overrides(pairs: list[str]) -> dict[str, Any]:
    """``["plausibility=off", "num_negatives=20"]`` -> RunConfig overrides (values read as JSON where
    they parse, else kept as text: ``off`` stays the word)."""
    out = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set {pair!r}: write FIELD=VALUE, e.g. --set plausibility=off")
        try:
            out[name.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[name.strip()] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="the real dev file (refcoco_real_dev.jsonl)")
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.125, 0.5, 1.0],
                        help="fractions of RefCOCO's size (1.0: 50,000 referents in 20,000 images)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "runs" / "end_to_end")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="rerun sizes that finished (fresh run folders)")
    parser.add_argument("--profile", action="store_true", help="run under cProfile (slower; not for timings)")
    parser.add_argument("--results", type=Path, default=RESULTS / "end_to_end", help="output stem")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a RunConfig field of the run (repeatable), e.g. --set plausibility=off")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("RUN_A", "RUN_B"),
                        help="compare the published rows of two run folders (all columns but the image, and "
                             "the overlap of the negatives); prints JSON and exits")
    parser.add_argument("--child", nargs=3, metavar=("INPUT", "RUN", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.compare:
        print(json.dumps(compare_published(*args.compare), indent=2))
        return
    if args.child:
        args.input, args.run, args.result = args.child
        child(args)
        return
    if args.data is not None and not args.data.exists():
        raise SystemExit(f"--data {args.data}: no such file; pass the path of refcoco_real_dev.jsonl")
    results_path = args.results.with_suffix(".json")
    previous = json.loads(results_path.read_text()).get("runs", []) if results_path.exists() else []
    wanted = _overrides(args.set)
    runs = {r["fraction"]: r for r in previous if r.get("complete") and r.get("overrides", {}) == wanted}
    for fraction in sorted(args.sizes):
        if fraction in runs and not args.force:
            logger.info("size %g: done before (--force reruns it)", fraction)
            continue
        runs[fraction] = one_size(fraction, args)
        payload = _payload(runs, args)
        write_reports(payload, args.results)
    write_reports(_payload(runs, args), args.results)
    print(markdown(_payload(runs, args)))


def one_size(fraction: float, args: argparse.Namespace) -> dict[str, Any]:
    start = time.perf_counter()
    input_dir = build_input(fraction, args.workdir, args.data, seed=args.seed)
    logger.info("size %g: input %s ready in %.1fs", fraction, input_dir, time.perf_counter() - start)
    run = args.workdir / f"run-{input_dir.parent.name}-{input_dir.name}{'-profile' if args.profile else ''}"
    if args.force:
        shutil.rmtree(run, ignore_errors=True)
    result_file = run.with_name(run.name + ".result.json")
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(input_dir), str(run), str(result_file)]
    if args.profile:
        command.append("--profile")
    for pair in args.set:
        command += ["--set", pair]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    subprocess.run(command, check=True, env=env)
    result = json.loads(result_file.read_text())
    walls = [s.get("wall_s") for s in result["stages"]]
    cpus = [s.get("cpu_s") for s in result["stages"]]
    result.update(fraction=fraction, referents=result["load"].get("referents", 0), complete=all(w is not None for w in walls),
                  total_wall_s=round(sum(w or 0 for w in walls), 1), total_cpu_s=round(sum(c or 0 for c in cpus), 1),
                  profiled=bool(args.profile))
    return result


def _payload(runs: dict[float, dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    ordered = [runs[k] for k in sorted(runs)]
    machine = f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), Python {platform.python_version()}"
    return {"machine": machine, "command": "python benchmarks/end_to_end.py " + " ".join(sys.argv[1:]),
            "runs": ordered, "growth": growth(ordered, "cpu_s") + growth(ordered, "wall_s")}


if __name__ == "__main__":
    main()
