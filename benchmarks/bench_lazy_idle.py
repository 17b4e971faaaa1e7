"""What idle namespaces cost: 1 versus 1000 idle lazy namespaces for one simulated hour.

Run: .venv/bin/python benchmarks/bench_lazy_idle.py [--hours H]

All figures come from one run, measured side by side, and are printed as ratios:

* NOHZ idle host (the default): nothing wakes the host but the wrap guard;
* a host whose tick runs (`nohz=False`, HZ=1000): every tick advances the root timekeeper,
  and lazy namespaces still cost nothing per tick;
* for contrast, the `periodic` policy (the naive design): cost grows with the namespace
  count, measured on a shorter run and reported per simulated second.
The lazy namespaces are then read once each at the end, to show they are still correct.
"""

from __future__ import annotations

import argparse
import time

from tk_core import CLOCK_REALTIME, Host

NSEC = 1_000_000_000


def timed(n_namespaces: int, seconds: int, **host_kw: object) -> tuple[float, Host]:
    host = Host(realtime_ns=1_483_228_790 * NSEC, **host_kw)  # type: ignore[arg-type]
    for i in range(n_namespaces):
        host.create_namespace(f"ns{i}")
    start = time.perf_counter()
    host.run_for(seconds * NSEC)
    elapsed = time.perf_counter() - start
    return elapsed, host


def timed_periodic(n_namespaces: int, seconds: int) -> float:
    host = Host(hz=1000)
    for i in range(n_namespaces):
        host.create_namespace(f"p{i}", update="periodic")
    start = time.perf_counter()
    host.run_for(seconds * NSEC)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=1)
    args = parser.parse_args()
    secs = args.hours * 3600
    print(f"one simulated run of {secs} s per row (wall seconds)\n")
    rows = []
    for label, kw in (("NOHZ idle", {}), ("tick running, HZ=1000", {"nohz": False})):
        one = timed(1, secs, **kw)[0]
        many_t, host = timed(1000, secs, **kw)
        advances = sum(ns.advance_calls for name, ns in host.namespaces.items() if name != "root")
        reads = [ns.clock_gettime_ns(CLOCK_REALTIME) for ns in host.namespaces.values()]
        assert len(set(reads)) == 1, "idle lazy namespaces must all read the host's time"
        rows.append((label, one, many_t, advances, host.stats.ticks))
    print(f"{'host':<24}{'1 ns (s)':>10}{'1000 ns (s)':>13}{'ratio':>8}"
          f"{'lazy advances':>15}{'ticks':>10}")
    for label, one, many, adv, ticks in rows:
        print(f"{label:<24}{one:>10.4f}{many:>13.4f}{many / one:>8.2f}{adv:>15}{ticks:>10}")
    short = 20
    p1, p10 = timed_periodic(1, short), timed_periodic(10, short)
    print(f"\nperiodic policy, {short} simulated s at HZ=1000: 1 ns {p1:.3f} s, "
          f"10 ns {p10:.3f} s, ratio {p10 / p1:.2f} (cost grows with every namespace)")


if __name__ == "__main__":
    main()
