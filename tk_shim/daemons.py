"""Finding real NTP daemons (chronyd, ntpd) to run on a simulated namespace.

Where a daemon is looked for, first hit wins:

1. the environment: ``TIMEKEEPERS_CHRONYD`` / ``TIMEKEEPERS_NTPD`` (a path to the binary);
2. the fetch cache: ``$TIMEKEEPERS_DAEMONS_DIR/root/usr/sbin/`` (default: ``.cache/daemons``
   in the repository), filled by ``scripts/fetch-daemons.sh`` with Debian's chrony and ntpsec
   packages, unpacked and never installed;
3. ``PATH``, then ``/usr/sbin`` and ``/usr/local/sbin`` (where distributions put them).

`find_daemon` returns a `DaemonBinary` (or None), `daemon_version` what the binary says about
itself (``chronyd -v``, ``ntpd --version``), `missing_libraries` what ``ldd`` cannot resolve
(an unpacked package may need libraries the machine lacks), and `skip_message` one line for a
pytest skip saying how to get the daemon.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

DAEMONS = ("chronyd", "ntpd")
ENV_BINARY = {"chronyd": "TIMEKEEPERS_CHRONYD", "ntpd": "TIMEKEEPERS_NTPD"}
ENV_CACHE = "TIMEKEEPERS_DAEMONS_DIR"
REPO = Path(__file__).resolve().parent.parent
SYSTEM_DIRS = (Path("/usr/sbin"), Path("/usr/local/sbin"))
VERSION_ARGS = {"chronyd": ["-v"], "ntpd": ["--version"]}
_VERSION = {
    "chronyd": re.compile(r"chronyd \(chrony\) version (\S+)"),
    "ntpd": re.compile(r"ntpd (ntpsec-\S+|\S+)"),
}


@dataclass(frozen=True)
class DaemonBinary:
    """A daemon found on this machine: its name, path, and where it was found."""

    name: str
    path: Path
    source: str  # "env", "cache" or "path"


def cache_dir() -> Path:
    """The fetch cache: $TIMEKEEPERS_DAEMONS_DIR, or .cache/daemons in the repository."""
    env = os.environ.get(ENV_CACHE)
    return Path(env) if env else REPO / ".cache" / "daemons"


def _check_name(name: str) -> None:
    if name not in DAEMONS:
        raise ValueError(f"unknown daemon {name!r}: expected one of {', '.join(DAEMONS)}")


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_daemon(name: str) -> DaemonBinary | None:
    """`name` ("chronyd" or "ntpd") from the environment, the cache or PATH; None if absent.

    An environment variable naming a file that is not executable is an error (ValueError),
    not a silent fall-through: the user asked for that binary.
    """
    _check_name(name)
    env = os.environ.get(ENV_BINARY[name])
    if env:
        path = Path(env)
        if not _executable(path):
            raise ValueError(f"{ENV_BINARY[name]}={env}: not an executable file")
        return DaemonBinary(name, path, "env")
    cached = cache_dir() / "root" / "usr" / "sbin" / name
    if _executable(cached):
        return DaemonBinary(name, cached, "cache")
    found = shutil.which(name)
    if found:
        return DaemonBinary(name, Path(found), "path")
    for folder in SYSTEM_DIRS:
        if _executable(folder / name):
            return DaemonBinary(name, folder / name, "path")
    return None


def daemon_version(binary: DaemonBinary, timeout_s: float = 10.0) -> str:
    """The version the binary reports ("4.3" for chronyd, "ntpsec-1.2.2" for ntpsec's ntpd).

    RuntimeError (with the binary's output) when it does not run or says something else.
    """
    try:
        done = subprocess.run(
            [str(binary.path), *VERSION_ARGS[binary.name]], capture_output=True, text=True,
            timeout=timeout_s, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"{binary.path}: does not run ({exc})") from exc
    text = done.stdout + done.stderr
    match = _VERSION[binary.name].search(text)
    if done.returncode != 0 or match is None:
        raise RuntimeError(
            f"{binary.path} {' '.join(VERSION_ARGS[binary.name])}: exit {done.returncode}, "
            f"no version in {text.strip()!r}"
        )
    return match.group(1)


def missing_libraries(binary: DaemonBinary) -> list[str]:
    """Shared libraries ``ldd`` reports as "not found" for the binary ([] if ldd is absent)."""
    if shutil.which("ldd") is None:
        return []
    done = subprocess.run(["ldd", str(binary.path)], capture_output=True, text=True, check=False)
    return [line.split("=>")[0].strip() for line in done.stdout.splitlines()
            if "not found" in line]


def skip_message(name: str) -> str:
    """Why a test needing `name` is skipped, and how to get the daemon."""
    _check_name(name)
    package = "chrony" if name == "chronyd" else "ntpsec"
    return (
        f"{name} not found: run scripts/fetch-daemons.sh (downloads Debian's {package} into "
        f"{cache_dir()}, nothing installed), or set {ENV_BINARY[name]}=/path/to/{name}"
    )
