"""The adjtimex / clock_adjtime entry path of one timekeeper (`do_adjtimex`, timekeeping.c).

NTP's own processing lives in `ntp.kernel.NtpState`; this module is the timekeeping side that
wraps it: validation first (so a rejected call changes nothing), ADJ_SETOFFSET injected
before the NTP call, the TAI offset handed back to the timekeeper, the leap state refreshed,
and after ADJ_FREQUENCY or ADJ_TICK an immediate TK_ADV_FREQ advance so mult follows the new
frequency at once.
"""

from __future__ import annotations

from ntp.timex import (
    ADJ_FREQUENCY,
    ADJ_NANO,
    ADJ_SETOFFSET,
    ADJ_TICK,
    Timex,
)
from ntp.trace import TRACE, emit

from .timekeeper import NSEC_PER_SEC, TK_ADV_FREQ, TK_CLOCK_WAS_SET, Timekeeper


def do_adjtimex(tk: Timekeeper, cycles: int, tx: Timex, has_cap_sys_time: bool) -> tuple[int, bool]:
    """`do_adjtimex`: returns (clock state, clock_was_set) and fills `tx` in place.

    clock_was_set is True when the call stepped the clock: ADJ_SETOFFSET, a TAI offset
    change, or a leap second applied by the TK_ADV_FREQ advance.  `cycles` is the extended
    counter now.  A lazy namespace has accumulated up to now before the call; a periodic one
    is where its last tick left it, as a kernel's timekeeper is between ticks.
    """
    result, stepped, tai_or_leap = do_adjtimex_sets(tk, cycles, tx, has_cap_sys_time)
    return result, stepped or tai_or_leap


def do_adjtimex_sets(
    tk: Timekeeper, cycles: int, tx: Timex, has_cap_sys_time: bool
) -> tuple[int, bool, bool]:
    """`do_adjtimex` as `do_adjtimex`, telling apart why the clock was set.

    Returns (clock state, stepped, tai_or_leap): `stepped` for a successful ADJ_SETOFFSET,
    `tai_or_leap` for a TAI offset change or a leap second applied by the TK_ADV_FREQ advance.
    The two reach `clock_was_set` by different calls on kernels 5.15–6.10: the step through
    `timekeeping_inject_offset` (mask CLOCK_SET_WALL), the others through do_adjtimex's own
    call, whose mask there selected no hrtimer base (see
    `ntp.version.KernelBehaviour.adjtimex_clock_was_set_wall`).
    """
    tk.ntp.validate_timex(tx, has_cap_sys_time)
    stepped = tai_or_leap = False
    if tx.modes & ADJ_SETOFFSET:
        sec, frac = tx.time
        nsec = frac if tx.modes & ADJ_NANO else frac * 1000
        tk.timekeeping_inject_offset(cycles, sec, nsec)
        stepped = True
    real = tk.mono_ns(cycles) + tk.offs_real
    ts_sec, ts_nsec = divmod(real, NSEC_PER_SEC)
    old_tai = tk.tai_offset
    result, tai = tk.ntp.adjtimex(tx, ts_sec, ts_nsec, tk.xtime_sec, old_tai)
    if tai != old_tai:
        tk.set_tai_offset(tai)
        tk.timekeeping_update(TK_CLOCK_WAS_SET)
        tai_or_leap = True
    tk.tk_update_leap_state()
    # The TK_ADV_FREQ advance accumulates any whole ticks still pending (a periodic
    # namespace between an accumulation boundary and its tick), so it can run
    # second_overflow and apply a leap second; the kernel then calls clock_was_set too.
    if tx.modes & (ADJ_FREQUENCY | ADJ_TICK) and tk.timekeeping_advance(cycles, TK_ADV_FREQ):
        tai_or_leap = True
    if TRACE.enabled:
        emit("adjtimex_applied", tk=id(tk), modes=tx.modes, result=result, mult=tk.mult)
    return result, stepped, tai_or_leap
