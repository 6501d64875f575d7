"""The response schema and parser: tolerant of wrapping, strict about content, never raising."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refaug.records import ViewSource
from refaug.views.schema import ParsedViews, ParseFailure, ViewSchema, local_ids, parse_response

GOOD = {
    "r1": {
        "appearance": "the tall man in white",
        "action": "the man throwing a ball",
        "spatial": "the man on the left",
        "alternative": None,
    },
    "r2": {
        "appearance": "the leafy tree",
        "action": None,
        "spatial": "the tree behind the bench",
        "alternative": "the tree at the right edge",
    },
}


def test_good_response_parses_with_source():
    source = ViewSource(backend="x", model="m", template="multiview.v1")
    result = parse_response(json.dumps(GOOD), ["r1", "r2"], source=source)
    assert isinstance(result, ParsedViews) and result.ok
    assert result.views["r1"].cluster == (
        "the tall man in white",
        "the man throwing a ball",
        "the man on the left",
    )
    assert result.views["r2"].alternative == "the tree at the right edge"
    assert result.views["r2"].source == source


@pytest.mark.parametrize(
    "wrap",
    [
        "```json\nANSWER\n```",
        "Here is the answer:\n```\nANSWER\n```\nHope this helps!",
        "Sure. ANSWER That's all.",
        '{"objects": ANSWER}',
        "{not json} then ANSWER",
    ],
)
def test_wrapping_is_tolerated(wrap):
    result = parse_response(wrap.replace("ANSWER", json.dumps(GOOD)), ["r1", "r2"])
    assert result.ok, getattr(result, "reason", "")


def test_list_of_objects_with_ids_is_tolerated():
    items = [{"id": k, **v} for k, v in GOOD.items()]
    assert parse_response(json.dumps(items), ["r1", "r2"]).ok


def test_null_words_mean_null():
    answer = {"r1": {**GOOD["r2"], "action": "N/A"}}
    result = parse_response(json.dumps(answer), ["r1"])
    assert result.ok and result.views["r1"].action is None


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"r1": GOOD["r1"]}, "r2: not answered"),
        ({**GOOD, "r3": GOOD["r1"]}, "r3: not a referent id of this image"),
        ({**GOOD, "r1": {**GOOD["r1"], "appearance": ""}}, "r1: appearance is empty"),
        ({**GOOD, "r1": {**GOOD["r1"], "spatial": "x " * 60}}, "r1: spatial is too long"),
        ({**GOOD, "r1": {**GOOD["r1"], "spatial": 3}}, "r1: spatial is a int"),
        (
            {**GOOD, "r1": {**GOOD["r1"], "alternative": "another"}},
            "alternative must be null when action applies",
        ),
        ({**GOOD, "r2": {**GOOD["r2"], "alternative": None}}, "action is null but no alternative"),
        (
            {**GOOD, "r2": {**GOOD["r2"], "alternative": "the leafy tree"}},
            "alternative repeats appearance",
        ),
        ({**GOOD, "r1": {**GOOD["r1"], "mood": "happy"}}, "unknown key 'mood'"),
        ({**GOOD, "r1": "the man"}, "r1: the answer is not an object"),
        ({**GOOD, "r1": {**GOOD["r1"], "spatial": "a\x07b"}}, "control characters"),
    ],
)
def test_bad_content_is_a_typed_failure(answer, problem):
    result = parse_response(json.dumps(answer), ["r1", "r2"])
    assert isinstance(result, ParseFailure) and not result.ok
    assert problem in result.reason
    assert result.raw == json.dumps(answer)


def test_duplicate_ids_are_caught():
    one = json.dumps(GOOD["r1"])
    text = f'{{"r1": {one}, "r1": {one}}}'
    assert "r1: answered more than once" in parse_response(text, ["r1"]).reason


@pytest.mark.parametrize(
    "text", ["", "   ", "no json here", '{"r1": {"appearance": "tru', None, "[1, 2]"]
)
def test_garbage_never_raises(text):
    result = parse_response(text, ["r1"])
    assert isinstance(result, ParseFailure) and result.reason


def test_schema_encodes_the_rule_and_the_bounds():
    schema = ViewSchema(max_chars=30).json_schema(["r1", "r2"])
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid(GOOD)
    assert not validator.is_valid({"r1": GOOD["r1"]})  # r2 missing
    assert not validator.is_valid({**GOOD, "r1": {**GOOD["r1"], "alternative": "more"}})
    assert not validator.is_valid({**GOOD, "r2": {**GOOD["r2"], "alternative": None}})
    assert not validator.is_valid({**GOOD, "r1": {**GOOD["r1"], "spatial": "x" * 31}})
    assert not validator.is_valid({**GOOD, "r1": {**GOOD["r1"], "spatial": "line\nbreak"}})
    assert not validator.is_valid({**GOOD, "r1": {**GOOD["r1"], "spatial": " leading space"}})


def test_schema_options_are_checked():
    with pytest.raises(ValueError, match="max_chars"):
        ViewSchema(max_chars=1)
    assert local_ids(3) == ["r1", "r2", "r3"]


_TEXT = st.from_regex(re.compile(r"[A-Za-z0-9][A-Za-z0-9 ,.'\-]{0,39}"), fullmatch=True).filter(
    lambda t: (
        t.strip()
        and t.strip().lower() not in {"null", "none", "na", "n/a", "-"}
        and len(t.split()) <= 20
    )
)


@st.composite
def _answers(draw):
    count = draw(st.integers(1, 5))
    answer = {}
    for local_id in local_ids(count):
        appearance, spatial = draw(_TEXT), draw(_TEXT)
        if draw(st.booleans()):
            views = {
                "appearance": appearance,
                "action": draw(_TEXT),
                "spatial": spatial,
                "alternative": None,
            }
        else:
            alternative = draw(
                _TEXT.filter(
                    lambda t, a=appearance, s=spatial: t.lower() not in (a.lower(), s.lower())
                )
            )
            views = {
                "appearance": appearance,
                "action": None,
                "spatial": spatial,
                "alternative": alternative,
            }
        answer[local_id] = views
    return answer


@settings(max_examples=60, deadline=None)
@given(_answers())
def test_every_schema_valid_answer_parses(answer):
    ids = list(answer)
    schema = ViewSchema(max_chars=40)
    assert jsonschema.Draft202012Validator(schema.json_schema(ids)).is_valid(answer)
    result = parse_response(json.dumps(answer), ids, schema=schema)
    assert result.ok, result.reason
    for local_id, views in result.views.items():
        expected = {k: (" ".join(v.split()) if v else None) for k, v in answer[local_id].items()}
        assert (views.appearance, views.action, views.spatial, views.alternative) == tuple(
            expected.values()
        )


def test_cut_off_answer_says_so():
    text = json.dumps(GOOD)[:-30]
    assert "cut off" in parse_response(text, ["r1", "r2"]).reason
