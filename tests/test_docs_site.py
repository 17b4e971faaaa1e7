"""The documentation site builds with `mkdocs build --strict` (skipped without mkdocs).

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

pytest.importorskip("mkdocs")
pytest.importorskip("material")
pytest.importorskip("markdown_exec")

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = sorted(p.stem for p in (ROOT / "docs" / "tutorials").glob("*.md"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
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
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.stem != "index":
            assert (site / page.stem / "index.html").is_file(), page.name
    for stem in TUTORIALS:
        assert (site / "tutorials" / stem / "index.html").is_file(), stem


@pytest.mark.parametrize("stem", TUTORIALS)
def test_tutorial_pages_carry_figures_drawn_by_the_build(site: Path, stem: str) -> None:
    html = (site / "tutorials" / stem / "index.html").read_text(encoding="utf-8")
    assert "<svg" in html, f"{stem}: no figure rendered"
    assert not re.search(r"<img[^>]+src=\"[^\"]+\.(png|svg|jpe?g)\"", html), (
        f"{stem}: a checked-in picture; figures must come from the build"
    )
    assert "Traceback" not in html, f"{stem}: a block failed and its traceback was rendered"

