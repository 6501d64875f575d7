"""Image-level no-target expressions (refaug.mining.no_target): a real run on synthetic scenes.

One run of the whole pipeline (rules views, every rewriter, the packaged MiniLM, the contrast
judgement, spaCy) with a small cap; the checks re-judge its published rows independently.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from refaug.config import RunConfig
from refaug.pipeline import Pipeline

CAP = 6


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("no_target_run")
    # the plausibility filter (another step, with its own tests) is off where the config has it
    off = {"plausibility": "off"} if "plausibility" in RunConfig.__dataclass_fields__ else {}
    config = RunConfig(synthetic_images=6, seed=0, out=str(out), num_negatives=5, no_target_per_image=CAP,
                       to_refer=True, **off)
    return Pipeline(config, show_progress=False).run()


def _referents(result) -> dict[str, dict]:
    return {r["referent_id"]: r for part in result.dataset.values() for r in part}


def _by_image(result) -> dict[tuple[str, int], list[dict]]:
    objects = defaultdict(list)
    for r in _referents(result).values():
        objects[(r["split"], r["image_id"])].append(r)
    return objects


def test_a_run_publishes_no_target_rows_in_the_grefcoco_layout(run):
    from refaug.data.refer import NO_TARGET_FEATURES
    from refaug.records import NO_TARGET_EXTRA_FEATURES

    assert run.no_target, "no <split>_no_target split was published"
    assert set(run.no_target) <= {f"{s}_no_target" for s in run.dataset}
    for name, part in run.no_target.items():
        assert list(part.features) == [*NO_TARGET_FEATURES, *NO_TARGET_EXTRA_FEATURES]
        assert set(part["split"]) == {name.removesuffix("_no_target")}
        assert (run.out / "publish" / "data" / f"{name}.parquet").is_file()
    assert (run.out / "publish" / "no_target" / "dataset_dict.json").is_file()
    assert "config_name: no_target" in (run.out / "publish" / "README.md").read_text()
    ref_ids = {r["ref_id"] for r in _referents(run).values()}
    assert not ref_ids & {i for part in run.no_target.values() for i in part["ref_id"]}
    stats = run.stats["mine"]["no_target"]
    assert stats["images_with"] > 0 and stats["verified_share"] == 1.0  # require_verified by default
    assert "no-target expressions" in run.summary_table()


def test_no_row_is_inside_any_object_of_its_image_and_the_cap_holds(run):
    from refaug.clusters import ClusterClassifier, cluster_texts

    objects = _by_image(run)
    clusters, candidates, categories, counts = [], [], [], defaultdict(int)
    for part in run.no_target.values():
        for row in part:
            counts[(row["split"], row["image_id"])] += 1
            for obj in objects[(row["split"], row["image_id"])]:
                clusters.append(list(cluster_texts(obj)))
                candidates.append([row["expression"]])
                categories.append(obj["category"])
    verdicts = ClusterClassifier("contrast").judge_texts(clusters, candidates, categories=categories)
    inside = [(c[0], m) for v, c, m in zip(verdicts, candidates, clusters, strict=True) if not v.negative[0]]
    assert not inside, inside[:5]
    assert max(counts.values()) == CAP  # some image fills its list, none passes the cap
    assert len(counts) == len(objects)  # every image got some


def test_other_images_expressions_are_of_categories_absent_from_the_image(run):
    referents = _referents(run)
    objects = _by_image(run)
    cross = [row for part in run.no_target.values() for row in part if row["kind"] == "cross_image"]
    assert cross
    for row in cross:
        owner = referents[row["origin"]]
        assert owner["image_id"] != row["image_id"]
        assert owner["category"] not in {o["category"] for o in objects[(row["split"], row["image_id"])]}
        assert row["expression"] in owner["expressions"]
    assert {row["kind"] for part in run.no_target.values() for row in part} - {"cross_image"}, "no rewrite kept"


def test_the_refer_export_reads_back_as_no_target_splits(run):
    from refaug.data.refer import load_refer
    from refaug.publish import refer_tokens

    loaded = load_refer(run.out / "refer", "refcoco", "unc")
    names = {n for n in loaded if n.endswith("_no_target")}
    assert names == set(run.no_target)
    for name in names:
        want = sorted((r["ref_id"], r["image_id"], " ".join(refer_tokens(r["expression"])), r["kind"],
                       r["verified_by"]) for r in run.no_target[name])
        got = sorted((r["ref_id"], r["image_id"], r["expression"], r["kind"], r["verified_by"]) for r in loaded[name])
        assert got == want
    assert {n for n in loaded if not n.endswith("_no_target")} == set(run.dataset)


def test_a_filter_hook_sees_only_generated_texts_and_its_drops_are_counted(run, embedder):
    from datasets import load_from_disk

    from refaug.clusters import ClusterClassifier
    from refaug.mining.corpus import prepare
    from refaug.mining.no_target import NoTargetTexts, image_negatives
    from refaug.mining.verification import build_evidence

    rows = load_from_disk(str(next((run.out / "stages").glob("*-rewrite")) / "data"))
    rows = rows.filter(lambda s: s == "train", input_columns="split")
    helper = NoTargetTexts()
    data = prepare(rows, embedder, include_expressions=True, sources=[helper])
    clf = ClusterClassifier("contrast", embedder=embedder)
    distractors = {c["text"] for row in rows["distractors"] for c in row}
    seen = []

    def reject_all(vocab):
        seen.extend(data.texts[i] for i in vocab)
        return [False] * len(vocab)

    lists, report = image_negatives(data, clf, build_evidence(data, clf), pool=helper.pool, per_image=CAP,
                                    keep=reject_all)
    kept = [n for items in lists for n in items]
    assert seen and set(seen) <= distractors
    assert kept and {n["kind"] for n in kept} == {"cross_image"}
    assert report.dropped["filtered"] == len(seen)


def test_bad_caps_fail_with_the_fix(synthetic_small):
    from refaug.errors import ConfigError
    from refaug.mining import mine_hard_negatives

    with pytest.raises(ValueError, match="output_format='nested'"):
        mine_hard_negatives(synthetic_small, no_target_per_image=3, output_format="triplet")
    with pytest.raises(ValueError, match="must be >= 0"):
        mine_hard_negatives(synthetic_small, no_target_per_image=-1)
    with pytest.raises(ConfigError, match="no_target_per_image=-2"):
        RunConfig(no_target_per_image=-2)


def test_rows_do_not_copy_their_image(run):
    """An image's up to 30 rows carry no copy of it; its pixels are in the referent rows of that image_id."""
    rows = [row for part in run.no_target.values() for row in part]
    assert rows
    assert all(row["image"] is None for row in rows)
    with_pixels = {r["image_id"] for part in run.dataset.values() for r in part.select_columns(["image_id"])}
    assert {row["image_id"] for row in rows} <= with_pixels


def test_images_in_forked_workers_get_the_lists_of_one_process(run, embedder, monkeypatch):
    """Chunks of images taken by two forked processes: the same lists, the same counts, the
    plausibility hook called in the workers."""
    import pyarrow as pa
    from datasets import load_from_disk

    import refaug.mining.no_target as no_target_module
    from refaug.clusters import ClusterClassifier
    from refaug.columns import arrow_type
    from refaug.mining.corpus import prepare
    from refaug.mining.verification import build_evidence

    rows = load_from_disk(str(next((run.out / "stages").glob("*-rewrite")) / "data"))
    helper = no_target_module.NoTargetTexts()
    data = prepare(rows, embedder, include_expressions=True, sources=[helper])
    clf = ClusterClassifier("contrast", embedder=embedder)
    evidence = build_evidence(data, clf)
    monkeypatch.setattr(no_target_module, "CHUNK_IMAGES", 2)  # chunks enough for two processes

    def every_other(vocab):  # a filter that drops some, so that the refill rounds run
        return [i % 2 == 0 for i in vocab]

    found = [no_target_module.image_negatives(data, clf, evidence, pool=helper.pool, per_image=CAP,
                                              keep=every_other, workers=workers, as_arrow=as_arrow)
             for workers, as_arrow in ((1, False), (2, False), (2, True))]
    (one, one_report), (two, two_report), (column, _) = found
    assert len(set(data.image_ids)) > 2 * 2 and sum(map(len, one)) > 0
    assert two == one
    assert column.to_pylist() == pa.array(one, type=arrow_type(no_target_module.no_target_feature())).to_pylist()
    for name in ("kept", "verified_by", "considered", "dropped"):
        assert getattr(two_report, name) == getattr(one_report, name)
    assert one_report.dropped["filtered"] > 0


def test_no_target_rows_one_ref_per_image_in_rank_order():
    """Images numbered in the order of their first row (one without items gets no ref), each
    image's items by rank over its rows; read through an indices mapping."""
    from datasets import Dataset

    from refaug.mining.no_target import no_target_rows

    def item(text, rank):
        return {"text": text, "kind": "attribute", "detail": "", "origin": "", "verified_by": "edit",
                "similarity": 0.5, "reason": "", "rank": rank}

    ds = Dataset.from_dict({
        "image_id": [9, 7, 9, 5, 7, 1],
        "split": ["val"] * 6,
        "no_target": [[item("c", 2), item("a", 0)], [], [item("b", 1)], [], [item("z", 0)], [item("drop", 0)]],
    }).select([0, 1, 2, 3, 4])  # the last row left out
    rows = no_target_rows(ds, first_ref_id=100)
    assert list(zip(rows["ref_id"], rows["image_id"], rows["expression"], strict=True)) == [
        (100, 9, "a"), (100, 9, "b"), (100, 9, "c"), (101, 7, "z")]
    assert rows["image"] == [None] * 4 and rows["split"] == ["val"] * 4
