"""LLM-proposed distractors: the view backends, asked for hard negatives with the image.

One request per image (the image is encoded once) lists every referent with its numbered
expressions; the model answers, under a JSON schema, a list of ``{"type", "source",
"text"}`` per referent: the type of edit (attribute, negation, role reversal), the number
of the expression it edited, and the distractor. Every string in the schema is bounded by
a ``pattern`` so constrained generation always stops. The answers go through the same
bookkeeping as the spaCy rewriters: a distractor equal to one of the referent's own
expressions or repeating another is dropped (and counted), and each kept one becomes a
:class:`~refaug.records.Candidate` with ``kind="llm_proposal"``, ``detail`` the type the
model gave and ``origin`` the expression it edited.

Example:
    >>> from refaug.views.backends.openai import OpenAIBackend  # doctest: +SKIP
    >>> rewriter = LLMRewriter(OpenAIBackend(model="llava-hf/llava-1.5-7b-hf"))  # doctest: +SKIP
    >>> ds = ds.map(rewriter, batched=True, batch_size=64)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from refaug.errors import check_choice
from refaug.prompts import PromptTemplate, find_template
from refaug.records import Candidate, Referent
from refaug.rewrite.base import normalize
from refaug.views.backends.base import ImageRequest, ViewBackend
from refaug.views.generate import image_size, prompt_variables
from refaug.views.schema import extract_json, local_ids

logger = logging.getLogger(__name__)

DISTRACTOR_TYPES: tuple[str, ...] = ("attribute", "negation", "role_reversal")
# RefCOCO expressions average 3.6 words; 60 characters holds all but the longest few.
DEFAULT_MAX_CHARS = 60


def text_pattern(max_chars: int) -> str:
    """The regex every distractor must match (first character a letter or digit)."""
    return f"^[A-Za-z0-9][A-Za-z0-9 ,.'-]{{0,{max_chars - 1}}}$"


def distractor_schema(
    counts: Sequence[int], *, types: Sequence[str], max_items: int, max_chars: int
) -> dict[str, Any]:
    """The JSON schema of an answer for referents with ``counts[i]`` expressions each.

    Example:
        >>> s = distractor_schema([2], types=("negation",), max_items=3, max_chars=40)
        >>> s["properties"]["r1"]["maxItems"], s["required"]
        (3, ['r1'])
    """
    properties = {}
    for local_id, count in zip(local_ids(len(counts)), counts):
        item = {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": list(types)},
                "source": {"type": "integer", "minimum": 1, "maximum": max(1, count)},
                "text": {"type": "string", "pattern": text_pattern(max_chars)},
            },
            "required": ["type", "source", "text"],
            "additionalProperties": False,
        }
        properties[local_id] = {
            "type": "array",
            "items": item,
            "minItems": 0,
            "maxItems": max_items,
        }
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


@dataclass
class LLMReport:
    """What the last call asked and kept, and what it dropped and why."""

    requests: int = 0
    failed_requests: int = 0
    proposals: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


class LLMRewriter:
    """Asks a view backend for attribute, negation and role-reversal distractors.

    Args:
        backend: any :class:`~refaug.views.backends.base.ViewBackend` (``openai``,
            ``vllm``, ``transformers``); it receives one request per image.
        template: the prompt template, ``NAME.vN``, ``NAME`` or a path (default
            ``"distractors.v1"``).
        template_dirs: folders searched for the template before the packaged ones.
        types: the edit types asked for.
        max_items: the most distractors per referent (bounds the answer).
        max_chars: the longest distractor, in characters.
        max_retries: how often a failed or unparsable request is asked again, with the
            reason in ``previous_error``.
        include_boxes: list each referent's box in the prompt.
        column / output_column: the batch columns read and written by ``__call__``.
    """

    kind = "llm_proposal"

    def __init__(
        self,
        backend: ViewBackend,
        template: str | os.PathLike = "distractors.v1",
        *,
        template_dirs: Sequence[str | os.PathLike] = (),
        types: Sequence[str] = DISTRACTOR_TYPES,
        max_items: int = 6,
        max_chars: int = DEFAULT_MAX_CHARS,
        max_retries: int = 1,
        include_boxes: bool = True,
        output_column: str = "distractors",
    ) -> None:
        if not isinstance(backend, ViewBackend):
            raise TypeError(f"backend must be a ViewBackend, got {type(backend).__name__}")
        for kind in types:
            check_choice("types", kind, DISTRACTOR_TYPES)
        if max_items < 1 or max_chars < 2 or max_retries < 0:
            raise ValueError(
                f"max_items={max_items!r} (>= 1), max_chars={max_chars!r} (>= 2) and "
                f"max_retries={max_retries!r} (>= 0) are out of range"
            )
        self.backend = backend
        self.template = str(template)
        self.template_dirs = tuple(str(d) for d in template_dirs)
        self.types = tuple(types)
        self.max_items = int(max_items)
        self.max_chars = int(max_chars)
        self.max_retries = int(max_retries)
        self.include_boxes = bool(include_boxes)
        self.output_column = output_column
        self.prompt_template.validate()
        self.report = LLMReport()

    @property
    def prompt_template(self) -> PromptTemplate:
        return find_template(self.template, search_path=self.template_dirs)

    # ------------------------------------------------------------------ requests
    def build_request(
        self, referents: Sequence[Referent], *, previous_error: str | None = None
    ) -> ImageRequest:
        """The request for the referents of one image (all share ``image_id`` and image)."""
        first = referents[0]
        variables = prompt_variables(
            referents,
            image_size=image_size(first.image) if self.include_boxes else None,
            include_boxes=self.include_boxes,
            max_chars=self.max_chars,
            previous_error=previous_error,
        )
        variables.update(max_items=self.max_items, types=list(self.types))
        counts = [len(item["expressions"]) for item in variables["referents"]]
        schema = distractor_schema(
            counts, types=self.types, max_items=self.max_items, max_chars=self.max_chars
        )
        prompt = self.prompt_template.render(variables)
        return ImageRequest(first.image_id, first.image, tuple(referents), prompt, schema)

    def rewrite(self, referents: Sequence[Referent]) -> list[list[Candidate]]:
        """Distractors for each referent (one list each, in order), one request per image."""
        self.report = LLMReport()
        groups: dict[Any, list[int]] = {}
        for index, referent in enumerate(referents):
            groups.setdefault(referent.image_id, []).append(index)
        results: list[list[Candidate]] = [[] for _ in referents]
        pending = {image_id: None for image_id in groups}  # image_id -> previous error
        for _attempt in range(self.max_retries + 1):
            if not pending:
                break
            ids = list(pending)
            requests = [
                self.build_request([referents[i] for i in groups[g]], previous_error=pending[g])
                for g in ids
            ]
            self.report.requests += len(requests)
            answers = self.backend.generate(requests)
            pending = {}
            for image_id, answer in zip(ids, answers):
                members = [referents[i] for i in groups[image_id]]
                parsed, problem = self.parse(answer, members)
                if problem is not None:
                    pending[image_id] = problem
                    continue
                for index, candidates in zip(groups[image_id], parsed):
                    results[index] = candidates
        for image_id, problem in pending.items():
            self.report.failed_requests += 1
            self.report.failures.append(f"image {image_id}: {problem}")
            logger.warning("distractors for image %s failed: %s", image_id, problem)
        self._log_report()
        return results

    # ------------------------------------------------------------------ parsing
    def parse(
        self, answer: str | Exception, referents: Sequence[Referent]
    ) -> tuple[list[list[Candidate]], str | None]:
        """Candidates per referent from one raw answer, or a problem to retry with."""
        if isinstance(answer, Exception):
            return [], f"the request failed: {answer}"
        data, problem = extract_json(answer)
        if problem is not None:
            return [], problem
        if not isinstance(data, dict):
            return [], "the answer is not a JSON object keyed by object id"
        missing = [i for i in local_ids(len(referents)) if i not in data]
        if missing:
            return [], f"no answer for {', '.join(missing)}"
        pattern = re.compile(text_pattern(self.max_chars))
        out = []
        for local_id, referent in zip(local_ids(len(referents)), referents):
            items = data[local_id] if isinstance(data[local_id], list) else []
            out.append(self._candidates(items, referent, pattern))
        return out, None

    def _candidates(
        self, items: list[Any], referent: Referent, pattern: re.Pattern
    ) -> list[Candidate]:
        expressions = [e for e in referent.expressions if e.strip()]
        seen = {normalize(e) for e in expressions}
        kept: list[Candidate] = []
        for position, item in enumerate(items):
            self.report.proposals += 1
            reason = _invalid(item, pattern, self.types, len(expressions))
            if position >= self.max_items:
                reason = "over max_items"
            if reason is None and normalize(item["text"]) in seen:
                reason = (
                    "equal to an expression of the referent"
                    if normalize(item["text"]) in {normalize(e) for e in expressions}
                    else "duplicate"
                )
            if reason is not None:
                self.report.drop(reason)
                continue
            seen.add(normalize(item["text"]))
            origin = expressions[item["source"] - 1]
            kept.append(
                Candidate(
                    text=item["text"].strip(), kind=self.kind, detail=item["type"], origin=origin
                )
            )
        self.report.kept += len(kept)
        return kept

    def _log_report(self) -> None:
        report = self.report
        dropped = sum(report.dropped.values())
        if report.proposals:
            logger.info(
                "LLM distractors: kept %d of %d proposals; dropped %d (%.0f%%): %s; %d of %d requests failed",
                report.kept, report.proposals, dropped, 100 * dropped / report.proposals,
                report.dropped or "none", report.failed_requests, report.requests,
            )  # fmt: skip

    # ------------------------------------------------------------------ Dataset.map
    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        """A ``Dataset.map(batched=True)`` function: appends to (or adds) ``distractors``."""
        n = len(batch["expressions"])
        referents = [Referent.from_row({k: v[i] for k, v in batch.items()}) for i in range(n)]
        proposals = self.rewrite(referents)
        existing = batch.get(self.output_column) or [[] for _ in range(n)]
        merged = []
        for old, new in zip(existing, proposals):
            known = {normalize(c["text"]) for c in old or []}
            merged.append(
                [*(old or []), *(c.to_row() for c in new if normalize(c.text) not in known)]
            )
        return {**batch, self.output_column: merged}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("report", None)  # per-call bookkeeping, not configuration
        # An edited template must change the datasets fingerprint: hash its text too.
        state["template_hash"] = self.prompt_template.hash
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state.pop("template_hash", None)
        self.__dict__.update(state)
        self.report = LLMReport()


def _invalid(item: Any, pattern: re.Pattern, types: Sequence[str], count: int) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        return "malformed item"
    if item.get("type") not in types:
        return "unknown type"
    source = item.get("source")
    if not isinstance(source, int) or isinstance(source, bool) or not 1 <= source <= count:
        return "source out of range"
    if not pattern.match(item["text"].strip()):
        return "text outside the allowed pattern"
    return None
