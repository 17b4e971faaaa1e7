"""Whole-host checkpoints: everything needed to continue a run bit for bit."""

from __future__ import annotations

import dataclasses
import inspect
import itertools
from typing import Any

from ..clocksource import Clocksource
from ..counter import ExtendedCounter
from ..host import Host, HostStats, NamespaceStats
from ..hrtimer import HostEntry, HostTimerQueue
from ..namespace import Namespace, OffsetsNamespace, TimekeeperNamespace
from ._format import SECTIONS, CheckpointError, _envelope, _get, _q, _rational, verify
from ._state import (
    _new_timekeeper_ns,
    _restore_reference,
    _restore_tasks,
    _restore_tk,
    namespace_state,
)

# -- the host ------------------------------------------------------------------------------------


def checkpoint_host(host: Host) -> dict[str, Any]:
    """The whole host as a checkpoint document; `restore_host` continues it identically."""
    next_pid = next(host._pids)
    host._pids = itertools.count(next_pid)
    state = {
        "config": _config(host),
        "true_time": _q(host.true_time),
        "epoch_ns": getattr(host, "epoch_ns", 0),
        "counter": host.counter.to_dict() | {"samples": host.counter.samples},
        "lost": host._lost,
        "next_pid": next_pid,
        "stats": dataclasses.asdict(host.stats),
        "namespaces": [namespace_state(ns) for ns in host.namespaces.values()],
        "queue": _queue_state(host),
        "sections": {name: s.dump(host) for name, s in SECTIONS.items()},
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
    "irq_cost_ns", "expiry_cost_ns", "requeue_on_adjust", "rekey_slack_ns", "aux_clocks"
)
_CLOCKEVENT_OPTIONS = ("min_delta_ns", "max_delta_ns", "program_latency_ns")


def _options(host: Host) -> dict[str, Any]:
    out = {k: getattr(host, k) for k in _HOST_OPTIONS if hasattr(host, k)}
    device = getattr(host, "clockevent", None)
    out |= {k: getattr(device, k) for k in _CLOCKEVENT_OPTIONS if hasattr(device, k)}
    if hasattr(host, "lateness"):
        out["record_lateness"] = host.lateness is not None
    return out


def _host_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    accepted = inspect.signature(Host).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise CheckpointError(
            f"checkpoint field state.config.options: this engine's Host has "
            f"no option {', '.join(unknown)}"
        )
    for key, value in options.items():
        if not isinstance(value, int):
            raise CheckpointError(f"checkpoint field state.config.options.{key}: expected int")
    return options


def _queue_state(host: Host) -> list[dict[str, Any]]:
    hooks = {
        id(ns._hook): ns.name
        for ns in host.namespaces.values()
        if isinstance(ns, TimekeeperNamespace)
    }
    out: list[dict[str, Any]] = []
    unknown: list[HostEntry] = []
    for key, _, entry in host.queue._list:
        if entry is host._tick:
            out.append({"kind": "tick", "key": key, "expires": entry.expires})
        elif id(entry) in hooks:
            out.append({"kind": "ntp_hook", "namespace": hooks[id(entry)], "key": key})
        elif not any(s.owns(entry) for s in SECTIONS.values()):
            unknown.append(entry)
    if unknown:
        example = type(unknown[0]).__name__
        raise CheckpointError(
            f"cannot checkpoint: {len(unknown)} queued entr{'y' if len(unknown) == 1 else 'ies'}"
            f" (e.g. a {example}) that this format cannot serialise yet; timers need a "
            "'timers' section (tk_core.checkpoint.register_section)"
        )
    return out


def _clocksource(d: dict[str, Any]) -> Clocksource:
    path = "state.config.clocksource"
    try:
        return Clocksource(
            _get(d, "freq_hz", int, path),
            _get(d, "bits", int, path),
            error_ppm=_rational(d, "error_ppm", path),
            wander_ppm=_rational(d, "wander_ppm", path),
            wander_interval_s=_get(d, "wander_interval_s", int, path),
            seed=_get(d, "seed", int, path),
            start_cycles=_get(d, "start_cycles", int, path),
            name=_get(d, "name", str, path),
        )
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint field {path}: {err}") from None


def restore_host(document: dict[str, Any], source: str = "checkpoint") -> Host:
    """Rebuild a host from `checkpoint_host`'s document (verified first)."""
    state = verify(document, source, "host")["state"]
    cfg = _get(state, "config", dict, "state")
    host = Host(
        clocksource=_clocksource(_get(cfg, "clocksource", dict, "state.config")),
        hz=_get(cfg, "hz", int, "state.config"),
        user_hz=_get(cfg, "user_hz", int, "state.config"),
        kernel_version=_get(cfg, "kernel_version", str, "state.config"),
        nohz=_get(cfg, "nohz", bool, "state.config"),
        wrap_guard=_get(cfg, "wrap_guard", bool, "state.config"),
        root_update=_get(cfg, "root_update", str, "state.config"),
        **_host_kwargs(_get(cfg, "options", dict, "state.config")),
    )
    host.lazy_error_bound = _get(cfg, "lazy_error_bound", int, "state.config")
    _restore_time(host, state)
    for i, ns_state in enumerate(_get(state, "namespaces", list, "state")):
        _restore_host_namespace(host, ns_state, f"state.namespaces[{i}]")
    _restore_queue(host, _get(state, "queue", list, "state"))
    _restore_sections(host, _get(state, "sections", dict, "state"))
    host._program()
    return host


def _restore_time(host: Host, state: dict[str, Any]) -> None:
    host._now = _rational(state, "true_time", "state")
    if hasattr(host, "epoch_ns"):
        host.epoch_ns = _get(state, "epoch_ns", int, "state")
    counter = _get(state, "counter", dict, "state")
    for key in ("mask", "last_raw", "last_ext", "samples"):
        _get(counter, key, int, "state.counter")
    host.counter = ExtendedCounter.from_dict(counter)
    host.counter.samples = counter["samples"]
    host._lost = _get(state, "lost", int, "state")
    host._cache_now = None
    host._pids = itertools.count(_get(state, "next_pid", int, "state"))
    host.stats = _stats(_get(state, "stats", dict, "state"))


def _stats(d: dict[str, Any]) -> HostStats:
    per = _get(d, "per_namespace", dict, "state.stats")
    try:
        stats = HostStats(**{k: v for k, v in d.items() if k != "per_namespace"})
        stats.per_namespace = {k: NamespaceStats(**v) for k, v in per.items()}
    except TypeError as err:
        raise CheckpointError(f"checkpoint field state.stats: {err}") from None
    return stats


def _restore_host_namespace(host: Host, state: dict[str, Any], path: str) -> None:
    name = _get(state, "name", str, path)
    model = _get(state, "model", str, path)
    if model == "offsets":
        ns: Namespace = OffsetsNamespace(
            host,
            name,
            _get(state, "monotonic_offset", int, path),
            _get(state, "boottime_offset", int, path),
        )
        host._register(ns)
    elif model == "timekeeper":
        ns = host.root if name == "root" else _new_timekeeper_ns(host, name, state, path)
        _restore_tk(ns, state, path)
        _restore_reference(ns, state, path)
    else:
        raise CheckpointError(f"checkpoint field {path}.model: unknown model {model!r}")
    _restore_tasks(ns, state, path, fresh_pids=False)


def _restore_queue(host: Host, entries: list[Any]) -> None:
    host.queue = HostTimerQueue()
    host._tick._item = None
    for ns in host.namespaces.values():
        if isinstance(ns, TimekeeperNamespace):
            ns._hook._item = None
    for i, e in enumerate(entries):
        path = f"state.queue[{i}]"
        kind = _get(e, "kind", str, path)
        key = _get(e, "key", int, path)
        if kind == "tick":
            host._tick.expires = _get(e, "expires", int, path)
            host.queue.add(host._tick, key)
        elif kind == "ntp_hook":
            hooked = host.namespaces.get(_get(e, "namespace", str, path))
            if not isinstance(hooked, TimekeeperNamespace):
                raise CheckpointError(f"checkpoint field {path}.namespace: no such namespace")
            host.queue.add(hooked._hook, key)
        else:
            raise CheckpointError(f"checkpoint field {path}.kind: unknown entry {kind!r}")


def _restore_sections(host: Host, sections: dict[str, Any]) -> None:
    for name, data in sections.items():
        if name not in SECTIONS:
            raise CheckpointError(
                f"checkpoint section {name!r} is not known to this engine (written by a newer "
                "version, or one with more features)"
            )
        SECTIONS[name].restore(host, data)
