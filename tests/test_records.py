from __future__ import annotations

import pytest
from datasets import Dataset

from refaug.records import (
    ROW_FEATURES,
    Candidate,
    HardNegative,
    Referent,
    Row,
    Views,
    ViewSource,
)


def _referent(**overrides):
    values = dict(
        referent_id="refcoco-unc-7",
        image_id=9,
        ann_id=3,
        ref_id=7,
        category="person",
        supercategory="person",
        bbox=(1.5, 2.0, 30.0, 40.25),
        image="/data/coco/x.jpg",
        expressions=("left lady", "woman in red"),
        split="train",
    )
    values.update(overrides)
    return Referent(**values)


@pytest.mark.parametrize(
    "row",
    [
        Row(_referent()),
        Row(_referent(image=None, expressions=()), views=None, hard_negatives=()),
        Row(_referent(image=b"\x89PNG..."), views=Views("red shirt", None, "on the left", None)),
        Row(
            _referent(),
            views=Views(
                appearance="woman in a red coat",
                action=None,
                spatial="leftmost person",
                alternative="lady wearing glasses",
                source=ViewSource("rules", None, "multiview.v1", "v1", "abc"),
            ),
            hard_negatives=(
                HardNegative(
                    "right lady", "same_image", "", "refcoco-unc-8", 0.61, 0.61, "sim 0.61 < 0.70"
                ),
                HardNegative(
                    "left man", "attribute", "noun: lady -> man", "left lady", 0.5, 0.4, "r"
                ),
            ),
        ),
    ],
)
def test_row_round_trip_through_a_dataset(row):
    ds = Dataset.from_list([row.to_row()], features=ROW_FEATURES)
    back = Row.from_row(ds[0])
    assert back.referent == row.referent
    assert back.views == row.views
    assert [n.text for n in back.hard_negatives] == [n.text for n in row.hard_negatives]
    for got, want in zip(back.hard_negatives, row.hard_negatives):
        assert got.similarity == pytest.approx(want.similarity, abs=1e-6)
        assert got.kind == want.kind and got.reason == want.reason and got.detail == want.detail


def test_referent_round_trip_is_exact():
    r = _referent()
    assert Referent.from_row(r.to_row()) == r
    assert Referent.from_row(_referent(image=None).to_row()).image is None


def test_views_cluster_order_skips_missing():
    v = Views(appearance="a", action=None, spatial="s", alternative="alt")
    assert v.cluster == ("a", "s", "alt")
    assert Views.from_row(v.to_row()) == v


def test_candidate_rejects_unknown_kind_and_lists_valid():
    with pytest.raises(ValueError, match="same_image"):
        Candidate(text="x", kind="typo")
    c = Candidate("right lady", "attribute", "spatial: left -> right", "left lady")
    assert Candidate.from_row(c.to_row()) == c
    n = HardNegative.from_candidate(c, similarity=0.5, score=0.4, reason="kept")
    assert n.candidate == c
    assert HardNegative.from_row(n.to_row()) == n


def test_records_are_frozen():
    with pytest.raises(AttributeError):
        _referent().category = "dog"
