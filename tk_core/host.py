"""The host: exact true time, one clocksource, one timer queue, and an event loop.

True time is an exact rational (seconds since the simulation began).  The host's hardware is
the clocksource; its software is the extended counter, the root namespace's timekeeper and
the shared timer queue.  The loop is SimPy-small: find the earliest queued entry, work out
the true instant at which the counter reaches its cycle (the programmed clockevent), jump
there, take the interrupt, repeat.

NOHZ idle is the default: no periodic tick runs unless a `periodic` namespace needs one (or
`nohz=False`).  What still wakes an idle host: queued entries (timers, lazy NTP hooks) and the
wrap guard — the kernel's `timekeeping_max_deferment` cap, an interrupt at most max_idle_ns
after the last sample, so the extended counter never misses a wrap.  With `wrap_guard=False`
an idle host can sleep past a wrap and lose it, exactly as a kernel would.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import gmpy2
from gmpy2 import mpq

from ntp.kernel import NtpState
from ntp.trace import TRACE, emit
from ntp.version import KernelBehaviour

from .clockids import CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME
from .clocksource import Clocksource, clocksource_update_freq
from .counter import ExtendedCounter
from .hrtimer import ClockEntry, HostEntry, HostTimerQueue, hrtimer_forward
from .namespace import MODELS, Namespace, OffsetsNamespace, TimekeeperNamespace
from .timekeeper import NSEC_PER_SEC, ClockInit, Timekeeper

NS = mpq(1, NSEC_PER_SEC)


@dataclass
class NamespaceStats:
    """Per-namespace timer counters (filled by the timer queue)."""

    expiries: int = 0
    early_rechecks: int = 0
    rearms: int = 0


@dataclass
class HostStats:
    """What the host did; the scalability experiments read these."""

    interrupts: int = 0
    guard_wakes: int = 0
    ticks: int = 0
    lazy_hooks: int = 0
    clock_was_set: int = 0
    expiries: int = 0
    early_rechecks: int = 0
    rearms: int = 0
    hang_detections: int = 0
    per_namespace: dict[str, NamespaceStats] = field(default_factory=dict)


class TickEntry(ClockEntry):
    """`tick_sched_timer`: every TICK_NSEC of host MONOTONIC, advance the periodic timekeepers."""

    __slots__ = ("host", "period")

    def __init__(self, host: Host) -> None:
        super().__init__(host, host.root, CLOCK_MONOTONIC, 0)
        self.host = host
        self.period = (NSEC_PER_SEC + host.hz // 2) // host.hz

    def start(self, now_mono: int) -> None:
        self.expires = (now_mono // self.period + 1) * self.period
        self.arm()

    def fire(self, cycles: int, now: int) -> None:
        host = self.host
        host.stats.ticks += 1
        for ns in host.periodic:
            ns.advance_to(cycles)
        _, self.expires = hrtimer_forward(self.expires, now, self.period)
        self.arm()


class Host:
    """One simulated machine: see the module docstring.

    `realtime_ns` is REALTIME at true time 0; `monotonic_ns` how long the host has been up
    (MONOTONIC and RAW at true time 0); `boottime_ns` defaults to `monotonic_ns`.
    `kernel_version` selects version-dependent behaviours (see `ntp.version`).
    """

    def __init__(
        self,
        clocksource: Clocksource | None = None,
        hz: int = 1000,
        realtime_ns: int = 0,
        *,
        monotonic_ns: int = 0,
        boottime_ns: int | None = None,
        tai_offset: int = 0,
        user_hz: int = 100,
        kernel_version: str | None = None,
        nohz: bool = True,
        wrap_guard: bool = True,
        root_update: str = "lazy",
        lazy_error_bound_ns: int = 100,
    ) -> None:
        for name, value in (
            ("hz", hz),
            ("realtime_ns", realtime_ns),
            ("monotonic_ns", monotonic_ns),
        ):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"Host {name} must be an int, got {value!r}")
        if hz <= 0 or realtime_ns < 0 or monotonic_ns < 0:
            raise ValueError("Host needs hz > 0, realtime_ns >= 0 and monotonic_ns >= 0")
        self.clocksource = (
            clocksource if clocksource is not None else Clocksource(3_000_000_000, 64, name="tsc")
        )
        self.hz = hz
        self.user_hz = user_hz
        self.behaviour = KernelBehaviour.from_version(kernel_version)
        self.kernel_version = self.behaviour.version
        self.nohz = nohz
        self.wrap_guard = wrap_guard
        self.lazy_error_bound = lazy_error_bound_ns << 32
        self.stats = HostStats()
        self.queue = HostTimerQueue()
        self.namespaces: dict[str, Namespace] = {}
        self.periodic: list[TimekeeperNamespace] = []
        self._pids = itertools.count(1)
        self._now = mpq(0)
        self._cache_now: Any = None
        self._cache_cycles = 0
        cs = self.clocksource
        true0 = cs.cycles_at(self._now)
        self.counter = ExtendedCounter(cs.mask, true0)
        self._lost = true0 - self.counter.last_ext
        self.guard_cycles = (cs.max_idle_ns << cs.shift) // cs.mult
        init = ClockInit(
            cycles=self.counter.last_ext,
            realtime_ns=realtime_ns,
            monotonic_ns=monotonic_ns,
            boottime_ns=monotonic_ns if boottime_ns is None else boottime_ns,
            raw_ns=monotonic_ns,
            tai_offset=tai_offset,
        )
        self.root = self._add_timekeeper_ns("root", init, root_update, mpq(1))
        self._tick = TickEntry(self)
        self._next_t: mpq | None = None
        self._update_tick()
        self._program()

    # -- time ---------------------------------------------------------------------------

    @property
    def true_time(self) -> mpq:
        """Exact true time in seconds since the simulation began."""
        return self._now

    @property
    def true_ns(self) -> int:
        """True time in whole nanoseconds (floor)."""
        return int(gmpy2.floor(self._now * NSEC_PER_SEC))

    def cycles_now(self) -> int:
        """The extended counter now, without sampling (the kernel read path)."""
        if self._cache_now is self._now:
            return self._cache_cycles
        raw = self.clocksource.counter_at(self._now)
        self._cache_cycles = self.counter.peek(raw)
        self._cache_now = self._now
        return self._cache_cycles

    def sample(self) -> int:
        """Sample the counter: move the extension's reference point to now."""
        true = self.clocksource.cycles_at(self._now)
        ext = self.counter.sample(true & self.clocksource.mask)
        self._lost = true - ext
        self._cache_now = self._now
        self._cache_cycles = ext
        return ext

    def lost_cycles(self) -> int:
        """Cycles the extension has lost to unsampled wraps so far (0 with the guard)."""
        return self._lost

    # -- namespaces ---------------------------------------------------------------------

    def next_pid(self) -> int:
        return next(self._pids)

    def _add_timekeeper_ns(
        self, name: str, init: ClockInit, update: str, dilation: mpq
    ) -> TimekeeperNamespace:
        cs = self.clocksource
        params = clocksource_update_freq(
            cs.freq_hz * dilation if dilation != 1 else cs.freq_hz, cs.mask
        )
        ntp = NtpState(self.hz, self.user_hz, self.behaviour)
        tk = Timekeeper(
            params.mult,
            params.shift,
            self.hz,
            ntp,
            init,
            maxadj=params.maxadj,
            behaviour_restore_on_error=not self.behaviour.setoffset_error_clears_ntp,
            separate_coarse_nsec=self.behaviour.key >= (6, 15),
        )
        ns = TimekeeperNamespace(self, name, tk, update, dilation)
        self._register(ns)
        if update == "periodic":
            self.periodic.append(ns)
        ns.plan()
        return ns

    def _register(self, ns: Namespace) -> None:
        self.namespaces[ns.name] = ns
        self.stats.per_namespace[ns.name] = NamespaceStats()

    def create_namespace(
        self,
        name: str,
        model: str = "timekeeper",
        update: str = "lazy",
        *,
        dilation: Any = 1,
        parent: Namespace | None = None,
    ) -> Namespace:
        """`unshare(CLONE_NEWTIME)`: a new namespace whose clocks start as copies of `parent`'s.

        `model="timekeeper"` gives it its own timekeeper and NTP state (its `update` policy is
        `lazy` or `periodic`; `dilation` > 0 makes its seconds that many true seconds long).
        `model="offsets"` is the Linux 5.6 model; its offsets start as the parent's.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"namespace name must be a non-empty string, got {name!r}")
        if name in self.namespaces:
            raise ValueError(f"namespace {name!r} already exists")
        if model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {model!r}")
        parent = parent if parent is not None else self.root
        if model == "offsets":
            mono = getattr(parent, "monotonic_offset", 0)
            boot = getattr(parent, "boottime_offset", 0)
            ns: Namespace = OffsetsNamespace(self, name, mono, boot)
            self._register(ns)
            return ns
        d = mpq(dilation)
        if d <= 0:
            raise ValueError(f"dilation must be > 0, got {dilation!r}")
        cycles = self.sample()
        read = parent.read_clock_at
        real = read(CLOCK_REALTIME, cycles)
        init = ClockInit(
            cycles=cycles,
            realtime_ns=real,
            monotonic_ns=read(CLOCK_MONOTONIC, cycles),
            boottime_ns=read(CLOCK_BOOTTIME, cycles),
            raw_ns=read(CLOCK_MONOTONIC_RAW, cycles),
            tai_offset=(read(11, cycles) - real) // NSEC_PER_SEC,
        )
        ns = self._add_timekeeper_ns(name, init, update, d)
        self._update_tick()
        return ns

    # -- the queue and the clockevent ----------------------------------------------------

    def enqueue(self, entry: HostEntry, key: int) -> None:
        self.queue.add(entry, key)
        self._program()

    def note_early(self, entry: ClockEntry) -> None:
        """An entry came due before its namespace clock reached the deadline (re-armed)."""
        self.stats.early_rechecks += 1
        if TRACE.enabled:
            emit("timer_early_recheck", clockid=entry.clockid, expires=entry.expires)

    def _tick_needed(self) -> bool:
        return not self.nohz or bool(self.periodic)

    def _update_tick(self) -> None:
        if self._tick_needed() and not self._tick.queued:
            self._tick.start(self.root.read_clock_at(CLOCK_MONOTONIC, self.cycles_now()))
        elif not self._tick_needed() and self._tick.queued:
            self._tick.cancel()

    def _program(self) -> None:
        """Program the clockevent: the earliest queued entry, capped by the wrap guard."""
        key = self.queue.first_key()
        if self.wrap_guard:
            guard = self.counter.last_ext + self.guard_cycles
            if key is None or guard < key:
                key = guard
        if key is None:
            self._next_t = None
            return
        t = self.clocksource.time_of_cycles(key + self._lost)
        self._next_t = t if t > self._now else self._now

    def _interrupt(self) -> None:
        """Take one interrupt at the current true time: sample, update time, run due entries."""
        cycles = self.sample()
        self.stats.interrupts += 1
        due = self.queue.first_key()
        if due is None or due > cycles:
            self.stats.guard_wakes += 1
        self.root.advance_to(cycles)
        while (entry := self.queue.pop_due(cycles)) is not None:
            entry.expire(cycles)
        self._program()

    def run_until(self, true_ns: int | mpq) -> None:
        """Advance true time to `true_ns` (int ns, or an exact mpq of ns), taking interrupts."""
        target = mpq(true_ns) * NS
        if target < self._now:
            raise ValueError(f"run_until({true_ns}) is before the current true time")
        while self._next_t is not None and self._next_t <= target:
            self._now = self._next_t
            self._interrupt()
        self._now = target

    def run_for(self, duration_ns: int) -> None:
        """Advance true time by `duration_ns` (int ns ≥ 0)."""
        if duration_ns < 0:
            raise ValueError(f"run_for({duration_ns}): duration must be >= 0")
        self.run_until(self._now * NSEC_PER_SEC + duration_ns)

    def suspend_for(self, duration_ns: int) -> None:
        """Suspend the whole host for `duration_ns` of true time, then resume.

        Every timekeeper folds its partial tick in (`timekeeping_suspend`); nothing runs while
        suspended; on resume each injects the sleep its nonstop counter measured, so BOOTTIME
        and REALTIME jump while MONOTONIC and RAW do not.  The extension is re-based from the
        nonstop count (the kernel re-reads the clocksource the same way).
        """
        if duration_ns < 0:
            raise ValueError(f"suspend_for({duration_ns}): duration must be >= 0")
        timekeepers = [ns for ns in self.namespaces.values() if isinstance(ns, TimekeeperNamespace)]
        start = self.sample()
        for ns in timekeepers:
            ns.suspend(start)
        self._now = self._now + mpq(duration_ns) * NS
        true = self.clocksource.cycles_at(self._now)
        self.counter.last_ext += true - self.counter.last_ext - self._lost
        self.counter.last_raw = true & self.clocksource.mask
        end = self.sample()
        for ns in timekeepers:
            ns.resume(start, end)
        self._rearm_all()
        self._program()

    def _rearm_all(self) -> None:
        """`hrtimers_resume`: every clock entry is converted to cycles afresh."""
        entries = [item[2] for item in list(self.queue._list)]
        for entry in entries:
            if isinstance(entry, ClockEntry):
                entry.arm()
