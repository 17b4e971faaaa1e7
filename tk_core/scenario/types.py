"""Pydantic field types for scenario values: each parses with `units` and prints canonically.

Why pydantic types rather than plain validators: a field typed `Duration` both reads "36h"
into 129_600_000_000_000 ns and writes it back as "36h" when the resolved scenario is saved,
so the two directions can never drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from fractions import Fraction
from typing import Annotated, Any, NamedTuple

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainSerializer
from pydantic_core import PydanticCustomError

from ntp import timex

from . import units

ADJ_MODES: dict[str, int] = {
    name: getattr(timex, name)
    for name in dir(timex)
    if name.startswith("ADJ_") and name not in ("ADJ_ADJTIME", "ADJ_OFFSET_READONLY")
}
STA_BITS: dict[str, int] = {
    name: getattr(timex, name)
    for name in dir(timex)
    if name.startswith("STA_") and name not in ("STA_RONLY",)
}
TIMER_CLOCKS: dict[str, int] = {
    "CLOCK_REALTIME": 0,
    "CLOCK_MONOTONIC": 1,
    "CLOCK_BOOTTIME": 7,
    "CLOCK_TAI": 11,
}
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class Kind(NamedTuple):
    """How a value type is written in a scenario file, for the generated key reference.

    Carried in the type's `Annotated` metadata (pydantic ignores it), so the reference reads
    the spelling from the very type that parses the value and the two cannot drift apart.
    """

    name: str
    spelling: str
    bounds: str = ""


class Strict(BaseModel):
    """Every scenario table: unknown keys are errors, values are immutable once read."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


def fail(message: str) -> PydanticCustomError:
    """A scenario error whose message already says what was expected and what was found."""
    return PydanticCustomError("scenario", "{msg}", {"msg": message})


def not_available(message: str) -> PydanticCustomError:
    """The 'not available in this version' error for schema parts the engine cannot run yet."""
    return PydanticCustomError("not_available", "{msg}", {"msg": message})


def _parser(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        try:
            return fn(value)
        except units.UnitError as err:
            raise fail(str(err)) from None

    return parse


S64_MIN, S64_MAX = -(1 << 63), (1 << 63) - 1


def _within_s64(value: int, what: str, show: Callable[[int], str] = str) -> int:
    """The kernel keeps ktime_t and every `long` of struct timex in an s64: nothing wider fits."""
    if not S64_MIN <= value <= S64_MAX:
        unit = "ns" if show is units.format_duration else ""
        raise fail(
            f"expected {what} of at most ±{S64_MAX}{unit} (the kernel's s64"
            f"{', about 292 years' if unit else ''}), found {show(value)}"
        )
    return value


def s64(what: str) -> AfterValidator:
    """A field the kernel holds in an s64 (`long` on 64-bit): ±(2^63 − 1)."""
    return AfterValidator(lambda v: v if v is None else _within_s64(v, what))


def _at_least(low: int, what: str) -> Callable[[int], int]:
    def check(ns: int) -> int:
        if ns < low:
            bound = "> 0" if low == 1 else ">= 0"
            raise fail(f"{what} must be {bound}, found {units.format_duration(ns)}")
        return ns

    return check


_DUR = [
    BeforeValidator(_parser(units.parse_duration)),
    AfterValidator(lambda ns: _within_s64(ns, "a duration", units.format_duration)),
    PlainSerializer(units.format_duration),
]
_DURATION_SPELLING = (
    "a number with a unit (`ns us ms s min h d`), compound allowed: `'36h'`, `'-250ms'`, "
    "`'2h45s'`; `0` alone needs none"
)
_DURATION = Kind("duration", _DURATION_SPELLING)
#: A signed duration in ns, written '36h', '-250ms'.
Duration = Annotated[int, *_DUR, _DURATION]
#: A duration > 0.
PositiveDuration = Annotated[
    int,
    *_DUR,
    AfterValidator(_at_least(1, "a duration")),
    Kind("duration", _DURATION_SPELLING, "> 0"),
]
#: A duration >= 0.
NonNegDuration = Annotated[
    int,
    *_DUR,
    AfterValidator(_at_least(0, "a duration")),
    Kind("duration", _DURATION_SPELLING, ">= 0"),
]
#: POSIX UTC in ns, written as ISO UTC ('2016-12-31T00:00:00Z') or epoch ns.
Utc = Annotated[
    int,
    BeforeValidator(_parser(units.parse_utc)),
    PlainSerializer(units.format_utc),
    Kind(
        "ISO UTC",
        "a TOML date-time or string with a zone (`2016-12-31T00:00:00Z`), or POSIX epoch ns "
        "(an integer)",
    ),
]


def _exact(value: Any) -> Fraction:
    return units.exact_number(value)


#: An exact rational (12, '12.5', '1/3'); floats are read through their decimal spelling.
Exact = Annotated[
    Fraction,
    BeforeValidator(_parser(_exact)),
    PlainSerializer(str),
    Kind(
        "exact number",
        "an integer, a decimal or a fraction (`12`, `'12.5'`, `'1/3'`); read exactly, never as "
        "a binary float",
    ),
]
Frequency = Annotated[
    int,
    BeforeValidator(_parser(units.parse_frequency)),
    Kind("frequency", "integer Hz, or a number with a unit: `'3GHz'`, `'3.579545MHz'`"),
]
Day = Annotated[
    date,
    BeforeValidator(_parser(units.parse_date)),
    PlainSerializer(lambda d: d.isoformat()),
    Kind("date", "a calendar day, `2016-12-31` (TOML date or string)"),
]


class At(NamedTuple):
    """When an event happens: `kind` 'offset' (ns after the start) or 'utc' (POSIX ns)."""

    kind: str
    ns: int


def parse_at(value: Any) -> At:
    """'12h' / '+12h' (after the start) or an ISO UTC instant / TOML date-time."""
    if isinstance(value, At):
        return value
    if isinstance(value, str) and len(value) > 10 and value[4:5] == "-" and value[:4].isdigit():
        return At("utc", units.parse_utc(value))
    if not isinstance(value, str | int) or isinstance(value, bool):
        return At("utc", units.parse_utc(value))
    ns = units.parse_duration(value.lstrip("+") if isinstance(value, str) else value)
    if ns < 0:
        raise units.UnitError(f"an event time cannot be before the start, found {value!r}")
    return At("offset", ns)


def format_at(at: At) -> str:
    return units.format_utc(at.ns) if at.kind == "utc" else units.format_duration(at.ns)


When = Annotated[
    At,
    BeforeValidator(_parser(parse_at)),
    PlainSerializer(format_at),
    Kind(
        "time",
        "an offset from the start (a duration: `'12h'`, `'+2h45s'`) or an ISO UTC instant",
    ),
]


def _named(table: dict[str, int], what: str, prefix: str) -> Callable[[Any], str]:
    return _parser(lambda v: units.one_of(v, table, what, prefix))


def _choice(table: dict[str, int], what: str, prefix: str) -> Kind:
    names = ", ".join(f"`{name}`" for name in table)
    return Kind(what, f"one of {names} (any case, `{prefix}` prefix optional)")


AdjMode = Annotated[
    str,
    BeforeValidator(_named(ADJ_MODES, "adjtimex mode", "ADJ_")),
    _choice(ADJ_MODES, "adjtimex mode", "ADJ_"),
]
StaBit = Annotated[
    str,
    BeforeValidator(_named(STA_BITS, "status bit", "STA_")),
    _choice(STA_BITS, "status bit", "STA_"),
]
TimerClock = Annotated[
    str,
    BeforeValidator(_named(TIMER_CLOCKS, "timer clock", "CLOCK_")),
    _choice(TIMER_CLOCKS, "clock", "CLOCK_"),
]

