"""Smear-shape parameters as scenario files spell them, and their `ntp.smear` names.

`ntp.smear` shapes take exact seconds and dimensionless rates (``rate = 1/12``), as the
papers and daemons publish them.  A scenario writes every value with its unit, like every
other key: durations as `'12h'` or `'65us'`, rates in ppm under a name that says so
(`rate_ppm`).  So `leap = { shape = ..., params = {...} }` accepts both spellings — the
scenario one and the Python field name with its Python value (seconds, a fraction) — and
turns either into the keyword arguments of the shape's constructor.  The table below is the
one place that mapping lives; the generated reference prints it, and a test checks that it
covers every field of every shape class.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from fractions import Fraction
from functools import partial
from typing import Any, Literal, cast

from gmpy2 import mpq

from ntp import smear

from . import units

NSEC = 1_000_000_000
MILLION = 1_000_000

ParamKind = Literal["duration", "ppm", "bool"]


@dataclass(frozen=True)
class ShapeParam:
    """One shape parameter: its scenario key, its `ntp.smear` field, how it is written."""

    scenario: str
    python: str
    kind: ParamKind
    description: str

    def from_scenario(self, value: Any) -> object:
        """The scenario spelling (a duration with a unit, ppm) → the constructor's value."""
        if self.kind == "bool":
            return _bool(self.scenario, value)
        if self.kind == "duration":
            if _bare_number(value):
                # the Python spelling (exact seconds), accepted under the same name
                return mpq(units.exact_number(value, f"{self.scenario} in seconds"))
            return mpq(units.parse_duration(value), NSEC)
        return mpq(units.exact_number(value, f"{self.scenario} in ppm")) / MILLION

    def from_python(self, value: Any) -> object:
        """The Python spelling (exact seconds or a dimensionless fraction), checked."""
        if self.kind == "bool":
            return _bool(self.python, value)
        return mpq(units.exact_number(value, self.python))

    def to_scenario(self, value: object) -> str:
        """A constructor value written as a scenario would write it (for the reference)."""
        if self.kind == "bool":
            return "true" if value else "false"
        exact = Fraction(int(mpq(value).numerator), int(mpq(value).denominator))
        if self.kind == "ppm":
            return _exact_text(exact * MILLION)
        ns = exact * NSEC
        if ns.denominator == 1:
            return units.format_duration(int(ns))
        return f"{_exact_text(exact)} (seconds)"


def _exact_text(value: Fraction) -> str:
    """A decimal when it terminates ('0.001024'), else the fraction ('250000/3'): exact."""
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    if den != 1:
        return str(value)
    digits = 0
    while (value * 10**digits).denominator != 1:
        digits += 1
    return units.format_decimal(value, digits)


def _bare_number(value: Any) -> bool:
    """An int, float or number string with no unit ('86400', '13/200000'): seconds."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        units.exact_number(value)
    except units.UnitError:
        return False
    return True


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise units.UnitError(f"{key} must be true or false, found {value!r}")
    return value


_START = ShapeParam(
    "start", "start", "duration",
    "when the smear begins, as a UTC label relative to the midnight that ends the leap day "
    "(`'-12h'`: noon before)",
)
_SPAN = ShapeParam("duration", "duration", "duration", "how long the smear lasts (SI seconds)")
_SLS_SPAN = ShapeParam(
    "duration", "duration", "duration", "the span before midnight over which the leap is spread"
)
#: Scenario parameters of each shape class, in the order the reference lists them.
PARAMS: dict[type[smear.Shape], tuple[ShapeParam, ...]] = {
    smear.Step: (),
    smear.LinearSmear: (
        _START,
        _SPAN,
        ShapeParam(
            "utc_labels", "utc_labels", "bool",
            "true: end at the label `start + duration` (Google's published definition, "
            "`duration` + 1 SI seconds) instead of after `duration` SI seconds",
        ),
    ),
    smear.UtcSls: (_SLS_SPAN,),
    smear.WindowsHalfSpeed: (_SLS_SPAN,),
    smear.SlewAfterLeap: (
        ShapeParam(
            "rate_ppm", "rate", "ppm",
            "the slew rate that absorbs the 1 s error after the leap (Python: a fraction, "
            "1/12 for 250000/3 ppm)",
        ),
        ShapeParam("delay", "delay", "duration", "how long after the leap the slew starts"),
    ),
    smear.CosineSmear: (
        ShapeParam("window", "window", "duration", "the window W ending at the leap"),
        ShapeParam(
            "ntpd_negative_quirk", "ntpd_negative_quirk", "bool",
            "true: reproduce ntpd's formula for a negative leap (the clock jumps 1 s ahead "
            "when the window opens)",
        ),
    ),
    smear.QuadraticSmear: (
        ShapeParam(
            "max_freq_ppm", "max_freq", "ppm",
            "chrony `smoothtime` maximum frequency offset (Python: a fraction)",
        ),
        ShapeParam(
            "max_wander_ppm_per_s", "max_wander", "ppm",
            "chrony `smoothtime` maximum change of frequency, ppm per second (Python: a "
            "fraction per second)",
        ),
    ),
    smear.Staircase: (
        ShapeParam("tick", "tick", "duration", "the interval between two steps back"),
        ShapeParam("jump", "jump", "duration", "how far the clock steps back at each tick"),
    ),
}


def shape_class(name: str) -> type[smear.Shape]:
    """The `ntp.smear` class behind a registered shape name (`linear-24h` → LinearSmear)."""
    factory = smear.SHAPES[name]
    return cast("type[smear.Shape]", factory.func if isinstance(factory, partial) else factory)


def params_of(name: str) -> tuple[ShapeParam, ...]:
    """The parameters a registered shape takes."""
    return PARAMS[shape_class(name)]


def defaults_of(name: str) -> dict[str, object]:
    """Each parameter's default for this shape name (a preset's value, else the class's)."""
    factory = smear.SHAPES[name]
    preset = factory.keywords if isinstance(factory, partial) else {}
    found: dict[str, object] = {}
    for f in fields(shape_class(name)):
        if f.name in preset:
            found[f.name] = preset[f.name]
        elif f.default is not MISSING:
            found[f.name] = f.default
    return found


def to_python(name: str, params: dict[str, Any]) -> dict[str, object]:
    """Scenario `params` (either spelling) → `make_shape` keyword arguments, checked.

    Raises ValueError naming the parameter and what it takes; the shape itself then checks
    the values (a duration that must be positive).
    """
    known = params_of(name)
    by_key = {p.scenario: p for p in known} | {p.python: p for p in known}
    out: dict[str, object] = {}
    for key, value in params.items():
        param = by_key.get(key)
        if param is None:
            takes = ", ".join(_spelling(p) for p in known) or "no parameters"
            raise ValueError(f"shape {name!r} has no parameter {key!r}; it takes {takes}")
        if param.python in out:
            raise ValueError(
                f"shape {name!r}: give {param.scenario!r} or {param.python!r}, not both"
            )
        try:
            if key == param.scenario:
                out[param.python] = param.from_scenario(value)
            else:
                out[param.python] = param.from_python(value)
        except units.UnitError as err:
            raise ValueError(f"shape {name!r}: params.{key}: {err}") from None
    return out


def _spelling(p: ShapeParam) -> str:
    return p.scenario if p.scenario == p.python else f"{p.scenario} (or {p.python})"
