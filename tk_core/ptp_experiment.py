"""The PTP experiment: several grandmasters followed by the aux clocks of one namespace.

Linux 6.17 added auxiliary clocks (CLOCK_AUX0..7) so that one machine can keep, beside its
system time, independent clocks for PTP/TSN domains: each is a timekeeper of its own, steered
only through clock_adjtime, while REALTIME goes on following NTP.  `follow_grandmasters()`
builds exactly that on one host:

* one timekeeper namespace whose REALTIME is disciplined by the chrony client model
  (`ntp.discipline.ChronyClient`, as a scenario's ``ntp = { model = "chrony" }`` starts it)
  against the reference server;
* per `Grandmaster` (a true-time-based reference with its own frequency offset and optional
  step events, such as a grandmaster changeover) one aux clock of that namespace, steered by a
  `PiServo` in a task holding CAP_SYS_TIME: every sync interval a two-way exchange (Sync from
  the master, Delay_Req back, with seeded path-delay jitter) measures the offset
  aux − grandmaster; beyond the step threshold the servo steps (ADJ_SETOFFSET), otherwise it
  sets the frequency (ADJ_FREQUENCY, ppm·2^16) from its proportional and integral terms.

`model="namespaces"` runs the alternative: the same grandmasters and servos, each steering
the REALTIME (adjtimex) of a timekeeper namespace of its own.  `compare_models()` runs both,
`probe_capabilities()` tries what each kind of clock can express (timers, sleeps, leap, TAI),
and `measure_cost()` measures memory and wall time per timekeeper.

True time and the grandmasters' times are exact (gmpy2.mpq); the servo's arithmetic is exact
rationals rounded only where the syscall takes integers.  Results become plain numbers at the
very end, as in `tk_core.leap_experiment`.
"""

from __future__ import annotations

import argparse
import errno
import gc
import itertools
import math
import random
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gmpy2 import mpq

from ntp.discipline import ChronyClient, PathModel, ReferenceServer
from ntp.exact import round_q
from ntp.timex import ADJ_FREQUENCY, ADJ_NANO, ADJ_SETOFFSET, ADJ_STATUS, ADJ_TAI, STA_INS, Timex

from .clockids import CLOCK_AUX, CLOCK_REALTIME, MAX_AUX_CLOCKS, clock_name
from .clocksource import Clocksource
from .daemon import NtpDaemon, at_true_time
from .host import Host
from .namespace import TimekeeperNamespace
from .task import Task
from .timekeeper import Timekeeper

NSEC = 1_000_000_000
PPM = mpq(1, 1_000_000)
#: ADJ_FREQUENCY's unit: ppm with a 16-bit binary fraction; the kernel's limit is ±500 ppm.
FREQ_SCALE = 65_536
MAX_FREQ_PPM = 500
#: True Unix time at the start of a run (2026-01-01); REALTIME starts there.
START_UNIX = 1_767_225_600
#: PTP's timescale is TAI: the grandmasters start 37 s ahead of UTC.
TAI_MINUS_UTC = 37
MODELS = ("aux", "namespaces")


def _rational(name: str, value: object) -> mpq:
    """`value` as an exact rational; ValueError naming `name` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | str | type(mpq(0))):
        raise ValueError(f"{name} must be an int, a fraction string or an mpq, got {value!r}")
    try:
        return mpq(value)
    except (ValueError, ZeroDivisionError) as exc:
        raise ValueError(f"{name} must be an exact number, got {value!r}") from exc


def _int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return value


@dataclass(frozen=True)
class GrandmasterStep:
    """At true second `at_s` of the run the grandmaster's time jumps by `step_ns`, and, when
    `freq_ppm` is given, its frequency offset becomes that (a changeover to another master)."""

    at_s: mpq
    step_ns: int
    freq_ppm: mpq | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "at_s", _rational("GrandmasterStep at_s", self.at_s))
        if self.at_s <= 0:
            raise ValueError(f"GrandmasterStep at_s must be > 0, got {self.at_s}")
        if isinstance(self.step_ns, bool) or not isinstance(self.step_ns, int):
            raise ValueError(f"GrandmasterStep step_ns must be an int, got {self.step_ns!r}")
        if self.freq_ppm is not None:
            freq = _rational("GrandmasterStep freq_ppm", self.freq_ppm)
            if abs(freq) >= MAX_FREQ_PPM:
                raise ValueError(f"GrandmasterStep freq_ppm must be within ±{MAX_FREQ_PPM}")
            object.__setattr__(self, "freq_ppm", freq)


@dataclass(frozen=True)
class Grandmaster:
    """A PTP grandmaster: its time is exact and piecewise linear in true time.

    At true time 0 it reads `origin_ns` (default: TAI at the run's start); it runs
    `freq_ppm` fast (negative: slow) against true time, and `steps` move it (sorted by time).
    """

    name: str
    freq_ppm: mpq = field(default_factory=lambda: mpq(0))
    steps: tuple[GrandmasterStep, ...] = ()
    origin_ns: int = (START_UNIX + TAI_MINUS_UTC) * NSEC

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Grandmaster name must be a non-empty str, got {self.name!r}")
        freq = _rational("Grandmaster freq_ppm", self.freq_ppm)
        if abs(freq) >= MAX_FREQ_PPM:
            raise ValueError(f"Grandmaster freq_ppm must be within ±{MAX_FREQ_PPM}, got {freq}")
        object.__setattr__(self, "freq_ppm", freq)
        steps = tuple(self.steps)
        if any(not isinstance(s, GrandmasterStep) for s in steps):
            raise ValueError("Grandmaster steps must be GrandmasterStep values")
        if any(a.at_s >= b.at_s for a, b in itertools.pairwise(steps)):
            raise ValueError("Grandmaster steps must be in increasing at_s order")
        object.__setattr__(self, "steps", steps)
        _int("Grandmaster origin_ns", self.origin_ns, 0)

    def time_ns(self, t: mpq) -> mpq:
        """The grandmaster's reading (exact ns) at true second `t` of the run."""
        value = mpq(self.origin_ns)
        freq, since = self.freq_ppm, mpq(0)
        for step in self.steps:
            if step.at_s > t:
                break
            value += (step.at_s - since) * NSEC * (1 + freq * PPM) + step.step_ns
            since = step.at_s
            if step.freq_ppm is not None:
                freq = step.freq_ppm
        return value + (t - since) * NSEC * (1 + freq * PPM)

    def freq_at(self, t: mpq) -> mpq:
        """Its frequency offset (ppm, exact) at true second `t`."""
        freq = self.freq_ppm
        for step in self.steps:
            if step.at_s <= t and step.freq_ppm is not None:
                freq = step.freq_ppm
        return freq


DEFAULT_GRANDMASTERS = (
    Grandmaster("gm-a", mpq(12)),
    Grandmaster("gm-b", mpq(-35), (GrandmasterStep(mpq(150), 250_000, mpq(-20)),)),
    Grandmaster("gm-c", mpq(3, 2), origin_ns=(START_UNIX + TAI_MINUS_UTC) * NSEC + 2_000_000),
)


@dataclass(frozen=True)
class ServoConfig:
    """The PI servo's settings: gains per sync interval, thresholds, the path.

    `kp` and `ki` act on the measured offset divided by the sync interval (a fraction); the
    servo steps (ADJ_SETOFFSET) when |offset| exceeds `step_threshold_ns`.  Each direction of
    the exchange takes `path_delay_ns` plus a seeded uniform draw in [0, `jitter_ns`].
    """

    sync_interval_s: mpq = field(default_factory=lambda: mpq(1))
    kp: mpq = field(default_factory=lambda: mpq(7, 10))
    ki: mpq = field(default_factory=lambda: mpq(3, 10))
    step_threshold_ns: int = 20_000
    path_delay_ns: int = 2_000
    jitter_ns: int = 0

    def __post_init__(self) -> None:
        for name in ("sync_interval_s", "kp", "ki"):
            value = _rational(name, getattr(self, name))
            if value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
            object.__setattr__(self, name, value)
        if self.kp >= 2 or self.ki >= 1:
            raise ValueError(f"kp must be < 2 and ki < 1 for a stable servo, got {self.kp}, "
                             f"{self.ki}")
        _int("step_threshold_ns", self.step_threshold_ns, 1)
        _int("path_delay_ns", self.path_delay_ns, 0)
        _int("jitter_ns", self.jitter_ns, 0)
        if (2 * (self.path_delay_ns + self.jitter_ns)) >= self.sync_interval_s * NSEC:
            raise ValueError("path_delay_ns + jitter_ns must fit in half a sync_interval_s")


class PiServo:
    """A proportional-integral clock servo steering one clock through a task's syscalls.

    The first exchange only records an offset; the second estimates the clock's frequency
    error from the two, sets the frequency and steps if needed; from then on an offset beyond
    the threshold is stepped away (the frequency is kept) and any other offset sets the
    frequency to integral + kp·offset/interval, the integral accumulating ki·offset/interval.
    """

    def __init__(self, task: Task, clockid: int, config: ServoConfig) -> None:
        self.task = task
        self.clockid = clockid
        self.config = config
        self.freq = mpq(0)  # the frequency set (a fraction, exact as set through the Timex)
        self.integral = mpq(0)
        self._first: tuple[int, mpq] | None = None
        self.locked = False
        self.steps: list[tuple[mpq, int]] = []  # (true s, step ns)
        self.freqs: list[tuple[mpq, mpq]] = []  # (true s, ppm)

    def sample(self, t: mpq, local_ns: int, offset_ns: mpq) -> None:
        """Act on one measured offset (clock − master, exact ns) taken at local time `local_ns`."""
        if not self.locked:
            self._acquire(t, local_ns, offset_ns)
            return
        if abs(offset_ns) > self.config.step_threshold_ns:
            self._step(t, offset_ns)
            return
        error = offset_ns / (self.config.sync_interval_s * NSEC)
        self.integral = _clamp(self.integral - self.config.ki * error)
        self._set_freq(t, self.integral - self.config.kp * error)

    def _acquire(self, t: mpq, local_ns: int, offset_ns: mpq) -> None:
        if self._first is None:
            self._first = (local_ns, offset_ns)
            return
        local0, offset0 = self._first
        drift = (offset_ns - offset0) / (local_ns - local0)
        self.integral = _clamp(self.freq - drift)
        self._set_freq(t, self.integral)
        if abs(offset_ns) > self.config.step_threshold_ns:
            self._step(t, offset_ns)
        self.locked = True

    def _set_freq(self, t: mpq, freq: mpq) -> None:
        scaled = round_q(_clamp(freq) * 1_000_000 * FREQ_SCALE)
        self.task.clock_adjtime(self.clockid, Timex(modes=ADJ_FREQUENCY, freq=scaled))
        self.freq = mpq(scaled, 1_000_000 * FREQ_SCALE)
        self.freqs.append((t, self.freq / PPM))

    def _step(self, t: mpq, offset_ns: mpq) -> None:
        delta = -round_q(offset_ns)
        sec, nsec = divmod(delta, NSEC)
        self.task.clock_adjtime(self.clockid, Timex(modes=ADJ_SETOFFSET | ADJ_NANO,
                                                    time=(sec, nsec)))
        self.steps.append((t, delta))


def _clamp(freq: mpq) -> mpq:
    limit = MAX_FREQ_PPM * PPM
    return max(-limit, min(limit, freq))


class PtpPort:
    """One slave port: exchanges with `grandmaster` every sync interval and feeds `servo`.

    Timestamps are taken where the packets are (hardware timestamping), so interrupt latency
    does not enter them: the Sync left the master at t1 (master time) one outbound leg before
    it reaches the slave at t2 (clock time); the Delay_Req leaves at once (t3 = t2) and
    reaches the master at t4, one return leg later; offset = ((t2−t1) − (t4−t3)) / 2.  With
    equal legs this is the exact offset at t2; jitter makes them unequal, by (out − back) / 2.
    The servo acts when the Delay_Resp is back (a further outbound leg).  The true offset
    (clock − master at the instant of t2) is recorded beside what the servo measured.
    """

    def __init__(self, ns: TimekeeperNamespace, grandmaster: Grandmaster, servo: PiServo | None,
                 reader: Task, clockid: int, rng: random.Random, config: ServoConfig) -> None:
        self.ns = ns
        self.host = ns.host
        self.gm = grandmaster
        self.servo = servo
        self.reader = reader
        self.clockid = clockid
        self.rng = rng
        self.config = config
        self.true_offsets: list[tuple[mpq, mpq]] = []  # (true s, clock − master ns)
        self.measured: list[tuple[mpq, mpq]] = []

    def timekeeper(self) -> Timekeeper:
        """The timekeeper behind the clock (the aux clock's own, or the namespace's)."""
        if self.clockid == CLOCK_REALTIME:
            return self.ns.tk
        tk = self.ns.aux.clock(self.clockid).tk
        assert tk is not None
        return tk

    def start(self) -> None:
        """The first Sync reaches the slave one sync interval (plus the path) into the run."""
        self._schedule(1)

    def _leg(self) -> mpq:
        return mpq(self.config.path_delay_ns + self.rng.randint(0, self.config.jitter_ns), NSEC)

    def _schedule(self, k: int) -> None:
        at = k * self.config.sync_interval_s + mpq(self.config.path_delay_ns, NSEC)
        at_true_time(self.host, at, self._exchange, k)

    def _exchange(self, k: int) -> None:
        t = self.host.true_time
        out, back = self._leg(), self._leg()
        t1 = self.gm.time_ns(t - out)
        t2 = self.reader.clock_gettime_ns(self.clockid)
        t4 = self.gm.time_ns(t + back)
        self.true_offsets.append((t, t2 - self.gm.time_ns(t)))
        offset = ((t2 - t1) - (t4 - t2)) / 2
        self.measured.append((t, offset))
        if self.servo is not None:
            at_true_time(self.host, t + back + out, self._deliver, t2, offset)
        self._schedule(k + 1)

    def _deliver(self, t2: int, offset: mpq) -> None:
        assert self.servo is not None
        self.servo.sample(self.host.true_time, t2, offset)


@dataclass
class PtpRun:
    """One run: per grandmaster its metrics (plain numbers) and series; the core clock's."""

    model: str
    seed: int
    duration_s: int
    grandmasters: tuple[Grandmaster, ...]
    results: dict[str, dict[str, Any]]
    series: dict[str, list[tuple[float, float]]]  # name → (true s, true offset ns)
    realtime_ns: list[int]  # the core namespace's REALTIME at every whole second
    core: dict[str, Any]
    freq_series: dict[str, list[tuple[float, float]]]  # name → (true s, ppm set)

    def table(self) -> str:
        """A plain-text summary, one row per grandmaster."""
        head = (f"{'grandmaster':<12}{'clock':>12}{'conv s':>8}{'rms ns':>10}{'max ns':>10}"
                f"{'freq ppm':>12}{'want ppm':>12}{'steps':>6}")
        rows = [head]
        for name, r in self.results.items():
            conv = "-" if r["convergence_s"] is None else f"{r['convergence_s']:.0f}"
            rows.append(f"{name:<12}{r['clock']:>12}{conv:>8}{r['rms_offset_ns']:>10.1f}"
                        f"{r['max_abs_offset_ns']:>10.1f}{r['freq_ppm']:>12.4f}"
                        f"{r['expected_freq_ppm']:>12.4f}{len(r['steps']):>6}")
        return "\n".join(rows)


def follow_grandmasters(
    grandmasters: Sequence[Grandmaster] = DEFAULT_GRANDMASTERS,
    *,
    model: str = "aux",
    duration_s: int = 300,
    seed: int = 0,
    servo: ServoConfig | None = None,
    aux_servos: bool = True,
    core_ntp: bool = True,
    converge_ns: int = 1_000,
    error_ppm: int | mpq = 7,
    hz: int = 250,
    update: str = "periodic",
    kernel_version: str = "7.3",
    lazy_error_bound_ns: int = 100,
) -> PtpRun:
    """Follow every grandmaster with one servo each (see the module docstring).

    `model` is ``"aux"`` (aux clocks of one namespace, whose REALTIME follows NTP when
    `core_ntp`) or ``"namespaces"`` (the REALTIME of one timekeeper namespace per
    grandmaster).  `aux_servos=False` keeps the measuring but no servo steers (the
    control run: the core clock must be the same).  `converge_ns`: the offset below which a
    clock counts as converged.  `error_ppm`: the counter's frequency error.
    `lazy_error_bound_ns`: the host's bound for ``update="lazy"`` (its ±1 mult dither lets
    each clock drift that far before it flips, and a servo sees that as noise).
    """
    gms = _check_args(grandmasters, model, duration_s, seed, converge_ns)
    config = servo if servo is not None else ServoConfig()
    if not isinstance(config, ServoConfig):
        raise ValueError(f"servo must be a ServoConfig, got {config!r}")
    cs = Clocksource(3_000_000_000, 64, error_ppm=error_ppm, seed=seed, name="tsc")
    host = Host(clocksource=cs, hz=hz, realtime_ns=START_UNIX * NSEC,
                tai_offset=TAI_MINUS_UTC, kernel_version=kernel_version, aux_clocks=True,
                lazy_error_bound_ns=lazy_error_bound_ns)
    core = host.create_namespace("ptp", update=update)
    if core_ntp:
        NtpDaemon(core, ChronyClient(poll_exp=4), ReferenceServer(), PathModel(),
                  seed=seed, epoch_unix=START_UNIX).start()
    rng = random.Random(seed)
    ports = [_attach(host, core, gm, n, model, config, rng, aux_servos, update)
             for n, gm in enumerate(gms)]
    realtime = _run(host, core, duration_s)
    counter_hz = cs.frequency_at(host.true_time)
    results = {p.gm.name: _metrics(p, counter_hz, cs.error_ppm, converge_ns) for p in ports}
    series = {p.gm.name: [(float(t), float(o)) for t, o in p.true_offsets] for p in ports}
    freqs = {p.gm.name: [(float(t), float(f)) for t, f in p.servo.freqs] if p.servo else []
             for p in ports}
    return PtpRun(model, seed, duration_s, gms, results, series, realtime,
                  _core_metrics(realtime), freqs)


def _check_args(grandmasters: Sequence[Grandmaster], model: str, duration_s: int, seed: int,
                converge_ns: int) -> tuple[Grandmaster, ...]:
    gms = tuple(grandmasters)
    if not gms or any(not isinstance(g, Grandmaster) for g in gms):
        raise ValueError("grandmasters must be a non-empty sequence of Grandmaster")
    if len(gms) > MAX_AUX_CLOCKS:
        raise ValueError(f"grandmasters: at most {MAX_AUX_CLOCKS} (one aux clock each), "
                         f"got {len(gms)}")
    if len({g.name for g in gms}) != len(gms):
        raise ValueError("grandmasters must have distinct names")
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    _int("duration_s", duration_s, 3)
    _int("seed", seed, 0)
    _int("converge_ns", converge_ns, 1)
    return gms


def _attach(host: Host, core: TimekeeperNamespace, gm: Grandmaster, index: int, model: str,
            config: ServoConfig, rng: random.Random, steer: bool, update: str) -> PtpPort:
    """The clock for `gm` (aux clock `index` of `core`, or a namespace's REALTIME), its port."""
    if model == "aux":
        ns, clockid = core, CLOCK_AUX + index
    else:
        ns, clockid = host.create_namespace(f"ptp-{gm.name}", update=update), CLOCK_REALTIME
    task = ns.spawn({"CAP_SYS_TIME"})
    if model == "aux":
        task.aux_clock_enable_write(index, "1")
    servo = PiServo(task, clockid, config) if steer else None
    port = PtpPort(ns, gm, servo, task, clockid, random.Random(rng.getrandbits(64)), config)
    port.start()
    return port


def _run(host: Host, core: TimekeeperNamespace, duration_s: int) -> list[int]:
    """Run `duration_s` true seconds; the core namespace's REALTIME at every whole second."""
    realtime = []
    for second in range(duration_s + 1):
        host.run_until(second * NSEC)
        realtime.append(core.clock_gettime_ns(CLOCK_REALTIME))
    return realtime


def ideal_freq_ppm(gm_ppm: mpq, counter_error_ppm: mpq) -> mpq:
    """The frequency (ppm, exact) a clock on a counter that runs `counter_error_ppm` fast must
    be given to run at the grandmaster's rate, if the kernel's tick were exact: (1+g)/(1+e) − 1."""
    return ((1 + gm_ppm * PPM) / (1 + counter_error_ppm * PPM) - 1) / PPM


def expected_freq_ppm(gm_ppm: mpq, tk: Timekeeper, counter_hz: mpq) -> mpq:
    """The ADJ_FREQUENCY (ppm, exact) at which timekeeper `tk` on a counter of true frequency
    `counter_hz` runs at the grandmaster's rate.

    Per accumulation interval of `cycle_interval` cycles the clock advances tick_length
    (2^-32 ns); at frequency 0 that is the base second (with the rounding of the tick to whole
    cycles, `cs_tick_adj`, on 7.3) over HZ, and every ppm adds 10^9/HZ · 2^32 · 10^-6 (the
    ``ntp_update_frequency`` sum).  Needed per interval: 10^9 (1+g) · cycle_interval /
    counter_hz ns.  Differs from `ideal_freq_ppm` by the rounding of the interval.
    """
    ntp = tk.ntp
    base0 = mpq(ntp.tick_length_base) - mpq(ntp.time_freq, ntp.hz)
    needed = NSEC * (1 + gm_ppm * PPM) * tk.cycle_interval / counter_hz * (1 << 32)
    return (needed - base0) * ntp.hz / (NSEC << 32) / PPM


def _segments(port: PtpPort, end: mpq) -> list[tuple[mpq, mpq]]:
    """(start, end) true-time spans between grandmaster steps: the start, then each step."""
    cuts = [mpq(0), *(s.at_s for s in port.gm.steps if s.at_s < end), end + 1]
    return list(itertools.pairwise(cuts))


def _settle(points: list[tuple[mpq, mpq]], limit: int) -> mpq | None:
    """The first sample time after which every offset stays within `limit` (None: never)."""
    for i in range(len(points) - 1, -1, -1):
        if abs(points[i][1]) > limit:
            return points[i + 1][0] if i + 1 < len(points) else None
    return points[0][0] if points else None


def _metrics(port: PtpPort, counter_hz: mpq, counter_error_ppm: mpq,
             converge_ns: int) -> dict[str, Any]:
    """Per span between grandmaster steps: when the clock settled within `converge_ns`; over
    the settled samples RMS and max offset; the frequency found in the last span."""
    last = port.true_offsets[-1][0]
    spans = _segments(port, last)
    settled: list[mpq] = []
    settle_s: list[float | None] = []
    for lo, hi in spans:
        points = [(t, o) for t, o in port.true_offsets if lo <= t < hi]
        at = _settle(points, converge_ns)
        settle_s.append(None if at is None else float(at - lo))
        settled += [o for t, o in points if at is not None and t >= at]
    servo = port.servo
    lo = spans[-1][0]
    tail = [f for t, f in servo.freqs if t >= (lo + last) / 2] if servo is not None else []
    found = sum(tail, mpq(0)) / len(tail) if tail else mpq(0)
    gm_ppm = port.gm.freq_at(last)
    want = expected_freq_ppm(gm_ppm, port.timekeeper(), counter_hz)
    return {
        "clock": clock_name(port.clockid),
        "convergence_s": settle_s[0],
        "recovery_s": settle_s[1:],
        "rms_offset_ns": (math.sqrt(float(sum((o * o for o in settled), mpq(0)) / len(settled)))
                          if settled else math.nan),
        "max_abs_offset_ns": float(max(abs(o) for o in settled)) if settled else math.nan,
        "settled_samples": len(settled),
        "freq_ppm": float(found),
        "expected_freq_ppm": float(want),
        "freq_error_ppm": float(found - want),
        "ideal_freq_ppm": float(ideal_freq_ppm(gm_ppm, counter_error_ppm)),
        "grandmaster_ppm": float(gm_ppm),
        "steps": [(float(t), s) for t, s in servo.steps] if servo is not None else [],
        "samples": len(port.true_offsets),
    }


def _core_metrics(realtime: list[int]) -> dict[str, Any]:
    """REALTIME against true UTC at each whole second (the core clock follows NTP)."""
    errors = [r - (START_UNIX + s) * NSEC for s, r in enumerate(realtime)]
    late = errors[len(errors) // 2:]
    return {"max_abs_offset_utc_ns": max(abs(e) for e in errors),
            "max_abs_offset_utc_second_half_ns": max(abs(e) for e in late)}


# -- the comparison -----------------------------------------------------------------------


@dataclass
class PtpComparison:
    """Both models on the same grandmasters, what each clock can express, the cost."""

    runs: dict[str, PtpRun]
    capabilities: dict[str, dict[str, str]]
    cost: dict[str, dict[str, float]]

    def table(self) -> str:
        lines = []
        for name, run in self.runs.items():
            lines += [f"[{name}]", run.table(), ""]
        lines.append(f"{'what':<22}" + "".join(f"{m:>14}" for m in self.capabilities))
        for what in next(iter(self.capabilities.values())):
            lines.append(f"{what:<22}" + "".join(f"{c[what]:>14}"
                                                  for c in self.capabilities.values()))
        lines.append("")
        for model, c in self.cost.items():
            lines.append(f"{model:<12} {c['bytes_per_timekeeper']:>8.0f} B per timekeeper, "
                         f"{c['wall_ms_per_sim_s']:.2f} ms per simulated s with "
                         f"{c['timekeepers']:.0f}, "
                         f"{c['wall_ms_per_sim_s_per_extra_timekeeper']:.2f} per extra one")
        return "\n".join(lines)


def compare_models(grandmasters: Sequence[Grandmaster] = DEFAULT_GRANDMASTERS, *,
                   duration_s: int = 300, seed: int = 0, servo: ServoConfig | None = None,
                   cost_s: int = 60) -> PtpComparison:
    """`follow_grandmasters` in both models, `probe_capabilities`, `measure_cost`."""
    runs = {m: follow_grandmasters(grandmasters, model=m, duration_s=duration_s, seed=seed,
                                   servo=servo) for m in MODELS}
    return PtpComparison(runs, probe_capabilities(), measure_cost(len(grandmasters), cost_s))


def _try(call: Any) -> str:
    """"ok", or the errno name the call failed with."""
    try:
        call()
    except OSError as exc:
        if exc.errno == errno.EOPNOTSUPP:  # errorcode names 95 ENOTSUP; the kernel's is this
            return "EOPNOTSUPP"
        return errno.errorcode.get(exc.errno or 0, str(exc.errno))
    return "ok"


def probe_capabilities(kernel_version: str = "7.3", domains: int = 3) -> dict[str, dict[str, str]]:
    """Try, on aux clocks and on timekeeper namespaces' REALTIME, what a PTP user may want:
    timers, sleeps, timerfds, a leap second, a TAI offset, settime, and how many PTP domains
    one task can read (each clock enabled and stepped to a distinct value first)."""
    host = Host(kernel_version=kernel_version, aux_clocks=True, realtime_ns=START_UNIX * NSEC)
    ns = host.create_namespace("probe")
    task = ns.spawn({"CAP_SYS_TIME"})
    for n in range(domains):
        task.aux_clock_enable_write(n, "1")
    others = [host.create_namespace(f"probe{n}").spawn({"CAP_SYS_TIME"})
              for n in range(domains)]
    out = {}
    for model, clockid in (("aux", CLOCK_AUX), ("namespaces", CLOCK_REALTIME)):
        out[model] = {
            "timer_create": _try(lambda c=clockid: task.timer_create(c)),
            "clock_nanosleep": _try(lambda c=clockid: task.clock_nanosleep(c, NSEC)),
            "timerfd_create": _try(lambda c=clockid: task.timerfd_create(c)),
            "leap second": _try(lambda c=clockid: task.clock_adjtime(
                c, Timex(modes=ADJ_STATUS, status=STA_INS))),
            "ADJ_TAI": _try(lambda c=clockid: task.clock_adjtime(
                c, Timex(modes=ADJ_TAI, constant=TAI_MINUS_UTC))),
            "clock_settime": _try(lambda c=clockid: task.clock_settime_ns(c, START_UNIX * NSEC)),
        }
        task.clock_adjtime(clockid, Timex(modes=ADJ_STATUS, status=0))
    out["aux"]["domains per task"] = str(_readable(task, [CLOCK_AUX + n for n in range(domains)]))
    # a task of a per-domain namespace reads its own REALTIME; its aux clocks are not enabled
    own = others[0]
    out["namespaces"]["domains per task"] = str(
        _readable(own, [CLOCK_REALTIME]) + _readable(own, [CLOCK_AUX + n for n in range(domains)]))
    return out


def _readable(task: Task, clockids: list[int]) -> int:
    """How many of `clockids` the task can read (enabled aux clocks; ENODEV otherwise)."""
    return sum(1 for c in clockids if _try(lambda c=c: task.clock_gettime_ns(c)) == "ok")


def _bytes_of(build: Any, copies: int = 8) -> int:
    """Bytes still allocated (tracemalloc) after `copies` calls of `build`, per call."""
    build()  # warm-up: first-use caches and imports are not the model's cost
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    keep = [build() for _ in range(copies)]
    gc.collect()
    size = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    del keep
    return size // copies


def measure_cost(timekeepers: int = 3, sim_s: int = 60,
                 kernel_version: str = "7.3") -> dict[str, dict[str, float]]:
    """Memory (tracemalloc) and wall time per simulated second, per model, for `timekeepers`
    clocks following grandmasters (no NTP on the core, so only the PTP work is timed)."""
    _int("timekeepers", timekeepers, 1)
    if timekeepers > MAX_AUX_CLOCKS:
        raise ValueError(f"timekeepers: at most {MAX_AUX_CLOCKS}, got {timekeepers}")
    _int("sim_s", sim_s, 3)

    def build(model: str) -> Any:
        host = Host(kernel_version=kernel_version, aux_clocks=True)
        ns = host.create_namespace("base")
        task = ns.spawn({"CAP_SYS_TIME"})
        for n in range(timekeepers):
            if model == "aux":
                task.aux_clock_enable_write(n, "1")
            elif model == "namespaces":
                host.create_namespace(f"ns{n}")
        return host

    out = {}
    base = min(_bytes_of(lambda: build("none")) for _ in range(2))
    for model in MODELS:
        size = min(_bytes_of(lambda m=model: build(m)) for _ in range(2)) - base
        walls = {n: _wall_ms_per_sim_s(model, n, sim_s) for n in sorted({1, timekeepers})}
        marginal = ((walls[timekeepers] - walls[1]) / (timekeepers - 1) if timekeepers > 1
                    else walls[1])
        out[model] = {"timekeepers": float(timekeepers),
                      "bytes_per_timekeeper": size / timekeepers,
                      "wall_ms_per_sim_s": walls[timekeepers],
                      "wall_ms_per_sim_s_per_extra_timekeeper": marginal}
    return out


def _wall_ms_per_sim_s(model: str, timekeepers: int, sim_s: int) -> float:
    gms = tuple(Grandmaster(f"gm{n}", mpq(5 * n - 7)) for n in range(timekeepers))
    start = time.perf_counter()
    follow_grandmasters(gms, model=model, duration_s=sim_s, core_ntp=False)
    return 1000 * (time.perf_counter() - start) / sim_s


# -- figures and the command line ----------------------------------------------------------


def offsets_figure(run: PtpRun) -> Any:
    """A matplotlib figure: offset to its grandmaster (upper panel) and the frequency set
    (lower panel) vs time, one line per grandmaster.  The offsets before the first lock (the
    clock still far from the grandmaster's epoch) are left out of the upper panel."""
    from .figures import subplots

    fig, (top, bottom) = subplots(2, 1, figsize=(8, 6.5), sharex=True)
    for name, points in run.series.items():
        locked = run.results[name]["steps"][0][0] if run.results[name]["steps"] else 0.0
        shown = [(t, o) for t, o in points if t > locked]
        top.plot([t for t, _ in shown], [o for _, o in shown], label=name, lw=1)
        freqs = run.freq_series[name]
        bottom.step([t for t, _ in freqs], [f for _, f in freqs], where="post", label=name, lw=1)
    top.set_yscale("symlog", linthresh=10)
    top.set_ylabel("clock − grandmaster (ns)")
    top.set_title(f"PI servos following grandmasters, model '{run.model}'")
    bottom.set_ylabel("ADJ_FREQUENCY set (ppm)")
    bottom.set_xlabel("true time (s)")
    for ax in (top, bottom):
        ax.legend(fontsize="small")
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def plot_offsets(run: PtpRun, out_dir: Path) -> list[Path]:
    """`offsets_figure` as PNG and SVG files in `out_dir` (made if missing); their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fig = offsets_figure(run)
    paths = [out_dir / f"ptp-offsets-{run.model}.{ext}" for ext in ("png", "svg")]
    import matplotlib.pyplot as plt

    with plt.rc_context({"svg.hashsalt": "timekeepers"}):  # the same run, the same bytes
        for path in paths:
            fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(fig)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tk_core.ptp_experiment --out DIR``: run both models, print, draw."""
    parser = argparse.ArgumentParser(prog="python -m tk_core.ptp_experiment",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the figures")
    parser.add_argument("--duration", type=int, default=300, help="simulated seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jitter-ns", type=int, default=0, help="path-delay jitter per leg")
    parser.add_argument("--cost-s", type=int, default=60,
                        help="simulated seconds of each timed run for the cost figures")
    args = parser.parse_args(argv)
    comparison = compare_models(duration_s=args.duration, seed=args.seed,
                                servo=ServoConfig(jitter_ns=args.jitter_ns), cost_s=args.cost_s)
    print(comparison.table())
    for run in comparison.runs.values():
        for path in plot_offsets(run, args.out):
            print(path)
    return 0


__all__ = [
    "DEFAULT_GRANDMASTERS",
    "Grandmaster",
    "GrandmasterStep",
    "PiServo",
    "PtpComparison",
    "PtpPort",
    "PtpRun",
    "ServoConfig",
    "compare_models",
    "expected_freq_ppm",
    "follow_grandmasters",
    "ideal_freq_ppm",
    "measure_cost",
    "offsets_figure",
    "plot_offsets",
    "probe_capabilities",
]

if __name__ == "__main__":
    raise SystemExit(main())
