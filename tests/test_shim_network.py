"""UDP between real programs over the simulated network (tk_shim.netsim), with rx timestamps."""

from __future__ import annotations

from shim_support import START_NS, bin_dir, needs_cc, probe  # noqa: F401

import tk_shim
from ntp.discipline import PathModel
from tk_core import Host
from tk_shim.netsim import Network

pytestmark = needs_cc


def ping(probe, seed: int = 1) -> tuple[list[str], Host]:  # noqa: F811
    host = Host(realtime_ns=START_NS)
    a, b = host.create_namespace("a"), host.create_namespace("b")
    net = Network(host, seed=seed, default_path=PathModel(delay_ns=1_000_000, jitter_ns=0))
    with tk_shim.Simulation(host, network=net) as sim:
        srv = sim.attach(a, [str(probe), "udpecho", "7", "3"], address="10.0.0.1",
                         stdout=tk_shim.CAPTURE)
        cli = sim.attach(b, [str(probe), "udpping", "10.0.0.1", "7", "3"], address="10.0.0.2",
                         stdout=tk_shim.CAPTURE)
        sim.run(until_ns=60 * 10**9)
    assert srv.returncode == 0 and cli.returncode == 0, (srv.error, cli.error)
    return cli.stdout.decode().splitlines(), host


def test_udp_round_trip_takes_the_path_delay(probe):  # noqa: F811
    lines, host = ping(probe)
    assert lines[0] == "local 10.0.0.2"
    for i, line in enumerate(lines[1:]):
        head, rtt = line.rsplit(" rtt=", 1)
        assert head == f"poll=1 len=6 ping {i}"
        # the receive stamp (SO_TIMESTAMPNS) minus the send time: 1 ms each way
        assert 2_000_000 - 2 <= int(rtt) <= 2_000_000
    # three exchanges and two 100 ms pauses between them, plus the last pause
    assert 306 * 10**6 <= host.true_ns < 307 * 10**6


def test_program_without_an_address_keeps_real_sockets(probe):  # noqa: F811
    """Without a node its sockets are the machine's: the real kernel refuses the port.

    (On the simulated network an unanswered datagram is dropped silently: poll would time out.)
    """
    host = Host(realtime_ns=START_NS)
    host.create_namespace("c")
    with tk_shim.Simulation(host) as sim:
        cli = sim.attach("c", [str(probe), "udpping", "127.0.0.1", "9", "1"],
                         stdout=tk_shim.CAPTURE)
        sim.run(until_ns=60 * 10**9)
    lines = cli.stdout.decode().splitlines()
    assert lines[0] == "local 127.0.0.1"
    assert lines[1].startswith("poll=1 len=-1 ")  # ECONNREFUSED from the ICMP error
