"""The host: exact true time, one clocksource, one timer queue, and an event loop.

True time is an exact rational (seconds since the simulation began).  The host's hardware is
the clocksource; its software is the extended counter, the root namespace's timekeeper and
the shared timer queue.  The loop is SimPy-small: find the earliest queued entry, work out
the true instant at which the counter reaches its cycle (the programmed clockevent), jump
there, take the interrupt, repeat.

Every interrupt goes through one clockevent device (`tk_core.clockevent`): it cannot be
programmed closer than its min_delta (escalated the kernel's way when programming fails), and
`_interrupt` is `hrtimer_interrupt`'s loop — run what is due, program the next event, and
after three passes that could not catch up declare a hang and force a delay of the time spent
(at most 100 ms).  Time passes inside an interrupt only if the host is given costs:
`irq_cost_ns` of true time on entry to every interrupt and `expiry_cost_ns` per entry run.
Both default to 0 (an infinitely fast CPU); the storm experiments set them.

The interrupt path itself (`_interrupt`, its expiry passes, `update_jiffies`, the counter
read) is `tk_core.host_core.HostCore`, which `Host` subclasses: kept apart so that the
optional compiled build can compile it while `Host`, the class users call, keeps its own
argument handling (see `tk_compiled`).

NOHZ idle is the default: no periodic tick runs unless a `periodic` namespace needs one (or
`nohz=False`).  What still wakes an idle host: queued entries (timers, lazy NTP hooks) and the
wrap guard — the kernel's `timekeeping_max_deferment` cap, an interrupt at most max_idle_ns
after the last sample, so the extended counter never misses a wrap.  With `wrap_guard=False`
an idle host can sleep past a wrap and lose it, exactly as a kernel would.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, ClassVar, Literal, overload

from gmpy2 import mpq

from ntp.exact import floor_q
from ntp.kernel import NtpState
from ntp.timex import MAX_TAI_OFFSET
from ntp.version import KernelBehaviour

from .auxclock import AUX_CLOCKS_SINCE
from .clockevent import ClockEventDevice
from .clockids import CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME
from .clocksource import Clocksource, shared_update_freq
from .counter import ExtendedCounter
from .exact_input import exact_rational
from .host_core import NS, HostCore
from .host_stats import HostStats as HostStats  # re-exported: tk_core.host.HostStats
from .host_stats import NamespaceStats as NamespaceStats
from .hrtimer import ClockEntry, HostTimerQueue, hrtimer_forward
from .lateness import LatenessHistogram
from .namespace import MODELS, Namespace, OffsetsNamespace, TimekeeperNamespace
from .timekeeper import NSEC_PER_SEC, ClockInit, Timekeeper
from .timerbase import TimerBase, TimerEntry


class TickEntry(ClockEntry["Host", "TimekeeperNamespace"]):
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
        host.update_jiffies(cycles)  # tick_sched_do_timer (a no-op when the entry already did)
        _, self.expires = hrtimer_forward(self.expires, now, self.period)
        self.arm()


#: Host arguments that are ints, with the least value each may take
_HOST_INTS = {
    "hz": 1, "realtime_ns": 0, "monotonic_ns": 0, "boottime_ns": 0, "tai_offset": 0,
    "user_hz": 1, "lazy_error_bound_ns": 0, "min_delta_ns": 1, "max_delta_ns": 1,
    "program_latency_ns": 0, "irq_cost_ns": 0, "expiry_cost_ns": 0, "rekey_slack_ns": 0,
}
_HOST_BOOLS = ("nohz", "wrap_guard", "requeue_on_adjust", "record_lateness", "aux_clocks",
               "fair_expiry")


def _check_host_arguments(args: dict[str, Any]) -> None:
    """`Host()`'s arguments, checked before anything is built (TypeError / ValueError naming
    the argument): a float cost or a string flag would otherwise be taken and misbehave later.

    `tai_offset` takes the range adjtimex's ADJ_TAI accepts (0..MAX_TAI_OFFSET; the
    kernel has no negative TAI−UTC).
    """
    for name, least in _HOST_INTS.items():
        value = args[name]
        if value is None and name == "boottime_ns":
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"Host {name} must be an int, got {value!r}")
        if value < least:
            raise ValueError(f"Host {name} must be >= {least}, got {value}")
    if args["tai_offset"] > MAX_TAI_OFFSET:
        raise ValueError(f"Host tai_offset must be <= {MAX_TAI_OFFSET}, got {args['tai_offset']}")
    for name in _HOST_BOOLS:
        if not isinstance(args[name], bool):
            raise TypeError(f"Host {name} must be a bool, got {args[name]!r}")
    for name, kind in (("clocksource", Clocksource), ("clockevent", ClockEventDevice)):
        if args[name] is not None and not isinstance(args[name], kind):
            raise TypeError(f"Host {name} must be a {kind.__name__} or None, got "
                            f"{type(args[name]).__name__} {args[name]!r}")


class Host(HostCore):
    """One simulated machine: see the module docstring.

    `realtime_ns` is REALTIME at true time 0; `monotonic_ns` how long the host has been up
    (MONOTONIC and RAW at true time 0); `boottime_ns` defaults to `monotonic_ns`.
    `kernel_version` selects version-dependent behaviours (see `ntp.version`).

    Timers: `clockevent` (or `min_delta_ns`, `max_delta_ns`, `program_latency_ns` for the
    default device), `irq_cost_ns` / `expiry_cost_ns` (true time an interrupt / one expiry
    takes), `requeue_on_adjust` (re-key a namespace's timers at every NTP rate change instead
    of re-checking them when they come due), `rekey_slack_ns` (how late a rate rise may make
    a queued key before its base re-keys), `record_lateness` (a `LatenessHistogram` of every
    fire's lateness, measured when its callback runs, in `self.lateness`), `fair_expiry` (the
    entries due in one interrupt pass run round-robin across namespaces, see `_run_due`;
    False runs them strictly by expiry as the kernel does).  `check_never_early`
    (class default False; the tests set it) asserts on every fire that the namespace's own
    clock has reached the deadline.
    """

    check_never_early: ClassVar[bool] = False
    #: The lazy namespaces' reader table (`namespace._lazy_readers`), made on first use.
    _lazy_reader_table: dict[int, Callable[[Any, int], int]] | None = None

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
        clockevent: ClockEventDevice | None = None,
        min_delta_ns: int = 1000,
        max_delta_ns: int = 600 * NSEC_PER_SEC,
        program_latency_ns: int = 0,
        irq_cost_ns: int = 0,
        expiry_cost_ns: int = 0,
        requeue_on_adjust: bool = False,
        rekey_slack_ns: int = 1000,
        record_lateness: bool = False,
        aux_clocks: bool = False,
        fair_expiry: bool = True,
    ) -> None:
        _check_host_arguments(locals())
        self.epoch_ns = realtime_ns  # true UTC at true time 0: the host boots on true time
        self.clocksource = (
            clocksource if clocksource is not None else Clocksource(3_000_000_000, 64, name="tsc")
        )
        self.hz = hz
        self.user_hz = user_hz
        self.behaviour = KernelBehaviour.from_version(kernel_version)
        self.kernel_version = self.behaviour.version
        if aux_clocks and self.behaviour.key < AUX_CLOCKS_SINCE:
            raise ValueError(
                f"aux_clocks need kernel 6.17 or later (CONFIG_POSIX_AUX_CLOCKS); "
                f"kernel_version is {self.kernel_version!r}"
            )
        #: CONFIG_POSIX_AUX_CLOCKS: CLOCK_AUX0..7 on every timekeeper namespace
        self.aux_clocks = aux_clocks
        self.nohz = nohz
        self.wrap_guard = wrap_guard
        self.lazy_error_bound = lazy_error_bound_ns << 32
        self.stats = HostStats()
        #: tick_do_update_jiffies64's state: TICK_NSEC and the root MONOTONIC ns of the last
        #: jiffy boundary accounted for (a whole multiple of TICK_NSEC)
        self.tick_period = (NSEC_PER_SEC + hz // 2) // hz
        self.last_jiffies_update = monotonic_ns // self.tick_period * self.tick_period
        self.queue = HostTimerQueue()
        self.namespaces: dict[str, Namespace] = {}
        self.periodic: list[TimekeeperNamespace] = []
        self._pids = itertools.count(1)
        self.requeue_on_adjust = requeue_on_adjust
        self.rekey_slack_ns = rekey_slack_ns
        self.irq_cost_ns = irq_cost_ns
        self.expiry_cost_ns = expiry_cost_ns
        #: run the entries due in one interrupt pass round-robin across namespaces
        self.fair_expiry = fair_expiry
        self.lateness: LatenessHistogram | None = LatenessHistogram() if record_lateness else None
        self.hang_detected = False
        self._in_irq = False
        self._touched: dict[NamespaceStats, None] = {}
        #: timer bases whose wall offsets changed under a clock_was_set that selected no
        #: hrtimer base: re-keyed at the next interrupt (`TimerBase.update_base`)
        self.stale_bases: dict[TimerBase, None] = {}
        self._want: int | None = None
        self._floor: mpq | None = None
        self._now = mpq(0)
        self._cache_now: Any = None
        self._cache_cycles = 0
        #: `_now` as whole true ns, valid while `_now` is the object `_int_now` (set where
        #: `run_until` lands on a whole ns); the read path's integers (`cycles_now`)
        self._int_now: Any = self._now
        self._now_ns = 0
        cs = self.clocksource
        if program_latency_ns > NSEC_PER_SEC // hz:
            raise ValueError("program_latency_ns beyond one jiffy: the device could never fire")
        self.clockevent = clockevent or ClockEventDevice(
            cs.freq_hz,
            hz,
            min_delta_ns=min_delta_ns,
            max_delta_ns=max_delta_ns,
            program_latency_ns=program_latency_ns,
        )
        true0 = cs.cycles_at(self._now)
        self.counter = ExtendedCounter(cs.mask, true0, cs.max_raw_delta)
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
        #: the true time of the last programmed event and the unmasked count it is exactly
        #: reached at (constant-rate counters only; `sample`'s shortcut)
        self._event_t: mpq | None = None
        self._event_cycles = 0
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
        return floor_q(self._now * NSEC_PER_SEC)

    @property
    def true_unix(self) -> mpq:
        """True UTC now on the never-stepping timeline, in exact Unix seconds."""
        return mpq(self.epoch_ns, NSEC_PER_SEC) + self._now

    # -- checkpoints (tk_core.checkpoint sits above the host: imported on use) -----------

    def checkpoint(self) -> dict[str, Any]:
        """The whole host as a versioned JSON-able document (see tk_core.checkpoint)."""
        from .checkpoint import checkpoint_host

        return checkpoint_host(self)

    @classmethod
    def restore(cls, state: dict[str, Any]) -> Host:
        """A host rebuilt from `checkpoint()`; it continues with identical results."""
        from .checkpoint import restore_host

        return restore_host(state)

    def restore_namespace(self, state: dict[str, Any], name: str | None = None,
                          mode: str = "criu", **kwargs: Any) -> Namespace:
        """Recreate a namespace from `ns.checkpoint()` on this host (modes: criu/suspend/exact)."""
        from .checkpoint import restore_namespace

        return restore_namespace(self, state, name, mode, **kwargs)

    # -- namespaces ---------------------------------------------------------------------

    def next_pid(self) -> int:
        return next(self._pids)

    def _add_timekeeper_ns(
        self, name: str, init: ClockInit, update: str, dilation: mpq
    ) -> TimekeeperNamespace:
        cs = self.clocksource
        params = shared_update_freq(
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
        if name == "root":
            self._jiffy_tk = tk  # the tick grid is root MONOTONIC, also while the root is built
        self._register(ns)
        if update == "periodic":
            self.periodic.append(ns)
        ns.plan()
        return ns

    def _register(self, ns: Namespace) -> None:
        self.namespaces[ns.name] = ns
        self.stats.per_namespace[ns.name] = NamespaceStats()

    @overload
    def create_namespace(
        self,
        name: str,
        model: Literal["timekeeper"] = ...,
        update: str = ...,
        *,
        dilation: Any = ...,
        parent: Namespace | None = ...,
    ) -> TimekeeperNamespace: ...
    @overload
    def create_namespace(
        self,
        name: str,
        model: Literal["offsets"],
        update: str = ...,
        *,
        dilation: Any = ...,
        parent: Namespace | None = ...,
    ) -> OffsetsNamespace: ...
    @overload
    def create_namespace(
        self,
        name: str,
        model: str,
        update: str = ...,
        *,
        dilation: Any = ...,
        parent: Namespace | None = ...,
    ) -> Namespace: ...
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
        d = exact_rational(dilation, "dilation")
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

    def _tick_needed(self) -> bool:
        return not self.nohz or bool(self.periodic)

    def _update_tick(self) -> None:
        if self._tick_needed() and not self._tick.queued:
            self._tick.start(self.root.read_clock_at(CLOCK_MONOTONIC, self.cycles_now()))
        elif not self._tick_needed() and self._tick.queued:
            self._tick.cancel()

    def run_until(self, true_ns: int | mpq) -> None:
        """Advance true time to `true_ns` (int ns, or an exact mpq of ns), taking interrupts."""
        if type(true_ns) is not int:
            true_ns = exact_rational(true_ns, "run_until true_ns")
        target = mpq(true_ns) * NS
        # Interrupt costs may carry a run past its target (`_floor`); a later target between
        # the two is then simply reached already.
        if target < self._now and (self._floor is None or target < self._floor):
            raise ValueError(f"run_until({true_ns}) is before the current true time")
        self._interrupts_until(target)
        if target >= self._now:
            self._now = target
            self._floor = None
            if type(true_ns) is int:
                self._int_now, self._now_ns = target, true_ns
            elif (whole := target * NSEC_PER_SEC).denominator == 1:  # an mpq of whole ns
                self._int_now, self._now_ns = target, int(whole)
        else:
            self._floor = target

    def run_while(self, busy: Callable[[], bool], limit_ns: int | mpq) -> bool:
        """Take interrupts one at a time while `busy()`, never past true time `limit_ns`.

        Stops right at the interrupt that made `busy()` false (a sleep's wake-up), so the
        caller sees its clocks at that instant; returns whether `busy()` turned false.
        """
        if type(limit_ns) is not int:
            limit_ns = exact_rational(limit_ns, "run_while limit_ns")
        target = mpq(limit_ns) * NS
        while busy():
            if self._next_t is None or self._next_t > target:
                self.run_until(limit_ns)
                return not busy()
            self._now = max(self._now, self._next_t)
            self._floor = None
            self._interrupt()
        return True

    def run_for(self, duration_ns: int) -> None:
        """Advance true time by `duration_ns` (int ns ≥ 0, or an exact rational of ns)."""
        if type(duration_ns) is not int:
            duration_ns = exact_rational(duration_ns, "run_for duration_ns")
        if duration_ns < 0:
            raise ValueError(f"run_for({duration_ns}): duration must be >= 0")
        if self._int_now is self._now and type(duration_ns) is int:  # whole ns: integers
            self.run_until(self._now_ns + duration_ns)
        else:
            self.run_until(self._now * NSEC_PER_SEC + duration_ns)

    def suspend_for(self, duration_ns: int) -> None:
        """Suspend the whole host for `duration_ns` of true time, then resume.

        Every timekeeper folds its partial tick in (`timekeeping_suspend`); nothing runs while
        suspended; on resume each injects the sleep its nonstop counter measured, so BOOTTIME
        and REALTIME jump while MONOTONIC and RAW do not.  The extension is re-based from the
        nonstop count (the kernel re-reads the clocksource the same way).
        """
        if type(duration_ns) is not int:
            duration_ns = exact_rational(duration_ns, "suspend_for duration_ns")
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
        self._floor = None
        for ns in timekeepers:
            ns.resume(start, end)
        self._rearm_all()
        self._program()

    def _rearm_all(self) -> None:
        """`hrtimers_resume`: every clock entry is converted to cycles afresh."""
        now = self.cycles_now()
        for entry in self.queue.entries():
            if isinstance(entry, ClockEntry):
                entry.arm()
                if isinstance(entry, TimerEntry) and entry.key is not None and entry.key <= now:
                    entry.stepped = True

