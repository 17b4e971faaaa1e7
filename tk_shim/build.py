"""Building the preload library and the launcher from the C sources shipped as package data.

Built on first use into a per-user cache keyed by a hash of the sources and the compiler
command, so an editable install, a wheel and a source checkout all work the same way and a
changed source is never run stale.  ``$CC`` (default ``cc``) compiles; where there is no
compiler `ShimBuildError` says so, and nothing outside `tk_shim` needs one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

SOURCES = ("shim.c", "launch.c")
CFLAGS = ("-O2", "-Wall", "-Wno-nonnull-compare")


class ShimBuildError(RuntimeError):
    """The C parts could not be built (no compiler, or it failed): the message says which."""


@dataclass(frozen=True)
class Built:
    """Paths of the built library and launcher."""

    library: Path
    launcher: Path


def compiler() -> str | None:
    """The C compiler to use ($CC or cc), or None if there is none."""
    cc = os.environ.get("CC", "cc").split()[0]
    return shutil.which(cc)


def cache_root() -> Path:
    """$TK_SHIM_CACHE, else $XDG_CACHE_HOME/timekeepers, else ~/.cache/timekeepers."""
    if env := os.environ.get("TK_SHIM_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "timekeepers"


def _source(name: str) -> bytes:
    return (resources.files("tk_shim") / "c" / name).read_bytes()


def source_hash() -> str:
    """The hash naming a build: both sources, the flags and the compiler's path."""
    h = hashlib.sha256()
    for name in SOURCES:
        h.update(name.encode() + b"\0" + _source(name) + b"\0")
    h.update(" ".join((*CFLAGS, compiler() or "")).encode())
    return h.hexdigest()[:16]


def ensure_built() -> Built:
    """The built parts, compiling them on first use (atomically: a rename per build)."""
    cc = compiler()
    if cc is None:
        raise ShimBuildError(
            "running real programs needs a C compiler (set $CC or install cc/gcc); "
            "everything else in timekeepers works without one"
        )
    target = cache_root() / f"shim-{source_hash()}"
    built = Built(target / "libtkshim.so", target / "tk-launch")
    if built.library.exists() and built.launcher.exists():
        return built
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        for name in SOURCES:
            (tmp / name).write_bytes(_source(name))
        _cc(cc, "-shared", "-fPIC", "-o", tmp / "libtkshim.so", tmp / "shim.c", "-ldl",
            "-lpthread")
        _cc(cc, "-o", tmp / "tk-launch", tmp / "launch.c", "-ldl")
        try:
            tmp.rename(target)
        except OSError:  # another process won the race: its build is the same
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return built


def _cc(cc: str, *args: str | Path) -> None:
    cmd = [cc, *CFLAGS, *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ShimBuildError(f"building the shim failed: {' '.join(cmd)}\n{proc.stderr}")
