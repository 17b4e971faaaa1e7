"""One namespace's state, shared by host and namespace checkpoints."""

from __future__ import annotations

from typing import Any

from ..host import Host
from ..namespace import Namespace, OffsetsNamespace, TimekeeperNamespace
from ..reference import Reference
from ..task import Task
from ..timekeeper import ClockInit, Timekeeper
from ._format import CheckpointError, _get, _q, _rational

# -- namespaces --------------------------------------------------------------------------------


def _tasks(ns: Namespace) -> list[dict[str, Any]]:
    return [{"pid": t.pid, "caps": sorted(t.creds.caps)} for t in ns.tasks]


def namespace_state(ns: Namespace) -> dict[str, Any]:
    """One namespace's state (the part shared by host and namespace checkpoints)."""
    common = {"name": ns.name, "model": ns.model, "frozen": ns.frozen, "tasks": _tasks(ns)}
    if isinstance(ns, OffsetsNamespace):
        return common | {
            "monotonic_offset": ns.monotonic_offset,
            "boottime_offset": ns.boottime_offset,
        }
    assert isinstance(ns, TimekeeperNamespace)
    ref = ns.reference
    reference = {name: _q(getattr(ref, name)) for name in Reference.RATIONAL_FIELDS}
    reference |= {name: getattr(ref, name) for name in Reference.INT_FIELDS}
    return common | {
        "update": ns.update,
        "dilation": _q(ns.dilation),
        "timekeeper": ns.tk.snapshot(),
        "restore_on_error": ns.tk.restore_on_error,
        "reference": reference,
        "advance_calls": ns.advance_calls,
        "aux": None if ns._aux is None else ns._aux.to_dict(),
    }


def _restore_tk(ns: TimekeeperNamespace, state: dict[str, Any], path: str) -> None:
    snap = _get(state, "timekeeper", dict, path)
    for name in Timekeeper._FIELDS:
        _get(snap, name, (int, bool), f"{path}.timekeeper")
    try:
        ns.tk.restore(snap)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint field {path}.timekeeper.ntp: {err}") from None
    ns.tk.restore_on_error = _get(state, "restore_on_error", bool, path)
    ns.advance_calls = _get(state, "advance_calls", int, path)
    _restore_aux(ns, state.get("aux"), f"{path}.aux")


def _restore_aux(ns: TimekeeperNamespace, aux: Any, path: str) -> None:
    """The eight aux clocks, when the checkpoint has them (None: never used)."""
    if aux is None:
        return
    if not ns.host.aux_clocks:
        raise CheckpointError(f"checkpoint field {path}: aux clocks on a host without them")
    if not isinstance(aux, list) or len(aux) != 8:
        raise CheckpointError(f"checkpoint field {path}: expected a list of 8 aux clock states")
    for n, clock in enumerate(aux):
        where = f"{path}[{n}]"
        if not isinstance(clock, dict):
            raise CheckpointError(f"checkpoint field {where}: expected an object")
        _get(clock, "offs_aux", int, where)
        _get(clock, "ntp", dict, where)
        snap = clock.get("tk")
        if snap is not None:
            if not isinstance(snap, dict):
                raise CheckpointError(f"checkpoint field {where}.tk: expected an object or null")
            for name in Timekeeper._FIELDS:
                _get(snap, name, (int, bool), f"{where}.tk")
    try:
        ns.aux.load(aux)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint field {path}: {err}") from None


def _restore_reference(ns: TimekeeperNamespace, state: dict[str, Any], path: str) -> None:
    ref = _get(state, "reference", dict, path)
    for name in Reference.RATIONAL_FIELDS:
        setattr(ns.reference, name, _rational(ref, name, f"{path}.reference"))
    for name in Reference.INT_FIELDS:
        setattr(ns.reference, name, _get(ref, name, int, f"{path}.reference"))


def _restore_tasks(ns: Namespace, state: dict[str, Any], path: str, fresh_pids: bool) -> None:
    for i, task in enumerate(_get(state, "tasks", list, path)):
        caps = _get(task, "caps", list, f"{path}.tasks[{i}]")
        pid = ns.host.next_pid() if fresh_pids else _get(task, "pid", int, f"{path}.tasks[{i}]")
        try:
            ns.tasks.append(Task(ns, pid, frozenset(caps)))
        except ValueError as err:
            raise CheckpointError(f"checkpoint field {path}.tasks[{i}].caps: {err}") from None
    ns.frozen = _get(state, "frozen", bool, path) or bool(ns.tasks)


def _dummy_init(host: Host) -> ClockInit:
    return ClockInit(
        cycles=host.counter.last_ext, realtime_ns=0, monotonic_ns=0, boottime_ns=0, raw_ns=0
    )


def _new_timekeeper_ns(
    host: Host, name: str, state: dict[str, Any], path: str
) -> TimekeeperNamespace:
    update = _get(state, "update", str, path)
    if update not in ("lazy", "periodic"):
        raise CheckpointError(f"checkpoint field {path}.update: unknown policy {update!r}")
    dilation = _rational(state, "dilation", path)
    if dilation <= 0:
        raise CheckpointError(f"checkpoint field {path}.dilation must be > 0")
    return host._add_timekeeper_ns(name, _dummy_init(host), update, dilation)
