"""Whole-host checkpoints: everything needed to continue a run bit for bit."""

from __future__ import annotations

import dataclasses
import inspect
import itertools
from typing import Any

from ntp.timex import USEC_PER_SEC
from ntp.version import KernelBehaviour

from ..auxclock import AUX_CLOCKS_SINCE
from ..clocksource import Clocksource
from ..counter import ExtendedCounter
from ..daemon import Deferred
from ..host import Host, HostStats, NamespaceStats
from ..hrtimer import HostEntry, HostTimerQueue
from ..namespace import MODELS, UPDATE_POLICIES, Namespace, OffsetsNamespace, TimekeeperNamespace
from ..timekeeper import NSEC_PER_SEC
from ._agents import agents_state, deferred, deferred_state, restore_agents, wire_agents
from ._format import (
    SECTIONS,
    VERSION,
    CheckpointError,
    _envelope,
    _get,
    _q,
    _rational,
    at_boundary,
    verify,
)
from ._runtime import restore_runtime, runtime_state
from ._state import (
    _new_timekeeper_ns,
    _restore_reference,
    _restore_tasks,
    _restore_tk,
    check_namespace_state,
    namespace_state,
)
from ._timers import (
    Handle,
    Refs,
    Restorer,
    check_sleepers_queued,
    queue_timer,
    restore_timers,
    timers_state,
)
from ._validate import (
    KEY,
    S32,
    S64,
    U64,
    check_jiffies,
    choice,
    clock_params,
    fail,
    int_in,
    nonempty,
)

# -- the host ------------------------------------------------------------------------------------


def checkpoint_host(host: Host) -> dict[str, Any]:
    """The whole host as a checkpoint document; `restore_host` continues it identically.

    Everything that decides what the host does next is in it: timers, sleeps, timerfds,
    daemons and what they have pending, and the programmed clockevent (`_runtime`).
    """
    runtime = runtime_state(host)
    refs = Refs(host)
    timers = timers_state(host, refs)
    agents = agents_state(refs)
    next_pid = next(host._pids)
    host._pids = itertools.count(next_pid)
    state = {
        "config": _config(host),
        "true_time": _q(host.true_time),
        "epoch_ns": getattr(host, "epoch_ns", 0),
        "counter": host.counter.to_dict() | {"samples": host.counter.samples},
        "lost": host._lost,
        "last_jiffies_update": host.last_jiffies_update,
        "next_pid": next_pid,
        "stats": dataclasses.asdict(host.stats),
        "namespaces": [namespace_state(ns) for ns in host.namespaces.values()],
        "queue": _queue_state(host, refs),
        "sections": {name: s.dump(host) for name, s in SECTIONS.items()},
        "runtime": runtime,
        "timers": timers,
        "agents": agents,
    }
    return _envelope("host", state)


def _config(host: Host) -> dict[str, Any]:
    return {
        "clocksource": host.clocksource.describe(),
        "hz": host.hz,
        "user_hz": host.user_hz,
        "kernel_version": host.kernel_version,
        "nohz": host.nohz,
        "wrap_guard": host.wrap_guard,
        "lazy_error_bound": host.lazy_error_bound,
        "root_update": host.root.update,
        "options": _options(host),
    }


#: Optional Host constructor knobs (timer-queue and clockevent modelling), where they exist.
_HOST_OPTIONS = (
    "irq_cost_ns", "expiry_cost_ns", "requeue_on_adjust", "rekey_slack_ns", "aux_clocks",
    "fair_expiry",
)
_CLOCKEVENT_OPTIONS = ("min_delta_ns", "max_delta_ns", "program_latency_ns")


def _options(host: Host) -> dict[str, Any]:
    out = {k: getattr(host, k) for k in _HOST_OPTIONS if hasattr(host, k)}
    device = getattr(host, "clockevent", None)
    out |= {k: getattr(device, k) for k in _CLOCKEVENT_OPTIONS if hasattr(device, k)}
    if hasattr(host, "lateness"):
        out["record_lateness"] = host.lateness is not None
    return out


#: A wandering clocksource redraws its walk up to the restored true time, one step per
#: interval: beyond this many steps a restore would effectively hang (a year at 2 s steps).
MAX_WANDER_STEPS = 1 << 24

#: Host options that are flags; the others are non-negative nanosecond counts.
_BOOL_OPTIONS = ("requeue_on_adjust", "record_lateness", "aux_clocks", "fair_expiry")


def _host_kwargs(options: dict[str, Any], hz: int) -> dict[str, Any]:
    """The Host keyword options, each of the type and in the range the engine needs."""
    path = "state.config.options"
    accepted = inspect.signature(Host).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise CheckpointError(
            f"checkpoint field {path}: this engine's Host has no option {', '.join(unknown)}"
        )
    for key in options:
        if key in _BOOL_OPTIONS:
            _get(options, key, bool, path)
        else:
            int_in(options, key, path, 0, S64[1], "a count of ns in 0..2^63-1")
    if "min_delta_ns" in options:
        int_in(options, "min_delta_ns", path, 1, S64[1], "a minimum delta of at least 1 ns")
    if "max_delta_ns" in options:
        low = options.get("min_delta_ns", 1)
        int_in(options, "max_delta_ns", path, low, S64[1], f"a maximum delta >= {low} ns")
    if "program_latency_ns" in options:
        int_in(options, "program_latency_ns", path, 0, NSEC_PER_SEC // hz,
               "a latency within one jiffy (NSEC_PER_SEC / HZ)")
    return options


def _queue_state(host: Host, refs: Refs) -> list[dict[str, Any]]:
    """Every queued entry in queue order (ties between equal keys keep their order)."""
    hooks = {
        id(ns._hook): ns.name
        for ns in host.namespaces.values()
        if isinstance(ns, TimekeeperNamespace)
    }
    out: list[dict[str, Any]] = []
    unknown: list[HostEntry] = []
    for key, _, entry in host.queue._list:
        record = _queue_record(host, refs, hooks, key, entry)
        if record is not None:
            out.append(record)
        elif not any(s.owns(entry) for s in SECTIONS.values()):
            unknown.append(entry)
    if unknown:
        example = type(unknown[0]).__name__
        raise CheckpointError(
            f"cannot checkpoint: {len(unknown)} queued entr{'y' if len(unknown) == 1 else 'ies'}"
            f" (e.g. a {example}) that this format cannot serialise: an entry queued directly "
            "on the host, not by a namespace timer call or a daemon the checkpoint carries "
            "(other entries need a section: tk_core.checkpoint.register_section)"
        )
    return out


def _queue_record(
    host: Host, refs: Refs, hooks: dict[int, str], key: int, entry: HostEntry
) -> dict[str, Any] | None:
    if entry is host._tick:
        return {"kind": "tick", "key": key, "expires": host._tick.expires}
    if id(entry) in hooks:
        return {"kind": "ntp_hook", "namespace": hooks[id(entry)], "key": key}
    if id(entry) in refs.index:
        return {"kind": "timer", "key": key, "handle": refs.index[id(entry)]}
    if isinstance(entry, Deferred):
        return deferred_state(entry, refs)
    return None


def _clocksource(d: Any) -> Clocksource:
    path = "state.config.clocksource"
    error = _rational(d, "error_ppm", path)
    if error <= -1_000_000:
        raise fail(f"{path}.error_ppm", "a frequency error > -1e6 ppm", str(error))
    wander = _rational(d, "wander_ppm", path)
    if wander < 0:
        raise fail(f"{path}.wander_ppm", "a wander >= 0 ppm", str(wander))
    freq = int_in(d, "freq_hz", path, 1, U64[1], "a frequency of 1 Hz or more")
    bits = int_in(d, "bits", path, 8, 64, "a counter width of 8..64 bits")
    clock_params(freq, (1 << bits) - 1, f"{path}.freq_hz")
    cs = Clocksource(
        freq,
        bits,
        error_ppm=error,
        wander_ppm=wander,
        wander_interval_s=int_in(d, "wander_interval_s", path, 1, U64[1]),
        seed=int_in(d, "seed", path, *S64),
        start_cycles=int_in(d, "start_cycles", path, *U64),
        name=_get(d, "name", str, path),
    )
    return cs


def restore_host(document: dict[str, Any], source: str = "checkpoint") -> Host:
    """Rebuild a host from `checkpoint_host`'s document (verified, then range-checked).

    Nothing half-built is ever returned: any problem is a CheckpointError naming the field.
    """
    doc = verify(document, source, "host")
    state = doc["state"]
    return at_boundary(source, lambda: _restore_host(state, doc["version"]))


def _restore_host(state: dict[str, Any], version: int = VERSION) -> Host:
    host = _new_host(_get(state, "config", dict, "state"))
    _restore_time(host, state)
    names = _check_namespace_list(host, state)
    max_cycles = host.cycles_now()
    pids: set[int] = set()
    for i, ns_state in enumerate(state["namespaces"]):
        path = f"state.namespaces[{i}]"
        check_namespace_state(host, ns_state, path, max_cycles=max_cycles, host_caps=True,
                              pids=pids)
        _restore_host_namespace(host, ns_state, path)
    _restore_pending_namespaces(host, state)
    _restore_jiffies(host, state)
    _check_pids(state, pids)
    host.stats = _stats(_get(state, "stats", dict, "state"), names)
    if version == 1:  # no timers, daemons or interrupt state: program the device afresh
        _restore_queue(host, _get(state, "queue", list, "state"), _Pending(1))
        _restore_sections(host, _get(state, "sections", dict, "state"))
        host._program()
        return host
    items = _get(state, "agents", list, "state")
    agents, kinds = restore_agents(host, items)
    restorer = Restorer(host, agents, kinds)
    handles = restore_timers(host, state.get("timers"), restorer)
    wire_agents(items, agents, handles)
    pending = _Pending(version, handles, agents, kinds)
    _restore_queue(host, _get(state, "queue", list, "state"), pending)
    check_sleepers_queued(handles, pending.queued)
    _restore_sections(host, _get(state, "sections", dict, "state"))
    restore_runtime(host, state.get("runtime"))
    return host


@dataclasses.dataclass
class _Pending:
    """What queue records of version 2 may point at: timer handles and daemons."""

    version: int
    handles: list[Handle] = dataclasses.field(default_factory=list)
    agents: list[Any] = dataclasses.field(default_factory=list)
    kinds: list[str] = dataclasses.field(default_factory=list)
    queued: set[int] = dataclasses.field(default_factory=set)


def _new_host(cfg: dict[str, Any]) -> Host:
    path = "state.config"
    hz = int_in(cfg, "hz", path, 1, NSEC_PER_SEC, "a tick rate HZ in 1..1e9")
    version = _get(cfg, "kernel_version", str, path)
    try:
        KernelBehaviour.from_version(version)
    except ValueError as err:
        raise fail(f"{path}.kernel_version", f"a kernel version ({err})", version) from None
    options = _host_kwargs(_get(cfg, "options", dict, path), hz)
    if options.get("aux_clocks") and KernelBehaviour.from_version(version).key < AUX_CLOCKS_SINCE:
        raise fail(f"{path}.options.aux_clocks", "false (aux clocks need kernel 6.17+)", True)
    host = Host(
        clocksource=_clocksource(_get(cfg, "clocksource", dict, path)),
        hz=hz,
        user_hz=int_in(cfg, "user_hz", path, 1, USEC_PER_SEC, "USER_HZ in 1..1e6"),
        kernel_version=version,
        nohz=_get(cfg, "nohz", bool, path),
        wrap_guard=_get(cfg, "wrap_guard", bool, path),
        root_update=choice(cfg, "root_update", path, UPDATE_POLICIES),
        **options,
    )
    host.lazy_error_bound = int_in(cfg, "lazy_error_bound", path, *U64)
    return host


def _restore_time(host: Host, state: dict[str, Any]) -> None:
    cs = host.clocksource
    now = _rational(state, "true_time", "state")
    if now < 0 or cs.start_cycles + now * cs.freq_hz * (1 + max(cs._error, 0)) > U64[1]:
        raise fail("state.true_time", "a true time >= 0 s whose counter value is < 2^64",
                   state["true_time"])
    if not cs._constant and now > MAX_WANDER_STEPS * cs.wander_interval_s:
        raise fail("state.true_time", f"at most {MAX_WANDER_STEPS} wander intervals (the "
                   "random walk is regenerated from its seed up to the true time)",
                   state["true_time"])
    host._now = now
    if hasattr(host, "epoch_ns"):
        host.epoch_ns = int_in(state, "epoch_ns", "state", 0, S64[1])
    host.counter = _counter(_get(state, "counter", dict, "state"), cs)
    lost = int_in(state, "lost", "state", 0, U64[1])
    if lost % (cs.mask + 1) or host.counter.last_ext + lost > cs.cycles_at(now):
        raise fail("state.lost", "whole counter wraps lost, with the last sample not after "
                   "the checkpoint's true time", lost)
    host._lost = lost
    host._cache_now = None
    host._event_t = None  # the constructor's event is not the checkpoint's
    host._pids = itertools.count(int_in(state, "next_pid", "state", 1, S32[1]))


def _restore_jiffies(host: Host, state: dict[str, Any]) -> None:
    """tick_do_update_jiffies64's state; a document from before it derives it.

    Without the field, the last jiffy boundary is the last tick boundary at or before the
    root's last accumulation (where the old engine last accumulated the root).
    """
    root_last = host.root.tk.mono_ns(host.root.tk.cycle_last)
    if "last_jiffies_update" in state:
        host.last_jiffies_update = check_jiffies(
            state, "state", host.tick_period, host.root.tk.mono_ns(host.cycles_now())
        )
    else:
        host.last_jiffies_update = root_last // host.tick_period * host.tick_period


def _counter(d: dict[str, Any], cs: Clocksource) -> ExtendedCounter:
    path = "state.counter"
    int_in(d, "mask", path, cs.mask, cs.mask, f"the clocksource's mask {cs.mask}")
    raw = int_in(d, "last_raw", path, 0, cs.mask, f"a raw reading in 0..{cs.mask}")
    ext = int_in(d, "last_ext", path, *U64)
    if ext & cs.mask != raw:
        raise fail(f"{path}.last_ext", "an extended count whose low bits are last_raw", ext)
    if "max_delta" in d:
        want = cs.max_raw_delta
        int_in(d, "max_delta", path, want, want, f"the clocksource's max_raw_delta {want}")
    counter = ExtendedCounter.from_dict(d)
    counter.samples = int_in(d, "samples", path, *U64)
    return counter


def _check_namespace_list(host: Host, state: dict[str, Any]) -> list[str]:
    """Names unique and non-empty, the root first, as a timekeeper with the host's policy."""
    namespaces = _get(state, "namespaces", list, "state")
    names: list[str] = []
    for i, ns in enumerate(namespaces):
        got = nonempty(ns, "name", f"state.namespaces[{i}]")
        if got in names:
            raise fail(f"state.namespaces[{i}].name", "a name no other namespace has", got)
        names.append(got)
    if not names or names[0] != "root":
        raise fail("state.namespaces", "the root namespace first (name 'root')",
                   names[0] if names else None)
    root = namespaces[0]
    if choice(root, "model", "state.namespaces[0]", MODELS) != "timekeeper":
        raise fail("state.namespaces[0].model", "'timekeeper' (the root)", root["model"])
    if choice(root, "update", "state.namespaces[0]", UPDATE_POLICIES) != host.root.update:
        raise fail("state.namespaces[0].update", f"{host.root.update!r} (config.root_update)",
                   root["update"])
    if _rational(root, "dilation", "state.namespaces[0]") != 1:
        raise fail("state.namespaces[0].dilation", "'1' (the root is never dilated)",
                   root["dilation"])
    return names


def _check_pids(state: dict[str, Any], pids: set[int]) -> None:
    next_pid = state["next_pid"]
    if pids and max(pids) >= next_pid:
        raise fail("state.next_pid", f"a pid beyond every task's (> {max(pids)})", next_pid)


def _stats(d: dict[str, Any], names: list[str]) -> HostStats:
    path = "state.stats"
    _exact_keys(d, path, [f.name for f in dataclasses.fields(HostStats)])
    per = _get(d, "per_namespace", dict, path)
    if set(per) != set(names):
        raise fail(f"{path}.per_namespace", "one entry per namespace: " + ", ".join(names),
                   sorted(per))
    stats = HostStats()
    for key in d:
        if key != "per_namespace":
            setattr(stats, key, int_in(d, key, path, *U64))
    fields = [f.name for f in dataclasses.fields(NamespaceStats)]
    for key in names:
        where = f"{path}.per_namespace.{key}"
        _exact_keys(_get(per, key, dict, f"{path}.per_namespace"), where, fields)
        stats.per_namespace[key] = NamespaceStats(
            **{k: int_in(per[key], k, where, *U64) for k in fields}
        )
    return stats


def _exact_keys(d: dict[str, Any], path: str, keys: list[str]) -> None:
    for key in keys:
        if key not in d:
            raise CheckpointError(f"checkpoint field {path}.{key} is missing")
    extra = sorted(set(d) - set(keys))
    if extra:
        raise fail(path, "only the fields " + ", ".join(keys), extra)


def _restore_host_namespace(host: Host, state: dict[str, Any], path: str) -> None:
    """Build one checked namespace on the host being restored."""
    name = state["name"]
    if state["model"] == "offsets":
        ns: Namespace = OffsetsNamespace(
            host, name, state["monotonic_offset"], state["boottime_offset"]
        )
        host._register(ns)
    else:
        ns = host.root if name == "root" else _new_timekeeper_ns(host, name, state, path)
        assert isinstance(ns, TimekeeperNamespace)
        _restore_tk(ns, state, path)
        _restore_reference(ns, state, path)
    _restore_tasks(ns, state, path, fresh_pids=False)


def _restore_pending_namespaces(host: Host, state: dict[str, Any]) -> None:
    """Each task's time_ns_for_children (`unshare_time`), once every namespace exists."""
    for i, ns_state in enumerate(state["namespaces"]):
        ns = host.namespaces[ns_state["name"]]
        for j, task_state in enumerate(ns_state["tasks"]):
            name = task_state.get("for_children")
            if name is None:
                continue
            target = host.namespaces.get(name)
            if target is None or target is ns:
                raise fail(f"state.namespaces[{i}].tasks[{j}].for_children",
                           "another namespace of this checkpoint", name)
            ns.tasks[j]._children = target


def _restore_queue(host: Host, entries: list[Any], pending: _Pending) -> None:
    host.queue = HostTimerQueue()
    host._tick._item = None
    for ns in host.namespaces.values():
        if isinstance(ns, TimekeeperNamespace):
            ns._hook._item = None
    queued: set[str] = set()
    for i, e in enumerate(entries):
        path = f"state.queue[{i}]"
        kinds = ("tick", "ntp_hook", "timer", "deferred") if pending.version > 1 \
            else ("tick", "ntp_hook")
        kind = choice(e, "kind", path, kinds)
        key = int_in(e, "key", path, *KEY)
        if kind == "timer":
            entry = queue_timer(pending.handles, e, path)
            _once(queued, f"timer:{e['handle']}", f"{path}.handle", "each timer queued once")
            pending.queued.add(e["handle"])
            host.queue.add(entry, key)
        elif kind == "deferred":
            host.queue.add(deferred(e, path, pending.agents, pending.kinds), key)
        elif kind == "tick":
            _once(queued, "tick", f"{path}.kind", "the tick at most once")
            host._tick.expires = int_in(e, "expires", path, *S64)
            host.queue.add(host._tick, key)
        else:
            target = _get(e, "namespace", str, path)
            hooked = host.namespaces.get(target)
            if not isinstance(hooked, TimekeeperNamespace):
                raise fail(f"{path}.namespace", "a timekeeper namespace of this host", target)
            _once(queued, f"hook:{target}", f"{path}.namespace", "one NTP hook per namespace")
            host.queue.add(hooked._hook, key)


def _once(seen: set[str], what: str, path: str, expected: str) -> None:
    if what in seen:
        raise fail(path, expected, what.removeprefix("hook:"))
    seen.add(what)


def _restore_sections(host: Host, sections: dict[str, Any]) -> None:
    for name, data in sections.items():
        if name not in SECTIONS:
            raise CheckpointError(
                f"checkpoint section {name!r} is not known to this engine (written by a newer "
                "version, or one with more features)"
            )
        SECTIONS[name].restore(host, data)
