"""The public API is typed: the packages pass `mypy --strict`, and so does code that uses them.

The mypy runs use the project's own configuration (pyproject.toml: the pydantic plugin, the
untyped gmpy2/sortedcontainers imports) and read this checkout's packages first (MYPYPATH),
whatever copy of the project is installed.  Each run takes several seconds, so the tests that
run mypy carry the `typecheck` marker (`-m "not typecheck"` leaves them out).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from mypy import api as mypy_api

from ntp.timex import Timeval, Timex

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tk_core", "ntp", "tk_testing", "tk_shim", "tk_compiled")

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache per worker and module: the second run re-checks only the new file."""
    return tmp_path_factory.mktemp("mypy_cache")


def run_mypy(
    targets: list[str], cache: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, int]:
    """`mypy --strict` with the project's config; (report, exit status)."""
    monkeypatch.setenv("MYPYPATH", str(ROOT))
    out, err, status = mypy_api.run(
        [
            "--strict",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(cache),
            "--no-color-output",
            "--no-error-summary",
            *targets,
        ]
    )
    return out + err, status


def error_lines(report: str, path: Path) -> set[int]:
    """Line numbers of `path` that mypy reported an error on."""
    lines = set()
    for line in report.splitlines():
        head, sep, _ = line.partition(": error:")
        if sep and Path(head.rsplit(":", 1)[0]).name == path.name:
            lines.add(int(head.rsplit(":", 1)[1]))
    return lines


@pytest.mark.typecheck
def test_packages_pass_mypy_strict(mypy_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report, status = run_mypy([str(ROOT / p) for p in PACKAGES], mypy_cache, monkeypatch)
    assert status == 0, report
    assert "error:" not in report


USER_CODE = '''
"""What a user writes: the engine's API, time patching, and the pytest plugin's fixtures."""

from __future__ import annotations

import time
from typing import assert_type

import tk_core
from ntp.timex import ADJ_FREQUENCY, ADJ_NANO, ADJ_SETOFFSET, TIME_ERROR, Timeval, Timex
from tk_core import (
    CLOCK_MONOTONIC,
    CLOCK_REALTIME,
    Host,
    Namespace,
    OffsetsNamespace,
    SimClock,
    Task,
    TimekeeperNamespace,
)

START_NS = 1_700_000_000 * 10**9


def boot() -> tuple[Host, TimekeeperNamespace]:
    host = Host(realtime_ns=START_NS)
    ns = host.create_namespace("app")
    assert_type(ns, TimekeeperNamespace)
    return host, ns


def test_engine_api() -> None:
    host, ns = boot()
    before: int = ns.clock_gettime_ns(CLOCK_MONOTONIC)
    state: int = ns.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=10 << 16))
    assert state == TIME_ERROR  # STA_UNSYNC: no NTP daemon has synchronised it yet
    step = Timex(modes=ADJ_SETOFFSET | ADJ_NANO, time=(1, 500_000_000))
    assert_type(step.time, Timeval)
    seconds: int = step.time.tv_sec
    assert seconds == 1
    ns.adjtimex(step)  # the kernel writes the time back into it
    assert step.time.tv_sec >= START_NS // 10**9 + 1
    host.run_for(10**9)
    assert ns.clock_gettime_ns(CLOCK_MONOTONIC) - before >= 10**9
    assert ns.clock_gettime_ns(CLOCK_REALTIME) >= START_NS + 2 * 10**9

    container = host.create_namespace("container", model="offsets")
    assert_type(container, OffsetsNamespace)
    container.set_offsets(monotonic_ns=5 * 10**9)

    task: Task = ns.spawn({"CAP_SYS_TIME"})
    task.clock_settime_ns(CLOCK_REALTIME, START_NS)
    tk_core.clock_settime_ns(task, CLOCK_REALTIME, START_NS)
    fires: list[int] = []
    timer = task.timer_create(CLOCK_MONOTONIC, lambda _t, overrun: fires.append(overrun))
    timer.settime(10**6)
    host.run_for(10**7)
    assert fires == [0]


def test_patch_time() -> None:
    _, ns = boot()
    with tk_core.patch_time(ns) as clock:
        assert_type(clock, SimClock)
        t0 = time.monotonic_ns()
        time.sleep(3)
        assert time.monotonic_ns() - t0 == 3 * 10**9


def test_fixtures(tk_host: Host, tk_ns: Namespace) -> None:
    assert tk_ns.host is tk_host
    t0 = tk_ns.clock_gettime_ns(CLOCK_MONOTONIC)
    time.sleep(2)
    assert tk_ns.clock_gettime_ns(CLOCK_MONOTONIC) - t0 >= 2 * 10**9
'''


def write_module(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source).lstrip())
    return path


@pytest.mark.typecheck
def test_user_code_passes_mypy_strict(
    tmp_path: Path, mypy_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_module(tmp_path, "test_user_code.py", USER_CODE)
    report, status = run_mypy([str(path)], mypy_cache, monkeypatch)
    assert status == 0, report


def test_user_code_runs(pytester: pytest.Pytester) -> None:
    """The snippet is real usage: it passes as a test file under the timekeepers plugin."""
    pytester.makepyfile(test_user_code=USER_CODE)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:xdist")
    result.assert_outcomes(passed=3)


MISUSE = """
from ntp.timex import Timex
from tk_core import Host

host = Host()
Timex(time="soon")
tx = Timex()
tx.time = (1, 2, 3)
host.create_namespace("app").set_offsets(monotonic_ns=1)
host.create_namespace("box", model="offsets").adjtimex("not a timex")
"""


@pytest.mark.typecheck
def test_misuse_is_reported(
    tmp_path: Path, mypy_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The annotations are precise, not Any: each wrong line of MISUSE is an error."""
    path = write_module(tmp_path, "misuse.py", MISUSE)
    report, status = run_mypy([str(path)], mypy_cache, monkeypatch)
    assert status == 1, report
    assert error_lines(report, path) == {5, 7, 8, 9}, report


# -- Timex.time: what the annotation promises is what the dataclass does ----------------------


def test_timex_time_accepts_a_pair_and_reads_a_timeval() -> None:
    tx = Timex(time=(5, 250))
    assert type(tx.time) is Timeval
    assert (tx.time.tv_sec, tx.time.tv_usec) == (5, 250)
    tx.time = (6, 7)
    assert tx.time == Timeval(6, 7) and type(tx.time) is Timeval
    assert Timex().time == Timeval(0, 0)


@pytest.mark.parametrize("bad", ["soon", (1, 2, 3), (1.5, 0), [1, 2]])
def test_timex_time_rejects_what_the_annotation_rejects(bad: object) -> None:
    with pytest.raises(TypeError, match=r"Timex\.time"):
        Timex(time=bad)  # type: ignore[arg-type]
