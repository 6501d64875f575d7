"""Prompt templates: find them, validate them, render them.

Templates are versioned Jinja2 files named ``NAME.vN.jinja`` (``multiview.v1.jinja``).
They are looked up in the user's folders first (the ``search_path`` argument, then the
folders in the ``REFAUG_PROMPT_PATH`` environment variable, separated by ``os.pathsep``),
then among the templates shipped with refaug. A name without a version
(``"multiview"``) picks the highest version found in the first folder that has one; a
path to a ``.jinja`` file is used as it is.

Rendering happens in Jinja2's ``SandboxedEnvironment`` with ``StrictUndefined``: a
user-edited template cannot run code, and a missing variable fails loudly with the line
that uses it. The template's name, version and content hash go into every
:class:`~refaug.records.ViewSource`, so cached responses are never reused across edits.

Example:
    >>> template = find_template("multiview.v1")
    >>> template.full_name, template.version
    ('multiview.v1', 'v1')
    >>> len(template.hash)
    16
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
import jinja2.meta
from jinja2.sandbox import SandboxedEnvironment

from refaug.errors import TemplateError

logger = logging.getLogger(__name__)

PROMPT_PATH_ENV = "REFAUG_PROMPT_PATH"
TEMPLATE_SUFFIX = ".jinja"
_NAME_RE = re.compile(r"^(?P<name>[A-Za-z0-9_\-]+)\.(?P<version>v\d+)$")


@dataclass(frozen=True)
class PromptTemplate:
    """One template file.

    Args:
        name: the template's name without version (``"multiview"``).
        version: its version (``"v1"``).
        path: the file it was read from.
        source: the template text.
        packaged: True when the file ships with refaug.
    """

    name: str
    version: str
    path: Path
    source: str
    packaged: bool = False

    @property
    def full_name(self) -> str:
        """``NAME.vN``, the name used in configs and in ``Views.source.template``."""
        return f"{self.name}.{self.version}"

    @property
    def hash(self) -> str:
        """The first 16 hex digits of the SHA-256 of the template text."""
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()[:16]

    @property
    def variables(self) -> frozenset[str]:
        """The variables the template uses (raises TemplateError on a syntax error)."""
        ast = _parse(self)
        return frozenset(jinja2.meta.find_undeclared_variables(ast))

    def validate(self) -> None:
        """Raise :class:`TemplateError`, naming the line, when the template does not parse."""
        _parse(self)

    def render(self, variables: Mapping[str, Any]) -> str:
        """Render with ``variables``; a missing variable raises TemplateError naming the line.

        Example:
            >>> t = find_template("multiview.v1")
            >>> text = t.render(example_variables())
            >>> "r1" in text
            True
        """
        template = _compile(self)
        try:
            return template.render(**dict(variables))
        except jinja2.TemplateError as exc:
            line = _template_line(exc.__traceback__, str(self.path))
            where = f"{self.path}, line {line}" if line else str(self.path)
            given = ", ".join(sorted(variables)) or "none"
            needed = ", ".join(sorted(self.variables))
            raise TemplateError(
                f"{where}: {exc.__class__.__name__}: {exc} (variables given: {given}). "
                f"Fix: pass every variable the template uses ({needed})"
            ) from exc


# ----------------------------------------------------------------------------- lookup


def packaged_prompt_dir() -> Path:
    """The folder of the templates shipped with refaug."""
    try:
        import importlib.resources

        folder = Path(str(importlib.resources.files("refaug._prompts")))
        if folder.is_dir():
            return folder
    except (ModuleNotFoundError, TypeError):
        pass
    here = Path(__file__).resolve().parent
    for folder in (here / "_prompts", here.parent / "prompts"):
        if folder.is_dir():
            return folder
    raise TemplateError(
        "refaug's packaged prompts/ folder is missing. Fix: reinstall refaug (pip install -e .)"
    )


def search_dirs(search_path: Sequence[str | os.PathLike] = ()) -> list[tuple[Path, bool]]:
    """The folders searched for templates, in order, each with a flag: is it the packaged one."""
    user = [Path(p) for p in search_path]
    env = os.environ.get(PROMPT_PATH_ENV, "")
    user += [Path(p) for p in env.split(os.pathsep) if p]
    return [(p, False) for p in user] + [(packaged_prompt_dir(), True)]


def _split_name(stem: str) -> tuple[str, str] | None:
    match = _NAME_RE.match(stem)
    return (match["name"], match["version"]) if match else None


def _read(path: Path, *, packaged: bool) -> PromptTemplate:
    parts = _split_name(path.name[: -len(TEMPLATE_SUFFIX)])
    if parts is None:
        raise TemplateError(
            f"{path}: a template file must be named NAME.vN{TEMPLATE_SUFFIX} "
            f"(e.g. multiview.v2{TEMPLATE_SUFFIX}). Fix: rename the file"
        )
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"{path}: cannot read the template: {exc}") from exc
    return PromptTemplate(name=parts[0], version=parts[1], path=path, source=source, packaged=packaged)


def _templates_in(folder: Path, *, packaged: bool) -> list[PromptTemplate]:
    if not folder.is_dir():
        return []
    files = sorted(folder.glob(f"*{TEMPLATE_SUFFIX}"))
    return [_read(f, packaged=packaged) for f in files if _split_name(f.name[: -len(TEMPLATE_SUFFIX)])]


def _version_number(template: PromptTemplate) -> int:
    return int(template.version[1:])


def list_templates(
    *, search_path: Sequence[str | os.PathLike] = (), include_shadowed: bool = False
) -> list[PromptTemplate]:
    """Every template found, user folders first; a user file shadows a packaged one of the same name.

    Args:
        search_path: extra folders to search before ``$REFAUG_PROMPT_PATH`` and the packaged ones.
        include_shadowed: also list templates hidden by an earlier file of the same full name.

    Example:
        >>> "multiview.v1" in [t.full_name for t in list_templates()]
        True
    """
    seen: set[str] = set()
    found = []
    for folder, packaged in search_dirs(search_path):
        for template in _templates_in(folder, packaged=packaged):
            if template.full_name in seen and not include_shadowed:
                continue
            seen.add(template.full_name)
            found.append(template)
    return found


def find_template(
    name: str | os.PathLike, *, search_path: Sequence[str | os.PathLike] = ()
) -> PromptTemplate:
    """Find a template by ``NAME.vN``, by ``NAME`` (its highest version) or by file path.

    Args:
        name: ``"multiview.v1"``, ``"multiview"`` or a path to a ``.jinja`` file.
        search_path: extra folders searched before ``$REFAUG_PROMPT_PATH`` and the packaged ones.

    Raises:
        TemplateError: no such template; the message lists the ones that exist.
    """
    text = str(name)
    if text.endswith(TEMPLATE_SUFFIX):
        path = Path(text)
        if not path.is_file():
            raise TemplateError(f"{path}: no such template file")
        return _read(path, packaged=False)
    for folder, packaged in search_dirs(search_path):
        candidates = [
            t for t in _templates_in(folder, packaged=packaged) if text in (t.full_name, t.name)
        ]
        if candidates:
            return max(candidates, key=_version_number)
    known = ", ".join(t.full_name for t in list_templates(search_path=search_path)) or "none"
    folders = ", ".join(str(f) for f, _ in search_dirs(search_path))
    raise TemplateError(
        f"no prompt template named {text!r} in {folders}; known templates: {known}. "
        f"Fix: use one of those names, or a path to a NAME.vN{TEMPLATE_SUFFIX} file"
    )


def render_template(
    name: str | os.PathLike | PromptTemplate,
    variables: Mapping[str, Any],
    *,
    search_path: Sequence[str | os.PathLike] = (),
) -> str:
    """Find ``name`` (unless it is already a template) and render it with ``variables``."""
    template = name if isinstance(name, PromptTemplate) else find_template(name, search_path=search_path)
    return template.render(variables)


# ----------------------------------------------------------------------------- rendering


class _SourceLoader(jinja2.BaseLoader):
    """Serves one template's text under its file path, so errors and tracebacks name the file."""

    def __init__(self, template: PromptTemplate):
        self.template = template

    def get_source(self, environment: jinja2.Environment, name: str) -> tuple[str, str, Any]:
        if name != self.template.full_name:
            raise jinja2.TemplateNotFound(
                f"{name} (templates cannot include other templates in refaug)"
            )
        return self.template.source, str(self.template.path), lambda: True


def _environment(template: PromptTemplate) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=_SourceLoader(template),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def _parse(template: PromptTemplate) -> Any:
    try:
        return _environment(template).parse(template.source, template.full_name, str(template.path))
    except jinja2.TemplateSyntaxError as exc:
        raise _syntax_error(template, exc) from exc


@lru_cache(maxsize=32)
def _compile(template: PromptTemplate) -> jinja2.Template:
    """Compile once per template text (the key is the whole frozen record, source included)."""
    try:
        return _environment(template).get_template(template.full_name)
    except jinja2.TemplateSyntaxError as exc:
        raise _syntax_error(template, exc) from exc


def _syntax_error(template: PromptTemplate, exc: jinja2.TemplateSyntaxError) -> TemplateError:
    lines = template.source.splitlines()
    shown = lines[exc.lineno - 1].strip() if 0 < exc.lineno <= len(lines) else ""
    return TemplateError(
        f"{template.path}, line {exc.lineno}: syntax error: {exc.message}"
        + (f" (in: {shown!r})" if shown else "")
    )


def _template_line(tb: TracebackType | None, filename: str) -> int | None:
    """The last template line in a traceback (Jinja rewrites frames to point into the template)."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


# ----------------------------------------------------------------------------- examples


def example_variables() -> dict[str, Any]:
    """A fixed set of variables for the packaged templates: two people, a dog and a parked car.

    It holds every variable a packaged template uses (``multiview``: referents, box_units,
    max_chars, previous_error; ``distractors`` also max_items and types); a template
    ignores the ones it does not use. The golden tests render with it.
    """
    return {
        "referents": [
            {"id": "r1", "category": "person", "expressions": ["left woman", "lady in red"],
             "box": "[0.05, 0.20, 0.32, 0.96]"},
            {"id": "r2", "category": "person", "expressions": ["man on right"],
             "box": "[0.60, 0.18, 0.88, 0.97]"},
            {"id": "r3", "category": "dog", "expressions": ["brown dog"],
             "box": "[0.35, 0.70, 0.52, 0.95]"},
            {"id": "r4", "category": "car", "expressions": ["white car in back"],
             "box": "[0.40, 0.10, 0.75, 0.40]"},
        ],
        "box_units": "normalized",
        "max_chars": 80,
        "max_items": 3,
        "types": ["attribute", "negation", "role_reversal"],
        "previous_error": None,
    }


def describe(templates: Iterable[PromptTemplate]) -> list[str]:
    """One line per template: full name, hash, where it comes from."""
    return [
        f"{t.full_name:<24} {t.hash}  {'packaged' if t.packaged else 'user'}  {t.path}"
        for t in templates
    ]
