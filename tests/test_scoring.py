"""Tests of the model-in-the-loop scorers on tiny random-weight CLIP/SigLIP models built here."""

from __future__ import annotations

import os
import pickle
import re

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
from datasets.fingerprint import Hasher

from refaug.data.synthetic import synthetic_scenes
from refaug.errors import DataError
from refaug.scoring import CLIPScorer, FunctionScorer, Scorer, TextScorer, crop_box, score_all
from refaug.testing.tiny_clip import build_tiny_clip, build_tiny_siglip

COLOUR_WORDS = re.compile(
    r"\b(red|blue|green|yellow|black|white|pink|purple|orange|gray|grey|brown)\b", re.IGNORECASE
)


def colour_blind(text: str) -> str:
    """A reader that cannot see colours: colour words are deleted."""
    return " ".join(COLOUR_WORDS.sub(" ", text).split())


# ---------------------------------------------------------------- tiny models


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> str:
    """A CLIP with random weights (text and vision towers of width 32), saved with its processor."""
    return build_tiny_clip(tmp_path_factory.mktemp("tiny_clip"))


@pytest.fixture(scope="session")
def tiny_siglip(tmp_path_factory) -> str:
    """A SigLIP with random weights, saved with its processor; skipped where transformers has none."""
    import transformers

    if not hasattr(transformers, "SiglipConfig"):
        pytest.skip("this transformers version has no SigLIP")
    return build_tiny_siglip(tmp_path_factory.mktemp("tiny_siglip"))


@pytest.fixture(scope="module")
def scenes() -> list[dict]:
    return list(synthetic_scenes(3, seed=0, image_size=(64, 48)))


@pytest.fixture(scope="module")
def candidates(scenes) -> list[list[str]]:
    """Per referent: its own expressions, a wrong colour and a text shared by every referent."""
    return [[*row["expressions"], f"the pink {row['category']}", "a shape"] for row in scenes]


@pytest.fixture(scope="module")
def clip_scorer(tiny_clip) -> CLIPScorer:
    return CLIPScorer(tiny_clip, device="cpu")


class ImageCallCounter:
    """Wraps ``get_image_features`` and records how many images each call encodes."""

    def __init__(self, model):
        self.inner = model.get_image_features
        self.sizes: list[int] = []

    def __call__(self, **inputs):
        self.sizes.append(int(inputs["pixel_values"].shape[0]))
        return self.inner(**inputs)


# ------------------------------------------------------------------ CLIPScorer


def test_clip_scores_are_finite_one_per_text_and_deterministic(tiny_clip, scenes, candidates):
    scorer = CLIPScorer(tiny_clip, device="cpu")
    scores = scorer(scenes, candidates)
    assert len(scores) == len(scenes)
    for s, texts in zip(scores, candidates):
        assert s.dtype == np.float32 and s.shape == (len(texts),)
        assert np.isfinite(s).all() and (np.abs(s) <= 1.0 + 1e-5).all()  # cosine similarities
    again = CLIPScorer(tiny_clip, device="cpu")(scenes, candidates)
    for a, b in zip(scores, again):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert scorer.threshold is None  # CLIP scores are relative
    assert scorer.calls == 1 and scorer.texts_scored == sum(len(t) for t in candidates)


def test_clip_batches_give_the_same_scores_as_one_call(clip_scorer, scenes, candidates):
    whole = clip_scorer(scenes, candidates)
    small = CLIPScorer(clip_scorer.model_name, device="cpu", batch_size=2)
    parts = score_all(small, scenes, candidates, show_progress_bar=False)
    assert small.calls == -(-len(scenes) // 2)
    for a, b in zip(whole, parts):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_box_and_image_crops_score_differently(tiny_clip, scenes, candidates):
    box = CLIPScorer(tiny_clip, crop="box", device="cpu")(scenes, candidates)
    whole = CLIPScorer(tiny_clip, crop="image", device="cpu")(scenes, candidates)
    assert not np.allclose(np.concatenate(box), np.concatenate(whole))
    # With crop="image", referents of the same image see the same picture: same scores.
    same_image = [i for i, row in enumerate(scenes) if row["image_id"] == scenes[0]["image_id"]]
    assert len(same_image) >= 2
    a, b = same_image[:2]
    assert whole[a][-1] == pytest.approx(whole[b][-1], abs=1e-6)  # "a shape" for both


def test_each_crop_is_encoded_once(tiny_clip, scenes, candidates):
    for crop, expected in (("box", len(scenes)), ("image", len({r["image_id"] for r in scenes}))):
        scorer = CLIPScorer(tiny_clip, crop=crop, device="cpu")
        model, _ = scorer._load()
        counter = ImageCallCounter(model)
        model.get_image_features = counter
        scorer(scenes, candidates)
        assert counter.sizes == [expected], crop


def test_images_as_paths_and_pil_give_the_same_scores(clip_scorer, scenes, candidates, tmp_path):
    import io

    from PIL import Image

    path = tmp_path / "scene.png"
    path.write_bytes(scenes[0]["image"]["bytes"])
    picture = Image.open(io.BytesIO(scenes[0]["image"]["bytes"]))
    variants = [{**scenes[0], "image": image}
                for image in ({"bytes": None, "path": str(path)}, str(path), picture)]
    reference = clip_scorer(scenes[:1], candidates[:1])[0]
    for scores in clip_scorer(variants, [candidates[0]] * 3):
        np.testing.assert_allclose(scores, reference, atol=1e-6)


def test_missing_image_names_the_referent(clip_scorer, scenes):
    row = {**scenes[1], "image": None}
    with pytest.raises(DataError, match=re.escape(scenes[1]["referent_id"])) as info:
        clip_scorer([scenes[0], row], [["a shape"], ["a shape"]])
    assert "no image" in str(info.value) and "TextScorer" in str(info.value)


def test_empty_texts_do_not_load_or_count(tiny_clip, scenes):
    scorer = CLIPScorer(tiny_clip)
    scores = scorer(scenes[:2], [[], []])
    assert [s.shape for s in scores] == [(0,), (0,)]
    assert scorer._model is None and scorer.calls == 0


def test_clip_scorer_pickles_and_hashes_stably(tiny_clip, scenes, candidates):
    scorer = CLIPScorer(tiny_clip, device="cpu")
    before = Hasher.hash(scorer)
    scores = scorer(scenes, candidates)
    assert scorer._model is not None
    assert Hasher.hash(scorer) == before  # the loaded model and counters are not state
    clone = pickle.loads(pickle.dumps(scorer))
    assert clone._model is None and clone.calls == 0
    assert clone.config() == scorer.config()
    for a, b in zip(scores, clone(scenes, candidates)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert Hasher.hash(CLIPScorer(tiny_clip, device="cpu", padding=0.3)) != before
    assert Hasher.hash(CLIPScorer(tiny_clip, device="cpu", crop="image")) != before


def test_clip_config_is_json_and_options_are_checked(tiny_clip):
    import json

    config = CLIPScorer(tiny_clip, crop="image").config()
    assert json.loads(json.dumps(config)) == config
    assert config["crop"] == "image" and config["padding"] is None and config["threshold"] is None
    assert "CLIPScorer" in repr(CLIPScorer(tiny_clip))
    with pytest.raises(ValueError, match="crop='mask' is not valid; choose one of 'box', 'image'"):
        CLIPScorer(tiny_clip, crop="mask")
    with pytest.raises(ValueError, match="padding"):
        CLIPScorer(tiny_clip, padding=-1)
    with pytest.raises(ValueError, match="dtype"):
        CLIPScorer(tiny_clip, dtype="int8")


def test_crop_box_pads_and_clips():
    assert crop_box([10, 10, 20, 10], (64, 48)) == (10, 10, 30, 20)
    assert crop_box([0, 40, 20, 8], (64, 48), padding=0.5) == (0, 36, 30, 48)
    assert crop_box([63.5, 47.5, 0.2, 0.2], (64, 48)) == (63, 47, 64, 48)
    with pytest.raises(ValueError, match="no area"):
        crop_box([1, 1, 0, 5], (64, 48))


def test_siglip_scores_are_probabilities(tiny_siglip, scenes, candidates):
    scorer = CLIPScorer(tiny_siglip, device="cpu")
    assert scorer.threshold == 0.5 and scorer._model is None  # read from the config alone
    scores = scorer(scenes, candidates)
    flat = np.concatenate(scores)
    assert ((flat > 0) & (flat < 1)).all()
    assert [len(s) for s in scores] == [len(t) for t in candidates]
    assert CLIPScorer(tiny_siglip, threshold=0.2).threshold == 0.2


# ------------------------------------------------------------------ TextScorer


@pytest.fixture(scope="module")
def text_scorer() -> TextScorer:
    return TextScorer()


def test_paraphrase_scores_above_unrelated_text(text_scorer):
    rows = [{"referent_id": "r", "expressions": ["the man on the left", "guy in a blue shirt"]}]
    (scores,) = text_scorer(rows, [["the person on the left side", "a bowl of hot soup"]])
    assert scores[0] > scores[1] + 0.3


def test_leave_one_out(text_scorer):
    rows = [
        {"referent_id": "one", "expressions": ["the red star on the right"]},
        {"referent_id": "two", "expressions": ["the red star on the right", "rightmost star"]},
        {"referent_id": "none", "expressions": []},
    ]
    texts = [["the red star on the right"], ["the red star on the right"], ["a star"]]
    one, two, none = text_scorer(rows, texts)
    assert np.isnan(one[0]) and np.isnan(none[0])
    assert 0.2 < two[0] < 0.99  # compared with "rightmost star" only


def test_colour_blind_model_confuses_colours(text_scorer):
    rows = [{"referent_id": "r", "expressions": ["the red star on the right"]}]
    texts = [["the blue star on the right"]]
    blind = TextScorer(preprocess=colour_blind)
    (seen,) = text_scorer(rows, texts)
    (unseen,) = blind(rows, texts)
    assert unseen[0] == pytest.approx(1.0, abs=1e-4)
    assert seen[0] < 0.95  # the plain model sees the colour change (about 0.83)
    assert blind.config()["preprocess"] == f"{__name__}.colour_blind"
    assert text_scorer.config()["preprocess"] is None
    assert Hasher.hash(blind) != Hasher.hash(text_scorer)
    clone = pickle.loads(pickle.dumps(blind))
    assert clone.preprocess is colour_blind and clone(rows, texts)[0][0] == pytest.approx(1.0, abs=1e-4)


def test_text_scorer_options(text_scorer):
    from refaug.embed import Embedder

    with pytest.raises(ValueError, match="not both"):
        TextScorer("some/model", embedder=Embedder())
    with pytest.raises(ValueError, match="preprocess"):
        TextScorer(preprocess="lower")
    assert text_scorer.batch_size == 256 and text_scorer.threshold is None
    assert TextScorer(embedder=text_scorer.embedder).embedder is text_scorer.embedder


# --------------------------------------------------------------- FunctionScorer


def constant_scores(referents, texts):
    return [np.full(len(t), 0.5) for t in texts]


def test_function_scorer_wraps_a_function():
    scorer = FunctionScorer(constant_scores, threshold=0.4, settings={"checkpoint": "v2"})
    rows = [{"referent_id": "a"}, {"referent_id": "b"}]
    scores = scorer(rows, [["x", "y"], ["z"]])
    assert [s.tolist() for s in scores] == [[0.5, 0.5], [0.5]]
    assert all(s.dtype == np.float32 for s in scores)
    assert scorer.threshold == 0.4 and scorer.name == "constant_scores"
    assert scorer.config() == {
        "scorer": "refaug.scoring.FunctionScorer", "threshold": 0.4,
        "function": f"{__name__}.constant_scores", "settings": {"checkpoint": "v2"},
    }
    assert pickle.loads(pickle.dumps(scorer)).fn is constant_scores
    assert isinstance(scorer, Scorer)


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (lambda refs, texts: [[1.0], [1.0]], r"returned 1 score for referent #0 \(a\); expected 2"),
        (lambda refs, texts: [[1.0, 2.0]], "returned 1 arrays for 2 referents"),
        (lambda refs, texts: [[1.0, float("nan")], [0.0]], r"non-finite score \(nan\) for referent #0 \(a\), text #1 'y'"),
        (lambda refs, texts: [[1.0, 2.0], [float("inf")]], r"non-finite score \(inf\) for referent #1 \(b\)"),
        (lambda refs, texts: [[[1.0, 2.0]], [0.0]], r"shape \(1, 2\) for referent #0 \(a\); expected 2"),
        (lambda refs, texts: None, "returned None"),
    ],
)
def test_function_scorer_reports_bad_answers(fn, message):
    scorer = FunctionScorer(fn)
    with pytest.raises(ValueError, match=message):
        scorer([{"referent_id": "a"}, {"referent_id": "b"}], [["x", "y"], ["z"]])
    assert scorer.calls == 0


def test_bad_inputs_are_explained():
    scorer = FunctionScorer(constant_scores)
    with pytest.raises(ValueError, match="one list of candidate texts per referent"):
        scorer([{}, {}], [["x"]])
    with pytest.raises(ValueError, match="wrap it in a list"):
        scorer([{}], ["the red car"])
    with pytest.raises(ValueError, match="batch_size"):
        FunctionScorer(constant_scores, batch_size=0)
    with pytest.raises(ValueError, match="threshold"):
        FunctionScorer(constant_scores, threshold=float("nan"))
    with pytest.raises(ValueError, match="JSON"):
        FunctionScorer(constant_scores, settings={"model": object()})


def test_score_all_batches_and_counts():
    seen: list[int] = []

    def record(referents, texts):
        seen.append(len(referents))
        return [[float(len(t)) for t in group] for group in texts]

    scorer = FunctionScorer(record, batch_size=4)
    rows = [{"referent_id": str(i)} for i in range(10)]
    texts = [["a" * i, "b"] for i in range(10)]
    scores = score_all(scorer, rows, texts)
    assert seen == [4, 4, 2]
    assert scorer.calls == 3 and scorer.texts_scored == 20
    assert [s[0] for s in scores] == list(range(10))
    score_all(scorer, rows[:3], texts[:3], show_progress_bar=True)
    assert scorer.calls == 4 and scorer.texts_scored == 26


def test_score_all_reads_a_dataset(scenes):
    from datasets import Dataset

    dataset = Dataset.from_list(scenes)
    seen: list[str] = []

    def record(referents, texts):
        seen.extend(r["referent_id"] for r in referents)
        return [[0.0] * len(t) for t in texts]

    scorer = FunctionScorer(record, batch_size=3)
    score_all(scorer, dataset, [["x"]] * len(scenes))
    assert seen == [r["referent_id"] for r in scenes]
