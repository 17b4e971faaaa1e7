"""The `timekeepers` pytest plugin: code under test runs on a simulated namespace's clocks.

Fixtures: `tk_host` (a `tk_core.Host`) and `tk_ns` (a namespace on it, patched in with
`tk_core.patch_time` for the test's duration).  The `timekeepers` marker configures both::

    @pytest.mark.timekeepers(start="2016-12-31T23:59:50Z", leap="step", dilation=1,
                             error_ppm=0, kernel_version=None, sleep="advance")

`leap` is ``"step"`` (the namespace's kernel inserts/deletes leap seconds), a smear shape
name such as ``"linear-24h"``, or None (nobody tells the kernel; UTC just goes on).  With no
leap second in the table after `start`, there is nothing to follow.
`--timekeepers-trace=DIR` writes the clocks sampled after every simulated sleep of each failed
test to ``DIR/<test id>.tsv``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from gmpy2 import mpq

from ntp.leap import LeapTable
from tk_core import Clocksource, Host, Namespace, SimClock, patch_time
from tk_core.patching import SleepMode

NSEC = 1_000_000_000
DEFAULT_START = "2016-12-31T23:59:50Z"
MARKER = "timekeepers"
TRACE_KEY = pytest.StashKey[SimClock]()
REPORT_KEY = pytest.StashKey[bool]()


@dataclass(frozen=True)
class Settings:
    """What the marker asked for, checked (a bad value fails the test with a clear message)."""

    start: str | int = DEFAULT_START
    leap: str | None = "step"
    dilation: Any = 1
    error_ppm: Any = 0
    kernel_version: str | None = None
    sleep: SleepMode = "advance"
    hz: int = 1000
    model: str = "timekeeper"

    def start_unix(self) -> int:
        """`start` as Unix seconds: an int, or an ISO 8601 UTC string."""
        if isinstance(self.start, int) and not isinstance(self.start, bool):
            return self.start
        text = str(self.start)
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|\+00:00)?", text):
            raise pytest.UsageError(
                f"timekeepers marker: start={self.start!r}, expected Unix seconds or "
                "'YYYY-MM-DDTHH:MM:SSZ'"
            )
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return int(parsed.replace(tzinfo=parsed.tzinfo or UTC).timestamp())


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--timekeepers-trace",
        metavar="DIR",
        default=None,
        help="write the simulated clocks of each failed test to DIR/<test>.tsv",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "timekeepers(start=..., leap=..., dilation=..., error_ppm=..., kernel_version=..., "
        "sleep=...): configure the tk_host / tk_ns fixtures",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Set tk_ns up before the asyncio runner fixtures, so their loop is a TkEventLoop."""
    for item in items:
        names = getattr(item, "fixturenames", None)
        if names is not None and "tk_ns" in names:
            names.remove("tk_ns")
            names.insert(0, "tk_ns")


def settings_for(request: pytest.FixtureRequest) -> Settings:
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return Settings()
    if marker.args:
        raise pytest.UsageError("timekeepers marker takes keyword arguments only")
    try:
        return Settings(**marker.kwargs)
    except TypeError as exc:
        raise pytest.UsageError(f"timekeepers marker: {exc}") from None


@pytest.fixture
def tk_host(request: pytest.FixtureRequest) -> Host:
    """A simulated host booted at the marker's `start`, TAI−UTC from the leap table."""
    cfg = settings_for(request)
    start = cfg.start_unix()
    clocksource = Clocksource(3_000_000_000, error_ppm=mpq(cfg.error_ppm), name="tsc")
    return Host(
        clocksource,
        hz=cfg.hz,
        realtime_ns=start * NSEC,
        tai_offset=LeapTable.load().tai_minus_utc(start),
        kernel_version=cfg.kernel_version,
    )


@pytest.fixture
def tk_ns(request: pytest.FixtureRequest, tk_host: Host) -> Iterator[Namespace]:
    """A namespace ("test") on `tk_host`, patched in as this process's time for the test."""
    cfg = settings_for(request)
    ns: Namespace
    if cfg.model == "offsets":
        ns = tk_host.create_namespace("test", model="offsets")
    else:
        own = tk_host.create_namespace("test", dilation=mpq(cfg.dilation))
        if cfg.leap is not None and LeapTable.load().next_leap(cfg.start_unix()) is not None:
            own.follow(cfg.leap)
        ns = own
    with patch_time(ns, sleep=cfg.sleep) as clock:
        if request.config.getoption("--timekeepers-trace"):
            clock.tracing = True
            clock.sample()
            request.node.stash[TRACE_KEY] = clock
        yield ns


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed:
        item.stash[REPORT_KEY] = True
    return report


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Write the trace of a failed test (before tk_ns is torn down, its samples are final)."""
    clock = item.stash.get(TRACE_KEY, None)
    out = item.config.getoption("--timekeepers-trace")
    if clock is None or not out or not item.stash.get(REPORT_KEY, False):
        return
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)
    lines = ["true_ns\tCLOCK_REALTIME\tCLOCK_MONOTONIC\tCLOCK_TAI"]
    lines += ["\t".join(map(str, row)) for row in clock.samples]
    (directory / f"{name}.tsv").write_text("\n".join(lines) + "\n")
