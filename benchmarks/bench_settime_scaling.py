"""clock_was_set is local: the cost of a settime in namespace A with k = 10 timers queued.

Namespace A holds k absolute REALTIME timers; other namespaces hold n timers between them
(n = 10^3, 10^4, 10^5; absolute REALTIME, MONOTONIC and BOOTTIME mixed).  Each settime in A
re-keys only A's k wall-clock timers through A's own timer base, O(k log n), so the time per
settime should stay flat as n grows.  Prints the median time per settime for each n and the
ratio of the largest n to the smallest, measured side by side (interleaved) in one run.

    .venv/bin/python benchmarks/bench_settime_scaling.py [--quick]
"""

from __future__ import annotations

import statistics
import sys
import time

from tk_core import CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, Host

NSEC = 1_000_000_000
K = 10
OTHER_NAMESPACES = 10
CLOCKS = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME)


def build(n: int) -> tuple[Host, object, list[object]]:
    host = Host(realtime_ns=1_483_228_790 * NSEC)
    a = host.create_namespace("A")
    others = [host.create_namespace(f"o{i}") for i in range(OTHER_NAMESPACES)]
    timers = []
    for i in range(n):
        ns = others[i % OTHER_NAMESPACES]
        clk = CLOCKS[i % 3]
        t = ns.timer_create(clk)
        t.settime(ns.clock_gettime_ns(clk) + (3600 + i % 997) * NSEC, absolute=True)
        timers.append(t)
    real = a.clock_gettime_ns(CLOCK_REALTIME)
    for i in range(K):
        a.timer_create(CLOCK_REALTIME).settime(real + (600 + i) * NSEC, absolute=True)
    return host, a, timers


def time_batch(host: Host, a: object, parity: int) -> float:
    """Seconds per settime over one batch of 50 (back and forth by 1 ms)."""
    t0 = time.perf_counter()
    for i in range(50):
        step = 1_000_000 if (parity + i) % 2 == 0 else -1_000_000
        a.clock_settime_ns(CLOCK_REALTIME, a.clock_gettime_ns(CLOCK_REALTIME) + step)
    elapsed = (time.perf_counter() - t0) / 50
    host.run_for(1_000)
    return elapsed


def main() -> None:
    quick = "--quick" in sys.argv
    sizes = (1_000, 10_000) if quick else (1_000, 10_000, 100_000)
    rounds = 10 if quick else 40
    built = {n: build(n) for n in sizes}
    before = {n: built[n][0].stats.rekeys for n in sizes}
    samples: dict[int, list[float]] = {n: [] for n in sizes}
    for r in range(rounds):  # interleaved, so machine load affects every size alike
        for n in sizes:
            host, a, _ = built[n]
            samples[n].append(time_batch(host, a, r))
    results = {n: statistics.median(samples[n]) for n in sizes}
    for n in sizes:
        host = built[n][0]
        per_set = (host.stats.rekeys - before[n]) / (rounds * 50)
        print(f"n = {n:>7} queued: {results[n] * 1e6:8.1f} µs per settime, "
              f"{per_set:.1f} timers re-keyed per settime, queue {len(host.queue)}")
    lo, hi = sizes[0], sizes[-1]
    print(f"ratio settime(n={hi}) / settime(n={lo}) = {results[hi] / results[lo]:.2f}")


if __name__ == "__main__":
    main()
