"""Real chronyd 4.x on simulated namespaces: 1 server and N clients, each client +100 ppm.

Run: .venv/bin/python benchmarks/bench_real_chronyd.py [--clients N ...] [--seconds S]

The server is a chronyd `local stratum 1` on a nominal namespace; every client runs on a
namespace whose counter is 100 ppm fast (it counts seconds 100 ppm short of true time) and
that starts 0.1 s ahead.  A model timer on the server's namespace samples each client's
offset every 16 simulated seconds.  Figures per configuration:

* convergence time: the first sample from which every later |offset| stays below 1 ms;
* RMS offset over the samples after convergence;
* frequency error: the client's NTP tick rate (tick_length, which carries time_freq) less
  the -100 ppm that cancels its counter, worst client;
* simulated seconds per wall second of the whole run.

Skips with a message (exit 0) where chronyd or a C compiler is missing.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from gmpy2 import mpq

import tk_shim
from ntp.discipline import PathModel
from tk_core import CLOCK_MONOTONIC, CLOCK_REALTIME, Host
from tk_core.namespace import TimekeeperNamespace
from tk_shim.build import compiler
from tk_shim.daemon_config import chrony_client_conf, chrony_server_conf, chronyd_command
from tk_shim.daemons import find_daemon, skip_message
from tk_shim.netsim import Network

NSEC = 1_000_000_000
START_NS = 1_893_456_000 * NSEC
SAMPLE_NS = 16 * NSEC
BOUND_NS = 1_000_000


@dataclass
class RealChronydFigures:
    """One configuration's figures (see the module docstring)."""

    clients: int
    sim_s: int
    converged_s: float
    rms_ns: float
    freq_error_ppm: float
    sim_s_per_wall_s: float


def unavailable() -> str | None:
    """Why the benchmark cannot run here, or None."""
    if compiler() is None:
        return "no C compiler: the preload shim cannot be built"
    if find_daemon("chronyd") is None:
        return skip_message("chronyd")
    return None


def _conf(path: Path, text: str) -> Path:
    path.parent.mkdir(mode=0o777, exist_ok=True)
    path.parent.chmod(0o777)
    path.write_text(text)
    path.chmod(0o644)
    return path


def converged_at(samples: list[tuple[int, int]]) -> int | None:
    """First sample time from which every later |offset| is below 1 ms, else None."""
    start = None
    for t, off in samples:
        if abs(off) >= BOUND_NS:
            start = None
        elif start is None:
            start = t
    return start


def measure(clients: int, sim_s: int, seed: int = 3) -> RealChronydFigures:
    """Run one server and `clients` clients for `sim_s` simulated seconds; the figures."""
    binary = find_daemon("chronyd")
    assert binary is not None, skip_message("chronyd")
    root = Path(tempfile.mkdtemp(prefix="tk-bench-chronyd-"))
    root.chmod(0o777)
    try:
        return _measure(binary.path, root, clients, sim_s, seed)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _measure(binary: Path, root: Path, clients: int, sim_s: int,
             seed: int) -> RealChronydFigures:
    host = Host(realtime_ns=START_NS)
    srv = host.create_namespace("server")
    net = Network(host, seed=seed, default_path=PathModel(delay_ns=500_000, jitter_ns=50_000))
    spaces: list[TimekeeperNamespace] = []
    for i in range(clients):
        ns = host.create_namespace(f"client{i}", dilation=mpq(10**6, 10**6 + 100))
        ns.clock_settime_ns(CLOCK_REALTIME, ns.clock_gettime_ns(CLOCK_REALTIME) + NSEC // 10)
        spaces.append(ns)
    samples: list[list[tuple[int, int]]] = [[] for _ in spaces]

    def sample(_timer: object, _overrun: int) -> None:
        now = srv.clock_gettime_ns(CLOCK_REALTIME)
        for ns, out in zip(spaces, samples, strict=True):
            out.append((host.true_ns, ns.clock_gettime_ns(CLOCK_REALTIME) - now))

    srv.timer_create(CLOCK_MONOTONIC, sample).settime(SAMPLE_NS, SAMPLE_NS)
    wall = time.perf_counter()
    with tk_shim.Simulation(host, network=net) as sim:
        conf = _conf(root / "server" / "chrony.conf", chrony_server_conf(root / "server"))
        sim.attach(srv, chronyd_command(binary, conf), address="10.0.0.1", cwd=conf.parent,
                   stdout=tk_shim.CAPTURE, stderr=tk_shim.CAPTURE)
        for i, ns in enumerate(spaces):
            d = root / f"client{i}"
            conf = _conf(d / "chrony.conf",
                         chrony_client_conf("10.0.0.1", d, minpoll=4, maxpoll=6))
            sim.attach(ns, chronyd_command(binary, conf), address=f"10.0.1.{i + 1}", cwd=d,
                       stdout=tk_shim.CAPTURE, stderr=tk_shim.CAPTURE)
        sim.run(until_ns=sim_s * NSEC)
    wall = time.perf_counter() - wall
    return _figures(clients, sim_s, spaces, samples, wall)


def _figures(clients: int, sim_s: int, spaces: list[TimekeeperNamespace],
             samples: list[list[tuple[int, int]]], wall: float) -> RealChronydFigures:
    starts = [converged_at(s) for s in samples]
    converged = max((s if s is not None else math.inf) for s in starts)
    tails = [o for s, t0 in zip(samples, starts, strict=True) if t0 is not None
             for t, o in s if t >= t0]
    rms = math.sqrt(sum(o * o for o in tails) / len(tails)) if tails else math.inf
    rates = [(mpq(ns.ntp.tick_length, (10**6) << 32) - 1) * 10**6 for ns in spaces]
    freq_error = max(abs(float(r) + 100) for r in rates)
    return RealChronydFigures(clients, sim_s, converged / NSEC, rms, freq_error, sim_s / wall)


def table(rows: list[RealChronydFigures]) -> str:
    lines = ["| configuration | simulated s | convergence (< 1 ms) | RMS offset after | "
             "frequency error (worst) | sim s per wall s |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| 1 server + {r.clients} client{'s' if r.clients > 1 else ''} | "
                     f"{r.sim_s:,} | {r.converged_s:,.0f} s | {r.rms_ns / 1000:,.1f} µs | "
                     f"{r.freq_error_ppm:.2f} ppm | {r.sim_s_per_wall_s:,.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, action="append",
                        help="clients per configuration (repeatable; default 1 and 10)")
    parser.add_argument("--seconds", type=int, default=102_000,
                        help="simulated seconds per configuration (default 102000)")
    args = parser.parse_args(argv)
    why = unavailable()
    if why is not None:
        print(f"bench_real_chronyd: skipped: {why}")
        return 0
    rows = [measure(n, args.seconds) for n in args.clients or [1, 10]]
    sys.stdout.write(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
