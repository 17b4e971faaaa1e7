"""POSIX timers and clock_nanosleep: the API, the POSIX clock rules, timens, set-timer-lat."""

from __future__ import annotations

import errno

import pytest

from ntp import ADJ_FREQUENCY, ADJ_NANO, ADJ_OFFSET, ADJ_SETOFFSET, ADJ_STATUS, STA_PLL, Timex
from tk_core import (
    CLOCK_BOOTTIME,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME,
    CLOCK_REALTIME_ALARM,
    CLOCK_REALTIME_COARSE,
    CLOCK_TAI,
    Clocksource,
    Host,
)
from tk_core.posix_timers import INT_MAX, ktime_add_safe, timespec_to_ktime
from tk_core.timekeeper import KTIME_MAX, KTIME_SEC_MAX

NSEC = 1_000_000_000
MS = 1_000_000
US = 1_000
EPOCH = 1_483_228_790 * NSEC
CLOCKS = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI)


def host(**kw) -> Host:
    return Host(realtime_ns=EPOCH, tai_offset=37, **kw)


# -- API and errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clockid", "code"),
    [
        (CLOCK_MONOTONIC_RAW, errno.EOPNOTSUPP),
        (CLOCK_REALTIME_COARSE, errno.EOPNOTSUPP),
        (CLOCK_REALTIME_ALARM, errno.EINVAL),
        (2, errno.EINVAL),
        (99, errno.EINVAL),
    ],
)
def test_timer_create_rejects_clocks_without_timers(clockid, code):
    h = host()
    with pytest.raises(OSError) as e:
        h.root.timer_create(clockid)
    assert e.value.errno == code
    with pytest.raises(OSError) as e:
        h.root.clock_nanosleep(clockid, MS)
    assert e.value.errno == code


def test_settime_validates_values_and_changes_nothing_on_error():
    t = host().root.timer_create(CLOCK_MONOTONIC)
    t.settime(5 * MS)
    for bad in ((-1, 0), (MS, -1)):
        with pytest.raises(OSError) as e:
            t.settime(*bad)
        assert e.value.errno == errno.EINVAL
    with pytest.raises(TypeError):
        t.settime(1.5)
    assert t.gettime() == (5 * MS, 0)


def test_settime_returns_the_old_setting_and_zero_disarms():
    h = host()
    t = h.root.timer_create(CLOCK_MONOTONIC)
    assert t.settime(10 * MS, 2 * MS) == (0, 0)
    h.run_for(3 * MS)
    old_remaining, old_interval = t.settime(0)
    assert abs(old_remaining - 7 * MS) <= 1 and old_interval == 2 * MS
    assert t.gettime() == (0, 0)
    h.run_for(20 * MS)
    assert t.fires == 0


def test_delete_then_any_call_is_einval():
    t = host().root.timer_create(CLOCK_MONOTONIC)
    t.settime(MS)
    t.delete()
    for call in (t.gettime, t.delete, lambda: t.settime(MS)):
        with pytest.raises(OSError) as e:
            call()
        assert e.value.errno == errno.EINVAL


def test_one_shot_fires_once_then_reports_disarmed():
    h = host()
    got = []
    t = h.root.timer_create(CLOCK_REALTIME, lambda tm, o: got.append((tm, o)))
    t.settime(MS)
    h.run_for(10 * MS)
    assert got == [(t, 0)] and t.gettime() == (0, 0) and not t.armed


def test_tasks_have_timers_too():
    h = host()
    ns = h.create_namespace("a")
    task = ns.spawn()
    t = task.timer_create(CLOCK_MONOTONIC)
    t.settime(MS)
    s = task.clock_nanosleep(CLOCK_MONOTONIC, 2 * MS)
    fd = task.timerfd_create(CLOCK_MONOTONIC)
    fd.settime(3 * MS)
    h.run_for(5 * MS)
    assert t.fires == 1 and s.done and fd.read() == 1
    assert h.stats.per_namespace["a"].expiries == 3


def test_ktime_helpers_saturate():
    assert timespec_to_ktime(KTIME_SEC_MAX * NSEC) == KTIME_MAX
    assert ktime_add_safe(KTIME_MAX - 5, 10) == KTIME_SEC_MAX * NSEC
    assert ktime_add_safe(5, 10) == 15


def test_a_timer_at_ktime_max_never_fires():
    h = host()
    t = h.root.timer_create(CLOCK_MONOTONIC)
    t.settime(KTIME_SEC_MAX * NSEC + 5)  # relative: now + KTIME_MAX saturates
    h.run_for(NSEC)
    assert t.fires == 0 and t.gettime()[0] > 9 * 10**18


# -- POSIX clock rules ----------------------------------------------------------------------


def test_relative_realtime_ignores_settime_absolute_follows_it():
    h = host()
    a = h.create_namespace("a")
    rel = a.timer_create(CLOCK_REALTIME)
    abs_ = a.timer_create(CLOCK_REALTIME)
    rel.settime(10 * NSEC)
    abs_.settime(a.clock_gettime_ns(CLOCK_REALTIME) + 10 * NSEC, absolute=True)
    a.clock_settime_ns(CLOCK_REALTIME, a.clock_gettime_ns(CLOCK_REALTIME) + 5 * NSEC)
    assert rel.gettime()[0] == 10 * NSEC
    assert abs_.gettime()[0] == 5 * NSEC
    h.run_for(5 * NSEC + 10 * US)
    assert abs_.fires == 1 and rel.fires == 0
    h.run_for(5 * NSEC)
    assert rel.fires == 1


def test_setting_forward_past_expiry_fires_at_once_back_fires_later():
    h = host()
    a = h.create_namespace("a")
    when = []
    t = a.timer_create(CLOCK_REALTIME, lambda tm, o: when.append(h.true_ns))
    real = a.clock_gettime_ns(CLOCK_REALTIME)
    t.settime(real + NSEC, absolute=True)
    a.clock_settime_ns(CLOCK_REALTIME, real + 2 * NSEC)
    h.run_for(MS)
    assert when == [h.clockevent.cycles_to_ns(h.clockevent.ns_to_cycles(1000))]
    assert h.stats.per_namespace["a"].stepped_fires == 1
    t.settime(a.clock_gettime_ns(CLOCK_REALTIME) + NSEC, absolute=True)
    a.clock_settime_ns(CLOCK_REALTIME, a.clock_gettime_ns(CLOCK_REALTIME) - 3 * NSEC)
    h.run_for(3 * NSEC)
    assert len(when) == 1
    h.run_for(NSEC + MS)
    assert len(when) == 2 and h.stats.late_max_ns < 2 * US


def test_relative_tai_follows_clock_settings_as_in_linux():
    # __hrtimer_init switches only REALTIME+REL to MONOTONIC; a relative TAI timer stays on
    # the TAI base, whose offset moves when the clock is set.
    h = host()
    t = h.root.timer_create(CLOCK_TAI)
    t.settime(10 * NSEC)
    h.root.clock_settime_ns(CLOCK_REALTIME, h.root.clock_gettime_ns(CLOCK_REALTIME) + 4 * NSEC)
    assert t.gettime()[0] == 6 * NSEC


def test_setoffset_and_tai_change_rekey_wall_timers():
    h = host()
    a = h.create_namespace("a")
    r = a.timer_create(CLOCK_REALTIME)
    tai = a.timer_create(CLOCK_TAI)
    m = a.timer_create(CLOCK_MONOTONIC)
    r.settime(a.clock_gettime_ns(CLOCK_REALTIME) + 10 * NSEC, absolute=True)
    tai.settime(a.clock_gettime_ns(CLOCK_TAI) + 10 * NSEC, absolute=True)
    m.settime(a.clock_gettime_ns(CLOCK_MONOTONIC) + 10 * NSEC, absolute=True)
    a.adjtimex(Timex(modes=ADJ_SETOFFSET | ADJ_NANO, time=(2, 0)))
    assert [x.gettime()[0] for x in (r, tai, m)] == [8 * NSEC, 8 * NSEC, 10 * NSEC]
    assert h.stats.per_namespace["a"].rekeys == 2


def test_periodic_overrun_counts_missed_periods_and_clamps_to_int_max():
    h = host()
    seen = []
    t = h.root.timer_create(CLOCK_REALTIME, lambda tm, o: seen.append(o))
    real = h.root.clock_gettime_ns(CLOCK_REALTIME)
    t.settime(real + MS, MS, absolute=True)
    h.root.clock_settime_ns(CLOCK_REALTIME, real + 10 * MS + MS // 2)
    h.run_for(10 * US)
    assert seen == [9] and t.overrun == 9  # expiries at 1..10 ms all passed at once
    t.settime(real + 2 * NSEC, 1, absolute=True)
    h.root.clock_settime_ns(CLOCK_REALTIME, real + 2 * NSEC + 3 * NSEC)
    h.run_for(10 * US)
    assert max(seen) == INT_MAX  # 3e9 periods of 1 ns missed at once
    assert seen[-1] == 999  # then one interrupt per min_delta (1 µs), 999 missed each time


def test_nanosleep_relative_interrupt_reports_remaining():
    h = host()
    s = h.root.clock_nanosleep(CLOCK_MONOTONIC, NSEC // 2)
    h.run_for(NSEC // 4)
    assert abs(s.interrupt() - NSEC // 4) < 100  # the 3 GHz mult runs 0.06 ppm slow
    h.run_for(NSEC)
    assert not s.done
    a = h.root.clock_nanosleep(CLOCK_REALTIME, h.root.clock_gettime_ns(CLOCK_REALTIME) + NSEC,
                               absolute=True)
    assert a.interrupt() is None


@pytest.mark.parametrize("clockid", CLOCKS)
@pytest.mark.parametrize("absolute", [False, True])
def test_nanosleep_never_wakes_before_its_target(clockid, absolute):
    # selftests/timers/nanosleep.c: 10 ns × 100^k up to 1 s, absolute and relative.
    h = host()
    ns = h.create_namespace("a")
    ns.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=-300 << 16))
    for k in range(5):
        length = 10 * 100**k
        start = ns.clock_gettime_ns(clockid)
        target = start + length
        s = ns.clock_nanosleep(clockid, target if absolute else length, absolute=absolute)
        while not s.done:
            h.run_for(max(length // 4, 1))
        assert ns.clock_gettime_ns(clockid) >= target
        assert s.woke_ns >= target


# -- timens (offsets model) -------------------------------------------------------------------


@pytest.mark.parametrize("clockid", [CLOCK_MONOTONIC, CLOCK_BOOTTIME])
def test_timens_timer_selftest_shapes(clockid):
    # selftests/timens/timer.c: MONOTONIC +70 days, BOOTTIME +9 days, a relative and an
    # absolute (namespace now + 3600 s) timer report 3600 s remaining.
    h = host()
    c = h.create_namespace("c", model="offsets")
    c.timens_offsets_write("1 6048000 0\n7 777600 0")
    task = c.spawn()
    rel = task.timer_create(clockid)
    rel.settime(3600 * NSEC)
    absolute = task.timer_create(clockid)
    absolute.settime(task.clock_gettime_ns(clockid) + 3600 * NSEC, absolute=True)
    assert rel.gettime() == (3600 * NSEC, 0)
    assert absolute.gettime() == (3600 * NSEC, 0)
    h.run_for(3600 * NSEC + MS)
    assert rel.fires == absolute.fires == 1


def test_timens_nanosleep_selftest_shape():
    h = host()
    c = h.create_namespace("c", model="offsets")
    c.set_offsets(monotonic_ns=7 * 86_400 * NSEC, boottime_ns=9 * 86_400 * NSEC)
    for clockid in (CLOCK_MONOTONIC, CLOCK_BOOTTIME):
        for absolute in (False, True):
            value = 3600 * NSEC + (c.clock_gettime_ns(clockid) if absolute else 0)
            s = c.clock_nanosleep(clockid, value, absolute=absolute)
            h.run_for(10 * NSEC)
            rem = s.entry.expires - h.root.read_clock_at(clockid, h.cycles_now())
            assert 3300 * NSEC <= rem <= 3900 * NSEC


def test_timens_absolute_before_the_offset_is_already_expired():
    h = host()
    c = h.create_namespace("c", model="offsets")
    c.set_offsets(monotonic_ns=10 * 86_400 * NSEC)
    t = c.timer_create(CLOCK_MONOTONIC)
    t.settime(86_400 * NSEC, absolute=True)  # day 1 < the 10-day offset → host time 0
    assert t.entry.expires == 0
    h.run_for(10 * US)
    assert t.fires == 1


def test_offsets_namespace_realtime_timers_follow_the_host_clock():
    h = host()
    c = h.create_namespace("c", model="offsets")
    t = c.timer_create(CLOCK_REALTIME)
    t.settime(c.clock_gettime_ns(CLOCK_REALTIME) + 10 * NSEC, absolute=True)
    h.root.clock_settime_ns(CLOCK_REALTIME, h.root.clock_gettime_ns(CLOCK_REALTIME) + 4 * NSEC)
    assert t.gettime()[0] == 6 * NSEC
    assert h.stats.per_namespace["c"].rekeys == 1


# -- set-timer-lat ------------------------------------------------------------------------------

LAT_BOUND_NS = 1_000_000 + 1000  # one tick at HZ 1000 plus the min delta


def steered_namespace(h: Host):
    ns = h.create_namespace("steered")
    ns.adjtimex(Timex(modes=ADJ_STATUS, status=STA_PLL))
    ns.adjtimex(Timex(modes=ADJ_FREQUENCY | ADJ_OFFSET, freq=(250 << 16) + 12345, offset=-400))
    return ns


@pytest.mark.parametrize("clockid", CLOCKS)
@pytest.mark.parametrize("absolute", [False, True])
def test_set_timer_lat_periodic(clockid, absolute):
    h = host(clocksource=Clocksource(3_000_000_000, 64, error_ppm=30))
    ns = steered_namespace(h)
    start = ns.clock_gettime_ns(clockid)
    lat = []

    def cb(tm, overrun):
        k = len(lat) + 1
        now = ns.clock_gettime_ns(clockid)
        lat.append(now - start - k * NSEC)

    t = ns.timer_create(clockid, cb)
    t.settime(start + NSEC if absolute else NSEC, NSEC, absolute=absolute)
    h.run_for(5 * NSEC + 2 * MS)
    assert len(lat) == 5
    assert min(lat) >= 0
    assert max(lat) < LAT_BOUND_NS


@pytest.mark.parametrize("clockid", CLOCKS)
@pytest.mark.parametrize("absolute", [False, True])
def test_set_timer_lat_oneshot_fires_exactly_once(clockid, absolute):
    h = host()
    ns = steered_namespace(h)
    start = ns.clock_gettime_ns(clockid)
    lat = []
    t = ns.timer_create(clockid, lambda tm, o: lat.append(ns.clock_gettime_ns(clockid) - start))
    t.settime(start + NSEC if absolute else NSEC, absolute=absolute)
    h.run_for(5 * NSEC)
    assert len(lat) == 1
    assert 0 <= lat[0] - NSEC < LAT_BOUND_NS
