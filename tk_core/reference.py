"""The exact ideal each timekeeper approximates, as a rational function of the counter.

The kernel turns cycles into nanoseconds with an integer mult and shift and keeps the long-run
rate right with a ±1 dither on mult.  This module integrates the same inputs with exact
rationals, so `ns.reference_error_ns(clockid)` shows what the integer arithmetic costs.  Two
ideals, because two different questions are asked of it:

* ``"kernel"``: the rate the kernel's own steering aims at, m* = (tick_length / 2^(32−shift)
  − xtime_remainder) / cycle_interval, exactly (no floor, no dither).  The clocksource's
  registered mult is taken as given.  The error against this ideal is what the timekeeper's
  arithmetic adds: truncation to whole ns plus the dither's ntp_error, and it stays bounded.
* ``"nominal"``: the counter's nominal frequency taken exactly (1e9 / (freq × dilation) ns per
  cycle), scaled by NTP's frequency (tick_length × HZ / (1e9 · 2^32)).  Against this ideal
  the kernel also carries the quantisation of the registered mult itself: a constant rate
  bias (−0.0596 ppm for a 3 GHz TSC, whose mult 5592405 stands for 5592405.33), exactly as a
  real kernel does until NTP steers it out.

In 7.3 the slew is no longer part of NTP's tick length: the timekeeper carries it as its cached
skew_delta (`Timekeeper.steered_tick_length` adds it back), so the ideal follows the rate mult is
steered to, including the part of a second in which the drained pool has run dry.

Both ideals share the kernel's steps (settimeofday, ADJ_SETOFFSET, leap seconds, suspend),
which are exact integers, so only the rate is modelled here.  Re-anchoring happens only when
NTP's tick length changes, so keeping a reference costs one integer compare per accumulation.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, ClassVar

from gmpy2 import mpq

from .clockids import (
    CLOCK_BOOTTIME,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME,
    CLOCK_TAI,
)

if TYPE_CHECKING:
    from .timekeeper import Timekeeper

NSEC_PER_SEC = 1_000_000_000
IDEALS = ("kernel", "nominal")


@functools.lru_cache(maxsize=256)
def _raw_rate(clock_mult: int, shift: int) -> mpq:
    """RAW's exact ns per cycle, clock_mult / 2^shift (shared: mpq values are immutable)."""
    return mpq(clock_mult, 1 << shift)


@functools.lru_cache(maxsize=256)
def _segment(tick_length: int, ntp_error_shift: int, xtime_remainder: int,
             cycle_interval: int, shift: int, hz: int) -> tuple[int, int, int]:
    """A segment's integers: the kernel rate's numerator and denominator, the nominal rate's
    numerator (see `Reference`).

    A pure function of its arguments, kept for reuse: the namespaces of a host mostly share
    their parameters, so they share these integers instead of each holding its own.
    """
    return (tick_length - (xtime_remainder << ntp_error_shift),
            cycle_interval << (shift + ntp_error_shift), tick_length * hz)


class Reference:
    """Exact ideal MONOTONIC and RAW for one timekeeper (see the module docstring).

    The ideal moves at a new rate wherever NTP's tick length changes: every second while a
    namespace slews.  Summing d·rate in rationals at each change grows the denominators and
    costs a gcd per operation, so the segments are summed in integers instead: the kernel
    ideal's rate is (tick_length − xtime_remainder·2^es) / (cycle_interval·2^(shift+es)) and
    the nominal one's tick_length·hz / (freq_eff·2^32), so over segments sharing the
    denominators Σ dᵢ·rateᵢ is one integer sum over one fixed denominator: the same rational,
    exactly.  The rationals (`mono`, `raw`, ...) are brought up to the anchor when read.  A
    rate given as a rational (a restored checkpoint) is integrated as a rational.
    """

    #: The exact rationals and the integers that make up the state (checkpoints use these).
    RATIONAL_FIELDS: ClassVar[tuple[str, ...]] = (
        "freq_eff",
        "mono",
        "nominal_mono",
        "nominal_rate",
        "nominal_raw",
        "rate",
        "raw",
        "raw_rate",
    )
    INT_FIELDS: ClassVar[tuple[str, ...]] = ("anchor_cycles", "tick_length")
    __slots__ = (
        "_anchor",
        "_base",
        "_freq_eff",
        "_kernel_den",
        "_kernel_num",
        "_mono",
        "_nominal_mono",
        "_nominal_num",
        "_nominal_rate",
        "_nominal_raw",
        "_rate",
        "_raw",
        "_raw_rate",
        "_sum_kernel",
        "_sum_nominal",
        "tick_length",
    )

    def __init__(self, tk: Timekeeper, cycles: int, freq_eff: mpq) -> None:
        self._freq_eff = mpq(freq_eff)
        self._anchor = self._base = cycles
        self._mono = mpq(tk.mono_ns(cycles))
        self._raw = mpq(tk.raw_ns(cycles))
        self._nominal_mono = self._mono
        self._nominal_raw = self._raw
        self._raw_rate = _raw_rate(tk.clock_mult, tk.shift)
        self._sum_kernel = self._sum_nominal = 0
        self._kernel_den = 1
        self._kernel_num: int | None = None
        self._nominal_num = 0
        self._rate: mpq | None = None
        self._nominal_rate: mpq | None = None
        self.tick_length = -1
        self._set_rates(tk)

    # -- the segments, summed in integers ---------------------------------------------------

    def _set_rates(self, tk: Timekeeper) -> None:
        """Start a segment at the rates of NTP's tick length now (the anchor is here)."""
        tick_length = tk.steered_tick_length()
        self.tick_length = tick_length
        kernel_num, den, nominal_num = _segment(
            tick_length, tk.ntp_error_shift, tk.xtime_remainder, tk.cycle_interval, tk.shift,
            tk.hz)
        if den != self._kernel_den:
            self._settle()  # the sums so far are over the other denominator
            self._kernel_den = den
        self._kernel_num = kernel_num
        self._nominal_num = nominal_num
        self._rate = self._nominal_rate = None

    def _move_anchor(self, cycles: int) -> None:
        d = cycles - self._anchor
        if d:
            if self._kernel_num is None:  # rates given as rationals: integrate them so
                assert self._rate is not None and self._nominal_rate is not None
                self._mono += d * self._rate  # (the integer sums stay 0; RAW's span, too,
                self._nominal_mono += d * self._nominal_rate  # waits for `_settle`)
            else:
                self._sum_kernel += d * self._kernel_num
                self._sum_nominal += d * self._nominal_num
            self._anchor = cycles

    def _settle(self) -> None:
        """Bring the rationals up to the anchor: the integer sums become rational once."""
        span = self._anchor - self._base
        if not span:
            return
        if self._sum_kernel or self._sum_nominal:
            self._mono += mpq(self._sum_kernel, self._kernel_den)
            self._nominal_mono += mpq(self._sum_nominal) / (self._freq_eff * (1 << 32))
        self._raw += span * self._raw_rate
        self._nominal_raw += span * (NSEC_PER_SEC / self._freq_eff)
        self._sum_kernel = self._sum_nominal = 0
        self._base = self._anchor

    def _rational_rates(self) -> None:
        """Hold this segment's rates as rationals from here on (one of them is being set)."""
        rate, nominal_rate = self.rate, self.nominal_rate
        self._settle()
        self._kernel_num = None
        self._rate, self._nominal_rate = rate, nominal_rate

    # -- the fields, exact at the anchor (what checkpoints carry) ---------------------------

    @property
    def rate(self) -> mpq:
        """The kernel ideal's ns per cycle in this segment."""
        if self._rate is None:
            assert self._kernel_num is not None
            self._rate = mpq(self._kernel_num, self._kernel_den)
        return self._rate

    @rate.setter
    def rate(self, value: mpq) -> None:
        self._rational_rates()
        self._rate = value

    @property
    def nominal_rate(self) -> mpq:
        """The nominal ideal's ns per cycle in this segment."""
        if self._nominal_rate is None:
            self._nominal_rate = mpq(self._nominal_num) / (self._freq_eff * (1 << 32))
        return self._nominal_rate

    @nominal_rate.setter
    def nominal_rate(self, value: mpq) -> None:
        self._rational_rates()
        self._nominal_rate = value

    @property
    def freq_eff(self) -> mpq:
        """The counter's nominal frequency times the dilation (Hz)."""
        return self._freq_eff

    @freq_eff.setter
    def freq_eff(self, value: mpq) -> None:
        self._rational_rates()  # the segment keeps the nominal rate it started with
        self._freq_eff = value

    @property
    def raw_rate(self) -> mpq:
        """RAW's ns per cycle."""
        return self._raw_rate

    @raw_rate.setter
    def raw_rate(self, value: mpq) -> None:
        self._settle()
        self._raw_rate = value

    @property
    def mono(self) -> mpq:
        """The kernel ideal's MONOTONIC at the anchor (ns)."""
        self._settle()
        return self._mono

    @mono.setter
    def mono(self, value: mpq) -> None:
        self._settle()
        self._mono = value

    @property
    def nominal_mono(self) -> mpq:
        """The nominal ideal's MONOTONIC at the anchor (ns)."""
        self._settle()
        return self._nominal_mono

    @nominal_mono.setter
    def nominal_mono(self, value: mpq) -> None:
        self._settle()
        self._nominal_mono = value

    @property
    def raw(self) -> mpq:
        """The kernel ideal's RAW at the anchor (ns)."""
        self._settle()
        return self._raw

    @raw.setter
    def raw(self, value: mpq) -> None:
        self._settle()
        self._raw = value

    @property
    def nominal_raw(self) -> mpq:
        """The nominal ideal's RAW at the anchor (ns)."""
        self._settle()
        return self._nominal_raw

    @nominal_raw.setter
    def nominal_raw(self, value: mpq) -> None:
        self._settle()
        self._nominal_raw = value

    @property
    def anchor_cycles(self) -> int:
        """The counter value the fields above are exact at."""
        return self._anchor

    @anchor_cycles.setter
    def anchor_cycles(self, value: int) -> None:
        """Move the anchor without moving the ideal (resume, restore)."""
        self._settle()
        self._anchor = self._base = value

    def sync(self, tk: Timekeeper, cycles: int) -> None:
        """Follow a change of NTP's tick length at `cycles` (cheap when nothing changed)."""
        if tk.steered_tick_length() != self.tick_length:
            self._move_anchor(cycles)
            self._set_rates(tk)

    def resume(self, suspend_cycles: int, resume_cycles: int) -> None:
        """MONOTONIC and RAW stand still while suspended: skip the slept cycles."""
        self._move_anchor(suspend_cycles)
        self.anchor_cycles = resume_cycles

    def ideal_ns(self, tk: Timekeeper, clockid: int, cycles: int, ideal: str = "kernel") -> mpq:
        """The ideal value of `clockid` at `cycles`, as an exact rational number of ns."""
        if ideal not in IDEALS:
            raise ValueError(f"ideal must be one of {IDEALS}, got {ideal!r}")
        d = cycles - self.anchor_cycles
        if clockid == CLOCK_MONOTONIC_RAW:
            if ideal == "kernel":
                return self.raw + d * self.raw_rate
            return self.nominal_raw + d * (NSEC_PER_SEC / self.freq_eff)
        mono = (
            self.mono + d * self.rate
            if ideal == "kernel"
            else (self.nominal_mono + d * self.nominal_rate)
        )
        offsets = {
            CLOCK_MONOTONIC: 0,
            CLOCK_REALTIME: tk.offs_real,
            CLOCK_BOOTTIME: tk.offs_boot,
            CLOCK_TAI: tk.offs_tai,
        }
        if clockid not in offsets:
            raise ValueError(f"no reference for clock {clockid} (fine clocks only)")
        return mono + offsets[clockid]
