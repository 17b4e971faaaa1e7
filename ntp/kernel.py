"""One timekeeper's NTP state: kernel/time/ntp.c plus ``timekeeping_validate_timex``.

``NtpState`` is the 6.17 kernel's ``struct ntp_data`` (one per timekeeper) with the functions
that act on it.  With ``KernelBehaviour.ntp_skew_drain`` (7.3) it also carries 7.3's
``skew_delta``, ``time_adjust_frac`` and ``cs_tick_adj``, and ``second_overflow`` hands the slew
to the per-interval drain of ``ntp.drain`` instead of taking it off once per second.

All arithmetic is integer arithmetic with the kernel's semantics: C truncating
division for signed values, the symmetric ``shift_right``, and u64/s64 wrap-around wherever the
kernel's variables would wrap.  PPS is not modelled: the kernel is taken to be built without
CONFIG_NTP_PPS (which needs a kernel without NO_HZ, so distribution kernels lack it).
"""

from __future__ import annotations

import errno
from typing import Any, Final

import gmpy2

from ntp import drain
from ntp.timex import (
    ADJ_ADJTIME,
    ADJ_ESTERROR,
    ADJ_FREQUENCY,
    ADJ_MAXERROR,
    ADJ_MICRO,
    ADJ_NANO,
    ADJ_OFFSET,
    ADJ_OFFSET_READONLY,
    ADJ_SETOFFSET,
    ADJ_STATUS,
    ADJ_TAI,
    ADJ_TICK,
    ADJ_TIMECONST,
    KTIME_MAX,
    KTIME_SEC_MAX,
    LLONG_MAX,
    LLONG_MIN,
    MAX_TAI_OFFSET,
    MAX_TICKADJ,
    MAXFREQ,
    MAXFREQ_SCALED,
    MAXPHASE,
    MAXSEC,
    MAXTC,
    MINSEC,
    NSEC_PER_SEC,
    NSEC_PER_USEC,
    NTP_PHASE_LIMIT,
    NTP_SCALE_SHIFT,
    PPM_SCALE,
    PPM_SCALE_INV,
    PPM_SCALE_INV_SHIFT,
    SECS_PER_DAY,
    SHIFT_FLL,
    SHIFT_PLL,
    STA_CLOCKERR,
    STA_DEL,
    STA_FLL,
    STA_FREQHOLD,
    STA_INS,
    STA_MODE,
    STA_NANO,
    STA_PLL,
    STA_PPSERROR,
    STA_PPSFREQ,
    STA_PPSJITTER,
    STA_PPSSIGNAL,
    STA_PPSTIME,
    STA_PPSWANDER,
    STA_RONLY,
    STA_UNSYNC,
    TIME64_MAX,
    TIME_DEL,
    TIME_ERROR,
    TIME_INS,
    TIME_OK,
    TIME_OOP,
    TIME_WAIT,
    TIMEX_FIELD_RANGES,
    USEC_PER_SEC,
    USER_HZ,
    Timeval,
    Timex,
    clamp,
    div_trunc,
    rem_trunc,
    shift_right,
    to_s32,
    to_s64,
    to_u32,
    to_u64,
)
from ntp.trace import TRACE, emit
from ntp.version import KernelBehaviour

#: The kernel's ntp_data variables that make up an ``NtpState`` (checkpoints and ``__eq__``).
STATE_FIELDS: Final = (
    "tick_usec",
    "tick_length",
    "tick_length_base",
    "time_state",
    "time_status",
    "time_offset",
    "time_constant",
    "time_maxerror",
    "time_esterror",
    "time_freq",
    "time_reftime",
    "time_adjust",
    "ntp_tick_adj",
    "ntp_next_leap_sec",
)

#: The 7.3 drain's extra ntp_data variables (``ntp.drain``); saved only where they exist.
DRAIN_FIELDS = ("skew_delta", "time_adjust_frac", "cs_tick_adj")

STATE_NAMES = {
    TIME_OK: "TIME_OK",
    TIME_INS: "TIME_INS",
    TIME_DEL: "TIME_DEL",
    TIME_OOP: "TIME_OOP",
    TIME_WAIT: "TIME_WAIT",
    TIME_ERROR: "TIME_ERROR",
}

#: ``timekeeping_validate_timex`` bounds for ADJ_FREQUENCY on 64-bit (C division).
FREQ_INPUT_MIN = div_trunc(LLONG_MIN, PPM_SCALE)
FREQ_INPUT_MAX = div_trunc(LLONG_MAX, PPM_SCALE)
_MAXERROR_GROWTH: Final = MAXFREQ // NSEC_PER_USEC
_PPS_FIELDS = ("ppsfreq", "jitter", "shift", "stabil", "jitcnt", "calcnt", "errcnt", "stbcnt")
#: `object.__setattr__`: stores into a `Timex` without its interpreted checked assignment
_STORE: Final = object.__setattr__


def _fill(tx: Timex, name: str, value: int) -> None:
    """Write back a field the kernel computed, as ``tx.<name> = value`` would store it.

    This module is compiled and `Timex` is not: the checked assignment is an interpreted
    call per field, and the kernel's values are plain ints in their C range by construction,
    so the range is checked here and the value stored directly.  A value outside it (a state
    restored from a corrupt checkpoint, say) still goes through the checked assignment,
    which raises naming the field.
    """
    lo, hi = TIMEX_FIELD_RANGES[name]
    if lo <= value <= hi:
        _STORE(tx, name, value)
    else:
        setattr(tx, name, value)


def user_tick_usec(user_hz: int) -> int:
    """``USER_TICK_USEC`` (jiffies.h): µs per USER_HZ tick, rounded; the boot ``tick_usec``."""
    return (USEC_PER_SEC + user_hz // 2) // user_hz


def max_tickadj_scaled(hz: int) -> int:
    """``MAX_TICKADJ_SCALED`` (ntp.c): the 500 µs/s adjtime slew spread over one tick."""
    return ((MAX_TICKADJ * NSEC_PER_USEC) << NTP_SCALE_SHIFT) // hz


def ktime_set(secs: int, nsecs: int) -> int:
    """``ktime_set`` (ktime.h): seconds to ns, saturating at KTIME_MAX so MAX stays MAX."""
    if secs >= KTIME_SEC_MAX:
        return KTIME_MAX
    return secs * NSEC_PER_SEC + nsecs


def ntp_offset_chunk(offset: int, time_constant: int) -> int:
    """``ntp_offset_chunk`` (ntp.c, no PPS): the share of the phase error slewed next second.

    The PLL removes 1/2^(SHIFT_PLL + tc) of what is left each second, rounding toward zero.
    """
    return shift_right(offset, SHIFT_PLL + time_constant)


def is_error_status(status: int, pps: bool = False) -> bool:
    """``is_error_status`` (ntp.c): whether adjtimex must report TIME_ERROR.

    Without CONFIG_NTP_PPS (our model, ``pps=False``) only STA_UNSYNC/STA_CLOCKERR count.  With
    PPS the kernel also reports an error when PPS time/frequency discipline is requested but the
    signal is missing, jittery (time) or wandering/failing calibration (frequency).
    """
    if status & (STA_UNSYNC | STA_CLOCKERR):
        return True
    if not pps:
        return False
    wants_pps = status & (STA_PPSFREQ | STA_PPSTIME)
    if wants_pps and not status & STA_PPSSIGNAL:
        return True
    if status & (STA_PPSTIME | STA_PPSJITTER) == STA_PPSTIME | STA_PPSJITTER:
        return True
    return bool(status & STA_PPSFREQ and status & (STA_PPSWANDER | STA_PPSERROR))


def _check_int(name: str, value: Any, lo: int, hi: int) -> int:
    """Constructor argument check: an int within [lo, hi], else TypeError/ValueError."""
    if type(value) is not int:
        raise TypeError(f"{name} must be int, not {type(value).__name__}")
    if not lo <= value <= hi:
        raise ValueError(f"{name}={value} out of range [{lo}, {hi}]")
    return value


def _einval(check: str) -> OSError:
    """The -EINVAL of ``timekeeping_validate_timex``, with the failed check named."""
    return OSError(errno.EINVAL, f"adjtimex: {check}")


def _eperm(check: str) -> OSError:
    """The -EPERM (missing CAP_SYS_TIME) of ``timekeeping_validate_timex``."""
    return OSError(errno.EPERM, f"adjtimex: {check}")


class NtpState:
    """NTP state of one timekeeper (``struct ntp_data``), created as ``ntp_init`` leaves it.

    ``hz`` is the tick rate (NTP_INTERVAL_FREQ), ``user_hz`` the unit of ``tick``,
    ``ntp_tick_adj`` the ``ntp_tick_adj=`` boot parameter (ns/s; stored shifted by 32 like the
    kernel's variable).
    """

    #: The fields as slots (an idle namespace's NTP state stays small); `__dict__` is kept as
    #: a fallback for any attribute not listed.
    __slots__ = (
        "__dict__", "behaviour", "cs_tick_adj", "hz", "max_tickadj_scaled", "ntp_next_leap_sec",
        "ntp_tick_adj", "skew_delta", "tick_length", "tick_length_base", "tick_usec",
        "time_adjust", "time_adjust_frac", "time_constant", "time_esterror", "time_freq",
        "time_maxerror", "time_offset", "time_reftime", "time_state", "time_status", "user_hz",
    )

    def __init__(
        self,
        hz: int,
        user_hz: int = USER_HZ,
        behaviour: KernelBehaviour | None = None,
        ntp_tick_adj: int = 0,
    ) -> None:
        self.hz = _check_int("hz", hz, 1, NSEC_PER_SEC)
        self.user_hz = _check_int("user_hz", user_hz, 1, USEC_PER_SEC)
        self.behaviour = behaviour if behaviour is not None else KernelBehaviour()
        self.max_tickadj_scaled = max_tickadj_scaled(hz)
        self.tick_usec = user_tick_usec(user_hz)
        self.tick_length = 0
        self.tick_length_base = 0
        self.time_state = TIME_OK
        self.time_status = STA_UNSYNC
        self.time_offset = 0
        self.time_constant = 2
        self.time_maxerror = NTP_PHASE_LIMIT
        self.time_esterror = NTP_PHASE_LIMIT
        self.time_freq = 0
        self.time_reftime = 0
        self.time_adjust = 0
        adj = _check_int("ntp_tick_adj", ntp_tick_adj, LLONG_MIN, LLONG_MAX)
        self.ntp_tick_adj = to_s64(adj << NTP_SCALE_SHIFT)
        self.ntp_next_leap_sec = TIME64_MAX
        self.skew_delta = 0
        self.time_adjust_frac = 0
        self.cs_tick_adj = 0
        self.clear()

    # --- frequency and reset ----------------------------------------------------------------
    def update_frequency(self) -> None:
        """``ntp_update_frequency``: rebuild tick_length_base, keeping any slew in tick_length.

        7.3 assigns the base (the slew lives apart in ``skew_delta``) and adds ``cs_tick_adj``,
        the per-second error of rounding the tick to whole cycles, which replaces the
        timekeeper's ``xtime_remainder``; ``tick_length_base`` then always equals tick_length.
        """
        second_length = to_u64((self.tick_usec * NSEC_PER_USEC * self.user_hz) << NTP_SCALE_SHIFT)
        second_length = to_u64(second_length + self.ntp_tick_adj + self.time_freq)
        if self.behaviour.ntp_skew_drain:
            self.tick_length = self.tick_length_base = to_u64(second_length + self.cs_tick_adj) // (
                self.hz
            )
            return
        new_base = second_length // self.hz
        self.tick_length = to_u64(self.tick_length + new_base - self.tick_length_base)
        self.tick_length_base = new_base

    def clear(self, cs_tick_adj: int | None = None) -> None:
        """``ntp_clear`` (TK_CLEAR_NTP): drop slews and errors; freq, constant, state stay.

        7.3 passes the timekeeper's ``cs_tick_adj`` (None keeps the one stored) and also empties
        the adjtime drawer and the per-interval skew.
        """
        if cs_tick_adj is not None:
            self.cs_tick_adj = cs_tick_adj
        self.skew_delta = 0
        self.time_adjust_frac = 0
        self.time_adjust = 0
        self.time_status |= STA_UNSYNC
        self.time_maxerror = NTP_PHASE_LIMIT
        self.time_esterror = NTP_PHASE_LIMIT
        self.update_frequency()
        self.tick_length = self.tick_length_base
        self.time_offset = 0
        self.ntp_next_leap_sec = TIME64_MAX

    # --- once per second ---------------------------------------------------------------------
    def second_overflow(self, secs: int) -> int:
        """``second_overflow``: the once-per-second hook, given the new whole second.

        Runs one leap-state transition, grows maxerror, sets the next second's tick_length from
        the PLL phase chunk and the adjtime slew, and returns the leap to apply (-1, 0, +1).
        """
        leap = self._leap_step(secs)
        self._bump_maxerror()
        if self.behaviour.ntp_skew_drain:
            drain.skew_for_next_second(self)
            return leap
        self._phase_slew()
        self._adjtime_slew()
        return leap

    def drain_skew(self, skew: int, shift: int) -> int:
        """7.3 ``ntp_drain_skew``: 2^shift intervals at the timekeeper's cached ``skew``.

        Returns the OU drained, which the timekeeper credits to ntp_error (see ``ntp.drain``).
        """
        return drain.drain_skew(self, skew, shift)

    def _set_state(self, new: int, secs: int) -> None:
        """Every time_state change goes through here so each one is traced."""
        if TRACE.enabled:
            emit(
                "leap_transition",
                from_state=STATE_NAMES.get(self.time_state, str(self.time_state)),
                to_state=STATE_NAMES[new],
                secs=secs,
            )
        self.time_state = new

    def _leap_step(self, secs: int) -> int:
        """The switch on time_state at the top of ``second_overflow`` (second_overflow table)."""
        state, status = self.time_state, self.time_status
        if state == TIME_OK:
            if status & STA_INS:
                self.ntp_next_leap_sec = secs + SECS_PER_DAY - rem_trunc(secs, SECS_PER_DAY)
                self._set_state(TIME_INS, secs)
            elif status & STA_DEL:
                self.ntp_next_leap_sec = secs + SECS_PER_DAY - rem_trunc(secs + 1, SECS_PER_DAY)
                self._set_state(TIME_DEL, secs)
        elif state in (TIME_INS, TIME_DEL):
            return self._leap_pending(secs, STA_INS if state == TIME_INS else STA_DEL)
        elif state == TIME_OOP:
            self.ntp_next_leap_sec = TIME64_MAX
            self._set_state(TIME_WAIT, secs)
        elif state == TIME_WAIT and not status & (STA_INS | STA_DEL):
            self._set_state(TIME_OK, secs)
        return 0

    def _leap_pending(self, secs: int, bit: int) -> int:
        """TIME_INS/TIME_DEL: cancel if the request bit went away, else leap at the boundary."""
        if not self.time_status & bit:
            self.ntp_next_leap_sec = TIME64_MAX
            self._set_state(TIME_OK, secs)
            return 0
        if secs != self.ntp_next_leap_sec:
            return 0
        if bit == STA_INS:
            self._set_state(TIME_OOP, secs)
            return -1
        self.ntp_next_leap_sec = TIME64_MAX
        self._set_state(TIME_WAIT, secs)
        return 1

    def _bump_maxerror(self) -> None:
        """maxerror grows 500 µs/s; past NTP_PHASE_LIMIT the clock is declared unsynced."""
        self.time_maxerror = to_s64(self.time_maxerror + _MAXERROR_GROWTH)
        if self.time_maxerror > NTP_PHASE_LIMIT:
            self.time_maxerror = NTP_PHASE_LIMIT
            self.time_status |= STA_UNSYNC

    def _phase_slew(self) -> None:
        """Start the next second from tick_length_base plus one PLL chunk of time_offset."""
        self.tick_length = self.tick_length_base
        delta = ntp_offset_chunk(self.time_offset, self.time_constant)
        self.time_offset -= delta
        self.tick_length = to_u64(self.tick_length + delta)

    def _adjtime_slew(self) -> None:
        """adjtime(3): 500 µs per second, then the remainder in one go."""
        adj = self.time_adjust
        if adj == 0:
            return
        if adj > MAX_TICKADJ:
            self.time_adjust = adj - MAX_TICKADJ
            self.tick_length = to_u64(self.tick_length + self.max_tickadj_scaled)
        elif adj < -MAX_TICKADJ:
            self.time_adjust = adj + MAX_TICKADJ
            self.tick_length = to_u64(self.tick_length - self.max_tickadj_scaled)
        else:
            rest = to_s64(div_trunc(adj * NSEC_PER_USEC, self.hz) << NTP_SCALE_SHIFT)
            self.tick_length = to_u64(self.tick_length + rest)
            self.time_adjust = 0

    def advance_quiet_seconds(self, count: int) -> None:
        """``count`` calls of ``second_overflow`` in O(1), valid only while quiet.

        Quiet means ``needs_per_second_hook()`` is False: then each second only grows maxerror
        (and may set STA_UNSYNC), which this applies in closed form.  Not a kernel function; it
        exists for tk_core's lazy update policy.
        """
        if count < 0:
            raise ValueError(f"count={count} must be >= 0")
        if self.needs_per_second_hook():
            raise ValueError("advance_quiet_seconds needs a quiet NTP state")
        if count and self.time_maxerror > LLONG_MAX - _MAXERROR_GROWTH:
            self._bump_maxerror()  # the s64 wrap of an unclamped ADJ_MAXERROR (pre-6.11)
            count -= 1
        if self.time_maxerror + _MAXERROR_GROWTH * count > NTP_PHASE_LIMIT:
            self.time_maxerror = NTP_PHASE_LIMIT
            self.time_status |= STA_UNSYNC
        else:
            self.time_maxerror += _MAXERROR_GROWTH * count

    def needs_per_second_hook(self) -> bool:
        """Whether ``second_overflow`` would change more than the maxerror bookkeeping.

        Not a kernel function: it tells a lazy namespace whether it needs an interrupt every
        second.  Quiet is more than "every NTP variable is zero": a PLL residue whose chunk
        (``ntp_offset_chunk``) is 0 stays where it is forever, so the seconds change nothing
        (the kernel's own integer sequence, computed either way); and TIME_WAIT only moves on
        once STA_INS/STA_DEL is cleared, which takes an adjtimex call, which replans anyway.
        """
        if self.time_adjust or self.tick_length != self.tick_length_base:
            return True
        if self.skew_delta or self.time_adjust_frac:
            return True
        if self.time_offset and self.behaviour.ntp_skew_drain:
            return True  # 7.3 drains even a remnant whose chunk is 0: in one second
        if self.time_offset and ntp_offset_chunk(self.time_offset, self.time_constant):
            return True
        state, pending = self.time_state, self.time_status & (STA_INS | STA_DEL)
        if state == TIME_OK:
            return bool(pending)
        if state == TIME_WAIT:
            return not pending
        return True

    def get_next_leap(self) -> int:
        """``ntp_get_next_leap``: ktime (ns) of a pending leap insertion, else KTIME_MAX."""
        if self.time_state == TIME_INS and self.time_status & STA_INS:
            return ktime_set(self.ntp_next_leap_sec, 0)
        return KTIME_MAX

    # --- adjtimex --------------------------------------------------------------------------
    def validate_timex(self, tx: Timex, has_cap_sys_time: bool) -> None:
        """``timekeeping_validate_timex``: reject a bad adjtimex request before anything runs.

        Raises ``OSError`` with EPERM/EINVAL in the kernel's order of checks; never changes state.
        """
        modes = tx.modes
        if modes & ADJ_ADJTIME:
            if not modes & ADJ_OFFSET:
                raise _einval("ADJ_ADJTIME needs the ADJ_OFFSET_SINGLESHOT bit")
            if not modes & ADJ_OFFSET_READONLY and not has_cap_sys_time:
                raise _eperm("adjtime slew needs CAP_SYS_TIME")
        else:
            if modes and not has_cap_sys_time:
                raise _eperm("changing NTP state needs CAP_SYS_TIME")
            lo, hi = 900000 // self.user_hz, 1100000 // self.user_hz
            if modes & ADJ_TICK and not lo <= tx.tick <= hi:
                raise _einval(f"ADJ_TICK tick={tx.tick} outside [{lo}, {hi}]")
        if modes & ADJ_SETOFFSET:
            self._validate_setoffset(tx, has_cap_sys_time)
        if modes & ADJ_FREQUENCY and not FREQ_INPUT_MIN <= tx.freq <= FREQ_INPUT_MAX:
            raise _einval(f"ADJ_FREQUENCY freq={tx.freq} would overflow freq * PPM_SCALE")

    @staticmethod
    def _validate_setoffset(tx: Timex, has_cap_sys_time: bool) -> None:
        """The ADJ_SETOFFSET part: privilege, then a fraction in [0, one second)."""
        if not has_cap_sys_time:
            raise _eperm("ADJ_SETOFFSET needs CAP_SYS_TIME")
        frac = tx.time.tv_usec
        if frac < 0:
            raise _einval(f"ADJ_SETOFFSET fraction {frac} is negative")
        unit = NSEC_PER_SEC if tx.modes & ADJ_NANO else USEC_PER_SEC
        if frac >= unit:
            raise _einval(f"ADJ_SETOFFSET fraction {frac} is not below {unit}")

    def adjtimex(
        self, tx: Timex, ts_sec: int, ts_nsec: int, xtime_sec: int, tai: int
    ) -> tuple[int, int]:
        """``__do_adjtimex``: apply ``tx`` (already validated), fill it in, return (result, tai).

        ``ts`` is the REALTIME read before the lock, ``xtime_sec`` what __ktime_get_real_seconds
        returns, ``tai`` the timekeeper's tai_offset.  ADJ_SETOFFSET is the caller's business
        (inject first, as ``do_adjtimex`` does); the bit only makes ``modes`` non-zero here, so
        e.g. ADJ_SETOFFSET|ADJ_NANO still sets STA_NANO, as in the kernel.
        """
        if tx.modes & ADJ_ADJTIME:
            self._adjtime(tx)
        else:
            if tx.modes:
                tai = self.process_adjtimex_modes(tx, xtime_sec, tai)
            tx.offset = self._offset_readback()
        result = TIME_ERROR if is_error_status(self.time_status) else self.time_state
        self._fill_timex(tx, ts_sec, ts_nsec, tai)
        result = self._leap_read_fixup(tx, ts_sec, result)
        if TRACE.enabled:
            emit("adjtimex", modes=tx.modes, result=result, status=self.time_status, tai=tai)
        return result, tai

    def _adjtime(self, tx: Timex) -> None:
        """adjtime(3) path: swap in the new µs slew unless read-only; report the old one."""
        old = self.time_adjust
        if not tx.modes & ADJ_OFFSET_READONLY:
            self.time_adjust = tx.offset
            self.time_adjust_frac = 0  # 7.3: the drawer of the old slew is thrown away
            self.update_frequency()
        tx.offset = old

    def _offset_readback(self) -> int:
        """Remaining phase offset for user space: ns, or µs unless STA_NANO."""
        ns = shift_right(to_s64(self.time_offset * self.hz), NTP_SCALE_SHIFT)
        if self.time_status & STA_NANO:
            return ns
        if self.behaviour.offset_readback_u32_cast:
            return to_u32(ns) // NSEC_PER_USEC
        return div_trunc(ns, NSEC_PER_USEC)

    def _fill_timex(self, tx: Timex, ts_sec: int, ts_nsec: int, tai: int) -> None:
        """The read-back half of ``__do_adjtimex`` plus ``pps_fill_timex`` (all PPS zero)."""
        _fill(tx, "freq", shift_right(
            (self.time_freq >> PPM_SCALE_INV_SHIFT) * PPM_SCALE_INV, NTP_SCALE_SHIFT
        ))
        _fill(tx, "maxerror", self.time_maxerror)
        _fill(tx, "esterror", self.time_esterror)
        _fill(tx, "status", self.time_status)
        _fill(tx, "constant", self.time_constant)
        _fill(tx, "precision", 1)
        _fill(tx, "tolerance", MAXFREQ_SCALED // PPM_SCALE)
        _fill(tx, "tick", self.tick_usec)
        _fill(tx, "tai", tai)
        for name in _PPS_FIELDS:
            _fill(tx, name, 0)
        frac = ts_nsec if self.time_status & STA_NANO else div_trunc(ts_nsec, NSEC_PER_USEC)
        if LLONG_MIN <= ts_sec <= LLONG_MAX and LLONG_MIN <= frac <= LLONG_MAX:
            _STORE(tx, "time", Timeval(ts_sec, frac))
        else:
            tx.time = (ts_sec, frac)  # the checked assignment raises, naming the field

    def _leap_read_fixup(self, tx: Timex, ts_sec: int, result: int) -> int:
        """Report a leap from its exact boundary even if the tick has not run it yet."""
        if ts_sec < self.ntp_next_leap_sec:
            return result
        state, status = self.time_state, self.time_status
        if state == TIME_INS and status & STA_INS:
            result = TIME_OOP
            tx.tai = to_s32(tx.tai + 1)
            tx.time = (tx.time.tv_sec - 1, tx.time.tv_usec)
        if state == TIME_DEL and status & STA_DEL:
            result = TIME_WAIT
            tx.tai = to_s32(tx.tai - 1)
            tx.time = (tx.time.tv_sec + 1, tx.time.tv_usec)
        if state == TIME_OOP and ts_sec == self.ntp_next_leap_sec:
            result = TIME_WAIT
        return result

    def process_adjtimex_modes(self, tx: Timex, xtime_sec: int, tai: int) -> int:
        """``process_adjtimex_modes``: apply mode bits in the kernel's order; return new tai."""
        modes = tx.modes
        if modes & ADJ_STATUS:
            self.process_adj_status(tx, xtime_sec)
        if modes & ADJ_NANO:
            self.time_status |= STA_NANO
        if modes & ADJ_MICRO:
            self.time_status &= ~STA_NANO
        if modes & ADJ_FREQUENCY:
            freq = to_s64(tx.freq * PPM_SCALE)
            self.time_freq = clamp(freq, -MAXFREQ_SCALED, MAXFREQ_SCALED)
        if modes & ADJ_MAXERROR:
            self.time_maxerror = self._error_input(tx.maxerror)
        if modes & ADJ_ESTERROR:
            self.time_esterror = self._error_input(tx.esterror)
        if modes & ADJ_TIMECONST:
            self.time_constant = self._timeconst_input(tx.constant)
        if modes & ADJ_TAI and self._tai_input_ok(tx.constant):
            tai = tx.constant
        if modes & ADJ_OFFSET:
            self.ntp_update_offset(tx.offset, xtime_sec)
        if modes & ADJ_TICK:
            self.tick_usec = to_u64(tx.tick)
        if modes & (ADJ_TICK | ADJ_FREQUENCY | ADJ_OFFSET):
            self.update_frequency()
        return tai

    def _error_input(self, value: int) -> int:
        """ADJ_MAXERROR/ADJ_ESTERROR: clamped since v6.11, stored raw before."""
        if self.behaviour.maxerror_clamp:
            return clamp(value, 0, NTP_PHASE_LIMIT)
        return value

    def _timeconst_input(self, constant: int) -> int:
        """ADJ_TIMECONST: internal constant is +4 in µs mode, clamped to 0..MAXTC."""
        micro = not self.time_status & STA_NANO
        if self.behaviour.timeconst_preclamp:
            tc = clamp(constant, 0, MAXTC) + (4 if micro else 0)
        else:
            tc = to_s64(constant + 4) if micro else constant
        return clamp(tc, 0, MAXTC)

    def _tai_input_ok(self, constant: int) -> bool:
        """ADJ_TAI takes ``constant`` only within 0 (v5.2+; else 1)..MAX_TAI_OFFSET."""
        lowest = 0 if self.behaviour.adj_tai_zero_allowed else 1
        return lowest <= constant <= MAX_TAI_OFFSET

    def process_adj_status(self, tx: Timex, xtime_sec: int) -> None:
        """``process_adj_status``: PLL on/off side effects, then write the user-writable bits."""
        if self.time_status & STA_PLL and not tx.status & STA_PLL:
            if self.time_state != TIME_OK:
                self._set_state(TIME_OK, xtime_sec)
            self.time_status = STA_UNSYNC
            self.ntp_next_leap_sec = TIME64_MAX
        if not self.time_status & STA_PLL and tx.status & STA_PLL:
            self.time_reftime = xtime_sec
        self.time_status = (self.time_status & STA_RONLY) | (tx.status & ~STA_RONLY)

    def ntp_update_offset(self, offset: int, xtime_sec: int) -> None:
        """``ntp_update_offset``: a new phase offset steers time_freq (PLL/FLL) and time_offset.

        ``offset`` is µs unless STA_NANO; the whole phase error is replaced, not added to.
        """
        if not self.time_status & STA_PLL:
            return
        if not self.time_status & STA_NANO:
            offset = clamp(offset, -USEC_PER_SEC, USEC_PER_SEC) * NSEC_PER_USEC
        offset = clamp(offset, -MAXPHASE, MAXPHASE)
        secs = to_s64(xtime_sec - self.time_reftime)
        if self.time_status & STA_FREQHOLD:
            secs = 0
        self.time_reftime = xtime_sec
        freq_adj = self.ntp_update_offset_fll(offset, secs)
        secs = min(secs, 1 << (SHIFT_PLL + 1 + self.time_constant))
        pll_shift = NTP_SCALE_SHIFT - 2 * (SHIFT_PLL + 2 + self.time_constant)
        freq_adj = to_s64(freq_adj + to_s64(to_s64(offset * secs) << pll_shift))
        freq = to_s64(freq_adj + self.time_freq)
        self.time_freq = clamp(freq, -MAXFREQ_SCALED, MAXFREQ_SCALED)
        self.time_offset = div_trunc(offset << NTP_SCALE_SHIFT, self.hz)

    def ntp_update_offset_fll(self, offset64: int, secs: int) -> int:
        """``ntp_update_offset_fll``: the FLL frequency term, used for long update intervals.

        Active (STA_MODE set) when secs >= MINSEC with STA_FLL, or secs > MAXSEC without.
        """
        self.time_status &= ~STA_MODE
        if secs < MINSEC:
            return 0
        if not self.time_status & STA_FLL and secs <= MAXSEC:
            return 0
        self.time_status |= STA_MODE
        return div_trunc(to_s64(offset64 << (NTP_SCALE_SHIFT - SHIFT_FLL)), secs)

    # --- reporting, checkpoints, comparison ---------------------------------------------
    @property
    def freq_ppm(self) -> gmpy2.mpq:
        """time_freq in ppm as an exact ``gmpy2.mpq`` (for reports only).

        time_freq is in 2^-32 ns/s, so one ppm is ``NSEC_PER_USEC << 32`` (= PPM_SCALE << 16;
        ``time_freq / PPM_SCALE`` alone would be the 16.16 ``freq`` field, not ppm).
        """
        return gmpy2.mpq(self.time_freq, NSEC_PER_USEC << NTP_SCALE_SHIFT)

    def to_dict(self) -> dict[str, Any]:
        """Plain-int state plus hz, user_hz and the behaviour, for checkpoints."""
        d: dict[str, Any] = {name: getattr(self, name) for name in STATE_FIELDS}
        if self.behaviour.ntp_skew_drain:
            d.update((name, getattr(self, name)) for name in DRAIN_FIELDS)
        d["hz"] = self.hz
        d["user_hz"] = self.user_hz
        d["behaviour"] = self.behaviour.version
        d["behaviour_flags"] = self.behaviour.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NtpState:
        """Inverse of ``to_dict`` (``behaviour_flags`` wins over the version string)."""
        flags = d.get("behaviour_flags")
        if flags is not None:
            behaviour = KernelBehaviour.from_dict(flags)
        else:
            behaviour = KernelBehaviour.from_version(d.get("behaviour"))
        state = cls(d["hz"], d["user_hz"], behaviour)
        for name in STATE_FIELDS:
            setattr(state, name, _check_int(name, d[name], -(2**64), 2**64))
        for name in DRAIN_FIELDS:
            setattr(state, name, _check_int(name, d.get(name, 0), -(2**127), 2**127))
        return state

    def __eq__(self, other: object) -> bool:
        """Full-state equality (not a kernel function): "a failed call changes nothing"."""
        if not isinstance(other, NtpState):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        """The fields one looks at first when debugging a steering problem."""
        return (
            f"NtpState(hz={self.hz}, state={STATE_NAMES.get(self.time_state)}, "
            f"status={self.time_status:#x}, freq={self.time_freq}, offset={self.time_offset}, "
            f"adjust={self.time_adjust}, frac={self.time_adjust_frac}, skew={self.skew_delta}, "
            f"tick_length={self.tick_length})"
        )
