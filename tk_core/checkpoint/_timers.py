"""POSIX timers, timerfds and sleeps in a host checkpoint, and each timer base's index.

Every live handle of every namespace (`ns.timer_handles`: not deleted, closed, woken or
interrupted) is written with its kernel-visible settings (clock, interval, overrun, ticks
pending, cancel-on-set) and its queue entry (base clock and expiry, the namespace deadline
it stands for, its counters).  Handles are referred to by their index in that list: from the
queue (`{"kind": "timer", "handle": i}`), from the timer bases' near/far groups, wall list
and timerfd cancel list (whose order decides re-key order, hence queue order on ties), and
from daemons that own timers.  A callback is written as its registered name
(`register_callback`) or as a method of a daemon the checkpoint carries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..clockids import WALL_CLOCKS
from ..host import Host
from ..namespace import Namespace, TimekeeperNamespace
from ..posix_timers import INT_MAX, TIMER_CLOCKS, PosixTimer, Sleeper
from ..timekeeper import KTIME_MAX
from ..timerbase import TimerBase, TimerEntry, _Group
from ..timerfd import TFD_CLOCKS, TimerFd
from ._callbacks import callback_name, lookup_callback
from ._format import CheckpointError, _get
from ._validate import KEY, S64, U64, fail, int_in

Handle = PosixTimer | TimerFd | Sleeper
KINDS = {PosixTimer: "posix", TimerFd: "timerfd", Sleeper: "sleep"}
#: Methods of a carried daemon that may be a timer callback, by daemon type name.
AGENT_CALLBACKS = {
    "ntp_daemon": ("_on_poll_timer", "_on_leap_timer", "_on_followup_timer"),
}

# -- dump -------------------------------------------------------------------------------------


class Refs:
    """Index of every live handle, and of the daemons (agents) the checkpoint carries."""

    def __init__(self, host: Host) -> None:
        self.handles: list[tuple[Namespace, int, Handle]] = []
        self.index: dict[int, int] = {}
        self.agents: list[Any] = [a for ns in host.namespaces.values() for a in ns.agents]
        self.agent_index = {id(a): i for i, a in enumerate(self.agents)}
        for ns in host.namespaces.values():
            for key, handle in ns.live_timer_handles().items():
                self.index[id(handle._entry)] = len(self.handles)
                self.handles.append((ns, key, handle))

    def of_entry(self, entry: TimerEntry) -> int:
        return self.index[id(entry)]


def _what(ns: Namespace, key: int, handle: Handle) -> str:
    return f"{KINDS[type(handle)]} timer {key} of namespace {ns.name!r}"


def _callback(refs: Refs, fn: Callable[..., Any] | None, what: str) -> Any:
    if fn is None:
        return None
    owner = getattr(fn, "__self__", None)
    if owner is not None and id(owner) in refs.agent_index:
        return {"agent": refs.agent_index[id(owner)], "method": fn.__name__}
    return {"name": callback_name(fn, what)}


def _entry_state(e: TimerEntry) -> dict[str, Any]:
    return {
        "clockid": e.clockid, "expires": e.expires, "check_clockid": e.check_clockid,
        "check_expires": e.check_expires, "stepped": e.stepped, "rechecks": e.rechecks,
        "rekeys": e.rekeys, "key": e.key,
    }


def _handle_state(refs: Refs, ns: Namespace, key: int, h: Handle) -> dict[str, Any]:
    what = _what(ns, key, h)
    out: dict[str, Any] = {"namespace": ns.name, "id": key, "kind": KINDS[type(h)],
                           "clockid": h.clockid, "entry": _entry_state(h._entry)}
    if isinstance(h, PosixTimer):
        out |= {"interval": h.interval, "overrun": h.overrun, "fires": h.fires,
                "armed": h._armed, "callback": _callback(refs, h.callback, what)}
    elif isinstance(h, TimerFd):
        out |= {"ticks": h.ticks, "expired": h.expired, "interval": h.interval,
                "might_cancel": h.might_cancel, "moffs": h.moffs}
    else:
        out |= {"absolute": h.absolute, "callback": _callback(refs, h.callback, what)}
    return out


def _group_state(refs: Refs, g: _Group) -> dict[str, Any]:
    return {"entries": [refs.of_entry(e) for e in g.entries], "mult_min": g.mult_min,
            "mult_max": g.mult_max, "key_far": g.key_far, "since": g.since}


def _base_state(refs: Refs, b: TimerBase) -> dict[str, Any]:
    return {
        "near": _group_state(refs, b.near), "far": _group_state(refs, b.far),
        "wall": [refs.of_entry(e) for e in b.wall],
        "cancel_list": [refs.of_entry(t._entry) for t in b.cancel_list],
        "leap": b._leap, "base_mult": b._base_mult,
        # a clock_was_set that selected no base is still waiting for the next interrupt
        "stale": b in b.host.stale_bases,
    }


def timers_state(host: Host, refs: Refs) -> dict[str, Any]:
    """Every live handle, the id counters and each timer base's index."""
    _check_indexed(host, refs)
    return {
        "handles": [_handle_state(refs, ns, k, h) for ns, k, h in refs.handles],
        "next_ids": {ns.name: ns.next_timer_id for ns in host.namespaces.values()},
        "bases": {
            ns.name: _base_state(refs, ns.timer_base)
            for ns in host.namespaces.values()
            if isinstance(ns, TimekeeperNamespace)
        },
    }


def _check_indexed(host: Host, refs: Refs) -> None:
    """Every entry a base indexes must belong to a live handle (made by the namespace)."""
    for ns in host.namespaces.values():
        if not isinstance(ns, TimekeeperNamespace):
            continue
        b = ns.timer_base
        for e in [*b.near.entries, *b.far.entries, *b.wall,
                  *(t._entry for t in b.cancel_list)]:
            if id(e) not in refs.index:
                raise CheckpointError(
                    f"cannot checkpoint: namespace {ns.name!r} has a timer that was not made "
                    "by timer_create, timerfd_create or clock_nanosleep (so it has no id)"
                )


# -- restore ----------------------------------------------------------------------------------


def _ref(d: Any, key: str, path: str, count: int) -> int:
    if not count:
        return int_in(d, key, path, 0, -1, "no handle (the checkpoint has none)")
    return int_in(d, key, path, 0, count - 1, f"a handle index in 0..{count - 1}")


def _clock(d: Any, key: str, path: str, allowed: frozenset[int]) -> int:
    value = _get(d, key, int, path)
    if value not in allowed:
        raise fail(f"{path}.{key}", "one of the clock ids " + ", ".join(map(str, sorted(allowed))),
                   value)
    return int(value)


def _restore_entry(handle: Handle, d: Any, path: str) -> None:
    e = handle._entry
    e.clockid = _clock(d, "clockid", path, TIMER_CLOCKS)
    e.expires = int_in(d, "expires", path, 0, KTIME_MAX, "an expiry in 0..KTIME_MAX ns")
    e.check_clockid = _clock(d, "check_clockid", path, TIMER_CLOCKS)
    e.check_expires = int_in(d, "check_expires", path, *S64)
    e.stepped = _get(d, "stepped", bool, path)
    e.rechecks = int_in(d, "rechecks", path, *U64)
    e.rekeys = int_in(d, "rekeys", path, *U64)
    if "key" not in d:
        raise CheckpointError(f"checkpoint field {path}.key is missing")
    e.key = None if d["key"] is None else int_in(d, "key", path, *KEY)


class Restorer:
    """Rebuilds the handles; daemons are rebuilt first so callbacks can name them."""

    def __init__(self, host: Host, agents: list[Any], agent_kinds: list[str]) -> None:
        self.host = host
        self.agents = agents
        self.agent_kinds = agent_kinds
        self.handles: list[Handle] = []

    def callback(self, d: Any, path: str) -> Callable[..., Any] | None:
        if "callback" not in d:
            raise CheckpointError(f"checkpoint field {path}.callback is missing")
        cb = d["callback"]
        where = f"{path}.callback"
        if cb is None:
            return None
        if not isinstance(cb, dict) or set(cb) not in ({"name"}, {"agent", "method"}):
            raise fail(where, "null, {name} or {agent, method}", cb)
        if "name" in cb:
            return lookup_callback(_get(cb, "name", str, where), f"{where}.name")
        n = len(self.agents)
        i = int_in(cb, "agent", where, 0, n - 1, f"a daemon index in 0..{n - 1}") if n else \
            int_in(cb, "agent", where, 0, -1, "no daemon (the checkpoint has none)")
        allowed = AGENT_CALLBACKS.get(self.agent_kinds[i], ())
        method = _get(cb, "method", str, where)
        if method not in allowed:
            raise fail(f"{where}.method", "one of " + (", ".join(allowed) or "nothing"), method)
        fn: Callable[..., Any] = getattr(self.agents[i], method)
        return fn

    def handle(self, d: Any, path: str, seen: set[tuple[str, int]]) -> Handle:
        if not isinstance(d, dict):
            raise fail(path, "an object", type(d).__name__)
        name = _get(d, "namespace", str, path)
        ns = self.host.namespaces.get(name)
        if ns is None:
            raise fail(f"{path}.namespace", "a namespace of this checkpoint", name)
        key = int_in(d, "id", path, 0, S64[1])
        if (name, key) in seen:
            raise fail(f"{path}.id", "an id no other timer of the namespace has", key)
        seen.add((name, key))
        kind = _get(d, "kind", str, path)
        build = {"posix": self._posix, "timerfd": self._timerfd, "sleep": self._sleep}.get(kind)
        if build is None:
            raise fail(f"{path}.kind", "one of posix, timerfd, sleep", kind)
        h = build(ns, d, path)
        _restore_entry(h, _get(d, "entry", dict, path), f"{path}.entry")
        ns.timer_handles[key] = h
        return h

    def _posix(self, ns: Namespace, d: dict[str, Any], path: str) -> Handle:
        t = PosixTimer.__new__(PosixTimer)
        t.ns, t.clockid = ns, _clock(d, "clockid", path, TIMER_CLOCKS)
        t.interval = int_in(d, "interval", path, 0, KTIME_MAX)
        t.overrun = int_in(d, "overrun", path, -1, INT_MAX, "a timer_getoverrun value")
        t.fires = int_in(d, "fires", path, *U64)
        t._armed = _get(d, "armed", bool, path)
        t.deleted = False
        t.callback = self.callback(d, path)
        t._entry = TimerEntry(ns.timer_domain.timer_base, ns, t._expired)
        return t

    def _timerfd(self, ns: Namespace, d: dict[str, Any], path: str) -> Handle:
        t = TimerFd.__new__(TimerFd)
        t.ns, t.clockid = ns, _clock(d, "clockid", path, TFD_CLOCKS)
        t.ticks = int_in(d, "ticks", path, *U64)
        t.expired = _get(d, "expired", bool, path)
        t.interval = int_in(d, "interval", path, 0, KTIME_MAX)
        t.might_cancel = _get(d, "might_cancel", bool, path)
        t.moffs = int_in(d, "moffs", path, *S64)
        t.closed = False
        t._entry = TimerEntry(ns.timer_domain.timer_base, ns, t._expired)
        return t

    def _sleep(self, ns: Namespace, d: dict[str, Any], path: str) -> Handle:
        s = Sleeper.__new__(Sleeper)
        s.ns, s.clockid = ns, _clock(d, "clockid", path, TIMER_CLOCKS)
        s.absolute = _get(d, "absolute", bool, path)
        s.callback = self.callback(d, path)
        s.done = s.interrupted = False
        s.woke_ns = None
        s._entry = TimerEntry(ns.timer_domain.timer_base, ns, s._expired)
        return s


def restore_timers(host: Host, d: Any, restorer: Restorer) -> list[Handle]:
    """Rebuild every handle and each base's index (the queue is restored after this)."""
    path = "state.timers"
    if not isinstance(d, dict):
        raise fail(path, "an object", type(d).__name__)
    seen: set[tuple[str, int]] = set()
    for i, h in enumerate(_get(d, "handles", list, path)):
        restorer.handles.append(restorer.handle(h, f"{path}.handles[{i}]", seen))
    ids = _get(d, "next_ids", dict, path)
    if set(ids) != set(host.namespaces):
        raise fail(f"{path}.next_ids", "one entry per namespace", sorted(ids))
    for name, ns in host.namespaces.items():
        low = max((k + 1 for n, k in seen if n == name), default=0)
        ns.next_timer_id = int_in(ids, name, f"{path}.next_ids", low, S64[1],
                                  f"a next id beyond every timer's (>= {low})")
    bases = _get(d, "bases", dict, path)
    tks = [n for n, ns in host.namespaces.items() if isinstance(ns, TimekeeperNamespace)]
    if set(bases) != set(tks):
        raise fail(f"{path}.bases", "one entry per timekeeper namespace: " + ", ".join(tks),
                   sorted(bases))
    for name in tks:
        ns = host.namespaces[name]
        assert isinstance(ns, TimekeeperNamespace)
        _restore_base(ns, _get(bases, name, dict, f"{path}.bases"), f"{path}.bases.{name}",
                      restorer.handles)
    return restorer.handles


def _mine(handles: list[Handle], ns: TimekeeperNamespace, d: Any, key: str, path: str,
          taken: set[int]) -> list[Handle]:
    refs = _get(d, key, list, path)
    out = []
    for j in range(len(refs)):
        i = _index(refs, j, f"{path}.{key}", len(handles))
        h = handles[i]
        if h.ns.timer_domain is not ns:
            raise fail(f"{path}.{key}[{j}]", f"a timer converted by namespace {ns.name!r}", i)
        if i in taken:
            raise fail(f"{path}.{key}[{j}]", "a handle listed once", i)
        taken.add(i)
        out.append(h)
    return out


def _index(refs: list[Any], j: int, path: str, count: int) -> int:
    value = refs[j]
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < count:
        raise fail(f"{path}[{j}]", f"a handle index in 0..{count - 1}", value)
    return value


def _restore_group(g: _Group, handles: list[Handle], ns: TimekeeperNamespace, d: Any,
                   path: str, taken: set[int]) -> None:
    if not isinstance(d, dict):
        raise fail(path, "an object", type(d).__name__)
    g.entries = {h._entry: None for h in _mine(handles, ns, d, "entries", path, taken)}
    for entry in g.entries:
        entry.group = g
    g.mult_min = int_in(d, "mult_min", path, 0, U64[1])
    g.mult_max = int_in(d, "mult_max", path, 0, U64[1])
    g.key_far = int_in(d, "key_far", path, *KEY)
    g.since = int_in(d, "since", path, *U64)


def _restore_base(ns: TimekeeperNamespace, d: dict[str, Any], path: str,
                  handles: list[Handle]) -> None:
    b = ns.timer_base
    grouped: set[int] = set()
    _restore_group(b.near, handles, ns, d.get("near"), f"{path}.near", grouped)
    _restore_group(b.far, handles, ns, d.get("far"), f"{path}.far", grouped)
    wall = _mine(handles, ns, d, "wall", path, set())
    for j, h in enumerate(wall):
        if h._entry.clockid not in WALL_CLOCKS:
            raise fail(f"{path}.wall[{j}]", "a timer on a wall clock (REALTIME, TAI)", show=False)
    b.wall = {h._entry: None for h in wall}
    for entry in b.wall:
        entry.in_wall = True
    cancel = _mine(handles, ns, d, "cancel_list", path, set())
    for j, h in enumerate(cancel):
        if not isinstance(h, TimerFd) or not h.might_cancel:
            raise fail(f"{path}.cancel_list[{j}]", "a timerfd with might_cancel", show=False)
    b.cancel_list = {h: None for h in cancel}
    b._leap = int_in(d, "leap", path, *S64)
    b._base_mult = int_in(d, "base_mult", path, *S64)
    # written since do_adjtimex's clock_was_set mask is modelled; older documents lack it
    if d.get("stale", False) is True:
        b.host.stale_bases[b] = None
    elif d.get("stale", False) is not False:
        raise fail(f"{path}.stale", "true or false", d["stale"])


def queue_timer(handles: list[Handle], e: dict[str, Any], path: str) -> TimerEntry:
    """The entry a queue record `{"kind": "timer", "handle": i}` stands for (checked)."""
    h = handles[_ref(e, "handle", path, len(handles))]
    if isinstance(h, PosixTimer) and not h._armed:
        raise fail(f"{path}.handle", "an armed POSIX timer (a disarmed one is not queued)",
                   e["handle"])
    return h._entry


def check_sleepers_queued(handles: list[Handle], queued: set[int]) -> None:
    """A live sleep is always queued (it is woken, or interrupted, only by its entry)."""
    for i, h in enumerate(handles):
        if isinstance(h, Sleeper) and i not in queued:
            raise fail(f"state.timers.handles[{i}]", "a queued sleep (a live sleep is queued)",
                       show=False)
