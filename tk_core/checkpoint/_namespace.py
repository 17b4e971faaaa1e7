"""One namespace's checkpoint and its CRIU-style restore onto a host."""

from __future__ import annotations

from typing import Any

from gmpy2 import mpq

from ..clockids import CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME
from ..host import Host
from ..namespace import Namespace, OffsetsNamespace, TimekeeperNamespace
from ..reference import Reference
from ..timekeeper import NSEC_PER_SEC
from ._format import RESTORE_MODES, CheckpointError, _envelope, _floor, _get, _q, _rational, verify
from ._state import (
    _new_timekeeper_ns,
    _restore_reference,
    _restore_tasks,
    _restore_tk,
    namespace_state,
)

# -- one namespace (CRIU-style) ------------------------------------------------------------------


def checkpoint_namespace(ns: Namespace) -> dict[str, Any]:
    """One namespace, with the host time and clock readings at the dump (for restore)."""
    host = ns.host
    hook = getattr(ns, "_hook", None)
    owned = [
        e
        for _, _, e in host.queue._list
        if getattr(e, "owner", None) is ns and e is not hook and e is not host._tick
    ]
    if owned:
        raise CheckpointError(
            f"cannot checkpoint namespace {ns.name!r}: it has {len(owned)} queued timer(s), "
            "which this format cannot serialise yet"
        )
    cycles = host.cycles_now()
    readings = {
        "monotonic": ns.read_clock_at(CLOCK_MONOTONIC, cycles),
        "boottime": ns.read_clock_at(CLOCK_BOOTTIME, cycles),
        "realtime": ns.read_clock_at(CLOCK_REALTIME, cycles),
        "raw": ns.read_clock_at(CLOCK_MONOTONIC_RAW, cycles),
    }
    state = {
        "namespace": namespace_state(ns),
        "dump": {
            "true_time": _q(host.true_time),
            "cycles": cycles,
            "clocksource": host.clocksource.describe(),
            "readings": readings,
        },
    }
    return _envelope("namespace", state)


def restore_namespace(
    host: Host,
    document: dict[str, Any],
    name: str | None = None,
    mode: str = "criu",
    *,
    downtime_ns: int | None = None,
    source: str = "checkpoint",
) -> Namespace:
    """Create a namespace on `host` from `checkpoint_namespace`'s document.

    `mode` says what the clocks did while the namespace was away: 'criu' — MONOTONIC and
    BOOTTIME resume at their dump values (what CRIU does with Linux's offsets) and REALTIME
    moves on by the downtime; 'suspend' — as after a suspend, BOOTTIME moves on too; 'exact'
    — the state verbatim (same host only): the clocks read as if it had never stopped.
    The downtime is the host's true time since the dump (same host), else `downtime_ns`.
    """
    if mode not in RESTORE_MODES:
        raise ValueError(f"mode must be one of {RESTORE_MODES}, got {mode!r}")
    state = verify(document, source, "namespace")["state"]
    saved = _get(state, "namespace", dict, "state")
    dump = _get(state, "dump", dict, "state")
    name = name or _get(saved, "name", str, "state.namespace")
    if name in host.namespaces:
        raise CheckpointError(f"namespace {name!r} already exists on this host")
    same = _get(dump, "clocksource", dict, "state.dump") == host.clocksource.describe()
    downtime = _downtime(host, dump, same, downtime_ns)
    if _get(saved, "model", str, "state.namespace") == "offsets":
        ns = _restore_offsets_ns(host, name, saved, dump, mode, downtime)
    else:
        ns = _restore_timekeeper_ns(host, name, saved, dump, mode, downtime, same)
    _restore_tasks(ns, saved, "state.namespace", fresh_pids=True)
    return ns


def _downtime(host: Host, dump: dict[str, Any], same: bool, given: int | None) -> int:
    if given is not None:
        if given < 0:
            raise ValueError(f"downtime_ns must be >= 0, got {given}")
        return given
    if not same:
        raise CheckpointError("the checkpoint is from another host: pass downtime_ns")
    then = _rational(dump, "true_time", "state.dump")
    if then > host.true_time:
        raise CheckpointError("the checkpoint is from this host's future")
    return _floor((host.true_time - then) * NSEC_PER_SEC)


def _restore_offsets_ns(
    host: Host, name: str, saved: dict[str, Any], dump: dict[str, Any], mode: str, down: int
) -> Namespace:
    ns = host.create_namespace(name, model="offsets")
    assert isinstance(ns, OffsetsNamespace)
    if mode == "exact":
        mono = _get(saved, "monotonic_offset", int, "state.namespace")
        boot = _get(saved, "boottime_offset", int, "state.namespace")
    else:
        readings = _get(dump, "readings", dict, "state.dump")
        root = host.root
        mono = _get(readings, "monotonic", int, "state.dump.readings") - root.clock_gettime_ns(
            CLOCK_MONOTONIC
        )
        boot = _get(readings, "boottime", int, "state.dump.readings") - root.clock_gettime_ns(
            CLOCK_BOOTTIME
        )
        boot += down if mode == "suspend" else 0
    ns.set_offsets(monotonic_ns=mono, boottime_ns=boot)
    return ns


def _restore_timekeeper_ns(
    host: Host,
    name: str,
    saved: dict[str, Any],
    dump: dict[str, Any],
    mode: str,
    down: int,
    same: bool,
) -> Namespace:
    path = "state.namespace"
    cs = _get(dump, "clocksource", dict, "state.dump")
    if (cs.get("freq_hz"), cs.get("bits")) != (host.clocksource.freq_hz, host.clocksource.bits):
        raise CheckpointError(
            "the checkpoint's counter has another frequency or width than this host's: its "
            "timekeeper's mult/shift would be wrong here"
        )
    if mode == "exact" and not same:
        raise CheckpointError("mode 'exact' restores only onto the host the checkpoint is from")
    ns = _new_timekeeper_ns(host, name, saved, path)
    _restore_tk(ns, saved, path)
    if mode == "exact":
        _restore_reference(ns, saved, path)
    else:
        _rebase(ns, _get(dump, "cycles", int, "state.dump"), down, mode == "suspend")
    ns.plan()
    host._update_tick()
    return ns


def _rebase(ns: TimekeeperNamespace, dump_cycles: int, down: int, boot_moves: bool) -> None:
    """Fold the partial tick at the dump, then resume here with `down` ns of sleep injected."""
    tk = ns.tk
    tk.timekeeping_forward_now(dump_cycles)
    cycles = ns.host.sample()
    sleep = _floor(mpq(down) / ns.dilation)
    tk.inject_sleeptime(cycles, sleep)
    if not boot_moves:
        tk.offs_boot -= sleep
    ns.reference = Reference(tk, cycles, mpq(ns.host.clocksource.freq_hz) * ns.dilation)
