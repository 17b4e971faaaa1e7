"""Every performance figure of timekeepers, measured in one process, printed as one table.

Run:  .venv/bin/python benchmarks/run_all.py [--quick] [--only NAME ...]
                                             [--markdown FILE] [--json FILE]

Each figure is printed with its goal and as a ratio to `time.clock_gettime_ns` measured in the
same run, so a loaded machine slows both sides alike and the ratio stays put:

* per-call figures (reads): engine ns per call / `time.clock_gettime_ns` ns per call, both
  timed by the same loop, in interleaved rounds (best round of each);
* throughput figures (timer expiries, simulated seconds): the wall time of one unit (one
  expiry, one simulated second) divided by the cost of one `time.clock_gettime_ns` call, i.e.
  "how many clock reads one unit costs".  Their goals are absolute (k/s on the 2-core machine
  the goals were set on); they are converted into the same unit with `REFERENCE_CLOCK_NS`, the
  cost of `time.clock_gettime_ns` on that machine with this harness, and judged on the ratio.

`--quick` shortens the long figures (10^4 instead of 10^5 simulated s for the NTP runs, the
leap demo's first 6 h, fewer read rounds, scaling up to 1 000 namespaces) and finishes in
well under a minute on 2 cores; the table says what was measured.
Figures (`--only` takes these names): clock_gettime, new_instant, timers, timer_storm, ntp,
leap_demo, memory, scaling, real_chronyd (skipped with a message where chronyd or a C compiler is
missing; see benchmarks/bench_real_chronyd.py).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import platform
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also under python -P / PYTHONSAFEPATH

import bench_real_chronyd
import bench_timer_storm
from bench_lazy_idle import timed as idle_host_run
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tk_core import CLOCK_MONOTONIC, CLOCK_REALTIME, Host
from tk_core.scenario import Loaded, load_scenario, load_text, run_scenario
from tk_core.scenario.paths import find_scenario

NSEC = 1_000_000_000
#: `time.clock_gettime_ns(CLOCK_REALTIME)` ns per call on the machine the goals were set on
#: (2 cores, x86_64, Python 3.11), timed by `measure_clock` when quiet (73-80 ns seen; the
#: slow end, so a goal's ratio is never the easier one); converts absolute goals into ratios.
REFERENCE_CLOCK_NS = 80.0
START_NS = 1_483_228_790 * NSEC
LEAP_DEMO = "leap-2016-smear-vs-step"
#: Calls per timing round: short rounds (about a millisecond) fit between the scheduler's
#: preemptions on a shared machine, so the best of many rounds is the uncontended cost.
SLICE = 2_000


@dataclass
class Figure:
    """One row of the table."""

    group: str
    name: str
    value: float
    unit: str
    detail: str
    ratio: float | None
    goal: str
    goal_ratio: float | None = None
    higher_is_better: bool = False
    goal_value: float | None = None
    clock_ns: float | None = None

    @property
    def met(self) -> bool | None:
        """Judged on the ratio when the goal has one, else on the value itself."""
        if self.goal_ratio is not None and self.ratio is not None:
            return self.ratio <= self.goal_ratio
        if self.goal_value is None:
            return None
        if self.higher_is_better:
            return self.value >= self.goal_value
        return self.value <= self.goal_value


class ClockSampler:
    """`time.clock_gettime_ns`'s cost sampled in short slices during a long run.

    Called between chunks of the run (a scenario's progress callback, or between `run_for`
    chunks), at most every `every_ns` of wall time; the time it spends is kept so the run's
    wall time can leave it out.  The mean of the slices is the clock's cost under the load the
    run saw, which is what a throughput ratio must be divided by.
    """

    def __init__(self, calls: int = 2_000, every_ns: int = 20_000_000) -> None:
        self.calls, self.every_ns = calls, every_ns
        self.costs: list[float] = []
        self.spent_ns = 0
        self._last = 0

    def __call__(self, *_: object) -> None:
        """Take a slice if `every_ns` has passed since the last (any arguments ignored)."""
        if time.perf_counter_ns() - self._last >= self.every_ns:
            self.take()

    def take(self) -> None:
        """Take a slice now."""
        start = time.perf_counter_ns()
        self.costs.append(per_call_ns(time.clock_gettime_ns, time.CLOCK_REALTIME, self.calls))
        self._last = time.perf_counter_ns()
        self.spent_ns += self._last - start

    def mean(self) -> float:
        return statistics.fmean(self.costs)


@dataclass
class Ctx:
    """What every figure needs: the mode and this run's cost of `time.clock_gettime_ns`."""

    quick: bool
    clock_ns: float


def sampled(work: Callable[[ClockSampler], object]) -> tuple[int, float]:
    """(wall ns of `work(sampler)` without the sampler's own time, mean clock ns)."""
    sampler = ClockSampler()
    sampler.take()
    spent_before = sampler.spent_ns
    start = time.perf_counter_ns()
    work(sampler)
    wall = time.perf_counter_ns() - start - (sampler.spent_ns - spent_before)
    sampler.take()
    return wall, sampler.mean()


# -- timing harness ------------------------------------------------------------------------


def per_call_ns(fn: Callable[[int], int], arg: int, n: int) -> float:
    """ns per `fn(arg)` over `n` calls (the same loop for engine and `time` reads)."""
    start = time.perf_counter_ns()
    for _ in itertools.repeat(None, n):
        fn(arg)
    return (time.perf_counter_ns() - start) / n


def paired(measure: Callable[[], float], n: int, rounds: int) -> tuple[float, float]:
    """(`measure()`, clock ns per call): `measure` and `n` clock reads in interleaved rounds,
    the best of each (noise only ever adds time)."""
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(measure())
        theirs.append(per_call_ns(time.clock_gettime_ns, time.CLOCK_REALTIME, n))
    return min(ours), min(theirs)


def measure_clock(rounds: int = 100, n: int = SLICE) -> float:
    """This run's `time.clock_gettime_ns` ns per call (best round)."""
    return min(per_call_ns(time.clock_gettime_ns, time.CLOCK_REALTIME, n) for _ in range(rounds))


def fmt_si(x: float) -> str:
    """3 significant digits with a k/M suffix: 20.2 k."""
    for div, suffix in ((1e6, " M"), (1e3, " k")):
        if x >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


def throughput_goal(per_wall_s: float) -> float:
    """An absolute `≥ X per wall s` goal as a ratio (wall ns per unit / reference clock ns)."""
    return NSEC / per_wall_s / REFERENCE_CLOCK_NS


# -- figures -------------------------------------------------------------------------------


def fig_clock_gettime(ctx: Ctx) -> list[Figure]:
    """Reads at one instant (the host is not advanced between them)."""
    host = Host(realtime_ns=START_NS)
    spaces = {
        "lazy": host.create_namespace("lazy"),
        "periodic": host.create_namespace("periodic", update="periodic"),
        "offsets": host.create_namespace("offsets", model="offsets"),
    }
    host.run_for(NSEC)
    n, rounds = SLICE, (40 if ctx.quick else 200)
    out = []
    for kind, ns in spaces.items():
        read = ns.clock_gettime_ns
        ours, clock = paired(lambda read=read: per_call_ns(read, CLOCK_REALTIME, n), n, rounds)
        out.append(Figure(
            "clock_gettime", f"`ns.clock_gettime_ns`, {kind} namespace, same instant",
            ours, "ns/call", f"{ours:.0f} ns/call", ours / clock, "≤ 2.5×", goal_ratio=2.5,
            clock_ns=clock,
        ))
    return out


def fig_new_instant(ctx: Ctx) -> list[Figure]:
    """A read after a 1 µs advance, minus the advance alone (short interleaved rounds, the
    best of each)."""
    host = Host(realtime_ns=START_NS)
    ns = host.create_namespace("lazy")
    host.run_for(NSEC)
    n, rounds = SLICE // 4, (40 if ctx.quick else 200)
    run_for, read = host.run_for, ns.clock_gettime_ns
    advance, both, clock = [], [], []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in itertools.repeat(None, n):
            run_for(1_000)
        advance.append((time.perf_counter_ns() - start) / n)
        start = time.perf_counter_ns()
        for _ in itertools.repeat(None, n):
            run_for(1_000)
            read(CLOCK_REALTIME)
        both.append((time.perf_counter_ns() - start) / n)
        clock.append(per_call_ns(time.clock_gettime_ns, time.CLOCK_REALTIME, n))
    cost = min(both) - min(advance)
    detail = f"{cost:.0f} ns/read (advance alone {min(advance):.0f} ns, subtracted)"
    return [Figure("new_instant", "read at a new instant (1 µs `run_for`, then read), lazy",
                   cost, "ns/call", detail, cost / min(clock), "≤ 8×", goal_ratio=8.0,
                   clock_ns=min(clock))]


def fig_timers(ctx: Ctx) -> list[Figure]:
    """One-shot timers spread over namespaces and 100 simulated s; expiries per wall second."""
    n_timers = 100_000
    n_spaces = 1_000
    host = Host(realtime_ns=START_NS)
    spaces = [host.create_namespace(f"t{i}") for i in range(n_spaces)]
    fired = [0]

    def on_fire(timer: object, overrun: int) -> None:
        fired[0] += 1

    rng = random.Random(10)
    clocks = (CLOCK_MONOTONIC, CLOCK_REALTIME)
    for i in range(n_timers):
        timer = spaces[i % n_spaces].timer_create(clocks[i % 2], on_fire)
        timer.settime(rng.randrange(1, 100 * NSEC))
    def run_in_chunks(sampler: ClockSampler) -> None:
        for _ in range(101):
            host.run_for(NSEC)
            sampler()

    wall, clock = sampled(run_in_chunks)
    if fired[0] != n_timers:
        raise RuntimeError(f"{fired[0]} of {n_timers} timers fired")
    rate = fired[0] * NSEC / wall
    return [Figure(
        "timers", f"timer expiries, {n_timers:,} one-shots over {n_spaces:,} namespaces",
        rate, "expiries/s", f"{fmt_si(rate)} expiries/s", wall / fired[0] / clock,
        "≥ 200 k/s", goal_ratio=throughput_goal(200_000), higher_is_better=True,
        goal_value=200_000, clock_ns=clock,
    )]


def fig_timer_storm(ctx: Ctx) -> list[Figure]:
    """`bench_timer_storm`: a victim's lateness beside n same-instant hostile timers, and the
    storm's expiry rate, fair (the default) against strict expiry order."""
    sizes = bench_timer_storm.QUICK_SIZES if ctx.quick else bench_timer_storm.SIZES
    results, clock = bench_timer_storm.run(sizes)
    by = {(r.n, r.fair): r for r in results}
    bound = bench_timer_storm.IRQ_COST_NS + bench_timer_storm.EXPIRY_COST_NS
    out = []
    for n in sizes:
        fair, strict = by[n, True], by[n, False]
        out.append(Figure(
            "timer_storm", f"victim lateness beside a {n:,}-timer storm", fair.victim_late_ns,
            "ns", f"{fair.victim_late_ns:,} ns (strict order: {strict.victim_late_ns:,} ns)",
            None, f"≤ {bound:,} ns (irq + 1 expiry)", goal_value=bound, clock_ns=clock))
        out.append(Figure(
            "timer_storm", f"storm expiries, {n:,} hostile + 1 victim, fair order",
            fair.expiries_per_s, "expiries/s",
            f"{fmt_si(fair.expiries_per_s)} expiries/s (strict order: "
            f"{fmt_si(strict.expiries_per_s)}/s, {strict.wall_ns / strict.expiries / clock:,.0f}×)",
            fair.wall_ns / fair.expiries / clock, "—", higher_is_better=True, clock_ns=clock))
    return out


NTP_TEMPLATE = """
[scenario]
name = "bench-{model}-{clients}"
description = "benchmark: {clients} {model}-model clients of one true-UTC reference"
duration = "{seconds}s"
sample_every = "128s"
seed = 1

[host]
start = 2017-06-01T00:00:00Z
uptime = "1h"
hz = 1000

[host.clocksource]
name = "tsc"
freq_hz = "2GHz"
error_ppm = 20

[[namespaces]]
name = "client"
count = {clients}
ntp = {{ model = "{model}", poll_exp = 6{polling} }}
"""
#: the fixed-poll text, formatted with model, clients and seconds only (as it always was)
NTP_SCENARIO = NTP_TEMPLATE.replace("{polling}", "")
ADAPTIVE = ", minpoll = 6, maxpoll = 10"  # both daemons' defaults: 64 s up to 1,024 s


def ntp_scenario(model: str, clients: int, seconds: int, *, adaptive: bool = False) -> str:
    """The NTP-run scenario text: fixed 64 s polls, or adapting between 2^6 and 2^10 s."""
    return NTP_TEMPLATE.format(model=model, clients=clients, seconds=seconds,
                               polling=ADAPTIVE if adaptive else "")


def sim_figure(ctx: Ctx, group: str, name: str, measured: str, loaded: Loaded,
               goal: float) -> Figure:
    """Simulated s per wall s of one scenario run (the clock sampled from its progress hook)."""
    simulated_s = loaded.resolved.duration_ns / NSEC
    wall, clock = sampled(lambda sampler: run_scenario(loaded, progress=sampler))
    rate, per_s = simulated_s * NSEC / wall, wall / simulated_s
    detail = f"{fmt_si(rate)} sim-s/s over {measured}"
    return Figure(group, name, rate, "sim-s/wall-s", detail, per_s / clock,
                  f"≥ {fmt_si(goal)}", goal_ratio=throughput_goal(goal),
                  higher_is_better=True, goal_value=goal, clock_ns=clock)


NTP_RUNS = (("chrony", 10, 100e3), ("chrony", 1, 800e3), ("ntpd", 10, 100e3))


def ntp_figures(ctx: Ctx, *, adaptive: bool) -> list[Figure]:
    """1 reference (the scenario's true-UTC server) + k NTP-model clients, each NTP_RUNS row."""
    seconds = 10_000 if ctx.quick else 100_000
    group, polls = ("ntp_adaptive", "poll 2^6–2^10 s, adaptive") if adaptive else ("ntp",
                                                                                "poll 2^6 s")
    out = []
    for model, clients, goal in NTP_RUNS:
        loaded = load_text(ntp_scenario(model, clients, seconds, adaptive=adaptive))
        plural = "s" if clients > 1 else ""
        out.append(sim_figure(
            ctx, group, f"1 reference + {clients} {model}-model client{plural} ({polls})",
            f"{seconds:,} sim s", loaded, goal,
        ))
    return out


def fig_ntp(ctx: Ctx) -> list[Figure]:
    """The NTP runs at a fixed 64 s poll (the goal table's figures)."""
    return ntp_figures(ctx, adaptive=False)


def fig_ntp_adaptive(ctx: Ctx) -> list[Figure]:
    """The NTP runs with the daemons' default adaptive polling (minpoll 6, maxpoll 10).

    The like-for-like figure for a simulator running a real chronyd, whose interval adapts
    the same way; the goals are the same as at a fixed poll.
    """
    return ntp_figures(ctx, adaptive=True)


def fig_leap_demo(ctx: Ctx) -> list[Figure]:
    """The shipped leap demo (12 namespaces), whole, or its first 6 h with --quick."""
    until = "6h" if ctx.quick else None
    loaded = load_scenario(find_scenario(LEAP_DEMO), until=until)
    seconds = loaded.resolved.duration_ns / NSEC
    span = f"{seconds / 3600:g} sim h" + (" (first hours only)" if ctx.quick else "")
    return [sim_figure(ctx, "leap_demo", f"shipped {LEAP_DEMO} (12 namespaces)", span,
                       loaded, 100e3)]


def fig_memory(ctx: Ctx) -> list[Figure]:
    """tracemalloc over creating idle lazy namespaces (the host itself is not counted)."""
    n = 10_000
    host = Host(realtime_ns=START_NS)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(n):
        host.create_namespace(f"idle{i}")
    gc.collect()
    per_ns = (tracemalloc.get_traced_memory()[0] - before) / n
    tracemalloc.stop()
    return [Figure("memory", f"memory per idle lazy namespace ({n:,} created)", per_ns,
                   "bytes", f"{per_ns / 1024:.2f} KB", None, "≤ 1.5 KB",
                   goal_value=1.5 * 1024)]


def fig_scaling(ctx: Ctx) -> list[Figure]:
    """How cost grows with namespaces (idle host hour, reads) and with simulated time.

    Each figure is the best of several runs interleaved with clock rounds (`paired`); the growth
    against 1 namespace compares ratios, so load that changed between the sizes cancels."""
    counts = (1, 10, 100, 1_000) if ctx.quick else (1, 10, 100, 1_000, 10_000)
    rounds = 20 if ctx.quick else 60
    out = []
    base_hour = base_read = None
    for n in counts:
        hosts: list[Host] = []
        wall, clock = paired(lambda n=n, hosts=hosts: idle_run_ns(n, 3600, hosts), SLICE, 9)
        spaces = f"{n:,} lazy namespace{'s' if n > 1 else ''}"
        base_hour = base_hour or wall / clock
        out.append(Figure(
            "scaling", f"idle host hour, {spaces}", wall, "wall ns",
            f"{wall / 1e6:.2f} ms ({wall / clock / base_hour:.2f}× 1 namespace)", wall / clock, "—",
            clock_ns=clock))
        readers = round_robin(hosts[-1])
        read, clock = paired(lambda r=readers: per_read_ns(r, SLICE), SLICE, rounds)
        base_read = base_read or read / clock
        out.append(Figure(
            "scaling", f"read, round robin over {spaces}", read, "ns/call",
            f"{read:.0f} ns/call ({read / clock / base_read:.2f}× 1 namespace)", read / clock, "—",
            clock_ns=clock))
    for h in (1, 10) if ctx.quick else (1, 10, 100):
        wall, clock = paired(lambda h=h: idle_run_ns(10, h * 3600, []), SLICE, 3)
        out.append(Figure(
            "scaling", f"idle host, 10 lazy namespaces, {h} sim h", wall, "wall ns",
            f"{wall / 1e6:.1f} ms ({wall / h / 1e6:.2f} ms per sim h)", wall / clock, "—",
            clock_ns=clock))
    return out


def idle_run_ns(n_namespaces: int, seconds: int, hosts: list[Host]) -> float:
    """Wall ns of one idle run on a fresh host (`bench_lazy_idle`); the host goes to `hosts`."""
    wall_s, host = idle_host_run(n_namespaces, seconds)
    hosts.append(host)
    return wall_s * NSEC


def round_robin(host: Host) -> Iterator[Callable[[int], int]]:
    """Every namespace's `clock_gettime_ns` but the root's, in turn, forever."""
    return itertools.cycle([ns.clock_gettime_ns for name, ns in host.namespaces.items()
                            if name != "root"])


def per_read_ns(readers: Iterator[Callable[[int], int]], reads: int) -> float:
    """ns per read over the next `reads` namespaces of a round robin (host not advancing)."""
    batch = itertools.islice(readers, reads)
    start = time.perf_counter_ns()
    for read in batch:
        read(CLOCK_REALTIME)
    return (time.perf_counter_ns() - start) / reads


def fig_real_chronyd(ctx: Ctx) -> list[Figure]:
    """Real chronyd, 1 server + 1 and + 10 clients on +100 ppm namespaces (none without it)."""
    why = bench_real_chronyd.unavailable()
    if why is not None:
        print(f"real_chronyd: skipped: {why}", file=sys.stderr)
        return []
    runs = ((1, 2_000), (10, 1_000)) if ctx.quick else ((1, 102_000), (10, 12_000))
    out = []
    for clients, seconds in runs:
        r = bench_real_chronyd.measure(clients, seconds)
        out.append(Figure(
            "real_chronyd", f"real chronyd, 1 server + {clients} client(s), {seconds:,} sim s",
            r.sim_s_per_wall_s, "sim s/wall s",
            f"{r.sim_s_per_wall_s:,.0f} sim s/s; converged {r.converged_s:,.0f} s, RMS "
            f"{r.rms_ns / 1000:,.1f} µs, freq error {r.freq_error_ppm:.2f} ppm",
            None, "—", higher_is_better=True))
    return out


FIGURES: dict[str, Callable[[Ctx], list[Figure]]] = {
    "clock_gettime": fig_clock_gettime,
    "new_instant": fig_new_instant,
    "timers": fig_timers,
    "timer_storm": fig_timer_storm,
    "ntp": fig_ntp,
    "ntp_adaptive": fig_ntp_adaptive,
    "leap_demo": fig_leap_demo,
    "memory": fig_memory,
    "scaling": fig_scaling,
    "real_chronyd": fig_real_chronyd,
}


# -- output --------------------------------------------------------------------------------


def markdown(figures: list[Figure], header: str) -> str:
    lines = [header, "", "| figure | measured | ratio to clock_gettime_ns | goal | met? |",
             "|---|---|---|---|---|"]
    for f in figures:
        ratio = "—" if f.ratio is None else f"{f.ratio:,.1f}×"
        goal = f.goal
        if f.goal_ratio is not None and f.higher_is_better:
            goal = f"{f.goal} (≤ {f.goal_ratio:,.0f}×)"
        met = {True: "yes", False: "no", None: "—"}[f.met]
        lines.append(f"| {f.name} | {f.detail} | {ratio} | {goal} | {met} |")
    return "\n".join(lines) + "\n"


def run(names: list[str], quick: bool, console: Console) -> tuple[Ctx, list[Figure], float]:
    """Measure the clock, then each selected figure under a progress bar; clock again last."""
    ctx = Ctx(quick, measure_clock())
    figures: list[Figure] = []
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
               "{task.total}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("figures", total=len(names))
        for name in names:
            bar.update(task, description=f"measuring {name}")
            # the figures before leave hosts in reference cycles: collect them here, so no
            # figure pays for collecting another's
            gc.collect()
            figures.extend(FIGURES[name](ctx))
            bar.advance(task)
    return ctx, figures, measure_clock()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (about a minute)")
    parser.add_argument("--only", action="append", choices=sorted(FIGURES), metavar="NAME",
                        help=f"only these figures (repeatable): {', '.join(FIGURES)}")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the table")
    parser.add_argument("--json", type=Path, metavar="FILE", help="machine-readable results")
    args = parser.parse_args(argv)
    names = [n for n in FIGURES if not args.only or n in args.only]
    wall0 = time.perf_counter()
    ctx, figures, clock_after = run(names, args.quick, Console(stderr=True))
    wall = time.perf_counter() - wall0
    mode = "quick" if args.quick else "full"
    header = (
        f"`benchmarks/run_all.py{' --quick' if args.quick else ''}"
        f"{''.join(f' --only {n}' for n in args.only or [])}` ({mode} mode, "
        f"{wall:.0f} s): `time.clock_gettime_ns` {ctx.clock_ns:.0f} ns/call at the start, "
        f"{clock_after:.0f} at the end (goals set where it costs {REFERENCE_CLOCK_NS:.0f}); "
        f"Python {platform.python_version()}, {platform.machine()}."
    )
    table = markdown(figures, header)
    sys.stdout.write(table)
    if args.markdown:
        args.markdown.write_text(table, "utf-8")
    if args.json:
        results = {
            "mode": mode,
            "wall_s": wall,
            "clock_gettime_ns_per_call": ctx.clock_ns,
            "clock_gettime_ns_per_call_end": clock_after,
            "reference_clock_ns": REFERENCE_CLOCK_NS,
            "python": platform.python_version(),
            "figures": [asdict(f) | {"met": f.met} for f in figures],
        }
        args.json.write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
