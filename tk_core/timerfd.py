"""timerfd inside a namespace (fs/timerfd.c), on the host's one timer queue.

What Linux does, and this reproduces:

* clocks: REALTIME, MONOTONIC, BOOTTIME (the ALARM variants are not modelled; TAI and every
  other clock are EINVAL, as `timerfd_create` has it).
* the expiry callback (`timerfd_tmrproc`) only counts: ticks += 1, expired; it never re-arms.
  A periodic timerfd is forwarded (`hrtimer_forward_now`) and restarted when it is read or
  when `gettime` looks at it, and the missed periods are added to the count then.
* `settime` (`timerfd_settime`/`timerfd_setup`) resets the count; value 0 disarms; an absolute
  MONOTONIC/BOOTTIME value in an offsets namespace goes through `timens_ktime_to_host`.
* TFD_TIMER_CANCEL_ON_SET (`cancel_on_set=True`) on an *absolute REALTIME* timer puts it on the
  cancel list (`timerfd_setup_cancel`); on any other timer it is ignored.  When the clock is set
  (`timerfd_clock_was_set`) and the monotonic→realtime offset is not the one last seen, the
  count is bumped and the next `read` fails with ECANCELED (`timerfd_canceled`), dropping the
  count; the timer itself stays armed.  Like the kernel, the offset compared against is the
  one at `timerfd_create` or at the last cancelled read.
* `read` with nothing to report fails with EAGAIN (a non-blocking descriptor).
* from 7.3 (`KernelBehaviour.user_timer_expired_sync`) `settime` with an expiry already past
  counts that expiry before it returns instead of queueing the timer for the next interrupt
  (`posix_timers.start_user`).  The restart of a periodic timerfd on read or gettime
  forwards past the instant it re-arms at, so its expiry is always in the future there.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from .clockids import CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, clock_name
from .posix_timers import (
    check_timer_clock,
    forward_entry,
    os_error,
    remaining_ns,
    resolve,
    start_user,
    timespec_to_ktime,
)
from .timekeeper import KTIME_MAX
from .timerbase import TimerEntry, hrtimer_now

if TYPE_CHECKING:
    from .namespace import Namespace

TFD_CLOCKS = frozenset({CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME})


class TimerFd:
    """A timer file descriptor (`timerfd_create`); see the module docstring."""

    __slots__ = (
        "_entry",
        "clockid",
        "closed",
        "expired",
        "interval",
        "might_cancel",
        "moffs",
        "ns",
        "ticks",
    )

    def __init__(self, ns: Namespace, clockid: int) -> None:
        if clockid not in TFD_CLOCKS:
            check_timer_clock(clockid, TFD_CLOCKS)
        dom = ns.timer_domain
        self.ns = ns
        self.clockid = clockid
        self.ticks = 0
        self.expired = False
        self.interval = 0
        self.might_cancel = False
        self.closed = False
        self.moffs = dom.tk.offs_real
        self._entry = TimerEntry(dom.timer_base, ns, self._expired)

    @property
    def entry(self) -> TimerEntry:
        return self._entry

    def _alive(self) -> None:
        if self.closed:
            raise os_error(errno.EBADF, "timerfd is closed")

    # -- the kernel's pieces --------------------------------------------------------------

    def _expired(self, entry: TimerEntry, now: int) -> None:
        """`timerfd_tmrproc`: count one expiry; no re-arm here."""
        self.expired = True
        self.ticks += 1

    def _forward_restart(self) -> int:
        """`hrtimer_forward_now` + `hrtimer_restart` for an expired periodic timer."""
        entry = self._entry
        dom = entry.owner
        now = hrtimer_now(dom.tk, entry.clockid, dom.host.cycles_now())
        orun = forward_entry(entry, now, self.interval)
        entry.start(entry.clockid, entry.expires, entry.check_clockid, entry.check_expires)
        return orun

    def _setup_cancel(self, absolute: bool, cancel_on_set: bool) -> None:
        """`timerfd_setup_cancel`: only an absolute REALTIME timer may be cancelled on set."""
        cancel_list = self.ns.timer_domain.timer_base.cancel_list
        if self.clockid == CLOCK_REALTIME and absolute and cancel_on_set:
            self.might_cancel = True
            cancel_list[self] = None
        else:
            self.might_cancel = False
            cancel_list.pop(self, None)

    def clock_was_set(self, offs_real: int) -> None:
        """`timerfd_clock_was_set` for this descriptor (called by its timer base)."""
        if self.might_cancel and self.moffs != offs_real:
            self.moffs = KTIME_MAX
            self.ticks += 1

    def _canceled(self) -> bool:
        """`timerfd_canceled`: consume a pending cancellation."""
        if not self.might_cancel or self.moffs != KTIME_MAX:
            return False
        self.moffs = self.ns.timer_domain.tk.offs_real
        return True

    # -- the syscalls ---------------------------------------------------------------------

    def settime(
        self,
        value_ns: int,
        interval_ns: int = 0,
        absolute: bool = False,
        cancel_on_set: bool = False,
    ) -> tuple[int, int]:
        """`timerfd_settime`: returns the old (remaining, interval); value 0 disarms."""
        self._alive()
        value = timespec_to_ktime(value_ns, "value")
        interval = timespec_to_ktime(interval_ns, "interval")
        old = self.gettime()
        self._entry.stop()
        self._setup_cancel(absolute, cancel_on_set)
        self.expired = False
        self.ticks = 0
        self.interval = interval
        if value == 0:
            self._entry.expires = 0
            return old
        now = start_user(self._entry, resolve(self.ns, self.clockid, value, absolute))
        if now is not None:  # timerfd_setup: the expiry is counted before settime returns
            self._expired(self._entry, now)
        return old

    def gettime(self) -> tuple[int, int]:
        """`timerfd_gettime`: (remaining ≥ 0, interval); forwards an expired periodic timer."""
        self._alive()
        if self.expired and self.interval:
            self.expired = False
            self.ticks += self._forward_restart() - 1
        return max(0, remaining_ns(self._entry)), self.interval

    def read(self) -> int:
        """`read(2)`: expirations since the last read; EAGAIN if none, ECANCELED after a set."""
        self._alive()
        if not self.ticks:
            raise os_error(errno.EAGAIN, "no expirations yet")
        if self._canceled():
            self.ticks = 0
            self.expired = False
            raise os_error(errno.ECANCELED, "the clock was set")
        ticks = self.ticks
        if self.expired and self.interval:
            ticks += self._forward_restart() - 1
        self.expired = False
        self.ticks = 0
        if not ticks:
            # timerfd_read reports only a non-zero count; otherwise its -EAGAIN stands
            raise os_error(errno.EAGAIN, "no expirations to report")
        return ticks

    def close(self) -> None:
        """`close(2)`: disarm and leave the cancel list."""
        if self.closed:
            return
        self._entry.stop()
        self.ns.timer_domain.timer_base.cancel_list.pop(self, None)
        self.closed = True

    def __repr__(self) -> str:
        return f"TimerFd({self.ns.name!r}, {clock_name(self.clockid)}, ticks={self.ticks})"
