"""Leap-second smear shapes as exact functions of true time.

A *shape* (a frozen dataclass holding its published parameters) says how a clock absorbs one leap
second.  Bind it to a leap with ``shape.for_leap(leap_unix, sign)`` (or ``for_event(event)``) to
get a :class:`BoundSmear`, which answers for any true instant ``t``.

Time scales (all exact ``mpq`` seconds since the Unix epoch):

``t`` (true time)
    What a REALTIME clock that never steps would read: UTC before the leap, UTC + ``sign`` after
    it ("UTC without the leap").  It counts SI seconds, so it is unambiguous through 23:59:60.
``utc(t)``
    Stepped UTC as a kernel clock reads it: for a positive leap 23:59:59 is shown twice (the
    second pass is the inserted 23:59:60, ``fold=1``); for a negative leap 23:59:59 is skipped.
``smeared(t) = t - sign * lie(t)``
    The smeared clock.  ``lie(t)`` in [0, 1] is how much of the leap has been absorbed, so a
    positive leap's smeared clock runs slow and ends 1 s behind the never-stepping clock, which
    is exactly stepped UTC again.

Irrational shapes (the cosine) are computed with MPFR at 128 bits and rounded once, to the
nearest multiple of 2^-64 s (about 5.4e-20 s), so results stay exact rationals.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import Field, dataclass, field, fields
from functools import cached_property, partial
from typing import Any, Protocol, cast

import gmpy2
from gmpy2 import mpfr, mpq

from ntp.leap import exact

#: MPFR precision (bits) for the irrational shapes.
PRECISION = 128
#: Irrational results are rounded once to a multiple of this (seconds, or a fraction of 1 s).
GRID = mpq(1, 2**64)
_ZERO, _ONE = mpq(0), mpq(1)


# Published defaults (seconds, or dimensionless rates).
_DAY = mpq(86_400)
_NOON_BEFORE = mpq(-43_200)
_SLS_SPAN = mpq(1000)
_WINDOWS_SPAN = mpq(2)
_CHRONY_SLEW = mpq(1, 12)
_CHRONY_MAX_FREQ = mpq(400, 10**6)
_CHRONY_MAX_WANDER = mpq(1024, 10**12)
_NTPD_X_SLEW = mpq(500, 10**6)
_FB_TICK = mpq(65, 10**6)
_FB_JUMP = mpq(1, 10**9)


class NotInvertible(ValueError):
    """The shape has no inverse: its smeared clock repeats values (a step back, a staircase)."""


class LeapLike(Protocol):
    """Anything that names one leap: its instant ``unix`` and ``sign`` (a ``LeapEvent`` is one)."""

    @property
    def unix(self) -> int: ...

    @property
    def sign(self) -> int: ...


def ppm(value: object) -> mpq:
    """Parts per million as an exact fraction: ``ppm(400) == mpq(1, 2500)``."""
    return exact(value, "ppm value") / 10**6


def _to_grid(value: mpfr) -> mpq:
    """Round an MPFR value once to the nearest multiple of :data:`GRID` (ties to even)."""
    with gmpy2.context(precision=PRECISION):
        return mpq(int(gmpy2.rint(value * 2**64)), 2**64)


def _pi_times(q: mpq) -> mpfr:
    with gmpy2.context(precision=PRECISION):
        return gmpy2.const_pi() * mpfr(q)


def _sqrt(q: mpq) -> mpq | None:
    """The exact square root of a non-negative rational, or None when it is irrational."""
    num, den = gmpy2.mpz(q.numerator), gmpy2.mpz(q.denominator)
    if gmpy2.is_square(num) and gmpy2.is_square(den):
        return mpq(gmpy2.isqrt(num), gmpy2.isqrt(den))
    return None


def _small_root(c: mpq, a: mpq) -> mpq:
    """The root of ``a x² - x + c = 0`` nearest 0: exact when rational, else rounded to GRID."""
    disc = 1 - 4 * a * c
    root = _sqrt(disc)
    if root is not None:
        return 2 * c / (1 + root)
    with gmpy2.context(precision=PRECISION):
        return _to_grid(2 * mpfr(c) / (1 + gmpy2.sqrt(mpfr(disc))))


def _positive(shape: object, name: str, *, allow_zero: bool = False) -> None:
    """Normalise a field to ``mpq`` in place and check its sign, naming shape and field."""
    value = exact(getattr(shape, name), f"{type(shape).__name__}.{name}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{type(shape).__name__}.{name} must be {bound}, got {value}")
    object.__setattr__(shape, name, value)


@dataclass(frozen=True)
class BoundSmear:
    """A shape bound to one leap: ``leap`` is 00:00:00 UTC after the leap day (Unix seconds).

    ``sign`` is +1 for an inserted second, −1 for a deleted one.  ``start``/``end`` are the
    window in true time; outside it the lie is 0 before and 1 after.
    """

    shape: Shape
    leap: mpq
    sign: int
    start: mpq = field(init=False)
    end: mpq = field(init=False)

    def __post_init__(self) -> None:
        if self.sign not in (1, -1):
            raise ValueError(f"sign must be +1 or -1, got {self.sign!r}")
        leap = exact(self.leap, "leap instant")
        if leap.denominator != 1:
            raise ValueError(f"the leap instant must be a whole Unix second, got {leap}")
        object.__setattr__(self, "leap", leap)
        start, end = self.shape._place(self)
        if end < start:
            raise ValueError(f"{self.shape!r}: window ends ({end}) before it starts ({start})")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    # --- where things are on the true time line --------------------------------------------
    @property
    def t_leap(self) -> mpq:
        """True instant of the kernel step: 23:59:60 begins (+) or 23:59:59 is cut (−)."""
        return self.leap if self.sign > 0 else self.leap - 1

    @property
    def midnight(self) -> mpq:
        """True instant at which stepped UTC first reads 00:00:00 of the day after the leap."""
        return self.leap + self.sign

    @property
    def duration(self) -> mpq:
        """Length of the window in true (SI) seconds."""
        return self.end - self.start

    def window(self) -> tuple[mpq, mpq]:
        """(start, end) of the smear in true time."""
        return self.start, self.end

    def true_at_label(self, offset: object) -> mpq:
        """First true instant at which stepped UTC reads ``leap + offset`` (a UTC label).

        Negative offsets are labels on the leap day, others on the next day; a label inside a
        deleted second maps to the instant UTC jumps over it.
        """
        off = exact(offset, "label offset")
        if off >= 0:
            return self.leap + off + self.sign
        if self.sign < 0 and off >= -1:
            return self.t_leap
        return self.leap + off

    # --- stepped UTC ----------------------------------------------------------------------
    def to_utc(self, t: object) -> tuple[mpq, int]:
        """(stepped UTC, fold) at true instant ``t``; fold=1 during an inserted 23:59:60."""
        x = exact(t)
        if x < self.t_leap:
            return x, 0
        fold = 1 if self.sign > 0 and x < self.leap + 1 else 0
        return x - self.sign, fold

    def utc(self, t: object) -> mpq:
        """What a stepping kernel clock reads at true instant ``t``."""
        return self.to_utc(t)[0]

    def from_utc(self, unix_utc: object, fold: int = 0) -> mpq:
        """True instant of a stepped-UTC reading; ``fold=1`` picks the inserted second."""
        u = exact(unix_utc)
        if u >= self.leap:
            return u + self.sign
        if u < self.leap - 1:
            return u
        if self.sign < 0:
            raise ValueError(f"UTC {u} lies in the deleted second 23:59:59; no instant reads it")
        return u + (1 if fold else 0)

    # --- the smear ------------------------------------------------------------------------
    def lie(self, t: object) -> mpq:
        """How much of the leap has been absorbed at true instant ``t`` (0 → 1)."""
        x = exact(t)
        if x < self.start:
            return _ZERO
        if x >= self.end:
            return _ONE
        return self.shape._profile(x - self.start, self)

    def smeared(self, t: object) -> mpq:
        """The smeared clock's reading at true instant ``t``."""
        x = exact(t)
        return x - self.sign * self.lie(x)

    def smeared_offset(self, t: object) -> mpq:
        """Smeared clock minus the never-stepping clock: ``-sign * lie(t)``."""
        return -self.sign * self.lie(t)

    def utc_offset(self, t: object) -> mpq:
        """Smeared clock minus stepped UTC: ``-lie`` before the step, ``1 - lie`` after (×sign)."""
        return self.smeared(t) - self.utc(t)

    def rate(self, t: object) -> mpq:
        """Frequency offset d(smeared − t)/dt at ``t`` (right derivative), e.g. −1/86400."""
        x = exact(t)
        if x < self.start or x >= self.end:
            return _ZERO
        return -self.sign * self.shape._slope(x - self.start, self)

    def peak_rate(self) -> mpq:
        """Largest |rate| over the window (a staircase reports its mean slope)."""
        return self.shape._peak(self)

    def max_utc_distance(self) -> mpq:
        """Largest |smeared − stepped UTC| (a supremum: approached just before the step)."""
        return max(self.shape._sup_before_leap(self), 1 - self.lie(self.t_leap))

    @property
    def invertible(self) -> bool:
        """Whether the smeared clock never repeats a reading, so :meth:`inverse` exists."""
        return self.shape._invertible(self)

    def inverse(self, smeared: object) -> mpq:
        """The true instant at which the smeared clock reads ``smeared``.

        Exact for rational shapes; the cosine's is rounded to GRID.  Raises NotInvertible for
        shapes whose clock steps back (kernel step, fbclock staircase, the ntpd quirk).
        """
        if not self.invertible:
            raise NotInvertible(f"{self.shape!r} (sign {self.sign:+d}) has no inverse")
        s = exact(smeared)
        if s <= self.start:
            return s
        if s >= self.end - self.sign:
            return s + self.sign
        return self.start + self.shape._invert(s - self.start, self)


@dataclass(frozen=True)
class Shape(ABC):
    """A leap-smear policy.  Subclasses place the window and give the lie inside it."""

    def for_leap(self, leap_unix: object, sign: int = 1) -> BoundSmear:
        """Bind to the leap whose next day starts at ``leap_unix`` (``LeapEvent.unix``)."""
        return BoundSmear(self, exact(leap_unix, "leap instant"), sign)

    def for_event(self, event: LeapLike) -> BoundSmear:
        """Bind to a :class:`ntp.leap.LeapEvent` (or anything with ``unix`` and ``sign``)."""
        return self.for_leap(event.unix, event.sign)

    @abstractmethod
    def _place(self, b: BoundSmear) -> tuple[mpq, mpq]:
        """The window (start, end) in true time for this leap."""

    def _profile(self, x: mpq, b: BoundSmear) -> mpq:
        """The lie ``x`` seconds into the window (0 <= x < duration)."""
        raise NotImplementedError

    def _slope(self, x: mpq, b: BoundSmear) -> mpq:
        """d lie / dt at ``x`` seconds into the window."""
        return _ZERO

    def _peak(self, b: BoundSmear) -> mpq:
        return _ZERO

    def _invertible(self, b: BoundSmear) -> bool:
        return False

    def _invert(self, y: mpq, b: BoundSmear) -> mpq:
        """The ``x`` with ``x - sign * lie(x) == y`` (y measured from the window start)."""
        raise NotInvertible(repr(self))

    def _sup_before_leap(self, b: BoundSmear) -> mpq:
        """Supremum of the lie before the step; the lie is monotone and left-continuous here."""
        return _ZERO if b.t_leap <= b.start else b.lie(b.t_leap)


@dataclass(frozen=True)
class Step(Shape):
    """The kernel's step (STA_INS/STA_DEL): no smear; the smeared clock *is* stepped UTC."""

    def _place(self, b: BoundSmear) -> tuple[mpq, mpq]:
        return b.t_leap, b.t_leap


@dataclass(frozen=True)
class _Linear(Shape):
    """A constant-rate smear: lie = x / duration."""

    def _profile(self, x: mpq, b: BoundSmear) -> mpq:
        return x / b.duration

    def _slope(self, x: mpq, b: BoundSmear) -> mpq:
        return 1 / b.duration

    def _peak(self, b: BoundSmear) -> mpq:
        return 1 / b.duration

    def _invertible(self, b: BoundSmear) -> bool:
        return b.sign < 0 or b.duration > 1

    def _invert(self, y: mpq, b: BoundSmear) -> mpq:
        return y * b.duration / (b.duration - b.sign)


@dataclass(frozen=True)
class LinearSmear(_Linear):
    """Linear smear starting at UTC label ``leap + start`` and lasting ``duration`` SI seconds.

    ``utc_labels=True`` ends it at the label ``leap + start + duration`` instead, so it lasts
    ``duration + sign`` SI seconds: the published Google definition (google/unsmear), whose
    86 400 smeared seconds span 86 401 SI seconds.  The default is the simpler reference model
    (rate exactly 1/duration), which differs from it by at most 1/86 401 s ≈ 11.6 µs.
    """

    start: mpq = _NOON_BEFORE
    duration: mpq = _DAY
    utc_labels: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", exact(self.start, "LinearSmear.start"))
        _positive(self, "duration")

    @classmethod
    def google_aws(cls, **overrides: Any) -> LinearSmear:
        """Google/AWS standard smear: 24 h, noon to noon UTC."""
        return cls(**{"start": -43_200, "duration": 86_400, **overrides})

    @classmethod
    def google_2016(cls, **overrides: Any) -> LinearSmear:
        """Google's 2016 smear: 20 h, 14:00 to 10:00 UTC."""
        return cls(**{"start": -36_000, "duration": 72_000, **overrides})

    def _place(self, b: BoundSmear) -> tuple[mpq, mpq]:
        first = b.true_at_label(self.start)
        if self.utc_labels:
            return first, b.true_at_label(self.start + self.duration)
        return first, first + self.duration


@dataclass(frozen=True)
class UtcSls(_Linear):
    """UTC-SLS (Kuhn's draft): the last ``duration`` SI seconds before midnight, linear.

    For a positive leap 1000 UTC seconds (23:43:21 to 23:59:60) show 999 SLS seconds.
    """

    duration: mpq = _SLS_SPAN

    def __post_init__(self) -> None:
        _positive(self, "duration")

    def _place(self, b: BoundSmear) -> tuple[mpq, mpq]:
        return b.midnight - self.duration, b.midnight


@dataclass(frozen=True)
class WindowsHalfSpeed(UtcSls):
    """Windows 10 1809+ for processes not opted in to 23:59:60: the last 2 s at half speed.

    True 23:59:59 and 23:59:60 show 23:59:59.000 → 24:00:00 (23:59:59.500 when 23:59:60
    begins).  Microsoft documents positive leaps only; a negative leap here shows 23:59:57 →
    24:00:00 over the two seconds left (1.5× speed), by the usual sign flip.
    """

    duration: mpq = _WINDOWS_SPAN


@dataclass(frozen=True)
class SlewAfterLeap(_Linear):
    """Let the leap pass, then slew the 1 s error away at ``rate`` after ``delay`` seconds."""

    rate: mpq = _CHRONY_SLEW
    delay: mpq = _ZERO

    def __post_init__(self) -> None:
        _positive(self, "rate")
        _positive(self, "delay", allow_zero=True)

    @classmethod
    def chrony(cls, **overrides: Any) -> SlewAfterLeap:
        """chrony ``leapsecmode slew`` at the default maxslewrate 83 333.333 ppm = 1/12: 12 s."""
        return cls(**{"rate": _CHRONY_SLEW, **overrides})

    @classmethod
    def ntpd_x(cls, **overrides: Any) -> SlewAfterLeap:
        """ntpd 4.2.4 ``-x``: slew at 500 ppm, 2000 s (really started minutes late: ``delay``)."""
        return cls(**{"rate": _NTPD_X_SLEW, **overrides})

    def _place(self, b: BoundSmear) -> tuple[mpq, mpq]:
        first = b.t_leap + self.delay
        return first, first + 1 / self.rate


@dataclass(frozen=True)
class CosineSmear(Shape):
    """ntpd ``leapsmearinterval W`` / Google 2008–2012: lie = (1 − cos(π x / W)) / 2.

    The window is W seconds ending at the step.  ``ntpd_negative_quirk=True`` reproduces ntpd as
    written for a negative leap: its offset formula gives (1 + cos(π x / W)) / 2, so the served
    clock jumps 1 s ahead when the window opens, drifts back to UTC by the leap (running slow),
    and then takes the kernel's 1 s step anyway.  ntpd measures that window on its stepped clock
    up to the leap's nominal time ``leap``, so it starts at ``leap - W``.
    """

    window: mpq = _DAY
    ntpd_negative_quirk: bool = False

    def __post_init__(self) -> None:
        _positive(self, "window")

    def _quirky(self, b: BoundSmear) -> bool:
        return self.ntpd_negative_quirk and b.sign < 0

    def _place(self, b: BoundSmear) -> tuple[mpq, mpq]:
        first = b.leap - self.window if self._quirky(b) else b.t_leap - self.window
        return first, b.t_leap

    def _profile(self, x: mpq, b: BoundSmear) -> mpq:
        with gmpy2.context(precision=PRECISION):
            c = gmpy2.cos(_pi_times(x / self.window))
            return _to_grid((1 + c) / 2 if self._quirky(b) else (1 - c) / 2)

    def _slope(self, x: mpq, b: BoundSmear) -> mpq:
        with gmpy2.context(precision=PRECISION):
            s = gmpy2.sin(_pi_times(x / self.window)) * _pi_times(1 / (2 * self.window))
            return _to_grid(-s if self._quirky(b) else s)

    def _peak(self, b: BoundSmear) -> mpq:
        return _to_grid(_pi_times(1 / (2 * self.window)))

    def _invertible(self, b: BoundSmear) -> bool:
        return not self._quirky(b) and (b.sign < 0 or self._peak(b) < 1)

    def _sup_before_leap(self, b: BoundSmear) -> mpq:
        return _ONE if self._quirky(b) else super()._sup_before_leap(b)

    def _invert(self, y: mpq, b: BoundSmear) -> mpq:
        """Safeguarded Newton on x − sign·lie(x) = y in MPFR, rounded once to GRID."""
        with gmpy2.context(precision=PRECISION):
            lo, hi, target = mpfr(0), mpfr(self.window), mpfr(y)
            k = _pi_times(1 / self.window)
            x = min(max(target, lo), hi)
            for _ in range(200):
                g = x - b.sign * (1 - gmpy2.cos(k * x)) / 2 - target
                lo, hi = (x, hi) if g < 0 else (lo, x)
                nxt = x - g / (1 - b.sign * k / 2 * gmpy2.sin(k * x))
                if abs(nxt - x) < 2**-110:
                    return _to_grid(nxt)
                x = nxt if lo < nxt < hi else (lo + hi) / 2
            return _to_grid(x)


@dataclass(frozen=True)
class QuadraticSmear(Shape):
    """chrony ``smoothtime max_freq max_wander leaponly``, started at the leap.

    The frequency offset ramps at ``max_wander`` (per second) up to the peak, holds at
    ``max_freq`` if it gets there, and ramps back; the lie is its integral (quadratic, linear,
    quadratic).  Both are dimensionless fractions: use :func:`ppm` or :meth:`chrony`.  When
    sqrt(1 / max_wander) is irrational the ramp time is rounded to GRID and the wander adjusted
    so the shape still absorbs exactly 1 s.
    """

    max_freq: mpq = _CHRONY_MAX_FREQ
    max_wander: mpq = _CHRONY_MAX_WANDER

    def __post_init__(self) -> None:
        _positive(self, "max_freq")
        _positive(self, "max_wander")

    @classmethod
    def chrony(
        cls, max_freq_ppm: object = 400, max_wander_ppm_per_s: object = "0.001024"
    ) -> QuadraticSmear:
        """From chrony.conf units: ``smoothtime 400 0.001024 leaponly`` is the default."""
        return cls(ppm(max_freq_ppm), ppm(max_wander_ppm_per_s))

    @cached_property
    def _plan(self) -> tuple[mpq, mpq, mpq, mpq]:
        """(ramp time, hold time, wander, peak frequency), exact."""
        f, w = self.max_freq, self.max_wander
        if f * f < w:
            return f / w, (1 - f * f / w) / f, w, f
        ramp = _sqrt(1 / w)
        if ramp is None:
            with gmpy2.context(precision=PRECISION):
                ramp = _to_grid(gmpy2.sqrt(mpfr(1 / w)))
        return ramp, _ZERO, 1 / (ramp * ramp), 1 / ramp

    def _place(self, b: BoundSmear) -> tuple[mpq, mpq]:
        ramp, hold, _, _ = self._plan
        return b.t_leap, b.t_leap + 2 * ramp + hold

    def _profile(self, x: mpq, b: BoundSmear) -> mpq:
        ramp, hold, w, f = self._plan
        if x < ramp:
            return w * x * x / 2
        if x < ramp + hold:
            return w * ramp * ramp / 2 + f * (x - ramp)
        z = 2 * ramp + hold - x
        return 1 - w * z * z / 2

    def _slope(self, x: mpq, b: BoundSmear) -> mpq:
        ramp, hold, w, f = self._plan
        return min(w * x, f, w * (2 * ramp + hold - x))

    def _peak(self, b: BoundSmear) -> mpq:
        return self._plan[3]

    def _invertible(self, b: BoundSmear) -> bool:
        return b.sign < 0 or self._plan[3] < 1

    def _invert(self, y: mpq, b: BoundSmear) -> mpq:
        ramp, hold, w, f = self._plan
        a, total = b.sign * w / 2, 2 * ramp + hold
        if y < ramp - b.sign * self._profile(ramp, b):
            return _small_root(y, a)
        if hold and y < ramp + hold - b.sign * self._profile(ramp + hold, b):
            return (y + b.sign * (w * ramp * ramp / 2 - f * ramp)) / (1 - b.sign * f)
        return total - _small_root(total - b.sign - y, a)


@dataclass(frozen=True)
class Staircase(Shape):
    """Meta's fbclock: from the leap, the lie grows by ``jump`` every ``tick`` (1 ns / 65 µs).

    The clock steps back ``jump`` at every tick, so it has no inverse; :meth:`BoundSmear.rate`
    reports the mean slope jump/tick (15.38 ppm), the derivative between steps being 0.
    """

    tick: mpq = _FB_TICK
    jump: mpq = _FB_JUMP

    def __post_init__(self) -> None:
        _positive(self, "tick")
        _positive(self, "jump")

    def _place(self, b: BoundSmear) -> tuple[mpq, mpq]:
        steps = -((-1) // self.jump)
        return b.t_leap, b.t_leap + steps * self.tick

    def _profile(self, x: mpq, b: BoundSmear) -> mpq:
        return min(_ONE, (x // self.tick) * self.jump)

    def _slope(self, x: mpq, b: BoundSmear) -> mpq:
        return self.jump / self.tick

    def _peak(self, b: BoundSmear) -> mpq:
        return self.jump / self.tick


# --- the registry scenario files use ---------------------------------------------------------
SHAPES: dict[str, Callable[..., Shape]] = {
    "step": Step,
    "linear-24h": partial(LinearSmear, start=-43_200, duration=86_400),
    "linear-20h": partial(LinearSmear, start=-36_000, duration=72_000),
    "cosine": CosineSmear,
    "chrony-quadratic": QuadraticSmear,
    "chrony-slew": partial(SlewAfterLeap, rate=_CHRONY_SLEW),
    "ntpd-slew": partial(SlewAfterLeap, rate=_NTPD_X_SLEW),
    "fbclock": Staircase,
    "utc-sls": UtcSls,
    "windows": WindowsHalfSpeed,
}


def make_shape(name: str, **params: object) -> Shape:
    """Build a registered shape by name, checking every parameter (ValueError if wrong).

    Numbers must be exact: int, Fraction, mpq or strings like ``"1/12"`` or ``"400e-6"``.
    """
    if name not in SHAPES:
        raise ValueError(f"unknown smear shape {name!r}; known shapes: {', '.join(SHAPES)}")
    factory = SHAPES[name]
    # every factory registered above is a Shape dataclass or a partial of one
    cls = cast("type[Shape]", factory.func if isinstance(factory, partial) else factory)
    allowed = {f.name: f for f in fields(cls)}
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        takes = ", ".join(sorted(allowed)) or "no parameters"
        raise ValueError(f"shape {name!r} has no parameter {', '.join(unknown)}; it takes {takes}")
    clean = {key: _param(name, allowed[key], value) for key, value in params.items()}
    try:
        return factory(**clean)
    except (TypeError, ValueError) as err:
        raise ValueError(f"shape {name!r}: {err}") from err


def _param(name: str, spec: Field[Any], value: object) -> object:
    if isinstance(spec.default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"shape {name!r}: {spec.name} must be true or false, got {value!r}")
        return value
    try:
        return exact(value, spec.name)
    except (TypeError, ValueError) as err:
        raise ValueError(f"shape {name!r}: {err}") from err
