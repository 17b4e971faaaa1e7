"""`timekeepers exec`: run a real program on a simulated namespace (tk_shim, imported lazily).

    timekeepers exec --offset 10d -- date
    timekeepers exec --scenario FILE --namespace NAME -- PROGRAM ARGS...

Without --scenario the host starts at the real time now (or --start) and the program gets a
namespace of its own with its own timekeeper, stepped by --offset and running --freq-ppm
fast.  With --scenario the scenario's host and namespaces are built as `timekeepers run`
builds them (its events and timers are not run) and the program joins --namespace.  The exit
status is the program's (128 + N when killed by signal N).
"""

from __future__ import annotations

import argparse
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from .host import Host

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
NAMESPACE = "exec"


def add_exec(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "exec", help="run a real program on a simulated namespace (LD_PRELOAD shim)",
        description="Run PROGRAM with its time calls served by a simulated namespace.",
    )
    p.add_argument("--scenario", help="build the host and namespaces of this scenario")
    p.add_argument("--namespace", help="with --scenario: the namespace to join (default root)")
    p.add_argument("--offset", help="step the namespace's REALTIME by this duration, e.g. 10d")
    p.add_argument("--freq-ppm", help="the namespace's seconds run this many ppm fast, e.g. 100")
    p.add_argument("--kernel-version", help="kernel behaviours to reproduce, e.g. 6.8")
    p.add_argument("--start", help="host REALTIME at the start (ISO UTC; default: now)")
    p.add_argument("--until", help="stop after this much simulated time, e.g. 1h")
    p.add_argument("--seed", type=int, default=0, help="seed of getrandom/getentropy")
    p.add_argument("--no-cap-sys-time", action="store_true",
                   help="the program holds no CAP_SYS_TIME even in its own namespace")
    p.add_argument("--cwd", type=Path, help="working directory (default: a fresh private one)")
    p.add_argument("program", nargs=argparse.REMAINDER, help="-- PROGRAM ARGS...")


def _bad(err: Console, msg: str) -> int:
    err.print(f"timekeepers exec: {msg}", markup=False)
    return EXIT_BAD_INPUT


def run_exec(args: argparse.Namespace, err: Console) -> int:
    """Build the host, attach the program, run it; the program's status is ours."""
    argv = args.program[1:] if args.program[:1] == ["--"] else args.program
    if not argv:
        return _bad(err, "no program given: write `timekeepers exec [OPTIONS] -- PROGRAM ARGS`")
    if args.scenario and (args.offset or args.freq_ppm or args.start or args.kernel_version):
        return _bad(err, "--scenario already fixes the host: leave out --offset, --freq-ppm, "
                         "--start and --kernel-version")
    if args.namespace and not args.scenario:
        return _bad(err, "--namespace needs --scenario")
    try:
        host, ns_name = _scenario_host(args) if args.scenario else _own_host(args)
        until = _until(host, args.until)
    except _BadInput as exc:
        return _bad(err, str(exc))
    import tk_shim

    caps = frozenset() if args.no_cap_sys_time else tk_shim.DEFAULT_CAPS
    try:
        sim = tk_shim.Simulation(host, seed=args.seed)
    except tk_shim.ShimBuildError as exc:
        err.print(f"timekeepers exec: {exc}", markup=False)
        return EXIT_FAILED
    with sim:
        try:
            prog = sim.attach(ns_name, argv, caps=caps, cwd=args.cwd)
        except tk_shim.LaunchError as exc:
            return _bad(err, str(exc))
        sim.run(until)
    if prog.diagnostics:
        sys.stderr.write(prog.diagnostics.decode(errors="replace"))
    if prog.error:
        err.print(f"timekeepers exec: {prog.error}", markup=False)
        return EXIT_FAILED
    rc = prog.returncode or 0
    return 128 - rc if rc < 0 else rc


class _BadInput(Exception):
    pass


def _own_host(args: argparse.Namespace) -> tuple[Host, str]:
    from gmpy2 import mpq

    from .clockids import CLOCK_REALTIME
    from .host import Host
    from .scenario.units import UnitError, parse_duration, parse_utc

    try:
        start = parse_utc(args.start) if args.start else time.time_ns()
        offset = parse_duration(args.offset) if args.offset else 0
    except UnitError as exc:
        raise _BadInput(f"--start/--offset: {exc}") from None
    dilation: Any = 1
    if args.freq_ppm:
        try:
            ppm = Fraction(args.freq_ppm)
        except (ValueError, ZeroDivisionError):
            raise _BadInput(f"--freq-ppm: expected a number, found {args.freq_ppm!r}") from None
        if not -500_000 < ppm < 500_000:
            raise _BadInput(f"--freq-ppm: expected more than -500000 and less than 500000, "
                            f"found {args.freq_ppm}")
        dilation = mpq(10**6) / (10**6 + mpq(ppm.numerator, ppm.denominator))
    try:
        host = Host(realtime_ns=start, kernel_version=args.kernel_version)
    except (ValueError, TypeError) as exc:
        raise _BadInput(f"--kernel-version: {exc}") from None
    ns = host.create_namespace(NAMESPACE, dilation=dilation)
    if offset:
        target = ns.clock_gettime_ns(CLOCK_REALTIME) + offset
        try:
            ns.clock_settime_ns(CLOCK_REALTIME, target)
        except OSError as exc:
            raise _BadInput(f"--offset: the namespace refuses REALTIME {target} ns: {exc}"
                            ) from None
    return host, NAMESPACE


def _scenario_host(args: argparse.Namespace) -> tuple[Host, str]:
    from .scenario.loader import load_scenario
    from .scenario.paths import find_scenario
    from .scenario.runner import Runner

    loaded = load_scenario(find_scenario(args.scenario))
    host = Runner(loaded).host
    assert host is not None
    name = args.namespace or "root"
    if name not in host.namespaces:
        raise _BadInput(f"--namespace: {name!r} is not in the scenario; it has "
                        f"{', '.join(sorted(host.namespaces))}")
    return host, name


def _until(host: Host, text: str | None) -> int | None:
    if text is None:
        return None
    from .scenario.units import UnitError, parse_duration

    try:
        span = parse_duration(text)
    except UnitError as exc:
        raise _BadInput(f"--until: {exc}") from None
    if span <= 0:
        raise _BadInput(f"--until: expected a positive duration, found {text!r}")
    return host.true_ns + span
