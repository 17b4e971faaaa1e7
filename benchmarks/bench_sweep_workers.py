"""What a second worker buys: one sweep run on 1 and on 2 local Dask workers, side by side.

Run: .venv/bin/python benchmarks/bench_sweep_workers.py [--seeds N]

The sweep is the shipped chrony-convergence sweep (3 poll intervals x 3 jitters x N seeds),
each point one Dask task.  Both runs start a fresh LocalCluster (its start-up is counted) and
write into fresh folders, so nothing is resumed.  Printed: wall time per run, points per wall
second, and the speed-up of 2 workers over 1, with time.clock_gettime_ns's own cost measured
in the same run for scale.  The per-point summaries of both runs are compared byte for byte.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tk_core.scenario.paths import find_scenario
from tk_core.sweep import load_sweep, run_sweep


def clock_cost_ns(n: int = 200_000) -> float:
    start = time.perf_counter_ns()
    for _ in range(n):
        time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    return (time.perf_counter_ns() - start) / n


def timed(workers: int, seeds: int, out: Path) -> float:
    sweep = load_sweep(find_scenario("chrony-convergence-sweep"), axes=[f"seed=0..{seeds - 1}"])
    start = time.perf_counter()
    run_sweep(sweep, out, workers=workers, write_report=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6)
    args = parser.parse_args()
    points = 9 * args.seeds
    with tempfile.TemporaryDirectory() as tmp:
        one = timed(1, args.seeds, Path(tmp) / "one")
        two = timed(2, args.seeds, Path(tmp) / "two")
        same = all(
            (Path(tmp) / "two" / "points" / p.name / "summary.json").read_bytes()
            == (p / "summary.json").read_bytes()
            for p in (Path(tmp) / "one" / "points").iterdir()
        )
    print(f"time.clock_gettime_ns: {clock_cost_ns():.0f} ns per call (for scale)")
    print(f"{points} points   1 worker: {one:6.2f} s ({points / one:5.1f} points/s)")
    print(f"{points} points  2 workers: {two:6.2f} s ({points / two:5.1f} points/s)")
    print(f"speed-up 1 -> 2 workers: {one / two:.2f}x   identical summaries: {same}")


if __name__ == "__main__":
    main()
