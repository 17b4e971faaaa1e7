"""The timekeepers pytest plugin, exercised the way a user would: test files run by pytester."""

from __future__ import annotations

import hashlib

import pytest

pytest_plugins = ["pytester"]

HEARTBEAT = """
import asyncio, datetime, pytest

async def heartbeat(n):
    await asyncio.sleep(0.5)  # beat mid-second, not on the instant the kernel applies the leap
    seen = []
    for _ in range(n):
        seen.append(datetime.datetime.utcnow().strftime("%H:%M:%S"))
        await asyncio.sleep(1)
    return seen

@pytest.mark.asyncio
@pytest.mark.timekeepers(start="2016-12-31T23:59:50Z", leap="{leap}")
async def test_heartbeat(tk_ns):
    seen = await heartbeat(20)
    assert seen.count("23:59:59") == {count}
"""


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(source)
    return pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:xdist", *args)


@pytest.mark.parametrize(("leap", "count"), [("step", 2), ("linear-24h", 1)])
def test_heartbeat_across_2016_leap(pytester: pytest.Pytester, leap: str, count: int) -> None:
    run(pytester, HEARTBEAT.format(leap=leap, count=count)).assert_outcomes(passed=1)


def test_sleep_across_inserted_leap(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
import time, pytest

@pytest.mark.timekeepers(start="2016-12-31T23:59:55Z", leap="step")
def test_sleep(tk_ns):
    m0, t0, tai0 = time.monotonic_ns(), time.time_ns(), time.clock_gettime_ns(time.CLOCK_TAI)
    time.sleep(10)
    assert time.monotonic_ns() - m0 == 10 * 10**9
    assert time.time_ns() - t0 == 9 * 10**9
    assert time.clock_gettime_ns(time.CLOCK_TAI) - tai0 == 10 * 10**9
""")
    result.assert_outcomes(passed=1)


def test_long_asyncio_sleep_and_wait_for(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
import asyncio, pytest, time
from tk_core import CLOCK_MONOTONIC

@pytest.mark.asyncio
async def test_hour(tk_ns):
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await asyncio.sleep(3600)
    assert loop.time() - t0 >= 3600
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.sleep(7200), timeout=60)
    assert tk_ns.clock_gettime_ns(CLOCK_MONOTONIC) // 10**9 >= 3660

@pytest.mark.anyio
async def test_anyio(tk_ns):
    import anyio
    t0 = time.monotonic()
    await anyio.sleep(600)
    assert time.monotonic() - t0 >= 600

@pytest.fixture
def anyio_backend():
    return "asyncio"
""")
    result.assert_outcomes(passed=2)


def test_controller_slews_and_code_sees_it(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
import time, pytest
from ntp.timex import ADJ_FREQUENCY, Timex

@pytest.mark.timekeepers(leap=None, start=1_700_000_000)
def test_slew(tk_ns):
    tk_ns.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=100 << 16))  # +100 ppm
    m0 = time.monotonic_ns()
    t_true = tk_ns.host.true_ns
    time.sleep(100)
    true_elapsed = tk_ns.host.true_ns - t_true
    assert time.monotonic_ns() - m0 == 100 * 10**9
    assert abs(true_elapsed - 100 * 10**9 / 1.0001) < 1_000_000  # the code's seconds are shorter
""")
    result.assert_outcomes(passed=1)


def test_dilation_and_frozen(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
import time, datetime, pytest

@pytest.mark.timekeepers(dilation=2, leap=None)
def test_dilated(tk_ns):
    t = tk_ns.host.true_ns
    time.sleep(5)
    assert tk_ns.host.true_ns - t >= 10 * 10**9 - 10**6

@pytest.mark.timekeepers(sleep="frozen", start="2020-02-29T12:00:00Z")
def test_frozen(tk_ns):
    t0 = time.time()
    time.sleep(30)
    assert time.time() == t0
    assert datetime.date.today() == datetime.date(2020, 2, 29)
    assert isinstance(datetime.datetime.now(), datetime.datetime)
    tk_ns.host.run_for(86400 * 10**9)
    assert datetime.date.today() == datetime.date(2020, 3, 1)
""")
    result.assert_outcomes(passed=2)


def test_trace_written_for_failed_tests(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
import time

def test_fails(tk_ns):
    time.sleep(3)
    assert False

def test_passes(tk_ns):
    time.sleep(1)
""", "--timekeepers-trace=traces")
    result.assert_outcomes(passed=1, failed=1)
    files = list((pytester.path / "traces").glob("*.tsv"))
    assert [f.name for f in files] == ["test_trace_written_for_failed_tests.py_test_fails.tsv"]
    rows = files[0].read_text().splitlines()
    assert rows[0].startswith("true_ns") and len(rows) == 3


def test_every_failed_parametrized_test_keeps_its_own_trace(pytester: pytest.Pytester) -> None:
    """Ids that read alike once made file-safe (a/b, a b, a_b) and an id too long for a file
    name each get a file of their own."""
    result = run(pytester, """
import time, pytest

@pytest.mark.parametrize("x", ["a/b", "a b", "a_b", "y" * 300])
def test_f(tk_ns, x):
    time.sleep(1)
    assert False
""", "--timekeepers-trace=traces")
    result.assert_outcomes(failed=4)
    names = sorted(f.name for f in (pytester.path / "traces").glob("*.tsv"))
    assert len(names) == 4 and max(len(n.encode()) for n in names) <= 255
    assert sum("_test_f_a_b_-" in n for n in names) == 3  # cut where the ids differ: a digest


def test_trace_names_of_plain_ids_are_unchanged() -> None:
    from tk_testing.pytest_plugin import trace_file_name

    assert trace_file_name("tests/sub/test_x.py::TestA::test_b") == \
        "tests_sub_test_x.py_TestA_test_b.tsv"
    digest = hashlib.sha1(b"t.py::test_f[a_b-1]").hexdigest()[:10]
    assert trace_file_name("t.py::test_f[a_b-1]") == f"t.py_test_f_a_b-1_-{digest}.tsv"


def test_bad_marker_is_a_clear_error(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
import pytest

@pytest.mark.timekeepers(start="yesterday")
def test_x(tk_ns):
    pass
""")
    result.stdout.fnmatch_lines(["*start='yesterday', expected Unix seconds*"])


BAD_MARKERS = {
    "leap": ('leap="smeer"', "leap='smeer': unknown smear shape 'smeer'; known shapes: step,"),
    "leap_type": ("leap=24", "leap=24: expected a policy name or None"),
    "dilation": ('dilation="fast"', "dilation='fast': expected a number such as 12,"),
    "dilation_neg": ("dilation=-1", "dilation=-1: expected a rate > 0"),
    "error_ppm": ('error_ppm="abc"', "error_ppm='abc': expected a number such as 12,"),
    "error_ppm_range": ("error_ppm=-2_000_000", "error_ppm=-2000000: Clocksource error_ppm"),
    "kernel": ('kernel_version="six"', "kernel_version='six': "),
    "sleep": ('sleep="nap"', "sleep='nap': expected one of advance, real, frozen"),
    "hz": ("hz=0", "hz=0: expected an int from 1 to 1_000_000_000"),
    "hz_bool": ("hz=True", "hz=True: expected an int from 1 to"),
    "model": ('model="offset"', "model='offset': expected one of timekeeper, offsets"),
    "offsets_dilated": ('model="offsets", dilation=2',
                        "dilation=2 with model='offsets': an offsets namespace runs on"),
    "unknown": ("stat=1", "unknown argument 'stat'; it takes start, leap, dilation,"),
    "before_1972": ("start=0", "start=0: Unix time 0 is before 1972-01-01"),
    "no_such_day": ('start="2016-02-30T00:00:00Z"', "start='2016-02-30T00:00:00Z': day is"),
    "positional": ('"2016"', "takes keyword arguments only, got ('2016',)"),
}


def test_every_bad_marker_argument_fails_setup_in_one_line(pytester: pytest.Pytester) -> None:
    """Each bad argument is an error at setup naming it, with no traceback, and the test body
    never runs (so no test runs on a default it did not ask for)."""
    source = ["import pytest"]
    for name, (args, _) in BAD_MARKERS.items():
        source += [f"@pytest.mark.timekeepers({args})",
                   f"def test_{name}(tk_ns):", "    raise AssertionError('ran')"]
    result = run(pytester, "\n".join(source) + "\n")
    result.assert_outcomes(errors=len(BAD_MARKERS))
    out = result.stdout.str()
    for name, (_, message) in BAD_MARKERS.items():
        assert f"timekeepers marker: {message}" in out, name
    assert "Traceback" not in out and "During handling" not in out
    assert "pytest_plugin.py" not in out  # no frames from inside the plugin


def test_marker_numbers_are_exact() -> None:
    from fractions import Fraction

    from gmpy2 import mpq

    from tk_testing.pytest_plugin import Settings

    assert Settings(dilation=0.1).dilation == mpq(1, 10)  # the decimal written, not the double
    assert Settings(dilation="1/3").dilation == mpq(1, 3)
    assert Settings(dilation=Fraction(2, 3), error_ppm=mpq(-25, 2)).error_ppm == mpq(-25, 2)
    assert Settings(error_ppm="12.5").error_ppm == mpq(25, 2)


def test_good_marker_arguments_all_run(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
import time, pytest

@pytest.mark.timekeepers(start=1483228790, leap=None, dilation="1/2", error_ppm=0.1,
                         kernel_version="6.6", sleep="advance", hz=250, model="timekeeper")
def test_all(tk_ns, tk_host):
    assert tk_host.hz == 250 and tk_host.kernel_version == "6.6"
    t0 = time.monotonic(); time.sleep(10)
    assert time.monotonic() - t0 >= 10

@pytest.mark.timekeepers(model="offsets", leap="linear-24h")
def test_offsets(tk_ns):
    assert tk_ns.model == "offsets"
""")
    result.assert_outcomes(passed=2)
