from __future__ import annotations

import json
import logging
import pickle

import pytest
from datasets import load_from_disk

from refaug.data.refer import load_refer
from refaug.errors import DataError
from refaug.records import REFERENT_FEATURES, Referent
from tests import refer_files


@pytest.mark.parametrize(
    ("dataset", "split_by", "splits"),
    [
        ("refcoco", "unc", {"train", "val", "testA", "testB"}),
        ("refcoco", "google", {"train", "val", "testA", "testB"}),
        ("refcoco+", "unc", {"train", "val", "testA", "testB"}),
        ("refcocog", "umd", {"train", "val", "test"}),
        ("refcocog", "google", {"train", "val", "testA", "testB"}),
    ],
)
def test_loads_every_refer_format(tmp_path, dataset, split_by, splits):
    refer_files.write_refer(tmp_path, dataset, split_by)
    dd = load_refer(tmp_path, dataset=dataset, split_by=split_by)
    assert set(dd) == splits
    assert sum(len(d) for d in dd.values()) == len(refer_files.REFS)
    train = dd["train"]
    assert train.features == REFERENT_FEATURES
    first = Referent.from_row(train[0])
    assert first.referent_id == f"{dataset}-{split_by}-1"
    assert first.expressions == ("left lady", "woman in red on the left")
    assert first.category == "person" and first.supercategory == "person"
    assert first.bbox == (10.0, 20.0, 100.0, 200.0)
    assert first.image is None


def test_dataset_folder_itself_and_image_paths(tmp_path):
    refer_files.write_refer(tmp_path)
    images = tmp_path / "train2014"
    images.mkdir()
    for image_id in (100, 101, 102):
        (images / f"COCO_train2014_{image_id:012d}.jpg").write_bytes(b"jpg")
    dd = load_refer(tmp_path / "refcoco", dataset="refcoco", split_by="unc", images=images)
    assert dd["val"][0]["image"]["path"].endswith("COCO_train2014_000000000101.jpg")


def test_save_and_load_from_disk(tmp_path):
    refer_files.write_refer(tmp_path)
    dd = load_refer(tmp_path)
    dd.save_to_disk(tmp_path / "saved")
    back = load_from_disk(str(tmp_path / "saved"))
    assert back["train"].features == REFERENT_FEATURES
    assert back["train"][:] == dd["train"][:]


def test_grefcoco_keeps_no_target_apart_and_unions_multi_target(tmp_path, caplog):
    refer_files.write_grefcoco(tmp_path)
    with caplog.at_level(logging.INFO, logger="refaug.data.refer"):
        dd = load_refer(tmp_path, dataset="grefcoco", split_by="unc")
    assert "1 no-target refs (2 expressions" in caplog.text
    assert "1 multi-target refs" in caplog.text
    no_target = dd["train_no_target"]
    assert no_target["expression"] == ["the cat on the sofa", "man with a kite"]
    assert set(no_target["image_id"]) == {100}
    multi = [r for r in dd["train"] if r["ref_id"] == 90][0]
    assert multi["bbox"] == [10.0, 20.0, 390.0, 200.0]
    assert multi["ann_id"] == 1000


# ---------------------------------------------------------------- bad input


def _bad_refs(mutate):
    refs = refer_files.refs("unc")
    mutate(refs)
    return refs


BAD_REFS = {
    "ann_id not in instances": (
        lambda refs: refs[2].update(ann_id=424242),
        "ann_id 424242 is not in instances.json",
    ),
    "bbox outside its image": (None, "lies outside its image"),
    "empty expression": (
        lambda refs: refs[1]["sentences"][0].update(sent="  ", raw=""),
        "sentence 0 is empty",
    ),
    "non-string expression": (
        lambda refs: refs[1]["sentences"][1].update(sent=17, raw=17),
        "not a string",
    ),
    "ref missing fields": (lambda refs: refs[3].pop("sentences"), "missing sentences"),
    "unknown image": (lambda refs: refs[4].update(image_id=999), "image_id 999 is not in"),
}


@pytest.mark.parametrize("case", sorted(BAD_REFS))
def test_bad_rows_raise_with_file_ref_and_fix(tmp_path, case, caplog):
    mutate, message = BAD_REFS[case]
    coco = refer_files.instances()
    if mutate is None:
        coco["annotations"][0]["bbox"] = [600.0, 20.0, 100.0, 200.0]
        ref_list = refer_files.refs()
    else:
        ref_list = _bad_refs(mutate)
    refer_files.write_refer(tmp_path, ref_list=ref_list, coco=coco)
    with pytest.raises(DataError) as info:
        load_refer(tmp_path)
    text = str(info.value)
    assert message in text
    assert "refs(unc).p" in text
    assert "Fix:" in text
    assert "ref_id" in text or "ref #" in text
    with caplog.at_level(logging.WARNING, logger="refaug.data.refer"):
        dd = load_refer(tmp_path, on_error="skip")
    assert sum(len(d) for d in dd.values()) == len(refer_files.REFS) - 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 1 refs" in warnings[0].getMessage()


def test_skip_counts_several_reasons_in_one_warning(tmp_path, caplog):
    def mutate(refs):
        refs[0].update(ann_id=5)
        refs[1].update(ann_id=6)
        refs[2]["sentences"][0].update(sent="")

    refer_files.write_refer(tmp_path, ref_list=_bad_refs(mutate))
    with caplog.at_level(logging.WARNING, logger="refaug.data.refer"):
        load_refer(tmp_path, on_error="skip")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "skipped 3 refs" in warnings[0]
    assert "1 x sentence 0 is empty" in warnings[0]


def test_missing_refs_file_names_the_path_and_layout(tmp_path):
    with pytest.raises(DataError, match=r"refs\(unc\)\.p.*Fix: pass the folder"):
        load_refer(tmp_path)


def test_missing_instances(tmp_path):
    refer_files.write_refer(tmp_path)
    (tmp_path / "refcoco" / "instances.json").unlink()
    with pytest.raises(DataError, match="instances.json is missing"):
        load_refer(tmp_path)


def test_instances_of_wrong_shape(tmp_path):
    refer_files.write_refer(tmp_path, coco={"images": []})
    with pytest.raises(DataError, match="not a COCO-format instances file"):
        load_refer(tmp_path)


@pytest.mark.parametrize("payload", [{"refs": []}, "not a list", 42])
def test_pickle_of_the_wrong_shape(tmp_path, payload):
    refer_files.write_refer(tmp_path)
    with (tmp_path / "refcoco" / "refs(unc).p").open("wb") as handle:
        pickle.dump(payload, handle)
    with pytest.raises(DataError, match="expected a list of refs"):
        load_refer(tmp_path)


def test_corrupt_pickle(tmp_path):
    refer_files.write_refer(tmp_path)
    (tmp_path / "refcoco" / "refs(unc).p").write_bytes(b"garbage")
    with pytest.raises(DataError, match="cannot read the refs file"):
        load_refer(tmp_path)


def test_list_of_non_dicts(tmp_path):
    refer_files.write_refer(tmp_path, ref_list=["a", "b"])
    with pytest.raises(DataError, match="ref #0 is not a refer-toolkit ref"):
        load_refer(tmp_path)


def test_missing_image_file(tmp_path):
    refer_files.write_refer(tmp_path)
    (tmp_path / "imgs").mkdir()
    with pytest.raises(DataError, match="image file .* is missing"):
        load_refer(tmp_path, images=tmp_path / "imgs")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dataset": "refcocoo"}, "dataset='refcocoo' is not valid; choose one of .*'refcoco'"),
        (
            {"dataset": "refcocog", "split_by": "unc"},
            "split_by='unc' is not valid; choose one of 'google', 'umd'",
        ),
        ({"on_error": "ignore"}, "on_error='ignore' is not valid"),
    ],
)
def test_unknown_options_list_the_valid_ones(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_refer(tmp_path, **kwargs)


def test_grefs_json_is_read(tmp_path):
    refer_files.write_grefcoco(tmp_path)
    data = json.loads((tmp_path / "grefcoco" / "grefs(unc).json").read_text())
    assert data[-1]["ann_id"] == [-1]


def test_a_refer_round_trip_keeps_the_derived_positives(tmp_path):
    """load_refer -> views and Views.derived -> to_refer -> load_refer: the derived positives come back
    in ``views.derived`` (not among the expressions), the views as they were."""
    from datasets import Dataset, DatasetDict

    from refaug.publish import to_refer
    from refaug.records import VIEWS_FEATURE, Views

    source = refer_files.write_refer(tmp_path / "src")
    loaded = load_refer(source)
    name, first = next(iter(loaded.items()))
    rows = first.to_list()
    derived = [{"text": "man not on left", "kind": "negated_negative", "origin": "man on left",
                "detail": "negated: spatial: right -> left; add not: on"},
               {"text": "dog not sitting", "kind": "negated_negative", "origin": "dog sitting",
                "detail": "negated: state: standing -> sitting; add not: sitting"}]
    views = {"appearance": "man in blue", "action": None, "spatial": "man on right", "alternative": None,
             "source": {"backend": "rules", "model": None, "template": "multiview.v1", "template_version": "1",
                        "template_hash": "abc"}, "derived": derived}
    for k, row in enumerate(rows):
        row["views"] = views if k == 0 else None
    features = first.features.copy()
    features["views"] = VIEWS_FEATURE
    out = to_refer(DatasetDict({**loaded, name: Dataset.from_list(rows, features=features)}), tmp_path / "out",
                   refer_root=source)
    back = {r["ref_id"]: r for split in load_refer(out).values() for r in split}
    again = back[rows[0]["ref_id"]]
    assert again["expressions"] == rows[0]["expressions"]  # the appended sentences are not originals
    got = Views.from_row(again["views"])
    assert [d.to_row() for d in got.derived] == derived
    assert (got.appearance, got.spatial, got.source.backend, got.source.template) == (
        "man in blue", "man on right", "rules", "multiview.v1")
    assert all(not (back[r["ref_id"]]["views"] or {}).get("derived") for r in rows[1:])
