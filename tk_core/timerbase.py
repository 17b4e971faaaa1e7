"""Timer bases: namespace timers on the one host queue, and the per-timekeeper index.

A *timer base* belongs to one timekeeper (a `TimekeeperNamespace`, or the root for every
offsets namespace, whose timers Linux converts to host time when they are armed).  It knows
which of the queued entries were converted with its timekeeper, so that whatever that
timekeeper does touches only its own timers:

* `clock_was_set` (settime, ADJ_SETOFFSET, a leap second, ADJ_TAI, resume) re-keys only the
  entries on the wall clocks (REALTIME, TAI) — O(k log n) for k of them among n queued;
* a rate rise (adjtimex, an NTP slew step) may leave keys *late*.  An O(1) filter per group
  bounds how late; only when it passes half of `host.rekey_slack_ns` does the base look at
  its entries (O(k)) and re-key those whose fresh key is more than that much earlier.  Keys
  left *early* (the rate fell) cost nothing until they come due: the entry re-reads the
  clock and re-arms with the exact inverse (never early).  `host.requeue_on_adjust` instead
  re-keys the whole base at every change of NTP's rate.

Keys.  The ±1 mult dither must neither wake timers early nor force re-keys.  A near entry
(one unit of mult over its distance is worth at most half the slack) is keyed with the
exact inverse of the conversion at the bottom of the dither (NTP's base mult; the current
mult when the dither bit is clear, `Timekeeper.cycles_for_mono`): the dither can make it
late by that half slack at most, never early.  A far entry is keyed at the top of the dither
(base + 1): the dither can make it early (one re-check, then a near re-arm), never late.
REALTIME uses the hrtimer view of ntp.c/hrtimer.c leap insertion (a): from the monotonic instant of
a pending leap
insertion on, the REALTIME offset is offs_real − 1 s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ntp.trace import TRACE, emit

from .clockids import CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, WALL_CLOCKS
from .host_core import HostCore
from .hrtimer import ClockEntry

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from .host import Host
    from .host_stats import NamespaceStats
    from .namespace import Namespace, TimekeeperNamespace
    from .timekeeper import Timekeeper

NSEC_PER_SEC: Final = 1_000_000_000
#: Re-key reasons after which an entry found due was made due by a clock step.
STEP_REASONS = frozenset({"clock_was_set", "leap_state", "hrtimer_update_base"})


def hrtimer_now(tk: Timekeeper, clockid: int, cycles: int) -> int:
    """The hrtimer base time at `cycles` (`ktime_get_update_offsets_now` plus the base offset).

    REALTIME gets the precise leap offset: once MONOTONIC reaches `next_leap_ktime` the offset
    is offs_real − 1 s, so REALTIME timers see the inserted second start exactly at midnight.
    """
    mono = tk.mono_ns(cycles)
    if clockid == CLOCK_MONOTONIC:
        return mono
    if clockid == CLOCK_REALTIME:
        if mono >= tk.next_leap_ktime:
            return mono + tk.offs_real - NSEC_PER_SEC
        return mono + tk.offs_real
    if clockid == CLOCK_BOOTTIME:
        return mono + tk.offs_boot
    return mono + tk.offs_tai


def ns_timer_now(ns: Namespace, clockid: int, cycles: int) -> int:
    """A namespace's own reading of `clockid` as its timers see it (REALTIME with the leap view).

    Goes through the namespace's public read path (`read_clock_at`, offsets included), so it
    is an independent check of what the timer base computed.
    """
    now = ns.read_clock_at(clockid, cycles)
    if clockid == CLOCK_REALTIME:
        tk = ns.timer_domain.tk
        if tk.mono_ns(cycles) >= tk.next_leap_ktime:
            now -= NSEC_PER_SEC
    return now


def mono_target(tk: Timekeeper, clockid: int, value: int) -> int:
    """The first MONOTONIC instant at which the hrtimer view of `clockid` reads ≥ value."""
    if clockid == CLOCK_MONOTONIC:
        return value
    if clockid == CLOCK_REALTIME:
        target = value - tk.offs_real
        return target + NSEC_PER_SEC if target >= tk.next_leap_ktime else target
    if clockid == CLOCK_BOOTTIME:
        return value - tk.offs_boot
    return value - tk.offs_tai


def dither_top(tk: Timekeeper) -> int:
    """The fastest mult the ±1 dither can use before NTP's rate changes (base + 1)."""
    if tk.ntp_err_mult == 0 and tk.ntp_error_rate() == 0:
        return tk.mult
    return tk.mult - tk.ntp_err_mult + 1


def cycles_from(tk: Timekeeper, target_mono: int, now: int, mult: int) -> int:
    """First cycle ≥ now at which MONOTONIC would reach `target_mono` if mult were `mult`."""
    done = (now - tk.cycle_last) * tk.mult + tk.xtime_nsec
    need = ((target_mono - tk.base_mono) << tk.shift) - done
    if need <= 0:
        return now
    return now + -(-need // mult)


class _Group:
    """Entries keyed the same way, with an O(1) filter on how late a rate rise can make them.

    Since `since` every entry was keyed with a mult ≥ `mult_min` (or has been checked against
    the rate then in force) and no key is beyond `key_far`; the observed rate has been at most
    `mult_max`.  So no entry has become later than (key_far − since)·(mult_max − mult_min) ns
    (shifted) beyond what the last exact check allowed.
    """

    __slots__ = ("entries", "key_far", "mult_max", "mult_min", "since")

    def __init__(self) -> None:
        self.entries: dict[TimerEntry, None] = {}
        self.mult_min = self.mult_max = self.key_far = self.since = 0

    def note(self, entry: TimerEntry, key: int, mult: int, now: int) -> None:
        if not self.entries:
            self.mult_min = self.mult_max = mult
            self.key_far, self.since = key, now
        else:
            self.mult_min = min(self.mult_min, mult)
            self.key_far = max(self.key_far, key)
        self.entries[entry] = None

    def late_bound(self, obs: int, shift: int) -> int:
        """The filter: how much later (ns) than last checked any entry may now be."""
        self.mult_max = max(self.mult_max, obs)
        if not self.entries or self.mult_max <= self.mult_min:
            return 0
        return ((self.key_far - self.since) * (self.mult_max - self.mult_min)) >> shift

    def baseline(self, obs: int, now: int) -> None:
        """After an exact check at rate `obs`: the filter starts again from here."""
        self.mult_min = self.mult_max = obs
        self.since = now
        keys = [e.key for e in self.entries if e.key is not None]
        self.key_far = max(keys) if keys else now


class TimerBase:
    """The timers converted with one timekeeper (see the module docstring)."""

    __slots__ = ("_base_mult", "_leap", "cancel_list", "far", "host", "near", "ns", "wall")

    def __init__(self, ns: TimekeeperNamespace) -> None:
        self.ns = ns
        self.host: Host = ns.host
        self.near = _Group()
        self.far = _Group()
        self.wall: dict[TimerEntry, None] = {}
        self.cancel_list: dict[Any, None] = {}
        self._leap = ns.tk.next_leap_ktime
        self._base_mult = ns.tk.mult - ns.tk.ntp_err_mult

    def __len__(self) -> int:
        return len(self.near.entries) + len(self.far.entries)

    def entries(self) -> list[TimerEntry]:
        return [*self.near.entries, *self.far.entries]

    # -- keying -------------------------------------------------------------------------

    def _far(self, key: int, now: int) -> bool:
        """Far: one unit of mult over the distance is worth more than half the slack."""
        return (key - now) >> self.ns.tk.shift > self.host.rekey_slack_ns >> 1

    def fresh_key(self, entry: TimerEntry, now: int) -> tuple[int, bool]:
        """(key, far) for `entry` with today's conversion, without filing it."""
        tk = self.ns.tk
        target = mono_target(tk, entry.clockid, entry.expires)
        key = tk.cycles_for_mono(target)
        if not self._far(key, now):
            low = tk.mult - tk.ntp_err_mult
            return (key if low == tk.mult else cycles_from(tk, target, now, low)), False
        top = dither_top(tk)
        return (key if top == tk.mult else cycles_from(tk, target, now, top)), True

    def key_for(self, entry: TimerEntry, now: int) -> int:
        """Key `entry` (dither bottom when near, dither top when far) and file it."""
        key, far = self.fresh_key(entry, now)
        self._drop(entry)
        tk = self.ns.tk
        if far:
            group = self.far
            group.note(entry, key, dither_top(tk), now)
        else:
            group = self.near
            group.note(entry, key, tk.mult - tk.ntp_err_mult, now)
        entry.group = group
        if entry.clockid in WALL_CLOCKS and not entry.in_wall:
            self.wall[entry] = None
            entry.in_wall = True
        return key

    def _drop(self, entry: TimerEntry) -> None:
        # filed in one group at most (`key_for` drops before it files), the one the entry
        # names: one dictionary looked at, not both (every expiry's path)
        group = entry.group
        if group is not None:
            group.entries.pop(entry, None)
            entry.group = None

    def discard(self, entry: TimerEntry) -> None:
        """`entry` is no longer armed."""
        self._drop(entry)
        if entry.in_wall:
            self.wall.pop(entry, None)
            entry.in_wall = False

    def rekey(self, entries: Iterable[TimerEntry], reason: str) -> int:
        """Convert the queued `entries` again with today's conversion; returns how many."""
        host = self.host
        now = host.cycles_now()
        count = 0
        for entry in list(entries):
            if not entry.queued:
                continue
            key = self.key_for(entry, now)
            host.enqueue(entry, key)
            entry.rekeys += 1
            entry.stats.rekeys += 1
            entry.stats.rearms += 1
            if key <= now and reason in STEP_REASONS:
                entry.stepped = True  # the clock jumped past it: it fires at once
            count += 1
        host.stats.rekeys += count
        host.stats.rearms += count
        if TRACE.enabled and count:
            emit("timer_rekey", ns=self.ns.name, reason=reason, count=count)
        return count

    def rekey_group(self, group: _Group, obs: int, reason: str) -> int:
        """Re-key every queued entry of `group`; its filter restarts at the rate `obs`."""
        count = self.rekey(list(group.entries), reason)
        group.baseline(obs, self.host.cycles_now())
        return count

    def check_group(self, group: _Group, obs: int) -> None:
        """Re-key the entries of `group` that the rate `obs` would make late (filter first)."""
        if obs > group.mult_max:  # late_bound's bookkeeping, then its cheap exits, inlined
            group.mult_max = obs
        if not group.entries or group.mult_max <= group.mult_min:
            return
        tk = self.ns.tk
        half = self.host.rekey_slack_ns >> 1
        if group.late_bound(obs, tk.shift) <= half:
            return
        now = self.host.cycles_now()
        late = []
        for entry in group.entries:
            if entry.queued and entry.key is not None:
                key, _ = self.fresh_key(entry, now)
                if ((entry.key - key) * obs) >> tk.shift > half:
                    late.append(entry)
        if late:
            self.rekey(late, "rate_rise")
        group.baseline(obs, now)

    # -- what the timekeeper tells us ---------------------------------------------------

    def clock_was_set(self, _ns: Any = None) -> None:
        """Listener for `clock_was_set`: re-key the wall-clock timers, tell the timerfds."""
        self.host.stale_bases.pop(self, None)
        self._leap = self.ns.tk.next_leap_ktime
        if self.wall:
            self.rekey(self.wall, "clock_was_set")
        self._tell_timerfds()

    def clock_was_set_masked(self) -> None:
        """`clock_was_set` with a mask that selects no base (do_adjtimex on 5.15-6.10).

        No CPU is told to re-evaluate its REALTIME/TAI bases; the timerfds are told all the
        same (`timerfd_clock_was_set` follows the IPIs unconditionally).  The new offsets reach
        the queued wall timers at the next hrtimer interrupt (`update_base`).
        """
        self.host.stale_bases[self] = None
        self._tell_timerfds()

    def update_base(self) -> None:
        """`hrtimer_update_base` at an interrupt: the wall timers follow the new offsets."""
        self._leap = self.ns.tk.next_leap_ktime
        if self.wall:
            self.rekey(self.wall, "hrtimer_update_base")

    def _tell_timerfds(self) -> None:
        for tfd in list(self.cancel_list):
            tfd.clock_was_set(self.ns.tk.offs_real)

    def conversion_changed(self) -> None:
        """After an accumulation or adjtimex: re-key what a faster rate would make late.

        With `host.requeue_on_adjust` every change of NTP's rate (mult without the dither bit)
        re-keys all of this base's timers at once instead.
        """
        tk = self.ns.tk
        base_mult = tk.mult - tk.ntp_err_mult
        if not self.near.entries and not self.far.entries:
            self._leap = tk.next_leap_ktime
            self._base_mult = base_mult
            return
        if tk.next_leap_ktime != self._leap:
            self._leap = tk.next_leap_ktime
            self.rekey([e for e in self.wall if e.clockid == CLOCK_REALTIME], "leap_state")
        if self.host.requeue_on_adjust:
            if base_mult != self._base_mult:
                self._base_mult = base_mult
                self.rekey_group(self.near, base_mult, "requeue_on_adjust")
                self.rekey_group(self.far, dither_top(tk), "requeue_on_adjust")
            return
        self.check_group(self.near, base_mult)
        self.check_group(self.far, dither_top(tk))


class TimerEntry(ClockEntry["Host", "TimekeeperNamespace"]):
    """One armed namespace timer on the host queue (always the Host's queue, converted with
    its base's timekeeper namespace: hence ClockEntry's type parameters).

    `clockid`/`expires` are in the base's hrtimer clock (after the POSIX REALTIME-relative →
    MONOTONIC rule and the timens conversion); `check_clockid`/`check_expires` are the same
    deadline in the namespace's own clock, for `host.check_never_early`.  `on_fire(entry,
    now)` is called with the base clock's time at the expiry.  `rechecks` and `rekeys` count,
    over the entry's life, early re-checks and re-keys.
    """

    __slots__ = (
        "base",
        "check_clockid",
        "check_expires",
        "group",
        "in_wall",
        "ns",
        "on_fire",
        "rechecks",
        "rekeys",
        "stats",
        "stepped",
    )

    def __init__(
        self, base: TimerBase, ns: Namespace, on_fire: Callable[[TimerEntry, int], None]
    ) -> None:
        super().__init__(base.host, base.ns, CLOCK_MONOTONIC, 0)
        self.base = base
        self.ns = ns
        self.on_fire = on_fire
        self.stats: NamespaceStats = base.host.stats.per_namespace[ns.name]
        self.check_clockid = CLOCK_MONOTONIC
        self.check_expires = 0
        self.stepped = False
        self.rechecks = 0
        self.rekeys = 0
        self.group: _Group | None = None  # the group of `base` it is filed in, if any
        self.in_wall = False  # in `base.wall`

    def start(self, clockid: int, expires: int, check_clockid: int, check_expires: int) -> None:
        """Arm (or re-arm) at `expires` on the base clock `clockid`."""
        self.clockid = clockid
        self.expires = expires
        self.check_clockid = check_clockid
        self.check_expires = check_expires
        self.stepped = False
        self.arm()
        if TRACE.enabled:
            emit("timer_arm", ns=self.ns.name, clockid=clockid, expires=expires, key=self.key)

    @property
    def domain(self) -> Namespace:
        """The namespace whose timer this is (fair expiry's unit), not the timekeeper that
        converts it: an offsets namespace's timers are converted by the root's."""
        return self.ns

    def stop(self) -> None:
        """Disarm: off the queue and out of the index."""
        self.base.discard(self)
        self.queue_host.queue.remove(self)

    def arm(self) -> None:
        host = self.queue_host
        host.enqueue(self, self.base.key_for(self, host.cycles_now()))

    def expire(self, cycles: int) -> None:
        host: HostCore = self.queue_host  # typed as the core: native fields when compiled
        stats = self.stats
        host._touched[stats] = None  # host.touch, inlined (every expiry's path)
        dom = self.owner
        tk = dom.tk
        if cycles - tk.cycle_last >= tk.cycle_interval and dom.update == "lazy":
            # update_wall_time runs only in ticks: accumulate up to the last tick boundary,
            # steering the mult so the clock stays continuous now
            tick = HostCore.last_tick_cycles(host, cycles)
            if tick - tk.cycle_last >= tk.cycle_interval:
                dom.advance_to(tick, steer_at=cycles, last_tick=tick)
        clockid = self.clockid
        now = hrtimer_now(tk, clockid, cycles)
        if now < self.expires:
            self._recheck(cycles, now)
            return
        self.base.discard(self)
        stats.expiries += 1
        host.stats.expiries += 1
        if self.queue_host.check_never_early:  # Host's, settable per host: not in the core
            self._check(cycles)
        # Lateness is measured when this timer's callback runs, by its own clock: with expiry
        # costs, timers earlier in the same interrupt have already used up time.
        later = host._cache_cycles if host._cache_now is host._now else HostCore.cycles_now(host)
        fired = now if later == cycles else hrtimer_now(tk, clockid, later)
        HostCore.note_lateness(host, self, fired - self.expires)
        if TRACE.enabled:
            emit("timer_fire", ns=self.ns.name, clockid=self.clockid, late=now - self.expires)
        self.on_fire(self, now)

    def _recheck(self, cycles: int, now: int) -> None:
        """Early: re-arm with the exact inverse of today's conversion, strictly in the future."""
        host = self.queue_host
        self.rechecks += 1
        self.stats.early_rechecks += 1
        self.stats.rearms += 1
        host.stats.early_rechecks += 1
        host.stats.rearms += 1
        key = max(self.base.key_for(self, cycles), cycles + 1)
        host.enqueue(self, key)
        if TRACE.enabled:
            emit("timer_rearm", ns=self.ns.name, expires=self.expires, now=now, key=key)

    def _check(self, cycles: int) -> None:
        """`check_never_early`: the namespace's own clock must have reached the deadline."""
        now = ns_timer_now(self.ns, self.check_clockid, cycles)
        if now < self.check_expires:
            raise AssertionError(
                f"timer in {self.ns.name!r} fired early: clock {self.check_clockid} reads "
                f"{now} < expiry {self.check_expires}"
            )
