"""Rules across fields for `[[namespaces.programs]]`, and the plan the runner follows.

Each program's start lies within the run, its name is unique in its namespace, a daemon
client's `server` and every `{address:NAME}` placeholder name a namespace (an expanded name
of a `count = N` entry) that runs a program, and every placeholder is one the programs
module fills in.  Nothing here needs the shim or a daemon binary: `validate` works without
either.  Addresses on the simulated network go to the namespaces that run programs, in file
order: 10.0.0.1, 10.0.0.2, …
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from .programs import PlannedProgram, placeholders

if TYPE_CHECKING:
    from .checks import Checker
    from .errors import Loc
    from .schema import ProgramSpec
    from .timescale import Timescale

FIRST_ADDRESS = ipaddress.IPv4Address("10.0.0.1")
#: 10.0.0.1 … 10.255.255.254: far more namespaces than a scenario may hold (checks.MAX_NAMESPACES).
MAX_ADDRESSES = 2**24 - 2


def addresses(checker: Checker) -> dict[str, str]:
    """Each namespace that runs a program → its IPv4 address (file order)."""
    names = [n for spec in checker.scn.namespaces if spec.programs for n in spec.names()]
    return {n: str(FIRST_ADDRESS + k) for k, n in enumerate(names[:MAX_ADDRESSES])}


def check_programs(
    checker: Checker, ts: Timescale, duration: int, nodes: dict[str, str]
) -> list[PlannedProgram]:
    """Every program entry checked; the programs to start, in start order."""
    out: list[PlannedProgram] = []
    for i, spec in enumerate(checker.scn.namespaces):
        seen: set[str] = set()
        for j, prog in enumerate(spec.programs):
            loc: Loc = ("namespaces", i, "programs", j)
            name = prog.display_name()
            if name in seen:
                checker.add((*loc, "name"), f"program name {name!r} is used twice in namespace "
                            f"{spec.name!r}: give each a `name`")
            seen.add(name)
            _references(checker, loc, prog, spec.names(), nodes)
            true = checker.when(ts, prog.start, (*loc, "start"), duration)
            if true is not None:
                out += [PlannedProgram(true, n, j, prog) for n in spec.names()]
    return sorted(out, key=lambda p: p.start_ns)


def _references(
    checker: Checker, loc: Loc, prog: ProgramSpec, own: list[str], nodes: dict[str, str]
) -> None:
    if prog.server is not None:
        _names_a_node(checker, (*loc, "server"), prog.server, own, nodes)
    texts: list[tuple[Loc, str]] = [((*loc, "argv", k), a) for k, a in
                                    enumerate(prog.argv or [])]
    texts += [((*loc, "files", f), t) for f, t in prog.files.items()]
    texts += [((*loc, "config", k), t) for k, t in enumerate(prog.config)]
    texts += [((*loc, "env", k), t) for k, t in prog.env.items()]
    for where, text in texts:
        try:
            found = placeholders(text)
        except ValueError as err:
            checker.add(where, str(err))
            continue
        for _, arg in found:
            if arg is not None:
                _names_a_node(checker, where, arg, [], nodes)


def _names_a_node(
    checker: Checker, loc: Loc, name: str, own: list[str], nodes: dict[str, str]
) -> None:
    if name in own:
        checker.add(loc, f"expected another namespace's name, found its own ({name!r})")
    elif name not in nodes:
        known = ", ".join(sorted(nodes)) or "none"
        checker.add(loc, f"expected a namespace that runs a program (one with "
                    f"[[namespaces.programs]]: {known}), found {name!r}")
