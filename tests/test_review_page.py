"""The review page (``refaug report``): what it holds, and that it works in a real browser.

The browser tests open the page in the system Chromium (``/usr/bin/chromium``, the Debian
package ``chromium``) driven by Playwright; ``make test`` installs both (``make``'s install
step runs ``apt-get install chromium`` as root). Without them they are skipped, saying why.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from datasets import DatasetDict, Features, List, Value, load_from_disk

from refaug.cli import main
from refaug.records import HARD_NEGATIVE_FEATURE, REFERENT_FEATURES, ROW_FEATURES
from refaug.review import review_summary, sample_referents, write_review_page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")
GHOST_TEXT = "<b>not</b> the ghost"  # user data with markup: shown as text, never as HTML


# ---------------------------------------------------------------- a tiny run, hand-built


def _negatives(index: int) -> list[dict[str, Any]]:
    def negative(text, kind, verified_by, similarity):
        return {"text": text, "kind": kind, "detail": f"{kind} of row {index}", "origin": f"r{index}",
                "similarity": similarity, "score": similarity, "reason": f"sim {similarity:.3f} < threshold 0.600",
                "score_parts": {"similarity": similarity, "uncertainty": None, "diversity": None,
                                "model_score": None}, "verified_by": verified_by}

    return [negative(f"attribute negative {index}", "attribute", "edit" if index % 2 == 0 else "none", 0.5),
            negative(f"same image negative {index}", "same_image", "same_image" if index % 3 == 0 else "none", 0.4)]


def _rows() -> list[dict[str, Any]]:
    """Three synthetic scenes (real pixels) with views and negatives, and a row without pixels."""
    from refaug.data.synthetic import synthetic_scenes

    rows = list(synthetic_scenes(3, seed=0, image_size=(160, 120)))
    for index, row in enumerate(rows):
        row["views"] = {"appearance": f"appearance view {index}", "action": None, "spatial": f"spatial view {index}",
                        "alternative": None, "source": {"backend": "rules", "model": None, "template": None,
                                                        "template_version": None, "template_hash": None}}
        row["hard_negatives"] = _negatives(index)
    ghost = {**rows[0], "referent_id": "ghost-1", "image_id": 99, "category": "ghost", "image": None,
             "expressions": ["the ghost"], "views": None}
    ghost["hard_negatives"] = [{**_negatives(1)[0], "text": GHOST_TEXT, "kind": "negation", "verified_by": "conflict"}]
    return [*rows, ghost]


def _features(*, verified_by: bool) -> Features:
    """The row schema, with or without ``verified_by`` (runs made before it have none)."""
    negative = {k: v for k, v in HARD_NEGATIVE_FEATURE.items() if k != "verified_by"}
    if verified_by:
        negative["verified_by"] = Value("string")
    columns = {k: v for k, v in ROW_FEATURES.items() if k in REFERENT_FEATURES or k == "views"}
    return Features({**columns, "hard_negatives": List(negative)})


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return _rows()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, rows) -> Path:
    """A run folder holding only what ``refaug report`` reads: ``publish/dataset``."""
    from datasets import Dataset

    run = tmp_path_factory.mktemp("run")
    dd = DatasetDict({"train": Dataset.from_list(rows, features=_features(verified_by=True))})
    dd.save_to_disk(str(run / "publish" / "dataset"))
    return run


@pytest.fixture(scope="module")
def page(run_dir) -> Path:
    assert main(["report", str(run_dir), "--sample", "50", "--seed", "3"]) == 0
    return run_dir / "report" / "index.html"


# ---------------------------------------------------------------- without a browser


def test_sample_is_seeded_and_takes_each_category_in_turn(rows):
    from datasets import Dataset

    ds = Dataset.from_list(rows, features=_features(verified_by=True))
    first = sample_referents(ds, sample=4, seed=1)
    assert first == sample_referents(ds, sample=4, seed=1)
    assert len({ds[i]["category"] for _, i in first}) == 4  # four categories, one each
    assert len(sample_referents(ds, sample=100)) == len(ds)
    with pytest.raises(ValueError, match="sample=0"):
        sample_referents(ds, sample=0)


def test_page_files_summary_and_escaping(page, rows, capsys):
    folder = page.parent
    saved = json.loads((folder / "review.json").read_text())
    assert saved["summary"]["referents"] == len(rows) == len(saved["referents"])
    assert saved["summary"]["by_kind"] == {"attribute": len(rows) - 1, "negation": 1, "same_image": len(rows) - 1}
    assert saved["summary"]["by_verified_by"]["conflict"] == 1
    assert saved["page"]["without_pixels"] == 1
    ghost = next(card for card in saved["referents"] if card["referent_id"] == "ghost-1")
    assert ghost["thumbnail"] is None and ghost["crop"] is None
    pictures = sorted(p.name for p in (folder / "images").iterdir())
    assert len(pictures) == 2 * (len(rows) - 1)  # a thumbnail and a crop per row with pixels
    html = page.read_text()
    assert "&lt;b&gt;not&lt;/b&gt; the ghost" in html and GHOST_TEXT not in html
    assert "http://" not in html and "https://" not in html  # nothing fetched: the page opens offline


def test_runs_made_before_verified_by_count_as_unverified(tmp_path, rows):
    from datasets import Dataset

    old = [{**row, "hard_negatives": [{k: v for k, v in n.items() if k != "verified_by"}
                                      for n in row["hard_negatives"]]} for row in rows]
    ds = Dataset.from_list(old, features=_features(verified_by=False))
    summary = review_summary(ds)
    assert summary["by_verified_by"] == {"none": summary["negatives"]}
    page = write_review_page(ds, tmp_path, sample=3)
    assert 'data-verified="none"' in page.read_text()


def test_a_run_writes_the_page(tmp_path, rows):
    from datasets import Dataset

    from refaug.config import RunConfig
    from refaug.pipeline import Pipeline

    current = "verified_by" in HARD_NEGATIVE_FEATURE  # the rows as the schema of this checkout has them
    plain = [{**row, "hard_negatives": [{k: v for k, v in n.items() if current or k != "verified_by"}
                                        for n in row["hard_negatives"]]} for row in rows]
    dataset = Dataset.from_list(plain, features=_features(verified_by=current))
    Pipeline(RunConfig(out=str(tmp_path)), stages=(), show_progress=False).run(dataset)
    page = tmp_path / "report" / "index.html"
    assert page.read_text().count('<article class="card"') == len(rows)
    assert f"review page: {page}" in (tmp_path / "run.log").read_text()
    assert load_from_disk(str(tmp_path / "publish" / "dataset"))["train"].num_rows == len(rows)


# ---------------------------------------------------------------- in a real browser


@contextmanager
def chromium_page(*, width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A Playwright page in the system Chromium, with a new empty profile; skips without them."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing: install the Debian package chromium (make test does, as root)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is missing: pip install -e '.[dev]'")
    import tempfile

    profile = tempfile.mkdtemp(prefix="refaug-chromium-")
    try:
        with sync_api.sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS),
                viewport={"width": width, "height": height})
            try:
                yield context.new_page()
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def _visible_cards(tab) -> list[str]:
    return tab.eval_on_selector_all("article.card:not([hidden])", "cards => cards.map(c => c.dataset.referent)")


def _visible_rows(tab) -> list[tuple[str, str]]:
    return [tuple(r) for r in tab.eval_on_selector_all(
        "article.card:not([hidden]) tr.negative:not([hidden])",
        "rows => rows.map(r => [r.dataset.kind, r.dataset.verified])")]


@pytest.mark.browser
def test_page_renders_referents_and_images(page, rows):
    with chromium_page() as tab:
        tab.goto(page.resolve().as_uri())
        tab.wait_for_load_state("load")
        assert tab.locator("article.card").count() == len(rows)
        text = tab.inner_text("main")
        for row in rows:
            assert row["referent_id"] in text and row["expressions"][0] in text
        assert GHOST_TEXT in text and tab.locator("main b").count() == 0  # shown as text
        widths = tab.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
        assert len(widths) == 2 * (len(rows) - 1) and min(widths) > 0
        assert tab.locator('article[data-referent="ghost-1"] .no-pixels').count() == 1
        assert tab.inner_text("#shown") == str(len(rows))


@pytest.mark.browser
def test_filters_hide_cards_and_negatives(page, rows):
    every_row = [(n["kind"], n["verified_by"]) for row in rows for n in row["hard_negatives"]]
    with chromium_page() as tab:
        tab.goto(page.resolve().as_uri())
        tab.select_option("#filter-category", "circle")
        circles = sorted(r["referent_id"] for r in rows if r["category"] == "circle")
        assert sorted(_visible_cards(tab)) == circles and tab.inner_text("#shown") == str(len(circles))

        tab.click("#filter-reset")
        tab.select_option("#filter-kind", "negation")
        assert _visible_cards(tab) == ["ghost-1"] and _visible_rows(tab) == [("negation", "conflict")]

        tab.select_option("#filter-kind", "attribute")
        tab.select_option("#filter-verified", "edit")
        assert _visible_rows(tab) == [("attribute", "edit")] * every_row.count(("attribute", "edit"))
        assert "ghost-1" not in _visible_cards(tab)
        assert tab.locator('article[data-referent="ghost-1"]').is_hidden()  # hidden on screen, too

        tab.select_option("#filter-kind", "")
        tab.select_option("#filter-verified", "*")  # any check
        assert sorted(_visible_rows(tab)) == sorted(r for r in every_row if r[1] != "none")

        tab.click("#filter-reset")
        assert len(_visible_cards(tab)) == len(rows) and len(_visible_rows(tab)) == len(every_row)
