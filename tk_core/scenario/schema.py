"""The scenario file's shape: one pydantic model per TOML table (see docs/scenarios.md).

Only shapes and single-field rules live here (types, ranges, known names); rules that need
several fields or the leap table (an event after the end of the run, a namespace that does
not exist) are in `checks`, which can point at the exact field that is wrong.  Parts of the
schema the engine cannot run yet fail here with "not available in this version", so a
scenario never silently skips what it asks for.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from . import features
from .events import Event
from .types import (
    NAME_PATTERN,
    At,
    Duration,
    Exact,
    Frequency,
    NonNegDuration,
    PositiveDuration,
    Strict,
    TimerClock,
    Utc,
    When,
    fail,
    not_available,
)

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
#: The fastest counter a scenario may describe.  Real clocksources run from 32 kHz (an RTC)
#: to a few GHz (a TSC); beyond 100 GHz `clocks_calc_mult_shift` leaves mult so small that
#: NTP frequency steps (`clocksource_max_adjustment`, 11 % of mult) lose their resolution.
MAX_FREQ_HZ = 100_000_000_000
#: Dilation bounds: a namespace's mult/shift are computed for freq_hz × dilation, which must
#: stay a counter rate the kernel's mult/shift arithmetic can express (1 Hz to MAX_FREQ_HZ;
#: see `checks`), and a factor of a million either way is far past any emulation need.
MAX_DILATION = Fraction(1_000_000)
MIN_DILATION = 1 / MAX_DILATION
#: The largest random-walk step per wander interval: a walk of such steps still stays a
#: plausible counter (about ±50 % after a simulated week of 1 s steps), while an unbounded one
#: would soon make the counter wrap every few ticks and the run crawl.
MAX_WANDER_PPM = 1000


class ClocksourceSpec(Strict):
    """The physical counter: nominal frequency, width, and its true error and wander."""

    name: str = "tsc"
    freq_hz: Frequency = Field(3_000_000_000, gt=0)
    bits: int = Field(64, ge=8, le=64)
    error_ppm: Exact = Fraction(0)
    wander_ppm: Exact = Fraction(0)
    wander_interval: PositiveDuration = 1_000_000_000

    @field_validator("freq_hz")
    @classmethod
    def _freq(cls, v: int) -> int:
        if v > MAX_FREQ_HZ:
            raise fail(
                f"expected a frequency of at most {MAX_FREQ_HZ} Hz (100 GHz; real counters run "
                f"at 32 kHz to a few GHz), found {v} Hz"
            )
        return v

    @field_validator("error_ppm")
    @classmethod
    def _error(cls, v: Fraction) -> Fraction:
        if abs(v) >= 500_000:
            raise fail(f"error_ppm must be within ±500000 ppm, found {v}")
        return v

    @field_validator("wander_ppm")
    @classmethod
    def _wander(cls, v: Fraction) -> Fraction:
        if v < 0:
            raise fail(f"wander_ppm must be >= 0, found {v}")
        if v > MAX_WANDER_PPM:
            raise fail(
                f"expected a wander_ppm of at most {MAX_WANDER_PPM} ppm per interval (real "
                f"oscillators wander well under 1 ppm), found {v}"
            )
        return v

    @field_validator("wander_interval")
    @classmethod
    def _whole_seconds(cls, v: int) -> int:
        if v % 1_000_000_000:
            raise fail("wander_interval must be a whole number of seconds")
        return v


class HostSpec(Strict):
    """The machine: its clocks at the start, its tick, and its counter."""

    start: Utc
    uptime: NonNegDuration = 0
    boottime: NonNegDuration | None = None
    tai_offset: int | None = Field(None, ge=0, le=100_000)
    hz: int = Field(1000, ge=1, le=10_000)
    user_hz: int = Field(100, ge=1, le=10_000)
    kernel_version: str | None = None
    nohz: bool = True
    wrap_guard: bool = True
    root_update: Literal["lazy", "periodic"] = "lazy"
    leap: Literal["step", "ignore"] = "step"
    lazy_error_bound: NonNegDuration = 100
    clocksource: ClocksourceSpec = ClocksourceSpec()


def _policy_table(value: Any, key: str) -> Any:
    return {key: value} if isinstance(value, str) else value


def _leap_policy(value: Any) -> Any:
    """'step' / 'ignore' / a smear shape name ('linear-24h') → the table form."""
    if isinstance(value, str):
        return (
            {"policy": value}
            if value in ("step", "ignore")
            else {"policy": "smear", "shape": value}
        )
    return value


class LeapPolicy(Strict):
    """How a namespace meets a leap second: 'step' (the kernel's), 'ignore', or a smear."""

    policy: Literal["step", "ignore", "smear"] = "step"
    shape: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    update_interval: PositiveDuration = 16_000_000_000

    @model_validator(mode="after")
    def _smear(self) -> LeapPolicy:
        if self.policy != "smear":
            return self
        from ntp.smear import SHAPES

        known = [name for name in SHAPES if name != "step"]
        if self.update_interval % 1_000_000_000:
            raise fail("update_interval must be a whole number of seconds")
        if self.shape not in known:
            raise fail(
                f"expected 'step', 'ignore' or a smear shape ({', '.join(known)}), "
                f"found {self.shape!r}"
            )
        if not features.follow_available():
            raise not_available(
                f"leap policy {self.shape!r} (a smear) is not available in this version: it "
                "needs tk_core.policy.follow from the leap/smear policy work"
            )
        return self


class PathSpec(Strict):
    """The network path to the NTP server: one-way delay, jitter, asymmetry, loss."""

    delay: NonNegDuration = 250_000
    jitter: NonNegDuration = 100_000
    asymmetry: Duration = 0
    loss: Exact = Fraction(0)

    @field_validator("loss")
    @classmethod
    def _loss(cls, v: Fraction) -> Fraction:
        if not 0 <= v < 1:
            raise fail(f"loss must be a probability in [0, 1), found {v}")
        return v


class NtpSpec(Strict):
    """An NTP daemon steering the namespace through adjtimex ('none': only scenario events).

    `server` serves true UTC ('utc', announcing leaps) or a smeared timescale (a shape
    name: it then announces nothing, as smearing servers do).
    """

    model: Literal["none", "chrony", "ntpd"] = "none"
    poll_exp: int = Field(6, ge=0, le=17)
    server: str = "utc"
    leapsecmode: Literal["system", "step", "slew", "ignore"] = "system"
    slew_leap: bool = False
    path: PathSpec = PathSpec()

    @field_validator("model")
    @classmethod
    def _available(cls, v: str) -> str:
        if v != "none" and not features.discipline_available():
            raise not_available(
                f"NTP discipline {v!r} is not available in this version: it needs "
                "tk_core.daemon.NtpDaemon and the ntp.discipline client models"
            )
        return v

    @field_validator("server")
    @classmethod
    def _server(cls, v: str) -> str:
        from ntp.smear import SHAPES

        if v != "utc" and v not in SHAPES:
            raise fail(f"expected 'utc' or a smear shape ({', '.join(SHAPES)}), found {v!r}")
        return v


class OffsetsSpec(Strict):
    """Linux 5.6 namespace offsets (model = 'offsets' only)."""

    monotonic: Duration = 0
    boottime: Duration = 0


class NamespaceSpec(Strict):
    """One time namespace (or `count` identical ones, named NAME-0 … NAME-(count-1))."""

    name: Name
    model: Literal["timekeeper", "offsets"] = "timekeeper"
    update: Literal["lazy", "periodic"] = "lazy"
    dilation: Exact = Fraction(1)
    leap: Annotated[LeapPolicy, BeforeValidator(_leap_policy)] = LeapPolicy()
    ntp: Annotated[NtpSpec, BeforeValidator(lambda v: _policy_table(v, "model"))] = NtpSpec()
    offsets: OffsetsSpec | None = None
    count: int = Field(1, ge=1)
    record: bool = True

    @field_validator("dilation")
    @classmethod
    def _dilation(cls, v: Fraction) -> Fraction:
        if v <= 0:
            raise fail(f"dilation must be > 0 (2 = seconds twice as long), found {v}")
        if v > MAX_DILATION:
            raise fail(f"expected a dilation of at most {MAX_DILATION}, found {v}")
        if v < MIN_DILATION:
            raise fail(f"expected a dilation of at least {MIN_DILATION}, found {v}")
        return v

    def names(self) -> list[str]:
        """The namespace names this entry creates."""
        if self.count == 1:
            return [self.name]
        return [f"{self.name}-{i}" for i in range(self.count)]


class TimerSpec(Strict):
    """A POSIX timer (or `copies` of it, each `stagger` later) observed for `count` expiries."""

    namespace: Name = "root"
    clock: TimerClock = "CLOCK_MONOTONIC"
    arm_at: When = At("offset", 0)
    value: When
    absolute: bool = False
    interval: NonNegDuration = 0
    count: int = Field(1, ge=1)
    copies: int = Field(1, ge=1)
    stagger: NonNegDuration = 0

    @model_validator(mode="before")
    @classmethod
    def _available(cls, data: Any) -> Any:
        if not features.timers_available():
            raise not_available(
                "timers are not available in this version: they need Namespace.timer_create "
                "from the timers work (issue 4)"
            )
        return data


class RunSpec(Strict):
    """The [scenario] table: what this is, how long it runs, how often it is sampled."""

    name: Name
    description: str = Field(min_length=1, max_length=200)
    duration: PositiveDuration | None = None
    until: Utc | None = None
    seed: int = Field(0, ge=0, le=2**63 - 1)
    sample_every: PositiveDuration | None = None
    reference: str = "utc"
    leap_table: str = "shipped"


class Scenario(Strict):
    """A whole scenario file."""

    scenario: RunSpec
    host: HostSpec
    namespaces: list[NamespaceSpec] = Field(default_factory=list)
    timers: list[TimerSpec] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)


def allowed_keys(loc: tuple[Any, ...], data: Any) -> list[str]:
    """The keys valid at `loc` (for 'did you mean …?'), following the raw input for events."""
    model: Any = Scenario
    node = data
    for part in loc:
        node = node[part] if isinstance(node, dict | list) else None
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        model = _model_of(field.annotation, node)
        if model is None:
            return []
    return sorted(model.model_fields)


def _model_of(annotation: Any, node: Any) -> Any:
    from typing import get_args

    from .events import EVENT_TYPES

    if isinstance(annotation, type) and issubclass(annotation, Strict):
        return annotation
    for arg in get_args(annotation):
        if arg is Event or str(arg).startswith("typing.Annotated[typing.Union"):
            action = node.get("action") if isinstance(node, dict) else None
            return EVENT_TYPES.get(action) if isinstance(action, str) else None
        found = _model_of(arg, node)
        if found is not None:
            return found
    return None
