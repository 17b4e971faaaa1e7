"""Real programs on simulated namespaces, through an LD_PRELOAD shim (see docs/real-programs.md).

    from tk_core import Host
    import tk_shim

    host = Host(realtime_ns=...)
    ns = host.create_namespace("a")
    prog = tk_shim.attach(host, ns, ["date"], stdout=tk_shim.CAPTURE)
    tk_shim.run(host, [prog])
    prog.stdout

The C parts are built on first use (`tk_shim.build`); everything else in timekeepers works
without a compiler.

Networking (pure Python, engine API only): `netsim` (virtual UDP/IPv4 network), `ntp_packet`
(NTPv4 wire format), `ntp_server` (model NTP endpoints), `daemons` (finding chronyd / ntpd),
`daemon_config` (their configuration and command lines).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from tk_core.host import Host
from tk_core.namespace import Namespace

from .build import ShimBuildError, ensure_built
from .launch import LaunchError
from .server import CAPTURE, DEFAULT_CAPS, AttachedProgram, Simulation

_SIMULATIONS: WeakKeyDictionary[Host, Simulation] = WeakKeyDictionary()


def simulation(host: Host, **kwargs: Any) -> Simulation:
    """The `Simulation` of `host` (created on first use; `kwargs` apply then)."""
    sim = _SIMULATIONS.get(host)
    if sim is None or sim._closed:
        sim = Simulation(host, **kwargs)
        _SIMULATIONS[host] = sim
    return sim


def attach(
    host: Host,
    namespace: Namespace | str,
    argv: list[str],
    *,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    caps: Iterable[str] = DEFAULT_CAPS,
    **streams: Any,
) -> AttachedProgram:
    """Start `argv` on `namespace` of `host` (it waits for `run`); see `Simulation.attach`."""
    return simulation(host).attach(namespace, argv, cwd=cwd, env=env, caps=caps, **streams)


def run(
    host: Host, programs: Iterable[AttachedProgram] | None = None, until: int | None = None
) -> list[AttachedProgram]:
    """Run the host's attached programs to their end (or true time `until` ns); then clean up.

    `programs` is accepted for readability: every program attached to `host` runs.
    """
    sim = simulation(host)
    try:
        return sim.run(until)
    finally:
        sim.close()


__all__ = [
    "CAPTURE",
    "DEFAULT_CAPS",
    "AttachedProgram",
    "LaunchError",
    "ShimBuildError",
    "Simulation",
    "attach",
    "ensure_built",
    "run",
    "simulation",
]
