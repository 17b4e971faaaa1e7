"""Helpers for tests that check what a malformed scenario is told."""

from __future__ import annotations

import pytest

from tk_core.scenario import ScenarioError, load_text


def issues(text: str) -> list[tuple[str, str]]:
    """Every (field path, message) the loader reports for scenario `text`."""
    with pytest.raises(ScenarioError) as info:
        load_text(text, "x.toml")
    return [(i.path(), i.message) for i in info.value.issues]


def one_issue(text: str) -> tuple[str, str]:
    """The single issue the loader reports for `text` (fails if there are more)."""
    found = issues(text)
    assert len(found) == 1, found
    return found[0]
