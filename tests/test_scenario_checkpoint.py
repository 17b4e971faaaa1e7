"""Checkpoints: versioned JSON, identical continuation, clear refusal of corrupt documents."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from ntp import ADJ_NANO, ADJ_OFFSET, ADJ_STATUS, ADJ_TIMECONST, STA_INS, STA_PLL, Timex
from tk_core import CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, Clocksource, Host
from tk_core.checkpoint import (
    VERSION,
    CheckpointError,
    checkpoint_host,
    checkpoint_namespace,
    dumps,
    loads,
    restore_host,
    restore_namespace,
)
from tk_core.cli import main

NS = 10**9
CLOCKS = (0, 1, 4, 7, 11)


def build() -> Host:
    cs = Clocksource(3_000_000_000, error_ppm=12, wander_ppm=1, wander_interval_s=5, seed=3)
    host = Host(clocksource=cs, hz=250, realtime_ns=1_483_142_400 * NS, monotonic_ns=NS)
    pll = host.create_namespace("pll")
    pll.adjtimex(
        Timex(
            modes=ADJ_STATUS | ADJ_OFFSET | ADJ_TIMECONST | ADJ_NANO,
            status=STA_PLL | STA_INS,
            offset=20_000_000,
            constant=2,
        )
    )
    host.create_namespace("per", update="periodic", dilation=2)
    off = host.create_namespace("off", model="offsets")
    off.set_offsets(monotonic_ns=10 * NS)
    off.spawn({"CAP_SYS_TIME"})
    return host


def state(host: Host) -> list[object]:
    out: list[object] = [str(host.true_time), dataclasses.asdict(host.stats)]
    for ns in host.namespaces.values():
        out.append([ns.clock_gettime_ns(c) for c in CLOCKS])
        if hasattr(ns, "tk"):
            out += [ns.tk.snapshot(), str(ns.reference_error_ns(CLOCK_MONOTONIC))]
    return out


def test_host_checkpoint_continues_identically() -> None:
    a, b = build(), build()
    a.run_for(120 * NS)
    b.run_for(120 * NS)
    text = dumps(checkpoint_host(b))
    restored = restore_host(loads(text))
    assert state(restored) == state(b)
    a.run_for(200 * NS)
    restored.run_for(200 * NS)
    assert state(restored) == state(a)
    doc = json.loads(text)
    assert doc["format"] == "timekeepers-checkpoint" and doc["version"] == VERSION == 2


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('"hz": 250', '"hz": 251'), "checksum mismatch"),
        (lambda t: t[: len(t) // 2], "invalid JSON"),
        (
            lambda t: t.replace(f'"version": {VERSION}', '"version": 99'),
            "version 99 is not supported",
        ),
        (lambda t: "[1, 2]", "not a checkpoint"),
    ],
)
def test_corrupt_checkpoints_are_rejected(edit: object, message: str) -> None:
    host = build()
    host.run_for(5 * NS)
    text = dumps(checkpoint_host(host))
    with pytest.raises(CheckpointError, match=message):
        restore_host(loads(edit(text)))  # type: ignore[operator]


def test_wrong_kind_and_bad_field() -> None:
    host = build()
    doc = checkpoint_namespace(host.namespaces["pll"])
    with pytest.raises(CheckpointError, match="expected a host checkpoint"):
        restore_host(doc)
    hdoc = checkpoint_host(host)
    hdoc["state"]["namespaces"][1]["timekeeper"]["mult"] = "big"
    from tk_core.checkpoint._format import _envelope

    forged = _envelope("host", hdoc["state"])  # a consistent checksum over a bad field
    with pytest.raises(CheckpointError, match=r"timekeeper\.mult: expected int"):
        restore_host(forged)


def test_queued_timers_go_into_host_checkpoints_not_namespace_ones() -> None:
    host = build()
    ns = host.namespaces["pll"]
    timer = ns.timer_create(CLOCK_MONOTONIC)
    timer.settime(5 * NS)
    restored = restore_host(loads(dumps(checkpoint_host(host))))
    assert restored.namespaces["pll"].timer_handles[0].gettime() == timer.gettime()
    with pytest.raises(CheckpointError, match="queued timer"):
        checkpoint_namespace(ns)


def test_a_timer_made_outside_the_namespace_calls_is_refused_clearly() -> None:
    from tk_core.posix_timers import PosixTimer

    host = build()
    PosixTimer(host.namespaces["pll"], CLOCK_MONOTONIC).settime(5 * NS)  # no id: not indexed
    with pytest.raises(CheckpointError, match="not made by timer_create"):
        checkpoint_host(host)


def test_namespace_restore_modes() -> None:
    host = build()
    host.run_for(60 * NS)
    src = host.namespaces["pll"]
    dump = {c: src.clock_gettime_ns(c) for c in (CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME)}
    doc = loads(dumps(checkpoint_namespace(src)))
    quiet = loads(dumps(checkpoint_namespace(host.root)))
    host.run_for(30 * NS)
    criu = restore_namespace(host, doc, "criu", "criu")
    susp = restore_namespace(host, doc, "susp", "suspend")
    assert abs(criu.clock_gettime_ns(CLOCK_MONOTONIC) - dump[CLOCK_MONOTONIC]) < 1000
    assert abs(criu.clock_gettime_ns(CLOCK_BOOTTIME) - dump[CLOCK_BOOTTIME]) < 1000
    assert abs(susp.clock_gettime_ns(CLOCK_BOOTTIME) - dump[CLOCK_BOOTTIME] - 30 * NS) < 1000
    real = src.clock_gettime_ns(CLOCK_REALTIME)
    assert abs(criu.clock_gettime_ns(CLOCK_REALTIME) - real) < 5_000_000
    exact = restore_namespace(host, quiet, "exact", "exact")  # a quiet one: nothing missed
    for c in CLOCKS:
        assert exact.clock_gettime_ns(c) == host.root.clock_gettime_ns(c)
    with pytest.raises(CheckpointError, match="already exists"):
        restore_namespace(host, doc, "criu")
    off = loads(dumps(checkpoint_namespace(host.namespaces["off"])))
    host.run_for(10 * NS)
    moved = restore_namespace(host, off, "off2")
    assert moved.frozen
    assert (
        abs(
            moved.clock_gettime_ns(CLOCK_MONOTONIC)
            - host.namespaces["off"].clock_gettime_ns(CLOCK_MONOTONIC)
            + 10 * NS
        )
        < 200_000  # the host clock runs ~12 ppm fast over the 10 s
    )


def test_scenario_host_checkpoint_restores_to_the_same_end(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        '[scenario]\nname = "ck"\ndescription = "d"\nduration = "100s"\nsample_every = "10s"\n'
        "[host]\nstart = 2024-01-01T00:00:00Z\nhz = 100\n"
        '[host.clocksource]\nerror_ppm = 3\n[[namespaces]]\nname = "a"\nupdate = "periodic"\n'
        '[[events]]\nat = "40s"\naction = "checkpoint"\nlabel = "mid"\n'
    )
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "-q"]) == 0
    host = restore_host(loads((out / "checkpoints" / "mid.json").read_text()))
    host.run_until(100 * NS)
    last = (out / "samples.csv").read_text().splitlines()[-2:]
    finals = {row.split(",")[2]: int(row.split(",")[4]) for row in last}
    assert finals == {n: host.namespaces[n].clock_gettime_ns(CLOCK_REALTIME) for n in finals}


def test_a_version_1_checkpoint_still_restores_and_continues() -> None:
    """tests/data/checkpoint_v1_host.json was written by the version-1 engine from `build()`
    run 60 s.  That engine accumulated a lazy namespace off the tick grid, so its history is
    not this engine's bit for bit: restored, the document reads as this engine's own
    uninterrupted run within the lazy bound, and continues deterministically."""
    text = (Path(__file__).parent / "data" / "checkpoint_v1_host.json").read_text()
    doc = loads(text)
    assert doc["version"] == 1 and "runtime" not in doc["state"]
    restored, twin = restore_host(doc), restore_host(loads(text))
    straight = build()
    straight.run_for(60 * NS)
    for _ in range(2):
        assert restored.true_time == straight.true_time
        for name, ns in restored.namespaces.items():
            for c in CLOCKS:
                gap = ns.clock_gettime_ns(c) - straight.namespaces[name].clock_gettime_ns(c)
                assert abs(gap) <= restored.lazy_error_bound + 2, (name, c, gap)
        restored.run_for(30 * NS)
        straight.run_for(30 * NS)
    twin.run_for(60 * NS)
    assert state(restored) == state(twin)
    assert checkpoint_host(restored)["version"] == VERSION  # written back in the new format
