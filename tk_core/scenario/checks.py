"""Rules that span fields: references between tables, times against the run, size limits.

They run after the schema has accepted every field, collect every problem they find, and
point each at the field to change.  They also resolve what the runner needs (event times in
exact true ns, the leap table with any hypothetical leap, the sampling step), so a scenario
that passes `validate` runs without re-checking anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from ntp.leap import LeapError, LeapTable, date_to_unix
from ntp.version import KernelBehaviour

from .errors import Issue, Loc
from .event_checks import check_event
from .events import EventBase, LeapAnnouncement, SuspendEvent
from .program_checks import addresses, check_programs
from .programs import PlannedProgram
from .schema import MAX_FREQ_HZ, NamespaceSpec, Scenario, TimerSpec
from .timescale import Timescale, load_table, reference_names
from .types import At
from .units import NSEC, format_decimal, format_duration, format_utc

MAX_NAMESPACES = 10_000
MAX_TIMERS = 100_000
MAX_SAMPLES = 1_000_000
MAX_ROWS = 2_000_000
UTC_1972_NS = 63_072_000 * NSEC
_NICE_STEPS = [n * 10**e for e in range(6, 10) for n in (1, 2, 5)] + [
    s * NSEC for s in (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
]


@dataclass
class Resolved:
    """What the runner needs, fully resolved (exact ns; events sorted by time)."""

    scenario: Scenario
    timescale: Timescale
    duration_ns: int
    sample_every_ns: int
    events: list[tuple[int, int, EventBase]] = field(default_factory=list)
    namespaces: list[tuple[str, NamespaceSpec]] = field(default_factory=list)
    timers: list[tuple[int, int, TimerSpec]] = field(default_factory=list)
    #: Real programs to start, in start order (`programs.PlannedProgram`).
    programs: list[PlannedProgram] = field(default_factory=list)
    #: Each namespace that runs a program → its address on the simulated network.
    addresses: dict[str, str] = field(default_factory=dict)


class Checker:
    """Collects cross-field issues for one validated scenario."""

    def __init__(self, scn: Scenario, base: Path | None, truncated: bool = False) -> None:
        self.scn = scn
        self.base = base
        self.truncated = truncated  # --until cut the run short: later events are not reached
        self.issues: list[Issue] = []

    def add(self, loc: Loc, message: str) -> None:
        self.issues.append(Issue(loc, message))

    def run(self) -> Resolved | None:
        ts = self._timescale()
        duration = self._duration(ts)
        if not self._namespaces() or ts is None or duration is None:
            return None
        self._table_expiry(ts, duration)
        resolved = Resolved(self.scn, ts, duration, self._sample_every(duration))
        resolved.namespaces = [(n, s) for s in self.scn.namespaces for n in s.names()]
        resolved.events = self._events(ts, duration)
        resolved.timers = self._timers(ts, duration)
        resolved.addresses = addresses(self)
        resolved.programs = check_programs(self, ts, duration, resolved.addresses)
        self._suspensions(resolved)
        self._size(resolved)
        return None if self.issues else resolved

    # -- the time axis -------------------------------------------------------------------

    def _timescale(self) -> Timescale | None:
        run, start = self.scn.scenario, self.scn.host.start
        if start < UTC_1972_NS:
            self.add(
                ("host", "start"),
                f"expected a start on or after 1972-01-01T00:00:00Z "
                f"(UTC had no whole-second offset from TAI before), found {format_utc(start)}",
            )
        if self.scn.host.kernel_version is not None:
            try:
                KernelBehaviour.from_version(self.scn.host.kernel_version)
            except ValueError as err:
                self.add(("host", "kernel_version"), str(err))
        if run.reference not in reference_names():
            self.add(
                ("scenario", "reference"),
                f"expected one of {', '.join(reference_names())}, found {run.reference!r}",
            )
        try:
            table = load_table(run.leap_table, self.base)
        except (OSError, LeapError, ValueError) as err:
            self.add(("scenario", "leap_table"), f"cannot load the leap table: {err}")
            return None
        if self.issues:
            return None
        return Timescale(start, self._hypothetical_leaps(table), run.reference)

    def _table_expiry(self, ts: Timescale, duration: int) -> None:
        """Under leap_expiry = 'strict' a run must end before its leap table expires."""
        run = self.scn.scenario
        if run.leap_expiry != "strict" or not ts.expired_by(duration):
            return
        table = ts.table
        self.add(
            ("scenario", "leap_table"),
            f"{table.source} expires on {table.expires_date.isoformat()}, before the run's "
            f"end (it runs {format_duration(duration)} from {format_utc(self.scn.host.start)}):"
            " under leap_expiry = 'strict' the table must cover the whole run (use a fresher "
            "leap-seconds.list, leap_table = 'newest', or leap_expiry = 'assume_no_new_leaps')",
        )

    def _hypothetical_leaps(self, table: LeapTable) -> LeapTable:
        known = {e.day for e in table.events}
        for i, ev in enumerate(self.scn.events):
            if not isinstance(ev, LeapAnnouncement):
                continue
            if (ev.date + timedelta(days=1)).day != 1:
                self.add(
                    ("events", i, "date"),
                    f"expected the last day of a month (a leap second"
                    f" ends a UTC month), found {ev.date.isoformat()}",
                )
            elif ev.date not in known:
                try:
                    table = table.with_leap(ev.date, ev.sign or 1)
                    known.add(ev.date)
                except ValueError as err:
                    self.add(("events", i, "date"), str(err))
        return table

    def _duration(self, ts: Timescale | None) -> int | None:
        run = self.scn.scenario
        if (run.duration is None) == (run.until is None):
            which = "neither" if run.duration is None else "both"
            self.add(("scenario",), f"expected exactly one of 'duration' or 'until', found {which}")
            return None
        if run.duration is not None:
            return run.duration
        if ts is None:
            return None
        end = ts.true_of_utc(run.until or 0)
        if end <= 0:
            self.add(
                ("scenario", "until"),
                f"expected a time after the start "
                f"({format_utc(self.scn.host.start)}), found {format_utc(run.until or 0)}",
            )
            return None
        return end

    def _sample_every(self, duration: int) -> int:
        step = self.scn.scenario.sample_every
        if step is not None:
            return step
        want = max(1, duration // 1000)
        return next((s for s in _NICE_STEPS if s >= want), 86_400 * NSEC)

    def when(self, ts: Timescale, at: At, loc: Loc, duration: int) -> int | None:
        """An event time as true ns since the start, or None (with an issue) if outside."""
        true = at.ns if at.kind == "offset" else ts.true_of_utc(at.ns)
        if true < 0:
            self.add(
                loc,
                f"expected a time at or after the start "
                f"({format_utc(self.scn.host.start)}), found {format_utc(at.ns)}",
            )
            return None
        if true > duration and self.truncated:
            return None
        if true > duration:
            self.add(
                loc,
                f"expected a time within the run (which ends after "
                f"{format_duration(duration)}), found {_show_at(at)}",
            )
            return None
        return true

    # -- namespaces ----------------------------------------------------------------------

    def _namespaces(self) -> bool:
        """Names unique, model-specific fields, the total; False if too many to go on."""
        total = sum(spec.count for spec in self.scn.namespaces)
        if total > MAX_NAMESPACES:
            big = max(range(len(self.scn.namespaces)), key=lambda j: self.scn.namespaces[j].count)
            self.add(
                ("namespaces", big, "count"),
                f"expected at most {MAX_NAMESPACES} namespaces in a scenario (each holds a "
                f"kernel timekeeper), found {total}",
            )
            return False
        seen = {"root"}
        for i, spec in enumerate(self.scn.namespaces):
            for name in spec.names():
                if name in seen:
                    self.add(
                        ("namespaces", i, "name"),
                        f"namespace {name!r} is defined twice ('root' is the host's own)",
                    )
                    break
                seen.add(name)
            self._model_fields(i, spec)
        return True

    def _model_fields(self, i: int, spec: NamespaceSpec) -> None:
        given = spec.model_fields_set
        if spec.model == "offsets":
            for key in ("update", "dilation", "leap", "ntp"):
                if key in given:
                    self.add(
                        ("namespaces", i, key),
                        f"'{key}' needs model = 'timekeeper' (an "
                        "offsets namespace uses the host's timekeeper), found model = "
                        "'offsets'",
                    )
        else:
            self._dilated_rate(i, spec)
        if spec.model != "offsets" and spec.offsets is not None:
            self.add(
                ("namespaces", i, "offsets"),
                "'offsets' needs model = 'offsets' (a "
                "timekeeper namespace sets its clocks with events), found model = "
                "'timekeeper'",
            )

    def _dilated_rate(self, i: int, spec: NamespaceSpec) -> None:
        """A dilated namespace's mult/shift are the kernel's for a counter at freq × dilation.

        So that rate must be one `clocks_calc_mult_shift` can express: below 1 Hz the shift
        goes negative, far above MAX_FREQ_HZ mult (and NTP's 11 % adjustment) rounds to 0.
        """
        freq = self.scn.host.clocksource.freq_hz
        rate = freq * spec.dilation
        if not 1 <= rate <= MAX_FREQ_HZ:
            self.add(
                ("namespaces", i, "dilation"),
                f"expected freq_hz × dilation between 1 Hz and {MAX_FREQ_HZ} Hz (the namespace "
                f"computes its mult/shift as for a counter at that rate), found {freq} Hz × "
                f"{spec.dilation} = {format_decimal(rate, 3)} Hz",
            )

    # -- events and timers -----------------------------------------------------------------

    def _events(self, ts: Timescale, duration: int) -> list[tuple[int, int, EventBase]]:
        timed: list[tuple[int, int, EventBase]] = []
        groups: dict[str, list[str]] = {}
        for spec in self.scn.namespaces:
            if spec.count > 1 or spec.group is not None:
                groups.setdefault(spec.group_name, []).extend(spec.names())
        for i, ev in enumerate(self.scn.events):
            true = self.when(ts, ev.at, ("events", i, "at"), duration)
            if true is not None:
                timed += [(true, i, one) for one in self._expand(i, ev, groups)]
        timed.sort(key=lambda item: (item[0], item[1]))
        names = {"root": "timekeeper"} | {
            n: s.model for s in self.scn.namespaces for n in s.names()
        }
        checkpoints: dict[str, str | None] = {}
        for _, i, event in timed:
            check_event(self, i, event, names, checkpoints)
        return timed

    def _expand(self, i: int, ev: EventBase, groups: dict[str, list[str]]) -> list[EventBase]:
        """An event naming several namespaces (or NAME-*) as one event per namespace."""
        if isinstance(ev, LeapAnnouncement):
            if ev.namespaces is None:
                return [ev]
            told = self._names(i, ev.namespaces, groups, "namespaces")
            return [ev.model_copy(update={"namespaces": told})]
        target = getattr(ev, "namespace", None)
        if target is None:
            return [ev]
        listed = target if isinstance(target, list) else [target]
        names = self._names(i, listed, groups, "namespace")
        if isinstance(target, str) and names == [target]:
            return [ev]
        return [ev.model_copy(update={"namespace": name}) for name in names]

    def _names(
        self, i: int, listed: list[str], groups: dict[str, list[str]], key: str
    ) -> list[str]:
        """`listed` with each NAME-* replaced by NAME's copies, each name once."""
        out: list[str] = []
        for name in listed:
            if name.endswith("-*"):
                copies = groups.get(name[:-2])
                if copies is None:
                    self.add(("events", i, key), f"{name!r}: no [[namespaces]] entry named "
                             f"{name[:-2]!r} with count > 1 (NAME-* means its copies)")
                    continue
                out += [c for c in copies if c not in out]
            elif name not in out:
                out.append(name)
        return out

    def _timers(self, ts: Timescale, duration: int) -> list[tuple[int, int, TimerSpec]]:
        out = []
        total = 0
        for i, spec in enumerate(self.scn.timers):
            true = self.when(ts, spec.arm_at, ("timers", i, "arm_at"), duration)
            self._timer_value(i, spec)
            total += spec.copies
            if true is not None:
                out.append((true, i, spec))
        if total > MAX_TIMERS:
            self.add(("timers",), f"expected at most {MAX_TIMERS} timers, found {total}")
        return sorted(out, key=lambda item: (item[0], item[1]))

    def _timer_value(self, i: int, spec: TimerSpec) -> None:
        wall = spec.clock in ("CLOCK_REALTIME", "CLOCK_TAI")
        kind = spec.value.kind
        if not spec.absolute and (kind != "offset" or spec.value.ns <= 0):
            self.add(
                ("timers", i, "value"),
                f"a relative timer needs a duration > 0, found {_show_at(spec.value)}",
            )
        elif spec.absolute and wall and kind != "utc":
            self.add(
                ("timers", i, "value"),
                f"an absolute {spec.clock} timer needs an ISO UTC "
                f"date, found {_show_at(spec.value)}",
            )
        elif spec.absolute and not wall and kind != "offset":
            self.add(
                ("timers", i, "value"),
                f"an absolute {spec.clock} timer needs a clock "
                f"value as a duration (e.g. '2h'), found {_show_at(spec.value)}",
            )
        if spec.interval == 0 and spec.count > 1:
            self.add(
                ("timers", i, "count"),
                f"a one-shot timer (interval 0) expires once, "
                f"found count = {spec.count}: give an interval",
            )
        if spec.namespace != "root" and spec.namespace not in {
            n for s in self.scn.namespaces for n in s.names()
        }:
            self.add(("timers", i, "namespace"), f"no namespace named {spec.namespace!r}")

    def _suspensions(self, r: Resolved) -> None:
        """Nothing can happen while the host is suspended, and a suspend must end in the run."""
        windows = [(t, t + ev.duration, i) for t, i, ev in r.events if isinstance(ev, SuspendEvent)]
        for _start, end, i in windows:
            if end > r.duration_ns:
                self.add(
                    ("events", i, "duration"),
                    "expected the suspend to end within the "
                    f"run ({format_duration(r.duration_ns)}), found it ends at "
                    f"{format_duration(end)}",
                )
        timed = [(t, ("events", i, "at")) for t, i, _ in r.events]
        timed += [(t, ("timers", i, "arm_at")) for t, i, _ in r.timers]
        for t, loc in timed:
            for start, end, i in windows:
                if start < t < end:
                    self.add(
                        loc,
                        f"expected a time outside the suspend of events[{i}] "
                        f"({format_duration(start)} to {format_duration(end)}), found "
                        f"{format_duration(t)}: the host is asleep then",
                    )

    def _size(self, r: Resolved) -> None:
        samples = r.duration_ns // r.sample_every_ns + 1
        if samples > MAX_SAMPLES:
            self.add(
                ("scenario", "sample_every"),
                f"expected at most {MAX_SAMPLES} samples, "
                f"found {samples} ({format_duration(r.duration_ns)} every "
                f"{format_duration(r.sample_every_ns)}): sample less often",
            )
            return
        recorded = 1 + sum(s.count for s in self.scn.namespaces if s.record)
        if samples * recorded > MAX_ROWS:
            self.add(
                ("scenario", "sample_every"),
                f"expected at most {MAX_ROWS} rows in "
                f"samples.csv, found {samples} samples × {recorded} namespaces: sample "
                "less often or set record = false on idle namespaces",
            )


def _show_at(at: At) -> str:
    return format_utc(at.ns) if at.kind == "utc" else format_duration(at.ns)


def leap_day_start_ns(day: date) -> int:
    """POSIX ns of 00:00:00 UTC on `day`."""
    return date_to_unix(day) * NSEC
