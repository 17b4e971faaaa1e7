"""One way to show numbers: a unit per axis or table column, chosen from the data's range.

Plots (axis labels), report.html tables, `timekeepers show` and the sweep report all format
through here, so a column never mixes "1000.000 ms" with "1.000 s": the unit is picked once
for the whole column from its largest magnitude *as it would be shown* (a peak of
999.9996 ms rounds to 1000.000 ms, so the column goes to seconds), and every cell of the
column is written in it with the same number of decimals.  `parse` reads a cell back, so
tests can check that what is shown is the value within the shown precision.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: Durations/offsets in ns, largest first.
NS_UNITS = (("s", 10**9), ("ms", 10**6), ("µs", 10**3), ("ns", 1))
#: Spans of true time in seconds (x axes), largest first.
TIME_UNITS = (("days", 86_400), ("hours", 3600), ("minutes", 60), ("seconds", 1))
#: Shown in place of a missing value.
MISSING = "–"
DIGITS = 3


@dataclass(frozen=True)
class Unit:
    """A display unit: its name, how many base units (ns, ppm, …) it holds, and decimals."""

    name: str
    scale: int
    digits: int = DIGITS

    def value(self, base: float) -> float:
        """A base-unit value expressed in this unit (a plot coordinate)."""
        return base / self.scale

    def format(self, base: float | int | None) -> str:
        """One cell: the value in this unit with this unit's decimals ('1.234 ms')."""
        if base is None or (isinstance(base, float) and math.isnan(base)):
            return MISSING
        shown = f"{base / self.scale:.{self.digits}f}"
        if float(shown) == 0:
            shown = shown.lstrip("-")  # "-0.000" is noise from rounding
        return f"{shown} {self.name}"

    @property
    def step(self) -> float:
        """The shown precision in base units (one unit of the last decimal)."""
        return self.scale * 10.0**-self.digits


def _present(values: Iterable[float | int | None]) -> list[float | int]:
    return [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]


def _digits(present: list[float | int], scale: int, most: int) -> int:
    """Decimals that show the smallest nonzero value with a significant digit (3 to `most`)."""
    small = min((abs(v) for v in present if v), default=0)
    if not small:
        return DIGITS
    need = math.ceil(math.log10(scale) - math.log10(small) - 1e-9)
    return max(DIGITS, min(most, need))


def ns_unit(values: Iterable[float | int | None]) -> Unit:
    """The one unit for a column or axis of ns values: the largest the peak shows >= 1 in.

    Decimals: three, or more (down to whole ns) when the column's smallest nonzero value
    would otherwise show as zero; whole ns are shown without decimals when all are whole.
    """
    present = _present(values)
    peak = max((abs(v) for v in present), default=0)
    for name, scale in NS_UNITS[:-1]:
        if round(peak / scale, DIGITS) >= 1:
            return Unit(name, scale, _digits(present, scale, len(str(scale)) - 1))
    whole = all(float(v).is_integer() for v in present)
    return Unit("ns", 1, 0 if whole else DIGITS)


def ppm_unit(values: Iterable[float | int | None]) -> Unit:
    """The unit of a ppm column: ppm, with decimals enough for its smallest nonzero value."""
    return Unit("ppm", 1, _digits(_present(values), 1, 6))


#: Frequency offsets with the standard decimals (a single value, or a plot axis).
PPM = Unit("ppm", 1)


def ns_column(values: Sequence[float | int | None]) -> list[str]:
    """A column of ns values, every cell in the column's one unit."""
    unit = ns_unit(values)
    return [unit.format(v) for v in values]


def ppm_column(values: Sequence[float | int | None]) -> list[str]:
    """A column of frequency offsets in ppm (one unit, fixed decimals)."""
    unit = ppm_unit(values)
    return [unit.format(v) for v in values]


#: Column kinds for `columns`: each formats a whole column at once.
NS, PPM_KIND, TEXT = "ns", "ppm", "text"


def columns(kinds: Sequence[str], rows: Sequence[Sequence[object]]) -> list[list[str]]:
    """Raw table rows → display strings, each column formatted as its kind in one unit."""
    out = [["" for _ in row] for row in rows]
    for c, kind in enumerate(kinds):
        cells = [row[c] for row in rows]
        if kind == NS:
            shown = ns_column(cells)  # type: ignore[arg-type]
        elif kind == PPM_KIND:
            shown = ppm_column(cells)  # type: ignore[arg-type]
        else:
            shown = [MISSING if v is None else str(v) for v in cells]
        for r, text in enumerate(shown):
            out[r][c] = text
    return out


def time_unit(span_s: float) -> Unit:
    """The x-axis unit for a stretch of true time: the largest that shows it as >= 3."""
    for name, scale in TIME_UNITS:
        if span_s >= 3 * scale:
            return Unit(name, scale)
    return Unit("seconds", 1)


_SUFFIX = {name: scale for name, scale in NS_UNITS} | {"ppm": 1}


def parse(cell: str) -> float | None:
    """A formatted cell read back into base units (ns or ppm); None for the missing mark."""
    if cell == MISSING:
        return None
    number, _, name = cell.rpartition(" ")
    return float(number) * _SUFFIX[name]
