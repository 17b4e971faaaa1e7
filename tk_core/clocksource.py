"""The physical counter every namespace shares, and the kernel's mult/shift arithmetic.

Two halves, kept apart on purpose:

* kernel arithmetic (`clocks_calc_mult_shift`, `clocksource_max_adjustment`,
  `clocks_calc_max_nsecs`, `clocksource_update_freq`): pure integer functions with the kernel's
  u32/u64 semantics, so their results can be compared bit for bit with what a real kernel
  prints at boot (clocksource.c clocks_calc_mult_shift/clocks_calc_max_nsecs);
* physics (`Clocksource.cycles_at`, `counter_at`, `time_of_cycles`): the counter as a function
  of exact true time.  The true frequency is the nominal one times (1 + error), where error is
  a constant ppm offset plus an optional seeded random walk that changes the frequency at
  fixed intervals.  Everything is exact rational arithmetic (gmpy2.mpq), so the inverse
  "at which true instant does the counter reach c?" is exact too: the host's event loop uses
  it to know when a programmed interrupt fires.
"""

from __future__ import annotations

import bisect
import functools
import random
from dataclasses import dataclass

from gmpy2 import mpq

from ntp.exact import floor_q

from .exact_input import exact_rational

U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1
NSEC_PER_SEC = 1_000_000_000
MAXSEC_CAP = 600
PPM = mpq(1, 1_000_000)
_ZERO = mpq(0)  # compared with an mpq, an mpq 0 is three times quicker than the int


def clocks_calc_mult_shift(from_hz: int | mpq, to_hz: int, maxsec: int) -> tuple[int, int]:
    """Reproduce `clocks_calc_mult_shift`: the largest shift whose mult still fits.

    `sftacc` is how many bits mult may use so that maxsec × from cycles times mult stays in
    64 bits; then, from shift 32 down, mult = (to << shift + from/2) / from, stopping at the
    first mult that fits in sftacc bits.  `from_hz` may be an exact rational (a dilated
    namespace computes its mult as if the counter ran at another frequency); for an integer
    the arithmetic is exactly the kernel's u64 arithmetic.
    """
    tmp = floor_q(maxsec * mpq(from_hz)) & U64_MAX
    tmp >>= 32
    sftacc = 32
    while tmp:
        tmp >>= 1
        sftacc -= 1
    half = floor_q(mpq(from_hz) / 2)
    mult = 0
    sft = 32
    while sft > 0:
        numerator = ((to_hz << sft) & U64_MAX) + half
        mult = floor_q(mpq(numerator) / mpq(from_hz)) & U64_MAX
        if (mult >> sftacc) == 0:
            break
        sft -= 1
    return mult, sft


def clocksource_max_adjustment(mult: int) -> int:
    """Reproduce `clocksource_max_adjustment`: the 11 % of mult NTP may ever need."""
    return mult * 11 // 100


def clocks_calc_max_nsecs(mult: int, shift: int, maxadj: int, mask: int) -> tuple[int, int]:
    """Reproduce `clocks_calc_max_nsecs`: (max_idle_ns, max_cycles).

    max_cycles is the largest delta that can be multiplied by mult + 11 % without overflowing
    64 bits (and never more than the counter's mask).  The nanoseconds use mult − 11 %, the
    shortest time those cycles can represent, and the kernel returns half of it as a safety
    margin: that half is `max_idle_ns`, how long NOHZ may leave the counter unsampled.
    """
    max_cycles = min(U64_MAX // (mult + maxadj), mask)
    max_nsecs = ((max_cycles * (mult - maxadj)) & U64_MAX) >> shift
    return max_nsecs >> 1, max_cycles


@dataclass(frozen=True, slots=True)
class MultShift:
    """The conversion constants a clocksource registers with (`__clocksource_update_freq_scale`)."""

    mult: int
    shift: int
    maxadj: int
    max_cycles: int
    max_idle_ns: int
    max_raw_delta: int


def clocksource_update_freq(freq_hz: int | mpq, mask: int) -> MultShift:
    """Reproduce `__clocksource_update_freq_scale` (scale 1) and `clocksource_update_max_deferment`.

    maxsec = mask / freq (at least 1; capped at 600 s when the counter is wider than 32 bits),
    then mult/shift, then maxadj, halving mult while mult ± 11 % would leave u32.
    """
    maxsec = floor_q(mpq(mask) / mpq(freq_hz))
    if maxsec == 0:
        maxsec = 1
    elif maxsec > MAXSEC_CAP and mask > U32_MAX:
        maxsec = MAXSEC_CAP
    mult, shift = clocks_calc_mult_shift(freq_hz, NSEC_PER_SEC, maxsec)
    maxadj = clocksource_max_adjustment(mult)
    while mult + maxadj > U32_MAX or mult - maxadj < 0:
        mult >>= 1
        shift -= 1
        maxadj = clocksource_max_adjustment(mult)
    max_idle_ns, max_cycles = clocks_calc_max_nsecs(mult, shift, maxadj, mask)
    max_raw_delta = (mask >> 1) + (mask >> 2) + (mask >> 3)
    return MultShift(mult, shift, maxadj, max_cycles, max_idle_ns, max_raw_delta)


#: `clocksource_update_freq` kept per (freq, mask): namespaces of one counter share the result.
shared_update_freq = functools.lru_cache(maxsize=256)(clocksource_update_freq)


class Clocksource:
    """A free-running counter of `bits` width at `freq_hz` nominal, with its own true error.

    `error_ppm` is a constant frequency error (exact rational, positive = runs fast).
    `wander_ppm` > 0 adds a seeded random walk: every `wander_interval_s` true seconds the
    frequency error moves by a uniformly drawn step in [−wander_ppm, +wander_ppm] (drawn as a
    rational with 1/1000 granularity, so the walk is exact and reproducible from `seed`).
    `start_cycles` is the (unmasked) count at true time 0.
    """

    def __init__(
        self,
        freq_hz: int,
        bits: int = 64,
        *,
        error_ppm: int | mpq = 0,
        wander_ppm: int | mpq = 0,
        wander_interval_s: int = 1,
        seed: int = 0,
        start_cycles: int = 0,
        name: str = "counter",
    ) -> None:
        if not isinstance(freq_hz, int) or isinstance(freq_hz, bool) or freq_hz <= 0:
            raise ValueError(f"Clocksource freq_hz must be a positive int, got {freq_hz!r}")
        if not isinstance(bits, int) or not 8 <= bits <= 64:
            raise ValueError(f"Clocksource bits must be an int in 8..64, got {bits!r}")
        error_ppm = exact_rational(error_ppm, "Clocksource error_ppm")
        wander_ppm = exact_rational(wander_ppm, "Clocksource wander_ppm")
        for what, value in (("wander_interval_s", wander_interval_s), ("seed", seed),
                            ("start_cycles", start_cycles)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"Clocksource {what} must be an int, got {value!r}")
        error = error_ppm * PPM
        if error <= -1:
            raise ValueError(f"Clocksource error_ppm must be > -1e6, got {error_ppm}")
        if wander_ppm < 0 or wander_interval_s <= 0:
            raise ValueError("Clocksource wander_ppm must be >= 0 and wander_interval_s > 0")
        self.name = name
        self.freq_hz = freq_hz
        self.bits = bits
        self.mask = (1 << bits) - 1
        self.error_ppm = mpq(error_ppm)
        self.wander_ppm = mpq(wander_ppm)
        self.wander_interval_s = wander_interval_s
        self.seed = seed
        self.start_cycles = start_cycles
        params = clocksource_update_freq(freq_hz, self.mask)
        self.mult = params.mult
        self.shift = params.shift
        self.maxadj = params.maxadj
        self.max_cycles = params.max_cycles
        self.max_idle_ns = params.max_idle_ns
        self.max_raw_delta = params.max_raw_delta
        self._rng = random.Random(seed)
        # Piecewise-constant true frequency: segment k starts at _seg_t[k] (true s) with
        # integrated cycles _seg_c[k] (exact) and frequency _seg_f[k] (Hz, exact).
        f0 = mpq(freq_hz) * (1 + error)
        self._seg_t: list[mpq] = [mpq(0)]
        self._seg_c: list[mpq] = [mpq(start_cycles)]
        self._seg_f: list[mpq] = [f0]
        self._error = error
        self._constant = self.wander_ppm == 0
        #: The exact rate (Hz) when it never changes and the count starts at an integer, so
        #: `cycles_at(t)` is start_cycles + int(t · rate) for t ≥ 0; else None.
        self.constant_rate: mpq | None = (
            f0 if self._constant and type(start_cycles) is int else None
        )
        #: What the integer read path needs (`cycles_at_ns`): (start_cycles, p, q, mask) with
        #: p/q the constant rate per ns in Python ints; None when the rate is not constant.
        self.ns_read: tuple[int, int, int, int] | None = None
        if self.constant_rate is not None:
            per_ns = self.constant_rate / NSEC_PER_SEC
            self.ns_read = (start_cycles, int(per_ns.numerator), int(per_ns.denominator),
                            self.mask)
        #: What `time_of_cycles` needs at a constant rate p/q Hz from an integer start:
        #: (start_cycles, q, p), so t = (cycles − start)·q / p is one rational built from ints.
        self.time_read: tuple[int, int, int] | None = None
        if self.constant_rate is not None:
            self.time_read = (start_cycles, int(f0.denominator), int(f0.numerator))

    # -- physics -----------------------------------------------------------------------

    def _extend_segments(self, t: mpq) -> None:
        """Draw random-walk segments until the one containing true time `t` exists."""
        step = mpq(self.wander_interval_s)
        while self._seg_t[-1] + step <= t:
            t0, c0, f0 = self._seg_t[-1], self._seg_c[-1], self._seg_f[-1]
            draw = mpq(self._rng.randint(-1000, 1000), 1000)
            self._error += draw * self.wander_ppm * PPM
            if self._error <= mpq(-1, 2):
                self._error = mpq(-1, 2)
            self._seg_t.append(t0 + step)
            self._seg_c.append(c0 + f0 * step)
            self._seg_f.append(mpq(self.freq_hz) * (1 + self._error))

    def _segment(self, t: mpq) -> int:
        if self._constant:
            return 0
        self._extend_segments(t)
        return bisect.bisect_right(self._seg_t, t) - 1

    def exact_cycles_at(self, t: mpq) -> mpq:
        """The exact (fractional) number of oscillations since true time 0, plus start_cycles."""
        if t < 0:
            raise ValueError("true time before 0 is outside the simulation")
        k = self._segment(t)
        return self._seg_c[k] + self._seg_f[k] * (t - self._seg_t[k])

    def cycles_at(self, t: mpq) -> int:
        """The unmasked count (whole oscillations) at true time `t`: never wraps, never lost.

        At a constant rate from an integer start this is start + floor(f0·t), and for t ≥ 0
        the product is ≥ 0, so mpq's exact truncation (`int`) is its floor: one rational
        product per read instead of three and a floor.
        """
        rate = self.constant_rate
        if rate is not None and type(t) is mpq:
            if t < _ZERO:
                raise ValueError("true time before 0 is outside the simulation")
            return self.start_cycles + int(t * rate)
        return floor_q(self.exact_cycles_at(t))

    def cycles_at_ns(self, true_ns: int) -> int:
        """`cycles_at(mpq(true_ns, 10**9))` for a whole number of true ns ≥ 0, in integers.

        With a constant rate p/q per ns the count is start + floor(true_ns·p / q): one integer
        product and one floor division, bit-identical to the rational path (the host's read
        path uses it; `cycles_at` stays the definition).
        """
        read = self.ns_read
        if read is None or true_ns < 0:
            return self.cycles_at(mpq(true_ns, NSEC_PER_SEC))
        return read[0] + true_ns * read[1] // read[2]

    def counter_at(self, t: mpq) -> int:
        """The raw register value at true time `t`: what `read()` returns, masked to `bits`."""
        return self.cycles_at(t) & self.mask

    def time_of_cycles(self, cycles: int) -> mpq:
        """The earliest true time at which `cycles_at` reaches `cycles` (exact)."""
        if cycles <= self.start_cycles:
            return mpq(0)
        read = self.time_read
        if read is not None and type(cycles) is int:
            # the same exact value as the segment formula below: one rational, no divisions
            return mpq((cycles - read[0]) * read[1], read[2])
        target = mpq(cycles)
        if self._constant:
            return (target - self._seg_c[0]) / self._seg_f[0]
        # Walk forward until the segment that contains the target count exists.
        while True:
            last = len(self._seg_t) - 1
            end_c = self._seg_c[last] + self._seg_f[last] * self.wander_interval_s
            if end_c >= target:
                break
            self._extend_segments(self._seg_t[last] + self.wander_interval_s)
        k = bisect.bisect_right(self._seg_c, target) - 1
        if self._seg_c[k] == target:
            return self._seg_t[k]
        return self._seg_t[k] + (target - self._seg_c[k]) / self._seg_f[k]

    def frequency_at(self, t: mpq) -> mpq:
        """The counter's true frequency (Hz, exact) on the segment containing true time `t`."""
        return self._seg_f[self._segment(t)]

    def next_rate_change(self, t: mpq) -> mpq | None:
        """The first true time after `t` at which the frequency may change (None: never)."""
        if self._constant:
            return None
        step = mpq(self.wander_interval_s)
        return (t // step + 1) * step

    def frequency_error_at(self, t: mpq) -> mpq:
        """True frequency error (dimensionless) at true time `t`."""
        k = self._segment(t)
        return self._seg_f[k] / self.freq_hz - 1

    def describe(self) -> dict[str, object]:
        """The constructor arguments, for checkpoints and resolved scenarios."""
        return {
            "name": self.name,
            "freq_hz": self.freq_hz,
            "bits": self.bits,
            "error_ppm": str(self.error_ppm),
            "wander_ppm": str(self.wander_ppm),
            "wander_interval_s": self.wander_interval_s,
            "seed": self.seed,
            "start_cycles": self.start_cycles,
        }

    def __repr__(self) -> str:
        return (
            f"Clocksource({self.name}: {self.freq_hz} Hz, {self.bits} bits, mult={self.mult}, "
            f"shift={self.shift}, max_idle_ns={self.max_idle_ns})"
        )
