"""The scenario runner: one host, a time-ordered queue of actions, samples on a fixed grid.

The loop only ever asks the host to run to the next instant something is due (a sample, an
event, a leap follow-up, a timer arm), in chunks short enough to report progress; it never
steps the host itself, so a run costs what the engine's interrupts cost plus one read of each
clock per sample.  At equal instants samples come first, then actions in file order, so a
sample shows the state just before an event and the next one the state after it.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ntp.trace import TRACE, emit

from ..host import Host
from ..namespace import Namespace
from . import actions, features
from . import programs as real_programs
from .build import build_host, create_namespace
from .checks import Resolved
from .errors import Issue, ScenarioError
from .events import LeapAnnouncement
from .loader import Loaded
from .recorder import Recorder, Row
from .schema import TimerSpec
from .summary import summarize
from .timers import TimerProbe
from .types import At
from .units import NSEC

Progress = Callable[[int, int], None]
#: Progress is reported at least this many times per run (chunks of the run's length).
PROGRESS_STEPS = 400


@dataclass
class RunResult:
    """What a run produced: the deterministic summary, timings, checkpoints, plot series."""

    summary: dict[str, Any]
    timing: dict[str, Any]
    checkpoints: dict[str, dict[str, Any]]
    failures: list[str]
    series: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    lateness: dict[str, list[int]] = field(default_factory=dict)
    host: Host | None = None
    #: Each smear follower's window, (start, end) in true seconds from the run's start.
    smear_windows: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: What became of each real program (`[[namespaces.programs]]`), in start order.
    programs: list[real_programs.ProgramOutcome] = field(default_factory=list)


class Runner:
    """Runs one resolved scenario (see the module docstring)."""

    def __init__(
        self,
        loaded: Loaded,
        sink: Callable[[Row], None] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.loaded = loaded
        self.r: Resolved = loaded.resolved
        self.ts = self.r.timescale
        self.recorder = Recorder(self.ts, sink)
        run = self.r.scenario.scenario
        self.recorder.run_labels = [run.name, str(run.seed)]
        self.progress = progress
        self.checkpoints: dict[str, dict[str, Any]] = {}
        self.failures: list[str] = []
        self.leap_policies: dict[str, str] = {}
        self.followers: dict[str, Any] = {}
        self._queue: list[tuple[int, int, str, Callable[[], None]]] = []
        self._seq = itertools.count()
        #: Runs the real programs, when the scenario has any (made by `run`, not here:
        #: `check_setup` builds a Runner without starting anything).
        self.driver: real_programs.ProgramDriver | None = None
        self.outcomes: list[real_programs.ProgramOutcome] = []
        self.host = self._build()

    # -- setup ---------------------------------------------------------------------------

    def _build(self) -> Host:
        try:
            host = build_host(self.r)
        except (ValueError, TypeError, ArithmeticError) as err:
            raise ScenarioError(self.loaded.source, [Issue(("host",), str(err))]) from None
        self.host = host
        self.leap_policies["root"] = self.r.scenario.host.leap
        self.recorder.add(host.root, params={"policy": self.r.scenario.host.leap})
        for i, (name, spec) in enumerate(self.r.namespaces):
            try:
                seed = self.r.scenario.scenario.seed * 1_000_003 + i
                ns = create_namespace(host, name, spec, self.ts, seed, self.followers)
            except (ValueError, OSError, ArithmeticError) as err:
                issue = Issue(("namespaces", i), f"cannot create {name!r}: {err}")
                raise ScenarioError(self.loaded.source, [issue]) from None
            if spec.model == "timekeeper":
                self.leap_policies[name] = spec.leap.policy
            self.add_namespace(ns, spec.record, spec.group_name, _params(spec))
        for true_ns, i, ev in self.r.events:
            self.schedule(true_ns, actions.describe(ev, i), self._event(ev, i))
        for true_ns, _, timer in self.r.timers:
            self.schedule(true_ns, f"arm timers on {timer.namespace}", self._arm(timer))
        for planned in self.r.programs:
            self.schedule(planned.start_ns, f"start {planned.label}", self._start(planned))
        self._announce_table_leaps()
        return host

    def _announce_table_leaps(self) -> None:
        """A `step` namespace arms itself from the leap table, as the smears follow it.

        The kernel steps only when told (STA_INS/STA_DEL); on a real system a leap-aware NTP
        daemon tells it on the leap day.  Every leap of the table inside the run is announced
        to each `step` namespace that has no NTP daemon of its own (a daemon's `leapsecmode`
        decides there) and is not named by an explicit `leap` event for that day.
        """
        explicit: dict[object, set[str] | None] = {}
        for _, _, ev in self.r.events:
            if isinstance(ev, LeapAnnouncement):
                named = explicit.get(ev.date, set())
                explicit[ev.date] = None if ev.namespaces is None or named is None else (
                    named | set(ev.namespaces))
        steppers = ["root"] if self.r.scenario.host.leap == "step" else []
        steppers += [
            name for name, spec in self.r.namespaces
            if spec.model == "timekeeper" and spec.leap.policy == "step"
            and spec.ntp.model == "none"
        ]
        end_utc = self.ts.start_utc_ns + self.r.duration_ns
        for leap in self.ts.table.events:
            if not self.ts.start_utc_ns < leap.unix * NSEC <= end_utc + NSEC:
                continue
            covered = explicit.get(leap.day, set())
            if covered is None:
                continue
            targets = [n for n in steppers if n not in covered]
            if targets:
                # announced as the run starts (offset 0), like the table's own leaps are
                announce = LeapAnnouncement.model_construct(
                    at=At("offset", 0), action="leap", date=leap.day,
                    sign=1 if leap.sign > 0 else -1, namespaces=targets,
                    note="from the leap table",
                )
                actions.announce_leap(self, announce)

    def add_namespace(
        self,
        ns: Namespace,
        record: bool,
        group: str | None = None,
        params: dict[str, str] | None = None,
    ) -> None:
        self.recorder.add(ns, record, group, params)

    def schedule(self, true_ns: int, label: str, action: Callable[[], None]) -> None:
        """Queue `action` at true time `true_ns` (ns since the start)."""
        heapq.heappush(self._queue, (true_ns, next(self._seq), label, action))

    def _event(self, ev: Any, index: int) -> Callable[[], None]:
        def run_event() -> None:
            if TRACE.enabled:
                emit("scenario_event", what=actions.describe(ev, index), note=ev.note)
            self.recorder.probe(self.host)
            actions.apply(self, ev, index)
            self.recorder.probe(self.host)

        return run_event

    def _arm(self, spec: Any) -> Callable[[], None]:
        def arm() -> None:
            if not features.timers_available():
                raise RuntimeError("timers are not available in this version")
            ns = self.host.namespaces[spec.namespace]
            value = self._timer_value(spec)
            for k in range(spec.copies):
                TimerProbe(
                    ns,
                    spec.clock,
                    value + k * spec.stagger,
                    absolute=spec.absolute,
                    interval_ns=spec.interval,
                    count=spec.count,
                    on_fire=self.recorder.timer_fired,
                ).arm()

        return arm

    def _start(self, planned: real_programs.PlannedProgram) -> Callable[[], None]:
        def start() -> None:
            assert self.driver is not None
            self.driver.start(planned)

        return start

    def _timer_value(self, spec: TimerSpec) -> int:
        if spec.value.kind == "utc" and spec.clock == "CLOCK_TAI":
            return self.ts.tai_ns(self.ts.true_of_utc(spec.value.ns))
        return spec.value.ns

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Run to the end; return the summary and what the edge needs to write results."""
        wall0 = time.perf_counter()
        if self.r.programs:
            real_programs.require(self.r)
            self.driver = real_programs.backend().driver(self.host, self.r)
        try:
            self._loop()
        finally:
            if self.driver is not None:
                self.outcomes = self.driver.finish()
        self.failures.extend(p for o in self.outcomes if (p := o.problem()) is not None)
        wall = time.perf_counter() - wall0
        return self._result(wall)

    def _loop(self) -> None:
        end, step = self.r.duration_ns, self.r.sample_every_ns
        next_sample: int | None = 0
        while next_sample is not None or self._queue:
            due = self._queue[0][0] if self._queue else None
            if next_sample is not None and (due is None or next_sample <= due):
                if self._advance(next_sample):
                    self.recorder.sample(self.host, next_sample)
                next_sample = None if next_sample >= end else min(next_sample + step, end)
                continue
            true_ns, _, _, action = heapq.heappop(self._queue)
            self._advance(true_ns)
            action()

    def _advance(self, target: int) -> bool:
        """Run the host to `target` in progress-sized chunks; False if already past it.

        With real programs their driver moves time (only while every program is blocked).
        """
        host = self.host
        if host.true_ns > target:
            return False
        chunk = max(self.r.duration_ns // PROGRESS_STEPS, 1)
        run_to = host.run_until if self.driver is None else self.driver.advance
        while host.true_ns < target:
            run_to(min(target, host.true_ns + chunk))
            if self.progress is not None:
                self.progress(host.true_ns, self.r.duration_ns)
        return True

    def _result(self, wall: float) -> RunResult:
        summary = summarize(self.r, self.host, self.recorder, self.failures, self.followers)
        self.failures.extend(summary["checks"]["problems"])
        simulated = self.r.duration_ns / NSEC
        timing = {
            "note": "wall-clock measurements: they differ between runs, so they are kept out "
            "of summary.json",
            "run_wall_s": round(wall, 4),
            "simulated_s": simulated,
            "simulated_s_per_wall_s": round(simulated / wall, 1) if wall > 0 else None,
        }
        series = {n: t.series for n, t in self.recorder.tracks.items() if t.plotted}
        lateness = {n: t.lateness for n, t in self.recorder.tracks.items()}
        return RunResult(
            summary, timing, self.checkpoints, self.failures, series, lateness, self.host,
            smear_windows(self.followers), self.outcomes,
        )


def smear_windows(followers: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Each smearing follower's window in true seconds from the start (for the zoom plots)."""
    out = {}
    for name, f in followers.items():
        if not f.is_step:
            start, end = f.bound.window()
            out[name] = (float(start - f.epoch_unix), float(end - f.epoch_unix))
    return out


def _params(spec: Any) -> dict[str, str]:
    """The table columns a namespace's spec fixes: its leap policy and NTP daemon."""
    if spec.model == "offsets":
        return {"policy": "offsets", "ntp_model": ""}
    leap = spec.leap
    return {"policy": leap.shape if leap.policy == "smear" else leap.policy,
            "ntp_model": spec.ntp.model}


def check_setup(loaded: Loaded) -> None:
    """Build the host and namespaces exactly as `run` does, without running a single tick.

    Some refusals only the engine can make (an offsets namespace whose clock would read
    below zero, say); `timekeepers validate` calls this so it never says "ok" to a scenario
    `run` rejects, with the same ScenarioError `run` would print.
    """
    Runner(loaded)


def run_scenario(
    loaded: Loaded, sink: Callable[[Row], None] | None = None, progress: Progress | None = None
) -> RunResult:
    """Build and run a scenario (ScenarioError if the engine refuses its setup)."""
    return Runner(loaded, sink, progress).run()
