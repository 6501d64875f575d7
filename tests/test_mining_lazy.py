"""The rank-order (lazy) judgement of neighbours picks the very negatives the eager path picks."""

from __future__ import annotations

import pytest

import refaug.mining.mine as mine_module
from refaug.clusters import ClusterClassifier
from refaug.data.synthetic import synthetic_scenes
from refaug.mining import mine_hard_negatives


@pytest.fixture(autouse=True, params=[0, mine_module.LAZY_SLACK])
def slack(request, monkeypatch):
    """Batches of the shortfall alone (slack 0) stop as early as the rule allows: a wrong rule shows."""
    monkeypatch.setattr(mine_module, "LAZY_SLACK", request.param)
    return request.param


@pytest.fixture(scope="module")
def scenes():
    return synthetic_scenes(40, seed=1, image_size=(64, 48))


def _mine(scenes, embedder, *, lazy: bool, num_negatives: int, plausibility: str = "off", threshold=None,
          **options):
    clf = ClusterClassifier("contrast", embedder=embedder, threshold=threshold)
    return mine_hard_negatives(scenes, embedder=embedder, classifier=clf, num_negatives=num_negatives,
                               plausibility=plausibility, lazy_judgement=lazy, return_report=True, **options)


def _not_judged(report) -> int:
    return sum(part.dropped.get("not_judged", 0) for part in report.kinds.values())


@pytest.mark.parametrize("plausibility", ["off", "cooccurrence"])
@pytest.mark.parametrize("num_negatives", [2, 5])
def test_lazy_and_eager_keep_the_same_negatives(scenes, embedder, plausibility, num_negatives):
    lazy, lazy_report = _mine(scenes, embedder, lazy=True, num_negatives=num_negatives, plausibility=plausibility)
    eager, eager_report = _mine(scenes, embedder, lazy=False, num_negatives=num_negatives,
                                plausibility=plausibility)
    assert lazy["hard_negatives"] == eager["hard_negatives"]  # every field of every negative, in order
    assert _not_judged(lazy_report) > 0 and _not_judged(eager_report) == 0
    for kind, part in lazy_report.kinds.items():
        assert part.kept == eager_report.kinds[kind].kept and part.candidates == eager_report.kinds[kind].candidates
    assert lazy_report.plausibility() == eager_report.plausibility()  # the same finalists checked


@pytest.mark.parametrize("num_negatives", [1, 3, 8])
@pytest.mark.parametrize(("require_verified", "threshold"), [(True, None), (False, 0.999)])
def test_lazy_on_neighbours_alone(scenes, embedder, num_negatives, require_verified, threshold):
    """Neighbours only (no tier 0 to fill the referents): conflicts (tier 1) outrank other
    categories (tier 2) and unverified ones (tier 3) of any cosine, so the stopping rule must wait
    for every neighbour that could still land in an earlier tier. A strict threshold leaves
    unverified neighbours alive (tier 3) among the conflicts, where a wrong rule stops too soon."""
    options = dict(num_negatives=num_negatives, sources=("cross_image",), require_verified=require_verified,
                   relative_margin=None)
    lazy, report = _mine(scenes, embedder, lazy=True, threshold=threshold, **options)
    eager, _ = _mine(scenes, embedder, lazy=False, threshold=threshold, **options)
    assert lazy["hard_negatives"] == eager["hard_negatives"]
    if num_negatives == 1:
        assert _not_judged(report) > 0


def test_every_candidate_needed_is_judged(scenes, embedder, caplog):
    """With more negatives wanted than any referent has, nothing may be left unjudged."""
    lazy, report = _mine(scenes, embedder, lazy=True, num_negatives=200)
    eager, _ = _mine(scenes, embedder, lazy=False, num_negatives=200)
    assert _not_judged(report) == 0
    assert lazy["hard_negatives"] == eager["hard_negatives"]


def test_the_report_shows_the_unjudged(scenes, embedder, caplog):
    caplog.set_level("INFO", logger="refaug.mining")
    _, report = _mine(scenes, embedder, lazy=True, num_negatives=2)
    assert "not_judged" in report.table() and "Did not judge" in caplog.text
    assert any("not_judged" in part["dropped"] for part in report.to_dict()["kinds"].values())
