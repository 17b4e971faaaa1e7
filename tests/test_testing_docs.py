"""The python code blocks of docs/testing-your-code.md run (and their asserts hold)."""

from __future__ import annotations

import pytest
from doc_blocks import DOCS, code_blocks, run_block

DOC = DOCS / "testing-your-code.md"
BLOCKS = code_blocks(DOC)


def test_doc_has_examples() -> None:
    assert BLOCKS


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_doc_block_runs(index: int) -> None:
    run_block(DOC, index, BLOCKS[index], {})
