"""Regressions for the small syscall-shape fixes: errno order, glibc adjtime range, timerfd
EAGAIN, ASCII-only numbers, one-line --set values, lateness measured at the callback."""

from __future__ import annotations

import errno

import pytest

from tk_core import CLOCK_MONOTONIC, CLOCK_REALTIME, Host
from tk_core.lateness import LatenessHistogram
from tk_core.scenario import units
from tk_core.timekeeper import TIME_SETTOD_SEC_MAX

S = 10**9


def errno_of(fn, *args) -> int:
    with pytest.raises(OSError) as info:
        fn(*args)
    return info.value.errno


@pytest.mark.parametrize("model", ["timekeeper", "offsets"])
def test_settime_checks_the_value_before_the_capability(model):
    host = Host()
    ns = host.create_namespace("n", model=model)
    task = ns.spawn()
    assert errno_of(task.clock_settime_ns, CLOCK_REALTIME, TIME_SETTOD_SEC_MAX * S) == errno.EINVAL
    assert errno_of(task.clock_settime_ns, CLOCK_REALTIME, -1) == errno.EINVAL
    assert errno_of(task.clock_settime_ns, CLOCK_REALTIME, 5 * S) == errno.EPERM


@pytest.mark.parametrize("delta", [2**63, -(2**63), 2146 * 10**6, -2146 * 10**6 - 1])
def test_adjtime_out_of_glibc_range_is_einval(delta):
    ns = Host().create_namespace("n")
    before = ns.ntp.to_dict()
    assert errno_of(ns.adjtime, delta) == errno.EINVAL
    assert ns.ntp.to_dict() == before


def test_adjtime_at_the_glibc_limit_is_accepted():
    ns = Host().create_namespace("n")
    ns.adjtime(2145 * 10**6 + 999_999)
    assert ns.adjtime(None) == 2145 * 10**6 + 999_999


def test_timerfd_read_with_nothing_to_report_is_eagain():
    host = Host()
    ns = host.create_namespace("n", update="periodic")
    fd = ns.timerfd_create(CLOCK_MONOTONIC)
    assert errno_of(fd.read) == errno.EAGAIN
    fd.settime(S, interval_ns=S)
    host.run_for(S + S // 2)
    assert fd.read() >= 1
    assert errno_of(fd.read) == errno.EAGAIN


@pytest.mark.parametrize("text", ["١٠s", "10ｓ", "１0s", "٣"])
def test_non_ascii_digits_are_refused(text):
    with pytest.raises(units.UnitError):
        units.parse_duration(text)
    with pytest.raises(units.UnitError):
        units.exact_number(text)


def test_set_refuses_multi_line_values(tmp_path):
    from tk_core.scenario import loader

    data: dict = {}
    with pytest.raises(Exception, match="one-line"):
        loader._set(data, "host.hz=250\nhost.nohz=false")
    assert data == {}


def test_lateness_is_measured_when_the_callback_runs():
    # 300 timers due at the same instant, each expiry costing 1 µs: the last one runs ~300 µs
    # after the deadline by its own clock, and that is what must be reported.
    host = Host(expiry_cost_ns=1_000, record_lateness=True)
    ns = host.create_namespace("n", update="periodic")
    seen = []
    timers = []
    for _ in range(300):
        t = ns.timer_create(CLOCK_MONOTONIC, lambda tm, o: seen.append(
            tm.ns.clock_gettime_ns(CLOCK_MONOTONIC)))
        timers.append(t)
    deadline = ns.clock_gettime_ns(CLOCK_MONOTONIC) + S
    for t in timers:
        t.settime(deadline, absolute=True)
    host.run_for(2 * S)
    assert len(seen) == 300
    worst_seen = max(seen) - deadline
    assert host.stats.late_max_ns >= worst_seen - 1_000
    assert host.stats.late_max_ns >= 250_000
    assert isinstance(host.lateness, LatenessHistogram) and len(host.lateness) == 300


def test_histogram_is_bounded():
    h = LatenessHistogram()
    for v in range(100_000):
        h.append(v)
    assert len(h.buckets) == 65 and h.count == 100_000 and h.max_ns == 99_999
    assert sum(h.as_dict().values()) == 100_000
