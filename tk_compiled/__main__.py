"""`python -m tk_compiled build | status | env`: make, check or use the compiled build."""

from __future__ import annotations

import shlex
import sys

from . import BUILD_DIR, BuildError, build, environment, status

USAGE = "usage: python -m tk_compiled build | status | env"


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("build", "status", "env"):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        if argv[0] == "build":
            print(f"compiled build ready in {build()}")
        elif argv[0] == "status":
            print(f"{status()} ({BUILD_DIR})")
        else:
            for name, value in environment().items():
                print(f"export {name}={shlex.quote(value)}")
    except BuildError as error:
        print(f"tk_compiled: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
