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

    `cycles` is the extended counter now.  The caller has already accumulated the
    timekeeper up to now (a lazy namespace accumulates before any adjtimex), so the
    NTP state read back is current.
    """
    tk.ntp.validate_timex(tx, has_cap_sys_time)
    clock_was_set = False
    if tx.modes & ADJ_SETOFFSET:
        sec, frac = tx.time
        nsec = frac if tx.modes & ADJ_NANO else frac * 1000
        tk.timekeeping_inject_offset(cycles, sec, nsec)
        clock_was_set = True
    real = tk.mono_ns(cycles) + tk.offs_real
    ts_sec, ts_nsec = divmod(real, NSEC_PER_SEC)
    old_tai = tk.tai_offset
    result, tai = tk.ntp.adjtimex(tx, ts_sec, ts_nsec, tk.xtime_sec, old_tai)
    if tai != old_tai:
        tk.set_tai_offset(tai)
        tk.timekeeping_update(TK_CLOCK_WAS_SET)
        clock_was_set = True
    tk.tk_update_leap_state()
    if tx.modes & (ADJ_FREQUENCY | ADJ_TICK):
        tk.timekeeping_advance(cycles, TK_ADV_FREQ)
    if TRACE.enabled:
        emit("adjtimex_applied", tk=id(tk), modes=tx.modes, result=result, mult=tk.mult)
    return result, clock_was_set
