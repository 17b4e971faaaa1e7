"""Shared fixtures and the hypothesis profiles.

`TK_SOAK=1` (or `--soak`) runs the long soaks marked `soak` and uses many more examples.
Under the compiled build (`scripts/test.sh --compiled`) the tests marked `pure_only` are
skipped: they watch the pure code's internals (a spy put on a method, a monkeypatched
function), which compiled classes do not allow.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "soak", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SOAK = os.environ.get("TK_SOAK") == "1"
settings.load_profile("soak" if SOAK else "default")


@pytest.fixture(autouse=True, scope="session")
def _timers_never_early() -> None:
    """Every host in the tests asserts on each timer fire that the clock reached the expiry."""
    from tk_core import Host

    Host.check_never_early = True


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", help="run the long soak tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from tk_compiled import is_compiled

    if is_compiled():
        for item in items:
            marker = item.get_closest_marker("pure_only")
            if marker is not None:
                reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
                item.add_marker(pytest.mark.skip(reason=f"pure code only: {reason}"))
    if SOAK or config.getoption("--soak"):
        return
    skip = pytest.mark.skip(reason="soak test: run with --soak or TK_SOAK=1")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)
