"""One namespace's state, shared by host and namespace checkpoints."""

from __future__ import annotations

from typing import Any

from gmpy2 import mpq

from ..clockids import MAX_AUX_CLOCKS
from ..host import Host
from ..namespace import MODELS, UPDATE_POLICIES, Namespace, OffsetsNamespace, TimekeeperNamespace
from ..reference import Reference
from ..task import Task
from ..timekeeper import KTIME_SEC_MAX, NSEC_PER_SEC, ClockInit
from ._format import CheckpointError, _get, _q, _rational
from ._validate import (
    S64,
    U64,
    check_ntp,
    check_reference,
    check_tasks,
    check_timekeeper,
    choice,
    clock_params,
    fail,
    int_in,
    nonempty,
    positive_rational,
)

#: `set_offsets` refuses offsets beyond ±(KTIME_SEC_MAX + 1) whole seconds (ERANGE).
MAX_OFFSET_NS = (KTIME_SEC_MAX + 2) * NSEC_PER_SEC - 1

# -- namespaces --------------------------------------------------------------------------------


def _tasks(ns: Namespace) -> list[dict[str, Any]]:
    return [_task(t) for t in ns.tasks]


def _task(t: Task) -> dict[str, Any]:
    out: dict[str, Any] = {"pid": t.pid, "caps": sorted(t.creds.caps)}
    if t._children is not t._ns:  # after unshare_time: the pending time_ns_for_children
        out["for_children"] = t._children.name
    return out


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


# -- checks (nothing is built before a namespace's whole state has passed them) ------------------


def check_namespace_state(
    host: Host,
    state: Any,
    path: str,
    *,
    max_cycles: int,
    host_caps: bool,
    pids: set[int] | None,
) -> str:
    """Range-check one namespace's saved state for `host`; returns its model."""
    if not isinstance(state, dict):
        raise fail(path, "an object", type(state).__name__)
    nonempty(state, "name", path)
    model = choice(state, "model", path, MODELS)
    if model == "offsets":
        for key in ("monotonic_offset", "boottime_offset"):
            int_in(state, key, path, -MAX_OFFSET_NS, MAX_OFFSET_NS,
                   "an offset within ±KTIME_SEC_MAX s (proc_timens_set_offset's range)")
    else:
        _check_timekeeper_ns(host, state, path, max_cycles)
    check_tasks(state, path, host_caps, pids)
    return model


def _check_timekeeper_ns(host: Host, state: dict[str, Any], path: str, max_cycles: int) -> None:
    choice(state, "update", path, UPDATE_POLICIES)
    dilation = positive_rational(state, "dilation", path)
    cs = host.clocksource
    freq = mpq(cs.freq_hz) * dilation
    params = clock_params(freq if dilation != 1 else cs.freq_hz, cs.mask, f"{path}.dilation")
    clock = (params.mult, params.shift, params.maxadj)
    check_timekeeper(state.get("timekeeper"), f"{path}.timekeeper", clock, host.hz, max_cycles)
    _get(state, "timekeeper", dict, path)
    _get(state, "restore_on_error", bool, path)
    int_in(state, "advance_calls", path, *U64)
    check_reference(_get(state, "reference", dict, path), f"{path}.reference", freq)
    _check_aux(host, state.get("aux"), f"{path}.aux", clock, max_cycles)


def _check_aux(
    host: Host, aux: Any, path: str, clock: tuple[int, int, int], max_cycles: int
) -> None:
    """The eight aux clocks, when the checkpoint has them (None: never used)."""
    if aux is None:
        return
    if not host.aux_clocks:
        raise fail(path, "null (this host has no aux clocks)", show=False)
    if not isinstance(aux, list) or len(aux) != MAX_AUX_CLOCKS:
        raise fail(path, f"a list of {MAX_AUX_CLOCKS} aux clock states", aux)
    for n, state in enumerate(aux):
        where = f"{path}[{n}]"
        if not isinstance(state, dict):
            raise fail(where, "an object", type(state).__name__)
        int_in(state, "offs_aux", where, *S64)
        check_ntp(_get(state, "ntp", dict, where), f"{where}.ntp", host.hz)
        if "tk" not in state:
            raise CheckpointError(f"checkpoint field {where}.tk is missing")
        if state["tk"] is not None:
            check_timekeeper(state["tk"], f"{where}.tk", clock, host.hz, max_cycles)


# -- restoring checked state -------------------------------------------------------------------


def _restore_tk(ns: TimekeeperNamespace, state: dict[str, Any], path: str) -> None:
    """Load a checked timekeeper state into `ns` (`check_namespace_state` ran first)."""
    ns.tk.restore(state["timekeeper"])
    ns.tk.restore_on_error = state["restore_on_error"]
    ns.advance_calls = state["advance_calls"]
    if state.get("aux") is not None:
        ns.aux.load(state["aux"])


def _restore_reference(ns: TimekeeperNamespace, state: dict[str, Any], path: str) -> None:
    ref = state["reference"]
    for field in Reference.RATIONAL_FIELDS:
        setattr(ns.reference, field, _rational(ref, field, f"{path}.reference"))
    for field in Reference.INT_FIELDS:
        setattr(ns.reference, field, ref[field])


def _restore_tasks(ns: Namespace, state: dict[str, Any], path: str, fresh_pids: bool) -> None:
    """Recreate the (checked) tasks: their own pids, or fresh ones from this host."""
    for task in state["tasks"]:
        pid = ns.host.next_pid() if fresh_pids else task["pid"]
        ns.tasks.append(Task(ns, pid, frozenset(task["caps"])))
    ns.frozen = state["frozen"] or bool(ns.tasks)


def _dummy_init(host: Host) -> ClockInit:
    return ClockInit(
        cycles=host.counter.last_ext, realtime_ns=0, monotonic_ns=0, boottime_ns=0, raw_ns=0
    )


def _new_timekeeper_ns(
    host: Host, name: str, state: dict[str, Any], path: str
) -> TimekeeperNamespace:
    """A fresh timekeeper namespace for a checked state, before its fields are loaded."""
    dilation = _rational(state, "dilation", path)
    return host._add_timekeeper_ns(name, _dummy_init(host), state["update"], dilation)
