"""LLMRewriter: prompt, schema, parsing, de-duplication and provenance.

The backend here is a tiny in-test ViewBackend that returns fixed JSON: it tests only the
parsing, de-duplication and provenance. The test against real backends (transformers with
a tiny LLaVA, vLLM, OpenAI-compatible) waits for those backends' test fixtures.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import pytest
from datasets import Dataset
from datasets.fingerprint import Hasher

from refaug.records import Referent
from refaug.rewrite import LLMRewriter
from refaug.rewrite.llm import distractor_schema, text_pattern
from refaug.views.backends.base import ImageRequest, ViewBackend


class FixedBackend(ViewBackend):
    """Answers each request with the next canned response (an Exception is a failed request)."""

    name = "fixed"

    def __init__(self, responses: Sequence[str | Exception]):
        super().__init__(model="fixed")
        self._responses = list(responses)  # private: kept out of the datasets fingerprint
        self._requests: list[ImageRequest] = []

    def generate(self, requests: Sequence[ImageRequest]) -> list[str | Exception]:
        self._requests.extend(requests)
        return [self._responses.pop(0) for _ in requests]

    @property
    def requests(self) -> list[ImageRequest]:
        return self._requests


def _referent(image_id: int, k: int, *expressions: str) -> Referent:
    return Referent(
        referent_id=f"img{image_id}-{k}", image_id=image_id, ann_id=k, ref_id=k,
        category="person", supercategory="person", bbox=(10.0, 20.0, 30.0, 40.0),
        image=None, expressions=expressions, split="train",
    )  # fmt: skip


REFERENTS = [
    _referent(1, 0, "left guy in red", "man holding a bat"),
    _referent(1, 1, "woman on right"),
]

ANSWER = {
    "r1": [
        {"type": "attribute", "source": 1, "text": "right guy in red"},
        {"type": "attribute", "source": 1, "text": "Right guy in red"},  # duplicate
        {"type": "negation", "source": 2, "text": "man not holding a bat"},
        {"type": "negation", "source": 2, "text": "man holding a bat"},  # the referent's own
        {"type": "role_reversal", "source": 3, "text": "bat holding a man"},  # bad source
        {"type": "paraphrase", "source": 1, "text": "guy on the left"},  # bad type
        {"type": "attribute", "source": 1, "text": "left guy in red {}"},  # outside the pattern
    ],
    "r2": [{"type": "attribute", "source": 1, "text": "woman on left"}],
}


def test_parse_dedup_and_provenance() -> None:
    backend = FixedBackend([json.dumps(ANSWER)])
    rewriter = LLMRewriter(backend, max_items=6)
    out = rewriter.rewrite(REFERENTS)
    assert [(c.text, c.kind, c.detail, c.origin) for c in out[0]] == [
        ("right guy in red", "llm_proposal", "attribute", "left guy in red"),
        ("man not holding a bat", "llm_proposal", "negation", "man holding a bat"),
    ]
    assert [c.text for c in out[1]] == ["woman on left"]
    report = rewriter.report
    assert (report.requests, report.proposals, report.kept) == (1, 8, 3)
    assert report.dropped == {
        "duplicate": 1,
        "equal to an expression of the referent": 1,
        "source out of range": 1,
        "unknown type": 1,
        "over max_items": 1,  # the 7th item of r1; it is also outside the pattern
    }
    again = LLMRewriter(FixedBackend([json.dumps(ANSWER)]), max_items=8)
    again.rewrite(REFERENTS)
    assert again.report.dropped["text outside the allowed pattern"] == 1
    # one request per image, with the prompt and the bounded schema
    (request,) = backend.requests
    assert request.image_id == 1 and len(request.referents) == 2
    assert '1. "left guy in red" 2. "man holding a bat"' in request.prompt
    assert request.json_schema["properties"]["r1"]["items"]["properties"]["source"]["maximum"] == 2


def test_retry_with_the_reason_then_report_failure() -> None:
    backend = FixedBackend(["not json", json.dumps(ANSWER)])
    out = LLMRewriter(backend).rewrite(REFERENTS)
    assert len(out[0]) == 2
    assert "previous answer was rejected: no JSON object" in backend.requests[1].prompt
    failing = FixedBackend([RuntimeError("timeout"), json.dumps({"r1": []})])
    rewriter = LLMRewriter(failing, max_retries=1)
    assert rewriter.rewrite(REFERENTS) == [[], []]
    assert rewriter.report.failed_requests == 1
    assert "no answer for r2" in rewriter.report.failures[0]


def test_every_string_in_the_schema_is_bounded() -> None:
    schema = distractor_schema([2, 1], types=("attribute", "negation"), max_items=4, max_chars=60)

    def strings(node):
        if isinstance(node, dict):
            if node.get("type") == "string":
                yield node
            for value in node.values():
                yield from strings(value)
        elif isinstance(node, list):
            for value in node:
                yield from strings(value)

    found = list(strings(schema))
    assert found and all("pattern" in s or "enum" in s for s in found)
    assert all(s["pattern"].endswith("{0,59}$") for s in found if "pattern" in s)
    assert schema["properties"]["r1"]["maxItems"] == 4
    assert re.match(text_pattern(60), "man not holding a bat")
    assert not re.match(text_pattern(10), "a" * 11)


def test_dataset_map_appends_and_hash_is_stable() -> None:
    rows = [r.to_row() for r in REFERENTS]
    for row in rows:
        row["distractors"] = [
            {
                "text": "man holding a cat",
                "kind": "attribute",
                "detail": "x",
                "origin": "man holding a bat",
            }
        ]
    rewriter = LLMRewriter(FixedBackend([json.dumps(ANSWER)]))
    before = Hasher.hash(rewriter)
    batch = {k: [row[k] for row in rows] for k in rows[0]}
    out = rewriter(batch)
    assert [d["text"] for d in out["distractors"][1]] == ["man holding a cat", "woman on left"]
    assert Hasher.hash(rewriter) == before
    assert Hasher.hash(LLMRewriter(FixedBackend([]), max_items=3)) != Hasher.hash(
        LLMRewriter(FixedBackend([]), max_items=4)
    )
    ds = Dataset.from_list([r.to_row() for r in REFERENTS])
    mapped = ds.map(LLMRewriter(FixedBackend([json.dumps(ANSWER)])), batched=True)
    assert [d["text"] for d in mapped["distractors"][1]] == ["woman on left"]


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="'negation'"):
        LLMRewriter(FixedBackend([]), types=("negations",))
    with pytest.raises(TypeError, match="ViewBackend"):
        LLMRewriter(object())  # type: ignore[arg-type]


@pytest.mark.slow
def test_real_transformers_backend_on_tiny_llava(tmp_path) -> None:
    """The real backend code on a tiny random LLaVA: constrained output always parses."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from refaug.testing.tiny_llava import build_tiny_llava
    from refaug.views.backends.base import SamplingSettings
    from refaug.views.backends.transformers import TransformersBackend

    backend = TransformersBackend(
        model=str(build_tiny_llava(tmp_path / "tiny-llava")),
        sampling=SamplingSettings(temperature=1.0, max_tokens=512, seed=1),
    )
    if not backend.uses_grammar:
        pytest.skip("structured output needs xgrammar")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rewriter = LLMRewriter(backend, max_items=2, max_chars=16, max_retries=0)
        out = rewriter.rewrite(REFERENTS)
    finally:
        torch.set_num_threads(threads)
    assert rewriter.report.failed_requests == 0
    assert len(out) == 2
    for referent, candidates in zip(REFERENTS, out):
        for candidate in candidates:
            assert candidate.kind == "llm_proposal"
            assert candidate.detail in ("attribute", "negation", "role_reversal")
            assert candidate.origin in referent.expressions
            assert re.match(text_pattern(16), candidate.text)
