"""Checkpoints are range-checked: a corrupt (re-signed) document ends as CheckpointError.

Every case edits one field of a valid checkpoint, re-computes the checksum (sha256 is not a
MAC: anyone can re-sign an edited document), and expects a `CheckpointError` whose message
names the field.  The property test mutates random fields and accepts only two outcomes: a
CheckpointError, or a host that then runs without hanging.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ntp.timex import ADJ_OFFSET, ADJ_STATUS, MAXFREQ_SCALED, NSEC_PER_SEC, STA_INS, STA_PLL, Timex
from tk_core.checkpoint import (
    CheckpointError,
    checkpoint_host,
    checkpoint_namespace,
    dumps,
    loads,
    restore_host,
    restore_namespace,
)
from tk_core.checkpoint._format import _envelope
from tk_core.host import Host
from tk_core.namespace import TimekeeperNamespace

HANG_LIMIT_S = 20.0


class Hung(Exception):
    """The engine did not return in time (a corrupt checkpoint hung the host)."""


@contextlib.contextmanager
def no_hang(seconds: float = HANG_LIMIT_S) -> Iterator[None]:
    """Turn a hang into a test failure (SIGALRM; only possible in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise Hung(f"no return within {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _host() -> Host:
    host = Host(kernel_version="6.17", aux_clocks=True)
    a = host.create_namespace("a", update="periodic")
    host.create_namespace("b", model="offsets")
    c = host.create_namespace("c")
    a.spawn({"CAP_SYS_TIME"})
    assert isinstance(c, TimekeeperNamespace)
    c.adjtimex(Timex(modes=ADJ_STATUS, status=STA_PLL))
    c.adjtimex(Timex(modes=ADJ_OFFSET, offset=20_000))  # slewing: its NTP hook is queued
    c.aux_clock_enable_write(0, "1")
    host.run_for(1_500_000_000)
    return host


_HOST_DOC = checkpoint_host(_host())
_NS_DOC = checkpoint_namespace(_host().namespaces["a"])
_OFFSETS_DOC = checkpoint_namespace(_host().namespaces["b"])


def _target() -> Host:
    """A host to restore a namespace onto: same clocksource, later than the dump."""
    host = Host(kernel_version="6.17")
    host.run_for(2_000_000_000)
    return host


def host_doc() -> dict[str, Any]:
    return copy.deepcopy(_HOST_DOC)


def ns_doc() -> dict[str, Any]:
    return copy.deepcopy(_NS_DOC)


def resign(doc: dict[str, Any]) -> dict[str, Any]:
    """The edited document with a fresh checksum, as an editor would leave it."""
    return _envelope(doc["kind"], doc["state"])


def _walk(doc: Any, path: str) -> tuple[Any, Any]:
    """(container, key) of a dotted path with [i] indices, under doc["state"]."""
    node = doc["state"]
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    keys: list[Any] = [int(p[1:-1]) if p.startswith("[") else p for p in parts]
    for key in keys[:-1]:
        node = node[key]
    return node, keys[-1]


def edit(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    node, key = _walk(doc, path)
    node[key] = value
    return resign(doc)


def delete(doc: dict[str, Any], path: str) -> dict[str, Any]:
    node, key = _walk(doc, path)
    del node[key]
    return resign(doc)


def _tk(doc: dict[str, Any], i: int) -> dict[str, Any]:
    return doc["state"]["namespaces"][i]["timekeeper"]


NS1 = "namespaces[1].timekeeper"
SHIFT = _HOST_DOC["state"]["namespaces"][1]["timekeeper"]["shift"]

# (field path under state, new value, the part of the message that names the field)
HOST_CASES: list[tuple[str, Any, str]] = [
    (f"{NS1}.cycle_interval", 0, f"{NS1}.cycle_interval"),
    (f"{NS1}.cycle_interval", -1, f"{NS1}.cycle_interval"),
    (f"{NS1}.mult", -5, f"{NS1}.mult"),
    (f"{NS1}.mult", 0, f"{NS1}.mult"),
    (f"{NS1}.mult", 2**32, f"{NS1}.mult"),
    (f"{NS1}.clock_mult", 0, f"{NS1}.clock_mult"),
    (f"{NS1}.shift", 200, f"{NS1}.shift"),
    (f"{NS1}.shift", -1, f"{NS1}.shift"),
    (f"{NS1}.cycle_last", -1, f"{NS1}.cycle_last"),
    (f"{NS1}.cycle_last", 2**64, f"{NS1}.cycle_last"),
    (f"{NS1}.xtime_nsec", NSEC_PER_SEC << SHIFT, f"{NS1}.xtime_nsec"),
    (f"{NS1}.xtime_nsec", -1, f"{NS1}.xtime_nsec"),
    (f"{NS1}.raw_xtime_nsec", -1, f"{NS1}.raw_xtime_nsec"),
    (f"{NS1}.xtime_interval", 0, f"{NS1}.xtime_interval"),
    (f"{NS1}.xtime_sec", -(2**70), f"{NS1}.xtime_sec"),
    (f"{NS1}.raw_sec", -1, f"{NS1}.raw_sec"),
    (f"{NS1}.ntp_err_mult", 7, f"{NS1}.ntp_err_mult"),
    (f"{NS1}.skip_second_overflow", -1, f"{NS1}.skip_second_overflow"),
    (f"{NS1}.mult_warned", 1, f"{NS1}.mult_warned"),
    (f"{NS1}.tai_offset", 2**40, f"{NS1}.tai_offset"),
    (f"{NS1}.offs_real", 12345, f"{NS1}.offs_real"),
    (f"{NS1}.base_mono", -1, f"{NS1}.base_mono"),
    (f"{NS1}.hz", 0, f"{NS1}.hz"),
    (f"{NS1}.ntp_tick", 0, f"{NS1}.ntp_tick"),
    (f"{NS1}.ntp.time_constant", 11, f"{NS1}.ntp.time_constant"),
    (f"{NS1}.ntp.time_constant", -1, f"{NS1}.ntp.time_constant"),
    (f"{NS1}.ntp.tick_usec", 5000, f"{NS1}.ntp.tick_usec"),
    (f"{NS1}.ntp.time_freq", MAXFREQ_SCALED + 1, f"{NS1}.ntp.time_freq"),
    (f"{NS1}.ntp.time_status", 1 << 16, f"{NS1}.ntp.time_status"),
    (f"{NS1}.ntp.time_state", 9, f"{NS1}.ntp.time_state"),
    (f"{NS1}.ntp.tick_length", 0, f"{NS1}.ntp.tick_length"),
    (f"{NS1}.ntp.tick_length_base", 1, f"{NS1}.ntp.tick_length_base"),
    (f"{NS1}.ntp.time_offset", 2**62, f"{NS1}.ntp.time_offset"),
    (f"{NS1}.ntp.time_maxerror", 2**64, f"{NS1}.ntp.time_maxerror"),
    (f"{NS1}.ntp.behaviour_flags", {"nonsense": 1}, f"{NS1}.ntp.behaviour_flags"),
    ("namespaces[1].dilation", "1000000000000000", "namespaces[1].dilation"),
    ("namespaces[1].dilation", "1/1000000000000000000000000", "namespaces[1].dilation"),
    ("namespaces[1].advance_calls", -1, "namespaces[1].advance_calls"),
    ("namespaces[1].reference.freq_eff", "0", "namespaces[1].reference.freq_eff"),
    ("namespaces[1].reference.anchor_cycles", -1, "namespaces[1].reference.anchor_cycles"),
    ("namespaces[1].tasks[0].pid", 0, "namespaces[1].tasks[0].pid"),
    ("namespaces[1].tasks[0].caps", ["CAP_SYS_TIME", "CAP_SYS_TIME"],
     "namespaces[1].tasks[0].caps"),
    ("namespaces[2].name", "a", "namespaces[2].name"),
    ("namespaces[2].name", "", "namespaces[2].name"),
    ("namespaces[0].name", "zzz", "root"),
    ("namespaces[0].update", "periodic", "namespaces[0].update"),
    ("namespaces[2].monotonic_offset", 2**70, "namespaces[2].monotonic_offset"),
    ("namespaces[3].aux[0].offs_aux", 2**64, "namespaces[3].aux[0].offs_aux"),
    ("namespaces[3].aux[0].tk.mult", 0, "namespaces[3].aux[0].tk.mult"),
    ("namespaces[3].aux[1].ntp.time_constant", 99, "namespaces[3].aux[1].ntp.time_constant"),
    ("config.hz", 0, "config.hz"),
    ("config.user_hz", 0, "config.user_hz"),
    ("config.kernel_version", "banana", "config.kernel_version"),
    ("config.lazy_error_bound", -1, "config.lazy_error_bound"),
    ("config.options.min_delta_ns", 0, "config.options.min_delta_ns"),
    ("config.options.irq_cost_ns", -1, "config.options.irq_cost_ns"),
    ("config.options.aux_clocks", 1, "config.options.aux_clocks"),
    ("config.clocksource.freq_hz", 0, "config.clocksource.freq_hz"),
    ("config.clocksource.start_cycles", -1, "config.clocksource.start_cycles"),
    ("counter.last_ext", -1, "counter.last_ext"),
    ("counter.last_raw", 2**64, "counter.last_raw"),
    ("counter.mask", 5, "counter.mask"),
    ("counter.max_delta", "x", "counter.max_delta"),
    ("counter.samples", -1, "counter.samples"),
    ("true_time", "-1", "true_time"),
    ("epoch_ns", -1, "epoch_ns"),
    ("lost", -1, "lost"),
    ("next_pid", 0, "next_pid"),
    ("stats.interrupts", -1, "stats.interrupts"),
    ("stats.per_namespace.a.expiries", -1, "stats.per_namespace.a.expiries"),
    ("queue[0].key", -1, "queue[0].key"),
    ("queue[1].kind", "tick", "queue[1].kind"),
]


def _queue_has_tick_and_hook() -> bool:
    kinds = sorted(e["kind"] for e in _HOST_DOC["state"]["queue"])
    return kinds == ["ntp_hook", "tick"]


def test_the_base_documents_restore_and_run() -> None:
    assert _queue_has_tick_and_hook()
    assert _HOST_DOC["state"]["namespaces"][3]["aux"][0]["tk"] is not None
    with no_hang():
        host = restore_host(resign(host_doc()))
        host.run_for(10_000_000)
        ns = restore_namespace(_target(), resign(ns_doc()))
        ns.host.run_for(10_000_000)


def _expect_field_error(call: Any, fragment: str) -> None:
    with no_hang(), pytest.raises(CheckpointError) as info:
        host = call()
        host = getattr(host, "host", host)  # a namespace: run its host
        host.run_for(10_000_000)
    assert fragment in str(info.value), str(info.value)


@pytest.mark.parametrize(("path", "value", "fragment"), HOST_CASES, ids=lambda v: str(v)[:40])
def test_host_corruption_is_a_checkpoint_error(path: str, value: Any, fragment: str) -> None:
    doc = edit(host_doc(), path, value)
    _expect_field_error(lambda: restore_host(doc), fragment)


NS = "namespace.timekeeper"
NS_CASES: list[tuple[str, Any, str]] = [
    (f"{NS}.cycle_interval", 0, f"{NS}.cycle_interval"),
    (f"{NS}.mult", -1, f"{NS}.mult"),
    (f"{NS}.mult", 0, f"{NS}.mult"),
    (f"{NS}.shift", 200, f"{NS}.shift"),
    (f"{NS}.ntp.time_constant", 50, f"{NS}.ntp.time_constant"),
    ("namespace.model", "bogus", "namespace.model"),
    ("namespace.name", "", "namespace.name"),
    ("namespace.tasks[0].caps", ["CAP_SYS_TIME:host"], "namespace.tasks[0].caps"),
    ("dump.cycles", -1, "dump.cycles"),
    ("dump.readings.monotonic", 2**64, "dump.readings.monotonic"),
    ("namespace.timekeeper.ntp.behaviour_flags.maxerror_clamp", "yes",
     "namespace.timekeeper.ntp.behaviour_flags.maxerror_clamp"),
]


@pytest.mark.parametrize(("path", "value", "fragment"), NS_CASES, ids=lambda v: str(v)[:40])
def test_namespace_corruption_is_a_checkpoint_error(path: str, value: Any, fragment: str) -> None:
    doc = edit(ns_doc(), path, value)
    _expect_field_error(lambda: restore_namespace(_target(), doc), fragment)


@pytest.mark.parametrize(
    "path",
    ["stats.per_namespace.a", "stats.ticks", "namespaces[0]"],
)
def test_a_missing_field_is_named(path: str) -> None:
    doc = delete(host_doc(), path)
    leaf = path.rsplit(".", 1)[-1]
    fragment = "root" if path == "namespaces[0]" else leaf
    _expect_field_error(lambda: restore_host(doc), fragment)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "text",
    [
        _deep(100_000),
        '{"format": "timekeepers-checkpoint", "version": 1, "kind": "host", "n": '
        + "9" * 10_000 + "}",
        dumps(_HOST_DOC).replace('"hz": 1000,', '"hz": 1000, "hz": 1000,', 1),
        dumps(edit(host_doc(), "config.clocksource.seed", float("nan"))),
    ],
    ids=["deep", "huge-int", "duplicate-key", "nan"],
)
def test_unreadable_text_is_a_checkpoint_error(text: str) -> None:
    with pytest.raises(CheckpointError) as info:
        loads(text, "bad.json")
    assert "bad.json" in str(info.value)


OFFSETS_CASES: list[tuple[str, Any, str, str]] = [
    ("dump.readings.monotonic", -(2**62), "criu", "dump.readings"),  # was an OSError
    ("namespace.boottime_offset", 2**70, "exact", "namespace.boottime_offset"),
    ("namespace.frozen", "no", "criu", "namespace.frozen"),
]


@pytest.mark.parametrize(("path", "value", "mode", "fragment"), OFFSETS_CASES)
def test_offsets_namespace_corruption_is_a_checkpoint_error(
    path: str, value: Any, mode: str, fragment: str
) -> None:
    doc = edit(copy.deepcopy(_OFFSETS_DOC), path, value)
    host = _target()
    before = _host_view(host)
    _expect_field_error(lambda: restore_namespace(host, doc, mode=mode), fragment)
    assert _host_view(host) == before
    restore_namespace(host, resign(copy.deepcopy(_OFFSETS_DOC)), mode=mode)
    assert "b" in host.namespaces


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        ("namespace.tasks[0].caps", "CAP_SYS_TIME", "namespace.tasks[0].caps"),
        ("dump.true_time", "1/0", "dump.true_time"),
        ("namespace.timekeeper.ntp.hz", 0, "namespace.timekeeper.ntp"),
        ("namespace.tasks[0].caps", ["CAP_NOPE"], "namespace.tasks[0].caps"),
    ],
)
def test_corruptions_refused_before_stay_refused(path: str, value: Any, fragment: str) -> None:
    """Not part of the range-check table: these were already CheckpointErrors."""
    doc = edit(ns_doc(), path, value)
    _expect_field_error(lambda: restore_namespace(_target(), doc), fragment)


@pytest.mark.parametrize(
    "path",
    [f"{NS1}.mult", f"{NS1}.ntp.tick_usec", "config.options", "queue[0].expires",
     "namespaces[3].aux[0].tk"],
)
def test_missing_fields_refused_before_stay_refused(path: str) -> None:
    doc = delete(host_doc(), path)
    _expect_field_error(lambda: restore_host(doc), path.rsplit(".", 1)[-1])


def test_text_refused_before_stays_refused() -> None:
    for text in ("", "\ud800", "{", '{"format": "timekeepers-checkpoint"}'):
        with pytest.raises(CheckpointError, match=r"bad\.json"):
            loads(text, "bad.json")


def test_a_wandering_clocksource_far_in_the_future_is_refused_not_redrawn() -> None:
    doc = host_doc()
    doc["state"]["config"]["clocksource"]["wander_ppm"] = "1"
    _expect_field_error(lambda: restore_host(edit(doc, "true_time", "1000000000")),
                        "state.true_time")


def test_deep_or_huge_state_objects_are_checkpoint_errors() -> None:
    nested: Any = []
    for _ in range(100_000):
        nested = [nested]
    doc = host_doc()
    doc["state"]["sections"] = {"x": nested}
    with pytest.raises(CheckpointError):
        restore_host(doc)
    doc = host_doc()
    doc["state"]["epoch_ns"] = 10**10_000
    with pytest.raises(CheckpointError):
        restore_host(doc)


def test_a_namespace_with_host_capabilities_needs_the_owner_to_allow_them() -> None:
    doc = edit(ns_doc(), "namespace.tasks[0].caps", ["CAP_SYS_TIME:host"])
    ns = restore_namespace(_target(), doc, host_caps=True)
    assert ns.tasks[0].creds.caps == frozenset({"CAP_SYS_TIME:host"})


# -- a failed restore leaves nothing behind ---------------------------------------------------


def _host_view(host: Host) -> tuple[Any, ...]:
    return (
        list(host.namespaces),
        sorted(host.stats.per_namespace),
        [ns.name for ns in host.periodic],
        [(k, type(e).__name__) for k, _, e in host.queue._list],
        host.root.clock_gettime_ns(1),
    )


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("namespace.tasks[0].caps", ["CAP_NOPE"]),
        (f"{NS}.ntp.time_constant", 50),
        (f"{NS}.mult", 0),
        ("namespace.advance_calls", -1),
        ("namespace.aux", [1, 2]),
    ],
)
def test_a_failed_namespace_restore_leaves_the_host_unchanged(path: str, value: Any) -> None:
    host = Host(kernel_version="6.17")
    host.create_namespace("other", update="periodic")
    host.run_for(5_000_000)
    before = _host_view(host)
    pid_before = next(host._pids)
    host._pids = iter(range(pid_before, 1 << 30))  # type: ignore[assignment]
    with pytest.raises(CheckpointError):
        restore_namespace(host, edit(ns_doc(), path, value), "a", "suspend", downtime_ns=0)
    assert _host_view(host) == before
    assert next(host._pids) == pid_before
    ns = restore_namespace(host, resign(ns_doc()), "a", "suspend", downtime_ns=0)
    assert host.namespaces["a"] is ns
    assert ns.tasks[0].pid == pid_before + 1
    with no_hang():
        host.run_for(10_000_000)


def test_a_failed_namespace_restore_with_a_periodic_namespace_unregisters_it() -> None:
    doc = ns_doc()
    doc["state"]["namespace"]["update"] = "periodic"
    doc["state"]["namespace"]["tasks"][0]["caps"] = ["CAP_NOPE"]
    host = Host(kernel_version="6.17")
    before = _host_view(host)
    with pytest.raises(CheckpointError):
        restore_namespace(host, resign(doc), mode="suspend", downtime_ns=0)
    assert _host_view(host) == before
    assert not host.periodic


# -- the property: any mutation is refused cleanly or runs -------------------------------------


def _leaves(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _leaves(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _leaves(v, (*prefix, i))
    return out


_HOST_PATHS = _leaves(_HOST_DOC["state"])
_NS_PATHS = _leaves(_NS_DOC["state"])

_REPLACEMENTS = st.sampled_from(
    [0, -1, 1, 2, 2**31, 2**32, 2**63, 2**64, -(2**64), 10**40, 10**400, None, True, "",
     "x", "1/0", "-1", "1/3", [], {}, [0], {"a": 1}, 1.5, STA_INS]
)


@st.composite
def _mutations(draw: st.DrawFn, paths: list[tuple[Any, ...]]) -> list[Any]:
    n = draw(st.integers(1, 3))
    out = []
    for _ in range(n):
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["replace", "replace", "delete", "scale"]))
        out.append((path, how, draw(_REPLACEMENTS), draw(st.sampled_from([-1, 0, 2, 1 << 40]))))
    return out


def _mutate(doc: dict[str, Any], mutations: list[Any]) -> dict[str, Any]:
    for path, how, value, factor in mutations:
        node: Any = doc["state"]
        try:
            for key in path[:-1]:
                node = node[key]
            key = path[-1]
            if how == "delete":
                del node[key]
            elif how == "scale" and type(node[key]) is int:
                node[key] = node[key] * factor
            else:
                # a copy: the strategy hands out the same list or dict to every example, and a
                # later mutation writing into it would carry over (even into itself, a cycle)
                node[key] = copy.deepcopy(value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced the container
    return resign(doc)


def _restore_and_run(restore: Any) -> None:
    with no_hang():
        try:
            made = restore()
        except CheckpointError:
            return
        host = getattr(made, "host", made)
        host.run_for(20_000_000)
        for ns in host.namespaces.values():
            ns.clock_gettime_ns(0)
            ns.clock_gettime_ns(1)


_FUZZ = settings(  # more under the soak profile (TK_SOAK=1)
    max_examples=max(150, settings.default.max_examples * 3),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@_FUZZ
@given(_mutations(_HOST_PATHS))
def test_mutated_host_checkpoints_restore_or_fail_cleanly(mutations: list[Any]) -> None:
    doc = _mutate(host_doc(), mutations)
    _restore_and_run(lambda: restore_host(doc))


@_FUZZ
@given(_mutations(_NS_PATHS), st.sampled_from(["criu", "suspend", "exact"]))
def test_mutated_namespace_checkpoints_restore_or_fail_cleanly(
    mutations: list[Any], mode: str
) -> None:
    doc = _mutate(ns_doc(), mutations)
    host = Host(kernel_version="6.17")
    host.create_namespace("x")
    before = _host_view(host)
    try:
        with no_hang():
            restore_namespace(host, doc, mode=mode, downtime_ns=1_000)
    except CheckpointError:
        assert _host_view(host) == before
        return
    _restore_and_run(lambda: host)


@_FUZZ
@given(_mutations(_HOST_PATHS))
def test_mutated_text_loads_or_fails_cleanly(mutations: list[Any]) -> None:
    text = dumps(_mutate(host_doc(), mutations))
    try:
        doc = loads(text, "fuzz.json", "host")
    except CheckpointError:
        return
    _restore_and_run(lambda: restore_host(doc))


def test_json_round_trip_of_the_base_document() -> None:
    assert json.loads(dumps(_HOST_DOC)) == _HOST_DOC


# -- the checks never refuse a checkpoint the engine itself wrote --------------------------------

_KERNELS = ("5.4", "5.10", "6.1", "6.6", "6.12", "6.17")


@st.composite
def _driven_host(draw: st.DrawFn) -> Host:
    """A host driven through the calls that move timekeeper and NTP state the most."""
    version = draw(st.sampled_from(_KERNELS))
    hz = draw(st.sampled_from([100, 250, 300, 1000]))
    freq = draw(st.sampled_from([3_000_000_000, 24_000_000, 1_193_182, 32_768]))
    bits = draw(st.sampled_from([64, 56, 32]))
    from tk_core.clocksource import Clocksource

    host = Host(
        Clocksource(freq, bits, error_ppm=draw(st.integers(-200, 200))),
        hz=hz,
        # a leap armed near midnight UTC is applied (or deleted) within the run
        realtime_ns=draw(st.sampled_from([1_700_000_000, 19_676 * 86_400 - 2])) * NSEC_PER_SEC,
        kernel_version=version,
        aux_clocks=version == "6.17",
        root_update=draw(st.sampled_from(["lazy", "periodic"])),
    )
    dilation = draw(st.sampled_from(["1", "2", "1/3", "1000", "1/1000"]))
    ns = host.create_namespace("t", update=draw(st.sampled_from(["lazy", "periodic"])),
                               dilation=dilation)
    off = host.create_namespace("o", model="offsets")
    off.set_offsets(monotonic_ns=draw(st.integers(0, 10**12)), boottime_ns=10**9)
    off.spawn({"CAP_SYS_TIME:host"})
    for _ in range(draw(st.integers(1, 5))):
        target = draw(st.sampled_from([ns, host.root]))
        with contextlib.suppress(OSError):
            _drive(draw, host, target)
    return host


def _drive(draw: st.DrawFn, host: Host, ns: Any) -> None:
    from ntp.timex import ADJ_FREQUENCY, ADJ_SETOFFSET, ADJ_TICK, ADJ_TIMECONST, STA_DEL, Timeval

    action = draw(st.sampled_from(
        ["offset", "freq", "tick", "const", "leap", "adjtime", "step", "settime", "suspend",
         "run", "aux"]))
    if action == "offset":
        ns.adjtimex(Timex(modes=ADJ_STATUS, status=STA_PLL))
        ns.adjtimex(Timex(modes=ADJ_OFFSET, offset=draw(st.integers(-(10**6), 10**6))))
    elif action == "freq":
        ns.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=draw(st.integers(-(2**25), 2**25))))
    elif action == "tick":
        ns.adjtimex(Timex(modes=ADJ_TICK, tick=draw(st.integers(9000, 11000))))
    elif action == "const":
        ns.adjtimex(Timex(modes=ADJ_TIMECONST, constant=draw(st.integers(-5, 20))))
    elif action == "leap":
        ns.adjtimex(Timex(modes=ADJ_STATUS, status=draw(st.sampled_from([STA_INS, STA_DEL]))))
    elif action == "adjtime":
        ns.adjtime(draw(st.integers(-(10**6), 10**6)))
    elif action == "step":
        ns.adjtimex(Timex(modes=ADJ_SETOFFSET, time=Timeval(draw(st.integers(-5, 5)), 500)))
    elif action == "settime":
        ns.clock_settime_ns(0, draw(st.integers(1_600_000_000, 1_800_000_000)) * NSEC_PER_SEC)
    elif action == "suspend":
        host.suspend_for(draw(st.integers(0, 10**11)))
    elif action == "aux" and host.aux_clocks:
        ns.aux_clock_enable_write(draw(st.integers(0, 7)), "1")
    host.run_for(draw(st.integers(0, 3 * 10**9)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_driven_host())
def test_every_checkpoint_the_engine_writes_passes_the_checks(host: Host) -> None:
    doc = checkpoint_host(host)
    restored = restore_host(loads(dumps(doc), "round.json", "host"))
    assert checkpoint_host(restored) == doc
    for name in ("t", "o"):
        ns_doc_ = checkpoint_namespace(host.namespaces[name])
        again = restore_namespace(host, ns_doc_, f"{name}2", "suspend", downtime_ns=10**9,
                                  host_caps=True)
        assert again.name == f"{name}2"
