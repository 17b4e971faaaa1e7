"""POSIX timers and clock_nanosleep inside a namespace (kernel/time/posix-timers.c, hrtimer.c).

`ns.timer_create(clockid, callback)` returns a `PosixTimer`; `ns.clock_nanosleep(...)` a
`Sleeper`.  Both arm a `TimerEntry` on the host's one queue through the namespace's timer base.
The rules are Linux's:

* clocks: REALTIME, MONOTONIC, BOOTTIME and TAI.  MONOTONIC_RAW and the COARSE clocks have no
  timers (EOPNOTSUPP); the ALARM and CPU-time clocks are not modelled (EINVAL), nor is any
  unknown id (EINVAL).
* a relative REALTIME timer runs on MONOTONIC (`__hrtimer_init`), so setting the clock does not
  move it; a relative TAI timer stays on TAI and does follow clock settings, as in Linux.
* a relative value is added to the base clock's now with `ktime_add_safe` (saturating at
  KTIME_SEC_MAX s); values of KTIME_SEC_MAX s or more mean KTIME_MAX (`timespec64_to_ktime`).
* in an offsets namespace an absolute MONOTONIC/BOOTTIME value goes through
  `timens_ktime_to_host` once, when armed (t < offset → 0, already expired).
* a periodic timer is forwarded with `hrtimer_forward` when it fires; the overrun handed to the
  callback and kept in `timer.overrun` is `timer_getoverrun`'s: the extra expirations missed
  (0 when on time), clamped to INT_MAX.  The signal is taken as delivered at once, so the
  re-arm (`common_hrtimer_rearm`) happens at the expiry.
* a timer armed with an expiry already past: kernels before 7.3 queue it and fire it from the
  next interrupt.  From 7.3 (`KernelBehaviour.user_timer_expired_sync`; the first 7.x release
  is unsure) `hrtimer_start_range_ns_user` does not queue it when it would be the first timer
  due, and the caller handles it at once (`start_user`): timer_settime counts the fire (the
  signal is queued) before it returns, clock_nanosleep returns without sleeping, and a
  periodic rearm whose forwarded expiry is already past fires again at once.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from .clockids import (
    CLOCK_BOOTTIME,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_COARSE,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME,
    CLOCK_REALTIME_COARSE,
    CLOCK_TAI,
    KNOWN_UNMODELLED,
    clock_name,
)
from .hrtimer import hrtimer_forward
from .timekeeper import KTIME_MAX, KTIME_SEC_MAX, NSEC_PER_SEC
from .timerbase import TimerEntry, hrtimer_now, ns_timer_now

if TYPE_CHECKING:
    from .namespace import Namespace

INT_MAX = (1 << 31) - 1
TIMER_CLOCKS = frozenset({CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI})
NO_TIMER_CLOCKS = frozenset({CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE})


def os_error(code: int, msg: str) -> OSError:
    return OSError(code, f"{errno.errorcode[code]}: {msg}")


def check_timer_clock(clockid: int, allowed: frozenset[int] = TIMER_CLOCKS) -> None:
    """EINVAL for unknown or unmodelled clocks, EOPNOTSUPP for clocks without timers."""
    if clockid in allowed:
        return
    if clockid in NO_TIMER_CLOCKS:
        raise os_error(errno.EOPNOTSUPP, f"{clock_name(clockid)} has no timers")
    if clockid in KNOWN_UNMODELLED:
        raise os_error(errno.EINVAL, f"{clock_name(clockid)} timers are not modelled")
    raise os_error(errno.EINVAL, f"invalid clock id {clockid!r} for a timer")


def timespec_to_ktime(value_ns: int, what: str = "value") -> int:
    """`timespec64_valid` then `timespec64_to_ktime`: int ns ≥ 0, KTIME_SEC_MAX s and up → MAX."""
    if not isinstance(value_ns, int) or isinstance(value_ns, bool):
        raise TypeError(f"{what} must be an int (nanoseconds), got {type(value_ns).__name__}")
    if value_ns < 0:
        raise os_error(errno.EINVAL, f"{what} {value_ns} ns is negative")
    if value_ns >= KTIME_SEC_MAX * NSEC_PER_SEC:
        return KTIME_MAX
    return value_ns


def ktime_add_safe(a: int, b: int) -> int:
    """`ktime_add_safe`: a + b, saturating at KTIME_SEC_MAX seconds on s64 overflow."""
    res = a + b
    if res > KTIME_MAX or res < 0 or res < a or res < b:
        return KTIME_SEC_MAX * NSEC_PER_SEC
    return res


def timens_ktime_to_host(ns: Namespace, clockid: int, t: int) -> int:
    """`timens_ktime_to_host`: an absolute namespace time as host time (offsets model only).

    On s64 overflow of ``t - offset`` the 7.3.4 fix saturates at KTIME_MAX; older kernels wrap
    to a negative expiry, which the hrtimer treats as already due (modelled as 0).
    """
    offset = ns.timer_offset(clockid)
    if offset == 0:
        return t
    if t < offset:
        return 0
    if t - offset <= KTIME_MAX:
        return t - offset
    if ns.host.behaviour.timens_deadline_saturates:
        return KTIME_MAX
    return 0  # the s64 difference wraps negative: an expiry in the past, due at once


def timens_deadline_wraps(ns: Namespace, clockid: int, t: int) -> bool:
    """Whether this kernel wraps ``t - offset`` (an s64 overflow without the 7.3.4 fix)."""
    offset = ns.timer_offset(clockid)
    wraps = offset != 0 and t >= offset and t - offset > KTIME_MAX
    return wraps and not ns.host.behaviour.timens_deadline_saturates


class Arming(NamedTuple):
    """Where a timer goes: base clock and expiry, and the same deadline in the namespace."""

    clockid: int
    expires: int
    check_clockid: int
    check_expires: int


def resolve(ns: Namespace, clockid: int, value: int, absolute: bool) -> Arming:
    """`common_timer_set` / `hrtimer_start_range_ns`: the hrtimer base and expiry for a value."""
    if absolute:
        expires = timens_ktime_to_host(ns, clockid, value)
        if timens_deadline_wraps(ns, clockid, value):
            # The kernel's deadline is the wrapped past one: in namespace time, host 0.
            return Arming(clockid, expires, clockid, ns.timer_offset(clockid))
        return Arming(clockid, expires, clockid, value)
    base = CLOCK_MONOTONIC if clockid == CLOCK_REALTIME else clockid
    dom = ns.timer_domain
    now = hrtimer_now(dom.tk, base, dom.host.cycles_now())
    expires = ktime_add_safe(now, value)
    return Arming(base, expires, base, expires + ns.timer_offset(base))


def start_user(entry: TimerEntry, arming: Arming) -> int | None:
    """`hrtimer_start_range_ns_user`: arm `entry`, or report that it expired already.

    On kernels with `user_timer_expired_sync`, an expiry at or before the base clock's now
    is not queued when it would be the first entry due (no other queued entry is due yet):
    `entry` takes the deadline but stays off the queue, and the base clock's now is returned
    for the caller to handle the expiry at once; it counts as an expiry, not an interrupt.
    Otherwise the entry is queued (`TimerEntry.start`) and None is returned.
    """
    host = entry.queue_host
    if host.behaviour.user_timer_expired_sync:
        cycles = host.cycles_now()
        now = hrtimer_now(entry.owner.tk, arming.clockid, cycles)
        first = host.queue.first_key()
        if now >= arming.expires and (first is None or first > cycles):
            entry.stop()
            entry.clockid, entry.expires, entry.check_clockid, entry.check_expires = arming
            entry.stepped = False
            entry.stats.expiries += 1
            host.stats.expiries += 1
            return now
    entry.start(*arming)
    return None


def remaining_ns(entry: TimerEntry) -> int:
    """Expiry minus the base clock's now (may be ≤ 0 when due but not yet run)."""
    dom = entry.owner
    return entry.expires - hrtimer_now(dom.tk, entry.clockid, dom.host.cycles_now())


def forward_entry(entry: TimerEntry, now: int, interval: int) -> int:
    """`hrtimer_forward` on an entry's expiry; returns the overruns (the check deadline follows)."""
    orun, expires = hrtimer_forward(entry.expires, now, interval)
    entry.check_expires += expires - entry.expires
    entry.expires = expires
    return orun


class PosixTimer:
    """A POSIX interval timer (`timer_create`); see the module docstring."""

    __slots__ = (
        "_armed",
        "_entry",
        "callback",
        "clockid",
        "deleted",
        "fires",
        "interval",
        "ns",
        "overrun",
    )

    def __init__(
        self,
        ns: Namespace,
        clockid: int,
        callback: Callable[[PosixTimer, int], None] | None = None,
    ) -> None:
        check_timer_clock(clockid)
        self.ns = ns
        self.clockid = clockid
        self.callback = callback
        self.interval = 0
        self.overrun = 0
        self.fires = 0
        self.deleted = False
        self._armed = False
        self._entry = TimerEntry(ns.timer_domain.timer_base, ns, self._expired)

    @property
    def armed(self) -> bool:
        return self._armed

    @property
    def entry(self) -> TimerEntry:
        """The host-queue entry (its `expires`, `clockid`, `key`)."""
        return self._entry

    def _alive(self) -> None:
        if self.deleted:
            raise os_error(errno.EINVAL, "timer was deleted")

    def settime(
        self, value_ns: int, interval_ns: int = 0, absolute: bool = False
    ) -> tuple[int, int]:
        """`timer_settime`: arm (value 0 disarms); returns the old (remaining, interval)."""
        self._alive()
        value = timespec_to_ktime(value_ns, "value")
        interval = timespec_to_ktime(interval_ns, "interval")
        old = self.gettime()
        self._entry.stop()
        self._armed = False
        self.interval = 0
        self.overrun = 0
        if value == 0:
            return old
        self.interval = interval
        self._armed = True
        now = start_user(self._entry, resolve(self.ns, self.clockid, value, absolute))
        if now is not None:  # common_timer_set: the signal is queued before returning
            self._expired(self._entry, now)
        return old

    def gettime(self) -> tuple[int, int]:
        """`timer_gettime`: (remaining ns, interval ns); a due but unrun timer reports 1 ns."""
        self._alive()
        if not self._armed:
            return 0, self.interval
        remaining = remaining_ns(self._entry)
        return (remaining if remaining > 0 else 1), self.interval

    def delete(self) -> None:
        """`timer_delete`: disarm for good; later calls fail with EINVAL."""
        self._alive()
        self._entry.stop()
        self._armed = False
        self.deleted = True

    def _expired(self, entry: TimerEntry, now: int) -> None:
        self.fires += 1
        if self.interval:
            orun = forward_entry(entry, now, self.interval)
            self.overrun = min(orun - 1, INT_MAX)
            arming = Arming(entry.clockid, entry.expires, entry.check_clockid, entry.check_expires)
            # common_hrtimer_rearm: time spent in this interrupt may have passed the forwarded
            # expiry already; 7.3 then queues the signal again at once
            again = start_user(entry, arming)
            if again is not None:
                if self.callback is not None:
                    self.callback(self, self.overrun)
                self._expired(entry, again)
                return
        else:
            self.overrun = 0
            self._armed = False
        if self.callback is not None:
            self.callback(self, self.overrun)

    def __repr__(self) -> str:
        return (
            f"PosixTimer({self.ns.name!r}, {clock_name(self.clockid)}, "
            f"armed={self._armed}, interval={self.interval})"
        )


class Sleeper:
    """A `clock_nanosleep`: a one-shot wake-up that calls `callback(sleeper)` when it wakes.

    `done` tells whether it woke; `woke_ns` is the namespace's reading of `clockid` at the
    wake-up (REALTIME as timers see it, with the precise leap offset).
    `interrupt()` models a signal (EINTR): it cancels the sleep and returns the remaining time
    for a relative sleep (rmtp) or None for an absolute one (rmtp is not written then).
    """

    __slots__ = (
        "_entry",
        "absolute",
        "callback",
        "clockid",
        "done",
        "interrupted",
        "ns",
        "woke_ns",
    )

    def __init__(
        self,
        ns: Namespace,
        clockid: int,
        value_ns: int,
        absolute: bool = False,
        callback: Callable[[Sleeper], None] | None = None,
    ) -> None:
        check_timer_clock(clockid)
        value = timespec_to_ktime(value_ns, "value")
        self.ns = ns
        self.clockid = clockid
        self.absolute = absolute
        self.callback = callback
        self.done = False
        self.interrupted = False
        self.woke_ns: int | None = None
        self._entry = TimerEntry(ns.timer_domain.timer_base, ns, self._expired)
        now = start_user(self._entry, resolve(ns, clockid, value, absolute))
        if now is not None:  # hrtimer_nanosleep: an expired deadline returns without sleeping
            self._expired(self._entry, now)

    @property
    def entry(self) -> TimerEntry:
        return self._entry

    def interrupt(self) -> int | None:
        """A signal arrives: stop sleeping; returns rmtp (relative sleeps) or None."""
        if self.done or self.interrupted:
            raise os_error(errno.EINVAL, "the sleep is over")
        remaining = max(0, remaining_ns(self._entry))
        self._entry.stop()
        self.interrupted = True
        return None if self.absolute else remaining

    def _expired(self, entry: TimerEntry, now: int) -> None:
        self.done = True
        self.woke_ns = ns_timer_now(self.ns, self.clockid, self.ns.host.cycles_now())
        if self.callback is not None:
            self.callback(self)
