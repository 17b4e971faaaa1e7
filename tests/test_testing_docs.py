"""The python code blocks of docs/testing-your-code.md run (and their asserts hold)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "testing-your-code.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_doc_has_examples() -> None:
    assert BLOCKS


@pytest.mark.parametrize("block", BLOCKS)
def test_doc_block_runs(block: str) -> None:
    exec(compile(block, str(DOC), "exec"), {})
