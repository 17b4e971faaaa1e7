"""docs/adjtimex.md teaches by example: every ```python block there must run as written.

The blocks run in order in one namespace (later blocks use names from earlier ones); each
block asserts what the text around it claims.
"""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "adjtimex.md"


def blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)


def test_the_guide_has_examples() -> None:
    assert len(blocks()) >= 8


def test_every_example_in_the_guide_runs() -> None:
    env: dict[str, object] = {}
    for i, code in enumerate(blocks()):
        try:
            exec(compile(code, f"{DOC.name}[block {i}]", "exec"), env)
        except Exception as exc:  # pragma: no cover - the message names the block
            raise AssertionError(f"example {i} of {DOC.name} failed: {exc!r}\n{code}") from exc
