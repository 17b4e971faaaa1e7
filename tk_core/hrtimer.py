"""The one host timer queue every namespace shares.

Entries are ordered by *host expiry in extended cycles*, the only time base every namespace
has in common.  An entry that stands for a deadline in some namespace clock (a tick, a POSIX
timer, a sleep) is converted to cycles with that namespace's current conversion when it is
queued; when it comes due the host re-reads the namespace clock and fires it only if the
clock really has reached the deadline, otherwise it is queued again at the freshly computed
cycle (never early).  Entries that are already in cycles (a lazy namespace's NTP hook) fire
as they come due.

`sortedcontainers.SortedList` keeps the order: insertion, removal and the earliest entry are
all O(log n), and removal by identity is what makes "re-key only this namespace's timers"
cheap however many other timers are queued.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Protocol

from sortedcontainers import SortedList

if TYPE_CHECKING:
    from collections.abc import Callable


class ClockOwner(Protocol):
    """What a clock-based entry needs from its namespace."""

    def read_clock_at(self, clockid: int, cycles: int) -> int: ...

    def cycles_for(self, clockid: int, value_ns: int) -> int: ...


class HostEntry:
    """Something queued on the host; subclasses say what happens when it comes due."""

    __slots__ = ("_item", "key")

    def __init__(self) -> None:
        self.key: int | None = None
        self._item: tuple[int, int, HostEntry] | None = None

    @property
    def queued(self) -> bool:
        return self._item is not None

    def expire(self, cycles: int) -> None:
        """Called by the host with the interrupt's cycle count; may re-queue itself."""
        raise NotImplementedError


class CycleEntry(HostEntry):
    """An entry due at a fixed extended cycle (no clock to re-check)."""

    __slots__ = ("action",)

    def __init__(self, action: Callable[[int], None]) -> None:
        super().__init__()
        self.action = action

    def expire(self, cycles: int) -> None:
        self.action(cycles)


class HostTimerQueue:
    """Entries ordered by (host cycles, arming order)."""

    __slots__ = ("_list", "_seq")

    def __init__(self) -> None:
        self._list: SortedList = SortedList()
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._list)

    def add(self, entry: HostEntry, key: int) -> None:
        """Queue `entry` at `key` cycles (re-queues it if it was queued already)."""
        if entry._item is not None:
            self._list.remove(entry._item)
        item = (key, next(self._seq), entry)
        entry.key = key
        entry._item = item
        self._list.add(item)

    def remove(self, entry: HostEntry) -> bool:
        """Dequeue `entry`; False if it was not queued."""
        if entry._item is None:
            return False
        self._list.remove(entry._item)
        entry._item = None
        return True

    def entries(self) -> list[HostEntry]:
        """A snapshot of the queued entries, earliest first."""
        return [item[2] for item in self._list]

    def first_key(self) -> int | None:
        return self._list[0][0] if self._list else None

    def pop_due(self, cycles: int) -> HostEntry | None:
        """Dequeue and return the earliest entry whose key ≤ `cycles`, or None."""
        if not self._list or self._list[0][0] > cycles:
            return None
        item: tuple[int, int, HostEntry] = self._list.pop(0)
        entry = item[2]
        entry._item = None
        return entry


class ClockEntry(HostEntry):
    """A deadline in a namespace clock, queued on the host and re-checked when it comes due.

    `arm` converts the deadline to host cycles with the owner's current conversion.  When the
    host reaches that cycle, `expire` re-reads the owner's clock: if it has not reached the
    deadline (the namespace slowed down, was set back, or a dither step moved the answer by a
    cycle) the entry is queued again at the freshly computed cycle — it never fires early.
    Subclasses implement `fire`.
    """

    __slots__ = ("clockid", "expires", "owner", "queue_host")

    def __init__(self, host: QueueHost, owner: ClockOwner, clockid: int, expires: int) -> None:
        super().__init__()
        self.queue_host = host
        self.owner = owner
        self.clockid = clockid
        self.expires = expires

    def arm(self) -> None:
        self.queue_host.enqueue(self, self.owner.cycles_for(self.clockid, self.expires))

    def cancel(self) -> bool:
        return self.queue_host.queue.remove(self)

    def expire(self, cycles: int) -> None:
        now = self.owner.read_clock_at(self.clockid, cycles)
        if now < self.expires:
            self.queue_host.note_early(self)
            self.arm()
            return
        self.fire(cycles, now)

    def fire(self, cycles: int, now: int) -> None:
        raise NotImplementedError


class QueueHost(Protocol):
    """What entries need from the host: its queue, enqueueing, statistics."""

    queue: HostTimerQueue

    def enqueue(self, entry: HostEntry, key: int) -> None: ...

    def note_early(self, entry: ClockEntry) -> None: ...


def hrtimer_forward(expires: int, now: int, interval: int, resolution: int = 1) -> tuple[int, int]:
    """`hrtimer_forward`: (overruns, new expiry) so that the new expiry is after `now`.

    Returns (0, expires) unchanged when `now` is before the expiry; otherwise steps the
    expiry forward by whole intervals (at least the timer resolution) past `now`.
    """
    delta = now - expires
    if delta < 0:
        return 0, expires
    if interval < resolution:
        interval = resolution
    orun = 0
    if delta >= interval:
        orun = delta // interval
        expires += orun * interval
        if expires > now:
            return orun, expires
    return orun + 1, expires + interval
