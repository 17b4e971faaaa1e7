"""A lazy namespace takes no per-second interrupt once its NTP state can change nothing.

Two states looked busy but are quiet: a PLL residue whose per-second chunk is 0 (it never
drains, and the kernel's seconds leave it as it is), and TIME_WAIT while STA_INS is still set
(it waits for an adjtimex call).  The lazy twin must still read as the periodic one does.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ntp import ADJ_OFFSET, ADJ_STATUS, ADJ_TIMECONST, STA_INS, STA_PLL, Timex
from ntp.kernel import ntp_offset_chunk
from ntp.timex import ADJ_NANO, STA_NANO, TIME_WAIT
from tk_core import CLOCK_MONOTONIC, CLOCK_REALTIME, Clocksource, Host

NSEC = 1_000_000_000


def twins(error_ppm: int = 5) -> tuple[Host, object, object]:
    host = Host(clocksource=Clocksource(2_000_000_000, 64, error_ppm=error_ppm), hz=10,
                realtime_ns=1_483_228_000 * NSEC)
    return host, host.create_namespace("L"), host.create_namespace("P", update="periodic")


def both(ns: tuple[object, ...], tx: Timex) -> None:
    for n in ns:
        n.adjtimex(Timex(**{f: getattr(tx, f) for f in ("modes", "offset", "status",
                                                        "constant")}))


@settings(max_examples=8, deadline=None)
@given(st.integers(-5_000_000, 5_000_000), st.integers(0, 2))
def test_a_pll_residue_stops_the_hooks_and_the_twins_agree(offset_ns: int, tc: int) -> None:
    host, lazy, periodic = twins()
    both((lazy, periodic), Timex(modes=ADJ_STATUS | ADJ_NANO, status=STA_PLL | STA_NANO))
    both((lazy, periodic), Timex(modes=ADJ_OFFSET | ADJ_TIMECONST | ADJ_NANO,
                                 offset=offset_ns, constant=tc))
    host.run_for(1200 * NSEC)  # long enough for the phase to drain to its residue
    residue = lazy.ntp.time_offset
    assert ntp_offset_chunk(residue, lazy.ntp.time_constant) == 0
    hooks = host.stats.lazy_hooks
    host.run_for(600 * NSEC)
    assert host.stats.lazy_hooks - hooks <= 2  # was one per second, forever
    assert lazy.ntp.time_offset == periodic.ntp.time_offset == residue
    for clock in (CLOCK_REALTIME, CLOCK_MONOTONIC):
        gap = lazy.clock_gettime_ns(clock) - periodic.clock_gettime_ns(clock)
        assert abs(gap) <= host.lazy_error_bound + 2


def test_time_wait_with_sta_ins_still_set_is_quiet() -> None:
    host, lazy, periodic = twins(error_ppm=0)
    midnight = 1_483_228_800
    host.run_until((midnight - 1_483_228_000 - 30) * NSEC)
    both((lazy, periodic), Timex(modes=ADJ_STATUS, status=STA_INS))
    host.run_for(60 * NSEC)  # through the leap: TIME_INS, TIME_OOP, TIME_WAIT
    assert lazy.ntp.time_state == periodic.ntp.time_state == TIME_WAIT
    hooks = host.stats.lazy_hooks
    host.run_for(600 * NSEC)
    assert host.stats.lazy_hooks - hooks <= 1
    both((lazy, periodic), Timex(modes=ADJ_STATUS, status=0))  # the daemon clears it
    host.run_for(3 * NSEC)
    assert lazy.ntp.time_state == periodic.ntp.time_state == 0  # TIME_OK
    assert lazy.clock_gettime_ns(CLOCK_REALTIME) - periodic.clock_gettime_ns(
        CLOCK_REALTIME) in range(-102, 103)
