"""The JSON schema a view response must follow, and the parser that checks a response.

A response answers every referent of one image, keyed by a short local id (``r1``,
``r2``...) that the prompt lists next to each referent::

    {"r1": {"appearance": "...", "action": "..." | null, "spatial": "...",
            "alternative": null | "..."}, ...}

The schema bounds every string with a ``pattern`` (a character class and a length), so
that constrained decoding always stops and never lets control characters into a string
(a ``maxLength`` alone let raw control characters through in a trial of vLLM's xgrammar
backend). It also encodes the inapplicable-perspective rule: ``action`` is null exactly
when ``alternative`` is a string.

The parser is tolerant of how models wrap JSON (code fences, text around it, a wrapper
object, a list of objects with ids) and strict about the content. It never raises for a
bad response: it returns a :class:`ParseFailure` that says what is wrong, which the
generator feeds back into the retry prompt.

Example:
    >>> schema = ViewSchema(max_chars=40)
    >>> text = '```json\\n{"r1": {"appearance": "the red circle", "action": null, ' \\
    ...        '"spatial": "the circle on the left", "alternative": "the big circle"}}\\n```'
    >>> result = parse_response(text, ["r1"], schema=schema)
    >>> result.ok, result.views["r1"].cluster
    (True, ('the red circle', 'the circle on the left', 'the big circle'))
    >>> parse_response("{}", ["r1"]).reason
    'r1: not answered'
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from refaug.records import Views, ViewSource

VIEW_KEYS: tuple[str, ...] = ("appearance", "action", "spatial", "alternative")
# Strings a model writes when it means null.
_NULL_WORDS = frozenset({"", "null", "none", "n/a", "na", "not applicable", "-"})
_FENCE_RE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_SPACE_RE = re.compile(r"\s+")


def local_ids(count: int) -> list[str]:
    """The local ids of ``count`` referents of one image: ``r1`` ... ``rN``."""
    return [f"r{i}" for i in range(1, count + 1)]


@dataclass(frozen=True)
class ViewSchema:
    """Bounds on the expressions a model may write.

    Args:
        max_chars: the longest expression, in characters (80 holds every RefCOCOg
            expression we measured but the longest 1%; RefCOCO's average is ~3.6 words).
        max_words: the most words in one expression.
        charset: the characters allowed after the first one, as a regex class body. The
            first character must be a letter or a digit.
    """

    max_chars: int = 80
    max_words: int = 20
    charset: str = r"A-Za-z0-9 ,.'\-"

    def __post_init__(self) -> None:
        if self.max_chars < 2:
            raise ValueError(f"max_chars={self.max_chars!r} is not valid; it must be >= 2")
        if self.max_words < 1:
            raise ValueError(f"max_words={self.max_words!r} is not valid; it must be >= 1")

    @property
    def text_pattern(self) -> str:
        """The regex every expression matches: ``^[A-Za-z0-9][<charset>]{0,max_chars-1}$``."""
        return f"^[A-Za-z0-9][{self.charset}]{{0,{self.max_chars - 1}}}$"

    def json_schema(self, ids: Sequence[str]) -> dict[str, Any]:
        """The JSON schema of a response that answers the referents ``ids``."""
        text = {"type": "string", "pattern": self.text_pattern}
        null = {"type": "null"}
        referent = {"anyOf": [_referent_object(text, text, null), _referent_object(text, null, text)]}
        return {
            "type": "object",
            "properties": {i: referent for i in ids},
            "required": list(ids),
            "additionalProperties": False,
        }


_BOUND_RE = re.compile(r"\{0,(\d+)\}\$$")


def text_bound(json_schema: Any) -> int | None:
    """The longest expression a schema made by :meth:`ViewSchema.json_schema` allows.

    Backends without constrained decoding (``rules``) read it to keep within the bound.

    Example:
        >>> text_bound(ViewSchema(max_chars=30).json_schema(["r1"]))
        30
    """
    if isinstance(json_schema, dict):
        match = _BOUND_RE.search(str(json_schema.get("pattern", "")))
        if match:
            return int(match.group(1)) + 1
        values: Any = json_schema.values()
    elif isinstance(json_schema, list):
        values = json_schema
    else:
        return None
    for value in values:
        bound = text_bound(value)
        if bound is not None:
            return bound
    return None


def _referent_object(text: dict, action: dict, alternative: dict) -> dict[str, Any]:
    properties = {"appearance": text, "action": action, "spatial": text, "alternative": alternative}
    return {
        "type": "object",
        "properties": properties,
        "required": list(VIEW_KEYS),
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class ParsedViews:
    """A response that passed every check: the views of each local id."""

    views: dict[str, Views]
    ok: bool = field(default=True, init=False)


@dataclass(frozen=True)
class ParseFailure:
    """A response that failed: ``reason`` sums up ``problems``; ``raw`` is the response text."""

    reason: str
    problems: tuple[str, ...]
    raw: str
    ok: bool = field(default=False, init=False)


ParseResult = ParsedViews | ParseFailure


def parse_response(
    text: str,
    ids: Sequence[str],
    *,
    schema: ViewSchema | None = None,
    source: ViewSource | None = None,
) -> ParseResult:
    """Parse and check one response that should answer the referents ``ids``.

    Args:
        text: the raw response.
        ids: the local ids the prompt listed, in order.
        schema: the bounds the texts must respect; ``ViewSchema()`` when None.
        source: stamped on every :class:`~refaug.records.Views`.

    Returns:
        :class:`ParsedViews`, or :class:`ParseFailure` naming every problem found.
    """
    schema = schema or ViewSchema()
    source = source or ViewSource(backend="unknown")
    data, problem = extract_json(text)
    if problem:
        return _failure([problem], text)
    answers, problems = _answers_by_id(data, ids)
    views = {}
    for local_id in ids:
        if local_id not in answers:
            continue
        texts, referent_problems = _check_referent(answers[local_id], schema)
        problems += [f"{local_id}: {p}" for p in referent_problems]
        if not referent_problems:
            views[local_id] = Views(source=source, **texts)
    if problems:
        return _failure(problems, text)
    return ParsedViews(views=views)


def _failure(problems: list[str], raw: str) -> ParseFailure:
    shown = problems[:6]
    more = f"; and {len(problems) - 6} more" if len(problems) > 6 else ""
    return ParseFailure(reason="; ".join(shown) + more, problems=tuple(problems), raw=raw)


def extract_json(text: str) -> tuple[Any, str | None]:
    """The first JSON object in ``text`` (inside a code fence or not), or a problem."""
    if not isinstance(text, str) or not text.strip():
        return None, "the response is empty"
    fenced = [m.group(1) for m in _FENCE_RE.finditer(text)]
    decoder = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys)
    for chunk in [*fenced, text]:
        for start in (m.start() for m in re.finditer(r"[{\[]", chunk)):
            try:
                value, _ = decoder.raw_decode(chunk, start)
            except _DuplicateKey as exc:
                return None, str(exc)
            except json.JSONDecodeError as exc:
                if exc.pos >= len(chunk.rstrip()):
                    # It ran to the end: the objects inside it belong to a cut-off answer.
                    return None, "the JSON is cut off before its end (raise max_tokens?)"
                continue
            if isinstance(value, (dict, list)):
                return value, None
    return None, "no JSON object found in the response"


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise _DuplicateKey(f"{', '.join(repeated)}: answered more than once")
    return dict(pairs)


def _answers_by_id(data: Any, ids: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """Map local id -> answer, unwrapping ``{"objects": {...}}`` and ``[{"id": ...}, ...]``."""
    wanted = set(ids)
    if isinstance(data, dict) and not wanted & set(data) and len(data) == 1:
        (inner,) = data.values()
        if isinstance(inner, (dict, list)):
            data = inner
    if isinstance(data, list):
        data, problems = _list_to_dict(data)
        if problems:
            return {}, problems
    if not isinstance(data, dict):
        return {}, ["the JSON is not an object keyed by referent id"]
    problems = [f"{i}: not answered" for i in ids if i not in data]
    problems += [f"{k}: not a referent id of this image" for k in data if k not in wanted]
    return data, problems


def _list_to_dict(items: list[Any]) -> tuple[dict[str, Any], list[str]]:
    data: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict) or "id" not in item:
            return {}, ["a JSON list must hold objects with an 'id' key"]
        key = str(item["id"])
        if key in data:
            return {}, [f"{key}: answered more than once"]
        data[key] = {k: v for k, v in item.items() if k != "id"}
    return data, []


def _check_referent(answer: Any, schema: ViewSchema) -> tuple[dict[str, str | None], list[str]]:
    if not isinstance(answer, dict):
        return {}, ["the answer is not an object"]
    problems = [f"unknown key {k!r}" for k in answer if k not in VIEW_KEYS]
    texts: dict[str, str | None] = {}
    for key in VIEW_KEYS:
        value, problem = _check_text(answer.get(key), schema)
        texts[key] = value
        if problem:
            problems.append(f"{key} {problem}")
    for key in ("appearance", "spatial"):
        if texts[key] is None and key in answer and not any(key in p for p in problems):
            problems.append(f"{key} is empty")
        elif key not in answer:
            problems.append(f"{key} is missing")
    if not problems:
        problems = _check_alternative_rule(texts)
    return texts, problems


def _check_text(value: Any, schema: ViewSchema) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    if not isinstance(value, str):
        return None, f"is a {type(value).__name__}, not a string"
    text = _SPACE_RE.sub(" ", value).strip()
    if text.lower() in _NULL_WORDS:
        return None, None
    if len(text) > schema.max_chars:
        return None, f"is too long ({len(text)} > {schema.max_chars} characters)"
    if len(text.split()) > schema.max_words:
        return None, f"is too long ({len(text.split())} > {schema.max_words} words)"
    if any(not ch.isprintable() for ch in text):
        return None, "holds control characters"
    return text, None


def _check_alternative_rule(texts: dict[str, str | None]) -> list[str]:
    action, alternative = texts["action"], texts["alternative"]
    if action is None and alternative is None:
        return ["action is null but no alternative was written"]
    if action is not None and alternative is not None:
        return ["alternative must be null when action applies"]
    if alternative is not None:
        same = [k for k in ("appearance", "spatial") if (texts[k] or "").lower() == alternative.lower()]
        if same:
            return [f"alternative repeats {same[0]}"]
    return []
