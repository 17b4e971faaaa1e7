"""The IERS ``Leap_Second.dat`` format: the same table as ``leap-seconds.list``, other layout.

The IERS publishes TAI − UTC twice a year, after each Bulletin C, in two files: the NTP-style
``leap-seconds.list`` (NTP seconds, a ``#@`` expiry, a SHA-1 ``#h`` line) and
``Leap_Second.dat`` (https://hpiers.obspm.fr/iers/bul/bulc/Leap_Second.dat).  The second one
is the file astronomy software keeps (astropy's ``astropy-iers-data`` package carries it), so
it is often the fresher copy at hand.  Its data lines are::

        57754.0    1  1 2017       37

the Modified Julian Day of the first day with the new offset, the same day as day, month,
year, and TAI − UTC from then on.  Its validity is stated only in comment lines::

    #  Updated through IERS Bulletin 72 issued in July 2026
    #  File expires on 28 June 2027

It has no hash, so the checks are the ones it allows: every line parses, the MJD and the
calendar date name the same day, that day is the 1st of a month from 1972 on, dates increase
and TAI − UTC moves by exactly ±1; both comment lines are present and name real dates.  The
bulletin line gives a month, not a day: the last update counts from the 1st of that month.

This module only reads the text; ``ntp.leap`` turns the result into a ``LeapTable``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

#: MJD 40587 is 1970-01-01, the Unix epoch.
MJD_UNIX_EPOCH = 40_587
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_EXPIRES = re.compile(r"#\s*File expires on\s+(\d{1,2})\s+([A-Za-z]+)\s+(\d{4})\s*$")
_UPDATED = re.compile(r"#\s*Updated through IERS Bulletin\s+(?:C\s*)?(\d+)\s+issued in\s+"
                      r"([A-Za-z]+)\s+(\d{4})\s*$")
_MJD = re.compile(r"\d+(\.0+)?")
#: A comment line's findings, line number first.
_Line = TypeVar("_Line", tuple[int, date], tuple[int, int, date])


class DatFormatError(ValueError):
    """One line of a ``Leap_Second.dat`` is wrong: which line, which check, what was found."""

    def __init__(self, lineno: int, check: str, detail: str) -> None:
        super().__init__(f"line {lineno}: {check}: {detail}")
        self.lineno, self.check, self.detail = lineno, check, detail


@dataclass(frozen=True)
class DatTable:
    """What a ``Leap_Second.dat`` says, in the calendar: entries as (first day, TAI − UTC)."""

    entries: list[tuple[date, int]]
    expires: date
    last_update: date
    bulletin: int


def is_leap_second_dat(text: str) -> bool:
    """Whether ``text`` is laid out as a ``Leap_Second.dat`` rather than a ``leap-seconds.list``.

    Decided by the first data line: five fields (MJD, day, month, year, offset) here, two (NTP
    seconds, offset) in the list.  A file with any ``#$``, ``#@`` or ``#h`` line is a list,
    however damaged, so its own parser names what is wrong with it.
    """
    first = None
    for line in text.splitlines():
        if line.startswith(("#$", "#@", "#h")):
            return False
        if first is None and not line.startswith("#") and line.strip():
            first = line
    return first is not None and len(first.split()) == 5


def parse_leap_second_dat(text: str, max_offset: int) -> DatTable:
    """Read and check a ``Leap_Second.dat``; a :class:`DatFormatError` says where and why.

    ``max_offset`` is the largest TAI − UTC a sane table may hold (``ntp.leap.MAX_TAI_UTC``).
    """
    entries: list[tuple[date, int]] = []
    expires: tuple[int, date] | None = None
    updated: tuple[int, int, date] | None = None
    lineno = 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            if (m := _EXPIRES.match(line)) is not None:
                day = _calendar_day(lineno, "bad expiry date", m.group(1), m.group(2), m.group(3))
                expires = _once(expires, (lineno, day), lineno, "'File expires on'")
            elif (m := _UPDATED.match(line)) is not None:
                month = _calendar_day(lineno, "bad bulletin month", "1", m.group(2), m.group(3))
                updated = _once(updated, (lineno, int(m.group(1)), month), lineno,
                                "'Updated through IERS Bulletin'")
        elif line.strip():
            entries.append(_entry(line, lineno, entries[-1] if entries else None, max_offset))
    if not entries:
        raise DatFormatError(lineno, "no data lines", "want lines 'MJD day month year TAI-UTC'")
    if expires is None:
        raise DatFormatError(lineno, "missing expiry",
                             "want a comment line '#  File expires on <day> <Month> <year>'")
    if updated is None:
        raise DatFormatError(lineno, "missing last update", "want a comment line "
                             "'#  Updated through IERS Bulletin <n> issued in <Month> <year>'")
    return DatTable(entries, expires[1], updated[2], updated[1])


def _once(seen: _Line | None, new: _Line, lineno: int, what: str) -> _Line:
    """`new`, the first of its kind; a second 'File expires' (or bulletin) line is an error."""
    if seen is not None:
        raise DatFormatError(lineno, "duplicate line", f"{what} already on line {seen[0]}")
    return new


def _calendar_day(lineno: int, check: str, day: str, month: str, year: str) -> date:
    try:
        return date(int(year), _MONTHS.index(month.lower()) + 1, int(day))
    except ValueError:
        detail = f"{day} {month} {year} is not a calendar date"
        raise DatFormatError(lineno, check, detail) from None


def _entry(
    line: str, lineno: int, prev: tuple[date, int] | None, max_offset: int
) -> tuple[date, int]:
    """One data line, checked on its own and against the line before it."""
    words = line.split()
    if (len(words) != 5 or _MJD.fullmatch(words[0]) is None
            or not all(w.isdigit() and w.isascii() for w in words[1:])):
        raise DatFormatError(lineno, "bad data line",
                             f"want 'MJD day month year TAI-UTC' (e.g. '57754.0 1 1 2017 37'), "
                             f"got {words}")
    mjd, (d, m, y, offset) = int(words[0].split(".")[0]), (int(w) for w in words[1:])
    try:
        day = date(y, m, d)
    except ValueError:
        raise DatFormatError(lineno, "bad date", f"{d} {m} {y} is not a calendar date") from None
    if day.toordinal() - date(1970, 1, 1).toordinal() + MJD_UNIX_EPOCH != mjd:
        raise DatFormatError(lineno, "MJD does not match the date",
                             f"MJD {mjd} is not {day.isoformat()}")
    if d != 1 or y < 1972:
        raise DatFormatError(lineno, "not the 1st of a month from 1972",
                             f"{day.isoformat()}: TAI-UTC changes only on the 1st of a month, and "
                             "is a whole number of seconds only from 1972-01-01")
    if offset > max_offset:
        raise DatFormatError(lineno, "bad TAI-UTC", f"want at most {max_offset} s, got {offset}")
    if prev is not None:
        if day <= prev[0]:
            raise DatFormatError(lineno, "non-increasing dates",
                                 f"{day.isoformat()} is not after {prev[0].isoformat()}")
        if abs(offset - prev[1]) != 1:
            raise DatFormatError(lineno, "offset step not ±1",
                                 f"TAI-UTC goes from {prev[1]} to {offset}")
    return day, offset
