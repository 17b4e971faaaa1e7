"""Exact run metrics: extremes, RMS and time above thresholds from the clocks themselves.

Samples show a clock at chosen instants; a summary built from them depends on the sampling
(a 60 s slew is invisible in 60 s samples).  The engine knows every instant a clock's
conversion changes, so the offset of a namespace clock from its timescale is known as a
function of true time:

* between two changes of the namespace's conversion (an accumulation that moves `mult`, a
  step, a leap, a resume) REALTIME advances `mult / 2**shift` ns per counter cycle, exactly
  as `timekeeping_get_ns` computes it, and the counter advances at its true frequency, which
  only changes at the counter's wander steps;
* UTC advances one second per true second except at a leap, where POSIX UTC jumps (back one
  second at the start of an inserted 23:59:60, forward over a deleted 23:59:59).

So the offset is piecewise linear in true time, with breakpoints at those instants, and its
maximum, its integral of squares and the time it spends beyond a threshold are exact sums
over the pieces.  The namespace tells `ExactTracker` of every change through its `observer`
hook (with the reading just before the change); each line is re-anchored to the kernel's own
reading there, so the only approximation is the kernel's 1 ns read truncation between
breakpoints.  A rate, too, is exact: a piece's slope.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gmpy2 import mpq

from ntp.timex import TIME_OOP

from ..clockids import CLOCK_REALTIME, CLOCK_TAI
from ..namespace import Namespace, TimekeeperNamespace
from .units import NSEC

if TYPE_CHECKING:
    from ..host import Host
    from .timescale import Timescale

#: Time-above thresholds reported for every namespace (ns), ascending.
THRESHOLDS_NS = (1_000, 1_000_000, 100_000_000)
_NS = mpq(NSEC)
_PPM = mpq(10**6)
_ZERO = mpq(0)
#: (index, θ) of each threshold as a rational: an mpq compared with an int converts the int on
#: every comparison, and every piece compares with each threshold up to four times
_THETAS = tuple((i, mpq(theta)) for i, theta in enumerate(THRESHOLDS_NS))
#: (mult → rates) entries an `ExactTracker` keeps per namespace (a dither needs two)
_RATE_CACHE_SIZE = 8


@dataclass
class Line:
    """One offset function y(t) = clock − timescale, in ns, and its exact statistics.

    `ns_per_cycle` is the clock's conversion on the current piece (mult / 2**shift); with the
    counter's true frequency it gives the slope, which changes only at a breakpoint.
    """

    scale: str  # "utc", "tai" or "no-leap"
    t0: mpq  # true seconds of the last evaluated point
    y0: mpq  # offset there (ns), right limit
    ns_per_cycle: mpq
    dilation: mpq
    start: mpq
    name: str = ""
    next_jump: int = 0
    next_label: int = 0  # index of the next inserted leap whose midnight the clock's label passes
    label_at: mpq | None = None  # true time it passes it, on the current conversion
    slope: mpq = field(default_factory=mpq)  # ns of offset per true second
    rate_ppm: mpq = field(default_factory=mpq)
    max_abs: mpq = field(default_factory=mpq)
    max_at: mpq = field(default_factory=mpq)
    sum_sq3: mpq = field(default_factory=mpq)  # 3·∫ y² dt, in ns² s (see `sum_sq`)
    above: list[mpq] = field(default_factory=lambda: [mpq(0) for _ in THRESHOLDS_NS])
    max_rate: mpq = field(default_factory=mpq)

    @property
    def sum_sq(self) -> mpq:
        """∫ y² dt over the line so far, in ns² s.

        Kept three times over (`sum_sq3`): each piece adds d·(ya² + ya·yb + yb²)/3, and one
        division at the end instead of one per piece is the same rational, exactly.
        """
        return self.sum_sq3 / 3

    def extend(self, t: mpq) -> None:
        """Extend the current piece (constant slope) to true time `t`.

        Every piece of every line passes here (a lazy namespace's mult dither alone makes one
        about every two seconds), so it does as few rational operations as the sums allow.
        """
        d = t - self.t0
        if d <= _ZERO:
            return
        ya = self.y0
        yb = ya + self.slope * d
        self.sum_sq3 += d * (ya * (ya + yb) + yb * yb)
        lo, hi = (ya, yb) if ya <= yb else (yb, ya)
        peak = hi if hi >= -lo else -lo
        for i, theta in _THETAS:  # ascending: none beyond once θ ≥ peak
            if theta >= peak:
                break
            self.above[i] += _time_beyond(lo, hi, d, theta)
        self.t0, self.y0 = t, yb
        self.extreme()

    def extreme(self) -> None:
        if abs(self.y0) > self.max_abs:
            self.max_abs, self.max_at = abs(self.y0), self.t0

    def set_rate(self, counter_hz: mpq) -> None:
        self.take_rate(*slope_and_rate(self.ns_per_cycle, counter_hz, self.dilation))

    def take_rate(self, slope: mpq, rate_ppm: mpq) -> None:
        """`set_rate` with its two values computed already (a namespace's lines share them)."""
        self.slope = slope
        self.rate_ppm = rate_ppm
        if abs(rate_ppm) > self.max_rate:
            self.max_rate = abs(rate_ppm)

    def summary(self, to_label: Any) -> dict[str, Any]:
        span = self.t0 - self.start
        return {
            "max_abs": self.max_abs,
            "max_abs_at": to_label(self.max_at),
            "mean_square": (self.sum_sq / span) if span > 0 else self.y0 * self.y0,
            "final": self.y0,
            "time_above_ns": {
                _threshold_label(theta): self.above[i] * _NS
                for i, theta in enumerate(THRESHOLDS_NS)
            },
        }


def slope_and_rate(ns_per_cycle: mpq, counter_hz: mpq, dilation: mpq) -> tuple[mpq, mpq]:
    """A piece's offset slope (ns per true second) and the clock's rate error (ppm, as the
    namespace's dilated time counts it), from its conversion and the counter's frequency."""
    clock = ns_per_cycle * counter_hz  # clock ns per true second
    return clock - _NS, (clock * dilation / _NS - 1) * _PPM


def _time_beyond(lo: mpq, hi: mpq, d: mpq, theta: Any) -> mpq:
    """How long a linear piece from lo to hi (lo ≤ hi) over d seconds has |y| > θ.

    A piece wholly beyond θ on one side (the common case: a clock a steady µs or more off)
    or wholly within it needs no division; only a piece that crosses ±θ is split, by the
    fraction of its span beyond each side (each at most 1, as the piece starts or ends
    within ±θ).  `Line.extend` passes θ as an mpq (`_THETAS`).
    """
    neg = -theta
    if lo > theta or hi < neg:
        return d
    if neg <= lo and hi <= theta:
        return _ZERO
    span = hi - lo  # > 0: a flat piece is wholly beyond or wholly within
    if hi > theta:
        if lo < neg:
            return d * (hi - lo - 2 * theta) / span
        return d * (hi - theta) / span
    return d * (neg - lo) / span


def _threshold_label(theta: int) -> str:
    for unit, scale in (("ms", 1_000_000), ("us", 1_000)):
        if theta >= scale and theta % scale == 0:
            return f"{theta // scale}{unit}"
    return f"{theta}ns"


class ExactTracker:
    """Exact offset lines for every namespace of a run (offsets namespaces share the root's).

    Each namespace has a `utc` line and, when the run's reference is piecewise linear ('utc',
    'tai', 'no-leap'), a `ref` line; smear references are not linear between breakpoints, so
    their offsets stay sample-based.  The `utc` line compares label positions
    (`Timescale.label_position`): the clock's label gains a second where it passes an
    inserted leap's midnight without stepping, UTC's own labels are continuous through an
    inserted leap and jump forward over a deleted one.  Lines are independent: a namespace's
    change touches only its own lines, so the cost grows with the changes, not with changes
    × namespaces.  With the reference 'utc' the `ref` line would be the `utc` line twice over
    (same scale, same breakpoints), so both keys name one `Line` and its work is done once.
    """

    EXACT_REFERENCES = ("utc", "tai", "no-leap")

    def __init__(self, ts: Timescale, host: Host) -> None:
        self.ts = ts
        self.clocksource = host.clocksource
        #: the counter's frequency when it never wanders (every change of every line asks
        #: for it, and for the next rate change, which is then never), else None
        self._steady_hz: mpq | None = (
            host.clocksource.frequency_at(_ZERO) if host.clocksource.wander_ppm == 0 else None)
        self.lines: dict[str, dict[str, Line]] = {}
        self._distinct: dict[str, list[Line]] = {}  # each namespace's lines, shared ones once
        self.namespaces: dict[str, TimekeeperNamespace] = {}
        self.aliases: dict[str, str] = {}
        self.last_offs: dict[str, tuple[int, int]] = {}
        self.realtime_back: dict[str, int] = {}
        self._rate_cache: dict[str, dict[int, tuple[mpq, int, mpq, tuple[mpq, mpq, mpq]]]] = {}
        self._inserted = ts.inserted_leaps_ns()
        self._jumps = self._deleted_jumps()

    # -- setup -------------------------------------------------------------------------------

    def add(self, ns: Namespace) -> None:
        """Track `ns` from now on (its observer hook feeds the breakpoints)."""
        if not isinstance(ns, TimekeeperNamespace):
            self.aliases[ns.name] = "root"
            return
        ns.observer = self.on_change
        self.namespaces[ns.name] = ns
        t = ns.host.true_time
        cycles = ns.host.cycles_now()
        scales = {"utc": "utc"}
        if self.ts.reference in self.EXACT_REFERENCES:
            scales["ref"] = self.ts.reference
        lines: dict[str, Line] = {}
        by_scale: dict[str, Line] = {}
        for key, scale in scales.items():
            if scale in by_scale:  # reference 'utc': the ref line is the utc line, kept once
                lines[key] = by_scale[scale]
                continue
            tk = ns.tk
            jumps = sum(1 for tj, _ in self._jumps if tj <= t) if scale == "utc" else len(
                self._jumps)
            line = Line(scale, t, mpq(0), mpq(tk.mult, 1 << tk.shift), mpq(ns.dilation), t,
                        ns.name, jumps)
            self._anchor(ns, line, cycles, t)
            line.set_rate(self.clocksource.frequency_at(t))
            line.extreme()
            lines[key] = by_scale[scale] = line
        self.lines[ns.name] = lines
        self._distinct[ns.name] = list(by_scale.values())
        self.last_offs[ns.name] = (ns.tk.offs_real, ns.tk.offs_tai)
        self.realtime_back[ns.name] = 0

    def _deleted_jumps(self) -> list[tuple[mpq, int]]:
        """(true seconds, offset step in ns) where UTC's labels skip a deleted 23:59:59."""
        tai0 = mpq(self.ts.tai0_ns, NSEC)
        return sorted(
            (mpq(e.unix + e.tai_minus_utc_after) - tai0, -NSEC)
            for e in self.ts.table.events if e.sign < 0
        )

    # -- the clocks and the timescales ----------------------------------------------------------

    def _anchor(self, ns: TimekeeperNamespace, line: Line, cycles: int, t: mpq) -> None:
        """Set a line on the kernel's own reading now (and where its label next jumps)."""
        ts = self.ts
        if line.scale == "tai":
            line.y0 = ns.read_clock_at(CLOCK_TAI, cycles) - (ts.tai0_ns + t * _NS)
            return
        real = ns.read_clock_at(CLOCK_REALTIME, cycles)
        if line.scale == "no-leap":
            line.y0 = real - (ts.start_utc_ns + t * _NS)
            return
        second_pass = ns.tk.ntp.time_state == TIME_OOP
        utc, fold = ts.table.tai_to_utc_fold(mpq(ts.tai0_ns, NSEC) + t)
        line.y0 = ts.label_position(real, second_pass) - ts.label_position(utc * _NS, fold)
        line.next_label = bisect_right(self._inserted, real)
        if (second_pass and line.next_label < len(self._inserted)
                and self._inserted[line.next_label] - NSEC <= real):
            line.next_label += 1
        self._plan_label(ns, line)

    def _plan_label(self, ns: TimekeeperNamespace, line: Line) -> None:
        """The true time REALTIME first reads the next inserted leap's midnight, on this mult."""
        if line.next_label >= len(self._inserted):
            line.label_at = None
            return
        cycles = ns.cycles_for(CLOCK_REALTIME, self._inserted[line.next_label])
        line.label_at = self.clocksource.time_of_cycles(cycles)

    # -- breakpoints ---------------------------------------------------------------------------

    def advance(self, line: Line, t: mpq) -> None:
        """Bring one line to true time `t`, through label jumps and the counter's steps."""
        cs = self.clocksource
        while line.t0 < t:
            stop = t
            jump = self._jumps[line.next_jump] if line.next_jump < len(self._jumps) else None
            if jump is not None and jump[0] < stop:
                stop = jump[0]
            label = line.label_at
            if label is not None and label < stop:
                stop = max(label, line.t0)
            change = None if self._steady_hz is not None else cs.next_rate_change(line.t0)
            if change is not None and change < stop:
                stop = change
            line.extend(stop)
            if jump is not None and jump[0] == stop:
                line.next_jump += 1
                line.y0 += jump[1]
            if label is not None and label <= stop:
                line.y0 += NSEC
                line.next_label += 1
                self._plan_label(self.namespaces[line.name], line)
            if stop < t:  # else the caller records it, after any step at this instant
                line.extreme()
            if change is not None and change == stop:
                line.set_rate(cs.frequency_at(stop))

    def on_change(self, ns: TimekeeperNamespace, cycles: int, before: int) -> None:
        """The namespace's conversion just changed at `cycles` (now); `before`: old offs_real.

        A new mult keeps the reading continuous (`timekeeping_apply_adjustment` moves
        xtime_nsec to match), so the line only bends; a step (a new offs_real or offs_tai:
        settime, ADJ_SETOFFSET, a leap, a resume) re-anchors it on the kernel's own reading.
        """
        lines = self._distinct.get(ns.name)
        if lines is None or self.namespaces.get(ns.name) is not ns:
            return
        tk = ns.tk
        t = ns.host.true_time
        if tk.offs_real < before:
            self.realtime_back[ns.name] += 1
        stepped = (tk.offs_real, tk.offs_tai) != self.last_offs[ns.name]
        self.last_offs[ns.name] = (tk.offs_real, tk.offs_tai)
        hz = self._steady_hz
        if hz is None:
            hz = self.clocksource.frequency_at(t)
        per_cycle, slope, rate_ppm = self._rates(ns.name, tk.mult, tk.shift, hz,
                                                 lines[0].dilation)
        for line in lines:
            self.advance(line, t)  # the left limit, on the old conversion
            line.ns_per_cycle = per_cycle
            if stepped:  # the right limit, on the kernel's own reading
                self._anchor(ns, line, cycles, t)
            elif line.scale == "utc":
                self._plan_label(ns, line)
            line.extreme()
            line.take_rate(slope, rate_ppm)

    def _rates(self, name: str, mult: int, shift: int, counter_hz: mpq,
               dilation: mpq) -> tuple[mpq, mpq, mpq]:
        """A conversion's ns per cycle, offset slope and rate (`Line.set_rate`'s values).

        A namespace's mult mostly dithers between two neighbours, so each namespace keeps
        the values of the last few (mult, frequency) it had: most changes reuse them instead
        of seven rational operations.  A namespace has one dilation, and `shift` is fixed by
        its clocksource, but both are checked, so a cached value is always the computed one.
        """
        cache = self._rate_cache.get(name)
        if cache is None:
            cache = self._rate_cache[name] = {}
        hit = cache.get(mult)
        if hit is not None and hit[0] is counter_hz and hit[1] == shift and hit[2] is dilation:
            return hit[3]
        per_cycle = mpq(mult, 1 << shift)
        values = (per_cycle, *slope_and_rate(per_cycle, counter_hz, dilation))
        if len(cache) >= _RATE_CACHE_SIZE:
            cache.clear()
        cache[mult] = (counter_hz, shift, dilation, values)
        return values

    # -- results --------------------------------------------------------------------------------

    def offset_now(self, name: str, key: str = "utc") -> mpq:
        """A line's value at the host's present instant (splitting a piece changes no sum)."""
        name = self.aliases.get(name, name)
        ns = self.namespaces[name]
        line = self.lines[name][key]
        self.advance(line, ns.host.true_time)
        line.extreme()
        return line.y0

    def finish(self, t: mpq) -> None:
        for lines in self._distinct.values():
            for line in lines:
                self.advance(line, t)
                line.extreme()

    def summary(self, name: str) -> dict[str, Any] | None:
        """The exact metrics of a namespace (its root's for an offsets namespace)."""
        name = self.aliases.get(name, name)
        lines = self.lines.get(name)
        if lines is None:
            return None
        out: dict[str, Any] = {key: line.summary(self._label) for key, line in lines.items()}
        utc = lines["utc"]
        out["rate"] = {"max_abs_deviation_ppm": utc.max_rate, "final_ppm": utc.rate_ppm}
        out["realtime_backward_steps"] = self.realtime_back[name]
        return out

    def _label(self, t: mpq) -> str:
        from .recorder import utc_label

        utc, fold = self.ts.table.tai_to_utc_fold(mpq(self.ts.tai0_ns, NSEC) + t)
        return utc_label(int(utc * NSEC), fold)
