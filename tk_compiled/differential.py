"""Run the same input through the pure and the compiled engine and compare the bytes out.

Each side runs in its own process (`Worker`): a process imports either the pure modules or
the compiled ones, never both.  An input is a scenario text (`scenario_outcome`) or a small
program of engine calls (`workload_outcome`); the outcome is canonical JSON text holding
everything the run produced that does not depend on wall time: the recorded rows, the
summary, every timer fire and clock reading, and the final host checkpoint.  Equal text
means the two builds computed the same thing, to the last bit of every integer.

`python -m tk_compiled.differential` is the worker: one JSON request per line on stdin,
one JSON answer per line on stdout.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from typing import IO, Any

from . import BUILD_DIR, ROOT, environment

#: the REALTIME, MONOTONIC and BOOTTIME clock ids a workload reads and arms timers on
_CLOCKS = (0, 1, 7)
NSEC = 1_000_000_000


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def scenario_outcome(text: str) -> str:
    """Run scenario `text`; its rows, summary, failures, lateness, checkpoints and final host
    checkpoint as canonical JSON (the wall-time `timing` is left out)."""
    from tk_core.scenario import load_text, run_scenario

    rows: list[list[str]] = []
    result = run_scenario(load_text(text, source="<differential>"), sink=rows.append)
    final = _final_state(result.host) if result.host is not None else None
    return _canonical({
        "rows": rows, "summary": result.summary, "failures": result.failures,
        "lateness": result.lateness, "checkpoints": result.checkpoints,
        "series": result.series, "final": final,
    })


def _final_state(host: Any) -> Any:
    """The host's checkpoint, or where a timer callback has no registered name (a scenario's
    own probes) every timekeeper's fields and NTP state and the host's statistics."""
    from tk_core.checkpoint import CheckpointError, checkpoint_host, dumps

    try:
        return dumps(checkpoint_host(host))
    except CheckpointError:
        timekeepers = {name: ns.tk.snapshot() for name, ns in host.namespaces.items()
                       if hasattr(ns, "tk")}
        stats = dataclasses.asdict(host.stats)  # compiled, the stats have no __dict__
        return {"timekeepers": timekeepers, "stats": stats, "true": host.true_ns}


_events: list[Any] = []


def _on_fire(timer: Any, overrun: int) -> None:
    _events.append(["fire", timer.ns.name, timer.clockid, timer.fires, overrun,
                    timer.ns.host.true_ns])


def _timex(kind: int, value: int) -> Any:
    from ntp import (
        ADJ_FREQUENCY,
        ADJ_OFFSET,
        ADJ_OFFSET_SINGLESHOT,
        ADJ_STATUS,
        ADJ_TICK,
        STA_INS,
        STA_PLL,
        Timex,
    )
    from ntp.timex import ADJ_NANO

    return (
        Timex(modes=ADJ_OFFSET | ADJ_STATUS | ADJ_NANO, offset=value * 1000, status=STA_PLL),
        Timex(modes=ADJ_FREQUENCY, freq=value * 1000),
        Timex(modes=ADJ_TICK, tick=10000 + value % 50),
        Timex(modes=ADJ_OFFSET_SINGLESHOT, offset=value * 100),
        Timex(modes=ADJ_STATUS, status=STA_PLL | STA_INS),
    )[kind % 5]


def _step(host: Any, namespaces: list[Any], op: list[Any]) -> None:
    """One workload operation; an engine refusal (OSError) is recorded as its errno."""
    name, index, a, b = op
    ns = namespaces[index % len(namespaces)]
    clock = _CLOCKS[a % len(_CLOCKS)]
    if name == "run":
        host.run_for(a)
    elif name == "read":
        _events.append(["read", ns.name, [ns.clock_gettime_ns(c) for c in _CLOCKS]])
    elif name == "timer":
        timer = ns.timer_create(clock, callback=_on_fire)
        timer.settime(b % (5 * NSEC) + 1, (b // 7) % NSEC)
    elif name == "adjtimex":
        _events.append(["adjtimex", ns.name, ns.adjtimex(_timex(a, b))])
    elif name == "settime":
        ns.clock_settime_ns(0, 1_700_000_000 * NSEC + b * 1000)
    elif name == "sleep":
        ns.clock_nanosleep(clock, b % (3 * NSEC) + 1)


#: workload operation names (`workload_outcome`'s ops are [name, namespace, a, b])
OPERATIONS = ("run", "read", "timer", "adjtimex", "settime", "sleep")


def workload_outcome(spec: dict[str, Any]) -> str:
    """Run a workload: a Host (`spec["host"]` keyword arguments), namespaces of the given
    update models (`spec["namespaces"]`), then `spec["ops"]` in order; every event and the
    final checkpoint as canonical JSON."""
    from tk_core import Host
    from tk_core.checkpoint import register_callback

    register_callback("tk_compiled.differential.fire", _on_fire)
    _events.clear()
    host = Host(realtime_ns=1_700_000_000 * NSEC, **spec.get("host", {}))
    namespaces = [host.root] + [
        host.create_namespace(f"ns{i}", "offsets") if model == "offsets"
        else host.create_namespace(f"ns{i}", update=model)
        for i, model in enumerate(spec["namespaces"])
    ]
    for op in spec["ops"]:
        try:
            _step(host, namespaces, op)
        except OSError as error:
            _events.append(["errno", op[0], error.errno])
    return _canonical({"events": _events, "final": _final_state(host)})


def serve(stdin: IO[str], stdout: IO[str]) -> None:
    """The worker loop: {"scenario": text} or {"workload": spec} in, {"outcome": text} or
    {"error": message} out, one JSON document per line."""
    from tk_compiled import is_compiled

    print(json.dumps({"compiled": is_compiled()}), file=stdout, flush=True)
    for line in stdin:
        request = json.loads(line)
        try:
            if "scenario" in request:
                answer = {"outcome": scenario_outcome(request["scenario"])}
            else:
                answer = {"outcome": workload_outcome(request["workload"])}
        except Exception as error:  # reported to the comparing side, which shows it
            answer = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(answer), file=stdout, flush=True)


def pure_environment() -> dict[str, str]:
    """An environment that imports the pure modules (the build taken off `PYTHONPATH`)."""
    build = str(BUILD_DIR / "src")
    path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != build]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "PYTHONSAFEPATH": "1"}
    return env


class Worker:
    """A worker process running the pure (`compiled=False`) or the compiled modules."""

    def __init__(self, compiled: bool) -> None:
        env = {**os.environ, **environment()} if compiled else pure_environment()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tk_compiled.differential"], env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT,
        )
        hello = json.loads(self._read())
        if hello["compiled"] is not compiled:
            self.close()
            raise RuntimeError(f"the worker meant to be {'compiled' if compiled else 'pure'} "
                               f"imported the other build")

    def _read(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker exited (code {self.process.wait()})")
        return line

    def ask(self, request: dict[str, Any]) -> str:
        """The outcome text for one request, or "error: …" if the engine raised."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self._read())
        return str(answer["outcome"]) if "outcome" in answer else f"error: {answer['error']}"

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
