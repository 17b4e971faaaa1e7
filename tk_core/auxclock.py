"""Auxiliary clocks CLOCK_AUX0..7: eight more timekeepers on every timekeeper namespace.

Linux 6.17 added ``CONFIG_POSIX_AUX_CLOCKS`` for PTP and TSN: clock ids 16..23, each with a
complete ``struct timekeeper`` and its own ``ntp_data``, steered only through clock_adjtime.
That is the idea this project is built on, inside one kernel; here every timekeeper namespace
gets its own eight.  What this module reproduces (kernel/time/timekeeping.c of 7.3.4, the
functions named on each method):

* enabling through ``/sys/kernel/time/aux_clocks/<n>/aux_clock_enable`` — file permission
  (EACCES), then CAP_SYS_TIME (EPERM), then ``kstrtobool`` (EINVAL); writing the state a clock
  already has does nothing;
* an enabled clock reads 0 at the instant of enable and counts up at the MONOTONIC_RAW rate of
  its namespace until steered; enable and disable zero the timekeeper but only *clear* the NTP
  state (``ntp_clear``), so the frequency, time constant and most status bits survive;
* a disabled clock: reads, settime and adjtime fail with ENODEV (after their other checks);
  clock_getres answers 1 ns whatever the state;
* clock_settime and ADJ_SETOFFSET move only ``offs_aux``: the internal seconds, at which
  ``second_overflow`` runs, keep the phase they had at enable;
* no leap seconds, no TAI, no PPS, no timers (timer_create and clock_nanosleep: EOPNOTSUPP),
  no clock_was_set, and time namespace offsets never apply.

The per-interval accumulation runs on the namespace's tick: whenever the namespace's core
timekeeper advances, every enabled aux timekeeper advances to the same counter value, as
``update_wall_time`` calls ``tk_aux_advance`` after the core.  An aux clock has its own
``cycle_last``, so its interval grid keeps the phase it had at enable.

In a lazy namespace (not kernel code) an aux call first catches the clock up to the last tick
boundary at or before it, as a kernel's tick would have left it, and the aux clocks' own next
accumulations share the namespace's one queue entry (`TimekeeperNamespace.plan_aux`), which
advances the core only when the core's own plan is due: aux calls never move the core.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from ntp.kernel import NtpState
from ntp.timex import (
    ADJ_FREQUENCY,
    ADJ_NANO,
    ADJ_SETOFFSET,
    ADJ_STATUS,
    ADJ_TAI,
    ADJ_TICK,
    STA_DEL,
    STA_INS,
    STA_PPSFREQ,
    STA_PPSTIME,
    Timex,
)
from ntp.trace import TRACE, emit

from .clockids import CLOCK_AUX, CLOCK_AUX_LAST, MAX_AUX_CLOCKS
from .timekeeper import (
    NSEC_PER_SEC,
    TK_ADV_FREQ,
    TK_ADV_TICK,
    TK_CLEAR_NTP,
    TK_CLOCK_WAS_SET,
    ClockInit,
    Timekeeper,
    settod_valid,
)

if TYPE_CHECKING:
    from .namespace import TimekeeperNamespace

#: First mainline release with CONFIG_POSIX_AUX_CLOCKS (the ABI document is dated May 2025).
AUX_CLOCKS_SINCE = (6, 17)
TK_UPDATE_ALL = TK_CLEAR_NTP | TK_CLOCK_WAS_SET


def os_error(code: int, msg: str) -> OSError:
    return OSError(code, f"{errno.errorcode[code]}: {msg}")


def is_aux_clock(clockid: int) -> bool:
    """Whether `clockid` is one of CLOCK_AUX0..CLOCK_AUX7 (ids 16..23)."""
    return isinstance(clockid, int) and CLOCK_AUX <= clockid <= CLOCK_AUX_LAST


def kstrtobool(text: str) -> bool:
    """`kstrtobool` (lib/kstrtox.c): only the first one or two characters count.

    True for ``1 y Y t T e E`` or ``on``; false for ``0 n N f F d D`` or ``of…``; anything
    else (``"2"``, ``"o"``, ``""``) is EINVAL.
    """
    if not isinstance(text, str):
        raise TypeError(f"sysfs writes take str, got {type(text).__name__}")
    first = text[:1]
    if first and first in "yYtTeE1":
        return True
    if first and first in "nNfFdD0":
        return False
    if first and first in "oO":
        second = text[1:2]
        if second and second in "nN":
            return True
        if second and second in "fF":
            return False
    raise os_error(errno.EINVAL, f"aux_clock_enable: {text!r} is not a boolean (kstrtobool)")


class AuxClock:
    """One auxiliary clock: a timekeeper while enabled, and an NTP state that outlives it."""

    __slots__ = ("_ntp", "first_tick_pending", "index", "offs_aux", "tk")

    def __init__(self, index: int, ntp: NtpState) -> None:
        self.index = index
        self._ntp = ntp  # ntp_init's boot state; kept (only cleared) across disable/enable
        self.tk: Timekeeper | None = None
        self.offs_aux = 0
        #: enable leaves the clocksource's own mult; the first tick's timekeeping_adjust
        #: brings in the kept NTP frequency, so a lazy namespace must not skip that tick
        self.first_tick_pending = False

    @property
    def ntp(self) -> NtpState:
        """This clock's `ntp_data` (the timekeeper's own while enabled)."""
        return self._ntp if self.tk is None else self.tk.ntp

    @property
    def clockid(self) -> int:
        return CLOCK_AUX + self.index

    @property
    def enabled(self) -> bool:
        return self.tk is not None

    def enable(self, core: Timekeeper, cycles: int) -> None:
        """`aux_clock_enable`: a zeroed timekeeper on the core's clocksource, NTP cleared."""
        tk = Timekeeper(
            core.clock_mult,
            core.shift,
            core.hz,
            self.ntp,
            ClockInit(cycles=cycles, realtime_ns=0, monotonic_ns=0, boottime_ns=0, raw_ns=0),
            maxadj=core.maxadj,
            behaviour_restore_on_error=True,
            separate_coarse_nsec=core.separate_coarse_nsec,
        )
        # a lazy namespace's aux timekeepers keep their dither residue through a clear, as
        # its core does (`Timekeeper.lazy_keeps_error`)
        tk.lazy_keeps_error = core.lazy_keeps_error
        tk.timekeeping_update(TK_UPDATE_ALL)
        self.tk = tk
        self.offs_aux = 0
        self.first_tick_pending = True

    def disable(self) -> None:
        """`aux_clock_disable`: the clock stops being valid; its NTP state is cleared."""
        ntp = self.ntp
        ntp.clear()
        self._ntp = ntp
        self.tk = None
        self.offs_aux = 0

    def read(self, cycles: int) -> int:
        """`ktime_get_aux`: internal ns since enable, steered by the aux mult, plus offs_aux."""
        tk = self.tk
        if tk is None:
            raise os_error(errno.ENODEV, f"CLOCK_AUX{self.index} is not enabled")
        return tk.mono_ns(cycles) + self.offs_aux

    def to_dict(self) -> dict[str, Any]:
        """Plain values (checkpoints)."""
        return {
            "index": self.index,
            "ntp": self.ntp.to_dict(),
            "offs_aux": self.offs_aux,
            "tk": None if self.tk is None else self.tk.snapshot(),
        }


class AuxClocks:
    """The eight auxiliary clocks of one timekeeper namespace (see the module docstring)."""

    __slots__ = ("clocks", "owner")

    def __init__(self, owner: TimekeeperNamespace) -> None:
        self.owner = owner
        host = owner.host
        self.clocks = [
            AuxClock(n, NtpState(host.hz, host.user_hz, host.behaviour))
            for n in range(MAX_AUX_CLOCKS)
        ]

    def __getitem__(self, index: int) -> AuxClock:
        return self.clocks[index]

    def clock(self, clockid: int) -> AuxClock:
        return self.clocks[clockid - CLOCK_AUX]

    def enabled(self) -> list[AuxClock]:
        return [c for c in self.clocks if c.tk is not None]

    # -- sysfs -------------------------------------------------------------------------

    def enable_show(self, index: int) -> str:
        """`aux_clock_enable_show`: "0\\n" or "1\\n"."""
        return "1\n" if self._sysfs_clock(index).enabled else "0\n"

    def enable_store(self, index: int, text: str, *, has_cap: bool, euid: int) -> int:
        """`aux_clock_enable_store` behind a root-owned 0644 file; returns bytes consumed.

        Order: EACCES (only root may open the file for writing), EPERM (CAP_SYS_TIME),
        EINVAL (kstrtobool); then, if the state changes, enable or disable.
        """
        clock = self._sysfs_clock(index)
        if euid != 0:
            raise os_error(errno.EACCES, "aux_clock_enable is root's file (mode 0644)")
        if not has_cap:
            raise os_error(errno.EPERM, "aux_clock_enable needs CAP_SYS_TIME")
        want = kstrtobool(text)
        if want != clock.enabled:
            owner = self.owner
            cycles = owner.host.sample()
            if want:
                clock.enable(owner.tk, cycles)
            else:
                clock.disable()
            if TRACE.enabled:
                emit("aux_clock_enable", ns=owner.name, index=index, enabled=want)
            owner.plan_aux()
        return len(text)

    @staticmethod
    def _check_index(index: int) -> None:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 8:
            raise os_error(errno.ENOENT, f"no aux_clocks/{index!r} directory (0..7)")

    def _sysfs_clock(self, index: int) -> AuxClock:
        self._check_index(index)
        return self.clocks[index]

    # -- accumulation -----------------------------------------------------------------

    def advance(self, cycles: int, steer_at: int | None = None) -> None:
        """`tk_aux_advance`: a TK_ADV_TICK advance of every enabled aux timekeeper.

        `cycles` is the core's tick (a lazy catch-up passes the later count it steers for
        continuity at, `steer_at`, as the core's own advance does).
        """
        for clock in self.clocks:
            tk = clock.tk
            if tk is not None and cycles - tk.cycle_last >= tk.cycle_interval:
                tk.timekeeping_advance(cycles, TK_ADV_TICK, steer_at)
                clock.first_tick_pending = False

    def next_key(self, bound: int) -> int | None:
        """Earliest cycle at which a lazy namespace must accumulate for its aux clocks."""
        key: int | None = None
        for clock in self.clocks:
            tk = clock.tk
            if tk is None:
                continue
            if clock.first_tick_pending:
                k = tk.cycle_last + tk.cycle_interval
                key = k if key is None else min(key, k)
            work = tk.cycles_of_ntp_work()
            if work is not None:
                key = work if key is None else min(key, work)
            flip = tk.cycles_of_dither_flip(bound)
            if flip is not None:
                key = flip if key is None else min(key, flip)
        return key

    # -- syscalls (credentials already resolved by the namespace) ----------------------

    def clock_settime(self, clockid: int, value_ns: int, has_cap: bool) -> None:
        """`aux_clock_set`: EINVAL (settod range), EPERM, ENODEV; then only offs_aux moves."""
        sec, nsec = divmod(value_ns, NSEC_PER_SEC)
        if value_ns < 0 or not settod_valid(sec, nsec):
            raise os_error(errno.EINVAL, f"settime value {value_ns} ns outside the settod range")
        if not has_cap:
            raise os_error(errno.EPERM, "clock_settime on an aux clock needs CAP_SYS_TIME")
        clock = self.clock(clockid)
        tk = self._enabled_tk(clock)
        cycles = self._now_accumulated(clock, tk)
        tk.timekeeping_forward_now(cycles)
        tk.tk_update_ktime_data()
        clock.offs_aux = value_ns - tk.mono_ns(cycles)
        tk.timekeeping_update(TK_UPDATE_ALL)
        self.owner.plan_aux()

    def clock_adjtime(self, clockid: int, tx: Timex, has_cap: bool) -> int:
        """`aux_clock_adj` → `__do_adjtimex` for an aux timekeeper; fills `tx`, returns 0 or 5."""
        clock = self.clock(clockid)
        clock.ntp.validate_timex(tx, has_cap)
        _validate_aux_modes(tx)
        tk = self._enabled_tk(clock)
        cycles = self._now_accumulated(clock, tk)
        ts_sec, ts_nsec = divmod(tk.mono_ns(cycles) + clock.offs_aux, NSEC_PER_SEC)
        if tx.modes & ADJ_SETOFFSET:
            _inject_offset(clock, tk, cycles, tx)
        result, _ = tk.ntp.adjtimex(tx, ts_sec, ts_nsec, tk.xtime_sec, 0)
        tk.tk_update_leap_state()
        if tx.modes & (ADJ_FREQUENCY | ADJ_TICK):
            tk.timekeeping_advance(cycles, TK_ADV_FREQ)
        if TRACE.enabled:
            emit("aux_adjtimex", ns=self.owner.name, clockid=clockid, modes=tx.modes,
                 result=result, mult=tk.mult)
        self.owner.plan_aux()
        return result

    def _enabled_tk(self, clock: AuxClock) -> Timekeeper:
        if clock.tk is None:
            raise os_error(errno.ENODEV, f"CLOCK_AUX{clock.index} is not enabled")
        return clock.tk

    def _now_accumulated(self, clock: AuxClock, tk: Timekeeper) -> int:
        """The counter now; a lazy namespace first catches up the ticks a kernel would have run.

        Only to the last tick boundary at or before now (`host.last_tick_cycles`): a kernel's
        aux timekeeper advances only from the core's tick (`tk_aux_advance`), so it holds the
        whole intervals to that tick, and `second_overflow` has run for the seconds they
        carried, no more.  The mult is steered for continuity now, as the core's catch-up
        does (`TimekeeperNamespace.catch_up_to_tick`).  The core timekeeper is not touched.
        """
        owner = self.owner
        host = owner.host
        cycles = host.sample()
        if owner.update == "lazy" and cycles - tk.cycle_last >= tk.cycle_interval:
            tick = host.last_tick_cycles(cycles)
            if tick - tk.cycle_last >= tk.cycle_interval:
                tk.timekeeping_advance(tick, TK_ADV_TICK, steer_at=cycles)
                clock.first_tick_pending = False
        return cycles

    # -- checkpoints ------------------------------------------------------------------

    def to_dict(self) -> list[dict[str, Any]]:
        return [c.to_dict() for c in self.clocks]

    def load(self, states: list[dict[str, Any]]) -> None:
        """Inverse of `to_dict` (validated by the checkpoint reader)."""
        owner = self.owner
        for clock, state in zip(self.clocks, states, strict=True):
            clock.tk = None
            clock._ntp = NtpState.from_dict(state["ntp"])
            if state["tk"] is not None:
                clock.enable(owner.tk, owner.tk.cycle_last)
                assert clock.tk is not None
                clock.tk.restore(state["tk"])
            clock.offs_aux = state["offs_aux"]


def _validate_aux_modes(tx: Timex) -> None:
    """The aux-only checks of `timekeeping_validate_timex`: no leap, no TAI, no PPS (EINVAL)."""
    modes = tx.modes
    if modes & ADJ_STATUS and tx.status & (STA_INS | STA_DEL):
        raise os_error(errno.EINVAL, "aux clocks have no leap seconds (STA_INS/STA_DEL)")
    if modes & ADJ_TAI:
        raise os_error(errno.EINVAL, "aux clocks have no TAI offset (ADJ_TAI)")
    if modes & ADJ_STATUS and tx.status & (STA_PPSFREQ | STA_PPSTIME):
        raise os_error(errno.EINVAL, "aux clocks have no PPS (STA_PPSFREQ/STA_PPSTIME)")


def _inject_offset(clock: AuxClock, tk: Timekeeper, cycles: int, tx: Timex) -> None:
    """The aux branch of `__timekeeping_inject_offset`: offs_aux moves, with no upper limit.

    EINVAL (and nothing changed) if the clock would read below 0.  Success clears NTP.
    """
    sec, frac = tx.time
    step = sec * NSEC_PER_SEC + (frac if tx.modes & ADJ_NANO else frac * 1000)
    snapshot = tk.snapshot()
    tk.timekeeping_forward_now(cycles)
    tk.tk_update_ktime_data()
    new = clock.offs_aux + step
    if tk.mono_ns(cycles) + new < 0:
        tk.restore(snapshot)
        raise os_error(errno.EINVAL, "ADJ_SETOFFSET would make the aux clock negative")
    clock.offs_aux = new
    tk.timekeeping_update(TK_UPDATE_ALL)
