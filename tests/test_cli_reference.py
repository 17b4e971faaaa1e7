"""docs/reference/cli.md: generated from the parser, and complete.

The check reads the subcommands and options from each parser's own `--help` text, not from
the walk `tk_core.cli_reference` does, so a subcommand or option the generator skipped fails.
"""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from doc_blocks import DOCS, code_blocks

from tk_core.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, build_parser
from tk_core.cli_reference import render, subcommands

PAGE = DOCS / "reference" / "cli.md"


def test_every_subcommand_has_a_section() -> None:
    text = render()
    top_help = build_parser().format_help()
    names = re.search(r"\{([\w,]+)\}", top_help)
    assert names, top_help
    for name in names.group(1).split(","):
        assert f"## `timekeepers {name}`" in text, name


def test_every_option_and_positional_appears() -> None:
    text = render()
    for name, sub in subcommands(build_parser()).items():
        section = text.split(f"## `timekeepers {name}`", 1)[1].split("\n## ", 1)[0]
        table = section.split("| argument |", 1)[1]
        help_text = sub.format_help()
        options = set(re.findall(r"^\s{2}(-[-\w]+(?:, -[-\w]+)*)", help_text, re.M))
        flat = {o for group in options for o in group.split(", ")} - {"-h", "--help"}
        positionals = help_text.split("positional arguments:", 1)
        if len(positionals) > 1:
            listed = positionals[1].split("options:", 1)[0]
            flat |= set(re.findall(r"^\s{2}(\w+)", listed, re.M))
        assert flat, f"{name}: no arguments found in --help"
        for arg in flat:
            assert f"`{arg}" in table, f"{name}: {arg} missing from the reference"


def test_help_texts_and_defaults_are_carried_over() -> None:
    text = render()
    assert "Local Dask worker processes" in text
    assert "| `out/demo` |" in text
    assert "Not with `--scheduler`." in text
    for code in (EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT):
        assert f"| {code} |" in text


def test_the_page_prints_the_generated_reference() -> None:
    blocks = code_blocks(PAGE, 'python exec="true"')
    assert len(blocks) == 1
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], str(PAGE), "exec"), {"__name__": "docs.cli"})
    assert out.getvalue() == render() + "\n"


def test_the_reference_does_not_depend_on_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    narrow = render()
    monkeypatch.setenv("COLUMNS", "200")
    assert render() == narrow
