"""Where scenarios are found: a path as given, or a shipped scenario by name."""

from __future__ import annotations

import os
from pathlib import Path

SCENARIOS_ENV = "TIMEKEEPERS_SCENARIOS"


def shipped_dir() -> Path:
    """The shipped scenarios: installed with the package (or $TIMEKEEPERS_SCENARIOS).

    They live in tk_core/scenario/shipped/ so a wheel carries them; the repository's
    scenarios/ is a link to that folder.
    """
    env = os.environ.get(SCENARIOS_ENV)
    return Path(env) if env else Path(__file__).resolve().parent / "shipped"


def find_scenario(text: str) -> Path:
    """A path as given, or a shipped scenario's name (with or without .toml)."""
    path = Path(text)
    if path.exists() or os.sep in text:
        return path
    shipped = shipped_dir() / (text if text.endswith(".toml") else f"{text}.toml")
    return shipped if shipped.exists() else path
