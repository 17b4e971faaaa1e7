"""Run the code blocks of a documentation page, so a page cannot teach code that fails.

One helper for every doc-checking test (docs/adjtimex.md, docs/testing-your-code.md, the
tutorials): it finds the fenced blocks whose info string starts with a given prefix and runs
them as the page presents them, reporting a failure by page and block number.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def code_blocks(doc: Path, info: str = "python") -> list[str]:
    """The bodies of the ``` blocks of `doc` whose info string is `info` or starts `info `.

    `info='python exec="true"'` picks the blocks markdown-exec runs at site build time
    (whatever other options follow); `info='python'` alone picks every plain and executed
    python block.
    """
    fence = re.compile(r"^```" + re.escape(info) + r"(?:[ \t][^\n]*)?\n(.*?)^```", re.M | re.S)
    return fence.findall(doc.read_text(encoding="utf-8"))


def run_block(doc: Path, index: int, code: str, env: dict[str, object]) -> None:
    """Exec one block in `env`; a failure names the page and the block and shows the code."""
    try:
        exec(compile(code, f"{doc.name}[block {index}]", "exec"), env)
    except Exception as exc:
        raise AssertionError(f"example {index} of {doc.name} failed: {exc!r}\n{code}") from exc


def run_in_order(doc: Path, blocks: list[str]) -> dict[str, object]:
    """Run `blocks` top to bottom in one namespace (later blocks use earlier names)."""
    env: dict[str, object] = {"__name__": f"docs.{doc.stem}"}
    for index, code in enumerate(blocks):
        run_block(doc, index, code, env)
    return env


EXERCISE = re.compile(r"^###[^\n]*\{#(ex-[a-z0-9-]+)\}[ \t]*\n(.*?)(?=^#{2,3} |\Z)", re.M | re.S)
SOLUTION = re.compile(
    r'^\?\?\? success "Solution"\n(?:.*?\n)??^    ```python exec="true"[^\n]*\n(.*?)^    ```',
    re.M | re.S,
)


def exercises(doc: Path) -> dict[str, str]:
    """Each exercise of `doc` (a `### … {#ex-ID}` heading) mapped to its solution's code.

    The solution is the executed python block inside the `??? success "Solution"` admonition
    that follows the heading, dedented; an exercise without one maps to "".
    """
    found: dict[str, str] = {}
    for ident, body in EXERCISE.findall(doc.read_text(encoding="utf-8")):
        solution = SOLUTION.search(body)
        found[ident] = textwrap.dedent(solution.group(1)) if solution else ""
    return found
