"""One namespace's checkpoint and its CRIU-style restore onto a host."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

from gmpy2 import mpq

from ..clockids import CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME
from ..host import Host
from ..namespace import Namespace, OffsetsNamespace, TimekeeperNamespace
from ..reference import Reference
from ..timekeeper import NSEC_PER_SEC
from ._format import (
    RESTORE_MODES,
    CheckpointError,
    _envelope,
    _floor,
    _get,
    _q,
    _rational,
    at_boundary,
    verify,
)
from ._state import (
    _new_timekeeper_ns,
    _restore_reference,
    _restore_tasks,
    _restore_tk,
    check_namespace_state,
    namespace_state,
)
from ._validate import S64, U64, fail, int_in, nonempty

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
            "which only a whole-host checkpoint carries (checkpoint_host)"
        )
    pending = [t.pid for t in ns.tasks if t._children is not ns]
    if pending:
        raise CheckpointError(
            f"cannot checkpoint namespace {ns.name!r}: task {pending[0]} has unshared a time "
            "namespace for its children, which only a whole-host checkpoint carries"
        )
    if ns.agents:
        raise CheckpointError(
            f"cannot checkpoint namespace {ns.name!r}: a daemon acts on it (a "
            f"{type(ns.agents[0]).__name__}), which only a whole-host checkpoint carries"
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
    host_caps: bool = False,
) -> Namespace:
    """Create a namespace on `host` from `checkpoint_namespace`'s document.

    `mode` says what the clocks did while the namespace was away: 'criu' — MONOTONIC and
    BOOTTIME resume at their dump values (what CRIU does with Linux's offsets) and REALTIME
    moves on by the downtime; 'suspend' — as after a suspend, BOOTTIME moves on too; 'exact'
    — the state verbatim (same host only): the clocks read as if it had never stopped.
    The downtime is the host's true time since the dump (same host), else `downtime_ns`.

    Every field is range-checked before anything is built, and a failure leaves the host as
    it was (no namespace registered, no queue entry, no pid used), so a retry under the same
    name works.  Tasks holding capabilities over the host ("CAP_SYS_TIME:host") are refused
    unless the host's owner passes `host_caps=True`: a document cannot grant them.
    """
    if mode not in RESTORE_MODES:
        raise ValueError(f"mode must be one of {RESTORE_MODES}, got {mode!r}")
    if downtime_ns is not None and downtime_ns < 0:
        raise ValueError(f"downtime_ns must be >= 0, got {downtime_ns}")
    state = verify(document, source, "namespace")["state"]

    def build() -> Namespace:
        saved, dump, target, downtime = _check(host, state, name, mode, downtime_ns, host_caps)
        with _undo_on_error(host, target):
            if saved["model"] == "offsets":
                ns = _restore_offsets_ns(host, target, saved, dump, mode, downtime)
            else:
                ns = _restore_timekeeper_ns(host, target, saved, dump, mode, downtime)
            _restore_tasks(ns, saved, "state.namespace", fresh_pids=True)
        return ns

    return at_boundary(source, build)


def _check(
    host: Host,
    state: dict[str, Any],
    name: str | None,
    mode: str,
    downtime_ns: int | None,
    host_caps: bool,
) -> tuple[dict[str, Any], dict[str, Any], str, int]:
    """Everything about the document and this host, before anything is built."""
    saved = _get(state, "namespace", dict, "state")
    dump = _get(state, "dump", dict, "state")
    target = name or nonempty(saved, "name", "state.namespace")
    if target in host.namespaces:
        raise CheckpointError(f"namespace {target!r} already exists on this host")
    cs = _get(dump, "clocksource", dict, "state.dump")
    same = cs == host.clocksource.describe()
    if (cs.get("freq_hz"), cs.get("bits")) != (host.clocksource.freq_hz, host.clocksource.bits):
        raise CheckpointError(
            "the checkpoint's counter has another frequency or width than this host's: its "
            "timekeeper's mult/shift would be wrong here"
        )
    if mode == "exact" and not same:
        raise CheckpointError("mode 'exact' restores only onto the host the checkpoint is from")
    dump_cycles = int_in(dump, "cycles", "state.dump", *U64)
    if mode == "exact" and dump_cycles > host.cycles_now():
        raise fail("state.dump.cycles", f"a count <= this host's counter now "
                   f"({host.cycles_now()})", dump_cycles)
    readings = _get(dump, "readings", dict, "state.dump")
    for key in ("monotonic", "boottime", "realtime", "raw"):
        int_in(readings, key, "state.dump.readings", *S64)
    check_namespace_state(host, saved, "state.namespace", max_cycles=dump_cycles,
                          host_caps=host_caps, pids=None)
    return saved, dump, target, _downtime(host, dump, same, downtime_ns)


@contextlib.contextmanager
def _undo_on_error(host: Host, name: str) -> Iterator[None]:
    """Take back a half-built namespace: registration, queue entries, tick, pids drawn."""
    first_pid = next(host._pids)
    host._pids = itertools.count(first_pid)
    try:
        yield
    except BaseException:
        ns = host.namespaces.pop(name, None)
        host.stats.per_namespace.pop(name, None)
        if isinstance(ns, TimekeeperNamespace):
            host.queue.remove(ns._hook)
            if ns in host.periodic:
                host.periodic.remove(ns)
        host._pids = itertools.count(first_pid)
        host._update_tick()
        host._program()
        raise


def _downtime(host: Host, dump: dict[str, Any], same: bool, given: int | None) -> int:
    if given is not None:
        return given
    if not same:
        raise CheckpointError("the checkpoint is from another host: pass downtime_ns")
    then = _rational(dump, "true_time", "state.dump")
    if then < 0:
        raise fail("state.dump.true_time", "a true time >= 0", dump["true_time"])
    if then > host.true_time:
        raise CheckpointError("the checkpoint is from this host's future")
    return _floor((host.true_time - then) * NSEC_PER_SEC)


def _restore_offsets_ns(
    host: Host, name: str, saved: dict[str, Any], dump: dict[str, Any], mode: str, down: int
) -> Namespace:
    ns = host.create_namespace(name, model="offsets")
    assert isinstance(ns, OffsetsNamespace)
    if mode == "exact":
        mono = saved["monotonic_offset"]
        boot = saved["boottime_offset"]
    else:
        readings = dump["readings"]
        root = host.root
        mono = readings["monotonic"] - root.clock_gettime_ns(CLOCK_MONOTONIC)
        boot = readings["boottime"] - root.clock_gettime_ns(CLOCK_BOOTTIME)
        boot += down if mode == "suspend" else 0
    try:
        ns.set_offsets(monotonic_ns=mono, boottime_ns=boot)
    except OSError as err:
        raise fail("state.dump.readings" if mode != "exact" else "state.namespace",
                   f"offsets this host accepts ({err.strerror or err})", show=False) from None
    return ns


def _restore_timekeeper_ns(
    host: Host,
    name: str,
    saved: dict[str, Any],
    dump: dict[str, Any],
    mode: str,
    down: int,
) -> Namespace:
    path = "state.namespace"
    ns = _new_timekeeper_ns(host, name, saved, path)
    _restore_tk(ns, saved, path)
    if mode == "exact":
        _restore_reference(ns, saved, path)
    else:
        _rebase(ns, dump["cycles"], down, mode == "suspend")
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
        tk.readout_changed()
    ns.reference = Reference(tk, cycles, mpq(ns.host.clocksource.freq_hz) * ns.dilation)
