"""The notebooks: jupytext percent sources, checked in without outputs, that run top to bottom.

The site executes them (mkdocs-jupyter, `execute: true`); here each runs as the plain Python
file it is, so a notebook that fails shows up without Jupyter installed.  Their own asserts
compare the engine with the kernel's recurrences; this test also counts the figures.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
from doc_blocks import DOCS

import tk_core.figures
from tk_core.figures import SvgFigure, show, subplots

ROOT = DOCS.parent
NOTEBOOKS = sorted((DOCS / "notebooks").glob("*.py"))


def test_the_two_notebooks_are_jupytext_percent_sources_in_the_nav() -> None:
    assert {p.stem for p in NOTEBOOKS} == {"leap-seconds", "ntp-loops"}
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in NOTEBOOKS:
        text = page.read_text(encoding="utf-8")
        assert "format_name: percent" in text and "name: python3" in text, page.name
        assert re.search(r"^# %% \[markdown\]$", text, re.M), f"{page.name}: no markdown cell"
        assert len(re.findall(r"^# %%$", text, re.M)) >= 3, f"{page.name}: too few code cells"
        assert f"notebooks/{page.name}" in nav, f"{page.name} is not in the nav"


def test_no_executed_notebook_is_checked_in() -> None:
    """Outputs come from the build; an .ipynb beside its source would go stale."""
    assert not list(ROOT.glob("docs/**/*.ipynb"))


@pytest.mark.parametrize("page", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_draws(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[SvgFigure] = []

    def counting_show(fig: Any) -> SvgFigure:
        drawn.append(show(fig))
        return drawn[-1]

    monkeypatch.setattr(tk_core.figures, "show", counting_show)
    env: dict[str, Any] = {"__name__": f"docs.notebooks.{page.stem}"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(page.read_text(encoding="utf-8"), str(page), "exec"), env)
    assert len(drawn) >= 2, f"{page.name}: {len(drawn)} figures"
    assert all(fig.startswith("<svg") for fig in drawn)


def test_a_figure_shows_in_a_notebook_as_html() -> None:
    fig, ax = subplots()
    ax.plot([0, 1], [1, 0])
    shown = show(fig)
    assert shown._repr_html_() == str(shown) and shown.startswith("<svg")
