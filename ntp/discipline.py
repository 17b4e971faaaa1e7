"""NTP client models that steer any clock exposing `clock_gettime_ns` and `adjtimex`.

Pure: no tk_core import.  A client never touches clock internals: it reads CLOCK_REALTIME and
calls adjtimex exactly as a daemon on a real kernel would.  The engine (tk_core.daemon) runs
the exchange — it schedules polls as timers in the host's queue, draws the network delays
from a seeded `PathModel`, stamps the server's clock at the true instant the request arrives,
and hands the four timestamps to `on_sample`.

Two models:

* `NtpdClient` — the kernel-PLL discipline of ntpd: every sample goes to the kernel as
  ADJ_OFFSET with STA_PLL and a time constant derived from the poll interval; the kernel's
  PLL/FLL (ntp.kernel) does the rest.  Offsets above the step threshold (128 ms) are stepped
  with ADJ_SETOFFSET.  Leap seconds: STA_INS/STA_DEL on the leap day (the kernel steps), or
  with `slew_leap` (ntpd −x) nothing is armed and the 1 s error is slewed away at 500 ppm.
* `ChronyClient` — chronyd's approach: a least-squares fit of the offsets (corrected for the
  frequency and steps it applied itself) gives the frequency error; the frequency is set
  directly (ADJ_FREQUENCY, ADJ_TICK beyond ±500 ppm) and the remaining offset is slewed over
  `corrtimeratio` update intervals at no more than `maxslewrate`; offsets above `makestep` are
  stepped during the first updates.  `leapsecmode` is system / step / slew / ignore.

Conventions: an offset θ is server − client (positive: the client is behind).  Times are int ns;
frequencies are exact rationals (dimensionless; 1e-6 is 1 ppm).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from gmpy2 import mpq

from ntp.exact import floor_q, round_q
from ntp.polling import CHRONY_DISPERSION_NS, ChronyPoll, NtpdPoll, check_range
from ntp.timex import (
    ADJ_ESTERROR,
    ADJ_FREQUENCY,
    ADJ_MAXERROR,
    ADJ_NANO,
    ADJ_OFFSET,
    ADJ_SETOFFSET,
    ADJ_STATUS,
    ADJ_TICK,
    ADJ_TIMECONST,
    STA_DEL,
    STA_INS,
    STA_PLL,
    STA_UNSYNC,
    Timex,
)
from ntp.trace import TRACE, emit

if TYPE_CHECKING:
    from ntp.smear import BoundSmear, LeapLike

NSEC = 1_000_000_000
CLOCK_REALTIME = 0
CLOCK_MONOTONIC = 1
PPM = mpq(1, 1_000_000)
_ZERO = mpq(0)
MAX_FREQ = 500 * PPM
TICK_UNIT = mpq(1, 10_000)  # one ADJ_TICK µs at USER_HZ 100 is 100 ppm
LEAP_NONE, LEAP_INSERT, LEAP_DELETE = 0, 1, 2
FREQ_GRID = 1 << 48  # estimates are kept to 2^-48 (3.6e-15), far below what adjtimex can set
DAY_S = 86_400
LEAP_CLOSE_S = 5  # chronyd drops samples this close to a pending leap (reference.c)
LEAP_END_S = 2  # chronyd ends its leap handling this long after it started it


class SteerableClock(Protocol):
    """What a client needs: a REALTIME reading and adjtimex (a namespace or a task)."""

    def clock_gettime_ns(self, clockid: int) -> int: ...

    def adjtimex(self, tx: Timex) -> int: ...


@dataclass(frozen=True)
class PathModel:
    """A network path: fixed one-way delay, uniform jitter, asymmetry, loss (all seeded).

    Each direction's delay is `delay_ns` + a uniform draw in [0, `jitter_ns`]; the return
    direction adds `asymmetry_ns`.  `loss` is the probability (exact) that an exchange is lost.
    """

    delay_ns: int = 250_000
    jitter_ns: int = 100_000
    asymmetry_ns: int = 0
    loss: mpq = field(default_factory=lambda: mpq(0))

    def __post_init__(self) -> None:
        if self.delay_ns < 0 or self.jitter_ns < 0 or self.delay_ns + self.asymmetry_ns < 0:
            raise ValueError("PathModel delays must be >= 0")
        if not 0 <= mpq(self.loss) < 1:
            raise ValueError("PathModel loss must be in [0, 1)")

    def draw(self, rng: random.Random) -> tuple[int, int] | None:
        """(outbound, return) delays in ns, or None when the exchange is lost."""
        if self._lost(rng):
            return None
        return self._leg(rng, reverse=False), self._leg(rng, reverse=True)

    def draw_one_way(self, rng: random.Random, *, reverse: bool = False) -> int | None:
        """One datagram's delay in ns (`reverse`: the return direction), or None if lost.

        For a datagram network (tk_shim.netsim), where each packet travels on its own: the
        loss probability applies to every datagram, so an exchange of two is lost with
        probability 1 − (1 − loss)².
        """
        if self._lost(rng):
            return None
        return self._leg(rng, reverse=reverse)

    def _lost(self, rng: random.Random) -> bool:
        loss = mpq(self.loss)
        return bool(loss) and rng.randrange(loss.denominator) < loss.numerator

    def _leg(self, rng: random.Random, *, reverse: bool) -> int:
        extra = self.asymmetry_ns if reverse else 0
        return self.delay_ns + extra + rng.randint(0, self.jitter_ns)


def offset_of(t1: int, t2: int, t3: int, t4: int) -> mpq:
    """The NTP on-wire offset ((t2 − t1) + (t3 − t4)) / 2, exactly."""
    return mpq((t2 - t1) + (t3 - t4), 2)


def frequency_modes(freq: mpq) -> Timex:
    """A Timex that sets frequency `freq` (dimensionless): ADJ_FREQUENCY, plus ADJ_TICK beyond
    ±500 ppm (the tick carries whole 100 ppm steps, the frequency the rest)."""
    tick_steps = 0
    if abs(freq) > MAX_FREQ:
        tick_steps = max(-1000, min(1000, int(freq / TICK_UNIT)))  # int() truncates to 0
    rest = freq - tick_steps * TICK_UNIT
    scaled = round_q(rest * 1_000_000 * 65536)
    scaled = max(-(500 << 16), min(500 << 16, scaled))
    return Timex(modes=ADJ_FREQUENCY | ADJ_TICK, freq=scaled, tick=10_000 + tick_steps)


def applied_frequency(tx: Timex) -> mpq:
    """The frequency (dimensionless, exact) that a `frequency_modes` Timex really sets."""
    return mpq(tx.freq, 65_536 * 1_000_000) + (tx.tick - 10_000) * TICK_UNIT


#: chronyd caps the error bounds it reports at 16 s (MAX_SYNC_ERROR in sys_timex.c).
MAX_SYNC_ERROR_US = 16_000_000


@dataclass
class Sample:
    local_ns: int
    offset_ns: mpq
    delay_ns: int


class NtpClient:
    """Common parts: poll interval, sample log, leap indicator bookkeeping."""

    name = "client"

    def __init__(
        self, poll_exp: int = 6, minpoll: int | None = None, maxpoll: int | None = None
    ) -> None:
        # minpoll and maxpoll default to poll_exp: a fixed interval.  With minpoll < maxpoll
        # the model adapts its interval the way its daemon does (ntp.polling), starting at
        # poll_exp.
        self.minpoll, self.maxpoll = check_range(poll_exp, minpoll, maxpoll)
        self.poll_exp = poll_exp
        self.samples: list[Sample] = []
        self.updates = 0
        self.leap_pending = LEAP_NONE

    @property
    def adaptive(self) -> bool:
        return self.minpoll < self.maxpoll

    @property
    def poll_ns(self) -> int:
        return NSEC << self.poll_exp

    def next_poll_ns(self) -> int:
        """Delay until the next poll (the engine arms a timer on the client's MONOTONIC)."""
        return self.poll_ns

    def on_sample(
        self, clock: SteerableClock, t1: int, t2: int, t3: int, t4: int, leap: int
    ) -> None:
        theta = offset_of(t1, t2, t3, t4)
        self.samples.append(Sample(t4, theta, (t4 - t1) - (t3 - t2)))
        self.leap_pending = leap
        if TRACE.enabled:
            emit("ntp_sample", client=self.name, offset_ns=float(theta), leap=leap)
        self.update(clock, theta)
        self.updates += 1

    def update(self, clock: SteerableClock, theta: mpq) -> None:
        raise NotImplementedError

    def on_leap_instant(self, clock: SteerableClock, sign: int) -> int | None:
        """Called at the leap instant (client REALTIME midnight); may return a follow-up delay."""
        return None

    def on_leap_followup(self, clock: SteerableClock) -> None:
        """Called after the delay `on_leap_instant` returned."""


class NtpdClient(NtpClient):
    """ntpd with the kernel discipline (see the module docstring)."""

    name = "ntpd"

    def __init__(
        self,
        poll_exp: int = 6,
        step_threshold_ns: int = 128_000_000,
        slew_leap: bool = False,
        minpoll: int | None = None,
        maxpoll: int | None = None,
    ) -> None:
        super().__init__(poll_exp, minpoll, maxpoll)
        self.slew_leap = slew_leap
        self.step_threshold_ns = 600 * NSEC if slew_leap else step_threshold_ns
        self.started = False
        self.poller = NtpdPoll(poll_exp, self.minpoll, self.maxpoll) if self.adaptive else None

    def _leap_bits(self) -> int:
        if self.slew_leap:
            return 0
        return {LEAP_INSERT: STA_INS, LEAP_DELETE: STA_DEL}.get(self.leap_pending, 0)

    def update(self, clock: SteerableClock, theta: mpq) -> None:
        if abs(theta) > self.step_threshold_ns:
            step = round_q(theta)
            sec, nsec = divmod(step, NSEC)
            clock.adjtimex(Timex(modes=ADJ_SETOFFSET | ADJ_NANO, time=(sec, nsec)))
            return
        tx = Timex(
            modes=ADJ_OFFSET | ADJ_STATUS | ADJ_TIMECONST | ADJ_NANO | ADJ_MAXERROR,
            offset=round_q(theta),
            status=STA_PLL | self._leap_bits(),
            constant=max(0, self.poll_exp - 4),
            maxerror=0,
        )
        clock.adjtimex(tx)
        if self.poller is not None:  # after the kernel update, as in ntpd's local_clock
            self.poll_exp = self.poller.update(theta)


class ChronyClient(NtpClient):
    """chronyd-like frequency-and-slew discipline (see the module docstring)."""

    name = "chrony"
    LEAPSECMODES = ("system", "step", "slew", "ignore")

    def __init__(
        self,
        poll_exp: int = 6,
        makestep_ns: int = NSEC,
        makestep_limit: int = 3,
        corrtimeratio: int = 3,
        maxslewrate: mpq | None = None,
        leapsecmode: str = "system",
        max_samples: int = 16,
        minpoll: int | None = None,
        maxpoll: int | None = None,
        rtcsync: bool = True,
    ) -> None:
        super().__init__(poll_exp, minpoll, maxpoll)
        if leapsecmode not in self.LEAPSECMODES:
            raise ValueError(f"leapsecmode must be one of {self.LEAPSECMODES}, got {leapsecmode!r}")
        self.makestep_ns = makestep_ns
        self.makestep_limit = makestep_limit
        self.corrtimeratio = corrtimeratio
        self.maxslewrate = mpq(maxslewrate) if maxslewrate is not None else mpq(1, 12)
        self.leapsecmode = leapsecmode
        self.max_samples = max_samples
        self.freq = mpq(0)  # what the client has set (dimensionless)
        self.base_freq = mpq(0)  # its estimate of the frequency that cancels the clock error
        self.applied_ns = mpq(0)  # corrections it applied itself, integrated (ns)
        self.applied_at: int | None = None  # local time the current frequency was set
        self.corrected: list[tuple[int, mpq]] = []  # (local ns, offset + applied corrections)
        self.leap_slewing = False
        self.leap_end_mono: int | None = None  # MONOTONIC ns at which the leap handling ends
        self.poller = ChronyPoll(poll_exp, self.minpoll, self.maxpoll) if self.adaptive else None
        self.dropped_near_leap = 0
        # chrony.conf's `rtcsync` (in Debian's shipped file).  On Linux chronyd clears
        # STA_UNSYNC only with it: without, the status word stays unsynchronised.
        self.rtcsync = rtcsync

    # -- samples around a leap ------------------------------------------------------------------

    def leap_is_close(self, realtime_ns: int) -> bool:
        """chronyd's `REF_IsLeapSecondClose`: a leap is pending and midnight is within 5 s.

        While a leap is due, chronyd (reference.c) discards every measurement whose local
        time lies within `LEAP_CLOSE_S` seconds either side of midnight UTC: an exchange that
        straddles the kernel's leap would otherwise read as a half-second offset (the client
        stamps one side before the inserted second, the other after) and the frequency loop
        would chase it for half an hour.
        """
        if self.leap_pending == LEAP_NONE:
            return False
        secs = abs(realtime_ns) // NSEC
        return (secs + LEAP_CLOSE_S) % DAY_S < 2 * LEAP_CLOSE_S

    def on_sample(
        self, clock: SteerableClock, t1: int, t2: int, t3: int, t4: int, leap: int
    ) -> None:
        """Drop the sample, as chronyd does, when it lies close to a pending leap."""
        self._maybe_end_leap(clock)
        if self.leap_is_close(t4):
            self.dropped_near_leap += 1
            if TRACE.enabled:
                emit("ntp_sample_dropped", client=self.name, reason="leap_close", t4=t4)
            return
        super().on_sample(clock, t1, t2, t3, t4, leap)

    def _maybe_end_leap(self, clock: SteerableClock) -> None:
        """chronyd's `leap_end_timeout`, checked lazily: forget the leap once it is over."""
        if self.leap_end_mono is None:
            return
        if clock.clock_gettime_ns(CLOCK_MONOTONIC) >= self.leap_end_mono:
            self.leap_end_mono = None
            self.leap_pending = LEAP_NONE

    # -- bookkeeping of the corrections the client applied itself -----------------------------

    def _integrate(self, now: int) -> None:
        """Add the phase the client's own frequency setting has moved the clock since then.

        Over `dt` of its own (steered) time a clock running at 1 + F has gained
        dt·F/(1 + F) on the same clock left alone — for chrony's 1/12 leap slew the
        difference from dt·F is 8 %.
        """
        if self.applied_at is not None:
            # Kept to whole ns: a daemon's bookkeeping needs no more, and exact rationals
            # with ever-growing denominators would slow a long run down.
            self.applied_ns += round_q((now - self.applied_at) * self.freq / (1 + self.freq))
        self.applied_at = now

    def _set_freq(self, clock: SteerableClock, freq: mpq, now: int) -> None:
        """Set `freq` and remember the value the kernel really got (16.16 ppm, tick steps)."""
        self._integrate(now)
        tx = frequency_modes(freq)
        self.freq = applied_frequency(tx)
        clock.adjtimex(tx)

    def _step(self, clock: SteerableClock, delta_ns: int) -> None:
        sec, nsec = divmod(delta_ns, NSEC)
        clock.adjtimex(Timex(modes=ADJ_SETOFFSET | ADJ_NANO, time=(sec, nsec)))
        self.applied_ns += delta_ns

    # -- the update -----------------------------------------------------------------------------

    def update(self, clock: SteerableClock, theta: mpq) -> None:
        now = self.samples[-1].local_ns
        self._integrate(now)
        if abs(theta) > self.makestep_ns and self.updates < self.makestep_limit:
            self._step(clock, round_q(theta))
            self.corrected.clear()
            return
        # What would have been measured had the client applied nothing: a straight line
        # whose slope is minus the clock's own frequency error, which is the frequency
        # that cancels it.
        y = theta + self.applied_ns
        error = mpq(0)  # how far the new point lies from the line the old ones predicted
        if self.poller is not None and len(self.corrected) >= 2:
            error = abs(y - _predict(self.corrected, now))
        self.corrected.append((now, y))
        del self.corrected[: -self.max_samples]
        if len(self.corrected) >= 2:
            self.base_freq = _slope(self.corrected)
            self.base_freq = mpq(round_q(self.base_freq * FREQ_GRID), FREQ_GRID)
        extra = theta / (self.corrtimeratio * self.poll_ns)
        extra = max(-self.maxslewrate, min(self.maxslewrate, extra))
        self._set_status(clock, theta)
        if not self.leap_slewing:
            self._set_freq(clock, self.base_freq + extra, now)
        if self.poller is not None:  # after the clock update, as chronyd's process_sample
            distance = mpq(self.samples[-1].delay_ns, 2) + CHRONY_DISPERSION_NS
            adj = self.poller.adjustment(error, distance, len(self.corrected))
            self.poll_exp = self.poller.adjust(adj)

    def _set_status(self, clock: SteerableClock, theta: mpq) -> None:
        """Leap bits, and the synchronised state with its error bounds, as chronyd sets them.

        chronyd's `set_sync_status` (sys_timex.c) clears STA_UNSYNC and writes esterror and
        maxerror on every update.  Without maxerror the kernel's own bookkeeping would set
        STA_UNSYNC again one second later (maxerror starts at NTP_PHASE_LIMIT and grows
        500 µs a second), so a clock within microseconds of UTC would report TIME_ERROR.
        Here esterror is the measured offset and maxerror adds half the round trip, in µs.
        On Linux chronyd clears STA_UNSYNC only when `rtcsync` is configured (the kernel's
        11-minute RTC mode hangs on that bit); without it STA_UNSYNC is set on every update,
        as a real chronyd 4.3 without ``rtcsync`` leaves it (measured: every sample of
        `tk_shim.chrony_leap.run_real`).
        """
        bits = 0 if self.rtcsync else STA_UNSYNC
        if self.leapsecmode == "system":
            bits |= {LEAP_INSERT: STA_INS, LEAP_DELETE: STA_DEL}.get(self.leap_pending, 0)
        delay = self.samples[-1].delay_ns if self.samples else 0
        est_us = max(1, -(-round_q(abs(theta)) // 1000))
        max_us = max(1, -(-(round_q(abs(theta)) + delay // 2) // 1000))
        clock.adjtimex(Timex(modes=ADJ_STATUS | ADJ_MAXERROR | ADJ_ESTERROR, status=bits,
                             maxerror=min(max_us, MAX_SYNC_ERROR_US),
                             esterror=min(est_us, MAX_SYNC_ERROR_US)))

    def on_leap_instant(self, clock: SteerableClock, sign: int) -> int | None:
        """The server's timescale steps by ∓1 s: shift the sample history to match, then

        system: the kernel steps the clock (count it as a correction), and 1.5 s later the
        follow-up clears STA_INS/STA_DEL as chronyd does; step: ADJ_SETOFFSET ∓1 s now; slew:
        run ∓maxslewrate until the second is absorbed; ignore: nothing.
        """
        self.corrected = [(x, y - sign * NSEC) for x, y in self.corrected]
        # chronyd starts its leap handling at midnight (half a second earlier in system
        # mode) and ends it two seconds after that (reference.c `leap_start_timeout`).
        end_ns = LEAP_END_S * NSEC - (NSEC // 2 if self.leapsecmode == "system" else 0)
        self.leap_end_mono = clock.clock_gettime_ns(CLOCK_MONOTONIC) + end_ns
        if self.leapsecmode == "system":
            self.applied_ns -= sign * NSEC
            # At the end chronyd clears STA_INS/STA_DEL itself; the kernel would otherwise
            # stay in TIME_WAIT until the next update.
            return end_ns
        if self.leapsecmode == "step":
            self._step(clock, -sign * NSEC)
            return None
        if self.leapsecmode == "slew":
            self.leap_slewing = True
            now = clock.clock_gettime_ns(CLOCK_REALTIME)
            self._set_freq(clock, self.base_freq - sign * self.maxslewrate, now)
            # The follow-up timer runs on the slewed clock itself: 1/rate true seconds are
            # 1/rate − 1 of its seconds for an inserted leap (+1 for a deleted one).
            return round_q(NSEC / self.maxslewrate) - sign * NSEC
        return None

    def on_leap_followup(self, clock: SteerableClock) -> None:
        if self.leapsecmode == "system":
            self._maybe_end_leap(clock)
            clock.adjtimex(Timex(modes=ADJ_STATUS, status=0 if self.rtcsync else STA_UNSYNC))
            return
        self.leap_slewing = False
        self._set_freq(clock, self.base_freq, clock.clock_gettime_ns(CLOCK_REALTIME))


def _fit(points: list[tuple[int, mpq]]) -> tuple[mpq, mpq, mpq]:
    """Least-squares line through `points`, exactly: (mean x, mean y, slope of y over x).

    From the raw sums: the slope Σ(x − x̄)(y − ȳ) / Σ(x − x̄)² is (nΣxy − ΣxΣy) / (nΣx² − (Σx)²),
    the same rational, with the x sums in integers and two rational operations a point
    instead of seven (every update of every chrony-model client fits its samples).
    """
    n = len(points)
    sx = sum(x for x, _ in points)
    sy = sum((y for _, y in points), _ZERO)
    mx, my = mpq(sx, n), sy / n
    sxx = n * sum(x * x for x, _ in points) - sx * sx
    if sxx == 0:
        return mx, my, _ZERO
    sxy = sum((x * y for x, y in points), _ZERO)
    return mx, my, (n * sxy - sx * sy) / sxx


def _predict(points: list[tuple[int, mpq]], x: int) -> mpq:
    """The least-squares line through `points`, evaluated at `x` (chrony's predicted offset)."""
    mx, my, slope = _fit(points)
    return my + slope * (x - mx)


def _slope(points: list[tuple[int, mpq]]) -> mpq:
    """Least-squares slope of y over x, exactly."""
    return _fit(points)[2]


class ReferenceServer:
    """The clock at the other end: true UTC (stepping at leaps) or a smeared timescale.

    `leap` is the leap it knows about (a `LeapEvent`-like object with `unix` and `sign`);
    `smear` (a `BoundSmear` for that leap) makes it serve smeared time and, like real
    smearing servers, not announce the leap.  Times are Unix seconds on the never-stepping
    true timeline (see ntp.smear): before the leap identical to UTC.
    """

    def __init__(
        self,
        leap: LeapLike | None = None,
        smear: BoundSmear | None = None,
        announce_s: int = 86_400,
    ) -> None:
        self.leap = leap
        self.smear = smear
        self.announce_s = announce_s
        self._step: BoundSmear | None = None
        if leap is not None and smear is None:
            from ntp.smear import Step

            self._step = Step().for_leap(leap.unix, leap.sign)

    def time_ns(self, true_unix: mpq) -> int:
        """What the server's clock reads at the true instant `true_unix` (floor to ns)."""
        if self.smear is not None:
            value = self.smear.smeared(true_unix)
        elif self._step is not None:
            value = self._step.utc(true_unix)
        else:
            value = true_unix
        return floor_q(value * NSEC)

    def leap_indicator(self, true_unix: mpq) -> int:
        """LI bits: insert/delete during the `announce_s` before the leap; none if smearing."""
        if self.leap is None or self.smear is not None:
            return LEAP_NONE
        start = self.leap.unix - self.announce_s
        if start <= true_unix < self.leap.unix:
            return LEAP_INSERT if self.leap.sign > 0 else LEAP_DELETE
        return LEAP_NONE
