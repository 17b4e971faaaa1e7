"""The tutorials run top to bottom without mkdocs: the same blocks markdown-exec runs.

Each docs/tutorials/*.md page is one markdown-exec session, so its ```python exec="true"```
blocks run in order in one namespace here too (the figure blocks included: they draw with
matplotlib's Agg backend and print SVG, which the test discards).  A block whose assert
fails here would fail the strict site build the same way.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from doc_blocks import DOCS, code_blocks, run_in_order

EXECUTED = 'python exec="true"'
TUTORIALS = sorted((DOCS / "tutorials").glob("*.md"))


def test_there_are_tutorials_and_each_executes_code() -> None:
    assert {p.stem for p in TUTORIALS} >= {"clocksource", "timekeeper"}
    for page in TUTORIALS:
        assert code_blocks(page, EXECUTED), f"{page.name} has no executed python block"


def test_every_python_block_of_a_tutorial_is_executed() -> None:
    """A plain ```python block would be shown but never run: the tutorials do not have any."""
    for page in TUTORIALS:
        assert len(code_blocks(page, EXECUTED)) == len(code_blocks(page)), page.name


@pytest.mark.parametrize("page", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_runs_top_to_bottom(page: Path) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        run_in_order(page, code_blocks(page, EXECUTED))
    assert "<svg" in out.getvalue(), f"{page.name} draws no figure"


def test_no_picture_files_in_the_docs() -> None:
    """Figures come from the engine at build time; a checked-in picture would go stale."""
    pictures = [p for ext in ("png", "svg", "jpg", "jpeg", "gif") for p in DOCS.rglob(f"*.{ext}")]
    assert not pictures, f"figures are generated at build time, not checked in: {pictures}"
