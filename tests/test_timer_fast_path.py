"""The timer path's shortcuts give bit-identical results to the plain paths they replace.

Two shortcuts sit on every expiry's path:

* `Host.sample` at a programmed event takes the unmasked count from the event itself
  (`_program_event` keeps the pair) instead of `Clocksource.cycles_at`, a rational product;
* `HostTimerQueue.first_key` / `has_due` / `pop_due` / `pop_sole_due` read the head items off
  SortedList's sublists instead of going through `SortedList.__getitem__`, and pop the head
  with `hrtimer.pop_head` instead of `SortedList.pop(0)`.

The reference host below puts the plain versions back (the public SortedList API, and
`cycles_at` at every sample); random timer workloads over every namespace model (the root, a
lazy and a periodic timekeeper namespace, a dilated one, an offsets namespace), with clock
settings, frequency changes, interrupt costs and both expiry orders, must give the same fires
(namespace, timer, overrun, true time, the namespace clock at the fire), the same host
statistics and the same readings.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from gmpy2 import mpq
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sortedcontainers import SortedList

import tk_core.host as host_module
from ntp import ADJ_FREQUENCY, Timex
from tk_core import CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_TAI, Host
from tk_core.checkpoint import checkpoint_host, register_callback, restore_host
from tk_core.hrtimer import HostEntry, HostTimerQueue, Item, add_item, pop_head, remove_item

NSEC = 1_000_000_000
MS = 1_000_000
CLOCKS = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI)
NAMES = ("root", "lazy", "periodic", "dilated", "offsets")


class PlainQueue(HostTimerQueue):
    """The queue's head operations through SortedList's public API only."""

    __slots__ = ()

    def first_key(self) -> int | None:
        key: int | None = self._list[0][0] if self._list else None
        if self._held:
            low = min(item[0] for item in self._held.values())
            key = low if key is None or low < key else key
        return key

    def pop_due(self, cycles: int) -> HostEntry | None:
        if not self._list or self._list[0][0] > cycles:
            return None
        item: Item = self._list.pop(0)
        item[2]._item = None
        return item[2]

    def pop_sole_due(self, cycles: int) -> HostEntry | None:
        lst = self._list
        if not lst or lst[0][0] > cycles or (len(lst) > 1 and lst[1][0] <= cycles):
            return None
        item: Item = lst.pop(0)
        item[2]._item = None
        return item[2]

    def has_due(self, cycles: int) -> bool:
        return bool(self._list) and self._list[0][0] <= cycles


class PlainHost(Host):
    """A host whose every sample computes the count from true time."""

    def sample(self) -> int:
        true = self.clocksource.cycles_at(self._now)
        ext = self.counter.sample(true & self.clocksource.mask)
        self._lost = true - ext
        self._cache_now = self._now
        self._cache_cycles = ext
        return ext


class SmallLoadQueue(HostTimerQueue):
    """Sublists of one or two items, so the head crosses sublist boundaries in small workloads."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__()
        self._list._reset(1)


class SmallLoadPlainQueue(PlainQueue):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__()
        self._list._reset(1)


@contextmanager
def queue_class(cls: type[HostTimerQueue]) -> Iterator[None]:
    saved = host_module.HostTimerQueue
    host_module.HostTimerQueue = cls  # type: ignore[misc]
    try:
        yield
    finally:
        host_module.HostTimerQueue = saved  # type: ignore[misc]


timer_spec = st.tuples(
    st.integers(0, len(NAMES) - 1),
    st.sampled_from(CLOCKS),
    st.integers(1, 40 * MS),
    st.sampled_from([0, 0, 3 * MS, 7_777_777]),
    st.booleans(),
)
workload = st.fixed_dictionaries({
    "timers": st.lists(timer_spec, min_size=1, max_size=40),
    "steps": st.lists(st.integers(1, 15 * MS), min_size=1, max_size=6),
    "settime": st.one_of(st.none(), st.integers(-NSEC, NSEC)),
    "freq": st.one_of(st.none(), st.integers(-500 << 16, 500 << 16)),
    "bursts": st.lists(st.tuples(st.integers(1, 30 * MS), st.integers(1, 4)), max_size=3),
    "fair": st.booleans(),
    "costly": st.booleans(),
})


def run(cls: type[Host], queue: type[HostTimerQueue], w: dict) -> list[object]:
    """The workload on a host of class `cls` with queue class `queue`; everything it saw."""
    costs = {"irq_cost_ns": 1500, "expiry_cost_ns": 700} if w["costly"] else {}
    with queue_class(queue):
        h = cls(hz=250, realtime_ns=1_700_000_000 * NSEC, fair_expiry=w["fair"], **costs)
        spaces = {
            "root": h.root,
            "lazy": h.create_namespace("lazy"),
            "periodic": h.create_namespace("periodic", update="periodic"),
            "dilated": h.create_namespace("dilated", dilation=mpq(3, 2)),
            "offsets": h.create_namespace("offsets", "offsets"),
        }
    log: list[object] = []
    ids = itertools.count()

    def on_fire(tag: int, clockid: int) -> object:
        def fire(timer: object, overrun: int) -> None:
            ns = timer.ns  # type: ignore[attr-defined]
            log.append((tag, ns.name, overrun, h.true_time, ns.clock_gettime_ns(clockid)))
        return fire

    timers = []
    for index, clockid, value, interval, absolute in w["timers"]:
        ns = spaces[NAMES[index]]
        timer = ns.timer_create(clockid, on_fire(next(ids), clockid))
        if absolute:
            value += ns.clock_gettime_ns(clockid)
        timer.settime(value, interval, absolute=absolute)
        timers.append(timer)
    for value, count in w["bursts"]:  # one deadline, `count` timers in each namespace
        deadline = h.root.clock_gettime_ns(CLOCK_MONOTONIC) + value
        for name in NAMES:
            ns = spaces[name]
            for _ in range(count):
                timer = ns.timer_create(CLOCK_MONOTONIC, on_fire(next(ids), CLOCK_MONOTONIC))
                timer.settime(deadline, absolute=True)
                timers.append(timer)
    for i, step in enumerate(w["steps"]):
        h.run_for(step)
        if i == 0 and w["settime"] is not None:
            ns = spaces["lazy"]
            ns.clock_settime_ns(CLOCK_REALTIME, ns.clock_gettime_ns(CLOCK_REALTIME) + w["settime"])
        if i == 0 and w["freq"] is not None:
            spaces["dilated"].adjtimex(Timex(modes=ADJ_FREQUENCY, freq=w["freq"]))
    h.run_for(60 * MS)
    log.append(repr(h.stats))
    log.append(repr(h.clockevent.stats))
    log.append([t.fires for t in timers])
    log.append(h.true_time)
    for ns in spaces.values():
        log.append([ns.clock_gettime_ns(c) for c in CLOCKS])
    return log


@settings(max_examples=25, deadline=None)
@given(w=workload)
def test_fast_paths_match_plain_paths(w: dict) -> None:
    fast = run(Host, HostTimerQueue, w)
    assert fast == run(PlainHost, PlainQueue, w)


@settings(max_examples=10, deadline=None)
@given(w=workload)
def test_fast_queue_head_across_sublists(w: dict) -> None:
    """With sublists of a few items the head and its successor often sit in different ones."""
    assert run(Host, SmallLoadQueue, w) == run(PlainHost, SmallLoadPlainQueue, w)


@pytest.mark.parametrize("costly", [False, True])
def test_sample_shortcut_is_taken_and_exact(costly: bool) -> None:
    """At every interrupt without an entry cost the event's count is the counter's own."""
    costs = {"irq_cost_ns": 1500} if costly else {}
    h = Host(realtime_ns=1_700_000_000 * NSEC, **costs)
    ns = h.create_namespace("a")
    taken = []
    original = h.sample

    def checked() -> int:
        taken.append(h._now is h._event_t)
        expect = h.clocksource.cycles_at(h._now)
        ext = original()
        assert ext + h._lost == expect
        return ext

    h.sample = checked  # type: ignore[method-assign]
    for i in range(20):
        ns.timer_create(CLOCK_MONOTONIC).settime((i + 1) * 1_234_567)
    h.run_for(30 * MS)
    assert h.stats.expiries == 20
    # an interrupt cost moves true time off the event's instant: no shortcut then
    assert any(taken) is not costly


def sorted_list_state(lst: SortedList) -> tuple[object, ...]:
    """Every field SortedList's positional operations read."""
    return (lst._len, lst._load, lst._lists, lst._maxes, lst._index, lst._offset)


queue_ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 60)),
        st.tuples(st.just("fill"), st.integers(1, 40)),  # that many adds: sublists split
        st.tuples(st.just("pop"), st.just(0)),
        st.tuples(st.just("index"), st.integers(0, 200)),
        st.tuples(st.just("build"), st.just(0)),  # the positional index, as lst[i] builds it
        st.tuples(st.just("remove"), st.integers(0, 200)),
    ),
    max_size=300,
)


@settings(max_examples=200, deadline=None)
@given(load=st.integers(1, 8), ops=queue_ops, held=st.booleans())
@example(load=4, ops=[("fill", 12), ("build", 0), ("pop", 0), ("pop", 0)], held=False)  # index kept
@example(load=4, ops=[("fill", 12), ("pop", 0), ("pop", 0), ("pop", 0)], held=True)  # head merges
@example(load=4,  # index kept
         ops=[("fill", 12), ("build", 0), ("add", 2), ("add", 99)], held=False)
@example(load=8, ops=[("fill", 5), ("pop", 0), ("pop", 0), ("pop", 0)], held=True)  # a lone sublist
@example(load=4,  # a maximum
         ops=[("fill", 12), ("build", 0), ("remove", 7), ("remove", 3)], held=False)
@example(load=4,  # merges
         ops=[("fill", 12), ("remove", 0), ("remove", 0), ("remove", 0)], held=True)
@example(load=8,  # lone sublist
         ops=[("fill", 5), ("remove", 4), ("remove", 1), ("remove", 0)], held=False)
def test_pop_head_leaves_the_state_pop_0_leaves(load: int, ops: list[tuple[str, int]],
                                                held: bool) -> None:
    """`pop_head` and `SortedList.pop(0)` return the same item and leave the same sublists,
    maxima, length and positional index, whether or not the index is built and whether or
    not the head sublist merges; `add_item` and `SortedList.add` likewise, whether or not
    the sublist splits, and `remove_item` and `SortedList.remove`, whether or not it
    merges.  `held`: the caller passes SortedList's lists in, as `HostTimerQueue` does."""
    ours, theirs = SortedList(), SortedList()
    ours._reset(load)
    theirs._reset(load)
    lists = (ours._lists, ours._maxes, ours._index) if held else (None, None, None)
    seq = itertools.count()
    for op, value in ops:
        if op in ("add", "fill"):
            for key in [value] if op == "add" else range(value):
                item = (key, next(seq), HostEntry())  # the queue's item shape
                add_item(ours, item, *lists)
                theirs.add(item)
        elif not theirs:
            continue
        elif op == "pop":
            assert pop_head(ours, *lists) == theirs.pop(0)
        elif op == "build":  # SortedList builds it only over two or more sublists
            if len(theirs._lists) < 2 or theirs._index:
                continue
            ours._build_index()
            theirs._build_index()
        elif op == "index":
            assert ours[value % len(ours)] == theirs[value % len(theirs)]
        else:
            item = theirs[value % len(theirs)]
            assert ours[value % len(ours)] == item  # both build the index
            remove_item(ours, item, *lists)
            theirs.remove(item)
        assert sorted_list_state(ours) == sorted_list_state(theirs)
    if load >= 4:  # SortedList's own consistency check wants a load of 4 or more
        ours._check()


@settings(max_examples=60, deadline=None)
@given(load=st.integers(1, 8), keys=st.lists(st.integers(0, 50), max_size=60),
       due=st.integers(-1, 51))
def test_the_queue_holds_its_sorted_lists_own_lists(load: int, keys: list[int],
                                                    due: int) -> None:
    """`HostTimerQueue` reads SortedList's sublists, maxima and index through fields of
    its own: they must stay the very lists SortedList works on, whatever it does to them
    (a new load, a positional index, a fair pass's hold and release, emptying)."""
    queue = HostTimerQueue()
    lst = queue._list
    lst._reset(load)
    entries = [HostEntry() for _ in keys]
    for entry, key in zip(entries, keys, strict=True):
        queue.add(entry, key)
    if len(lst._lists) > 1:
        lst._build_index()
    queue.hold_due({}, due, set())
    queue.release_held()
    while queue.pop_due(due) is not None:
        pass
    for entry in entries[::2]:
        queue.remove(entry)
    assert list(lst) == sorted(lst)
    for entry in entries:
        queue.remove(entry)
    assert not lst
    for entry, key in zip(entries, keys, strict=True):
        queue.add(entry, key)
    assert (queue._lists, queue._maxes, queue._index) == (lst._lists, lst._maxes, lst._index)
    assert queue._lists is lst._lists and queue._maxes is lst._maxes
    assert queue._index is lst._index
    assert queue.first_key() == (min(keys) if keys else None)


@pytest.mark.parametrize("size", [0, 1, 5, 30])
def test_remove_item_of_a_missing_item_raises_as_sorted_list_does(size: int) -> None:
    lst = SortedList()
    lst._reset(4)
    for key in range(size):
        lst.add((2 * key, key, HostEntry()))
    before = sorted_list_state(lst)
    for missing in [(-1, 0, HostEntry()), (3, 0, HostEntry()), (10**9, 0, HostEntry())]:
        with pytest.raises(ValueError, match="not in list"):
            remove_item(lst, missing)
        assert sorted_list_state(lst) == before


def filing_mismatches(h: Host) -> list[str]:
    """Where an entry's own note of its filing (`group`, `in_wall`) and its base's sets
    disagree: `TimerBase.discard` looks only where the entry says it is filed."""
    bad = []
    for ns in h.namespaces.values():
        base = ns.timer_base
        for entry in [*base.near.entries, *base.far.entries, *base.wall]:
            if entry.group is not (base.near if entry in base.near.entries
                                   else base.far if entry in base.far.entries else None):
                bad.append(f"{ns.name}: group of {entry!r}")
            if entry.in_wall != (entry in base.wall):
                bad.append(f"{ns.name}: in_wall of {entry!r}")
    return bad


filing_op = st.one_of(
    st.tuples(st.just("arm"), st.integers(0, 7),  # near (ms) and far (s away) deadlines
              st.one_of(st.integers(1, 20 * MS), st.integers(NSEC, 30 * NSEC)), st.booleans()),
    st.tuples(st.just("delete"), st.integers(0, 7)),
    st.tuples(st.just("run"), st.integers(1, 15 * MS)),
    st.tuples(st.just("settime"), st.integers(-NSEC, NSEC)),
    st.tuples(st.just("freq"), st.integers(-500 << 16, 500 << 16)),
    st.tuples(st.just("restore"),),
)


def _filed_noop(timer: object, overrun: int) -> None:
    pass


register_callback("fast_path.noop", _filed_noop)


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(filing_op, min_size=1, max_size=25))
def test_entries_know_where_they_are_filed(ops: list[tuple]) -> None:
    """Re-arms relative and absolute (a REALTIME timer armed relative runs on MONOTONIC),
    deletes, clock settings (wall timers re-keyed), frequency changes (near and far groups
    re-keyed), expiries and checkpoint round trips keep `group` and `in_wall` exact."""
    h = Host(hz=250, realtime_ns=1_700_000_000 * NSEC)
    for name in ("a", "b"):
        h.create_namespace(name)

    def timers(h: Host) -> list:
        found = []
        for name in ("a", "b"):
            ns = h.namespaces[name]
            for clockid in (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_TAI, CLOCK_BOOTTIME):
                found.append((ns, clockid))
        return found

    made: dict[int, object] = {}
    for op in ops:
        if op[0] == "arm":
            _, slot, value, absolute = op
            ns, clockid = timers(h)[slot]
            timer = made.get(slot)
            if timer is None or timer.deleted:  # type: ignore[attr-defined]
                timer = made[slot] = ns.timer_create(clockid, _filed_noop)
            if absolute:
                value += ns.clock_gettime_ns(clockid)
            timer.settime(value, 0, absolute=absolute)  # type: ignore[attr-defined]
        elif op[0] == "delete" and op[1] in made and not made[op[1]].deleted:  # type: ignore[attr-defined]
            made.pop(op[1]).delete()  # type: ignore[attr-defined]
        elif op[0] == "run":
            h.run_for(op[1])
        elif op[0] == "settime":
            ns = h.namespaces["a"]
            ns.clock_settime_ns(CLOCK_REALTIME, ns.clock_gettime_ns(CLOCK_REALTIME) + op[1])
        elif op[0] == "freq":
            h.namespaces["b"].adjtimex(Timex(modes=ADJ_FREQUENCY, freq=op[1]))
        elif op[0] == "restore":
            h = restore_host(checkpoint_host(h))
            made = {}
        assert filing_mismatches(h) == []
    h.run_for(30 * MS)
    assert filing_mismatches(h) == []
