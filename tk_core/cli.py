"""The `timekeepers` command (the edge: argument parsing, terminal output, files)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="timekeepers",
        description="Per-namespace kernel timekeepers over one simulated clocksource.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="one host, three namespaces, one simulated day")
    demo.add_argument("--out", type=Path, default=Path("out/demo"), help="results folder")
    demo.add_argument("--days", type=int, default=1, help="simulated days (default 1)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        if args.days <= 0:
            print("timekeepers demo: --days must be a positive whole number", file=sys.stderr)
            return 2
        from .demo import run_demo

        run_demo(args.out, args.days)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
