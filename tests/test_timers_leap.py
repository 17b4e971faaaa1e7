"""leap-a-day with timers: REALTIME hrtimers see the precise leap offset (ntp.c/hrtimer.c leap
insertion a).

Three namespaces run through the same UTC midnight: one inserting a leap second (STA_INS, set
after leap-a-day.c's clear_time_state), one deleting (STA_DEL), one plain.  Each arms an
absolute REALTIME timer for midnight; around the leap, absolute REALTIME sleeps of now + 0.5 s
are started every 50 ms and must never wake before their target (the 2012 hrtimer bug).
"""

from __future__ import annotations

import pytest

from ntp import ADJ_MAXERROR, ADJ_STATUS, STA_DEL, STA_INS, STA_PLL, Timex
from tk_core import CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_TAI, Host

NSEC = 1_000_000_000
MS = 1_000_000
MIDNIGHT = 1_719_792_000  # 2024-07-01 00:00:00 UTC
TIME_OK, TIME_INS, TIME_DEL, TIME_OOP, TIME_WAIT = 0, 1, 2, 3, 4


def clear_time_state(ns: object) -> None:
    """leap-a-day.c: STA_PLL, then maxerror 0, then status 0."""
    ns.adjtimex(Timex(modes=ADJ_STATUS, status=STA_PLL))  # type: ignore[attr-defined]
    ns.adjtimex(Timex(modes=ADJ_MAXERROR, maxerror=0))  # type: ignore[attr-defined]
    ns.adjtimex(Timex(modes=ADJ_STATUS, status=0))  # type: ignore[attr-defined]


class Fired:
    def __init__(self, h: Host, ns: object) -> None:
        self.h, self.ns = h, ns
        self.result: int | None = None
        self.time: tuple[int, int] | None = None
        self.true_ns = 0
        self.mono = 0

    def __call__(self, timer: object, overrun: int) -> None:
        tx = Timex()
        self.result = self.ns.adjtimex(tx)  # type: ignore[attr-defined]
        self.time = (tx.time.tv_sec, tx.time.tv_usec)
        self.true_ns = self.h.true_ns
        self.mono = self.ns.clock_gettime_ns(CLOCK_MONOTONIC)  # type: ignore[attr-defined]


def leap_run(update: str, hz: int):
    start = (MIDNIGHT - 10) * NSEC + 301_700_000
    h = Host(hz=hz, realtime_ns=start, monotonic_ns=86_400 * NSEC, tai_offset=37)
    fired, sleeps, nss = {}, {}, {}
    for name, bit in (("ins", STA_INS), ("del", STA_DEL), ("plain", 0)):
        ns = h.create_namespace(name, update=update)
        clear_time_state(ns)
        if bit:
            tx = Timex(modes=ADJ_STATUS, status=bit)
            ns.adjtimex(tx)
            assert tx.status == bit
        fired[name] = Fired(h, ns)
        ns.timer_create(CLOCK_REALTIME, fired[name]).settime(MIDNIGHT * NSEC, absolute=True)
        sleeps[name] = []
        nss[name] = ns
    h.run_until(7 * NSEC)
    while h.true_ns < 13 * NSEC:
        for name, ns in nss.items():
            target = ns.clock_gettime_ns(CLOCK_REALTIME) + NSEC // 2
            plain: list[int] = []

            def woke(_s: object, ns: object = ns, plain: list[int] = plain) -> None:
                plain.append(ns.clock_gettime_ns(CLOCK_REALTIME))  # type: ignore[attr-defined]

            s = ns.clock_nanosleep(CLOCK_REALTIME, target, True, callback=woke)
            sleeps[name].append((target, s, plain))
        h.run_for(50 * MS)
    h.run_for(NSEC)
    return h, nss, fired, sleeps


@pytest.fixture(
    scope="module",
    params=[("lazy", 1000), ("periodic", 250), ("lazy", 100)],
    ids=["lazy-hz1000", "periodic-hz250", "lazy-hz100"],
)
def leap(request: pytest.FixtureRequest):
    return leap_run(*request.param)


def test_midnight_timer_fires_in_time_wait_at_or_after_midnight(leap):
    _, _, fired, _ = leap
    ins = fired["ins"]
    assert ins.result == TIME_WAIT
    assert ins.time is not None and ins.time[0] >= MIDNIGHT


def test_midnight_timer_fires_one_second_later_in_true_time_than_without_the_leap(leap):
    _, _, fired, _ = leap
    ins, plain = fired["ins"], fired["plain"]
    assert plain.result == TIME_OK
    # one inserted second apart (a namespace second is 60 ns long in true time: the 3 GHz
    # mult runs 0.06 ppm slow)
    assert abs(ins.true_ns - plain.true_ns - NSEC) <= 100
    assert abs(ins.mono - plain.mono - NSEC) <= 1


def test_deleting_namespace_fires_one_second_earlier(leap):
    h, _, fired, _ = leap
    # 23:59:59 is skipped by the first tick whose accumulation reaches it (no precise offset
    # for deletions): accumulation ends on the cycle_interval grid, up to one interval before
    # the tick, so the midnight timer fires up to two ticks after 23:59:59
    dt = fired["plain"].true_ns - fired["del"].true_ns
    assert NSEC - 2 * (NSEC // h.hz) - 100 <= dt <= NSEC + 100
    assert fired["del"].result == TIME_WAIT


@pytest.mark.parametrize("name", ["ins", "del", "plain"])
def test_absolute_realtime_sleeps_around_the_leap_never_wake_early(leap, name):
    _, nss, _, sleeps = leap
    assert len(sleeps[name]) >= 100
    for target, s, plain in sleeps[name]:
        assert s.done
        assert plain[0] >= target  # test_hrtimer_failure: clock_gettime after the sleep
        assert s.woke_ns >= target  # and the timer's own (leap-precise) view of REALTIME
    assert nss[name].timer_stats.expiries >= len(sleeps[name])


def test_realtime_timer_view_uses_the_precise_leap_offset():
    # At MONOTONIC ≥ next_leap_ktime the hrtimer REALTIME offset is offs_real − 1 s even before
    # the tick applies the leap.
    from tk_core.timerbase import hrtimer_now

    start = (MIDNIGHT - 2) * NSEC + 3 * MS  # midnight falls 7 ms into a 10 ms tick
    h = Host(hz=100, realtime_ns=start)
    ns = h.create_namespace("ins")
    clear_time_state(ns)
    ns.adjtimex(Timex(modes=ADJ_STATUS, status=STA_INS))
    h.run_until(2 * NSEC - 5 * MS)
    ns.accumulate()
    assert ns.tk.next_leap_ktime != (1 << 63) - 1
    h.run_until(2 * NSEC - 2 * MS)  # 1 ms past midnight: the tick has not run the leap yet
    cycles = h.cycles_now()
    plain = ns.read_clock_at(CLOCK_REALTIME, cycles)
    view = hrtimer_now(ns.tk, CLOCK_REALTIME, cycles)
    assert plain - MIDNIGHT * NSEC in range(0, 2 * MS)
    assert view == plain - NSEC
    tai = ns.read_clock_at(CLOCK_TAI, cycles)
    assert hrtimer_now(ns.tk, CLOCK_TAI, cycles) == tai  # TAI needs no fix


def test_cancelling_the_leap_rekeys_realtime_timers():
    start = (MIDNIGHT - 5) * NSEC
    h = Host(hz=1000, realtime_ns=start)
    ns = h.create_namespace("ins")
    clear_time_state(ns)
    ns.adjtimex(Timex(modes=ADJ_STATUS, status=STA_INS))
    when = []
    t = ns.timer_create(CLOCK_REALTIME, lambda tm, o: when.append(h.true_ns))
    t.settime((MIDNIGHT + 1) * NSEC, absolute=True)
    h.run_until(2 * NSEC)  # TIME_INS now: the key includes the inserted second
    assert ns.adjtimex(Timex()) == TIME_INS
    ns.adjtimex(Timex(modes=ADJ_STATUS, status=0))
    h.run_until(8 * NSEC)
    assert len(when) == 1
    assert abs(when[0] - 6 * NSEC) < 2 * MS  # no inserted second any more
    assert h.stats.per_namespace["ins"].late_max_ns <= 1000
