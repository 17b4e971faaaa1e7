"""Scenario programs on the preload shim: the backend `tk_core.scenario.programs` loads.

`BACKEND.driver(host, resolved)` builds one `Simulation` for the run, with a `netsim.Network`
seeded by the scenario's seed, its path from `[network]`, and each namespace that runs a
program at the address the scenario's checks gave it.  `start` writes a program's files into
a fresh working directory, fills in the placeholders and attaches it; `advance` is
`Simulation.run_until`, so the scenario's samples and events happen while every program is
paused, and simulated time moves only while every program is blocked.  `finish` ends the
programs still running and returns what became of each, with its output and the files it
left in its working directory (chronyd's measurements.log, say).

A `daemon = "chronyd"` / `"ntpd"` entry is built from `tk_shim.daemon_config`: chronyd as a
`local stratum` server (`chrony_server_conf`) or a client of its `server` namespace
(`chrony_client_conf`), ntpd as a client (`ntpsec_client_conf`, with TK_REPORT_ROOT=1, which
ntpd needs to start); the command lines are `chronyd_command` / `ntpd_command`.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gmpy2 import mpq

from ntp.discipline import PathModel
from tk_core.scenario.programs import (
    FETCH_HINT,
    PlannedProgram,
    ProgramOutcome,
    ProgramsUnavailable,
    substitute,
)

from .build import ShimBuildError, compiler
from .daemon_config import (
    chrony_client_conf,
    chrony_server_conf,
    chronyd_command,
    ntpd_command,
    ntpsec_client_conf,
)
from .daemons import DAEMONS, find_daemon, missing_libraries
from .launch import LaunchError, resolve_program
from .netsim import Network
from .server import CAPTURE, AttachedProgram, Simulation

if TYPE_CHECKING:
    from tk_core.host import Host
    from tk_core.scenario.checks import Resolved
    from tk_core.scenario.schema import ProgramSpec

#: Files copied from a working directory into the results at most (each, bytes).
MAX_FILE_BYTES = 8 << 20
CONF_NAME = {"chronyd": "chrony.conf", "ntpd": "ntp.conf"}


class ShimBackend:
    """`tk_core.scenario.programs.ProgramBackend` on the preload shim."""

    def unavailable(self, resolved: Resolved) -> str | None:
        """No compiler, or a program's binary not found: what is missing and how to get it."""
        if compiler() is None:
            return ("this scenario runs real programs through the preload shim, which needs a "
                    "C compiler ($CC or cc) to build; none was found")
        for planned in resolved.programs:
            why = _binary_problem(planned)
            if why is not None:
                return f"program {planned.label}: {why}"
        return None

    def driver(self, host: Host, resolved: Resolved) -> ShimDriver:
        """One run's driver (ProgramsUnavailable when the shim cannot be built)."""
        return ShimDriver(host, resolved)


def _binary_problem(planned: PlannedProgram) -> str | None:
    spec = planned.spec
    name = spec.daemon or (spec.argv or [""])[0]
    if name in DAEMONS:
        try:
            found = find_daemon(name)
        except ValueError as err:
            return str(err)
        if found is None:
            return f"{name} not found: {FETCH_HINT}"
        missing = missing_libraries(found)
        if missing:
            return f"{found.path} needs libraries this machine lacks: {', '.join(missing)}"
        return None
    if "{" in name:
        return None  # a placeholder in argv[0]: checked when it starts
    try:
        resolve_program(name, {**os.environ, **spec.env})
    except LaunchError as err:
        return str(err)
    return None


@dataclass
class _Started:
    planned: PlannedProgram
    argv: list[str]
    workdir: Path
    program: AttachedProgram | None
    error: str | None = None


class ShimDriver:
    """Runs one scenario's programs on its host (see the module docstring)."""

    def __init__(self, host: Host, resolved: Resolved) -> None:
        self.host = host
        self.resolved = resolved
        net = resolved.scenario.network
        seed = resolved.scenario.scenario.seed
        path = PathModel(delay_ns=net.delay, jitter_ns=net.jitter, loss=mpq(net.loss))
        self.network = Network(host, seed=seed, default_path=path)
        try:
            self.sim = Simulation(host, seed=seed, network=self.network)
        except ShimBuildError as err:
            raise ProgramsUnavailable(f"the preload shim cannot be built: {err}") from None
        self.started: list[_Started] = []

    def start(self, planned: PlannedProgram) -> None:
        """Write its files, fill in the placeholders, attach it (it runs at the next advance)."""
        workdir = self.sim.new_workdir()
        values = {"workdir": str(workdir), "user": getpass.getuser(),
                  "address": self._address(planned.namespace)}
        try:
            argv, files, env = self._materialise(planned.spec, workdir, values)
            for name, text in files.items():
                target = workdir / name
                target.write_text(text, "utf-8")
                target.chmod(0o644)
            prog = self.sim.attach(
                planned.namespace, argv, cwd=workdir, env={**os.environ, **env},
                address=values["address"], stdout=CAPTURE, stderr=CAPTURE)
        except (LaunchError, OSError, ValueError) as err:
            self.started.append(_Started(planned, [], workdir, None, f"cannot start: {err}"))
            return
        self.started.append(_Started(planned, argv, workdir, prog))

    def _address(self, namespace: str) -> str:
        return self.resolved.addresses[namespace]

    def _materialise(
        self, spec: ProgramSpec, workdir: Path, values: dict[str, str]
    ) -> tuple[list[str], dict[str, str], dict[str, str]]:
        def fill(text: str) -> str:
            return substitute(text, values, self._address)

        files = {name: fill(text) for name, text in spec.files.items()}
        env = {k: fill(v) for k, v in spec.env.items()}
        if spec.daemon is None:
            assert spec.argv is not None
            argv = [fill(a) for a in spec.argv]
            return [_daemon_path(argv[0]), *argv[1:]], files, env
        conf_name = CONF_NAME[spec.daemon]
        if conf_name in files:
            raise ValueError(f"files.{conf_name} is the generated configuration: use `config` "
                             "for extra lines")
        files[conf_name] = self._daemon_conf(spec, workdir, [fill(c) for c in spec.config])
        binary = Path(_daemon_path(spec.daemon))
        if spec.daemon == "chronyd":
            return chronyd_command(binary, workdir / conf_name), files, env
        env.setdefault("TK_REPORT_ROOT", "1")  # ntpd refuses to start unless uid 0
        return ntpd_command(binary, workdir / conf_name), files, env

    def _daemon_conf(self, spec: ProgramSpec, workdir: Path, extra: list[str]) -> str:
        minpoll, maxpoll = spec.poll_range()
        if spec.daemon == "ntpd":
            assert spec.server is not None
            return ntpsec_client_conf(self._address(spec.server), workdir, iburst=spec.iburst,
                                      minpoll=minpoll, maxpoll=maxpoll, extra=extra)
        mode = spec.leapsecmode or "system"
        if spec.role == "server":
            return chrony_server_conf(workdir, stratum=spec.stratum or 1, leapsecmode=mode,
                                      extra=extra)
        assert spec.server is not None
        return chrony_client_conf(self._address(spec.server), workdir, iburst=spec.iburst,
                                  minpoll=minpoll, maxpoll=maxpoll, leapsecmode=mode,
                                  extra=extra)

    def advance(self, true_ns: int) -> None:
        """`Simulation.run_until`: the programs run, time moves only while all are blocked."""
        self.sim.run_until(true_ns)

    def finish(self) -> list[ProgramOutcome]:
        """End the programs still running; each one's outcome, output and files."""
        running = [s.program is not None and s.program.returncode is None
                   and s.program.error is None for s in self.started]
        try:
            self.sim.stop("the scenario ended")
            return [_outcome(s, alive) for s, alive in zip(self.started, running, strict=True)]
        finally:
            self.sim.close()


def _daemon_path(name: str) -> str:
    """A bare `chronyd` / `ntpd` as `find_daemon` finds it; anything else as given."""
    if name in DAEMONS:
        found = find_daemon(name)
        if found is None:
            raise LaunchError(f"{name} not found: {FETCH_HINT}")
        return str(found.path)
    return name


def _outcome(started: _Started, alive: bool) -> ProgramOutcome:
    prog = started.program
    output = b"" if prog is None else prog.diagnostics + prog.stdout + prog.stderr
    return ProgramOutcome(
        label=started.planned.label,
        argv=started.argv,
        returncode=None if prog is None else prog.returncode,
        error=started.error if prog is None else prog.error,
        running_at_end=alive,
        output=output,
        files=_files_of(started.workdir),
    )


def _files_of(workdir: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for path in sorted(workdir.iterdir()) if workdir.is_dir() else []:
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_FILE_BYTES:
            out[path.name] = path.read_bytes()
    return out


BACKEND = ShimBackend()
