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
def _rates(tick_length: int, ntp_error_shift: int, xtime_remainder: int, cycle_interval: int,
           shift: int, hz: int, freq_eff: mpq) -> tuple[mpq, mpq]:
    """The kernel and nominal ideals' ns per cycle for one tick length (see the module).

    A pure function of its arguments, kept for reuse: the namespaces of a host mostly share
    their parameters, so they share these rationals instead of each holding its own.
    """
    wanted = mpq(tick_length, 1 << ntp_error_shift) - xtime_remainder
    rate = wanted / (cycle_interval << shift)
    nominal_rate = mpq(tick_length * hz) / (freq_eff * (1 << 32))
    return rate, nominal_rate


class Reference:
    """Exact ideal MONOTONIC and RAW for one timekeeper (see the module docstring)."""

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
    __slots__ = RATIONAL_FIELDS + INT_FIELDS

    def __init__(self, tk: Timekeeper, cycles: int, freq_eff: mpq) -> None:
        self.freq_eff = mpq(freq_eff)
        self.anchor_cycles = cycles
        self.mono = mpq(tk.mono_ns(cycles))
        self.raw = mpq(tk.raw_ns(cycles))
        self.nominal_mono = self.mono
        self.nominal_raw = self.raw
        self.raw_rate = _raw_rate(tk.clock_mult, tk.shift)
        self.tick_length = -1
        self._set_rates(tk)

    def _set_rates(self, tk: Timekeeper) -> None:
        tick_length = tk.steered_tick_length()
        self.tick_length = tick_length
        self.rate, self.nominal_rate = _rates(
            tick_length, tk.ntp_error_shift, tk.xtime_remainder, tk.cycle_interval, tk.shift,
            tk.hz, self.freq_eff,
        )

    def _move_anchor(self, cycles: int) -> None:
        d = cycles - self.anchor_cycles
        if d:
            self.mono += d * self.rate
            self.raw += d * self.raw_rate
            self.nominal_mono += d * self.nominal_rate
            self.nominal_raw += d * (NSEC_PER_SEC / self.freq_eff)
            self.anchor_cycles = cycles

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
