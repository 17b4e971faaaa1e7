"""The `timekeepers` pytest plugin: code under test runs on a simulated namespace's clocks.

Fixtures: `tk_host` (a `tk_core.Host`) and `tk_ns` (a namespace on it, patched in with
`tk_core.patch_time` for the test's duration).  The `timekeepers` marker configures both::

    @pytest.mark.timekeepers(start="2016-12-31T23:59:50Z", leap="step", dilation=1,
                             error_ppm=0, kernel_version=None, sleep="advance", hz=1000,
                             model="timekeeper")

`leap` is ``"step"`` (the namespace's kernel inserts/deletes leap seconds), a smear shape
name such as ``"linear-24h"``, or None (nobody tells the kernel; UTC just goes on).  With no
leap second in the table after `start`, there is nothing to follow.
A bad argument fails the test at setup with one line naming it (see `Settings`).
`--timekeepers-trace=DIR` writes the clocks sampled after every simulated sleep of each failed
test to ``DIR/<test id>.tsv`` (`trace_file_name`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import pytest
from gmpy2 import mpq

from ntp.leap import LeapTable
from ntp.version import KernelBehaviour
from tk_core import Clocksource, Host, Namespace, SimClock, patch_time
from tk_core.exact_input import MPQ as MPQ  # kept as this module's name too
from tk_core.exact_input import exact_rational as engine_exact_rational
from tk_core.patching import SleepMode
from tk_core.policy import resolve_policy

NSEC = 1_000_000_000
TSC_HZ = 3_000_000_000
DEFAULT_START = "2016-12-31T23:59:50Z"
MARKER = "timekeepers"
TRACE_KEY = pytest.StashKey[SimClock]()
REPORT_KEY = pytest.StashKey[bool]()


class MarkerError(ValueError):
    """A `timekeepers` marker value the plugin cannot use; the message names the argument."""


MODELS = ("timekeeper", "offsets")
START_FORMAT = "Unix seconds (an int) or 'YYYY-MM-DDTHH:MM:SSZ'"


@dataclass(frozen=True)
class Settings:
    """What the marker asked for, checked when built (`MarkerError` names what is wrong).

    Every argument is checked before a host exists, so a typo fails the test at setup with
    one line saying which argument, what it was and what was expected, instead of running on
    a default or failing deep in the engine.  `dilation` and `error_ppm` are kept as exact
    rationals: ints, `Fraction`/`mpq`, strings like ``"1/3"`` or ``"12.5"``, or floats read
    as the decimal they were written as (``0.1`` is 1/10), the way scenario files read them.
    """

    start: str | int = DEFAULT_START
    leap: str | None = "step"
    dilation: Any = 1
    error_ppm: Any = 0
    kernel_version: str | None = None
    sleep: SleepMode = "advance"
    hz: int = 1000
    model: str = "timekeeper"
    #: the shipped leap table `start` was checked against, kept for the fixtures
    leap_table: LeapTable = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dilation", exact_rational("dilation", self.dilation))
        object.__setattr__(self, "error_ppm", exact_rational("error_ppm", self.error_ppm))
        self._check_start()
        self._check_leap()
        self._check_clock()
        if self.sleep not in get_args(SleepMode):
            raise MarkerError(
                f"sleep={self.sleep!r}: expected one of {', '.join(get_args(SleepMode))}")
        if self.model not in MODELS:
            raise MarkerError(f"model={self.model!r}: expected one of {', '.join(MODELS)}")
        if self.model == "offsets" and self.dilation != 1:
            raise MarkerError(
                f"dilation={self.dilation} with model='offsets': an offsets namespace runs on "
                "the host's own timekeeper, so its seconds cannot be dilated")
        if self.dilation <= 0:
            raise MarkerError(f"dilation={self.dilation}: expected a rate > 0")

    def start_unix(self) -> int:
        """`start` as Unix seconds: an int, or an ISO 8601 UTC string."""
        if isinstance(self.start, int) and not isinstance(self.start, bool):
            return self.start
        text = str(self.start)
        if not isinstance(self.start, str) or not re.fullmatch(
                r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|\+00:00)?", text):
            raise MarkerError(f"start={self.start!r}, expected {START_FORMAT}")
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:  # shaped right, but no such day or hour
            raise MarkerError(f"start={self.start!r}: {exc}") from None
        return int(parsed.replace(tzinfo=parsed.tzinfo or UTC).timestamp())

    def _check_start(self) -> None:
        start = self.start_unix()
        table = LeapTable.load()
        object.__setattr__(self, "leap_table", table)
        try:
            table.tai_minus_utc(start)
        except ValueError as exc:
            raise MarkerError(f"start={self.start!r}: {exc}") from None

    def _check_leap(self) -> None:
        if self.leap is None:
            return
        if not isinstance(self.leap, str):
            raise MarkerError(f"leap={self.leap!r}: expected a policy name or None")
        try:
            resolve_policy(self.leap)
        except (ValueError, TypeError) as exc:
            raise MarkerError(f"leap={self.leap!r}: {exc}") from None

    def _check_clock(self) -> None:
        """hz, kernel_version and error_ppm, each by the engine's own rule for it."""
        if isinstance(self.hz, bool) or not isinstance(self.hz, int) or not 0 < self.hz <= NSEC:
            raise MarkerError(f"hz={self.hz!r}: expected an int from 1 to {NSEC:_}")
        try:
            KernelBehaviour.from_version(self.kernel_version)
        except (ValueError, TypeError) as exc:
            raise MarkerError(f"kernel_version={self.kernel_version!r}: {exc}") from None
        try:
            self.clocksource()
        except ValueError as exc:
            raise MarkerError(f"error_ppm={self.error_ppm}: {exc}") from None

    def clocksource(self) -> Clocksource:
        """The test host's counter: a 3 GHz TSC, `error_ppm` fast."""
        return Clocksource(TSC_HZ, error_ppm=self.error_ppm, name="tsc")


def exact_rational(name: str, value: object) -> mpq:
    """A marker number as an exact mpq (the engine's rule, `tk_core.exact_input`);
    `MarkerError` naming `name` if it is not one."""
    try:
        return engine_exact_rational(value, f"{name}={value!r}")
    except (TypeError, ValueError) as exc:
        raise MarkerError(str(exc)) from None


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


SETTINGS_KEY = pytest.StashKey[Settings]()


def settings_for(request: pytest.FixtureRequest) -> Settings:
    """The test's checked marker settings, built once per test (both fixtures ask)."""
    stash: pytest.Stash = request.node.stash
    settings = stash.get(SETTINGS_KEY, None)
    if settings is None:
        settings = stash[SETTINGS_KEY] = _build_settings(request)
    return settings


def _build_settings(request: pytest.FixtureRequest) -> Settings:
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return Settings()
    if marker.args:
        pytest.fail(f"timekeepers marker: takes keyword arguments only, got {marker.args!r}",
                    pytrace=False)
    try:
        return Settings(**marker.kwargs)
    except TypeError as exc:  # an argument the marker does not take
        unknown = str(exc).partition("argument ")[2] or str(exc)
        fields = ", ".join(f.name for f in dataclasses.fields(Settings) if f.init)
        problem = f"unknown argument {unknown}; it takes {fields}"
    except MarkerError as exc:
        problem = str(exc)
    # failed outside the except clause, so the report is the one line, not a chain
    pytest.fail(f"timekeepers marker: {problem}", pytrace=False)


@pytest.fixture
def tk_host(request: pytest.FixtureRequest) -> Host:
    """A simulated host booted at the marker's `start`, TAI−UTC from the leap table."""
    cfg = settings_for(request)
    start = cfg.start_unix()
    return Host(
        cfg.clocksource(),
        hz=cfg.hz,
        realtime_ns=start * NSEC,
        tai_offset=cfg.leap_table.tai_minus_utc(start),
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
        own = tk_host.create_namespace("test", dilation=cfg.dilation)
        if cfg.leap is not None and cfg.leap_table.next_leap(cfg.start_unix()) is not None:
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
    lines = ["true_ns\tCLOCK_REALTIME\tCLOCK_MONOTONIC\tCLOCK_TAI"]
    lines += ["\t".join(map(str, row)) for row in clock.samples]
    (directory / trace_file_name(item.nodeid)).write_text("\n".join(lines) + "\n")


#: longest file name stem a trace gets (file systems allow 255 bytes with the suffix)
TRACE_NAME_MAX = 200


def trace_file_name(nodeid: str) -> str:
    """The trace file of a test: its node id with `/` and `::` as `_`, ``.tsv``.

    Any other character outside ``[A-Za-z0-9_.-]`` becomes `_` too, which can make two
    parametrized ids one name (``test_f[a/b]`` and ``test_f[a b]``), and a long id can pass
    the file system's limit; either way the name is cut to `TRACE_NAME_MAX` and gets the
    first 10 hex digits of the id's SHA-1, so every failed test keeps a file of its own.
    """
    plain = re.sub(r"::|/", "_", nodeid)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", plain)
    if name != plain or len(name) > TRACE_NAME_MAX:
        digest = hashlib.sha1(nodeid.encode()).hexdigest()[:10]
        name = f"{name[:TRACE_NAME_MAX]}-{digest}"
    return f"{name}.tsv"
