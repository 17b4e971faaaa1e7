"""Timer lateness and re-arms per timer, with and without `requeue_on_adjust`.

A mixed workload on one host (HZ 250, a 3 GHz counter 7 ppm fast), side by side for both
policies:

* ``walk``: a lazy namespace whose frequency jumps within ±500 ppm every 0.5 s;
* ``pll``: a periodic namespace slewing a −450 ms PLL offset, then an ADJ_TICK step up;
* ``smear``: a namespace following UTC-SLS through a leap second (adjtimex every second);
* ``leap``: a namespace inserting the leap second (STA_INS);
* ``slow``: a dilated namespace (its seconds last 2 true seconds) with adjtime slews;
* ``linux``: an offsets namespace (host clock) while the root is set back by 2 s once.

Each holds 150 one-shot timers (every clock, absolute and relative, up to 1050 s out, 525 s
in the dilated one) and four periodic 1 s timers.  Lateness is the namespace clock at the
fire minus the expiry, over every fire not made due by a forward clock step.  Prints
percentiles (ns), early re-checks and re-keys per timer, and interrupts.

    .venv/bin/python benchmarks/bench_timer_lateness.py
"""

from __future__ import annotations

import random

from ntp import ADJ_FREQUENCY, ADJ_OFFSET, ADJ_STATUS, ADJ_TICK, STA_INS, STA_PLL, LeapTable, Timex
from tk_core import (
    CLOCK_BOOTTIME,
    CLOCK_MONOTONIC,
    CLOCK_REALTIME,
    CLOCK_TAI,
    Clocksource,
    Host,
)
from tk_core.policy import follow

NSEC = 1_000_000_000
CLOCKS = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI)
LEAP = LeapTable.load().next_leap(1_480_000_000)
START = LEAP.unix - 1000
DURATION_S = 1150


def arm(ns, rng: random.Random, k: int, span_s: int) -> list:
    timers = []
    for i in range(k):
        clk = CLOCKS[i % 4]
        t = ns.timer_create(clk)
        d = rng.randrange(NSEC // 10, span_s * NSEC)
        absolute = (i // 4) % 2 == 1
        t.settime(ns.clock_gettime_ns(clk) + d if absolute else d, absolute=absolute)
        timers.append(t)
    for clk in CLOCKS:
        ns.timer_create(clk).settime(rng.randrange(NSEC // 10, NSEC), NSEC)
    return timers


def build(requeue: bool) -> tuple[Host, dict, dict]:
    h = Host(
        hz=250,
        realtime_ns=START * NSEC,
        tai_offset=36,
        clocksource=Clocksource(3_000_000_000, 64, error_ppm=7),
        requeue_on_adjust=requeue,
        record_lateness=True,
    )
    h.check_never_early = True
    ns = {
        "walk": h.create_namespace("walk"),
        "pll": h.create_namespace("pll", update="periodic"),
        "smear": h.create_namespace("smear"),
        "leap": h.create_namespace("leap"),
        "slow": h.create_namespace("slow", dilation=2),
        "linux": h.create_namespace("linux", model="offsets"),
    }
    ns["pll"].adjtimex(Timex(modes=ADJ_STATUS, status=STA_PLL))
    ns["pll"].adjtimex(Timex(modes=ADJ_OFFSET, offset=-450_000))
    follow(ns["smear"], "utc-sls", leap=LEAP, epoch_unix=START, update_interval_s=1)
    ns["leap"].adjtimex(Timex(modes=ADJ_STATUS, status=STA_INS))
    ns["slow"].adjtime(-40_000)
    rng = random.Random(11)
    span = {"slow": (DURATION_S - 100) // 2}
    timers = {name: arm(x, rng, 150, span.get(name, DURATION_S - 100)) for name, x in ns.items()}
    return h, ns, timers


def run(requeue: bool) -> None:
    h, ns, timers = build(requeue)
    rng = random.Random(3)
    for half_second in range(2 * DURATION_S):
        freq = rng.randrange(-500 << 16, 500 << 16)
        ns["walk"].adjtimex(Timex(modes=ADJ_FREQUENCY, freq=freq))
        if half_second == 200:
            ns["pll"].adjtimex(Timex(modes=ADJ_TICK, tick=10_500))
        if half_second == 400:
            root = h.root
            root.clock_settime_ns(CLOCK_REALTIME, root.clock_gettime_ns(CLOCK_REALTIME) - 2 * NSEC)
        h.run_for(NSEC // 2)
    lost = sum(1 for ts in timers.values() for t in ts if t.fires != 1)
    lat = sorted(h.lateness or [0])
    n = len(lat)

    def pct(p: float) -> int:
        return lat[min(n - 1, int(p * n))]

    k = sum(len(ts) for ts in timers.values())
    rechecks = sum(t.entry.rechecks for ts in timers.values() for t in ts)
    rekeys = sum(t.entry.rekeys for ts in timers.values() for t in ts)
    print(f"requeue_on_adjust={requeue}: {n} fires ({h.stats.stepped_fires} stepped), "
          f"{lost} one-shots not fired once; interrupts {h.stats.interrupts}")
    print(f"  lateness ns: p50 {pct(0.5)}  p90 {pct(0.9)}  p99 {pct(0.99)}  "
          f"p99.9 {pct(0.999)}  max {lat[-1]}")
    print(f"  one-shots: early re-checks/timer {rechecks / k:.2f}, re-keys/timer {rekeys / k:.2f}")
    for name in ns:
        st = h.stats.per_namespace[name]
        print(f"  {name:>6}: fires {st.expiries:5}  early re-checks {st.early_rechecks:5}  "
              f"re-keys {st.rekeys:6}  worst {st.late_max_ns:4} ns")


def main() -> None:
    for requeue in (False, True):
        run(requeue)


if __name__ == "__main__":
    main()
