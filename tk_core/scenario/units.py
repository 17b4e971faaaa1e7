"""Scenario values as people write them, turned into exact engine values (and back).

Why a module of its own: every number in a scenario file has a unit, and a number without
one is the commonest mistake ("duration = 90" — seconds? ticks?).  So durations are strings
with a unit ("90s", "250ms", "1.5h"), instants are ISO UTC dates or offsets from the start,
and rates are exact decimals or fractions.  Every parser is exact (no float ever touches a
value: "0.1" is 1/10) and every one has an inverse that prints the canonical spelling, so a
resolved scenario can be written back and read again to the same integers.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

from ..exact_input import exact_rational
from ..timekeeper import TIME_SETTOD_SEC_MAX

NSEC = 1_000_000_000
UNITS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": NSEC,
    "min": 60 * NSEC,
    "h": 3600 * NSEC,
    "d": 86_400 * NSEC,
}
_CANONICAL = ("d", "h", "min", "s", "ms", "us", "ns")
_NUMBER = r"(\d+(?:\.\d+)?|\d+/\d+)"
_PART = re.compile(rf"{_NUMBER}\s*([^\d\s./]*)", re.ASCII)
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|z|[+-]\d{2}:\d{2})?$",
    re.ASCII,
)
_UNIT_HINT = "use ns, us, ms, s, min, h or d (e.g. '90s', '250ms', '36h')"


class UnitError(ValueError):
    """A value could not be read; the message says what was expected and what was found."""


def exact_number(value: object, what: str = "number") -> Fraction:
    """An exact rational from an int, a decimal/fraction string or a TOML float.

    A TOML float is read through its shortest decimal spelling, so `12.5` and `0.1` mean
    exactly what was written (1/10, not the binary double nearest to it): the engine's own
    rule for every rational argument (`tk_core.exact_input`), with a `UnitError` for a bad one.
    """
    try:
        q = exact_rational(value, what=what)
    except (TypeError, ValueError) as exc:
        raise UnitError(str(exc)) from None
    return Fraction(int(q.numerator), int(q.denominator))


def parse_duration(value: object) -> int:
    """A signed duration in whole ns: '36h', '-1s', '1.5ms', or compound '2h45s'."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UnitError(f"expected a duration such as '90s', found {type(value).__name__}")
    if not isinstance(value, str):
        if value == 0:
            return 0
        raise UnitError(f"a duration needs a unit: write '{value}s' or '{value}ms', not {value}")
    text = value.strip()
    sign = -1 if text.startswith("-") else 1
    body = text[1:].strip() if text[:1] in ("+", "-") else text
    parts = _PART.findall(body)
    if not parts or "".join(n + u for n, u in parts) != body.replace(" ", ""):
        raise UnitError(f"expected a duration such as '90s', '250ms' or '2h45s', found {value!r}")
    total = Fraction(0)
    for number, unit in parts:
        if not unit:
            raise UnitError(f"a duration needs a unit: {value!r} has none; {_UNIT_HINT}")
        if unit not in UNITS:
            hint = " ('m' is ambiguous: write 'min' or 'ms')" if unit == "m" else ""
            raise UnitError(f"unknown unit {unit!r} in {value!r}{hint}; {_UNIT_HINT}")
        total += Fraction(number) * UNITS[unit]
    if total.denominator != 1:
        raise UnitError(f"{value!r} is not a whole number of nanoseconds")
    return sign * int(total)


def format_duration(ns: int) -> str:
    """The canonical spelling: the largest unit that divides `ns` exactly ('36h', '-250ms')."""
    if ns == 0:
        return "0s"
    for unit in _CANONICAL:
        if ns % UNITS[unit] == 0:
            return f"{ns // UNITS[unit]}{unit}"
    return f"{ns}ns"


def _iso_parts(text: str) -> int:
    m = _ISO.match(text.strip())
    if not m:
        raise UnitError(f"expected an ISO UTC date such as '2016-12-31T23:59:50Z', found {text!r}")
    y, mo, d, h, mi, s, frac, tz = m.groups()
    if tz is None:
        raise UnitError(f"{text!r} has no time zone: add 'Z' for UTC (2016-12-31T00:00:00Z)")
    try:
        base = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=UTC)
    except ValueError as err:
        raise UnitError(f"{text!r} is not a valid date/time: {err}") from None
    if tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        base -= sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
    nanos = int((frac or "").ljust(9, "0"))
    return int(base.timestamp()) * NSEC + nanos


def parse_utc(value: object) -> int:
    """POSIX UTC in ns from an ISO string, a TOML offset datetime, or an int of epoch ns.

    Bounded as `timespec64_valid_settod` bounds CLOCK_REALTIME: before TIME_SETTOD_SEC_MAX
    (2232-04-18), which leaves 30 years of uptime before ktime_t's s64 ns overflow.
    """
    ns = _utc_ns(value)
    if ns >= TIME_SETTOD_SEC_MAX * NSEC:
        latest = format_utc(TIME_SETTOD_SEC_MAX * NSEC)
        raise UnitError(
            f"expected an instant before {latest} (the kernel's TIME_SETTOD_SEC_MAX: the "
            f"latest CLOCK_REALTIME can be set to), found {_show_instant(value, ns)}"
        )
    return ns


def _show_instant(value: object, ns: int) -> str:
    return f"{value!r}" if isinstance(value, str) else f"{ns} ns"


def _utc_ns(value: object) -> int:
    if isinstance(value, bool):
        raise UnitError(f"expected an ISO UTC date or epoch ns, found {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise UnitError(f"epoch ns must be >= 0, found {value}")
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise UnitError(f"{value.isoformat()} has no time zone: add 'Z' for UTC")
        micro = value.astimezone(UTC)
        return int(micro.replace(microsecond=0).timestamp()) * NSEC + micro.microsecond * 1000
    if isinstance(value, str):
        return _iso_parts(value)
    if isinstance(value, date):
        raise UnitError(f"{value.isoformat()} is a date without a time: write {value}T00:00:00Z")
    raise UnitError(f"expected an ISO UTC date or epoch ns, found {type(value).__name__}")


def format_utc(ns: int) -> str:
    """ISO UTC with as many fractional digits as needed (none for whole seconds)."""
    sec, frac = divmod(ns, NSEC)
    text = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


def parse_frequency(value: object) -> int:
    """A counter frequency in Hz: an int, or a string with Hz/kHz/MHz/GHz ('3.579545MHz')."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        m = re.match(rf"^\s*{_NUMBER}\s*(Hz|kHz|MHz|GHz)\s*$", value)
        if m:
            scale = {"Hz": 1, "kHz": 10**3, "MHz": 10**6, "GHz": 10**9}[m.group(2)]
            hz = Fraction(m.group(1)) * scale
            if hz.denominator == 1:
                return int(hz)
            raise UnitError(f"{value!r} is not a whole number of Hz")
    raise UnitError(f"expected a frequency such as 3000000000 or '3.579545MHz', found {value!r}")


def parse_date(value: object) -> date:
    """A calendar day from a TOML date or a 'YYYY-MM-DD' string."""
    if isinstance(value, datetime):
        raise UnitError(f"expected a day such as 2016-12-31, found a date-time {value!r}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise UnitError(f"expected a day such as 2016-12-31, found {value!r}")


def one_of(value: object, names: dict[str, int], what: str, prefix: str) -> str:
    """A canonical constant name (e.g. 'ADJ_OFFSET') from any case, with or without prefix."""
    if not isinstance(value, str):
        raise UnitError(f"expected a {what} name, found {type(value).__name__} {value!r}")
    key = value.strip().upper()
    if not key.startswith(prefix):
        key = prefix + key
    if key in names:
        return key
    from difflib import get_close_matches

    close = get_close_matches(key, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UnitError(f"unknown {what} {value!r}{hint}; known: {', '.join(names)}")


def format_decimal(value: object, digits: int) -> str:
    """An exact rational as a fixed-point decimal string, rounded half up (deterministic).

    Used for CSV cells: no binary float ever stands between the exact value and the text.
    Takes ints, Fractions and gmpy2 rationals (anything with numerator/denominator).
    """
    num = int(value.numerator)  # type: ignore[attr-defined]
    den = int(value.denominator)  # type: ignore[attr-defined]
    scaled = num * 10**digits
    n = (scaled * 2 + den) // (2 * den)
    sign = "-" if n < 0 else ""
    whole, frac = divmod(abs(n), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"
