"""The `timekeepers` command (the edge: argument parsing, terminal output, files).

Exit codes: 0 ok, 1 the run failed (an event the engine refused, an early timer, a check),
2 bad input (arguments, a missing or invalid scenario).  Bad input never shows a traceback;
an internal error shows one only with TK_DEBUG=1.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
MAX_DEMO_DAYS = 36_500


def version() -> str:
    """The installed distribution's version ('unknown' when run from a bare source tree)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("timekeepers")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="timekeepers",
        description="Per-namespace kernel timekeepers over one simulated clocksource.",
    )
    parser.add_argument("--version", action="version", version=f"timekeepers {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="one host, three namespaces, one simulated day")
    demo.add_argument("--out", type=Path, default=Path("out/demo"), help="results folder")
    demo.add_argument("--days", type=int, default=1, help="simulated days (default 1)")
    run = sub.add_parser("run", help="run a scenario and write its results folder")
    run.add_argument("scenario", help="a scenario .toml file, or the name of a shipped one")
    run.add_argument("--out", type=Path, help="results folder (default out/NAME)")
    run.add_argument("--seed", type=int, help="override [scenario] seed")
    run.add_argument(
        "--until",
        help="end the run early: a duration ('2h') or an ISO UTC date (never lengthens it)",
    )
    run.add_argument(
        "--set", action="append", metavar="KEY=VALUE", dest="sets",
        help="override any scenario value, e.g. --set host.wrap_guard=false (repeatable)",
    )
    _add_leap_file(run)
    run.add_argument("--trace", action="store_true", help="write trace.jsonl (engine events)")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no table")
    val = sub.add_parser("validate", help="check scenario files without running them")
    val.add_argument("files", nargs="+", help="scenario .toml files or shipped names")
    _add_leap_file(val)
    lst = sub.add_parser("list", help="the shipped scenarios, with what each teaches")
    lst.add_argument("folder", nargs="?", type=Path, help="another folder of scenarios")
    show = sub.add_parser("show", help="print a results folder's summary table")
    show.add_argument(
        "results", type=Path, help="a folder written by `timekeepers run` or `timekeepers sweep`"
    )
    _add_sweep(sub)
    from .cli_exec import add_exec

    add_exec(sub)
    return parser


def _add_leap_file(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--leap-file", type=Path, metavar="PATH",
        help="use this leap-seconds.list or IERS Leap_Second.dat instead of the scenario's "
        "leap_table (verified first)",
    )


def _add_sweep(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sweep = sub.add_parser(
        "sweep", help="run a scenario over a grid of parameters (local cores or a Dask cluster)"
    )
    sweep.add_argument("scenario", help="a scenario .toml file (its [sweep] table, if any)")
    sweep.add_argument(
        "--axis", action="append", metavar="KEY=VALUES", dest="axes", default=[],
        help="an axis: KEY=V1,V2,... or KEY=A..B[:STEP], e.g. --axis seed=0..99 (repeatable; "
        "replaces the file's axis of the same key)",
    )
    sweep.add_argument(
        "--zip", action="append", metavar="KEY=VALUES", dest="zips", default=[],
        help="keys that vary together: every --zip forms one axis (equal numbers of values)",
    )
    sweep.add_argument(
        "--set", action="append", metavar="KEY=VALUE", dest="sets",
        help="override a value of the base scenario (repeatable)",
    )
    _add_leap_file(sweep)
    sweep.add_argument("--out", type=Path, help="sweep folder (default out/NAME-sweep)")
    where = sweep.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=int, help="local Dask worker processes (default: every core; "
        "0: run in this process without Dask)",
    )
    where.add_argument("--scheduler", help="an existing Dask cluster, e.g. tcp://HOST:8786")
    sweep.add_argument("--no-report", action="store_true", help="skip report.html")
    sweep.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no table")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from rich.console import Console

    err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
    try:
        return _dispatch(args, err)
    except KeyboardInterrupt:
        err.print("timekeepers: interrupted")
        return 130
    except Exception as exc:  # the last line of defence: never a bare traceback
        from .scenario.errors import ScenarioError

        if isinstance(exc, ScenarioError):
            err.print(exc.render(), markup=False)
            return EXIT_BAD_INPUT
        err.print(f"timekeepers: internal error: {type(exc).__name__}: {exc}", markup=False)
        if os.environ.get("TK_DEBUG") == "1":
            err.print(traceback.format_exc(), markup=False)
        else:
            err.print("(set TK_DEBUG=1 to see the traceback)")
        return EXIT_FAILED


def _dispatch(args: argparse.Namespace, err: Console) -> int:
    from . import cli_commands as commands

    if args.command == "demo":
        if not 0 < args.days <= MAX_DEMO_DAYS:
            err.print(
                f"timekeepers demo: --days: expected a whole number from 1 to {MAX_DEMO_DAYS} "
                f"(a century: the clocks must stay inside the kernel's ktime_t), "
                f"found {args.days}"
            )
            return EXIT_BAD_INPUT
        from .demo import run_demo
        from .scenario.results import prepare_out

        prepare_out(args.out)  # before the simulated day, not after it
        run_demo(args.out, args.days)
        return EXIT_OK
    if args.command == "exec":
        from .cli_exec import run_exec

        return run_exec(args, err)
    handler = {
        "run": commands.run,
        "validate": commands.validate,
        "list": commands.list_scenarios,
        "show": commands.show,
        "sweep": commands.sweep,
    }[args.command]
    return handler(args, err)


if __name__ == "__main__":
    sys.exit(main())
