"""Time namespaces: the proposed model (own timekeeper) and the merged one (fixed offsets).

* `TimekeeperNamespace` owns a `Timekeeper` and an `NtpState`: its own mult/shift, its own
  NTP discipline through adjtimex, its own leap seconds — seconds of its own length over the
  host's one counter.  The host's root namespace is one of these (init_time_ns).
* `OffsetsNamespace` is Linux 5.6+: REALTIME and TAI are the host's; MONOTONIC (and RAW,
  COARSE) and BOOTTIME add constant offsets that can be written only until a task enters.

Calls made on a namespace object act as its privileged owner; `spawn` returns a `Task` whose
calls are checked against its own capabilities.

Timers (`timer_create`, `clock_nanosleep`, `timerfd_create`) live on the host's one queue; each
timekeeper has a `TimerBase` indexing the timers converted with it.  An offsets namespace has
no timekeeper: its timers go to the root's base (`timer_domain`), converted to host time when
armed, as Linux does.
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

from gmpy2 import mpq

from ntp.timex import ADJ_OFFSET_SINGLESHOT, ADJ_OFFSET_SS_READ, Timex

from .adjtimex import do_adjtimex_sets
from .auxclock import AuxClocks, is_aux_clock, os_error
from .clockids import (
    CLOCK_BOOTTIME,
    CLOCK_BOOTTIME_ALARM,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_COARSE,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME,
    CLOCK_REALTIME_ALARM,
    CLOCK_REALTIME_COARSE,
    CLOCK_TAI,
    KNOWN_UNMODELLED,
    clock_name,
)
from .host_core import HostCore
from .hrtimer import CycleEntry
from .posix_timers import PosixTimer, Sleeper, timens_ktime_to_host
from .reference import Reference
from .task import CAP_SYS_TIME, OWNER, Credentials, Task, eperm
from .timekeeper import (
    NSEC_PER_SEC,
    TIME_SETTOD_SEC_MAX,
    TK_ADV_TICK,
    Timekeeper,
    coarse_fraction_after_ticks,
    settod_valid,
)
from .timens_proc import (
    KTIME_SEC_MAX,
    OffsetEntry,
    check_offset_ranges,
    format_timens_offsets,
    parse_timens_offsets,
)
from .timerbase import TimerBase
from .timerfd import TimerFd

if TYPE_CHECKING:
    from collections.abc import Callable

    from .host import Host
    from .host_stats import NamespaceStats

#: glibc adjtime(3): MAX_SEC = INT_MAX / 1000000 − 2, MIN_SEC = INT_MIN / 1000000 + 2
ADJTIME_MAX_SEC: Final = (2**31 - 1) // 1_000_000 - 2
ADJTIME_MIN_SEC: Final = -(2**31 // 1_000_000) + 2
UPDATE_POLICIES = ("lazy", "periodic")
_H = TypeVar("_H", PosixTimer, TimerFd, Sleeper)


def handle_alive(handle: PosixTimer | TimerFd | Sleeper) -> bool:
    """Whether a timer handle can still do anything (a checkpoint carries only these)."""
    if isinstance(handle, PosixTimer):
        return not handle.deleted
    if isinstance(handle, TimerFd):
        return not handle.closed
    return not (handle.done or handle.interrupted)
MODELS = ("timekeeper", "offsets")


def _read_real_coarse(tk: Timekeeper, cycles: int) -> int:
    return tk.real_coarse_ns()


def _read_mono_coarse(tk: Timekeeper, cycles: int) -> int:
    return tk.mono_coarse_ns()


#: How a timekeeper namespace reads each clock id it models: one table lookup instead of a
#: chain of comparisons.  Aux clocks and invalid ids are not here (`read_clock_at`'s slow path).
_TK_READERS: dict[int, Callable[[Timekeeper, int], int]] = {
    CLOCK_REALTIME: Timekeeper.real_ns,
    CLOCK_REALTIME_ALARM: Timekeeper.real_ns,
    CLOCK_MONOTONIC: Timekeeper.mono_ns,
    CLOCK_BOOTTIME: Timekeeper.boot_ns,
    CLOCK_BOOTTIME_ALARM: Timekeeper.boot_ns,
    CLOCK_TAI: Timekeeper.tai_ns,
    CLOCK_MONOTONIC_RAW: Timekeeper.raw_ns,
    CLOCK_REALTIME_COARSE: _read_real_coarse,
    CLOCK_MONOTONIC_COARSE: _read_mono_coarse,
}


def _lazy_readers(host: Host) -> dict[int, Callable[[Timekeeper, int], int]]:
    """`_TK_READERS` for a lazy namespace: the coarse clocks read as of the host's last tick.

    The table depends only on the host, so it is made once per host and kept on the host
    (as `Host._lazy_reader_table`: the closures refer to the host, so a table kept anywhere
    else would keep the host alive).

    A kernel's coarse clocks hold what its last tick accumulated; a lazy timekeeper may not
    have accumulated for seconds, so its coarse readings are computed, not read, from the
    intervals up to `host.last_tick_cycles` (`Timekeeper.coarse_fraction_at_tick`).  Nothing
    is accumulated: a read leaves the timekeeper as it was.
    """
    shared: dict[int, Callable[[Timekeeper, int], int]] | None = host._lazy_reader_table
    if shared is not None:
        return shared
    last_tick = host.last_tick_cycles

    def real_coarse(tk: Timekeeper, cycles: int) -> int:
        return tk.xtime_sec * NSEC_PER_SEC + tk.coarse_fraction_at_tick(last_tick(cycles))

    def mono_coarse(tk: Timekeeper, cycles: int) -> int:
        return tk.base_mono + tk.coarse_fraction_at_tick(last_tick(cycles))

    readers = dict(_TK_READERS)
    readers[CLOCK_REALTIME_COARSE] = real_coarse
    readers[CLOCK_MONOTONIC_COARSE] = mono_coarse
    host._lazy_reader_table = readers
    return readers


_COARSE_IDS = frozenset({CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE})
#: The clocks an offsets namespace moves by its MONOTONIC offset, and by its BOOTTIME offset.
_MONO_OFFSET_CLOCKS = frozenset({CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_COARSE})
_BOOT_OFFSET_CLOCKS = frozenset({CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM})


@functools.lru_cache(maxsize=256)
def _dilated(freq_hz: int, dilation: Any) -> tuple[Any, mpq]:
    """(dilation, freq_hz × dilation) as objects shared by the namespaces that have them."""
    return dilation, mpq(freq_hz) * dilation


def einval(msg: str) -> OSError:
    return OSError(errno.EINVAL, f"EINVAL: {msg}")


def _check_int(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int (nanoseconds), got {type(value).__name__}")
    return value


class ClockChange:
    """Filled in by a clock-setting call: did it set the clock (clock_was_set)?

    `bases` is False when the call's clock_was_set selects no hrtimer base (do_adjtimex's
    TAI or leap notification on 5.15–6.10): the wall timers see the change only at the next
    host interrupt.
    """

    __slots__ = ("bases", "was_set")

    def __init__(self) -> None:
        self.was_set = True
        self.bases = True


class Namespace:
    """What both models share: identity, tasks, freezing, and the read entry point."""

    #: Owner methods that take a caller's credentials (`Task` calls them with its own).
    CRED_CALLS: ClassVar[frozenset[str]] = frozenset({"set_offsets", "timens_offsets_write"})

    model = "?"

    def __init__(self, host: Host, name: str) -> None:
        self.host = host
        self.name = name

    # Class-level starting values: an instance holds its own only once it changes them.
    frozen = False
    next_timer_id = 0
    _prune_at = 64

    # The containers below are made on first use (an idle namespace has none of them).
    _tasks: list[Task] | None = None
    _timer_handles: dict[int, PosixTimer | TimerFd | Sleeper] | None = None
    _agents: list[Any] | None = None

    @property
    def tasks(self) -> list[Task]:
        """The tasks started in this namespace (`spawn`)."""
        if self._tasks is None:
            self._tasks = []
        return self._tasks

    @tasks.setter
    def tasks(self, value: list[Task]) -> None:
        self._tasks = value

    @property
    def timer_handles(self) -> dict[int, PosixTimer | TimerFd | Sleeper]:
        """Live timer handles by id (`timer_create`'s timer_t; timerfds and sleeps too), in
        creation order: what a checkpoint carries and what a restored host hands back."""
        if self._timer_handles is None:
            self._timer_handles = {}
        return self._timer_handles

    @timer_handles.setter
    def timer_handles(self, value: dict[int, PosixTimer | TimerFd | Sleeper]) -> None:
        self._timer_handles = value

    @property
    def agents(self) -> list[Any]:
        """Daemons acting on this namespace (NTP clients, leap followers), for checkpoints."""
        if self._agents is None:
            self._agents = []
        return self._agents

    @agents.setter
    def agents(self, value: list[Any]) -> None:
        self._agents = value

    # -- tasks --------------------------------------------------------------------------

    def spawn(self, caps: frozenset[str] | set[str] | tuple[str, ...] = frozenset()) -> Task:
        """Start a task in this namespace; the first one freezes the namespace's offsets."""
        task = Task(self, self.host.next_pid(), frozenset(caps))
        self.tasks.append(task)
        self.frozen = True
        return task

    # -- reading ------------------------------------------------------------------------

    def clock_gettime_ns(self, clockid: int) -> int:
        """`clock_gettime`: the clock's value now, in int ns (EINVAL for an unknown clock)."""
        return self.read_clock_at(clockid, self.host.cycles_now())

    def read_clock_at(self, clockid: int, cycles: int) -> int:
        raise NotImplementedError

    def clock_getres_ns(self, clockid: int) -> int:
        """`clock_getres`: 1 ns for high-resolution clocks, one tick for the coarse ones.

        An aux clock answers 1 ns even while disabled (`aux_get_res`).
        """
        if self.host.aux_clocks and is_aux_clock(clockid):
            return 1
        self.read_clock_at(clockid, self.host.cycles_now())  # validates the id
        if clockid in (CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE):
            return NSEC_PER_SEC // self.host.hz
        return 1

    # -- timers -------------------------------------------------------------------------

    @property
    def timer_domain(self) -> TimekeeperNamespace:
        """The timekeeper whose conversion this namespace's timers use."""
        raise NotImplementedError

    def timer_offset(self, clockid: int) -> int:
        """Namespace clock minus host clock for timer purposes (only the offsets model has one)."""
        return 0

    def _refuse_aux_timer(self, clockid: int, what: str) -> None:
        """The aux k_clock has no timer_create or nsleep: EOPNOTSUPP before anything else."""
        if self.host.aux_clocks and is_aux_clock(clockid):
            raise os_error(errno.EOPNOTSUPP, f"{what} on {clock_name(clockid)}")

    @property
    def aux(self) -> AuxClocks:
        """The CLOCK_AUX0..7 this namespace's tasks see (ENOENT: kernel built without them)."""
        return self.timer_domain.aux

    def aux_clock_enable_write(
        self, index: int, text: str, creds: Credentials = OWNER, *, euid: int = 0
    ) -> int:
        """Write `/sys/kernel/time/aux_clocks/<index>/aux_clock_enable`; returns bytes consumed.

        `euid` is the writer's user id: the file is root's, mode 0644 (EACCES otherwise).
        """
        return self.aux.enable_store(
            index, text, has_cap=self._aux_cap(creds), euid=euid
        )

    def aux_clock_enable_read(self, index: int) -> str:
        """Read `/sys/kernel/time/aux_clocks/<index>/aux_clock_enable`: "0\\n" or "1\\n"."""
        return self.aux.enable_show(index)

    def _aux_cap(self, creds: Credentials) -> bool:
        """CAP_SYS_TIME where the aux clocks live (this namespace's own, or over the host)."""
        return creds.has(CAP_SYS_TIME)

    def timer_create(
        self, clockid: int, callback: Callable[[PosixTimer, int], None] | None = None
    ) -> PosixTimer:
        """`timer_create`: a POSIX timer on `clockid`; `callback(timer, overrun)` on expiry."""
        self._refuse_aux_timer(clockid, "timer_create")
        return self.add_timer_handle(PosixTimer(self, clockid, callback))

    def clock_nanosleep(
        self,
        clockid: int,
        value_ns: int,
        absolute: bool = False,
        callback: Callable[[Sleeper], None] | None = None,
    ) -> Sleeper:
        """`clock_nanosleep`: a one-shot wake-up; `callback(sleeper)` when it wakes."""
        self._refuse_aux_timer(clockid, "clock_nanosleep")
        return self.add_timer_handle(Sleeper(self, clockid, value_ns, absolute, callback))

    def timerfd_create(self, clockid: int) -> TimerFd:
        """`timerfd_create`: a timer descriptor on REALTIME, MONOTONIC or BOOTTIME."""
        return self.add_timer_handle(TimerFd(self, clockid))

    def add_timer_handle(self, handle: _H) -> _H:
        """Index a new timer handle under the next id (dead handles are pruned as it grows)."""
        handles = self.timer_handles
        if len(handles) >= self._prune_at:  # twice the live count: amortised O(1) per handle
            for key in [k for k, h in handles.items() if not handle_alive(h)]:
                del handles[key]
            self._prune_at = max(64, 2 * len(handles))
        handles[self.next_timer_id] = handle
        self.next_timer_id += 1
        return handle

    def live_timer_handles(self) -> dict[int, PosixTimer | TimerFd | Sleeper]:
        """The handles not deleted, closed, woken or interrupted, by id."""
        return {k: h for k, h in self.timer_handles.items() if handle_alive(h)}

    @property
    def timer_stats(self) -> NamespaceStats:
        """This namespace's timer counters (`host.stats.per_namespace[name]`)."""
        return self.host.stats.per_namespace[self.name]

    def checkpoint(self) -> dict[str, Any]:
        """This namespace as a versioned document for `host.restore_namespace` (CRIU-style)."""
        from .checkpoint import checkpoint_namespace  # checkpoint sits above: imported on use

        return checkpoint_namespace(self)

    def clock_settime_ns(self, clockid: int, value_ns: int, creds: Credentials = OWNER) -> None:
        """`clock_settime` (each model says which clocks may be set and with what capability)."""
        raise NotImplementedError

    def adjtimex(self, tx: Timex, creds: Credentials = OWNER) -> int:
        raise NotImplementedError

    def clock_adjtime(self, clockid: int, tx: Timex, creds: Credentials = OWNER) -> int:
        """`clock_adjtime` (each model says which clocks it steers)."""
        raise NotImplementedError

    def adjtime(self, delta_us: int | None, creds: Credentials = OWNER) -> int:
        """adjtime(3) over ADJ_OFFSET_SINGLESHOT: slew by delta_us (None reads); returns pending."""
        if delta_us is None:
            tx = Timex(modes=ADJ_OFFSET_SS_READ)
        else:
            _check_int("delta_us", delta_us)
            # glibc's adjtime refuses a delta whose normalised tv_sec lies outside
            # ±(INT_MAX / 1000000 − 2) s with EINVAL before making the syscall
            if not ADJTIME_MIN_SEC <= delta_us // 1_000_000 <= ADJTIME_MAX_SEC:
                raise einval(f"adjtime delta {delta_us} µs beyond ±{ADJTIME_MAX_SEC} s")
            tx = Timex(modes=ADJ_OFFSET_SINGLESHOT, offset=delta_us)
        self.adjtimex(tx, creds)
        return tx.offset

    def _bad_clock(self, clockid: int) -> OSError:
        if clockid in KNOWN_UNMODELLED:
            return einval(f"{clock_name(clockid)} is a Linux clock this engine does not model")
        return einval(f"invalid clock id {clockid!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class TimekeeperNamespace(Namespace):
    """A namespace with its own kernel timekeeper and NTP state."""

    model = "timekeeper"
    #: Told of every change of this namespace's clock conversion: `observer(ns, cycles,
    #: offs_real_before)` right after a step or a new mult (exact run metrics use it).
    observer: Callable[[TimekeeperNamespace, int, int], None] | None = None

    def __init__(self, host: Host, name: str, tk: Timekeeper, update: str, dilation: Any) -> None:
        super().__init__(host, name)
        if update not in UPDATE_POLICIES:
            raise ValueError(f"update must be one of {UPDATE_POLICIES}, got {update!r}")
        self.tk = tk
        self.update = update
        #: how each modelled clock id is read (`_TK_READERS`; a lazy namespace's coarse clocks
        #: are computed as of the last tick, `_lazy_readers`)
        self._readers = _TK_READERS if update == "periodic" else _lazy_readers(host)
        tk.lazy_keeps_error = update == "lazy"
        self.dilation, freq_eff = _dilated(host.clocksource.freq_hz, dilation)
        self.reference = Reference(tk, tk.cycle_last, freq_eff)

    advance_calls = 0
    _aux: AuxClocks | None = None  # made on first use: idle namespaces stay small

    # The timer base, the listener list and the planned accumulation's queue entry are made
    # on first use too: an idle namespace has none of them.  An empty base holds nothing a
    # later one would not start with (its leap and rate marks are refreshed at every change).
    _timer_base: TimerBase | None = None
    _listeners: list[Any] | None = None
    _hook_entry: CycleEntry | None = None

    @property
    def timer_base(self) -> TimerBase:
        """The index of the timers converted with this timekeeper (`TimerBase`)."""
        base = self._timer_base
        if base is None:
            base = self._timer_base = TimerBase(self)
        return base

    @property
    def clock_was_set_listeners(self) -> list[Any]:
        """Called with this namespace at each `clock_was_set`; the timer base's comes first."""
        if self._listeners is None:
            self._listeners = [self.timer_base.clock_was_set]
        return self._listeners

    @clock_was_set_listeners.setter
    def clock_was_set_listeners(self, value: list[Any]) -> None:
        self._listeners = value

    @property
    def _hook(self) -> CycleEntry:
        """The one host queue entry of this lazy namespace's planned accumulations."""
        hook = self._hook_entry
        if hook is None:
            hook = self._hook_entry = CycleEntry(self._on_hook)
        return hook

    @property
    def timer_domain(self) -> TimekeeperNamespace:
        return self

    @property
    def aux(self) -> AuxClocks:
        """This namespace's own eight aux clocks (ENOENT on a host without them)."""
        if self._aux is None:
            if not self.host.aux_clocks:
                raise os_error(
                    errno.ENOENT, "no /sys/kernel/time/aux_clocks: Host(aux_clocks=False)"
                )
            self._aux = AuxClocks(self)
        return self._aux

    @property
    def timekeeper(self) -> Timekeeper:
        """The kernel-named state (`mult`, `shift`, `cycle_last`, `xtime_sec`, …)."""
        return self.tk

    @property
    def ntp(self) -> Any:
        """This namespace's NTP state (`ntp.kernel.NtpState`)."""
        return self.tk.ntp

    #: The read cache of `clock_gettime_ns`: the values read at extended count
    #: `_read_cycles` under the timekeeper's `read_seq`.  A reading is a function of the
    #: count and the timekeeper's state, so equal counts may share it (compared with ==:
    #: a compiled build re-boxes ints, so an identity test would never hold there).
    _read_cycles: object = None
    _read_seq = 0
    _read_id = -1
    _read_value = 0
    _read_vals: dict[int, int] | None = None

    def clock_gettime_ns(self, clockid: int) -> int:
        """`clock_gettime`: the clock's value now, in int ns (EINVAL for an unknown clock).

        The same value `read_clock_at(clockid, host.cycles_now())` gives.  Values are kept
        while the instant (the host's cycles object) and the timekeeper's `read_seq` stay the
        same; any accumulation, step, rate change, suspend or restore ends in a new read_seq.
        Aux clocks are not kept (they have timekeepers of their own).
        """
        host: HostCore = self.host  # typed as the core: its fields are native when compiled
        now = host._now
        if host._cache_now is now:
            cycles = host._cache_cycles
        elif host._int_now is now and (read := host.clocksource.ns_read) is not None:
            # `Host.cycles_now`'s integer path, inlined: a read at a new whole-ns instant
            start, p, q, mask = read
            counter = host.counter
            d = (((start + host._now_ns * p // q) & mask) - counter.last_raw) & counter.mask
            cycles = counter.last_ext + (0 if d > counter.max_delta else d)
            host._cache_cycles, host._cache_now = cycles, now
        else:
            cycles = HostCore.cycles_now(host)  # a direct call when compiled
        tk = self.tk
        seq = tk.read_seq
        if clockid == CLOCK_REALTIME and cycles != self._read_cycles:
            # `Timekeeper.real_ns` written out: the commonest read at a new instant
            value = (tk.base_mono + (((cycles - tk.cycle_last) * tk.mult + tk.xtime_nsec)
                                     >> tk.shift) + tk.offs_real)
            self._read_cycles, self._read_seq, self._read_id, self._read_value = (
                cycles, seq, clockid, value)
            self._read_vals = None
            return value
        if cycles == self._read_cycles and seq == self._read_seq:
            if clockid == self._read_id:
                return self._read_value
            vals = self._read_vals
            if vals is not None and clockid in vals:
                return vals[clockid]
            reader = self._readers.get(clockid)
            if reader is None:
                return self.read_clock_at(clockid, cycles)
            value = reader(tk, cycles)
            if clockid in _COARSE_IDS and self._readers is not _TK_READERS:
                return value  # a lazy namespace's coarse clocks: never kept (see below)
            if vals is None:
                self._read_vals = {clockid: value}
            else:
                vals[clockid] = value
            return value
        reader = self._readers.get(clockid)
        if reader is None:
            return self.read_clock_at(clockid, cycles)
        value = reader(tk, cycles)
        if clockid in _COARSE_IDS and self._readers is not _TK_READERS:
            # a lazy namespace's coarse clocks are computed from the host's tick grid (root
            # MONOTONIC), which a change of the root moves without a new read_seq here
            return value
        # the first clock read at an instant is kept as two scalars (no dict per instant)
        self._read_cycles, self._read_seq, self._read_id, self._read_value = (
            cycles, seq, clockid, value)
        self._read_vals = None
        return value

    def read_clock_at(self, clockid: int, cycles: int) -> int:
        """The clock's value at extended count `cycles` (EINVAL for an unknown clock)."""
        reader = self._readers.get(clockid)
        if reader is not None:
            return reader(self.tk, cycles)
        if self.host.aux_clocks and is_aux_clock(clockid):
            return self.aux.clock(clockid).read(cycles)
        raise self._bad_clock(clockid)

    def offset_of(self, clockid: int) -> int:
        """The hrtimer base offset: clock value minus MONOTONIC (0 for MONOTONIC)."""
        tk = self.tk
        if clockid == CLOCK_REALTIME:
            return tk.offs_real
        if clockid == CLOCK_TAI:
            return tk.offs_tai
        if clockid == CLOCK_BOOTTIME:
            return tk.offs_boot
        return 0

    def cycles_for(self, clockid: int, value_ns: int) -> int:
        """First host cycle at which `clockid` reads ≥ value_ns, with today's conversion."""
        if clockid == CLOCK_MONOTONIC_RAW:
            return self.tk.cycles_for_raw(value_ns)
        return self.tk.cycles_for_mono(value_ns - self.offset_of(clockid))

    # -- accumulation -------------------------------------------------------------------

    def accumulate(self) -> int:
        """Advance the timekeeper to now (TK_ADV_TICK); runs clock_was_set for a leap."""
        cycles = self.host.sample()
        return self.advance_to(cycles)

    def advance_to(
        self, cycles: int, steer_at: int | None = None, *, last_tick: int | None = None
    ) -> int:
        """Accumulate to `cycles` (see `Timekeeper.timekeeping_advance` for `steer_at`).

        `last_tick` is `host.last_tick_cycles` of the read instant (`steer_at`, else
        `cycles`) when the caller has just computed it: a catch-up to the last tick needs it
        twice, and it is every lazy timer expiry's path.
        """
        self.advance_calls += 1
        tk = self.tk
        mult, offs_real = tk.mult, tk.offs_real
        before = None
        if self.update == "lazy" and tk.separate_coarse_nsec:
            before = (tk.cycle_last, tk.xtime_nsec, tk.xtime_interval, tk.coarse_nsec,
                      tk.base_mono)
        clock_set = tk.timekeeping_advance(cycles, TK_ADV_TICK, steer_at)
        read_at = cycles if steer_at is None else steer_at
        # the earlier coarse reading can only lead the new one if the mult moved, or if the
        # reading's tick lies past the accumulation's end (a steer with no tick known)
        read_past_end = steer_at is not None and (last_tick is None or last_tick > cycles)
        if before is not None and (tk.mult != mult or read_past_end):
            self._keep_coarse_floor(before, read_at, last_tick)
        if self.observer is not None and (clock_set or tk.mult != mult):
            # the new conversion joins the old one where the reading stays continuous
            self.observer(self, read_at, offs_real)
        if self._aux is not None:
            self._aux.advance(cycles, steer_at)
        self.reference.sync(self.tk, cycles)
        if clock_set:
            self.clock_was_set()
        if self._timer_base is not None:
            self._timer_base.conversion_changed()
        self.plan()
        return clock_set

    def _keep_coarse_floor(
        self, before: tuple[int, int, int, int, int], read_at: int, last_tick: int | None
    ) -> None:
        """After a lazy 6.15+ accumulation: MONOTONIC_COARSE no lower than it read before it.

        Not kernel code.  The computed reading (`_lazy_readers`) adds whole intervals
        without the mult compensation a tick's `timekeeping_adjust` takes off xtime_nsec, so
        the accumulation can leave coarse_nsec a few ns below what was already read; keeping
        it at that reading (MONOTONIC, so a leap second applied on the way changes nothing)
        means coarse never steps back, as 6.15's separate coarse_nsec promises.  It stays at
        or below the fine clock, which the accumulation keeps continuous at `read_at`.

        `before` holds the fields the reading was computed from (cycle_last, xtime_nsec,
        xtime_interval, coarse_nsec, base_mono, as they were before the accumulation), so
        `advance_to` computes it only when it can matter: with the mult unchanged, the
        accumulation added the same whole intervals (or more, up to a tick at or after the
        read's) with the same xtime_interval, so coarse_nsec already reads at least as much.
        """
        tk = self.tk
        cycle_last, xtime_nsec, xtime_interval, coarse_nsec, base_mono = before
        if last_tick is None:
            last_tick = self.host.last_tick_cycles(read_at)
        floor = base_mono + coarse_fraction_after_ticks(
            cycle_last, xtime_nsec, xtime_interval, coarse_nsec, tk.cycle_interval, tk.shift,
            last_tick)
        if tk.base_mono + tk.coarse_nsec < floor:
            tk.coarse_nsec = floor - tk.base_mono
            tk.readout_changed()

    def catch_up_to_tick(self, cycles: int) -> int:
        """A lazy namespace brought to where a kernel's last tick would have left it.

        Not kernel code: the kernel accumulates only in `update_wall_time`, from the tick, so
        at a read between ticks its timekeeper holds the whole intervals up to the last tick
        boundary ≤ now (`host.last_tick_cycles`), and `second_overflow` has run only for the
        seconds those intervals carried.  Accumulating the intervals between that boundary and
        now would run a second's NTP work (maxerror growth, STA_UNSYNC, the phase slew, a
        leap) a tick early.  The mult is steered for continuity at `cycles` (`steer_at`), as a
        timer expiry's catch-up does, so no clock steps back.
        """
        tk = self.tk
        if cycles - tk.cycle_last < tk.cycle_interval:
            return 0
        tick = HostCore.last_tick_cycles(self.host, cycles)
        if tick - tk.cycle_last < tk.cycle_interval:
            return 0
        return self.advance_to(tick, steer_at=cycles, last_tick=tick)

    def reference_error_ns(self, clockid: int, ideal: str = "kernel") -> mpq:
        """Kernel-path reading minus the exact ideal (`tk_core.reference`), in ns (exact)."""
        cycles = self.host.cycles_now()
        kernel = self.read_clock_at(clockid, cycles)
        return kernel - self.reference.ideal_ns(self.tk, clockid, cycles, ideal)

    def _on_hook(self, cycles: int) -> None:
        """The planned accumulation: the core timekeeper's if its own key is due, else only
        the aux clocks' (whose keys share this one queue entry).

        The core's key is what `plan` found for it alone, and nothing changed the core since,
        so the core accumulates on exactly the ticks it would without aux clocks: aux calls
        and aux hooks never move the core's readings.
        """
        self.host.stats.lazy_hooks += 1
        key = self._core_key()
        if key is not None and key <= cycles:
            self.advance_to(cycles)
            return
        if self._aux is not None:
            self._aux.advance(cycles)
        self.plan_aux()

    def _core_key(self) -> int | None:
        """Where the core timekeeper must next accumulate (before rounding to a tick)."""
        tk = self.tk
        key = tk.cycles_of_ntp_work()
        flip = tk.cycles_of_dither_flip(self.host.lazy_error_bound)
        if flip is not None and (key is None or flip < key):
            key = flip
        return key

    def plan(self) -> None:
        """Keep this lazy namespace's one queue entry where its next accumulation must be.

        A quiescent namespace has none.  While NTP slews (phase offset, adjtime, tick change)
        or a leap is pending it needs the once-per-second hook, on the tick where a periodic
        namespace would run it; and while its mult is dithering it accumulates where
        ntp_error reaches the host's `lazy_error_bound_ns`, so the ±1 dither still keeps the
        long-run rate exact.  In 7.3 it also accumulates wherever the per-interval drain changes
        rate (`Timekeeper.cycles_of_drain_change`), so ntp_error still moves linearly between
        its accumulations.
        """
        if self.update != "lazy":
            return
        key = self._core_key()
        self._core_tick = None if key is None else self.host.next_tick_cycles(key)
        self._enqueue_hook(force=True)

    def plan_aux(self) -> None:
        """`plan` after a change of the aux clocks only: the core's tick is kept as planned.

        Recomputing it would round the same key to a tick with the host's grid as it is now,
        which can land a cycle or so apart; so aux calls leave the core's plan untouched, and
        the one queue entry moves only if the aux clocks' own tick comes first.
        """
        if self.update == "lazy":
            self._enqueue_hook(force=False)

    #: where `plan` last put the core timekeeper's own next accumulation (a tick boundary)
    _core_tick: int | None = None

    def _enqueue_hook(self, *, force: bool) -> None:
        host = self.host
        at = self._core_tick
        if self._aux is not None:
            aux_key = self._aux.next_key(host.lazy_error_bound)
            if aux_key is not None:
                tick = host.next_tick_cycles(aux_key)
                at = tick if at is None else min(at, tick)
        if at is None:
            if self._hook_entry is not None:
                host.queue.remove(self._hook_entry)
            return
        hook = self._hook
        if force or hook._item is None or hook._item[0] != at:
            host.enqueue(hook, at)

    def clock_was_set(self, bases: bool = True) -> None:
        """`clock_was_set` for this namespace only: tell its listeners (e.g. its timer index).

        With `bases=False` (the empty mask of do_adjtimex on 5.15-6.10) the timer index only
        tells its timerfds (`timerfd_clock_was_set` runs whatever the mask) and leaves its wall
        timers to the next host interrupt (`TimerBase.clock_was_set_masked`).
        """
        self.host.stats.clock_was_set += 1
        if self._listeners is None:  # nobody listens but the timer base, if there is one
            base = self._timer_base
            if base is not None and bases:
                base.clock_was_set(self)
            elif base is not None:
                base.clock_was_set_masked()
            return
        own = self.timer_base.clock_was_set
        for listener in self.clock_was_set_listeners:
            if not bases and listener == own:
                self.timer_base.clock_was_set_masked()
            else:
                listener(self)

    # -- setting and steering -----------------------------------------------------------

    def _require_time_cap(self, creds: Credentials, what: str) -> None:
        if not creds.has(CAP_SYS_TIME):
            raise eperm(f"{what} needs CAP_SYS_TIME")

    def clock_settime_ns(self, clockid: int, value_ns: int, creds: Credentials = OWNER) -> None:
        """`clock_settime`: only CLOCK_REALTIME is settable (EINVAL otherwise, EPERM w/o cap)."""
        _check_int("value_ns", value_ns)
        if self.host.aux_clocks and is_aux_clock(clockid):
            self.aux.clock_settime(clockid, value_ns, creds.has(CAP_SYS_TIME))
            return
        if clockid != CLOCK_REALTIME:
            self.read_clock_at(clockid, self.host.cycles_now())  # unknown id → EINVAL
            raise einval(f"{clock_name(clockid)} cannot be set")
        sec, nsec = divmod(value_ns, NSEC_PER_SEC)
        # do_sys_settimeofday64: the value is checked (EINVAL) before the capability (EPERM)
        if value_ns < 0 or not settod_valid(sec, nsec):
            raise einval(f"settime value {value_ns} ns outside 0..{TIME_SETTOD_SEC_MAX} s")
        self._require_time_cap(creds, "clock_settime")
        cycles = self.host.sample()
        with self._clock_change(cycles):
            self.tk.do_settimeofday64(cycles, sec, nsec)

    @contextmanager
    def _clock_change(self, cycles: int) -> Iterator[ClockChange]:
        """Run a clock-setting step, then tell everything that depends on the conversion.

        On success (and on the error path of kernels before 6.13, which still ran the
        TK_CLEAR_NTP | TK_CLOCK_WAS_SET update — seen as a changed `clock_was_set_seq`) the
        reference follows, clock_was_set re-keys this namespace's wall timers, the timer base
        hears of the new conversion and the lazy plan is redone.
        """
        seq = self.tk.clock_was_set_seq
        offs_real = self.tk.offs_real
        change = ClockChange()
        try:
            yield change
        except OSError:
            self._after_failed_change(cycles, seq, offs_real)
            raise
        self._after_change(cycles, offs_real, was_set=change.was_set, bases=change.bases)

    def _after_failed_change(self, cycles: int, seq: int, offs_real_before: int) -> None:
        """A clock-setting step raised: the dependents follow only if it still set the clock."""
        if self.tk.clock_was_set_seq != seq:
            self._after_change(cycles, offs_real_before, was_set=True)

    def _after_change(
        self, cycles: int, offs_real_before: int, *, was_set: bool, bases: bool = True
    ) -> None:
        if self.observer is not None:
            self.observer(self, cycles, offs_real_before)
        self.reference.sync(self.tk, cycles)
        if was_set:
            self.clock_was_set(bases=bases)
        if self._timer_base is not None:
            self._timer_base.conversion_changed()
        self.plan()

    def adjtimex(self, tx: Timex, creds: Credentials = OWNER) -> int:
        """`adjtimex(2)` on this namespace's own timekeeper; fills `tx`, returns the state."""
        if not isinstance(tx, Timex):
            raise TypeError(f"adjtimex takes an ntp.Timex, got {type(tx).__name__}")
        has_cap = creds.has(CAP_SYS_TIME)
        cycles = self.host.sample()
        self.tk.ntp.validate_timex(tx, has_cap)  # reject before anything moves
        if self.update == "lazy":
            self.catch_up_to_tick(cycles)
        # `_clock_change`'s steps written out: adjtimex is every daemon's and policy's call,
        # and a context manager is a few interpreted calls around it
        seq, offs_real = self.tk.clock_was_set_seq, self.tk.offs_real
        try:
            result, stepped, tai_or_leap = do_adjtimex_sets(self.tk, cycles, tx, has_cap)
        except OSError:
            self._after_failed_change(cycles, seq, offs_real)
            raise
        # timekeeping_inject_offset notified CLOCK_SET_WALL itself before 7.x; do_adjtimex's
        # own call for a TAI change or a leap had the empty mask on 5.15-6.10
        bases = stepped or self.host.behaviour.adjtimex_clock_was_set_wall
        self._after_change(cycles, offs_real, was_set=stepped or tai_or_leap, bases=bases)
        return result

    def follow(self, policy: Any, **kwargs: Any) -> Any:
        """Handle a leap second with `policy` through adjtimex only (see `tk_core.policy`).

        `policy` is a smear shape name (`ntp.smear.SHAPES`, e.g. ``"linear-24h"``), ``"step"``,
        ``"slew"`` or a Shape; keyword arguments go to `tk_core.policy.follow` (``leap=``,
        ``update_interval_s=``, ``apply_leap_too=``, shape parameters).  Returns the Follower.
        """
        from .policy import follow  # policy sits above namespace; imported on use

        kwargs.setdefault("epoch_unix", mpq(self.host.epoch_ns, NSEC_PER_SEC))
        return follow(self, policy, **kwargs)

    def clock_adjtime(self, clockid: int, tx: Timex, creds: Credentials = OWNER) -> int:
        """`clock_adjtime(2)`: CLOCK_REALTIME is this namespace's adjtimex."""
        if clockid == CLOCK_REALTIME:
            return self.adjtimex(tx, creds)
        if self.host.aux_clocks and is_aux_clock(clockid):
            if not isinstance(tx, Timex):
                raise TypeError(f"clock_adjtime takes an ntp.Timex, got {type(tx).__name__}")
            return self.aux.clock_adjtime(clockid, tx, creds.has(CAP_SYS_TIME))
        code = self.tk.ntp.behaviour.clock_adjtime_errno(clockid)
        raise OSError(code, f"{errno.errorcode[code]}: clock_adjtime on {clock_name(clockid)}")

    # -- suspend ------------------------------------------------------------------------

    def suspend(self, cycles: int) -> None:
        """`timekeeping_suspend`: fold the partial tick into xtime before the host sleeps."""
        self.tk.timekeeping_forward_now(cycles)
        self.tk.tk_update_ktime_data()

    def resume(self, suspend_cycles: int, resume_cycles: int) -> None:
        """`timekeeping_resume`: inject the sleep measured by the nonstop counter."""
        sleep_ns = ((resume_cycles - suspend_cycles) * self.tk.clock_mult) >> self.tk.shift
        offs_real = self.tk.offs_real
        self.tk.inject_sleeptime(resume_cycles, sleep_ns)
        if self.observer is not None:
            self.observer(self, resume_cycles, offs_real)
        self.reference.resume(suspend_cycles, resume_cycles)
        self.reference.sync(self.tk, resume_cycles)
        self.clock_was_set()
        self.plan()


class OffsetsNamespace(Namespace):
    """Linux 5.6 time namespace: fixed MONOTONIC/BOOTTIME offsets over the host timekeeper."""

    model = "offsets"
    CRED_CALLS: ClassVar[frozenset[str]] = Namespace.CRED_CALLS

    #: The read cache of `clock_gettime_ns`, as a timekeeper namespace keeps its own, under
    #: the root timekeeper's `read_seq`; a new offset empties it.
    _read_cycles: object = None
    _read_seq = 0
    _read_vals: dict[int, int]

    def __init__(self, host: Host, name: str, monotonic_ns: int = 0, boottime_ns: int = 0) -> None:
        super().__init__(host, name)
        self.monotonic_offset = monotonic_ns
        self.boottime_offset = boottime_ns

    @property
    def monotonic_offset(self) -> int:
        """The MONOTONIC (and RAW, COARSE) offset, ns."""
        return self._monotonic_offset

    @monotonic_offset.setter
    def monotonic_offset(self, value: int) -> None:
        self._monotonic_offset = value
        self._read_cycles = None

    @property
    def boottime_offset(self) -> int:
        """The BOOTTIME offset, ns."""
        return self._boottime_offset

    @boottime_offset.setter
    def boottime_offset(self, value: int) -> None:
        self._boottime_offset = value
        self._read_cycles = None

    @property
    def _root(self) -> TimekeeperNamespace:
        return self.host.root

    @property
    def timer_domain(self) -> TimekeeperNamespace:
        """Timers of an offsets namespace are host timers (converted when armed)."""
        return self.host.root

    def timer_offset(self, clockid: int) -> int:
        """The timens offset `timens_ktime_to_host` removes (MONOTONIC, BOOTTIME only)."""
        if clockid == CLOCK_MONOTONIC:
            return self.monotonic_offset
        if clockid == CLOCK_BOOTTIME:
            return self.boottime_offset
        return 0

    def clock_gettime_ns(self, clockid: int) -> int:
        """The host's reading (its root's; EINVAL there) plus the offset, kept per instant."""
        host: HostCore = self.host  # typed as the core: its fields are native when compiled
        cycles = host._cache_cycles if host._cache_now is host._now else HostCore.cycles_now(host)
        seq = host.root.tk.read_seq
        if cycles == self._read_cycles and seq == self._read_seq:
            vals = self._read_vals
            if clockid in vals:
                return vals[clockid]
        else:
            vals = {}
        value = host.root.clock_gettime_ns(clockid)
        if clockid in _MONO_OFFSET_CLOCKS:
            value += self._monotonic_offset
        elif clockid in _BOOT_OFFSET_CLOCKS:
            value += self._boottime_offset
        if not (host.aux_clocks and is_aux_clock(clockid)):
            vals[clockid] = value
            self._read_cycles, self._read_seq, self._read_vals = cycles, seq, vals
        return value

    def read_clock_at(self, clockid: int, cycles: int) -> int:
        base = self._root.read_clock_at(clockid, cycles)
        if clockid in _MONO_OFFSET_CLOCKS:
            return base + self.monotonic_offset
        if clockid in _BOOT_OFFSET_CLOCKS:
            return base + self.boottime_offset
        return base

    def offset_of(self, clockid: int) -> int:
        """Namespace clock minus host MONOTONIC, for the timer queue."""
        root = self._root
        if clockid == CLOCK_MONOTONIC:
            return self.monotonic_offset
        if clockid == CLOCK_BOOTTIME:
            return root.tk.offs_boot + self.boottime_offset
        return root.offset_of(clockid)

    def cycles_for(self, clockid: int, value_ns: int) -> int:
        if clockid == CLOCK_MONOTONIC_RAW:
            return self._root.tk.cycles_for_raw(value_ns - self.monotonic_offset)
        return self._root.tk.cycles_for_mono(value_ns - self.offset_of(clockid))

    # -- steering goes to the host ------------------------------------------------------

    def _host_time_cap(self, creds: Credentials, what: str) -> None:
        if not creds.has(CAP_SYS_TIME, over_host=True):
            raise eperm(
                f"{what} in an offsets namespace steers the host clock: "
                "needs CAP_SYS_TIME over the host"
            )

    def clock_settime_ns(self, clockid: int, value_ns: int, creds: Credentials = OWNER) -> None:
        """Setting REALTIME sets the host's clock: needs CAP_SYS_TIME over the host."""
        _check_int("value_ns", value_ns)
        if self.host.aux_clocks and is_aux_clock(clockid):
            self.aux.clock_settime(clockid, value_ns, self._aux_cap(creds))
            return
        valid = value_ns >= 0 and settod_valid(*divmod(value_ns, NSEC_PER_SEC))
        if clockid == CLOCK_REALTIME and valid:
            self._host_time_cap(creds, "clock_settime")
        self._root.clock_settime_ns(clockid, value_ns, creds=OWNER)

    def adjtimex(self, tx: Timex, creds: Credentials = OWNER) -> int:
        """adjtimex acts on the host timekeeper (Linux semantics); reads are always allowed."""
        if not isinstance(tx, Timex):
            raise TypeError(f"adjtimex takes an ntp.Timex, got {type(tx).__name__}")
        host_cap = creds.has(CAP_SYS_TIME, over_host=True)
        self._root.tk.ntp.validate_timex(tx, host_cap)
        return self._root.adjtimex(tx, creds=OWNER)

    def clock_adjtime(self, clockid: int, tx: Timex, creds: Credentials = OWNER) -> int:
        if clockid == CLOCK_REALTIME:
            return self.adjtimex(tx, creds)
        if self.host.aux_clocks and is_aux_clock(clockid):
            if not isinstance(tx, Timex):
                raise TypeError(f"clock_adjtime takes an ntp.Timex, got {type(tx).__name__}")
            return self.aux.clock_adjtime(clockid, tx, self._aux_cap(creds))
        return self._root.clock_adjtime(clockid, tx, creds)

    def _aux_cap(self, creds: Credentials) -> bool:
        """The aux clocks here are the host's (namespaces never offset them): host CAP_SYS_TIME."""
        return creds.has(CAP_SYS_TIME, over_host=True)

    # -- offsets ------------------------------------------------------------------------

    def _apply_offsets(self, entries: list[OffsetEntry], creds: Credentials) -> None:
        """`proc_timens_set_offset`: EPERM, then every range check, then EACCES, then apply."""
        if not creds.has(CAP_SYS_TIME):
            raise eperm("setting time namespace offsets needs CAP_SYS_TIME")
        cycles = self.host.cycles_now()
        root = self._root
        now = {
            CLOCK_MONOTONIC: root.read_clock_at(CLOCK_MONOTONIC, cycles),
            CLOCK_BOOTTIME: root.read_clock_at(CLOCK_BOOTTIME, cycles),
        }
        check_offset_ranges(entries, now)
        if self.frozen:
            raise OSError(errno.EACCES, "EACCES: a task has entered this namespace")
        for e in entries:
            value = e.sec * NSEC_PER_SEC + e.nsec
            if e.clockid == CLOCK_MONOTONIC:
                self.monotonic_offset = value
            else:
                self.boottime_offset = value
        if entries:
            self._rekey_own_timers()

    def _rekey_own_timers(self) -> None:
        """New offsets, new host deadlines: convert this namespace's queued timers again.

        Linux converts an absolute MONOTONIC/BOOTTIME deadline to host time once, when it is
        armed (`timens_ktime_to_host`); it can afford to, because offsets freeze when the first
        task enters and only a task inside can arm a timer.  Here the owner may arm timers
        before anyone enters, so a later offsets write must move them, or they would fire
        early (or late) by the change.  Each keeps its deadline in namespace time.
        """
        base = self._root.timer_base
        mine = [
            e
            for group in (base.near, base.far)
            for e in group.entries
            if e.ns is self and e.queued and e.check_clockid in (CLOCK_MONOTONIC, CLOCK_BOOTTIME)
        ]
        for e in mine:
            e.expires = timens_ktime_to_host(self, e.check_clockid, e.check_expires)
        base.rekey(mine, "timens_offsets")

    def set_offsets(
        self,
        monotonic_ns: int | None = None,
        boottime_ns: int | None = None,
        creds: Credentials = OWNER,
    ) -> None:
        """Set the MONOTONIC and/or BOOTTIME offsets (ns) before the first task enters."""
        entries = []
        for clockid, value in ((CLOCK_MONOTONIC, monotonic_ns), (CLOCK_BOOTTIME, boottime_ns)):
            if value is None:
                continue
            _check_int("offset", value)
            sec, nsec = divmod(value, NSEC_PER_SEC)
            if abs(sec) > KTIME_SEC_MAX + 1:
                raise OSError(errno.ERANGE, f"ERANGE: offset {value} ns beyond ±KTIME_SEC_MAX s")
            entries.append(OffsetEntry(clockid, sec, nsec))
        self._apply_offsets(entries, creds)

    def timens_offsets_write(self, text: str, creds: Credentials = OWNER) -> int:
        """Write `/proc/PID/timens_offsets`: returns the bytes consumed, or raises OSError."""
        entries, consumed = parse_timens_offsets(text)
        self._apply_offsets(entries, creds)
        return consumed

    def timens_offsets_read(self) -> str:
        """Read `/proc/PID/timens_offsets` (the v5.7+ symbolic layout)."""
        return format_timens_offsets(self.monotonic_offset, self.boottime_offset)
