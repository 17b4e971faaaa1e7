"""Real programs beside the model: placeholders, and the backend the runner hands them to.

A namespace's `[[namespaces.programs]]` entries name real programs (chronyd, ntpd, any
dynamically linked binary) to run on that namespace's simulated clocks.  The engine never
runs them itself and never imports the code that does at module level: the runner asks
`backend()` for a `ProgramBackend` (by default `tk_shim.scenario.BACKEND`, the preload shim,
imported on first use), whose driver then owns the loop's one way of moving time forward
(`ProgramDriver.advance`), so simulated time passes only while every program is blocked.
`register_backend` puts another backend in its place (tests, other launchers).

Placeholders in a program's `argv` and `files`, filled in just before it starts:

* ``{workdir}``: the program's own working directory (its files are written there);
* ``{address}``: its namespace's address on the simulated network;
* ``{address:NAME}``: namespace NAME's address (NAME must run a program too);
* ``{user}``: the user name the programs' command lines should name (chronyd's ``-u``);
* ``{{`` and ``}}``: a literal brace.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..host import Host
    from .checks import Resolved
    from .schema import ProgramSpec

DEFAULT_BACKEND = "tk_shim.scenario"
PLACEHOLDERS = ("workdir", "address", "user")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
FETCH_HINT = (
    "run scripts/fetch-daemons.sh (Debian's chrony and ntpsec, unpacked into .cache/daemons, "
    "nothing installed) or set TIMEKEEPERS_CHRONYD / TIMEKEEPERS_NTPD"
)


class ProgramsUnavailable(RuntimeError):
    """A scenario's programs cannot run on this machine (the message says how to fix it)."""


@dataclass(frozen=True)
class PlannedProgram:
    """One program of a resolved scenario: where and when it starts, and its entry."""

    start_ns: int
    namespace: str
    index: int
    spec: ProgramSpec

    @property
    def name(self) -> str:
        """Its name: `name`, else the daemon's, else argv[0]'s file name."""
        return self.spec.display_name()

    @property
    def label(self) -> str:
        """`NAMESPACE/NAME`, unique in the scenario (the checks make sure)."""
        return f"{self.namespace}/{self.name}"


@dataclass
class ProgramOutcome:
    """What became of one program: exit status, why it stopped, its output and files."""

    label: str
    argv: list[str]
    returncode: int | None
    error: str | None
    running_at_end: bool
    output: bytes = b""
    files: dict[str, bytes] = field(default_factory=dict)

    def problem(self) -> str | None:
        """Why the run failed because of this program, or None (still running at the end)."""
        if self.running_at_end:
            return None
        if self.error is not None:
            return f"program {self.label}: {self.error}{self._tail()}"
        if self.returncode not in (0, None):
            return f"program {self.label}: exited with status {self.returncode}{self._tail()}"
        return None

    def _tail(self) -> str:
        lines = self.output.decode(errors="replace").strip().splitlines()
        return f" (last output: {lines[-1].strip()})" if lines else ""


class ProgramDriver(Protocol):
    """Runs one scenario's programs on its host; the runner's only way to move time."""

    def start(self, program: PlannedProgram) -> None:
        """Start `program` now (the host's current true time)."""

    def advance(self, true_ns: int) -> None:
        """Run the host and every program to true time `true_ns`, then pause them."""

    def finish(self) -> list[ProgramOutcome]:
        """Stop every program; what became of each (in start order)."""


class ProgramBackend(Protocol):
    """Checks that programs can run here, and makes the driver of one run."""

    def unavailable(self, resolved: Resolved) -> str | None:
        """Why `resolved`'s programs cannot run on this machine (and how to fix it), or None."""

    def driver(self, host: Host, resolved: Resolved) -> ProgramDriver:
        """A driver for `resolved`'s programs on `host` (built by the runner)."""


_registered: ProgramBackend | None = None


def register_backend(backend: ProgramBackend | None) -> None:
    """Use `backend` for every later run (None: back to the shim, `DEFAULT_BACKEND`)."""
    global _registered
    _registered = backend


def backend() -> ProgramBackend:
    """The registered backend, else `tk_shim.scenario.BACKEND` (imported now)."""
    if _registered is not None:
        return _registered
    try:
        module = importlib.import_module(DEFAULT_BACKEND)
    except ImportError as err:
        raise ProgramsUnavailable(
            f"this scenario runs real programs, which need the preload shim "
            f"({DEFAULT_BACKEND}), and it cannot be imported: {err}"
        ) from None
    found: ProgramBackend = module.BACKEND
    return found


def require(resolved: Resolved) -> None:
    """ProgramsUnavailable unless `resolved`'s programs (if any) can run on this machine."""
    if not resolved.programs:
        return
    why = backend().unavailable(resolved)
    if why is not None:
        raise ProgramsUnavailable(why)


# -- placeholders --------------------------------------------------------------------------


def placeholders(text: str) -> list[tuple[str, str | None]]:
    """The placeholders of `text` as (name, argument); ValueError for a bad one."""
    found: list[tuple[str, str | None]] = []
    for m in _TOKEN.finditer(text):
        token = m.group(0)
        if token in ("{{", "}}"):
            continue
        if token in ("{", "}"):
            raise ValueError(f"a lone {token!r}: write {token * 2!r} for a literal brace")
        name, sep, arg = (m.group(1) or "").partition(":")
        if name not in PLACEHOLDERS:
            raise ValueError(
                f"unknown placeholder {token!r}: expected one of {{workdir}}, {{address}}, "
                "{address:NAMESPACE}, {user} (write {{ and }} for literal braces)"
            )
        if sep and name != "address":
            raise ValueError(f"{{{name}}} takes no argument, found {token!r}")
        if sep and not arg:
            raise ValueError(f"{token!r}: expected {{address:NAMESPACE}}")
        found.append((name, arg if sep else None))
    return found


def substitute(text: str, values: Mapping[str, str], address_of: Callable[[str], str]) -> str:
    """`text` with its placeholders filled from `values` and `address_of(namespace)`."""

    def one(m: re.Match[str]) -> str:
        token = m.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name, sep, arg = (m.group(1) or "").partition(":")
        return address_of(arg) if sep else values[name]

    placeholders(text)  # raises on a bad one, as validation did
    return _TOKEN.sub(one, text)
