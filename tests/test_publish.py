from __future__ import annotations

import json
import os
import pickle

import pytest
import yaml
from datasets import Dataset, DatasetDict, load_from_disk
from datasets import Features as DFeatures

from refaug.data.refer import load_refer
from refaug.publish import PublishError, PublishInfo, dataset_card, publish, push_to_hub, to_refer
from refaug.records import REFERENT_FEATURES, ROW_FEATURES, VIEWS_FEATURE
from tests import refer_files

SOURCE = {
    "backend": "rules",
    "model": None,
    "template": "multiview.v1",
    "template_version": "v1",
    "template_hash": "h",
}


def _views(i: int) -> dict | None:
    if i % 3 == 2:
        return None  # a failed generation: the ref keeps only its originals
    return {
        "appearance": f"person in coat {i}",
        "action": None if i % 2 else f"holding cup {i}",
        "spatial": f"on the left {i}",
        "alternative": f"wearing a hat {i}" if i % 2 else None,
        "source": SOURCE,
    }


def _negatives(i: int) -> list[dict]:
    return [
        {
            "text": f"neg {i} {k}",
            "kind": "same_image",
            "detail": "",
            "origin": "o",
            "similarity": 0.5 - k / 10,
            "score": 0.9 - k / 10,
            "reason": "sim < thr",
        }
        for k in range(i % 3)
    ]


def _with_results(dd: DatasetDict) -> DatasetDict:
    out = {}
    counter = 0
    for name, ds in dd.items():
        views, negatives = [], []
        for _ in range(len(ds)):
            views.append(_views(counter))
            negatives.append(_negatives(counter))
            counter += 1
        ds = ds.add_column("views", views, feature=VIEWS_FEATURE)
        ds = ds.add_column("hard_negatives", negatives)
        ds = ds.add_column("num_verified", [sum(n.get("verified_by", "none") != "none" for n in row)
                                            for row in negatives]).cast(ROW_FEATURES)
        out[name] = ds
    return DatasetDict(out)


@pytest.mark.parametrize(("dataset", "split_by"), [("refcoco", "unc"), ("refcocog", "umd")])
def test_refer_round_trip_keeps_originals_and_adds_views(tmp_path, dataset, split_by):
    source = refer_files.write_refer(tmp_path / "src", dataset, split_by)
    original = load_refer(source, dataset, split_by)
    published = _with_results(original)
    out = to_refer(
        published, tmp_path / "out", dataset_name=dataset, split_by=split_by, refer_root=source
    )
    back = load_refer(out, dataset, split_by)
    assert list(back) == list(original)
    for name in original:
        want, got = original[name], back[name]
        assert got.select_columns(list(REFERENT_FEATURES)).to_list() == want.to_list()
        assert got["views"] == published[name]["views"]
        assert got["hard_negatives"] == published[name]["hard_negatives"]
    # The refs keep their original sentences, ids and order; views come after, with new ids.
    before = refer_files.refs(split_by)
    with (out / dataset / f"refs({split_by}).p").open("rb") as handle:
        after = pickle.load(handle)
    assert [r["ref_id"] for r in after] == [r["ref_id"] for r in before]
    all_ids = [s["sent_id"] for r in after for s in r["sentences"]]
    assert len(all_ids) == len(set(all_ids))
    for old, new in zip(before, after):
        n = len(old["sentences"])
        assert new["sentences"][:n] == old["sentences"]
        assert all("view" not in s for s in new["sentences"][:n])
        assert new["sent_ids"] == [s["sent_id"] for s in new["sentences"]]
        for extra in new["sentences"][n:]:
            assert extra["view"] in ("appearance", "action", "spatial", "alternative")
            assert (
                extra["tokens"] == extra["sent"].split() and extra["sent"] == extra["raw"].lower()
            )
    assert json.loads((out / dataset / "instances.json").read_text()) == refer_files.instances()


def test_sidecar_negatives_in_rank_order(tmp_path):
    source = refer_files.write_refer(tmp_path / "src")
    published = _with_results(load_refer(source))
    out = to_refer(published, tmp_path / "out", refer_root=source)
    sidecar = json.loads((out / "refcoco" / "hard_negatives(unc).json").read_text())
    rows = {r["ref_id"]: r for ds in published.values() for r in ds}
    for ref_id, negatives in sidecar.items():
        assert [n["text"] for n in negatives] == [
            n["text"] for n in rows[int(ref_id)]["hard_negatives"]
        ]
        assert {"text", "kind", "detail", "similarity", "score"} <= set(negatives[0])
    assert set(map(int, sidecar)) == {k for k, r in rows.items() if r["hard_negatives"]}


def test_export_without_original_files_builds_them_from_rows(tmp_path, synthetic_small):
    published = _with_results(DatasetDict({"train": synthetic_small}))
    out = to_refer(published, tmp_path / "out", dataset_name="refcoco", split_by="unc")
    back = load_refer(out)
    assert back["train"]["expressions"] == synthetic_small["expressions"]
    assert back["train"]["views"] == published["train"]["views"]


def test_include_a_subset_of_views(tmp_path):
    source = refer_files.write_refer(tmp_path / "src")
    published = _with_results(load_refer(source))
    out = to_refer(published, tmp_path / "out", refer_root=source, include=("spatial",))
    with (out / "refcoco" / "refs(unc).p").open("rb") as handle:
        views = {s["view"] for r in pickle.load(handle) for s in r["sentences"] if "view" in s}
    assert views == {"spatial"}
    with pytest.raises(ValueError, match="include='colour' is not valid"):
        to_refer(published, tmp_path / "other", include=("colour",))


def test_refuses_to_overwrite_and_writes_atomically(tmp_path, monkeypatch):
    source = refer_files.write_refer(tmp_path / "src")
    published = _with_results(load_refer(source))
    out = to_refer(published, tmp_path / "out", refer_root=source)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        to_refer(published, out, refer_root=source)
    refs_file = out / "refcoco" / "refs(unc).p"
    before = refs_file.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", crash)  # dies mid-write of the pickle
    with pytest.raises(KeyboardInterrupt):
        to_refer(published, out, refer_root=source, overwrite=True, include=("spatial",))
    assert refs_file.read_bytes() == before
    assert not [p for p in (out / "refcoco").iterdir() if p.name.startswith(".")]


def test_publish_writes_dataset_parquet_and_card(tmp_path):
    published = _with_results(load_refer(refer_files.write_refer(tmp_path / "src")))
    info = PublishInfo(
        source="refcoco (unc)",
        backends=("rules",),
        models=("all-MiniLM-L6-v2",),
        templates=("multiview.v1@h",),
        thresholds={"centroid": 0.7},
    )
    out = publish(published, tmp_path / "pub", info=info)
    back = load_from_disk(str(out / "dataset"))
    assert back["train"].features == ROW_FEATURES
    assert Dataset.from_parquet(str(out / "data" / "val.parquet")).num_rows == len(published["val"])
    card = (out / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["source_datasets"] == ["refcoco (unc)"]
    assert {f["split"] for f in meta["configs"][0]["data_files"]} == set(published)
    assert "centroid = 0.7" in card and "| same_image |" in card and "rules" in card


def test_card_counts_kinds():
    ds = Dataset.from_list(
        [
            {
                "views": None,
                "hard_negatives": [
                    {"kind": "negation"},
                    {"kind": "negation"},
                    {"kind": "attribute"},
                ],
            }
        ],
        features=DFeatures(
            {"views": VIEWS_FEATURE, "hard_negatives": ROW_FEATURES["hard_negatives"]}
        ),
    )
    card = dataset_card(DatasetDict({"train": ds}), PublishInfo())
    assert "| negation | 2 |" in card and "| attribute | 1 |" in card


def test_failed_upload_says_why_and_keeps_the_local_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    published = _with_results(load_refer(refer_files.write_refer(tmp_path / "src")))
    out = publish(published, tmp_path / "pub")
    files = sorted(p.relative_to(out) for p in out.rglob("*"))
    with pytest.raises(PublishError) as info:
        push_to_hub(out, "someone/refaug-test", private=True, token="hf_fake")
    message = str(info.value)
    assert "someone/refaug-test" in message and "local copy" in message and "intact" in message
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == files
    assert load_from_disk(str(out / "dataset"))["train"].num_rows == published["train"].num_rows


def test_derived_positives_become_sentences_after_the_views(tmp_path):
    source = refer_files.write_refer(tmp_path / "src")
    published = _with_results(load_refer(source))
    first = published["train"] if "train" in published else next(iter(published.values()))
    rows = first.to_list()
    target = next(i for i, r in enumerate(rows) if r["views"] is not None)
    derived = [{"text": "man not on left", "kind": "negated_negative", "detail": "negated: spatial: right -> left; add not: on",
                "origin": "man on left"}]
    rows[target]["views"] = {**rows[target]["views"], "derived": derived}
    name = next(k for k, v in published.items() if v is first)
    published[name] = Dataset.from_list(rows, features=first.features)
    assert published[name][target]["views"]["derived"][0]["text"] == "man not on left"
    out = to_refer(published, tmp_path / "out", refer_root=source)
    with (out / "refcoco" / "refs(unc).p").open("rb") as handle:
        refs = {r["ref_id"]: r for r in pickle.load(handle)}
    sentences = refs[rows[target]["ref_id"]]["sentences"]
    assert sentences[-1]["raw"] == "man not on left" and sentences[-1]["view"] == "negated_negative"
    assert sentences[-1]["derived_from"] == "man on left" and sentences[-1]["tokens"] == ["man", "not", "on", "left"]
    ids = [s["sent_id"] for r in refs.values() for s in r["sentences"]]
    assert len(ids) == len(set(ids))
    back = load_refer(out)
    again = {r["ref_id"]: r for split in back.values() for r in split}
    assert "man not on left" not in again[rows[target]["ref_id"]]["expressions"]
    out2 = to_refer(published, tmp_path / "out2", refer_root=source, include=("spatial",))
    with (out2 / "refcoco" / "refs(unc).p").open("rb") as handle:
        assert not any(s.get("view") == "negated_negative" for r in pickle.load(handle) for s in r["sentences"])


def test_counts_and_similarities_read_column_wise_match_the_rows():
    """The card's and the report's counts, read in Arrow, against their row-by-row definitions,
    on a filtered split (an indices mapping), a row without negatives and one without views."""
    from refaug.publish import negatives_count, verification_counts, views_count
    from refaug.run_report import similarity_samples

    def negative(text, kind, verified_by, similarity):
        return {"text": text, "kind": kind, "verified_by": verified_by, "similarity": similarity}

    rows = {
        "split": ["a", "b", "a", "a"],
        "views": [{"appearance": "x"}, None, None, {"appearance": "y"}],
        "hard_negatives": [[negative("red car", "attribute", "edit", 0.5), negative("dog", "same_image", None, 0.25)],
                           [negative("cat", "same_image", "none", 0.75)], [],
                           [negative("blue car", "attribute", "conflict", 0.125)]],
        "distractors": [[{"text": "red car"}, {"text": "green car"}], [{"text": "x"}], [{"text": "y"}],
                        [{"text": "red car"}]],
        "distractor_similarity": [[0.5, 0.375], [0.0], [0.625], [0.875]],
        "cluster_stats": [{"member_similarity": [0.9, 0.8]}, None, {"member_similarity": [0.7]},
                          {"member_similarity": []}],
    }
    ds = Dataset.from_dict(rows)
    dd = DatasetDict({"a": ds.filter(lambda s: s == "a", input_columns="split")})
    part = dd["a"]
    assert views_count(part) == sum(v is not None for v in part["views"]) == 2
    assert negatives_count(part) == sum(map(len, part["hard_negatives"])) == 3
    assert verification_counts(dd) == {"edit": 1, "none": 1, "conflict": 1}
    want = {"views": [0.9, 0.8, 0.7], "kept negatives": [0.5, 0.25, 0.125],
            "rejected candidates": [0.375, 0.625, 0.875]}  # "red car" is kept in row 0 only
    got = similarity_samples(dd)
    assert {k: [round(v, 3) for v in got[k]] for k in want} == want
