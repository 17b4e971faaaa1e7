"""docs/adjtimex.md teaches by example: every ```python block there must run as written.

The blocks run in order in one namespace (later blocks use names from earlier ones); each
block asserts what the text around it claims.
"""

from __future__ import annotations

from doc_blocks import DOCS, code_blocks, run_in_order

DOC = DOCS / "adjtimex.md"


def blocks() -> list[str]:
    return code_blocks(DOC)


def test_the_guide_has_examples() -> None:
    assert len(blocks()) >= 8


def test_every_example_in_the_guide_runs() -> None:
    run_in_order(DOC, blocks())
