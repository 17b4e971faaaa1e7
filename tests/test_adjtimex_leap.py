"""Leap seconds through the timekeeper, per namespace (leap-a-day without timers, ntp.c leap-second
state machine).

Three namespaces run through the same UTC midnight: one with STA_INS, one with STA_DEL and a
plain one.  All three start as exact copies at frequency 0, so until a leap step their clocks
read identically; every check compares a leaping namespace with the plain one sampled at the
same instant, which makes the expectations exact:

* insertion: REALTIME reads 23:59:59 twice (the second time in TIME_OOP); before stepping back
  it shows 00:00:00.00x for a moment (until the tick that runs ``second_overflow``), while
  adjtimex already reports TIME_OOP with time 23:59:59.x and tai + 1; TIME_WAIT from the second
  midnight; MONOTONIC and TAI never jump.
* deletion: 23:59:59 is skipped (it shows for at most the same tick-long moment), tai − 1.

``update="periodic"`` runs ``second_overflow`` on the first host tick after the accumulation
boundary that crosses the second; ``update="lazy"`` runs it on that same tick (its per-second
hook is queued on the first tick boundary at or after it), so the 00:00:00.00x glimpse is at
most two ticks long (one tick plus the tick phase).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pytest

from ntp import ADJ_FREQUENCY, ADJ_MAXERROR, ADJ_STATUS, STA_DEL, STA_INS, STA_PLL, Timex
from tk_core import CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_TAI, Host

NSEC = 1_000_000_000
MIDNIGHT = 1_719_792_000  # 2024-07-01 00:00:00 UTC
assert MIDNIGHT % 86_400 == 0
TAI0 = 37
TIME_OK, TIME_INS, TIME_DEL, TIME_OOP, TIME_WAIT = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Sample:
    real: int
    mono: int
    tai: int
    state: int
    time: tuple[int, int]  # adjtimex time (sec, µs)
    tx_tai: int


def snap(ns: object) -> Sample:
    tx = Timex()
    state = ns.adjtimex(tx)  # type: ignore[attr-defined]
    get = ns.clock_gettime_ns  # type: ignore[attr-defined]
    return Sample(
        get(CLOCK_REALTIME), get(CLOCK_MONOTONIC), get(CLOCK_TAI), state, tuple(tx.time), tx.tai
    )


def clear_time_state(ns: object) -> None:
    """leap-a-day.c: STA_PLL, then maxerror 0 (no UNSYNC for 32000 s), then status 0."""
    ns.adjtimex(Timex(modes=ADJ_STATUS, status=STA_PLL))  # type: ignore[attr-defined]
    ns.adjtimex(Timex(modes=ADJ_MAXERROR, maxerror=0))  # type: ignore[attr-defined]
    ns.adjtimex(Timex(modes=ADJ_STATUS, status=0))  # type: ignore[attr-defined]


def run_through_midnight(update: str, hz: int = 250) -> tuple[Host, list[dict[str, Sample]]]:
    # 0.3017 s: midnight falls 1.7 ms into one of the namespaces' 4 ms accumulation ticks.
    start = (MIDNIGHT - 10) * NSEC + 301_700_000
    h = Host(hz=hz, realtime_ns=start, monotonic_ns=86_400 * NSEC, tai_offset=TAI0)
    names = {"ins": STA_INS, "plain": 0, "del": STA_DEL}
    nss = {}
    for name, bit in names.items():
        ns = h.create_namespace(name, update=update)
        clear_time_state(ns)
        if bit:
            tx = Timex(modes=ADJ_STATUS, status=bit)
            ns.adjtimex(tx)
            assert tx.status == bit  # leap-a-day: the status read back is exactly the bit
        nss[name] = ns
    edges = [(MIDNIGHT + d) * NSEC for d in (-1, 0, 1)]
    rows = []
    t = 0
    while t < 13_500_000_000:
        u = start + t
        near = min(abs(u - e) for e in edges) < 30_000_000
        t += 100_000 if near else 5_000_000
        h.run_until(t)
        rows.append({name: snap(ns) for name, ns in nss.items()})
        rows[-1]["root"] = Sample(h.root.clock_gettime_ns(CLOCK_REALTIME), 0, 0, 0, (0, 0), 0)
    return h, rows


def dedupe(seq: list[int]) -> list[int]:
    out: list[int] = []
    for x in seq:
        if not out or out[-1] != x:
            out.append(x)
    return out


def us_time(real_ns: int) -> tuple[int, int]:
    return real_ns // NSEC, real_ns % NSEC // 1000


@cache
def _through_midnight(update: str) -> tuple[Host, list[dict[str, Sample]]]:
    return run_through_midnight(update)


@pytest.fixture(scope="module", params=["periodic", "lazy"])
def midnight(request: pytest.FixtureRequest) -> tuple[str, Host, list[dict[str, Sample]]]:
    h, rows = _through_midnight(request.param)
    return request.param, h, rows


def _leap_view(rows: list[dict[str, Sample]]) -> list[tuple[int, int, int, int]]:
    """Per sample: each leaping namespace's state and its REALTIME step against the plain one."""
    return [
        (r[name].state, r[name].real - r["plain"].real, r[name].tx_tai, r[name].time[0])
        for r in rows
        for name in ("ins", "del")
    ]


def test_lazy_leaps_on_the_tick_a_periodic_namespace_leaps_on() -> None:
    """Once a divergence: every adjtimex readback caught a lazy namespace up to the instant of
    the read, so it applied the leap at the accumulation boundary, up to a tick before the
    periodic namespace's tick did (a 00:00:00.00x glimpse shorter by the tick phase).  It now
    catches up only to the last tick, and both step at the same sample."""
    assert _leap_view(_through_midnight("lazy")[1]) == _leap_view(_through_midnight("periodic")[1])


def test_insertion_repeats_235959_with_the_kernel_state_sequence(midnight: tuple) -> None:
    _, h, rows = midnight
    tick = NSEC // h.hz
    m = MIDNIGHT * NSEC
    assert dedupe([r["ins"].state for r in rows]) == [TIME_OK, TIME_INS, TIME_OOP, TIME_WAIT]
    first_ins = next(r["plain"].real for r in rows if r["ins"].state == TIME_INS)
    assert first_ins < (MIDNIGHT - 8) * NSEC  # TIME_OK → TIME_INS at the next second boundary
    stepped = False
    glimpse = []
    for r in rows:
        a, u = r["ins"], r["plain"].real
        # MONOTONIC and TAI never jump: they stay equal to the plain twin's.
        assert (a.mono, a.tai) == (r["plain"].mono, r["plain"].tai)
        if a.real == u - NSEC:
            stepped = True
        else:
            assert a.real == u and not stepped  # one step back, never undone
        if u >= m and not stepped:
            glimpse.append(u)
            assert a.real // NSEC == MIDNIGHT  # REALTIME shows 00:00:00.00x ...
        # ... while adjtimex reports the leap from its exact boundary (__do_adjtimex read fix-up).
        expect_state = TIME_INS if u < m else TIME_OOP if u < m + NSEC else TIME_WAIT
        if u >= (MIDNIGHT - 8) * NSEC:
            assert a.state == expect_state, (u - m, a)
        utc = u - NSEC if u >= m else u
        assert a.time == us_time(utc)  # adjtimex time repeats 23:59:59, never shows 00:00:00
        assert a.tx_tai == (TAI0 + 1 if u >= m else TAI0)
        assert a.tai - a.real == (TAI0 + 1 if stepped else TAI0) * NSEC
    assert stepped
    # The glimpse: at least one sample, shorter than two ticks (one plus the tick phase).
    assert glimpse and glimpse[0] - m < 200_000
    assert glimpse[-1] - m < 2 * tick
    # 23:59:59.x was read twice: before midnight and again after the step.
    repeat = [r["plain"].real for r in rows if r["ins"].real // NSEC == MIDNIGHT - 1]
    assert min(repeat) < m - NSEC // 2 and max(repeat) > m + NSEC // 2


def test_deletion_skips_235959(midnight: tuple) -> None:
    _, h, rows = midnight
    tick = NSEC // h.hz
    leap = (MIDNIGHT - 1) * NSEC  # 23:59:59, the second that is deleted
    assert dedupe([r["del"].state for r in rows]) == [TIME_OK, TIME_DEL, TIME_WAIT]
    stepped = False
    shown = []
    for r in rows:
        c, u = r["del"], r["plain"].real
        assert (c.mono, c.tai) == (r["plain"].mono, r["plain"].tai)
        if c.real == u + NSEC:
            stepped = True
        else:
            assert c.real == u and not stepped
        if c.real // NSEC == MIDNIGHT - 1:
            shown.append(u)
        if u >= (MIDNIGHT - 8) * NSEC:
            assert c.state == (TIME_DEL if u < leap else TIME_WAIT), (u - leap, c)
        assert c.time == us_time(u + NSEC if u >= leap else u)
        assert c.tx_tai == (TAI0 - 1 if u >= leap else TAI0)
        assert c.tai - c.real == (TAI0 - 1 if stepped else TAI0) * NSEC
    assert stepped
    # 23:59:59 shows only until the tick that runs second_overflow.
    assert shown and shown[0] >= leap
    assert shown[-1] - leap < 2 * tick


def test_the_plain_namespace_and_the_host_are_unaffected(midnight: tuple) -> None:
    _, _, rows = midnight
    prev = None
    for r in rows:
        p = r["plain"]
        assert p.state == TIME_OK and p.tx_tai == TAI0
        assert p.tai - p.real == TAI0 * NSEC
        assert p.real == r["root"].real
        if prev is not None:
            assert p.real > prev.real and p.mono > prev.mono
        prev = p


def test_wait_clears_to_ok_once_the_bit_is_cleared() -> None:
    h, rows = run_through_midnight("lazy")
    ins = h.namespaces["ins"]
    assert rows[-1]["ins"].state == TIME_WAIT
    h.run_for(3 * NSEC)
    assert ins.adjtimex(Timex()) == TIME_WAIT  # stays while STA_INS is set
    ins.adjtimex(Timex(modes=ADJ_STATUS, status=0))
    assert ins.adjtimex(Timex()) == TIME_WAIT  # the state machine moves at the next second
    h.run_for(NSEC + NSEC // 10)
    assert ins.adjtimex(Timex()) == TIME_OK


def test_cancelling_sta_ins_before_midnight_cancels_the_leap() -> None:
    start = (MIDNIGHT - 5) * NSEC + 300_000_000
    h = Host(hz=250, realtime_ns=start, tai_offset=TAI0)
    a = h.create_namespace("a", update="periodic")
    clear_time_state(a)
    a.adjtimex(Timex(modes=ADJ_STATUS, status=STA_INS))
    h.run_for(2 * NSEC)
    assert a.adjtimex(Timex()) == TIME_INS
    a.adjtimex(Timex(modes=ADJ_STATUS, status=0))
    h.run_for(NSEC)
    assert a.adjtimex(Timex()) == TIME_OK
    h.run_for(4 * NSEC)
    assert a.clock_gettime_ns(CLOCK_REALTIME) == h.root.clock_gettime_ns(CLOCK_REALTIME)
    tx = Timex()
    a.adjtimex(tx)
    assert tx.tai == TAI0


def test_leap_in_one_namespace_at_hz_1000_periodic_and_a_dilated_one() -> None:
    """The leap runs on each timekeeper's own seconds, also when they are dilated."""
    start = (MIDNIGHT - 3) * NSEC + 500_000_000
    h = Host(hz=1000, realtime_ns=start, tai_offset=TAI0)
    fast = h.create_namespace("fast", update="periodic")
    slow = h.create_namespace("slow", dilation=2)  # its seconds last two true seconds
    for ns in (fast, slow):
        clear_time_state(ns)
        ns.adjtimex(Timex(modes=ADJ_STATUS, status=STA_INS))
    # At true time t the fast one reads midnight − 2.5 s + t, the slow one midnight − 2.5 s + t/2.
    h.run_until(3_200_000_000)
    assert fast.adjtimex(Timex()) == TIME_OOP
    assert fast.clock_gettime_ns(CLOCK_REALTIME) // NSEC == MIDNIGHT - 1
    assert slow.adjtimex(Timex()) == TIME_INS
    h.run_until(6 * NSEC)
    assert slow.adjtimex(Timex()) == TIME_OOP
    assert slow.clock_gettime_ns(CLOCK_REALTIME) // NSEC == MIDNIGHT - 1
    assert fast.adjtimex(Timex()) == TIME_WAIT
    h.run_until(8 * NSEC)
    assert slow.adjtimex(Timex()) == TIME_WAIT
    tx = Timex()
    slow.adjtimex(tx)
    assert tx.tai == TAI0 + 1


@pytest.mark.parametrize("update", ["periodic", "lazy"])
def test_next_leap_ktime_follows_adjtimex_at_once(update: str) -> None:
    """tk_update_leap_state runs inside the adjtimex call (the hrtimer leap offset uses it)."""
    ktime_max = 2**63 - 1
    h = Host(hz=250, realtime_ns=(MIDNIGHT - 5) * NSEC + NSEC // 2, tai_offset=TAI0)
    a = h.create_namespace("a", update=update)
    clear_time_state(a)
    a.adjtimex(Timex(modes=ADJ_STATUS, status=STA_INS))
    assert a.timekeeper.next_leap_ktime == ktime_max  # TIME_OK until the next second
    h.run_for(NSEC)
    if update == "lazy":
        a.accumulate()
    assert a.adjtimex(Timex()) == TIME_INS
    offset = a.clock_gettime_ns(CLOCK_REALTIME) - a.clock_gettime_ns(CLOCK_MONOTONIC)
    assert a.timekeeper.next_leap_ktime == MIDNIGHT * NSEC - offset  # midnight, in MONOTONIC
    a.adjtimex(Timex(modes=ADJ_STATUS, status=0))
    assert a.timekeeper.next_leap_ktime == ktime_max  # no time has passed


def test_settime_while_inserting_drops_the_leap() -> None:
    """ntp_clear (TK_CLEAR_NTP) forgets ntp_next_leap_sec but leaves TIME_INS and STA_INS: the
    insertion is silently dropped until user space clears and sets STA_INS again (ntp_clear)."""
    h = Host(hz=250, realtime_ns=(MIDNIGHT - 5) * NSEC + NSEC // 2, tai_offset=TAI0)
    a = h.create_namespace("a", update="periodic")
    clear_time_state(a)
    a.adjtimex(Timex(modes=ADJ_STATUS, status=STA_INS))
    h.run_for(NSEC)
    assert a.adjtimex(Timex()) == TIME_INS
    a.clock_settime_ns(CLOCK_REALTIME, a.clock_gettime_ns(CLOCK_REALTIME))  # "set" to now
    assert a.ntp.time_state == TIME_INS
    assert a.adjtimex(Timex()) == 5  # TIME_ERROR: STA_UNSYNC is set again
    gap = a.clock_gettime_ns(CLOCK_REALTIME) - h.root.clock_gettime_ns(CLOCK_REALTIME)
    h.run_for(5 * NSEC)  # through midnight
    drift = a.clock_gettime_ns(CLOCK_REALTIME) - h.root.clock_gettime_ns(CLOCK_REALTIME) - gap
    assert abs(drift) <= 2  # ns of dither: no 1 s step
    assert a.ntp.time_state == TIME_INS
    tx = Timex()
    a.adjtimex(tx)
    assert tx.tai == TAI0


def test_a_leap_applied_inside_adjtimex_runs_clock_was_set() -> None:
    """ADJ_FREQUENCY's TK_ADV_FREQ advance accumulates the ticks a periodic namespace has not
    run yet; if that crosses midnight the leap is applied inside the call, and, as in the
    kernel's do_adjtimex, clock_was_set follows (REALTIME timers must be re-keyed)."""
    h = Host(hz=250, realtime_ns=(MIDNIGHT - 3) * NSEC + 301_700_000, tai_offset=TAI0)
    a = h.create_namespace("a", update="periodic")
    clear_time_state(a)
    a.adjtimex(Timex(modes=ADJ_STATUS, status=STA_INS))
    told: list[int] = []
    a.clock_was_set_listeners.append(lambda ns: told.append(ns.clock_gettime_ns(CLOCK_REALTIME)))
    while a.clock_gettime_ns(CLOCK_REALTIME) < MIDNIGHT * NSEC + 3_000_000:
        h.run_for(100_000)
    assert a.clock_gettime_ns(CLOCK_REALTIME) // NSEC == MIDNIGHT  # the glimpse
    assert told == []
    tx = Timex(modes=ADJ_FREQUENCY, freq=0)
    assert a.adjtimex(tx) == TIME_OOP
    assert tx.time[0] == MIDNIGHT - 1 and tx.tai == TAI0 + 1  # read before the advance
    assert a.ntp.time_state == TIME_OOP  # second_overflow ran inside the call
    assert len(told) == 1 and told[0] // NSEC == MIDNIGHT - 1
