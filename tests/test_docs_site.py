"""The documentation site builds with `mkdocs build --strict`, and says nothing of outside it.

The build tests are skipped without mkdocs; the text checks at the end always run.

Strict mode turns every warning into a failure: a broken relative link or anchor, a page
left out of the nav, and a tutorial block that raises (markdown-exec reports it as a warning).
The build takes about ten seconds, most of it the tutorials running the engine, so it stays in
the default suite; install the `docs` extra (`pip install -e '.[docs]'`, or run
scripts/docs.sh once and use .docvenv) to run it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = sorted(p.stem for p in (ROOT / "docs" / "tutorials").glob("*.md"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for module in ("mkdocs", "material", "markdown_exec", "mkdocstrings", "mkdocs_jupyter"):
        pytest.importorskip(module)
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "MPLBACKEND": "Agg"}
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
         "-d", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stdout}{build.stderr}"
    return out


def test_every_page_is_built(site: Path) -> None:
    assert (site / "index.html").is_file()
    docs = ROOT / "docs"
    for page in sorted([*docs.rglob("*.md"), *(docs / "notebooks").glob("*.py")]):
        if page.stem != "index":
            built = site / page.relative_to(docs).with_suffix("") / "index.html"
            assert built.is_file(), page.relative_to(docs)
    for stem in TUTORIALS:
        assert (site / "tutorials" / stem / "index.html").is_file(), stem


def test_api_pages_carry_the_docstrings(site: Path) -> None:
    pages = sorted((ROOT / "docs" / "reference" / "api").glob("*.md"))
    assert len(pages) >= 13
    for page in pages:
        html = (site / "reference" / "api" / page.stem / "index.html").read_text("utf-8")
        assert html.count('class="doc doc-heading"') >= 2, f"{page.stem}: no API rendered"
    host = (site / "reference" / "api" / "host" / "index.html").read_text("utf-8")
    assert "create_namespace" in host and "run_until" in host


def test_cli_reference_and_notebooks_ran_in_the_build(site: Path) -> None:
    cli = (site / "reference" / "cli" / "index.html").read_text("utf-8")
    assert "timekeepers sweep" in cli and "--leap-file" in cli
    for stem in ("leap-seconds", "ntp-loops"):
        html = (site / "notebooks" / stem / "index.html").read_text("utf-8")
        figures = re.findall(r'<svg[^>]*\bwidth="[\d.]+pt"', html)   # matplotlib's, not icons
        assert len(figures) >= 2, f"{stem}: {len(figures)} figures"
        assert "Traceback" not in html, stem


@pytest.mark.parametrize("stem", TUTORIALS)
def test_tutorial_pages_carry_figures_drawn_by_the_build(site: Path, stem: str) -> None:
    html = (site / "tutorials" / stem / "index.html").read_text(encoding="utf-8")
    assert "<svg" in html, f"{stem}: no figure rendered"
    assert not re.search(r"<img[^>]+src=\"[^\"]+\.(png|svg|jpe?g)\"", html), (
        f"{stem}: a checked-in picture; figures must come from the build"
    )
    assert "Traceback" not in html, f"{stem}: a block failed and its traceback was rendered"



# --- nothing on the site or in the docstrings points outside the repository -------------------

OUTSIDE = re.compile(
    r"shared/|/work/|reference sheet|kernel-(?:time-|7\.3-)?facts|\bthe issue\b|issue text"
    r"|as requested|\bthe brief\b|§",
    re.I,
)
AUDITED = [
    ROOT / "README.md",
    ROOT / "mkdocs.yml",
    *sorted((ROOT / "docs").rglob("*.md")),
    *sorted((ROOT / "docs").rglob("*.py")),
    *(p for package in ("tk_core", "ntp", "tk_testing", "scripts", "benchmarks", "scenarios")
      for p in sorted((ROOT / package).rglob("*")) if p.suffix in (".py", ".md", ".toml", ".sh")),
]


def outside_references(text: str) -> list[str]:
    """The lines of `text` that point at material outside the repository."""
    return [line.strip() for line in text.splitlines() if OUTSIDE.search(line)]


def test_the_audit_finds_what_it_looks_for() -> None:
    for bad in ("see /work/shared/DESIGN.md", "as the reference sheet says", "kernel-facts.md",
                "(the issue text)", "§3.2 of the notes", "done as requested"):
        assert outside_references(bad), bad
    assert not outside_references("kernel/time/ntp.c second_overflow, v6.13; RFC 5905")


@pytest.mark.parametrize("path", AUDITED, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_reference_to_anything_outside_the_repository(path: Path) -> None:
    """Facts carry their real source (kernel function and version, RFC); no private notes."""
    found = outside_references(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)}: {found}"
