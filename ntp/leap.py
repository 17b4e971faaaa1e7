"""The leap-second table: our own parser for the IERS/NIST ``leap-seconds.list``.

Why our own: a system copy of the file may be expired (Debian 12 shipped one that expired on
2026-06-28 until tzdata 2026b), and a
library that refuses an expired table fails offline.  We ship byte-for-byte copies of the
IERS's public files in ``ntp/data/``: ``leap-seconds.list``, whose SHA-1 we verify ourselves,
and ``Leap_Second.dat`` (same table, other layout, read by ``ntp.leap_dat``), which the IERS
refreshes at the same time and which is sometimes the fresher copy to be found.  The
behaviour after expiry is an explicit policy (``assume_no_new_leaps`` or ``strict``).

Time values are exact: Unix seconds as ``int`` or ``gmpy2.mpq``; floats are refused.  Unix time
here is POSIX time, which has no number for 23:59:60: during an inserted second the kernel shows
23:59:59 a second time (TIME_OOP).  :meth:`LeapTable.utc_to_tai` takes ``fold=1`` to name that
second pass, like ``datetime``'s ``fold`` for a repeated wall-clock hour.
"""

from __future__ import annotations

import hashlib
import itertools
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Literal

from gmpy2 import mpq, mpz

from ntp.leap_dat import DatFormatError, is_leap_second_dat, parse_leap_second_dat
from ntp.timex import MAX_TAI_OFFSET
from ntp.trace import emit

#: Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
NTP_UNIX_OFFSET = 2_208_988_800
#: 1972-01-01 00:00:00 UTC: from here on UTC differs from TAI by an integer number of seconds.
UTC_1972_UNIX = 63_072_000
SECONDS_PER_DAY = 86_400

ExpiryPolicy = Literal["assume_no_new_leaps", "strict"]
EXPIRY_POLICIES: tuple[str, ...] = ("assume_no_new_leaps", "strict")
SHIPPED_SOURCE = "ntp/data/leap-seconds.list (shipped copy)"
SHIPPED_DAT_SOURCE = "ntp/data/Leap_Second.dat (shipped copy)"
#: Our copies, in order of preference when they expire on the same day (the list has a hash).
SHIPPED_FILES: tuple[tuple[str, str], ...] = (
    ("leap-seconds.list", SHIPPED_SOURCE), ("Leap_Second.dat", SHIPPED_DAT_SOURCE))
#: Copies of ``leap-seconds.list`` an operating system may keep up to date (Debian's tzdata).
#: Only this format is read: tzdata's ``leapseconds`` file carries no hash to verify it by.
SYSTEM_LEAP_FILES: tuple[str, ...] = ("/usr/share/zoneinfo/leap-seconds.list",)

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


#: The last NTP second a table may name: 9999-12-31T23:59:59Z, the calendar's end.
MAX_NTP_SECONDS = (date(9999, 12, 31).toordinal() - date(1900, 1, 1).toordinal() + 1) * 86_400 - 1
#: TAI − UTC is handed to the kernel as ADJ_TAI's `constant`, which it keeps within
#: MAX_TAI_OFFSET (`process_adjtimex_modes`); a table claiming more is corrupt.
MAX_TAI_UTC = MAX_TAI_OFFSET


class LeapError(Exception):
    """Base of the leap-table errors."""


class LeapTableError(LeapError, ValueError):
    """A leap-seconds file is corrupt or was tampered with; the message says where and why."""


class LeapTableExpired(LeapError):
    """Raised under the ``strict`` policy for an instant at or after the table's expiry."""


def exact(value: object, what: str = "time") -> mpq:
    """Return ``value`` as an exact ``mpq``; floats are refused because they are not exact.

    Accepts int, ``mpq``, ``Fraction`` and numeric strings such as ``"1/12"`` or ``"0.001024"``.
    An ``mpq`` (immutable) comes back as it is and a plain int is converted at once: the smear
    shapes call this for every instant they evaluate, and the checks below test against
    ``Fraction``, an abstract-base-class check.
    """
    if type(value) is mpq:
        return value
    if type(value) is int:
        return mpq(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        kind = type(value).__name__
        raise TypeError(
            f"{what} must be exact (int, Fraction, gmpy2.mpq or a string like '1/2'), "
            f"got {kind} {value!r}"
        )
    if isinstance(value, int | Fraction | str | mpq | mpz):
        try:
            return mpq(value)
        except (ValueError, ZeroDivisionError) as err:
            raise ValueError(f"{what}: cannot read {value!r} as an exact number") from err
    raise TypeError(f"{what} must be an exact number, got {type(value).__name__} {value!r}")


def unix_to_date(unix: int) -> date:
    """The UTC calendar day containing the Unix second ``unix``."""
    return date.fromordinal(_EPOCH_ORDINAL + unix // SECONDS_PER_DAY)


def date_to_unix(day: date) -> int:
    """Unix seconds of 00:00:00 UTC on ``day``."""
    return (day.toordinal() - _EPOCH_ORDINAL) * SECONDS_PER_DAY


def _iso(unix: int) -> str:
    return (
        f"{unix_to_date(unix).isoformat()}T00:00:00Z" if unix % SECONDS_PER_DAY == 0 else str(unix)
    )


@dataclass(frozen=True)
class LeapEvent:
    """One leap second: ``unix`` is 00:00:00 UTC of the day after ``day``.

    ``sign`` is +1 for an inserted 23:59:60 and −1 for a deleted 23:59:59; ``day`` is the UTC day
    whose last minute has 61 (or 59) seconds.
    """

    unix: int
    sign: int
    day: date
    tai_minus_utc_before: int
    tai_minus_utc_after: int

    @property
    def ntp(self) -> int:
        """The same instant in NTP seconds (since 1900-01-01), as the file writes it."""
        return self.unix + NTP_UNIX_OFFSET


@dataclass
class _Parsed:
    """What the line scanner collected, with line numbers for error messages."""

    entries: list[tuple[int, int]]
    digits: list[str]
    specials: dict[str, tuple[int, list[str]]]


class LeapTable:
    """TAI − UTC for any instant since 1972, the leap events, and the table's expiry.

    Build one with :meth:`load` (the shipped file or a path) or :meth:`parse` (text).
    """

    def __init__(
        self,
        leaps: list[tuple[int, int]],
        *,
        expires: int,
        last_update: int,
        source: str = "<table>",
        expiry_policy: ExpiryPolicy = "assume_no_new_leaps",
    ) -> None:
        if expiry_policy not in EXPIRY_POLICIES:
            raise ValueError(
                f"expiry_policy must be one of {EXPIRY_POLICIES}, got {expiry_policy!r}"
            )
        _validate_entries(leaps)
        self._starts = [u for u, _ in leaps]
        self._offsets = [o for _, o in leaps]
        self._tai_starts = [u + o for u, o in leaps]
        self._events = tuple(_events(leaps))
        self.expires = expires
        self.last_update = last_update
        self.source = source
        self.expiry_policy: ExpiryPolicy = expiry_policy
        #: Whether this is (built on) one of our shipped copies; ``path`` is the file it came from.
        self.shipped = source.startswith(tuple(src for _, src in SHIPPED_FILES))
        self.path: str | None = None
        self._warned = False

    # --- construction ------------------------------------------------------------------------
    @classmethod
    def load(
        cls, path: str | Path | None = None, *, expiry_policy: ExpiryPolicy = "assume_no_new_leaps"
    ) -> LeapTable:
        """Load and verify a ``leap-seconds.list`` or ``Leap_Second.dat``.

        ``None`` means our shipped table: of the copies in ``ntp/data/`` the one expiring
        last, the ``leap-seconds.list`` on a tie (see :meth:`shipped_copies`).
        """
        if path is None:
            best, *others = cls.shipped_copies(expiry_policy=expiry_policy)
            for table in others:
                if table.expires > best.expires:
                    best = table
            return best
        text = Path(path).read_text("ascii")
        table = cls.parse(text, str(path), expiry_policy=expiry_policy)
        table.path = str(Path(path).resolve())
        return table

    @classmethod
    def shipped_copies(
        cls, *, expiry_policy: ExpiryPolicy = "assume_no_new_leaps"
    ) -> list[LeapTable]:
        """Each file we ship, verified, in :data:`SHIPPED_FILES` order.

        Both say the same leaps (a test holds them to it); they differ only in how long the
        IERS vouches for them, as one may be refreshed before the other reaches us.
        """
        data = resources.files("ntp").joinpath("data")
        return [cls.parse(data.joinpath(name).read_text("ascii"), source,
                          expiry_policy=expiry_policy) for name, source in SHIPPED_FILES]

    @classmethod
    def read(
        cls, path: str | Path, *, expiry_policy: ExpiryPolicy = "assume_no_new_leaps"
    ) -> LeapTable:
        """Like :meth:`load` for a file, but every failure is a :class:`LeapTableError`.

        The message names the file and what is wrong with it (missing, unreadable, not ASCII
        text, or a failed check), so a command line can print it as it is.
        """
        name = str(path)
        try:
            return cls.load(path, expiry_policy=expiry_policy)
        except UnicodeDecodeError as err:
            raise LeapTableError(
                f"{name}: not ASCII text (byte {err.start}); expected an IETF leap-seconds.list "
                "or an IERS Leap_Second.dat"
            ) from None
        except IsADirectoryError:
            raise LeapTableError(
                f"{name}: is a directory, expected a leap-seconds.list or a Leap_Second.dat"
            ) from None
        except OSError as err:
            raise LeapTableError(f"{name}: cannot be read: {err.strerror or err}") from None

    @classmethod
    def newest(
        cls,
        paths: Iterable[str | Path] | None = None,
        *,
        expiry_policy: ExpiryPolicy = "assume_no_new_leaps",
    ) -> LeapTable:
        """The verified table with the latest expiry: our shipped copy or a system copy.

        ``paths`` are the other copies to consider (default :data:`SYSTEM_LEAP_FILES`); a
        missing one is skipped, a corrupt one is rejected (see :func:`choose_newest` for the
        reasons).  Ties go to the shipped copy, so a run only changes when a copy is fresher.
        """
        return choose_newest(paths, expiry_policy=expiry_policy).table

    @classmethod
    def parse(
        cls,
        text: str,
        source: str = "<string>",
        *,
        expiry_policy: ExpiryPolicy = "assume_no_new_leaps",
    ) -> LeapTable:
        """Parse and verify the text of a leap table; raise :class:`LeapTableError`.

        Either layout the IERS publishes: ``leap-seconds.list`` (hash-verified) or
        ``Leap_Second.dat`` (``ntp.leap_dat``), told apart by the shape of the data lines.
        """
        if is_leap_second_dat(text):
            return cls._parse_dat(text, source, expiry_policy)
        parsed = _scan(text, source)
        nlines = len(text.splitlines())
        for tag, what in (("$", "last update"), ("@", "expiry"), ("h", "SHA-1 hash")):
            if tag not in parsed.specials:
                raise LeapTableError(
                    f"{source}, end of file (line {nlines}): missing #{tag} line ({what})"
                )
        if not parsed.entries:
            raise LeapTableError(f"{source}, end of file (line {nlines}): no data lines")
        _verify_hash(parsed, source)
        ntp_update = int(parsed.specials["$"][1][0])
        ntp_expiry = int(parsed.specials["@"][1][0])
        return cls(
            [(ntp - NTP_UNIX_OFFSET, off) for ntp, off in parsed.entries],
            expires=ntp_expiry - NTP_UNIX_OFFSET,
            last_update=ntp_update - NTP_UNIX_OFFSET,
            source=source,
            expiry_policy=expiry_policy,
        )

    @classmethod
    def _parse_dat(cls, text: str, source: str, expiry_policy: ExpiryPolicy) -> LeapTable:
        try:
            dat = parse_leap_second_dat(text, MAX_TAI_UTC)
        except DatFormatError as err:
            raise _fail(source, err.lineno, err.check, err.detail) from None
        return cls(
            [(date_to_unix(day), offset) for day, offset in dat.entries],
            expires=date_to_unix(dat.expires),
            last_update=date_to_unix(dat.last_update),
            source=source,
            expiry_policy=expiry_policy,
        )

    def with_leap(self, day: date | str, sign: int, *, expires: int | None = None) -> LeapTable:
        """A new table with a hypothetical leap at the end of ``day`` (for experiments).

        ``day`` must be the last day of a month and after the table's last entry; ``sign`` is +1
        or −1.  ``expires`` (Unix seconds) defaults to this table's expiry: announcing a leap
        does not by itself say how long the table stays valid.
        """
        leap_day = date.fromisoformat(day) if isinstance(day, str) else day
        if sign not in (1, -1):
            raise ValueError(
                f"sign must be +1 (insert 23:59:60) or -1 (delete 23:59:59), got {sign!r}"
            )
        nxt = leap_day + timedelta(days=1)
        if nxt.day != 1:
            raise ValueError(
                f"{leap_day.isoformat()} is not the last day of a month: a leap second can only "
                f"end a UTC month (that month ends on {_month_end(leap_day).isoformat()})"
            )
        unix = date_to_unix(nxt)
        if unix <= self._starts[-1]:
            raise ValueError(
                f"leap on {leap_day.isoformat()} is not after the table's last entry "
                f"({unix_to_date(self._starts[-1]).isoformat()}); add leaps only after known ones"
            )
        leaps = [*self.leaps, (unix, self._offsets[-1] + sign)]
        table = LeapTable(
            leaps,
            expires=self.expires if expires is None else expires,
            last_update=self.last_update,
            source=f"{self.source} + leap {leap_day.isoformat()} {sign:+d}",
            expiry_policy=self.expiry_policy,
        )
        table.path = self.path
        return table

    # --- the table -----------------------------------------------------------------------------
    @property
    def leaps(self) -> list[tuple[int, int]]:
        """(Unix second of the first second after the leap, TAI − UTC from then on), in order.

        The first entry is 1972-01-01 (TAI − UTC = 10 s), the start of integer offsets, not a leap.
        """
        return list(zip(self._starts, self._offsets, strict=True))

    @property
    def events(self) -> list[LeapEvent]:
        """The leap seconds themselves (every entry after the first), with sign and UTC day."""
        return list(self._events)

    @property
    def expires_date(self) -> date:
        """The UTC day on which the table expires (at 00:00:00)."""
        return unix_to_date(self.expires)

    @property
    def last_update_date(self) -> date:
        """The UTC day of the file's ``#$`` line: when its maintainers last changed it."""
        return unix_to_date(self.last_update)

    def describe(self) -> str:
        """One line for people: where the table came from, its expiry and last update."""
        return (
            f"{self.source}: expires {self.expires_date.isoformat()}, "
            f"last updated {self.last_update_date.isoformat()}"
        )

    @property
    def expires_tai(self) -> int:
        """The expiry as a TAI reading (counted like Unix time), computed without asking it."""
        return self.expires + self._offsets[bisect_right(self._starts, self.expires) - 1]

    def is_expired(self, now_unix: int | mpq) -> bool:
        """Whether the table says nothing reliable about ``now_unix`` and later."""
        return bool(exact(now_unix) >= self.expires)

    def next_leap(self, after_unix: int | mpq) -> LeapEvent | None:
        """The first known leap whose instant (``event.unix``) is strictly after ``after_unix``."""
        t = exact(after_unix)
        self._check_expiry(t)
        for event in self._events:
            if event.unix > t:
                return event
        return None

    # --- conversions ---------------------------------------------------------------------------
    def tai_minus_utc(self, unix_utc: int | mpq) -> int:
        """TAI − UTC in seconds at a UTC instant (Unix seconds, int or mpq).

        At a leap's own second ``L`` (00:00:00 after it) the new offset applies; before it the old
        one, including during the deleted second of a negative leap, which UTC never shows.
        """
        t = exact(unix_utc)
        self._check_range(t)
        self._check_expiry(t)
        return self._offsets[bisect_right(self._starts, t) - 1]

    def utc_to_tai(self, unix_utc: int | mpq, *, fold: int = 0) -> mpq:
        """The TAI reading at a UTC instant, counted like Unix time: ``unix + (TAI − UTC)``.

        During the second before a positive leap POSIX time repeats ``L-1 .. L``; ``fold=0`` is
        the real 23:59:59, ``fold=1`` the inserted 23:59:60 (one second later in TAI).
        """
        t = exact(unix_utc)
        offset = self.tai_minus_utc(t)
        i = bisect_right(self._starts, t)
        if fold and i < len(self._starts) and self._starts[i] - 1 <= t:
            offset += max(0, self._offsets[i] - offset)
        return t + offset

    def tai_to_utc_fold(self, tai: int | mpq) -> tuple[mpq, int]:
        """TAI to (Unix UTC, fold): the inverse of :meth:`utc_to_tai`, exactly.

        TAI inside an inserted second maps to ``L-1+frac`` with ``fold=1``, which is what a
        stepping kernel clock reads then (23:59:59 shown twice).
        """
        x = exact(tai, "TAI instant")
        i = bisect_right(self._tai_starts, x) - 1
        if i < 0:
            raise ValueError(
                f"TAI {x} is before 1972-01-01 00:00:10 TAI: UTC before 1972 had no integer "
                "offset from TAI, so the table cannot convert it"
            )
        unix = x - self._offsets[i]
        fold = 0
        if i + 1 < len(self._starts) and unix >= self._starts[i + 1]:
            unix, fold = unix - 1, 1
        self._check_expiry(unix)
        return unix, fold

    def tai_to_utc(self, tai: int | mpq) -> mpq:
        """TAI to Unix UTC; the inserted second reads as a repeat of 23:59:59 (see fold)."""
        return self.tai_to_utc_fold(tai)[0]

    # --- checks --------------------------------------------------------------------------------
    def _check_range(self, t: mpq) -> None:
        if t < self._starts[0]:
            first = unix_to_date(self._starts[0]).isoformat()
            raise ValueError(
                f"Unix time {t} is before {first}: UTC before 1972 was not offset from TAI by "
                "a whole number of seconds (it had rate offsets and fractional steps), so "
                "TAI - UTC is undefined there"
            )

    def _check_expiry(self, t: mpq) -> None:
        if t < self.expires:
            return
        if self.expiry_policy == "strict":
            raise LeapTableExpired(
                f"{self.source} expired on {self.expires_date.isoformat()} "
                f"(Unix {self.expires}); asked about Unix {t} ({_iso_any(t)}), and the "
                "strict policy refuses to guess whether new leaps were announced"
            )
        if not self._warned:
            self._warned = True
            emit(
                "leap_table_expired",
                source=self.source,
                expires=self.expires,
                expires_utc=_iso(self.expires),
                asked=str(t),
                policy=self.expiry_policy,
            )

    def __repr__(self) -> str:
        return (
            f"LeapTable({len(self._starts)} entries, TAI-UTC {self._offsets[-1]} s, "
            f"expires {self.expires_date.isoformat()}, source={self.source!r})"
        )


@dataclass(frozen=True)
class LeapCandidate:
    """One copy :func:`choose_newest` looked at: its table, or why it was not used."""

    source: str
    table: LeapTable | None
    problem: str | None = None


@dataclass(frozen=True)
class LeapChoice:
    """The table :func:`choose_newest` picked, and every copy it considered."""

    table: LeapTable
    candidates: tuple[LeapCandidate, ...]

    def describe(self) -> str:
        """The choice and the other copies, one per line (for people and logs)."""
        lines = [f"chosen: {self.table.describe()}"]
        for cand in self.candidates:
            if cand.table is self.table:
                continue
            what = cand.table.describe() if cand.table else str(cand.problem)  # names the file
            lines.append(f"not chosen: {what}")
        return "\n".join(lines)


def choose_newest(
    paths: Iterable[str | Path] | None = None,
    *,
    expiry_policy: ExpiryPolicy = "assume_no_new_leaps",
) -> LeapChoice:
    """Read the shipped table and each other copy; keep the verified one expiring last.

    A copy that does not exist is skipped silently (most machines have one copy or none);
    one that exists but cannot be read or fails its checks (SHA-1 ``#h`` line included) is
    listed with its problem and never chosen.  Ties keep the earlier candidate, our shipped
    copies first, so the result only moves when another copy really is fresher.
    """
    shipped = LeapTable.shipped_copies(expiry_policy=expiry_policy)
    candidates = [LeapCandidate(table.source, table) for table in shipped]
    for path in SYSTEM_LEAP_FILES if paths is None else paths:
        if not Path(path).exists():
            continue
        try:
            table = LeapTable.read(path, expiry_policy=expiry_policy)
            candidates.append(LeapCandidate(str(path), table))
        except LeapTableError as err:
            candidates.append(LeapCandidate(str(path), None, str(err)))
    best = shipped[0]
    for cand in candidates:
        if cand.table is not None and cand.table.expires > best.expires:
            best = cand.table
    emit(
        "leap_table_chosen",
        source=best.source,
        expires_utc=_iso(best.expires),
        considered=[c.source for c in candidates],
        rejected=[c.source for c in candidates if c.table is None],
    )
    return LeapChoice(best, tuple(candidates))


def _validate_entries(leaps: list[tuple[int, int]]) -> None:
    """Programmatic tables get the same structural checks a file gets (without line numbers)."""
    if not leaps:
        raise ValueError("a leap table needs at least one (unix, TAI-UTC) entry")
    for (u0, o0), (u1, o1) in itertools.pairwise(leaps):
        if u1 <= u0 or abs(o1 - o0) != 1:
            raise ValueError(
                f"bad leap entries ({u0}, {o0}) -> ({u1}, {o1}): dates must "
                "increase and TAI-UTC must change by exactly ±1"
            )


def _events(leaps: list[tuple[int, int]]) -> list[LeapEvent]:
    out = []
    for (_, before), (unix, after) in itertools.pairwise(leaps):
        day = unix_to_date(unix) - timedelta(days=1)
        out.append(LeapEvent(unix, after - before, day, before, after))
    return out


def _month_end(day: date) -> date:
    first_next = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def _iso_any(t: mpq) -> str:
    """A UTC label for a Unix instant, e.g. ``2026-07-01T00:00:00Z`` (+ a fraction if any)."""
    whole = int(t // 1)
    secs = whole % SECONDS_PER_DAY
    label = (
        f"{unix_to_date(whole).isoformat()}T{secs // 3600:02}:{secs // 60 % 60:02}:{secs % 60:02}Z"
    )
    return label if t == whole else f"{label} + {t - whole} s"


# --- the file format ----------------------------------------------------------------------------
def _scan(text: str, source: str) -> _Parsed:
    """Read every line, checking data lines as they come; specials are kept for later."""
    parsed = _Parsed([], [], {})
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            _special(line, lineno, source, parsed)
        elif line.split("#", 1)[0].strip():
            _data(line, lineno, source, parsed)
    return parsed


def _fail(source: str, lineno: int, check: str, detail: str) -> LeapTableError:
    return LeapTableError(f"{source}, line {lineno}: {check}: {detail}")


def _special(line: str, lineno: int, source: str, parsed: _Parsed) -> None:
    tag, words = line[1:2], line[2:].split()
    if tag not in ("$", "@", "h"):
        return
    if tag in parsed.specials:
        first = parsed.specials[tag][0]
        raise _fail(source, lineno, "duplicate special line", f"#{tag} already on line {first}")
    if tag == "h":
        if len(words) != 5 or not all(_is_hex_word(w) for w in words):
            raise _fail(source, lineno, "bad #h line", f"want 5 hex words of SHA-1, got {words}")
    elif len(words) != 1 or not words[0].isdigit() or not words[0].isascii():
        raise _fail(source, lineno, "bad number", f"#{tag} wants one NTP timestamp, got {words}")
    if tag != "h":
        _check_ntp_range(int(words[0]), lineno, source)
    parsed.specials[tag] = (lineno, words)


def _check_ntp_range(ntp: int, lineno: int, source: str) -> None:
    """An NTP timestamp the calendar (and so the table's dates) can hold: before year 10000."""
    if ntp > MAX_NTP_SECONDS:
        raise _fail(
            source,
            lineno,
            "NTP timestamp out of range",
            f"want NTP seconds up to {MAX_NTP_SECONDS} (9999-12-31), got {ntp}",
        )


def _is_hex_word(word: str) -> bool:
    return 1 <= len(word) <= 8 and all(c in "0123456789abcdefABCDEF" for c in word)


def _data(line: str, lineno: int, source: str, parsed: _Parsed) -> None:
    words = line.split("#", 1)[0].split()
    if len(words) != 2 or not all(w.isdigit() and w.isascii() for w in words):
        raise _fail(source, lineno, "bad number", f"want 'NTP-seconds TAI-UTC', got {words}")
    ntp, offset = int(words[0]), int(words[1])
    _check_ntp_range(ntp, lineno, source)
    if offset > MAX_TAI_UTC:
        raise _fail(
            source, lineno, "bad TAI-UTC", f"want at most {MAX_TAI_UTC} s, got {offset}"
        )
    unix = ntp - NTP_UNIX_OFFSET
    day = unix_to_date(unix)
    if unix % SECONDS_PER_DAY or day.day != 1:
        raise _fail(
            source,
            lineno,
            "not the start of a month",
            f"{ntp} is not 00:00:00 UTC on the 1st of a month ({day.isoformat()})",
        )
    if unix < UTC_1972_UNIX:
        raise _fail(source, lineno, "before 1972", f"{day.isoformat()} predates integer TAI-UTC")
    if parsed.entries:
        _check_step(parsed.entries[-1], (ntp, offset), lineno, source)
    parsed.entries.append((ntp, offset))
    parsed.digits.extend(words)


def _check_step(prev: tuple[int, int], cur: tuple[int, int], lineno: int, source: str) -> None:
    if cur[0] <= prev[0]:
        raise _fail(source, lineno, "non-increasing dates", f"{cur[0]} is not after {prev[0]}")
    if abs(cur[1] - prev[1]) != 1:
        raise _fail(
            source, lineno, "offset step not ±1", f"TAI-UTC goes from {prev[1]} to {cur[1]}"
        )


def leap_file_hash(update: str, expiry: str, data_numbers: list[str]) -> str:
    """SHA-1 of a leap-seconds.list as its ``#h`` line states it, as 5 space-separated words.

    The digest covers the text of the ``#$`` value, then the ``#@`` value, then the two numbers
    of every data line in file order, concatenated with all whitespace and comments removed.
    """
    digest = hashlib.sha1("".join([update, expiry, *data_numbers]).encode("ascii")).hexdigest()
    return " ".join(digest[i : i + 8] for i in range(0, 40, 8))


def _verify_hash(parsed: _Parsed, source: str) -> None:
    lineno, words = parsed.specials["h"]
    computed = leap_file_hash(parsed.specials["$"][1][0], parsed.specials["@"][1][0], parsed.digits)
    # Words are compared as numbers: some published copies drop a word's leading zeros.
    if [int(w, 16) for w in words] != [int(w, 16) for w in computed.split()]:
        raise _fail(
            source, lineno, "hash mismatch", f"#h says {' '.join(words)}, computed {computed}"
        )
