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

import bisect
import heapq
import itertools
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from mypy_extensions import mypyc_attr
from sortedcontainers import SortedList

if TYPE_CHECKING:
    from collections.abc import Callable

    from gmpy2 import mpq


class ClockOwner(Protocol):
    """What a clock-based entry needs from its namespace."""

    def read_clock_at(self, clockid: int, cycles: int) -> int: ...

    def cycles_for(self, clockid: int, value_ns: int) -> int: ...


@mypyc_attr(allow_interpreted_subclasses=True)
class HostEntry:
    """Something queued on the host; subclasses say what happens when it comes due."""

    __slots__ = ("_item", "key")

    def __init__(self) -> None:
        self.key: int | None = None
        self._item: tuple[int, int, HostEntry] | None = None

    @property
    def queued(self) -> bool:
        return self._item is not None

    @property
    def domain(self) -> object | None:
        """The namespace whose timer this is, for fair expiry; None for the host's own work."""
        return None

    def expire(self, cycles: int) -> None:
        """Called by the host with the interrupt's cycle count; may re-queue itself."""
        raise NotImplementedError


@mypyc_attr(allow_interpreted_subclasses=True)
class CycleEntry(HostEntry):
    """An entry due at a fixed extended cycle (no clock to re-check)."""

    __slots__ = ("action",)

    def __init__(self, action: Callable[[int], None]) -> None:
        super().__init__()
        self.action = action

    def expire(self, cycles: int) -> None:
        self.action(cycles)


Item = tuple[int, int, HostEntry]


class HeldGroup:
    """One domain's entries held for a fair pass, earliest first.

    `run` is what the pass took at once, in order (kept reversed: the earliest is popped off
    the end in O(1)); `late` is a heap of the ones queued due while the pass ran.  `cycles`
    is the count its entries expire at: the pass's, or for a namespace that joined the pass
    late, the count when it joined.
    """

    __slots__ = ("cycles", "late", "run")

    def __init__(self, items: list[Item], cycles: int) -> None:
        items.reverse()
        self.run = items
        self.late: list[Item] = []
        self.cycles = cycles

    def __len__(self) -> int:
        return len(self.run) + len(self.late)

    def push(self, item: Item) -> None:
        heapq.heappush(self.late, item)

    def _late_first(self) -> bool:
        late, run = self.late, self.run
        return bool(late) and (not run or late[0][:2] < run[-1][:2])

    def peek(self) -> Item:
        return self.late[0] if self._late_first() else self.run[-1]

    def pop(self) -> Item:
        return heapq.heappop(self.late) if self._late_first() else self.run.pop()


class PassWatch:
    """What the host watches on the queue during one interrupt pass (`Host._run_due`).

    `cycles`: the pass's cycle count (what is due by it runs in this pass); `domain`: the
    one namespace a strict-order pass is running (`tripped` turns True when another's entry
    is queued due by `cycles`); `joined`: the namespaces that have had entries in the pass;
    `cursor`: how far past `cycles` the list has been looked at for namespaces new to the
    pass that came due while it ran; `next_key`: the earliest listed key beyond `cursor`,
    and `next_t` the true time the counter reaches it (None: to be worked out again).
    """

    __slots__ = ("cursor", "cycles", "domain", "joined", "next_key", "next_t", "tripped")

    def __init__(self, cycles: int) -> None:
        self.cycles = cycles
        self.domain: object | None = None
        self.joined: set[object] = set()
        self.cursor = cycles
        self.next_key: int | None = None
        self.next_t: mpq | None = None
        self.tripped = False


def _count_item(lst: SortedList, pos: int, delta: int, index: list[int] | None = None) -> None:
    """An item put into (`delta` 1) or taken out of (−1) sublist `pos` without a split or a
    merge: SortedList's length, and — when the positional index is built — its nodes from
    that sublist's leaf up to the root, as `_expand` and `_delete` update them.  `index`
    is `lst._index` when the caller holds it (see `HostTimerQueue`)."""
    lst._len += delta
    if index is None:
        index = lst._index
    if index:
        child: int = lst._offset + pos
        while child > 0:
            index[child] += delta
            child = (child - 1) >> 1
        index[0] += delta


def _delete_unless_merging(lst: SortedList, lists: list[list[Item]], pos: int, idx: int,
                           maxes: list[Item] | None = None,
                           index: list[int] | None = None) -> bool:
    """`SortedList._delete(pos, idx)` when it merges nothing; False (nothing done) otherwise.

    While sublist `pos` stays above half the load after the removal, or is the only sublist
    and keeps an item, `_delete` only drops the item, sets the sublist's maximum to its new
    last item, and counts it off `_len` and off the positional index's nodes (built only
    over two or more sublists).  That case is done here on the same fields; a merge is left
    to SortedList.  `pop_head` and `remove_item` share it; `maxes` and `index` are
    `lst._maxes` and `lst._index` when the caller holds them.
    """
    sub = lists[pos]
    if len(sub) - 1 <= lst._load >> 1 and (len(lists) > 1 or len(sub) == 1):
        return False
    del sub[idx]
    if idx == len(sub):
        if maxes is None:
            maxes = lst._maxes
        maxes[pos] = sub[-1]
    _count_item(lst, pos, -1, index)
    return True


def pop_head(lst: SortedList, lists: list[list[Item]] | None = None,
             maxes: list[Item] | None = None, index: list[int] | None = None) -> Item:
    """`SortedList.pop(0)` of a non-empty list, with its common case done here.

    Every expiry pops the queue's head, and through SortedList's method that is two
    interpreted calls (`pop`, `_delete`).  Unless the head sublist would merge into the next
    one, `_delete_unless_merging` does `_delete(0, 0)` on the same fields; a merge is left to
    SortedList.  A differential test compares the whole internal state with `pop(0)`'s.
    `lists`, `maxes` and `index` are `lst._lists`, `lst._maxes` and `lst._index` when the
    caller holds them (see `HostTimerQueue`).
    """
    if lists is None:
        lists = lst._lists
    item: Item = lists[0][0]
    if _delete_unless_merging(lst, lists, 0, 0, maxes, index):
        return item
    popped: Item = lst.pop(0)
    return popped


def add_item(lst: SortedList, item: Item, lists: list[list[Item]] | None = None,
             maxes: list[Item] | None = None, index: list[int] | None = None) -> None:
    """`SortedList.add(item)`, with its common case done here (as `pop_head` does for pops).

    Every arming and every re-arm adds an item, and through SortedList's method that is two
    interpreted calls (`add`, `_expand`).  Unless the list is empty or the sublist the item
    goes into would split, `add` only puts the item in that sublist (appending it, and
    raising that sublist's maximum, when it is beyond every maximum), counts it on `_len`
    and — if the positional index is built — adds one to the index's nodes from that leaf
    up to the root.  That case is done here on the same fields; the others are left to
    SortedList.  The differential test of `pop_head` covers this too; `lists`, `maxes` and
    `index` are as in `pop_head`.
    """
    if maxes is None:
        maxes = lst._maxes
    if not maxes:
        lst.add(item)
        return
    if lists is None:
        lists = lst._lists
    pos = bisect.bisect_right(maxes, item)
    last = pos == len(maxes)
    if last:
        pos -= 1
    sub = lists[pos]
    if len(sub) >= lst._load << 1:  # one more would split it
        lst.add(item)
        return
    if last:
        sub.append(item)
        maxes[pos] = item
    else:
        bisect.insort_right(sub, item)
    _count_item(lst, pos, 1, index)


def remove_item(lst: SortedList, item: Item, lists: list[list[Item]] | None = None,
                maxes: list[Item] | None = None, index: list[int] | None = None) -> None:
    """`SortedList.remove(item)`, with its common case done here (as `pop_head` does).

    Every re-arm of a queued entry (a rekey, a lazy namespace's re-planned hook) removes its
    old item first, and through SortedList's method that is two interpreted calls (`remove`,
    `_delete`).  The item is found as `remove` finds it and, unless its sublist would merge,
    dropped by `_delete_unless_merging`; a merge, and an item that is not there (SortedList
    raises), are left to SortedList.  The differential test of `pop_head` covers this too;
    `lists`, `maxes` and `index` are as in `pop_head`.
    """
    if maxes is None:
        maxes = lst._maxes
    pos = bisect.bisect_left(maxes, item)
    if pos < len(maxes):
        if lists is None:
            lists = lst._lists
        idx = bisect.bisect_left(lists[pos], item)  # < its length: the maximum is ≥ item
        if lists[pos][idx] == item and _delete_unless_merging(lst, lists, pos, idx, maxes,
                                                              index):
            return
    lst.remove(item)


@mypyc_attr(allow_interpreted_subclasses=True)
class HostTimerQueue:
    """Entries ordered by (host cycles, arming order).

    During a fair expiry pass (`Host._run_due`) the entries due at the pass's cycle count are
    *held*: taken off the ordered list into the host's per-namespace heaps, but still queued
    as far as anyone else can tell (`queued`, `remove`, re-arming and snapshots see them).
    Cancelling or re-arming a held entry takes it out of the hold, so the pass skips it.
    `watch(PassWatch)` lets the host see, while a pass runs, an entry of another namespace
    queued due by the pass's cycles (`tripped`) and the earliest key beyond its cursor.
    """

    __slots__ = ("_held", "_index", "_list", "_lists", "_maxes", "_seq", "_watch")

    def __init__(self) -> None:
        self._list: SortedList = SortedList()
        # SortedList's sublists, their maxima and its positional index: each one list
        # object for the SortedList's life (its methods change them only in place), held
        # here as typed fields, which compiled code reads without an attribute lookup
        self._lists: list[list[Item]] = self._list._lists
        self._maxes: list[Item] = self._list._maxes
        self._index: list[int] = self._list._index
        self._seq = itertools.count()
        self._held: dict[HostEntry, Item] = {}
        self._watch: PassWatch | None = None

    def __len__(self) -> int:
        return len(self._list) + len(self._held)

    def _unlink(self, entry: HostEntry, item: Item) -> None:
        # Items are compared with ==, not `is`: the arming sequence number makes an item
        # unique, and a compiled build re-boxes the tuple each time it is stored.
        held = self._held
        if held and held.get(entry) == item:
            del held[entry]
        else:
            remove_item(self._list, item, self._lists, self._maxes, self._index)

    def add(self, entry: HostEntry, key: int) -> None:
        """Queue `entry` at `key` cycles (re-queues it if it was queued already)."""
        if entry._item is not None:
            self._unlink(entry, entry._item)
        item = (key, next(self._seq), entry)
        entry.key = key
        entry._item = item
        add_item(self._list, item, self._lists, self._maxes, self._index)
        watch = self._watch
        if watch is not None:
            if key <= watch.cycles:
                domain = entry.domain
                if domain is not None and domain is not watch.domain:
                    watch.tripped = True
            elif key > watch.cursor and (watch.next_key is None or key < watch.next_key):
                watch.next_key = key
                watch.next_t = None

    def remove(self, entry: HostEntry) -> bool:
        """Dequeue `entry`; False if it was not queued."""
        if entry._item is None:
            return False
        self._unlink(entry, entry._item)
        entry._item = None
        return True

    def entries(self) -> list[HostEntry]:
        """A snapshot of the queued entries, earliest first."""
        items = list(self._list)
        if self._held:
            items = sorted([*items, *self._held.values()])
        return [item[2] for item in items]

    def first_key(self) -> int | None:
        lists = self._lists  # the head sublist: SortedList's own `lst[0]`, inlined
        key: int | None = lists[0][0][0] if lists else None
        if self._held:
            low = min(item[0] for item in self._held.values())
            key = low if key is None or low < key else key
        return key

    def pop_due(self, cycles: int) -> HostEntry | None:
        """Dequeue and return the earliest entry whose key ≤ `cycles`, or None."""
        lists = self._lists
        if not lists or lists[0][0][0] > cycles:
            return None
        item = pop_head(self._list, lists, self._maxes, self._index)
        entry = item[2]
        entry._item = None
        return entry

    def pop_sole_due(self, cycles: int) -> HostEntry | None:
        """`pop_due` if exactly one listed entry is due by `cycles`; None otherwise.

        The first two items are read off SortedList's sublists directly (`_lists`, sorted
        and never empty): the same items `lst[0]` and `lst[1]` give, without their calls.
        """
        lists = self._lists
        if not lists:
            return None
        head = lists[0]
        if head[0][0] > cycles:
            return None
        if len(head) > 1:
            if head[1][0] <= cycles:
                return None
        elif len(lists) > 1 and lists[1][0][0] <= cycles:
            return None
        item = pop_head(self._list, lists, self._maxes, self._index)
        entry = item[2]
        entry._item = None
        return entry

    def has_due(self, cycles: int) -> bool:
        """Whether the ordered list holds an entry due by `cycles`."""
        lists = self._lists
        return bool(lists) and lists[0][0][0] <= cycles

    def due_groups(self, cycles: int) -> tuple[bool, list[object]]:
        """(whether strict order would be unfair, the namespaces) for the entries due by
        `cycles`.

        Strict order is fair unless two namespaces are due and some group (a namespace, or
        the host entries) has two entries due: with one entry per group the first round of
        the round-robin is the strict order.  The due prefix is scanned until that is known.
        """
        lst = self._list
        seen: set[object | None] = set()
        names: list[object] = []
        repeat = False
        for item in lst.islice(0, lst.bisect_left((cycles + 1,))):
            domain = item[2].domain
            if domain in seen:
                repeat = True
            else:
                seen.add(domain)
                if domain is not None:
                    names.append(domain)
            if repeat and len(names) > 1:
                return True, names
        return False, names

    def watch(self, watch: PassWatch) -> None:
        """Watch additions for one pass (see `PassWatch`)."""
        self._watch = watch
        watch.next_key = self.first_key_after(watch.cursor)
        watch.next_t = None

    def unwatch(self) -> None:
        self._watch = None

    def first_key_after(self, cycles: int) -> int | None:
        """The earliest listed key > `cycles`, or None."""
        lst = self._list
        i = lst.bisect_left((cycles + 1,))
        return lst[i][0] if i < len(lst) else None

    def late_window(self, watch: PassWatch, now: int) -> list[Item]:
        """The listed entries, due in (cursor, now], of namespaces not yet in the pass.

        Left on the list (`admit` takes them); the cursor moves to `now` whatever is found.
        """
        lst = self._list
        lo = lst.bisect_left((watch.cursor + 1,))
        hi = lst.bisect_left((now + 1,))
        joined = watch.joined
        window: list[Item] = list(lst.islice(lo, hi))
        new = {d for item in window if (d := item[2].domain) is not None and d not in joined}
        watch.cursor = now
        watch.next_key = lst[hi][0] if hi < len(lst) else None
        watch.next_t = None
        return [item for item in window if item[2].domain in new] if new else []

    def admit(self, groups: dict[object | None, HeldGroup], items: list[Item],
              watch: PassWatch) -> None:
        """Hold `late_window`'s `items` for the pass: their namespaces join it."""
        held = self._held
        fresh: dict[object | None, list[Item]] = {}
        for item in items:
            self._list.remove(item)
            entry = item[2]
            held[entry] = item
            fresh.setdefault(entry.domain, []).append(item)
        for domain, run in fresh.items():
            groups[domain] = HeldGroup(run, watch.cursor)
            watch.joined.add(domain)

    def hold_due(
        self, groups: dict[object | None, HeldGroup], cycles: int, joined: set[object]
    ) -> None:
        """Move every listed entry due by `cycles` into `groups` (by domain, earliest first);
        their namespaces go into `joined`."""
        lst = self._list
        if not lst or lst[0][0] > cycles:
            return
        count = lst.bisect_left((cycles + 1,))
        items: list[Item] = list(lst.islice(0, count))
        del lst[:count]
        held = self._held
        fresh: dict[object | None, list[Item]] = {}
        for item in items:
            entry = item[2]
            held[entry] = item
            domain = entry.domain
            group = groups.get(domain)
            if group is None:
                fresh.setdefault(domain, []).append(item)
            else:
                group.push(item)
        for domain, run in fresh.items():
            groups[domain] = HeldGroup(run, cycles)
            if domain is not None:
                joined.add(domain)

    def take_held(self, group: HeldGroup) -> HostEntry | None:
        """Pop `group`'s earliest entry still held (cancelled or re-armed ones are dropped)."""
        held = self._held
        while group:
            item = group.pop()
            entry = item[2]
            if held.get(entry) == item:
                del held[entry]
                entry._item = None
                return entry
        return None

    def head_held(self, group: HeldGroup) -> Item | None:
        """`group`'s earliest item still held, dropping stale ones; None when none is left."""
        held = self._held
        while group:
            item = group.peek()
            if held.get(item[2]) == item:
                return item
            group.pop()
        return None

    def release_held(self) -> None:
        """End of a fair pass: whatever is still held goes back on the ordered list."""
        held = self._held
        if held:
            self._list.update(held.values())
            held.clear()


_QH = TypeVar("_QH", bound="QueueHost")
_OW = TypeVar("_OW", bound=ClockOwner)


@mypyc_attr(allow_interpreted_subclasses=True)
class ClockEntry(HostEntry, Generic[_QH, _OW]):
    """A deadline in a namespace clock, queued on the host and re-checked when it comes due.

    `arm` converts the deadline to host cycles with the owner's current conversion.  When the
    host reaches that cycle, `expire` re-reads the owner's clock: if it has not reached the
    deadline (the namespace slowed down, was set back, or a dither step moved the answer by a
    cycle) the entry is queued again at the freshly computed cycle — it never fires early.
    Subclasses implement `fire`.
    """

    __slots__ = ("clockid", "expires", "owner", "queue_host")

    def __init__(self, host: _QH, owner: _OW, clockid: int, expires: int) -> None:
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

    def note_early(self, entry: ClockEntry[Any, Any]) -> None: ...


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
