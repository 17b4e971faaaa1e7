"""The pure and the compiled engine side by side: `run_all.py` on each, one after the other.

    scripts/build-compiled.sh
    .venv/bin/python benchmarks/compare_compiled.py --quick --only timers --only ntp

Each side is a `run_all.py --json` subprocess (a process imports one build or the other);
the table gives each figure's measured value on both and the gain, with each side's ratio
to the `time.clock_gettime_ns` measured in its own run, so a machine that got busier between
the two runs shows up as a changed clock read rather than as a gain.  Arguments other than
`--markdown FILE` go to `run_all.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tk_compiled import BuildError, environment
from tk_compiled.differential import pure_environment

HERE = Path(__file__).resolve().parent


def measure(env: dict[str, str], args: list[str], label: str) -> dict[str, Any]:
    """One `run_all.py` run in `env`; its JSON results."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.json"
        print(f"{label}: benchmarks/run_all.py {' '.join(args)}", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, str(HERE / "run_all.py"), *args, "--json", str(out)],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        results: dict[str, Any] = json.loads(out.read_text())
        return results


def gain(pure: dict[str, Any], compiled: dict[str, Any]) -> str:
    """How many times better the compiled figure is (by the figure's own direction)."""
    if not pure["value"] or not compiled["value"]:
        return "—"
    times = compiled["value"] / pure["value"]
    return f"{times if pure['higher_is_better'] else 1 / times:.2f}×"


def table(pure: dict[str, Any], compiled: dict[str, Any]) -> str:
    lines = [
        f"`time.clock_gettime_ns`: {pure['clock_gettime_ns_per_call']:.0f} ns/call in the pure "
        f"run, {compiled['clock_gettime_ns_per_call']:.0f} in the compiled run "
        f"({pure['wall_s']:.0f} s and {compiled['wall_s']:.0f} s of wall time).",
        "",
        "| figure | pure | compiled | gain | ratio pure → compiled | goal |",
        "|---|---|---|---|---|---|",
    ]
    theirs = {f["name"]: f for f in compiled["figures"]}
    for mine in pure["figures"]:
        other = theirs.get(mine["name"])
        if other is None or mine["value"] is None:
            continue
        ratios = ("—" if mine["ratio"] is None or other["ratio"] is None
                  else f"{mine['ratio']:,.1f}× → {other['ratio']:,.1f}×")
        lines.append(f"| {mine['name']} | {mine['detail']} | {other['detail']} | "
                     f"{gain(mine, other)} | {ratios} | {mine['goal'] or '—'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", type=Path, help="also write the table")
    known, rest = parser.parse_known_args(argv)
    try:
        compiled_env = {**os.environ, **environment()}
    except BuildError as error:
        print(f"compare_compiled: {error}", file=sys.stderr)
        return 1
    pure = measure(pure_environment(), rest, "pure")
    compiled = measure(compiled_env, rest, "compiled")
    text = table(pure, compiled)
    print(text)
    if known.markdown is not None:
        known.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
