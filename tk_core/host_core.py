"""The host's hot path: the counter read, the interrupt, its expiry passes, the jiffies update.

`Host` (`tk_core.host`) is this class plus everything a user calls: its constructor and
argument checks, namespaces, checkpoints, and `run_until` / `run_for` with their exact
rational and duration-string arguments.  What is here runs inside every interrupt and every
clock read, so it is kept apart to be compiled (`tk_compiled`): its attributes are declared
with their types below, and its methods take and return plain ints.  `Host.__init__` sets
every attribute declared here.

The kernel functions each method reproduces are named in its docstring: `hrtimer_interrupt`,
`__hrtimer_run_queues`, `tick_program_event`, `tick_do_update_jiffies64`,
`hrtimer_update_base`.

Inside the interrupt path the steps call one another as `HostCore.step(self, ...)`, not
`self.step(...)`: compiled, that is a direct C call, where `self.step` on a `Host` (a Python
subclass) would look the method up by name at every step.  Three stay looked up, so a
subclass or a test can replace them: `sample` (the counter read), `_run_due` (the expiry
pass) and `_run_fair` (its round-robin).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gmpy2 import mpq
from mypy_extensions import mypyc_attr

from ntp.exact import floor_q
from ntp.trace import TRACE, emit

from .clockevent import HANG_PASSES, ClockEventDevice, hang_delay_ns
from .counter import ExtendedCounter
from .hrtimer import ClockEntry, HeldGroup, HostEntry, HostTimerQueue, Item, PassWatch
from .timekeeper import NSEC_PER_SEC

if TYPE_CHECKING:
    from .clocksource import Clocksource
    from .host_stats import HostStats, NamespaceStats
    from .lateness import LatenessHistogram
    from .namespace import TimekeeperNamespace
    from .timekeeper import Timekeeper
    from .timerbase import TimerBase, TimerEntry

NS = mpq(1, NSEC_PER_SEC)
#: the strict-order pass's watch domain when several namespaces are due (matches none)
_ANY_NAMESPACE = object()


@mypyc_attr(allow_interpreted_subclasses=True)
class HostCore:
    """The state the interrupt path reads and writes, and the path itself (see the module
    docstring; `Host` is the class to use)."""

    clocksource: Clocksource
    counter: ExtendedCounter
    clockevent: ClockEventDevice
    queue: HostTimerQueue
    root: TimekeeperNamespace
    #: the timekeeper whose MONOTONIC is the tick grid (the root's)
    _jiffy_tk: Timekeeper
    periodic: list[TimekeeperNamespace]
    stats: HostStats
    lateness: LatenessHistogram | None
    stale_bases: dict[TimerBase, None]
    _touched: dict[NamespaceStats, None]
    tick_period: int
    last_jiffies_update: int
    irq_cost_ns: int
    expiry_cost_ns: int
    fair_expiry: bool
    aux_clocks: bool
    wrap_guard: bool
    guard_cycles: int
    hang_detected: bool
    _in_irq: bool
    _want: int | None
    _next_t: mpq | None
    _event_t: mpq | None
    _event_cycles: int
    _floor: mpq | None
    _now: mpq
    _cache_now: Any
    _cache_cycles: int
    _int_now: Any
    _now_ns: int
    _lost: int

    def cycles_now(self) -> int:
        """The extended counter now, without sampling (the kernel read path).

        Computed once per true instant (per `_now` object) and kept until the instant moves
        or `sample` moves the extension's reference point.
        """
        now = self._now
        if self._cache_now is now:
            return self._cache_cycles
        if self._int_now is now and (read := self.clocksource.ns_read) is not None:
            start, p, q, mask = read  # `Clocksource.cycles_at_ns`, inlined: no rationals
            raw = (start + self._now_ns * p // q) & mask
        else:
            raw = HostCore._raw_at(self, now)
        counter = self.counter  # ExtendedCounter.peek, inlined: this is every read's path
        d = (raw - counter.last_raw) & counter.mask
        self._cache_cycles = cycles = counter.last_ext + (0 if d > counter.max_delta else d)
        self._cache_now = now
        return cycles

    def _raw_at(self, now: mpq) -> int:
        """The masked counter at true time `now` by the rational path (`cycles_at`)."""
        cs = self.clocksource
        rate = cs.constant_rate
        if rate is not None and type(now) is mpq:  # cycles_at's constant-rate case (now ≥ 0)
            return (cs.start_cycles + int(now * rate)) & cs.mask
        return cs.cycles_at(now) & cs.mask

    def sample(self) -> int:
        """Sample the counter: move the extension's reference point to now.

        At the instant of a programmed event (`_program_event` keeps the pair) the unmasked
        count is the event's own cycle: `cycles_at(time_of_cycles(c)) == c` exactly for a
        constant-rate counter, so the interrupt needs no rational product to find it.
        """
        now = self._now
        true = self._event_cycles if now is self._event_t else self.clocksource.cycles_at(now)
        ext = self.counter.sample(true & self.clocksource.mask)
        self._lost = true - ext
        self._cache_now = self._now
        self._cache_cycles = ext
        return ext

    def lost_cycles(self) -> int:
        """Cycles the extension has lost to unsampled wraps so far (0 with the guard)."""
        return self._lost

    def enqueue(self, entry: HostEntry, key: int) -> None:
        """Queue `entry` at `key` cycles; reprogram unless inside the interrupt or hung."""
        self.queue.add(entry, key)
        HostCore._program(self)

    def note_early(self, entry: ClockEntry[Any, Any]) -> None:
        """A non-timer clock entry (tick, daemon) came due before its deadline (re-armed)."""
        self.stats.other_rechecks += 1
        if TRACE.enabled:
            emit("timer_early_recheck", clockid=entry.clockid, expires=entry.expires)

    def touch(self, stats: NamespaceStats) -> None:
        """A namespace's timer ran in the current interrupt (per-namespace interrupt counts)."""
        self._touched[stats] = None

    def note_lateness(self, entry: TimerEntry, late_ns: int) -> None:
        """Record how late (namespace clock ns) a timer fired; forward steps count apart."""
        st = entry.stats
        if entry.stepped:
            st.stepped_fires += 1
            self.stats.stepped_fires += 1
            return
        if late_ns > st.late_max_ns:
            st.late_max_ns = late_ns
            if late_ns > self.stats.late_max_ns:
                self.stats.late_max_ns = late_ns
        if self.lateness is not None:
            self.lateness.append(late_ns)

    def _next_key(self) -> int | None:
        """The earliest queued entry, capped by the wrap guard."""
        key = self.queue.first_key()
        if self.wrap_guard:
            guard = self.counter.last_ext + self.guard_cycles
            if key is None or guard < key:
                key = guard
        return key

    def _program(self) -> None:
        """`hrtimer_reprogram` (forced): not from inside the interrupt, nor while hung."""
        if self._in_irq or self.hang_detected:
            return
        key = HostCore._next_key(self)
        if key is not None and key == self._want and self._next_t is not None:
            return
        HostCore._program_event(self, key, HostCore.cycles_now(self), force=True)

    def _program_event(self, key: int | None, now: int, force: bool) -> bool:
        """`tick_program_event`: False when the event is already past and not forced."""
        if key is None:
            self._want = None
            self._next_t = None
            return True
        at = self.clockevent.program_event(key, now, force)
        if at is None:
            if force:  # the device gave up: nothing will wake the host
                self._want = None
                self._next_t = None
            return False
        self._want = key
        cs = self.clocksource
        true = at + self._lost
        read = cs.time_read  # set exactly when the rate is constant
        on_constant_rate = read is not None and true > cs.start_cycles
        if read is not None and on_constant_rate:
            # `time_of_cycles`'s constant-rate case, the same one rational, written here
            # because `clocksource.py` stays interpreted and this runs at every event
            t = mpq((true - read[0]) * read[1], read[2])
        else:
            t = cs.time_of_cycles(true)
        if t > self._now:
            self._next_t = t
            if on_constant_rate:
                self._event_t, self._event_cycles = t, true
        else:
            self._next_t = self._now
        return True

    def _spend(self, ns: int) -> None:
        if ns:
            self._now = self._now + mpq(ns) * NS

    def _interrupt(self) -> None:
        """`hrtimer_interrupt`: run what is due, program the next event, detect hangs."""
        if self.irq_cost_ns:
            HostCore._spend(self, self.irq_cost_ns)
        cycles = self.sample()
        entry_t = self._now
        stats = self.stats
        stats.interrupts += 1
        due = self.queue.first_key()
        if due is None or due > cycles:
            stats.guard_wakes += 1
        touched = self._touched
        touched.clear()
        self._in_irq = True
        try:
            HostCore.update_jiffies(self, cycles)
            if self.stale_bases:
                HostCore._update_bases(self)
            passes = 0
            while True:
                self._run_due(cycles)
                now = self.sample() if self._now is not entry_t else cycles
                if HostCore._program_event(self, HostCore._next_key(self), now, force=False):
                    self.hang_detected = False
                    break
                passes += 1
                if passes >= HANG_PASSES:
                    HostCore._hang(self, entry_t, now)
                    break
                cycles = now
        finally:
            self._in_irq = False
        for st in touched:
            st.interrupts += 1

    def _update_bases(self) -> None:
        """`hrtimer_update_base` on interrupt entry: stale bases pick up their new offsets."""
        if self.stale_bases:
            stale = list(self.stale_bases)
            self.stale_bases.clear()
            for base in stale:
                base.update_base()

    @property
    def jiffies(self) -> int:
        """jiffies_64 on the root MONOTONIC grid: whole ticks accounted for (no INITIAL_JIFFIES)."""
        return self.last_jiffies_update // self.tick_period

    def update_jiffies(self, cycles: int) -> bool:
        """`tick_do_update_jiffies64`: accumulate only once a whole jiffy has passed.

        The tick (`tick_sched_timer`) and, after NOHZ idle, the interrupt entry
        (`tick_nohz_irq_enter` → `tick_nohz_update_jiffies`) call it; it moves
        `last_jiffies_update` by whole TICK_NSEC periods of root MONOTONIC and only then runs
        `update_wall_time`: the root and the periodic namespaces accumulate.  Any other
        interrupt reads the clocks without accumulating.  Returns whether jiffies advanced.
        """
        delta = self.root.tk.mono_ns(cycles) - self.last_jiffies_update
        if delta < self.tick_period:
            return False
        ticks = delta // self.tick_period
        self.last_jiffies_update += ticks * self.tick_period
        root = self.root
        root.advance_to(cycles)
        for ns in self.periodic:
            if ns is not root:
                ns.advance_to(cycles)
        return True

    def next_tick_cycles(self, cycles: int) -> int:
        """The first tick boundary at or after `cycles` (not kernel code: lazy planning).

        Tick boundaries are root MONOTONIC multiples of TICK_NSEC on the jiffies grid; the
        boundary is reached at the first cycle where root MONOTONIC reads it.  A lazy
        namespace's hook lands there, so its second_overflow runs on a tick as a kernel's does.
        """
        tk = self._jiffy_tk
        period = self.tick_period
        last = self.last_jiffies_update
        mono = tk.mono_ns(cycles)
        boundary = last + -(-(mono - last) // period) * period
        at = tk.cycles_for_mono(boundary)
        if at < cycles:
            at = tk.cycles_for_mono(boundary + period)
        return at

    def last_tick_cycles(self, cycles: int) -> int:
        """The last tick boundary at or before `cycles` (not kernel code: lazy accumulation).

        A lazy namespace catching up inside an interrupt accumulates only this far, as a
        kernel's timekeeper would have in its last tick.
        """
        tk = self._jiffy_tk
        period = self.tick_period
        last = self.last_jiffies_update
        boundary = last + (tk.mono_ns(cycles) - last) // period * period
        return min(tk.cycles_for_mono(boundary), cycles)

    def _run_due(self, cycles: int) -> None:
        """`__hrtimer_run_queues` for one pass at `cycles`, fair across namespaces.

        While the entries due by `cycles` belong to one namespace (host entries — the tick,
        lazy NTP hooks, daemon and network events — belong to none), or no group has two of
        them, they run strictly by expiry, exactly as with `fair_expiry=False` (the order
        is then the round-robin's too).  Otherwise — or once another entry is queued due, or
        with expiry costs another namespace's entry comes due while the pass runs — the rest
        of the pass is `_run_fair`'s round-robin.
        """
        queue = self.queue
        if not self.fair_expiry:
            HostCore._run_in_order(self, cycles, None)
            return
        cost = self.expiry_cost_ns
        while True:
            entry = queue.pop_sole_due(cycles)  # the common case: one entry due
            if entry is not None:
                entry.expire(cycles)
                if cost:
                    HostCore._spend(self, cost)
                continue
            if not queue.has_due(cycles):
                return
            unfair, names = queue.due_groups(cycles)
            watch = PassWatch(cycles)
            watch.joined.update(names)
            if unfair:
                self._run_fair(watch, [])
                return
            # one namespace: only another's due entry trips; several (one entry each): any
            watch.domain = names[0] if len(names) == 1 else _ANY_NAMESPACE if names else None
            queue.watch(watch)
            try:
                late = HostCore._run_in_order(self, cycles, watch)
            finally:
                queue.unwatch()
            if late:
                self._run_fair(watch, late)
                return
            if not watch.tripped:
                return

    def _run_in_order(self, cycles: int, watch: PassWatch | None) -> list[Item]:
        """Run due entries by expiry.  With a `watch`, stop when it trips, or return the
        entries of another namespace that came due meanwhile (`_late`)."""
        cost = self.expiry_cost_ns
        queue = self.queue
        while (entry := queue.pop_due(cycles)) is not None:
            entry.expire(cycles)
            if cost:
                HostCore._spend(self, cost)
                if watch is not None and (late := HostCore._late(self, watch)):
                    return late
            if watch is not None and watch.tripped:
                break
        return []

    def _late(self, watch: PassWatch) -> list[Item]:
        """Entries of namespaces new to the pass that came due since it began (model, not
        kernel: the kernel runs them in the next pass, after this one's)."""
        key = watch.next_key
        if key is None or not watch.joined:
            return []  # a pass of host entries only stays strict: no namespace to be fair to
        if watch.next_t is None:
            watch.next_t = self.clocksource.time_of_cycles(key + self._lost)
        if self._now < watch.next_t or key > (now := HostCore.cycles_now(self)):
            return []
        return self.queue.late_window(watch, now)

    def _run_fair(self, watch: PassWatch, late: list[Item]) -> None:
        """Round-robin expiry: one entry per namespace per round, by expiry within each.

        Every round runs, for each namespace with entries due by `cycles` when the round
        starts (ordered by their earliest due entry; host entries form one more group), that
        namespace's earliest due entry at its turn.  Entries queued due during the pass join
        their namespace's turn (a new namespace joins the next round); entries cancelled or
        re-armed after being taken for the pass are skipped.  So with k groups due, an
        entry that is j-th in its namespace runs after at most k·j − 1 others in this pass.
        A namespace with nothing in the pass whose entry comes due while it runs (the time
        expiries cost) joins after the expiry in progress, with all of its entries due by
        then; each namespace joins so once per pass, so a pass still ends.
        """
        queue = self.queue
        cycles = watch.cycles
        cost = self.expiry_cost_ns
        heaps: dict[object | None, HeldGroup] = {}
        deferred: set[object | None] = set()
        queue.watch(watch)
        try:
            if late:
                queue.admit(heaps, late, watch)
            while True:
                queue.hold_due(heaps, cycles, watch.joined)
                order = HostCore._round_order(self, heaps)
                if len(order) < 2:
                    if not order or not HostCore._drain_held(self, heaps, order[0], watch):
                        return
                    continue
                for domain in order:
                    queue.hold_due(heaps, cycles, watch.joined)
                    group = heaps[domain]
                    entry = queue.take_held(group)
                    if entry is None:
                        continue
                    entry.expire(group.cycles)
                    if cost:
                        HostCore._spend(self, cost)
                        if late := HostCore._late(self, watch):
                            queue.admit(heaps, late, watch)
                if TRACE.enabled:
                    HostCore._trace_deferred(self, heaps, order, deferred)
        finally:
            queue.unwatch()
            queue.release_held()

    def _drain_held(
        self, heaps: dict[object | None, HeldGroup], domain: object | None, watch: PassWatch
    ) -> bool:
        """Rounds of one group: its held entries by expiry until the list has one due again
        or a namespace joins late (True: a new round must look at them) or the group is done
        (False)."""
        queue = self.queue
        cost = self.expiry_cost_ns
        heap = heaps[domain]
        cycles = watch.cycles
        while not queue.has_due(cycles):
            entry = queue.take_held(heap)
            if entry is None:
                return False
            entry.expire(heap.cycles)
            if cost:
                HostCore._spend(self, cost)
                if late := HostCore._late(self, watch):
                    queue.admit(heaps, late, watch)
                    return True
        return True

    def _round_order(self, heaps: dict[object | None, HeldGroup]) -> list[object | None]:
        """The groups that still hold due entries, earliest first (emptied ones are dropped)."""
        heads = []
        for domain, heap in list(heaps.items()):
            head = self.queue.head_held(heap)
            if head is None:
                del heaps[domain]
            else:
                heads.append((head, domain))
        heads.sort(key=lambda pair: pair[0][:2])
        return [domain for _, domain in heads]

    def _trace_deferred(
        self,
        heaps: dict[object | None, HeldGroup],
        order: list[object | None],
        deferred: set[object | None],
    ) -> None:
        """Trace, once per pass, each namespace a round left with due entries (it waits)."""
        for domain in order:
            heap = heaps.get(domain)
            if domain in deferred or not heap or self.queue.head_held(heap) is None:
                continue
            deferred.add(domain)
            emit(
                "hrtimer_fair_defer",
                ns=getattr(domain, "name", "host"),
                waiting=len(heap),
                groups=len(order),
            )

    def _hang(self, entry_t: mpq, now: int) -> None:
        """Three passes could not catch up: force the next event a little later (≤ 100 ms)."""
        self.hang_detected = True
        self.stats.hang_detections += 1
        for st in self._touched:
            st.hang_detections += 1
        spent = floor_q((self._now - entry_t) * NSEC_PER_SEC)
        self.stats.max_hang_ns = max(self.stats.max_hang_ns, spent)
        delay = self.clockevent.ns_to_cycles(hang_delay_ns(spent))
        HostCore._program_event(self, now + delay, now, force=True)
        if TRACE.enabled:
            emit("hrtimer_hang", spent_ns=spent, delay_ns=hang_delay_ns(spent))


    def _interrupts_until(self, target: mpq) -> None:
        """Take every interrupt programmed at or before true time `target`, in order."""
        while (next_t := self._next_t) is not None and next_t <= target:
            if next_t > self._now:  # max(self._now, next_t), without the call
                self._now = next_t
            HostCore._interrupt(self)
