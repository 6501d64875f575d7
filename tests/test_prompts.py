"""Prompt templates: lookup order, golden renders, sandboxing and errors that name the line."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from refaug.errors import TemplateError
from refaug.prompts import (
    PROMPT_PATH_ENV,
    example_variables,
    find_template,
    list_templates,
    render_template,
)

GOLDEN = Path(__file__).parent / "golden"


def _packaged() -> list[str]:
    return [t.full_name for t in list_templates() if t.packaged]


@pytest.mark.parametrize("name", _packaged())
def test_packaged_template_renders_to_its_golden_text(name):
    """After a deliberate edit, rewrite the golden file: REFAUG_UPDATE_GOLDEN=1 pytest -k golden."""
    golden = GOLDEN / f"{name}.txt"
    text = find_template(name).render(example_variables())
    if os.environ.get("REFAUG_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"no golden render of {name}: add {golden} (REFAUG_UPDATE_GOLDEN=1)"
    assert text == golden.read_text(encoding="utf-8")


def test_retry_note_and_no_boxes_render_to_golden_text():
    variables = example_variables()
    variables["previous_error"] = "r2: not answered"
    variables["box_units"] = None
    for referent in variables["referents"]:
        referent["box"] = None
    text = render_template("multiview.v1", variables)
    assert text == (GOLDEN / "multiview.v1.retry-noboxes.txt").read_text(encoding="utf-8")


def test_packaged_multiview_declares_its_variables():
    template = find_template("multiview.v1")
    assert template.variables == {"referents", "box_units", "max_chars", "previous_error"}
    assert (template.name, template.version, template.packaged) == ("multiview", "v1", True)
    assert len(template.hash) == 16


def test_name_without_version_takes_the_highest(tmp_path):
    for version in (2, 10):
        (tmp_path / f"multiview.v{version}.jinja").write_text(
            f"version {version}", encoding="utf-8"
        )
    assert find_template("multiview", search_path=[tmp_path]).version == "v10"


def test_user_folder_shadows_the_packaged_template(tmp_path):
    (tmp_path / "multiview.v1.jinja").write_text("mine: {{ max_chars }}", encoding="utf-8")
    template = find_template("multiview.v1", search_path=[tmp_path])
    assert not template.packaged
    assert template.render({"max_chars": 5}) == "mine: 5"
    found = list_templates(search_path=[tmp_path], include_shadowed=True)
    names = [(t.full_name, t.packaged) for t in found if t.name == "multiview"]
    assert names == [("multiview.v1", False), ("multiview.v1", True)]
    shown = [t.packaged for t in list_templates(search_path=[tmp_path]) if t.name == "multiview"]
    assert shown == [False]


def test_environment_variable_folder_is_searched(tmp_path, monkeypatch):
    (tmp_path / "custom.v1.jinja").write_text("hello {{ who }}", encoding="utf-8")
    monkeypatch.setenv(PROMPT_PATH_ENV, str(tmp_path))
    assert render_template("custom", {"who": "you"}) == "hello you"


def test_a_path_is_used_as_it_is(tmp_path):
    path = tmp_path / "anything.v3.jinja"
    path.write_text("x", encoding="utf-8")
    assert find_template(str(path)).full_name == "anything.v3"


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(TemplateError, match="known templates: .*multiview.v1"):
        find_template("nosuch.v1")


def test_bad_file_name_is_refused(tmp_path):
    path = tmp_path / "noversion.jinja"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(TemplateError, match="NAME.vN.jinja"):
        find_template(str(path))


def test_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "broken.v1.jinja"
    path.write_text("line one\nline two\n{% for x in xs %}\n{{ x }\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"broken.v1.jinja, line 4: syntax error"):
        find_template(str(path)).render({"xs": [1]})


def test_missing_variable_names_the_line(tmp_path):
    path = tmp_path / "needs.v1.jinja"
    path.write_text("first {{ a }}\nsecond\nthird {{ b }}\n", encoding="utf-8")
    with pytest.raises(
        TemplateError, match=r"needs.v1.jinja, line 3: UndefinedError: 'b' is undefined"
    ):
        find_template(str(path)).render({"a": 1})


def test_missing_attribute_fails_loudly(tmp_path):
    path = tmp_path / "attr.v1.jinja"
    path.write_text("{% for r in referents %}{{ r.nosuch }}{% endfor %}", encoding="utf-8")
    with pytest.raises(TemplateError, match="line 1"):
        find_template(str(path)).render({"referents": [{"id": "r1"}]})


def test_sandbox_blocks_code(tmp_path):
    path = tmp_path / "evil.v1.jinja"
    path.write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}", encoding="utf-8")
    with pytest.raises(TemplateError, match="SecurityError"):
        find_template(str(path)).render({})


def test_hash_follows_the_content(tmp_path):
    path = tmp_path / "h.v1.jinja"
    path.write_text("a", encoding="utf-8")
    first = find_template(str(path)).hash
    path.write_text("b", encoding="utf-8")
    assert find_template(str(path)).hash != first


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    from refaug.views.cli import register_cli

    parser = argparse.ArgumentParser(prog="refaug")
    register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code = args.handler(args)
    return code, capsys.readouterr().out


def test_cli_copy_edit_render(tmp_path, capsys):
    code, out = _cli(["prompts", "copy", "multiview.v1", str(tmp_path)], capsys)
    copy = tmp_path / "multiview.v2.jinja"
    assert code == 0 and copy.is_file() and f"refaug prompts render {copy} --example" in out
    copy.write_text(
        copy.read_text(encoding="utf-8").replace("You write", "EDITED: you write"), encoding="utf-8"
    )
    code, out = _cli(["prompts", "render", str(copy), "--example"], capsys)
    assert code == 0
    assert out.startswith("EDITED: you write")
    assert "- r1: " in out and "; box [" in out
    code, out = _cli(["prompts", "list", "--path", str(tmp_path)], capsys)
    assert out.splitlines()[0].startswith("multiview.v2") and "user" in out.splitlines()[0]


def test_cli_show_and_render_vars(tmp_path, capsys):
    code, out = _cli(["prompts", "show", "multiview"], capsys)
    assert code == 0 and "# multiview.v1" in out and "{% for referent in referents %}" in out
    variables = tmp_path / "vars.json"
    variables.write_text(
        '{"referents": [{"id": "r1", "category": "cat", "expressions": ["a cat"], "box": null}],'
        ' "box_units": null, "max_chars": 50, "previous_error": null}',
        encoding="utf-8",
    )
    code, out = _cli(["prompts", "render", "multiview.v1", "--vars", str(variables)], capsys)
    assert '- r1: cat; said before: "a cat"\n' in out and "at most 50 characters" in out
