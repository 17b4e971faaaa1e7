"""When the host's timekeeper accumulates: the kernel's tick_do_update_jiffies64 rule.

Linux accumulates (`update_wall_time`) only from `tick_do_update_jiffies64`: on the tick, and
after NOHZ idle on the interrupt entry, and only once root MONOTONIC is a whole TICK_NSEC past
`last_jiffies_update` (which then moves by whole ticks).  Any other hrtimer interrupt reads the
clocks without accumulating, so `second_overflow` and the leap state machine run on tick
boundaries.

The hosts here start with MONOTONIC 0.3 ms past a tick boundary, so every timekeeper's
accumulation grid (cycle_last + k × cycle_interval, from where it was set up) lies 0.3 ms
after the tick grid: REALTIME x.000 s is a grid point, the ticks fall at REALTIME x.0007 s.
"""

from __future__ import annotations

import pytest

from ntp import ADJ_MAXERROR, ADJ_STATUS, STA_DEL, STA_INS, STA_PLL, Timex
from tk_core import CLOCK_MONOTONIC, CLOCK_REALTIME, Host
from tk_core.checkpoint._format import _envelope

NSEC = 1_000_000_000
MS = 1_000_000
MIDNIGHT = 1_719_792_000  # 2024-07-01 00:00:00 UTC
MONO0 = 86_400 * NSEC + 300_000  # 0.3 ms past a tick boundary


def leap_host(bit: int, nohz: bool) -> Host:
    h = Host(hz=1000, realtime_ns=(MIDNIGHT - 3) * NSEC, monotonic_ns=MONO0, nohz=nohz,
             tai_offset=37)
    ns = h.root
    ns.adjtimex(Timex(modes=ADJ_STATUS, status=STA_PLL))
    ns.adjtimex(Timex(modes=ADJ_MAXERROR, maxerror=0))
    ns.adjtimex(Timex(modes=ADJ_STATUS, status=0))
    ns.adjtimex(Timex(modes=ADJ_STATUS, status=bit))
    return h


def one_shot_read(h: Host, at_real: int) -> int:
    """Arm an absolute REALTIME timer at `at_real`; REALTIME as its callback reads it."""
    seen: list[int] = []
    t = h.root.timer_create(
        CLOCK_REALTIME, lambda _t, _o: seen.append(h.root.clock_gettime_ns(CLOCK_REALTIME))
    )
    t.settime(at_real, absolute=True)
    h.run_until(5 * NSEC)
    assert len(seen) == 1
    return seen[0]


@pytest.mark.parametrize("late", [0, 1_200_000])
@pytest.mark.parametrize("nohz", [False, True])
def test_deleted_leap_timer_at_235959_sees_it_not_yet_applied(nohz: bool, late: int) -> None:
    """STA_DEL: the second 23:59:59 is skipped by `second_overflow` in the accumulation that
    carries xtime past 23:59:59.000.  A kernel runs that accumulation only in the first tick at
    or after it, 23:59:59.0007 here, so a timer interrupt at 23:59:59.000 reads 23:59:59.000
    (the leap not yet applied) — with the tick running as after NOHZ idle, since no tick falls
    at that instant.  With this mult (it rounds short) the accumulation chunk that carries
    xtime past the second ends one interval later, at 23:59:59.001, and the first tick after
    it is at 23:59:59.0017: a timer at 23:59:59.0012 (past the chunk, before the tick) still
    reads 23:59:59 with the tick running — an engine accumulating on every interrupt would read
    00:00:00.0012.  After NOHZ idle (the last interrupt was the 23:59:58.x one, more than a
    jiffy ago) the interrupt entry runs tick_do_update_jiffies64 itself, so the leap is applied
    before the timer runs and it reads 00:00:00.0012, as a kernel's would."""
    h = leap_host(STA_DEL, nohz)
    read = one_shot_read(h, (MIDNIGHT - 1) * NSEC + late)
    applied = nohz and late > 0
    assert read // NSEC == (MIDNIGHT if applied else MIDNIGHT - 1)
    assert h.root.clock_gettime_ns(CLOCK_REALTIME) > (MIDNIGHT + 1) * NSEC


@pytest.mark.parametrize("nohz", [False, True])
def test_inserted_leap_timer_at_midnight_reads_000000_before_the_tick(nohz: bool) -> None:
    """STA_INS: `second_overflow` sets xtime back to 23:59:59 in the accumulation carrying it
    past 00:00:00.000; a kernel runs it in the tick at 00:00:00.0007.  The REALTIME hrtimer
    base already subtracts the leap from next_leap_ktime on (so the timer fires a true second
    later, at the second 00:00:00.000), and its callback reads 00:00:00.000 after the leap."""
    h = leap_host(STA_INS, nohz)
    read = one_shot_read(h, MIDNIGHT * NSEC)
    assert read // MS == MIDNIGHT * 1000, nohz


@pytest.mark.parametrize("nohz", [False, True])
def test_inserted_leap_read_at_midnight_before_the_tick(nohz: bool) -> None:
    """A MONOTONIC timer at the instant REALTIME first reads 00:00:00.000 (a grid point, no
    tick): the kernel has not yet run second_overflow, so REALTIME reads 00:00:00.000, not the
    repeated 23:59:59.000 the tick at 00:00:00.0007 starts."""
    h = leap_host(STA_INS, nohz)
    mono_at = MIDNIGHT * NSEC - h.root.tk.offs_real
    seen: list[int] = []
    t = h.root.timer_create(
        CLOCK_MONOTONIC, lambda _t, _o: seen.append(h.root.clock_gettime_ns(CLOCK_REALTIME))
    )
    t.settime(mono_at, absolute=True)
    h.run_until(5 * NSEC)
    assert seen and seen[0] // MS == MIDNIGHT * 1000, nohz


@pytest.mark.parametrize("nohz", [False, True])
def test_periodic_realtime_timer_across_deleted_leap_overruns(nohz: bool) -> None:
    """A 250 ms REALTIME timer from 23:59:58.0012 across a deleted leap.  At 23:59:59.0012 no
    tick has accumulated the chunk crossing the second (it ends at .001, the next tick is at
    .0017), so with the tick running it fires with overrun 0 reading 23:59:59.0012 (after NOHZ
    idle the interrupt entry accumulates first: it fires reading 00:00:00.0012, overrun 4, and
    then on at 00:00:00.2512).  The tick at 23:59:59.0017 skips the second (clock_was_set):
    the 23:59:59.2512 expiry is then already past by 0.75 s — the next fire forwards over
    23:59:59.2512..00:00:00.0012, overrun 3."""
    h = leap_host(STA_DEL, nohz)
    fires: list[tuple[int, int]] = []
    t = h.root.timer_create(
        CLOCK_REALTIME,
        lambda _t, o: fires.append((h.root.clock_gettime_ns(CLOCK_REALTIME) // MS, o)),
    )
    t.settime((MIDNIGHT - 2) * NSEC + 1_200_000, 250 * MS, absolute=True)
    h.run_until(int(3.5 * NSEC))
    base = (MIDNIGHT - 1) * 1000
    at_leap = [f for f in fires if base - 1 <= f[0] <= base + 1300]
    if nohz:
        assert at_leap[0] == (MIDNIGHT * 1000 + 1, 4), fires
        assert at_leap[1] == (MIDNIGHT * 1000 + 251, 0), fires
    else:
        assert at_leap[0] == (base + 1, 0), fires
        assert at_leap[1][1] == 3 and at_leap[1][0] // 1000 == MIDNIGHT, fires


def test_interrupt_between_ticks_does_not_accumulate_and_jiffies_move_by_whole_ticks() -> None:
    """NOHZ idle 5 s, then a MONOTONIC timer 0.1 ms past a tick boundary B: tick_do_update_jiffies64
    sees 5 s of whole ticks, so last_jiffies_update = B and the root accumulates (to its grid
    point B − 0.7 ms).  A second timer at B + 0.5 ms: less than a jiffy since B, no
    accumulation, although a whole cycle_interval has passed since cycle_last."""
    h = Host(hz=1000, monotonic_ns=MONO0)
    b = 86_405 * NSEC
    jiffies0 = h.jiffies
    for at in (b + 100_000, b + 500_000):
        h.root.timer_create(CLOCK_MONOTONIC).settime(at, absolute=True)
    h.run_until(5 * NSEC - 300_000 + 200_000)
    assert h.last_jiffies_update == b
    assert h.jiffies - jiffies0 == 5_000
    last = h.root.tk.cycle_last
    assert abs(h.root.tk.mono_ns(last) - (b - 700_000)) < 1000  # mult rounding: < 1 µs in 5 s
    h.run_until(5 * NSEC - 300_000 + 600_000)
    assert h.stats.interrupts >= 2
    assert h.root.tk.cycle_last == last
    assert h.last_jiffies_update == b


def test_checkpoint_round_trip_keeps_jiffies_and_continues_bit_for_bit() -> None:
    h = leap_host(STA_DEL, True)
    h.root.timer_create(CLOCK_MONOTONIC).settime(MONO0 + 2 * NSEC + 400_000, absolute=True)
    h.run_until(2 * NSEC + 200_000)
    doc = h.checkpoint()
    assert doc["state"]["last_jiffies_update"] == h.last_jiffies_update
    twin = Host.restore(doc)
    assert twin.last_jiffies_update == h.last_jiffies_update
    for host in (h, twin):
        host.run_until(4 * NSEC)
    assert twin.checkpoint() == h.checkpoint()
    state = h.checkpoint()["state"]
    del state["last_jiffies_update"]
    derived = Host.restore(_envelope("host", state))
    tk = derived.root.tk
    assert derived.last_jiffies_update == tk.mono_ns(tk.cycle_last) // MS * MS
