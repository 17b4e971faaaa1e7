"""One kernel-style `struct timekeeper`, with the kernel's integer arithmetic.

Every `timekeeper` namespace owns one of these; the host's root namespace owns one too.  The
state and the functions mirror kernel/time/timekeeping.c (v5.x–6.x; kernel/time/timekeeping.c):
the same field names, the same shifted-nanosecond bookkeeping, the same logarithmic
accumulation and the same v4.19+ mult steering, so every figure can be compared with a real
kernel.  What differs, and why:

* cycles are the host's 64-bit *extended* count (`tk_core.counter`), not the masked hardware
  value.  Deltas are therefore plain differences.  In `periodic` mode deltas stay below one
  tick, exactly as in a kernel; in `lazy` mode a delta may span hours, and `delta × mult`
  would overflow a kernel's u64.  Python ints do not overflow, and because the extended count
  never loses a wrap while the host samples it, the long delta is still the true number of
  cycles: the read gives what a kernel with 128-bit arithmetic would give.
* NTP lives in `ntp.kernel.NtpState`, one per timekeeper (like the 6.17 `ntp_data` per
  timekeeper), so every namespace has its own discipline and its own leap-second state.
* Linux 7.3 (``KernelBehaviour.ntp_skew_drain``): `tk_setup_internals` turns the rounding of
  the tick into `cs_tick_adj` for NTP instead of keeping `xtime_remainder` (0 here), every
  accumulated chunk drains the cached `skew_delta` from NTP's trackers and credits ntp_error
  with what was drained, and `timekeeping_adjust` biases mult by skew_delta·HZ (`ntp.drain`).
* there is no shadow timekeeper and no seqcount: the simulation is single-threaded.  Where the
  kernel restores the shadow copy after an error, we restore a snapshot.
"""

from __future__ import annotations

import errno
import itertools
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from ntp import drain
from ntp.kernel import NtpState
from ntp.trace import TRACE, emit

NSEC_PER_SEC: Final = 1_000_000_000
NTP_SCALE_SHIFT: Final = 32
KTIME_MAX: Final = (1 << 63) - 1
KTIME_SEC_MAX: Final = 9_223_372_036
TIME_SETTOD_SEC_MAX: Final = 8_277_292_036
U32_MAX: Final = (1 << 32) - 1

# timekeeping_advance modes
TK_ADV_TICK: Final = 0
TK_ADV_FREQ: Final = 1

# timekeeping_update actions
TK_CLEAR_NTP: Final = 1 << 0
TK_CLOCK_WAS_SET: Final = 1 << 2

#: Source of `Timekeeper.read_seq`: unique over every timekeeper of the process, so a reader's
#: cached value can never be taken for another timekeeper's, or for an older state of its own.
_READ_SEQ = itertools.count(1)


#: Equal setup constants (intervals, ntp_tick) share one int object across timekeepers.
_SHARED_INTS: dict[int, int] = {}


def _shared(value: int) -> int:
    """`value`, as the one object every timekeeper holds for it (bounded: memory only)."""
    if len(_SHARED_INTS) < 4096:
        return _SHARED_INTS.setdefault(value, value)
    return _SHARED_INTS.get(value, value)


def ilog2(x: int) -> int:
    """The kernel's `ilog2` for a u64 (−1 for 0, as `fls64(0) − 1`)."""
    return x.bit_length() - 1


def _chunk_count(offset: int, interval: int, shift: int) -> int:
    """How many passes `timekeeping_advance`'s chunk loop makes over `offset` cycles (traced)."""
    passes = 0
    while offset >= interval:
        chunk = interval << shift
        if offset >= chunk:
            offset -= chunk
        passes += 1
        if offset < chunk:
            shift -= 1
    return passes


def einval(msg: str) -> OSError:
    return OSError(errno.EINVAL, f"EINVAL: {msg}")


def settod_valid(sec: int, nsec: int) -> bool:
    """`timespec64_valid_settod`: 0 ≤ sec < TIME_SETTOD_SEC_MAX and 0 ≤ nsec < 1e9."""
    return 0 <= sec < TIME_SETTOD_SEC_MAX and 0 <= nsec < NSEC_PER_SEC


@dataclass(frozen=True, slots=True)
class ClockInit:
    """The readings a new timekeeper starts from (all int ns) at extended cycle `cycles`."""

    cycles: int
    realtime_ns: int
    monotonic_ns: int
    boottime_ns: int
    raw_ns: int
    tai_offset: int = 0


def coarse_fraction_after_ticks(
    cycle_last: int, xtime_nsec: int, xtime_interval: int, held: int, cycle_interval: int,
    shift: int, tick_cycles: int,
) -> int:
    """`Timekeeper.coarse_fraction_at_tick` over given fields (`held`: the coarse fraction
    held now), so a lazy namespace can also ask it of the fields as they were before an
    accumulation (`TimekeeperNamespace._keep_coarse_floor`)."""
    k = (tick_cycles - cycle_last) // cycle_interval
    if k <= 0:
        return held
    return (xtime_nsec + k * xtime_interval) >> shift

class Timekeeper:
    """Kernel `struct timekeeper` plus the functions of timekeeping.c that act on it."""

    #: Every instance field, as slots: an idle namespace's timekeeper is a few hundred bytes
    #: instead of a 1.6 KB attribute dict.  `__dict__` stays as a fallback for any attribute
    #: not listed (it is only allocated if one is set).
    __slots__ = (
        "__dict__", "base_mono", "base_raw", "clock_mult", "clock_was_set_seq", "coarse_nsec",
        "cs_tick_adj", "cycle_interval", "cycle_last", "drain", "hz", "lazy_keeps_error",
        "maxadj", "mult", "mult_warned", "next_leap_ktime", "ntp", "ntp_err_mult", "ntp_error",
        "ntp_error_shift", "ntp_tick", "offs_boot", "offs_real", "offs_tai", "raw_interval",
        "raw_mult", "raw_sec", "raw_xtime_nsec", "read_seq", "restore_on_error",
        "separate_coarse_nsec", "shift", "skew_delta", "skip_second_overflow", "tai_offset",
        "twin_ntp_error", "wall_to_monotonic_ns", "xtime_interval", "xtime_nsec",
        "xtime_remainder", "xtime_sec",
    )

    def __init__(
        self,
        clock_mult: int,
        shift: int,
        hz: int,
        ntp: NtpState,
        init: ClockInit,
        *,
        maxadj: int = 0,
        behaviour_restore_on_error: bool = True,
        separate_coarse_nsec: bool = True,
    ) -> None:
        self.ntp = ntp
        self.hz = hz
        self.lazy_keeps_error = False
        self.clock_mult = clock_mult  # the clocksource's (possibly dilated) mult: tkr_raw.mult
        self.maxadj = maxadj
        self.restore_on_error = behaviour_restore_on_error
        self.separate_coarse_nsec = separate_coarse_nsec
        self.coarse_nsec = 0
        self.clock_was_set_seq = 0
        self.next_leap_ktime = KTIME_MAX
        self.mult_warned = False
        self.drain = ntp.behaviour.ntp_skew_drain
        self.tk_setup_internals(shift, init.cycles)
        if self.drain:
            ntp.clear(self.cs_tick_adj)  # timekeeping_init's TK_CLEAR_NTP hands it over
        self._set_readings(init)
        self.tk_update_leap_state()

    # -- setup -------------------------------------------------------------------------

    def tk_setup_internals(self, shift: int, cycles: int) -> None:
        """`tk_setup_internals`: per-tick intervals for this clocksource mult/shift and HZ."""
        self.shift = shift
        self.cycle_last = cycles
        ntp_interval_length = NSEC_PER_SEC // self.hz
        ntpinterval = ntp_interval_length << shift
        interval = (ntpinterval + self.clock_mult // 2) // self.clock_mult
        if interval == 0:
            interval = 1
        self.cycle_interval = _shared(interval)
        self.xtime_interval = _shared(interval * self.clock_mult)
        self.xtime_remainder = _shared(ntpinterval - self.xtime_interval)
        self.raw_interval = self.xtime_interval
        self.ntp_error = 0
        self.twin_ntp_error = 0
        self.ntp_error_shift = NTP_SCALE_SHIFT - shift
        self.ntp_tick = _shared(ntpinterval << self.ntp_error_shift)
        self.mult = self.clock_mult
        self.raw_mult = self.clock_mult
        self.ntp_err_mult = 0
        self.skip_second_overflow = 0
        self.skew_delta = 0
        self.cs_tick_adj = 0
        if self.drain:
            # 7.3: ntp_tick is the accumulated interval itself; its rounding error per second
            # goes to NTP's tick_length through ntp_clear, so no remainder is kept here
            self.ntp_tick = self.xtime_interval << self.ntp_error_shift
            self.cs_tick_adj = (self.ntp_tick - (ntp_interval_length << NTP_SCALE_SHIFT)) * self.hz
            self.xtime_remainder = 0

    def _set_readings(self, init: ClockInit) -> None:
        sec, nsec = divmod(init.realtime_ns, NSEC_PER_SEC)
        self.xtime_sec = sec
        self.xtime_nsec = nsec << self.shift
        self.wall_to_monotonic_ns = init.monotonic_ns - init.realtime_ns
        self.offs_real = -self.wall_to_monotonic_ns
        self.offs_boot = init.boottime_ns - init.monotonic_ns
        self.tai_offset = init.tai_offset
        self.offs_tai = self.offs_real + self.tai_offset * NSEC_PER_SEC
        raw_sec, raw_nsec = divmod(init.raw_ns, NSEC_PER_SEC)
        self.raw_sec = raw_sec
        self.raw_xtime_nsec = raw_nsec << self.shift
        self.tk_update_coarse_nsecs()
        self.tk_update_ktime_data()

    # -- derived fields ----------------------------------------------------------------

    def tk_update_ktime_data(self) -> None:
        """`tk_update_ktime_data`: the ktime bases readers add their fraction to.

        Every change of the readout ends here, as every kernel update ends in
        `timekeeping_update` (which bumps the seqcount readers retry on): a new `read_seq`
        tells the namespaces' read caches that their values are stale.
        """
        self.base_mono = self.xtime_sec * NSEC_PER_SEC + self.wall_to_monotonic_ns
        self.base_raw = self.raw_sec * NSEC_PER_SEC
        self.read_seq = next(_READ_SEQ)

    def readout_changed(self) -> None:
        """Mark the readout changed outside the kernel paths (a field written directly)."""
        self.read_seq = next(_READ_SEQ)

    def tk_update_coarse_nsecs(self) -> None:
        """`tk_update_coarse_nsecs` (v6.15+): the coarse clocks' own copy of the ns fraction.

        The mult steering moves xtime_nsec back to compensate a larger mult, which made the
        coarse clocks step backwards by a few ns; since 6.15 they read this copy, taken only
        when time was accumulated or the clock was set.  Older kernels read xtime_nsec.
        """
        self.coarse_nsec = self.xtime_nsec >> self.shift

    @property
    def wall_to_monotonic(self) -> tuple[int, int]:
        """As the kernel's normalised timespec: (sec, nsec) with 0 ≤ nsec < 1e9."""
        return divmod(self.wall_to_monotonic_ns, NSEC_PER_SEC)

    @property
    def monotonic_to_boot(self) -> tuple[int, int]:
        return divmod(self.offs_boot, NSEC_PER_SEC)

    def tk_set_wall_to_mono(self, wtm_ns: int) -> None:
        """`tk_set_wall_to_mono`: offs_real and offs_tai follow wall_to_monotonic."""
        self.wall_to_monotonic_ns = wtm_ns
        self.offs_real = -wtm_ns
        self.offs_tai = self.offs_real + self.tai_offset * NSEC_PER_SEC

    def set_tai_offset(self, tai: int) -> None:
        """`__timekeeping_set_tai_offset`."""
        self.tai_offset = tai
        self.offs_tai = self.offs_real + tai * NSEC_PER_SEC

    def tk_update_leap_state(self) -> None:
        """`tk_update_leap_state`: the MONOTONIC instant of a pending insertion, or KTIME_MAX."""
        nxt = self.ntp.get_next_leap()
        self.next_leap_ktime = KTIME_MAX if nxt == KTIME_MAX else nxt - self.offs_real

    # -- readout (the kernel read path: pure, never accumulates) ------------------------

    def mono_ns(self, cycles: int) -> int:
        """`ktime_get`: base + ((delta × mult + xtime_nsec) >> shift)."""
        delta = cycles - self.cycle_last
        return self.base_mono + ((delta * self.mult + self.xtime_nsec) >> self.shift)

    def real_ns(self, cycles: int) -> int:
        """`ktime_get_real`: `mono_ns` plus offs_real (written out: the read path's hot call)."""
        delta = cycles - self.cycle_last
        return (self.base_mono + ((delta * self.mult + self.xtime_nsec) >> self.shift)
                + self.offs_real)

    def boot_ns(self, cycles: int) -> int:
        """`ktime_get_boottime`: `mono_ns` plus offs_boot."""
        return self.mono_ns(cycles) + self.offs_boot

    def tai_ns(self, cycles: int) -> int:
        """`ktime_get_clocktai`: `mono_ns` plus offs_tai."""
        return self.mono_ns(cycles) + self.offs_tai

    def raw_ns(self, cycles: int) -> int:
        """`ktime_get_raw`: the unsteered clock, the clocksource's own mult."""
        delta = cycles - self.cycle_last
        return self.base_raw + ((delta * self.raw_mult + self.raw_xtime_nsec) >> self.shift)

    def _coarse_fraction(self) -> int:
        if self.separate_coarse_nsec:
            return self.coarse_nsec
        return self.xtime_nsec >> self.shift

    def mono_coarse_ns(self) -> int:
        """`ktime_get_coarse`: the last accumulation, no counter read (moves in tick steps)."""
        return self.base_mono + self._coarse_fraction()

    def real_coarse_ns(self) -> int:
        """`ktime_get_coarse_real`: xtime_sec and the accumulated nanoseconds."""
        return self.xtime_sec * NSEC_PER_SEC + self._coarse_fraction()

    def coarse_fraction_at_tick(self, tick_cycles: int) -> int:
        """The coarse clocks' ns past xtime_sec once the whole intervals to `tick_cycles` are in.

        Not a kernel function: what `ktime_get_coarse_real` would read after a kernel's tick at
        extended count `tick_cycles` had accumulated the whole cycle_intervals since
        cycle_last with today's mult (each adds xtime_interval), without accumulating them.
        With no whole interval pending it is the coarse fraction held now (`coarse_nsec` from
        v6.15, xtime_nsec before).  The result may pass 10^9 by the seconds those intervals
        would carry; xtime_nsec accumulates nanoseconds·2^shift, so the sum is exact.  A lazy
        namespace reads its coarse clocks through this (its plan accumulates at every second
        boundary where NTP has work, and wherever the tick length or mult would change), so
        they tick as a periodic twin's do; since the intervals end at or before the read, the
        value never leads the fine clock's.
        """
        return coarse_fraction_after_ticks(
            self.cycle_last, self.xtime_nsec, self.xtime_interval, self._coarse_fraction(),
            self.cycle_interval, self.shift, tick_cycles)

    def cycles_for_mono(self, target_ns: int) -> int:
        """The first extended cycle at which `mono_ns` reads ≥ `target_ns`, with today's mult.

        The exact inverse of `mono_ns` for the current parameters: a timer armed in namespace
        time is queued on the host at this cycle.  An accumulation or mult change before then
        can move the true answer by a few cycles; the timer queue re-checks on expiry.
        """
        need = ((target_ns - self.base_mono) << self.shift) - self.xtime_nsec
        if need <= 0:
            return self.cycle_last
        return self.cycle_last + -(-need // self.mult)

    def cycles_for_raw(self, target_ns: int) -> int:
        need = ((target_ns - self.base_raw) << self.shift) - self.raw_xtime_nsec
        if need <= 0:
            return self.cycle_last
        return self.cycle_last + -(-need // self.raw_mult)

    # -- accumulation --------------------------------------------------------------------

    def timekeeping_advance(
        self, cycles: int, mode: int = TK_ADV_TICK, steer_at: int | None = None
    ) -> int:
        """`timekeeping_advance`: accumulate whole ticks up to `cycles`, then steer mult.

        `steer_at` (not kernel: a lazy catch-up done after the tick it stands for) keeps the
        reading continuous at that later cycle count instead of at `cycles`, so the clocks
        read before the catch-up never jump back.

        Returns the TK_CLOCK_WAS_SET bit when a leap second was applied (the caller runs
        `clock_was_set_delayed`), else 0.
        """
        interval = self.cycle_interval
        offset = cycles - self.cycle_last
        if offset < interval and mode == TK_ADV_TICK:
            return 0
        clock_set = 0
        chunks = 0
        first, error_before = self.cycle_last, self.ntp_error
        if (offset >= interval and self.bulk_quiet and not self.skew_delta
                and self.xtime_nsec >= 0
                and ((quiet := self._quiet_span())
                     or offset < interval * (self.hz << 1)
                     or self.ntp.needs_per_second_hook())):
            # (a long span past a pending skip is left to the loop)
            if quiet:
                self.accumulate_quiet_ticks(offset)
            else:
                clock_set = self.accumulate_whole_ticks(offset)
            if TRACE.enabled:
                chunks = _chunk_count(offset, interval, self._chunk_shift(offset))
            else:
                chunks = 1
            offset %= interval
        # the chunk size only matters to the loop (the bulk path above leaves < 1 interval)
        shift = self._chunk_shift(offset) if offset >= interval else 0
        while offset >= self.cycle_interval:
            repeats = offset // (self.cycle_interval << shift)
            if repeats > 1 and self.bulk_quiet and self._quiet_span():
                offset = self.accumulate_quiet_chunks(offset, shift, repeats)
                chunks += repeats
            else:
                offset, set_now = self.logarithmic_accumulation(offset, shift)
                clock_set |= set_now
                chunks += 1
            if offset < (self.cycle_interval << shift):
                shift -= 1
        if self.lazy_keeps_error and self.cycle_last != first:
            self._follow_twin(first, error_before)
        sec_before = self.xtime_sec
        self.timekeeping_adjust(offset if steer_at is None else offset + steer_at - cycles)
        clock_set |= self.accumulate_nsecs_to_secs()
        if chunks:
            self.tk_update_coarse_nsecs()
        elif self.xtime_sec != sec_before:
            # v6.15+ refreshes coarse_nsec only when cycles were accumulated.  When the mult
            # compensation alone carries (or borrows) a whole second — a TK_ADV_FREQ advance
            # within a fraction of a tick of a second boundary — xtime_sec moves while
            # coarse_nsec stays, so by the code the coarse clocks would read ~1 s ahead
            # (behind).  A deliberate, documented deviation: keep the coarse reading where it
            # was, as every other TK_ADV_FREQ advance does.
            self.coarse_nsec += (sec_before - self.xtime_sec) * NSEC_PER_SEC
        self.timekeeping_update(clock_set)
        if TRACE.enabled:
            emit(
                "accumulation",
                tk=id(self),
                mode="freq" if mode == TK_ADV_FREQ else "tick",
                chunks=chunks,
                cycle_last=self.cycle_last,
                xtime_sec=self.xtime_sec,
                mult=self.mult,
                ntp_error=self.ntp_error,
            )
        return clock_set

    def _chunk_shift(self, offset: int) -> int:
        """`timekeeping_advance`'s first chunk size: ilog2(offset) − ilog2(cycle_interval),
        at least 0, capped so a chunk's NTP length (tick_length << shift) stays in 63 bits."""
        shift = max(0, ilog2(offset) - ilog2(self.cycle_interval))
        return min(shift, (64 - (ilog2(self.ntp.tick_length) + 1)) - 1)

    def accumulate_whole_ticks(self, offset: int) -> int:
        """Every whole cycle_interval of `offset`, as the chunks of `logarithmic_accumulation`
        would add them; returns TK_CLOCK_WAS_SET if a leap was applied, else 0.

        Not a kernel function: the kernel's loop adds chunks of 2^shift intervals and carries
        whole seconds (running `second_overflow`) after each.  With no 7.3 skew cached
        (`skew_delta` 0) every chunk adds 2^shift times one interval's cycles, nanoseconds
        and NTP error, and nothing a chunk adds depends on what `second_overflow` changed
        (it moves NTP's tick_length, which this timekeeper caches only in the adjust after
        the loop, and xtime_sec, which no chunk reads).  So the sums over all the chunks come
        first, then the same second_overflow calls, with the same second each, in the same
        order: the same state, for any xtime_nsec ≥ 0 at the start.
        """
        self._add_whole_ticks(offset // self.cycle_interval)
        if self.xtime_nsec >= NSEC_PER_SEC << self.shift:
            return self.accumulate_nsecs_to_secs()
        return 0

    def accumulate_quiet_ticks(self, offset: int) -> None:
        """`accumulate_whole_ticks` over a quiet span (`_quiet_span`), in O(1) for any length.

        Not a kernel function: every second carried only grows maxerror, so the seconds go
        in one `NtpState.advance_quiet_seconds`, as `accumulate_quiet_chunks` does; no leap
        can be applied on the way.
        """
        self._add_whole_ticks(offset // self.cycle_interval)
        nsecps = NSEC_PER_SEC << self.shift
        if self.xtime_nsec >= nsecps:
            seconds, self.xtime_nsec = divmod(self.xtime_nsec, nsecps)
            self.xtime_sec += seconds
            self.ntp.advance_quiet_seconds(seconds)

    def _add_whole_ticks(self, n: int) -> None:
        """n intervals' cycles, nanoseconds, raw time and NTP error, seconds not yet carried
        (raw seconds are: nothing hooks them)."""
        self.cycle_last += n * self.cycle_interval
        self.xtime_nsec += n * self.xtime_interval
        self.raw_xtime_nsec += n * self.raw_interval
        nsecps = NSEC_PER_SEC << self.shift
        if self.raw_xtime_nsec >= nsecps:
            raw_seconds, self.raw_xtime_nsec = divmod(self.raw_xtime_nsec, nsecps)
            self.raw_sec += raw_seconds
        self.ntp_error += n * self._chunk_error(0)

    def logarithmic_accumulation(self, offset: int, shift: int) -> tuple[int, int]:
        """`logarithmic_accumulation`: add one chunk of cycle_interval << shift cycles."""
        interval = self.cycle_interval << shift
        if offset < interval:
            return offset, 0
        offset -= interval
        self.cycle_last += interval
        self.xtime_nsec += self.xtime_interval << shift
        clock_set = self.accumulate_nsecs_to_secs()
        self.raw_xtime_nsec += self.raw_interval << shift
        snsec_per_sec = NSEC_PER_SEC << self.shift
        while self.raw_xtime_nsec >= snsec_per_sec:
            self.raw_xtime_nsec -= snsec_per_sec
            self.raw_sec += 1
        self.ntp_error += self._chunk_error(shift)
        if self.skew_delta:
            # 7.3: drain after second_overflow ran, at the rate cached by the last adjust
            self.ntp_error += self.ntp.drain_skew(self.skew_delta, shift) * self.hz
        return offset, clock_set

    #: Accumulate runs of equal chunks over quiet NTP seconds in closed form.  The result is
    #: bit-identical to chunk-by-chunk accumulation (a differential test holds it to that);
    #: set False on an instance to run the kernel's loop literally.
    bulk_quiet = True

    def _quiet_span(self) -> bool:
        """Whether every second_overflow of the coming chunks only grows maxerror.

        Quiet NTP (see `NtpState.needs_per_second_hook`) stays quiet through its own seconds,
        and with no 7.3 skew and no pending skip, every chunk of one shift adds the same
        cycles, nanoseconds and NTP error.
        """
        return not (self.skip_second_overflow or self.skew_delta
                    or self.ntp.needs_per_second_hook())

    def accumulate_quiet_chunks(self, offset: int, shift: int, repeats: int) -> int:
        """`repeats` calls of `logarithmic_accumulation` at one shift, in closed form.

        Not a kernel function: the kernel's loop runs chunk by chunk (at most about a second
        each), calling second_overflow for every second carried.  Over a quiet span each
        chunk adds the same amounts and each second only grows maxerror, so the sums and
        `NtpState.advance_quiet_seconds` give the same state in O(1).  Returns what is left
        of `offset`.
        """
        interval = self.cycle_interval << shift
        self.cycle_last += interval * repeats
        nsecps = NSEC_PER_SEC << self.shift
        self.xtime_nsec += (self.xtime_interval << shift) * repeats
        if self.xtime_nsec >= nsecps:  # the steering may have left xtime_nsec below 0
            seconds, self.xtime_nsec = divmod(self.xtime_nsec, nsecps)
            self.xtime_sec += seconds
            self.ntp.advance_quiet_seconds(seconds)
        self.raw_xtime_nsec += (self.raw_interval << shift) * repeats
        if self.raw_xtime_nsec >= nsecps:
            raw_seconds, self.raw_xtime_nsec = divmod(self.raw_xtime_nsec, nsecps)
            self.raw_sec += raw_seconds
        self.ntp_error += self._chunk_error(shift) * repeats
        return offset - interval * repeats

    def _chunk_error(self, shift: int) -> int:
        """What one chunk of cycle_interval << shift adds to ntp_error: NTP's length of the
        chunk less the nanoseconds it accumulated (`logarithmic_accumulation`)."""
        return (self.ntp_tick << shift) - (
            (self.xtime_interval + self.xtime_remainder) << (self.ntp_error_shift + shift))

    def accumulate_nsecs_to_secs(self) -> int:
        """`accumulate_nsecs_to_secs`: whole seconds go to xtime_sec; NTP's hook runs for each."""
        nsecps = NSEC_PER_SEC << self.shift
        clock_set = 0
        while self.xtime_nsec >= nsecps:
            self.xtime_nsec -= nsecps
            self.xtime_sec += 1
            if self.skip_second_overflow:
                self.skip_second_overflow = 0
                continue
            leap = self.ntp.second_overflow(self.xtime_sec)
            if leap:
                self.xtime_sec += leap
                self.tk_set_wall_to_mono(self.wall_to_monotonic_ns - leap * NSEC_PER_SEC)
                self.set_tai_offset(self.tai_offset - leap)
                clock_set = TK_CLOCK_WAS_SET
                if TRACE.enabled:
                    emit("leap_applied", tk=id(self), leap=leap, xtime_sec=self.xtime_sec)
        return clock_set

    def timekeeping_adjust(self, offset: int) -> None:
        """`timekeeping_adjust` (v4.19+): mult from NTP's tick length, plus the ±1 dither."""
        tick_length = self.ntp.tick_length
        if self.drain:
            mult = self._drain_base_mult(tick_length)
        elif self.ntp_tick == tick_length:
            mult = self.mult - self.ntp_err_mult
        else:
            self.ntp_tick = tick_length
            mult = ((tick_length >> self.ntp_error_shift) - self.xtime_remainder) // (
                self.cycle_interval
            )
        if self.drain and self.lazy_keeps_error:
            # the twin books the same change of the base mult (its dither is its own)
            self.twin_ntp_error += (offset * (mult - self.mult + self.ntp_err_mult)
                                    ) << self.ntp_error_shift
        self.ntp_err_mult = 1 if self.ntp_error > 0 else 0
        mult += self.ntp_err_mult
        old = self.mult
        self.timekeeping_apply_adjustment(offset, mult - self.mult)
        if self.maxadj and abs(self.mult - self.clock_mult) > self.maxadj and not self.mult_warned:
            self.mult_warned = True
            emit("mult_beyond_11_percent", tk=id(self), mult=self.mult, base=self.clock_mult)
        if self.xtime_nsec < 0:
            self.xtime_nsec += NSEC_PER_SEC << self.shift
            self.xtime_sec -= 1
            self.skip_second_overflow = 1
        if TRACE.enabled and self.mult != old:
            emit("mult_change", tk=id(self), old=old, new=self.mult, ntp_error=self.ntp_error)

    def _drain_base_mult(self, tick_length: int) -> int:
        """7.3 `timekeeping_adjust`: re-cache tick_length and skew_delta when either changed.

        The cached skew is what the intervals of the next advance drain, and mult carries it
        as a bias of skew_delta·HZ per interval; otherwise mult only loses the old dither.
        """
        skew = self.ntp.skew_delta
        if self.ntp_tick == tick_length and self.skew_delta == skew:
            return self.mult - self.ntp_err_mult
        self.ntp_tick, self.skew_delta = tick_length, skew
        return ((tick_length + skew * self.hz) >> self.ntp_error_shift) // self.cycle_interval

    def timekeeping_apply_adjustment(self, offset: int, mult_adj: int) -> None:
        """`timekeeping_apply_adjustment`: change mult and keep "now" continuous."""
        if mult_adj == 0:
            return
        if mult_adj > 0 and self.mult + mult_adj > U32_MAX:
            emit("mult_overflow_refused", tk=id(self), mult=self.mult, adj=mult_adj)
            return
        self.mult += mult_adj
        self.xtime_interval += self.cycle_interval * mult_adj
        self.xtime_nsec -= offset * mult_adj
        if self.drain:
            # 7.3 books the ns taken off xtime_nsec as error again
            self.ntp_error += (offset * mult_adj) << self.ntp_error_shift

    # `lazy_keeps_error` (a slot, False from __init__) is set on a lazy namespace's timekeeper
    # (not kernel): TK_CLEAR_NTP and resume keep ntp_error instead of zeroing it.  A
    # tick-by-tick kernel holds ntp_error within a fraction of a ns of 0, so zeroing forgets
    # nothing; a lazy one's may be up to the host's `lazy_error_bound_ns` away, and forgetting
    # it would leave the clock that far from where a periodic twin's is with the dither
    # steering from there: up to twice the bound apart.
    #
    # `twin_ntp_error` (a slot, 0 from tk_setup_internals), lazy only (not kernel): the
    # ntp_error a tick-by-tick twin fed the same inputs would hold, followed in closed form
    # (`follow_dither`).  ntp_error plus the accumulated clock (both in ns·2^32) is NTP's
    # ideal in either twin, so ntp_error minus this is how far the lazy clock trails the
    # twin's.  That difference is what a clear keeps: 7.3 books a mult change's continuity
    # correction in ntp_error (up to 500 ns for 50 ppm at HZ 100) and the twin, whose dither
    # only pulls one way, may still hold most of it when a step zeroes it.

    def clear_ntp_error(self) -> None:
        """The `ntp_error = 0` of `timekeeping_update` (TK_CLEAR_NTP) and `timekeeping_resume`;
        a lazy timekeeper keeps how far it trails its tick-by-tick twin (`lazy_keeps_error`,
        `twin_ntp_error`)."""
        if self.lazy_keeps_error:
            self.ntp_error -= self.twin_ntp_error
        else:
            self.ntp_error = 0
        self.twin_ntp_error = 0

    def _fold_twin(self, delta: int, drift: int) -> None:
        """`timekeeping_forward_now` for the twin: its ticks over the whole intervals of
        `delta`, then the fraction left at the dither it has reached.  `drift` is this
        timekeeper's ntp_error growth per interval at its own dither."""
        step = self.cycle_interval << self.ntp_error_shift
        rate_off = drift + self.ntp_err_mult * step
        intervals, rest = divmod(delta, self.cycle_interval)
        twin = follow_dither(self.twin_ntp_error, intervals, rate_off, step)
        rate = rate_off - step if twin > 0 else rate_off
        self.twin_ntp_error = twin + rate * rest // self.cycle_interval

    def _follow_twin(self, first: int, error_before: int) -> None:
        """Move `twin_ntp_error` over the intervals just accumulated from cycle `first`.

        Lazy planning keeps ntp_error linear between accumulations, so its growth per
        interval with this timekeeper's own dither gives the twin's growth with the dither
        off; one mult step is cycle_interval·2^es per interval.
        """
        intervals = (self.cycle_last - first) // self.cycle_interval
        step = self.cycle_interval << self.ntp_error_shift
        rate_off = (self.ntp_error - error_before) // intervals + self.ntp_err_mult * step
        self.twin_ntp_error = follow_dither(self.twin_ntp_error, intervals, rate_off, step)

    def timekeeping_update(self, action: int) -> None:
        """`timekeeping_update`: clear NTP if asked, refresh leap state and readout bases."""
        if action & TK_CLEAR_NTP:
            self.clear_ntp_error()
            self.ntp.clear(self.cs_tick_adj if self.drain else None)
        self.tk_update_leap_state()
        self.tk_update_ktime_data()
        if action & TK_CLOCK_WAS_SET:
            self.clock_was_set_seq += 1

    def timekeeping_forward_now(self, cycles: int) -> None:
        """`timekeeping_forward_now`: fold the cycles since cycle_last into xtime (no NTP hook).

        The kernel splits long deltas into max_cycles pieces to stay within u64; the sum is
        the same, and Python's integers need no split.  Whole seconds move into xtime_sec
        without calling `second_overflow`, exactly as `tk_normalize_xtime` does.  A lazy
        timekeeper also books in ntp_error the drift of the cycles folded (`lazy_keeps_error`).
        """
        delta = cycles - self.cycle_last
        if self.lazy_keeps_error:
            # not kernel: book the drift of the folded cycles, so the residue a clear keeps is
            # the clock's own (a tick-by-tick kernel folds less than a tick's worth)
            drift = self._chunk_error(0)
            self.ntp_error += drift * delta // self.cycle_interval
            self._fold_twin(delta, drift)
        self.cycle_last = cycles
        self.xtime_nsec += delta * self.mult
        self.raw_xtime_nsec += delta * self.raw_mult
        nsecps = NSEC_PER_SEC << self.shift
        if self.xtime_nsec >= nsecps:
            carry, self.xtime_nsec = divmod(self.xtime_nsec, nsecps)
            self.xtime_sec += carry
        if self.raw_xtime_nsec >= nsecps:
            carry, self.raw_xtime_nsec = divmod(self.raw_xtime_nsec, nsecps)
            self.raw_sec += carry
        self.tk_update_coarse_nsecs()

    # -- setting the clock ---------------------------------------------------------------

    def realtime_ts(self) -> tuple[int, int]:
        """`tk_xtime`: REALTIME as of the last accumulation or forward (sec, nsec)."""
        return self.xtime_sec, self.xtime_nsec >> self.shift

    def do_settimeofday64(self, cycles: int, sec: int, nsec: int) -> None:
        """`do_settimeofday64`: set REALTIME; MONOTONIC must not go backwards (EINVAL).

        On success NTP is cleared (TK_CLEAR_NTP) and the caller runs clock_was_set.
        """
        if not settod_valid(sec, nsec):
            raise einval(f"settime value {sec}.{nsec:09d} outside 0..{TIME_SETTOD_SEC_MAX} s")
        snapshot = self.snapshot()
        self.timekeeping_forward_now(cycles)
        xsec, xnsec = self.realtime_ts()
        ts_delta = (sec - xsec) * NSEC_PER_SEC + (nsec - xnsec)
        if self.wall_to_monotonic_ns > ts_delta:
            self._error_path(snapshot)
            raise einval("settime below the current CLOCK_MONOTONIC value")
        self.tk_set_wall_to_mono(self.wall_to_monotonic_ns - ts_delta)
        self.xtime_sec = sec
        self.xtime_nsec = nsec << self.shift
        self.tk_update_coarse_nsecs()
        self.timekeeping_update(TK_CLEAR_NTP | TK_CLOCK_WAS_SET)

    def timekeeping_inject_offset(self, cycles: int, sec: int, nsec: int) -> None:
        """`timekeeping_inject_offset` (ADJ_SETOFFSET): add sec + nsec to REALTIME."""
        if not 0 <= nsec < NSEC_PER_SEC:
            raise einval(f"ADJ_SETOFFSET fraction {nsec} ns outside 0..999999999")
        snapshot = self.snapshot()
        self.timekeeping_forward_now(cycles)
        xsec, xnsec = self.realtime_ts()
        offset_ns = sec * NSEC_PER_SEC + nsec
        tsec, tnsec = divmod(xsec * NSEC_PER_SEC + xnsec + offset_ns, NSEC_PER_SEC)
        if self.wall_to_monotonic_ns > offset_ns or not settod_valid(tsec, tnsec):
            self._error_path(snapshot)
            raise einval("ADJ_SETOFFSET would put REALTIME below MONOTONIC or out of range")
        self.xtime_sec += sec
        self.xtime_nsec += nsec << self.shift
        nsecps = NSEC_PER_SEC << self.shift
        if self.xtime_nsec >= nsecps:
            self.xtime_nsec -= nsecps
            self.xtime_sec += 1
        self.tk_update_coarse_nsecs()
        self.tk_set_wall_to_mono(self.wall_to_monotonic_ns - offset_ns)
        self.timekeeping_update(TK_CLEAR_NTP | TK_CLOCK_WAS_SET)

    def _error_path(self, snapshot: dict[str, Any]) -> None:
        """v6.13+ restores the shadow timekeeper; v5.x–6.12 still ran the TK_CLEAR_NTP update."""
        if self.restore_on_error:
            self.restore(snapshot)
        else:
            self.timekeeping_update(TK_CLEAR_NTP | TK_CLOCK_WAS_SET)

    def inject_sleeptime(self, cycles: int, sleep_ns: int) -> None:
        """`__timekeeping_inject_sleeptime` + resume: BOOTTIME and REALTIME jump, MONOTONIC not.

        As `timekeeping_resume` does, the cycles that passed while suspended are discarded
        (cycle_last = now) and ntp_error restarts from zero.
        """
        self.cycle_last = cycles
        self.xtime_sec += sleep_ns // NSEC_PER_SEC
        self.xtime_nsec += (sleep_ns % NSEC_PER_SEC) << self.shift
        nsecps = NSEC_PER_SEC << self.shift
        if self.xtime_nsec >= nsecps:
            self.xtime_nsec -= nsecps
            self.xtime_sec += 1
        self.tk_update_coarse_nsecs()
        self.tk_set_wall_to_mono(self.wall_to_monotonic_ns - sleep_ns)
        self.offs_boot += sleep_ns
        self.clear_ntp_error()
        self.timekeeping_update(TK_CLOCK_WAS_SET)

    # -- lazy-mode planning (not kernel code: when must a lazy namespace next accumulate?) --

    def cycles_of_next_second(self) -> int:
        """The extended cycle of the first tick boundary at which xtime_sec will advance.

        `second_overflow` runs when an accumulation chunk carries xtime_nsec past one second;
        with today's mult that is after k more ticks.  A lazy namespace that is slewing or has
        a leap pending keeps one queue entry here, so its NTP hook runs on the same tick a
        periodic namespace's would.
        """
        nsecps = NSEC_PER_SEC << self.shift
        need = nsecps - self.xtime_nsec
        k = max(1, -(-need // self.xtime_interval))
        return self.cycle_last + k * self.cycle_interval

    def steered_tick_length(self) -> int:
        """The tick length (ns·2^32 per interval) mult is being steered to: NTP's tick_length,
        and in 7.3 the cached base plus the cached skew_delta·HZ (the slew lives apart)."""
        if self.drain:
            return self.ntp_tick + self.skew_delta * self.hz
        return self.ntp.tick_length

    def cycles_of_ntp_work(self) -> int | None:
        """Where a lazy namespace must next accumulate for NTP's sake, or None when quiet.

        Not kernel code: the next tick while the cached `ntp_tick` is not NTP's tick_length
        (the tick at which a kernel's `timekeeping_adjust` takes it), the next second
        boundary while `second_overflow` has work, and in 7.3
        also the tick before it (while a skew drains) and the next change of the per-interval
        drain (`cycles_of_drain_change`).  So no chunk of a lazy advance mixes intervals that a
        tick-by-tick timekeeper would drain differently.
        """
        key = self.cycles_of_next_second() if self.ntp.needs_per_second_hook() else None
        if self.ntp_tick != self.ntp.tick_length:
            # adjtimex moved NTP's tick length (ADJ_OFFSET re-runs ntp_update_frequency, but
            # only ADJ_FREQUENCY and ADJ_TICK get the TK_ADV_FREQ advance): a kernel's next tick
            # caches it in timekeeping_adjust, and every interval after that tick is booked in
            # ntp_error against the new length.  Accumulate there too, or one long chunk books
            # the stale length and ntp_error stops measuring the clock's real drift.
            key = self.cycle_last + self.cycle_interval
        if self.drain:
            if key is not None and self.skew_delta and key - self.cycle_interval > self.cycle_last:
                # second_overflow sees T and A as they were before its whole chunk: stop one
                # tick short, so the boundary interval is a chunk of its own, as on every tick
                key -= self.cycle_interval
            change = self.cycles_of_drain_change()
            if change is not None and (key is None or change < key):
                key = change
        return key

    def ntp_error_rate(self) -> int:
        """How much ntp_error grows per accumulated tick with today's mult and NTP tick.

        In 7.3 a tick also credits what it drains; that is constant only within one run of
        `cycles_of_drain_change`, which a lazy namespace therefore never accumulates across.
        """
        rate = self.ntp_tick - (
            (self.xtime_interval + self.xtime_remainder) << self.ntp_error_shift
        )
        if self.skew_delta:
            rate += drain.drained_per_interval(self.ntp, self.skew_delta) * self.hz
        return rate

    def cycles_of_drain_change(self) -> int | None:
        """7.3, lazy planning: the tick boundary at which the per-interval drain next changes.

        Not kernel code.  A NTP skew the cache has not taken yet (after ntp_clear) needs the next
        tick's adjust; a cached skew drains at one rate until the adjtime pool or the phase
        offset runs short (`ntp.drain.intervals_until_drain_change`).  None when nothing drains.
        """
        if self.skew_delta != self.ntp.skew_delta:
            return self.cycle_last + self.cycle_interval
        k = drain.intervals_until_drain_change(self.ntp, self.skew_delta)
        return None if k is None else self.cycle_last + k * self.cycle_interval

    def cycles_of_dither_flip(self, bound: int) -> int | None:
        """When must a lazy namespace accumulate so the ±1 mult dither keeps |ntp_error| ≲ bound?

        A kernel re-decides the dither on every tick.  A lazy namespace decides only when it
        accumulates, so between accumulations ntp_error drifts linearly.  This returns the
        end of the last interval before it would pass `bound` in the direction it is moving
        (the accumulation at the tick there flips the dither), or None when it does not drift.
        The tick a hook lands on accumulates no interval ending after it, so |ntp_error| stays
        within `bound` (the first interval past it would overshoot by up to one interval's
        drift: 1.8 ns at HZ 100).
        """
        rate = self.ntp_error_rate()
        if rate == 0:
            return None
        if self.drain and (rate < 0) == (self.ntp_err_mult == 0):
            # 7.3 only: a dry pool under a kept bias drives the error away from the side the
            # dither corrects; a tick-by-tick kernel keeps the dither as it is, so no flip
            return None
        room = bound - self.ntp_error if rate > 0 else bound + self.ntp_error
        k = room // abs(rate)
        return self.cycle_last + max(1, k) * self.cycle_interval

    # -- state ---------------------------------------------------------------------------

    _FIELDS: ClassVar[tuple[str, ...]] = (
        "shift",
        "cycle_last",
        "cycle_interval",
        "xtime_interval",
        "xtime_remainder",
        "raw_interval",
        "ntp_error",
        "ntp_error_shift",
        "ntp_tick",
        "mult",
        "raw_mult",
        "clock_mult",
        "ntp_err_mult",
        "skip_second_overflow",
        "xtime_sec",
        "xtime_nsec",
        "wall_to_monotonic_ns",
        "offs_real",
        "offs_boot",
        "offs_tai",
        "tai_offset",
        "raw_sec",
        "raw_xtime_nsec",
        "clock_was_set_seq",
        "next_leap_ktime",
        "base_mono",
        "base_raw",
        "hz",
        "maxadj",
        "mult_warned",
        "coarse_nsec",
        "separate_coarse_nsec",
    )

    def snapshot(self) -> dict[str, Any]:
        """Every kernel field and the NTP state, as plain ints (checkpoints, error restore)."""
        state: dict[str, Any] = {name: getattr(self, name) for name in self._FIELDS}
        if self.drain:
            state.update((name, getattr(self, name)) for name in self._DRAIN_FIELDS)
        if self.twin_ntp_error:
            state["twin_ntp_error"] = self.twin_ntp_error
        state["ntp"] = self.ntp.to_dict()
        return state

    #: 7.3's extra timekeeper fields (the cached skew, the tick rounding handed to NTP).
    _DRAIN_FIELDS: ClassVar[tuple[str, ...]] = ("skew_delta", "cs_tick_adj")

    def restore(self, state: dict[str, Any]) -> None:
        for name in self._FIELDS:
            setattr(self, name, state[name])
        for name in self._DRAIN_FIELDS:
            setattr(self, name, state.get(name, 0))
        self.twin_ntp_error = state.get("twin_ntp_error", 0)
        self.ntp = NtpState.from_dict(state["ntp"])
        self.drain = self.ntp.behaviour.ntp_skew_drain
        self.readout_changed()

    def __repr__(self) -> str:
        return (
            f"Timekeeper(xtime_sec={self.xtime_sec}, mult={self.mult}, shift={self.shift}, "
            f"cycle_last={self.cycle_last}, ntp_error={self.ntp_error})"
        )


def follow_dither(error: int, intervals: int, rate_off: int, step: int) -> int:
    """ntp_error after `intervals` ticks of a tick-by-tick kernel's ±1 mult dither.

    Not a kernel function: the closed form of what `timekeeping_adjust` does tick by tick.
    Each interval adds `rate_off` with the dither off (ntp_error ≤ 0 at the last adjust) and
    `rate_off - step` with it on.  Once the dither pulls the error back across 0 it stays in
    (rate_off - step, rate_off], a band of width `step`, and each interval moves it by
    rate_off modulo the band.  Continuity corrections of the flips (7.3) are left out: they
    alternate in sign and stay below one step.
    """
    rate_on = rate_off - step
    while intervals > 0:
        if error <= 0:
            if rate_off <= 0:
                return error + intervals * rate_off
            k = -error // rate_off + 1  # intervals until the error is above 0
            if k >= intervals:
                return error + intervals * rate_off
            error += k * rate_off
        else:
            if rate_on >= 0:
                return error + intervals * rate_on
            k = -(-error // -rate_on)  # intervals until the error is at or below 0
            if k >= intervals:
                return error + intervals * rate_on
            error += k * rate_on
        intervals -= k
        if rate_on < 0 < rate_off:
            return rate_on + 1 + (error + intervals * rate_off - rate_on - 1) % step
    return error
