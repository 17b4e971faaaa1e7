"""An optional compiled build of the engine's hot modules (mypyc), beside the pure code.

The engine is pure Python and complete without this.  `python -m tk_compiled build` copies
the packages into `.cache/compiled/src`, compiles the modules in `COMPILED_MODULES` there
with mypyc (C extensions of the same source, so the same integer arithmetic), and writes a
stamp holding a digest of the sources it was built from.  Nothing changes in the source
tree: a program uses the build only when its `PYTHONPATH` puts the build first
(`environment()`; `scripts/test.sh --compiled` and `scripts/with-compiled.sh` do that).

Why a copy and not an in-place build: Python prefers an extension module to the `.py` beside
it, so an in-place build would make the pure code unreachable, and the tests must be able to
run both and compare them (`tests/test_compiled_build.py`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

#: The modules compiled, as paths under the project root.  They are the ones the hot paths
#: run through: the timekeeper's arithmetic, the NTP state machine, the namespace read and
#: accumulation code, the timer queue, and the host's interrupt path (`host_core.py`).
#: Calls between compiled modules are C calls, which is where most of the gain comes from
#: (compiling the arithmetic alone gained nothing measurable).  `tk_core/policy.py` is the
#: leap followers' update loop, one adjtimex per update point of every following namespace.
#: `ntp/discipline.py` stays interpreted: its client models are carried by checkpoints as
#: plain Python objects (dataclass fields, `__new__` without `__init__`), which a compiled
#: class is not (49 checkpoint tests failed when it was tried).  `clocksource.py` stays
#: interpreted: its work is gmpy2 rationals, and its constructor's argument errors keep
#: naming the argument.  `host.py` stays interpreted too, as the subclass of the compiled
#: `HostCore` that users call: compiled, it would check its declared argument types itself,
#: so `run_for` would refuse the exact rationals and duration strings it accepts, `Host()`'s
#: errors would stop naming the argument, and `host.check_never_early` could no longer be
#: set per host (21 tests told these apart when it was tried).
COMPILED_MODULES = (
    "tk_core/counter.py",
    "tk_core/clockevent.py",
    "tk_core/timekeeper.py",
    "tk_core/hrtimer.py",
    "tk_core/timerbase.py",
    "tk_core/namespace.py",
    "tk_core/host_core.py",
    "tk_core/host_stats.py",
    "tk_core/reference.py",
    "tk_core/scenario/exact.py",
    "ntp/kernel.py",
    "tk_core/policy.py",
    "tk_core/adjtimex.py",
)
#: The packages copied into the build: the ones the compiled modules belong to (a package
#: is imported from one place, so all of it is copied; the others import it from there).
PACKAGES = ("tk_core", "ntp")

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / ".cache" / "compiled"
STAMP = "stamp.txt"


class BuildError(RuntimeError):
    """The compiled build could not be made or used (the message says what to do)."""


def source_digest(root: Path = ROOT) -> str:
    """SHA-256 over every Python source of the packages, path and contents: a build made
    from other sources is stale."""
    digest = hashlib.sha256()
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def status(build_dir: Path = BUILD_DIR) -> str:
    """'missing', 'stale' or 'fresh'."""
    stamp = build_dir / STAMP
    if not stamp.is_file():
        return "missing"
    return "fresh" if stamp.read_text().strip() == source_digest() else "stale"


def environment(build_dir: Path = BUILD_DIR) -> dict[str, str]:
    """The environment variables that make a Python process import the compiled build:
    the build's source copy first on `PYTHONPATH`, and `PYTHONSAFEPATH` so that `python -m`
    and `python -c` (pytest, its workers) do not put the current directory, the pure source
    tree, in front of it."""
    state = status(build_dir)
    if state != "fresh":
        raise BuildError(f"the compiled build in {build_dir} is {state}: "
                         "run scripts/build-compiled.sh")
    path = [str(build_dir / "src")]
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    return {"PYTHONPATH": os.pathsep.join(path), "PYTHONSAFEPATH": "1"}


def is_compiled() -> bool:
    """Whether this process runs the compiled modules (the timekeeper is an extension)."""
    from tk_core import timekeeper

    return not timekeeper.__file__.endswith(".py")


def _copy_sources(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.so", "*.pyc")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, dest / package, ignore=ignore)


def build(build_dir: Path = BUILD_DIR) -> Path:
    """Compile `COMPILED_MODULES` into `build_dir`; the previous build stays until the new
    one is complete (it is built beside it and renamed into place)."""
    if not (ROOT / "pyproject.toml").is_file():
        raise BuildError(f"{ROOT} is not a source checkout: the compiled build is made "
                         "from one (scripts/build-compiled.sh)")
    if shutil.which(os.environ.get("CC", "cc")) is None:
        raise BuildError("no C compiler (cc) on PATH: the compiled build needs one; "
                         "the pure-Python engine works without it")
    digest = source_digest()
    work = build_dir.with_name(build_dir.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    src = work / "src"
    src.mkdir(parents=True)
    _copy_sources(src)
    mypyc = Path(sys.executable).with_name("mypyc")
    command = [str(mypyc) if mypyc.exists() else "mypyc", *COMPILED_MODULES]
    done = subprocess.run(command, cwd=src)
    if done.returncode != 0:
        raise BuildError(f"mypyc failed (exit {done.returncode}); the build is left in "
                         f"{work} for a look")
    shutil.rmtree(src / "build", ignore_errors=True)
    (work / STAMP).write_text(digest + "\n")
    old = build_dir.with_name(build_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if build_dir.exists():
        build_dir.rename(old)
    work.rename(build_dir)
    shutil.rmtree(old, ignore_errors=True)
    return build_dir
