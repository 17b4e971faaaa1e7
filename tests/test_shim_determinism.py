"""Same seed → same bytes: random bytes and clock readings of a real program repeat exactly."""

from __future__ import annotations

from shim_support import START_NS, bin_dir, needs_cc, probe  # noqa: F401

import tk_shim
from tk_core import Host

pytestmark = needs_cc


def output(probe, seed: int) -> bytes:  # noqa: F811
    host = Host(realtime_ns=START_NS)
    host.create_namespace("t")
    with tk_shim.Simulation(host, seed=seed) as sim:
        prog = sim.attach("t", [str(probe), "random"], stdout=tk_shim.CAPTURE)
        sim.run()
    assert prog.returncode == 0
    return prog.stdout


def test_same_seed_same_bytes(probe):  # noqa: F811
    first = output(probe, 7)
    assert output(probe, 7) == first
    lines = first.decode().splitlines()
    assert lines[1:] == [f"{START_NS + k * 333_333_000} {k * 333_333_000}" for k in (1, 2, 3)]


def test_another_seed_other_random_bytes(probe):  # noqa: F811
    a, b = output(probe, 1).splitlines(), output(probe, 2).splitlines()
    assert a[0] != b[0] and a[1:] == b[1:]
