"""The scenario file's shape: one pydantic model per TOML table (see docs/scenarios.md).

Only shapes and single-field rules live here (types, ranges, known names); rules that need
several fields or the leap table (an event after the end of the run, a namespace that does
not exist) are in `checks`, which can point at the exact field that is wrong.  Parts of the
schema the engine cannot run yet fail here with "not available in this version", so a
scenario never silently skips what it asks for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from . import features, shapes
from .events import Event
from .types import (
    NAME_PATTERN,
    At,
    Duration,
    Exact,
    Frequency,
    Kind,
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
#: the most true time `irq_cost` or `expiry_cost` may charge (a CPU slower is not modelled)
MAX_IRQ_COST_NS = 1_000_000


class ClocksourceSpec(Strict):
    """The physical counter: nominal frequency, width, and its true error and wander."""

    name: str = Field("tsc", description="The clocksource's name, as sysfs would show it.")
    freq_hz: Frequency = Field(
        3_000_000_000, gt=0, description="Nominal counter frequency the kernel calibrates to."
    )
    bits: int = Field(
        64, ge=8, le=64, description="Counter width: a narrow counter (acpi_pm: 24) wraps."
    )
    error_ppm: Exact = Field(
        Fraction(0),
        description="True frequency error of the counter (positive: it runs fast).",
        json_schema_extra={"bounds": "within ±500000"},
    )
    wander_ppm: Exact = Field(
        Fraction(0),
        description="Random-walk step of the frequency error per `wander_interval` (seeded).",
        json_schema_extra={"bounds": ">= 0"},
    )
    wander_interval: PositiveDuration = Field(
        1_000_000_000,
        description="How often the frequency error takes a random-walk step.",
        json_schema_extra={"bounds": "whole seconds"},
    )

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

    start: Utc = Field(description="REALTIME (UTC) at the start of the run.")
    uptime: NonNegDuration = Field(0, description="CLOCK_MONOTONIC at the start.")
    boottime: NonNegDuration | None = Field(
        None, description="CLOCK_BOOTTIME at the start (unset: equal to `uptime`)."
    )
    tai_offset: int | None = Field(
        None,
        ge=0,
        le=100_000,
        description="TAI − UTC in seconds at the start (unset: from the leap table).",
    )
    hz: int = Field(1000, ge=1, le=10_000, description="The kernel's tick rate CONFIG_HZ.")
    user_hz: int = Field(
        100, ge=1, le=10_000, description="USER_HZ: the unit of adjtimex's `tick` field."
    )
    kernel_version: str | None = Field(
        None,
        description="Kernel whose timekeeping behaviour to reproduce, e.g. '5.10' "
        "(unset: the engine's default).",
    )
    nohz: bool = Field(True, description="Tickless idle: no ticks while nothing is due.")
    wrap_guard: bool = Field(
        True, description="false: an idle host can sleep through a counter wrap."
    )
    root_update: Literal["lazy", "periodic"] = Field(
        "lazy",
        description="The host timekeeper's update: 'lazy' (on demand, exact) or 'periodic' "
        "(every tick, as the kernel).",
    )
    leap: Literal["step", "ignore"] = Field(
        "step",
        description="How the host's own timekeeper meets a leap: 'step' (told by the leap "
        "table or `leap` events) or 'ignore'.",
    )
    lazy_error_bound: NonNegDuration = Field(
        100,
        description="How far a lazy timekeeper may differ from a periodic one before it "
        "catches up tick by tick.",
    )
    irq_cost: NonNegDuration = Field(
        0,
        description="True time every timer interrupt takes on entry (at most 1 ms; 0: an "
        "infinitely fast CPU).",
    )
    expiry_cost: NonNegDuration = Field(
        0, description="True time each timer expiry takes inside the interrupt (at most 1 ms)."
    )
    fair_expiry: bool = Field(
        True,
        description="Run the timers due in one interrupt round-robin across namespaces; "
        "false: strictly by expiry, as the kernel does.",
    )
    clocksource: ClocksourceSpec = Field(
        ClocksourceSpec(), description="The counter (the `[host.clocksource]` table)."
    )

    @field_validator("irq_cost", "expiry_cost")
    @classmethod
    def _at_most_a_millisecond(cls, v: int) -> int:
        if v > MAX_IRQ_COST_NS:
            raise fail(
                f"expected at most {MAX_IRQ_COST_NS} ns (1 ms) of true time per interrupt or "
                f"expiry, found {v}"
            )
        return v


def _policy_table(value: Any, key: str) -> Any:
    return {key: value} if isinstance(value, str) else value


def _ntp_model(value: Any) -> Any:
    """'chrony' → { model = 'chrony' }."""
    return _policy_table(value, "model")


def _leap_policy(value: Any) -> Any:
    """'step' / 'ignore' / a smear shape name ('linear-24h') → the table form."""
    if isinstance(value, str):
        return (
            {"policy": value}
            if value in ("step", "ignore")
            else {"policy": "smear", "shape": value}
        )
    return value


#: A namespace's keys that take a name as a short form of their table.
SHORT_FORMS: dict[str, Callable[[Any], Any]] = {"ntp": _ntp_model, "leap": _leap_policy}


class LeapPolicy(Strict):
    """How a namespace meets a leap second: 'step' (the kernel's), 'ignore', or a smear."""

    policy: Literal["step", "ignore", "smear"] = Field(
        "step",
        description="'step': the kernel's leap (STA_INS/STA_DEL); 'ignore': never told; "
        "'smear': follow `shape` through adjtimex.",
    )
    shape: str | None = Field(
        None,
        description="The smear shape (policy = 'smear' only): a name from ntp.smear.SHAPES.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="The shape's parameters (policy = 'smear' only), by their scenario or "
        "ntp.smear names (see the leap policy shapes).",
    )
    update_interval: PositiveDuration = Field(
        16_000_000_000,
        description="How often the namespace is steered onto the smear (policy = 'smear').",
        json_schema_extra={"bounds": "whole seconds"},
    )

    @model_validator(mode="after")
    def _smear(self) -> LeapPolicy:
        if self.policy != "smear":
            if self.shape is not None or self.params:
                raise fail(
                    f"shape and params apply to policy = 'smear' only, found policy = "
                    f"{self.policy!r}"
                )
            return self
        from ntp.smear import SHAPES, make_shape

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
        try:
            make_shape(self.shape, **self.shape_params())
        except ValueError as err:
            raise fail(str(err)) from None
        return self

    def shape_params(self) -> dict[str, Any]:
        """`params` as `ntp.smear.make_shape` keyword arguments (either spelling accepted)."""
        if self.shape is None:
            return {}
        return shapes.to_python(self.shape, self.params)


def _loss_probability(v: Fraction) -> Fraction:
    """A loss probability: in [0, 1) (1 would lose every exchange, and nothing would run)."""
    if not 0 <= v < 1:
        raise fail(f"loss must be a probability in [0, 1), found {v}")
    return v


class PathSpec(Strict):
    """The network path to the NTP server: one-way delay, jitter, asymmetry, loss."""

    delay: NonNegDuration = Field(
        250_000, description="Fixed one-way delay of each direction."
    )
    jitter: NonNegDuration = Field(
        100_000, description="Each direction adds a uniform draw in [0, jitter] (seeded)."
    )
    asymmetry: Duration = Field(
        0, description="Extra delay of the return direction (negative: shorter)."
    )
    loss: Exact = Field(
        Fraction(0),
        description="Probability that an exchange is lost (seeded).",
        json_schema_extra={"bounds": "in [0, 1)"},
    )

    @field_validator("loss")
    @classmethod
    def _loss(cls, v: Fraction) -> Fraction:
        return _loss_probability(v)


class NtpSpec(Strict):
    """An NTP daemon steering the namespace through adjtimex ('none': only scenario events).

    `server` serves true UTC ('utc', announcing leaps) or a smeared timescale (a shape
    name: it then announces nothing, as smearing servers do).
    """

    model: Literal["none", "chrony", "ntpd"] = Field(
        "none",
        description="The client: 'chrony' (chronyd's regression and slew), 'ntpd' (the "
        "kernel PLL) or 'none'.",
    )
    poll_exp: int = Field(
        6, ge=0, le=17, description="Poll interval 2^poll_exp seconds (6: 64 s)."
    )
    minpoll: int | None = Field(
        None, ge=0, le=17,
        description="Shortest poll exponent; with maxpoll above it the interval adapts the way "
        "the daemon's does, starting at poll_exp (default: poll_exp, a fixed interval).",
    )
    maxpoll: int | None = Field(
        None, ge=0, le=17,
        description="Longest poll exponent (default: poll_exp; chronyd and ntpd use 10).",
    )
    server: str = Field(
        "utc",
        description="What the server serves: 'utc' (announcing leaps) or a smear shape name "
        "(announcing nothing).",
    )
    leapsecmode: Literal["system", "step", "slew", "ignore"] = Field(
        "system",
        description="chrony's `leapsecmode` (model = 'chrony'): 'system' (the kernel "
        "steps), 'step' (the daemon steps), 'slew' (at maxslewrate), 'ignore'.",
    )
    slew_leap: bool = Field(
        False,
        description="ntpd -x (model = 'ntpd'): do not arm the kernel leap; slew the 1 s "
        "error away at 500 ppm.",
    )
    path: PathSpec = Field(PathSpec(), description="The network path to the server.")

    @field_validator("model")
    @classmethod
    def _available(cls, v: str) -> str:
        if v != "none" and not features.discipline_available():
            raise not_available(
                f"NTP discipline {v!r} is not available in this version: it needs "
                "tk_core.daemon.NtpDaemon and the ntp.discipline client models"
            )
        return v

    @model_validator(mode="after")
    def _poll_range(self) -> NtpSpec:
        from ntp.polling import check_range  # the clients' own rule, so the two cannot drift

        try:
            check_range(self.poll_exp, self.minpoll, self.maxpoll)
        except ValueError as err:
            raise fail(str(err)) from None
        return self

    @field_validator("server")
    @classmethod
    def _server(cls, v: str) -> str:
        from ntp.smear import SHAPES

        if v != "utc" and v not in SHAPES:
            raise fail(f"expected 'utc' or a smear shape ({', '.join(SHAPES)}), found {v!r}")
        return v


#: A file a program's entry writes into its working directory: a plain file name.
FILE_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$"
#: The daemons `daemon = ...` starts, and the roles each can take.
DAEMON_ROLES = {"chronyd": ("client", "server"), "ntpd": ("client",)}
#: Poll exponents each daemon accepts (chrony.conf(5): -6..24; ntp.conf(5): 3..17).
DAEMON_POLL = {"chronyd": (-6, 24), "ntpd": (3, 17)}
_DAEMON_KEYS = ("role", "server", "minpoll", "maxpoll", "iburst", "leapsecmode", "stratum",
                "config")
_CLIENT_KEYS = ("server", "minpoll", "maxpoll", "iburst")


class ProgramSpec(Strict):
    """A real program run on this namespace's clocks through the preload shim (tk_shim).

    Either `argv` (any dynamically linked program) or `daemon` (chronyd or ntpd, its
    configuration and command line generated by `tk_shim.daemon_config`).  It starts at
    `start` in a fresh working directory holding `files`; every namespace that runs a
    program has one address on the simulated network (10.0.0.1, 10.0.0.2, … in file order).
    `argv` and `files` may use the placeholders `{workdir}`, `{address}`,
    `{address:NAMESPACE}` and `{user}` (`{{`, `}}`: literal braces).
    """

    name: Name | None = Field(
        None,
        description="Names its log in the results (unset: `daemon`, or argv[0]'s file name); "
        "unique within the namespace.",
    )
    argv: list[str] | None = Field(
        None,
        min_length=1,
        description="The command line (placeholders allowed); argv[0] `chronyd` or `ntpd` "
        "is found as the daemons are (TIMEKEEPERS_CHRONYD, the fetch cache, PATH).",
    )
    daemon: Literal["chronyd", "ntpd"] | None = Field(
        None,
        description="A shipped daemon with a generated configuration (instead of `argv`).",
    )
    role: Literal["client", "server"] = Field(
        "client",
        description="`daemon` only: 'client' of `server`, or 'server' (chronyd `local "
        "stratum`, serving its own clock).",
    )
    server: Name | None = Field(
        None,
        description="`daemon` client: the namespace whose program serves time (required).",
    )
    minpoll: int | None = Field(
        None, ge=-6, le=24,
        description="`daemon` client: shortest poll exponent (unset: 6; ntpd needs 3..17).",
    )
    maxpoll: int | None = Field(
        None, ge=-6, le=24,
        description="`daemon` client: longest poll exponent (unset: 10).",
    )
    iburst: bool = Field(True, description="`daemon` client: a burst of requests at start.")
    leapsecmode: Literal["system", "step", "slew", "ignore"] | None = Field(
        None, description="`daemon = 'chronyd'`: its `leapsecmode` (unset: 'system')."
    )
    stratum: int | None = Field(
        None, ge=1, le=15,
        description="`daemon = 'chronyd'`, role 'server': its `local stratum` (unset: 1).",
    )
    config: list[str] = Field(
        default_factory=list,
        description="`daemon` only: extra lines for the generated configuration file.",
    )
    files: dict[Annotated[str, Field(pattern=FILE_NAME_PATTERN)], str] = Field(
        default_factory=dict,
        description="Files written into the working directory before the start: file name "
        "→ text (placeholders allowed).",
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variables added to ours (LD_* and TK_SHIM_* are refused).",
    )
    start: When = Field(
        At("offset", 0), description="When it starts: an offset from the start or ISO UTC."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> ProgramSpec:
        if (self.argv is None) == (self.daemon is None):
            raise fail("expected exactly one of `argv` (a command line) or `daemon` "
                       f"({' or '.join(repr(d) for d in DAEMON_ROLES)})")
        given = self.model_fields_set
        if self.daemon is None:
            extra = [k for k in _DAEMON_KEYS if k in given]
            if extra:
                raise fail(f"{', '.join(extra)} apply to `daemon = ...` only (with `argv`, "
                           "write the configuration in `files`)")
            return self
        self._daemon_rules(given)
        return self

    def _daemon_rules(self, given: set[str]) -> None:
        assert self.daemon is not None
        roles = DAEMON_ROLES[self.daemon]
        if self.role not in roles:
            raise fail(f"daemon {self.daemon!r} runs as {' or '.join(map(repr, roles))} "
                       f"here, found role = {self.role!r}")
        if self.role == "server":
            extra = [k for k in _CLIENT_KEYS if k in given]
            if extra:
                raise fail(f"{', '.join(extra)} apply to role = 'client' only")
        elif self.server is None:
            raise fail("a daemon client needs `server`: the namespace whose program serves "
                       "its time")
        if self.daemon == "ntpd" and ({"leapsecmode", "stratum"} & given):
            raise fail("leapsecmode and stratum apply to daemon = 'chronyd' only")
        if self.role == "client" and "stratum" in given:
            raise fail("stratum applies to role = 'server' only")
        low, high = DAEMON_POLL[self.daemon]
        lo, hi = self.poll_range()
        if not low <= lo <= hi <= high:
            raise fail(f"{self.daemon} needs {low} <= minpoll <= maxpoll <= {high}, found "
                       f"minpoll {lo}, maxpoll {hi}")

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k in v if k.startswith(("LD_", "TK_SHIM_")) or not k or "=" in k]
        if bad:
            raise fail(f"expected variable names without '=' and not LD_* or TK_SHIM_* (the "
                       f"shim sets those), found {', '.join(map(repr, bad))}")
        return v

    def poll_range(self) -> tuple[int, int]:
        """(minpoll, maxpoll) with the defaults filled in (6, 10)."""
        return (6 if self.minpoll is None else self.minpoll,
                10 if self.maxpoll is None else self.maxpoll)

    def display_name(self) -> str:
        """`name`, else the daemon's name, else argv[0]'s file name."""
        if self.name is not None:
            return self.name
        if self.daemon is not None:
            return self.daemon
        assert self.argv is not None
        base = self.argv[0].rsplit("/", 1)[-1]
        return base if re.fullmatch(NAME_PATTERN, base) else "program"


class NetworkSpec(Strict):
    """The simulated UDP network the programs' namespaces share (seeded by `[scenario] seed`)."""

    delay: NonNegDuration = Field(
        500_000, description="Fixed one-way delay of every datagram."
    )
    jitter: NonNegDuration = Field(
        50_000, description="Each datagram adds a uniform draw in [0, jitter] (seeded)."
    )
    loss: Exact = Field(
        Fraction(0),
        description="Probability that a datagram is lost (seeded).",
        json_schema_extra={"bounds": "in [0, 1)"},
    )

    @field_validator("loss")
    @classmethod
    def _loss(cls, v: Fraction) -> Fraction:
        return _loss_probability(v)


class OffsetsSpec(Strict):
    """Linux 5.6 namespace offsets (model = 'offsets' only)."""

    monotonic: Duration = Field(0, description="Added to the host's CLOCK_MONOTONIC.")
    boottime: Duration = Field(0, description="Added to the host's CLOCK_BOOTTIME.")


_LEAP_KIND = Kind(
    "leap policy",
    "`'step'`, `'ignore'`, a smear shape name (`'linear-24h'`: policy = 'smear' with that "
    "shape), or the table form `{ policy = ..., shape = ..., params = {...} }`",
)
_NTP_KIND = Kind(
    "NTP daemon",
    "a model name (`'chrony'`: that model with every default), or the table form "
    "`{ model = ..., poll_exp = ..., path = {...} }`",
)


class NamespaceSpec(Strict):
    """One time namespace (or `count` identical ones, named NAME-0 … NAME-(count-1))."""

    name: Name = Field(
        description="The namespace's name ('root' is the host's); with count > 1 the "
        "namespaces are NAME-0 … NAME-(count-1) and events must use those names."
    )
    model: Literal["timekeeper", "offsets"] = Field(
        "timekeeper",
        description="'timekeeper' (its own timekeeper) or 'offsets' (Linux 5.6: the host's "
        "clocks plus fixed offsets).",
    )
    update: Literal["lazy", "periodic"] = Field(
        "lazy", description="Its timekeeper's update: 'lazy' (on demand) or 'periodic'."
    )
    dilation: Exact = Field(
        Fraction(1),
        description="Length of a namespace second in true seconds (2: twice as long).",
        json_schema_extra={"bounds": "> 0"},
    )
    leap: Annotated[LeapPolicy, BeforeValidator(_leap_policy), _LEAP_KIND] = Field(
        LeapPolicy(),
        description="Leap policy: 'step', 'ignore', a smear shape name, or the table form "
        "(`[namespaces.leap]`).",
    )
    ntp: Annotated[NtpSpec, BeforeValidator(_ntp_model), _NTP_KIND] = Field(
        NtpSpec(), description="An NTP daemon: a model name, or the table form (`ntp = {…}`)."
    )
    offsets: OffsetsSpec | None = Field(
        None, description="The offsets (model = 'offsets' only; unset: zero)."
    )
    count: int = Field(
        1, ge=1, description="How many identical namespaces this entry creates."
    )
    record: bool = Field(
        True, description="false: metrics only, no rows in samples.csv."
    )
    programs: list[ProgramSpec] = Field(
        default_factory=list,
        description="Real programs run on this namespace (`[[namespaces.programs]]`).",
    )
    ntp_server: bool = Field(
        False,
        description="Serve NTP to the programs on the simulated network with the model "
        "server (tk_shim.ntp_server.NtpServer): stratum 1 from this namespace's clock, its "
        "leap indicator from this namespace's kernel leap state (no programs of its own).",
    )
    group: Name | None = Field(
        None,
        description="The count = N entry this namespace is a copy of (written when a key "
        "such as `namespaces[name=NAME-3]` splits the entry into its copies; unset: `name`).",
    )

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

    @model_validator(mode="after")
    def _ntp_server(self) -> NamespaceSpec:
        if not self.ntp_server:
            return self
        if self.model != "timekeeper":
            raise fail("ntp_server = true needs model = 'timekeeper' (it announces leaps from "
                       f"the namespace's own kernel state), found model = {self.model!r}")
        if self.programs:
            raise fail("a namespace with ntp_server = true serves NTP itself (port 123 of its "
                       "address): expected no [[namespaces.programs]] in it")
        return self

    @property
    def group_name(self) -> str:
        """The group its namespaces report in summary.json (the entry they were copied from)."""
        return self.group or self.name

    def names(self) -> list[str]:
        """The namespace names this entry creates."""
        if self.count == 1:
            return [self.name]
        return [f"{self.name}-{i}" for i in range(self.count)]


class TimerSpec(Strict):
    """A POSIX timer (or `copies` of it, each `stagger` later) observed for `count` expiries."""

    namespace: Name = Field("root", description="The namespace the timer belongs to.")
    clock: TimerClock = Field("CLOCK_MONOTONIC", description="The clock the timer runs on.")
    arm_at: When = Field(At("offset", 0), description="When it is armed (timer_settime).")
    value: When = Field(
        description="First expiry: relative to arming, or with absolute = true a clock value "
        "('2h') or an ISO UTC instant."
    )
    absolute: bool = Field(False, description="true: TIMER_ABSTIME.")
    interval: NonNegDuration = Field(
        0, description="Re-arm period (0: one-shot; needed when count > 1)."
    )
    count: int = Field(1, ge=1, description="Expiries observed, then the timer is deleted.")
    copies: int = Field(1, ge=1, description="How many identical timers to arm.")
    stagger: NonNegDuration = Field(
        0, description="Each copy is armed this much later than the one before."
    )

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

    name: Name = Field(description="The scenario's name (the results folder is out/NAME).")
    description: str = Field(
        min_length=1, max_length=200, description="One line for `timekeepers list`."
    )
    duration: PositiveDuration | None = Field(
        None, description="How long the run lasts (exactly one of `duration` or `until`)."
    )
    until: Utc | None = Field(
        None, description="When the run ends (exactly one of `duration` or `until`)."
    )
    seed: int = Field(
        0,
        ge=0,
        le=2**63 - 1,
        description="Seeds the clocksource's random walk and the NTP paths.",
    )
    sample_every: PositiveDuration | None = Field(
        None,
        description="Sampling interval (unset: duration / 1000, rounded to a round step).",
    )
    reference: str = Field(
        "utc",
        description="The timescale offsets are compared against: 'utc', 'tai', 'no-leap' or "
        "a smear shape name.",
    )
    leap_table: str = Field(
        "shipped",
        description="'shipped' (the table in the package: the later-expiring of its "
        "leap-seconds.list and Leap_Second.dat copies), 'newest' (the freshest valid copy "
        "among the shipped ones and the system's tzdata), or a path to a leap-seconds.list or "
        "an IERS Leap_Second.dat (relative to the scenario file).",
    )
    leap_expiry: Literal["assume_no_new_leaps", "strict"] = Field(
        "assume_no_new_leaps",
        description="Past the table's expiry: assume no new leaps (and warn), or refuse "
        "the run ('strict').",
    )


class Scenario(Strict):
    """A whole scenario file: these tables, each documented below."""

    scenario: RunSpec = Field(description="The `[scenario]` table.")
    host: HostSpec = Field(description="The `[host]` table.")
    namespaces: list[NamespaceSpec] = Field(
        default_factory=list, description="The `[[namespaces]]` tables, besides 'root'."
    )
    timers: list[TimerSpec] = Field(
        default_factory=list, description="The `[[timers]]` tables."
    )
    events: list[Event] = Field(
        default_factory=list,
        description="The `[[events]]` tables, each chosen by its `action`.",
    )
    network: NetworkSpec = Field(
        NetworkSpec(),
        description="The `[network]` table: the simulated network of the namespaces' "
        "programs.",
    )


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
