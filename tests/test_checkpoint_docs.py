"""docs/checkpoints.md teaches the CRIU story by example: its blocks must run as written."""

from __future__ import annotations

from doc_blocks import DOCS, code_blocks, run_in_order

DOC = DOCS / "checkpoints.md"


def test_the_checkpoint_guide_runs_as_written() -> None:
    blocks = code_blocks(DOC)
    assert len(blocks) >= 4
    env = run_in_order(DOC, blocks)
    assert env["after_here"]  # the heartbeat really fired after the migration
