"""True time ↔ UTC, TAI and the reference timescale a run is compared against.

True time is SI seconds since the start; it is TAI shifted by a constant.  So UTC at any true
instant comes from the leap table (POSIX UTC: 23:59:59 shown twice during an inserted
second, as a stepping kernel shows it), and a smeared reference comes from `ntp.smear`
bound to the leaps of the run.  All values are exact: true time in int ns at samples, leap
offsets in whole seconds, so UTC and TAI readings are exact ints and only smears are rational.
"""

from __future__ import annotations

from bisect import bisect_right
from pathlib import Path

from gmpy2 import mpq

from ntp.leap import LeapEvent, LeapTable
from ntp.smear import SHAPES, BoundSmear, make_shape

NSEC = 1_000_000_000
#: Reference timescales besides the smear shapes of ntp.smear.
BASIC_REFERENCES = ("utc", "tai", "no-leap")
#: Leaps this close before the start may still be inside a smear window at the start.
_SMEAR_REACH_S = 2 * 86_400


def reference_names() -> list[str]:
    """Every name `[scenario] reference` accepts."""
    return [*BASIC_REFERENCES, *(name for name in SHAPES if name != "step")]


#: `[scenario] leap_table` names besides a path: exactly our copy, or the freshest verified one.
TABLE_NAMES = ("shipped", "newest")


def load_table(spec: str, base: Path | None) -> LeapTable:
    """The table a scenario names, verified; a LeapTableError names the file and the problem.

    'shipped' is exactly our table (`LeapTable.load()`: the later-expiring of the copies in
    the package, so a run reproduces anywhere with the same version);
    'newest' is whichever verified copy (ours or the system's tzdata) expires last; anything
    else is a path, relative to the scenario's folder.
    """
    if spec == "shipped":
        return LeapTable.load()
    if spec == "newest":
        return LeapTable.newest()
    path = Path(spec)
    if not path.is_absolute() and base is not None:
        path = base / path
    return LeapTable.read(path)


class Timescale:
    """The exact mapping between true time (ns since the start) and UTC/TAI/reference."""

    def __init__(self, start_utc_ns: int, table: LeapTable, reference: str = "utc") -> None:
        self.table = table
        self.start_utc_ns = start_utc_ns
        self.tai_offset = table.tai_minus_utc(mpq(start_utc_ns, NSEC))
        self.tai0_ns = start_utc_ns + self.tai_offset * NSEC
        self.reference = reference
        self._inserted = self.inserted_leaps_ns()
        self._smears = self._bind(reference) if reference not in BASIC_REFERENCES else []

    def _bind(self, name: str) -> list[tuple[BoundSmear, int]]:
        shape = make_shape(name)
        start_s = self.start_utc_ns // NSEC
        events: list[LeapEvent] = [
            e for e in self.table.events if e.unix > start_s - _SMEAR_REACH_S
        ]
        return [(shape.for_event(e), e.tai_minus_utc_before) for e in events]

    def expired_by(self, true_ns: int) -> bool:
        """Whether the leap table has expired by this true instant (leaps after it unknown)."""
        return self.tai0_ns + true_ns >= self.table.expires_tai * NSEC

    def true_of_utc(self, utc_ns: int) -> int:
        """The true instant (ns since the start) at which UTC reads `utc_ns` (first pass)."""
        tai = self.table.utc_to_tai(mpq(utc_ns, NSEC)) * NSEC
        return int(tai) - self.tai0_ns

    def utc_ns(self, true_ns: int) -> int:
        """POSIX UTC in ns at a true instant (23:59:59 repeats during an inserted second)."""
        return self.utc_fold(true_ns)[0]

    def utc_fold(self, true_ns: int) -> tuple[int, int]:
        """(POSIX UTC ns, fold): fold is 1 during an inserted second (its second pass)."""
        utc, fold = self.table.tai_to_utc_fold(mpq(self.tai0_ns + true_ns, NSEC))
        return int(utc * NSEC), fold

    def inserted_leaps_ns(self) -> list[int]:
        """The Unix ns of 00:00:00 after every inserted leap second of the table, in order."""
        return [e.unix * NSEC for e in self.table.events if e.sign > 0]

    def label_position(self, value_ns: int | mpq, second_pass: bool | int) -> int | mpq:
        """Where a POSIX UTC reading sits on the day's labels, with 23:59:60 given room.

        POSIX time repeats 23:59:59 during an inserted leap second, so a reading alone is
        ambiguous there.  Counting one extra second from each inserted leap onwards puts
        23:59:59.x at L−1+x, 23:59:60.x (the repeat: UTC's fold, or a clock in TIME_OOP) at
        L+x and 00:00:00.x at L+1+x, so the difference of two positions is the difference of
        the labels: a clock 1 ns behind at the leap is 1 ns behind, a stepping clock reads
        UTC at 00:00:00.000 even before its state leaves TIME_OOP, and a clock that ignores
        the leap is a second ahead once its label passes midnight.
        """
        leaps = self._inserted
        i = bisect_right(leaps, value_ns)  # inserted leaps at or before the value
        extra = i
        if second_pass and i < len(leaps) and leaps[i] - NSEC <= value_ns:
            extra += 1
        return value_ns + extra * NSEC

    def tai_ns(self, true_ns: int) -> int:
        return self.tai0_ns + true_ns

    def no_leap_ns(self, true_ns: int) -> int:
        """UTC as it would run with no leap after the start (the never-stepping clock)."""
        return self.start_utc_ns + true_ns

    def uses_tai(self) -> bool:
        """Whether the reference is compared with CLOCK_TAI (else with CLOCK_REALTIME)."""
        return self.reference == "tai"

    def reference_ns(self, true_ns: int) -> mpq:
        """The reference timescale's reading at a true instant, in exact ns."""
        if self.reference == "utc":
            return mpq(self.utc_ns(true_ns))
        if self.reference == "tai":
            return mpq(self.tai_ns(true_ns))
        if self.reference == "no-leap" or not self._smears:
            return mpq(self.no_leap_ns(true_ns))
        x = mpq(self.tai0_ns + true_ns, NSEC)
        first_before = self._smears[0][1]
        value = x - first_before
        for bound, before in self._smears:
            value -= bound.sign * bound.lie(x - before)
        return value * NSEC
