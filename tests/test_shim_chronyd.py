"""A real chronyd synchronises a namespace over the simulated network (skips without chronyd).

The client's namespace counts seconds 100 ppm short and starts 0.1 s ahead; the server is a
second chronyd (`local stratum 1`) on a nominal namespace.  Both are Debian's chronyd 4.x run
unmodified through the shim: set TK_CHRONYD to its path, or have chronyd on PATH.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from gmpy2 import mpq
from shim_support import START_NS, needs_cc

import tk_shim
from ntp.discipline import PathModel
from tk_core import CLOCK_REALTIME, Host
from tk_shim.daemons import find_daemon, skip_message
from tk_shim.netsim import Network


def _chronyd() -> str | None:
    """TK_CHRONYD, else what tk_shim.daemons finds (its env var, scripts/fetch-daemons.sh's
    cache, PATH)."""
    if os.environ.get("TK_CHRONYD"):
        return os.environ["TK_CHRONYD"]
    found = find_daemon("chronyd")
    return str(found.path) if found else None


CHRONYD = _chronyd()
pytestmark = [
    needs_cc,
    pytest.mark.skipif(CHRONYD is None, reason=skip_message("chronyd")),
]
COMMON = "cmdport 0\nbindcmdaddress /\n"


def configs(d: Path) -> tuple[Path, Path]:
    server, client = d / "server.conf", d / "client.conf"
    server.write_text(f"local stratum 1\nallow all\n{COMMON}pidfile {d}/server.pid\n")
    client.write_text(f"server 10.0.0.1 iburst minpoll 4 maxpoll 6\n{COMMON}"
                      f"pidfile {d}/client.pid\n")
    for f in (server, client):
        f.chmod(0o644)
    return server, client


def test_chronyd_converges_a_fast_namespace_below_a_millisecond():
    d = Path(tempfile.mkdtemp(prefix="tk-chronyd-"))
    d.chmod(0o777)
    try:
        server_conf, client_conf = configs(d)
        host = Host(realtime_ns=START_NS)
        srv = host.create_namespace("server")
        cli = host.create_namespace("client", dilation=mpq(10**6, 10**6 + 100))
        cli.clock_settime_ns(CLOCK_REALTIME, cli.clock_gettime_ns(CLOCK_REALTIME) + 10**8)
        net = Network(host, seed=3, default_path=PathModel(delay_ns=500_000, jitter_ns=50_000))
        argv = [str(CHRONYD), "-d", "-U", "-4", "-u", "nobody", "-f"]
        with tk_shim.Simulation(host, network=net) as sim:
            s = sim.attach(srv, [*argv, str(server_conf)], address="10.0.0.1", cwd=d,
                           stdout=tk_shim.CAPTURE, stderr=tk_shim.CAPTURE)
            c = sim.attach(cli, [*argv, str(client_conf)], address="10.0.0.2", cwd=d,
                           stdout=tk_shim.CAPTURE, stderr=tk_shim.CAPTURE)
            sim.run(until_ns=1200 * 10**9)
        log = c.stderr.decode()
        assert "Selected source 10.0.0.1" in log, (log, s.stderr.decode())
        offset = cli.clock_gettime_ns(CLOCK_REALTIME) - srv.clock_gettime_ns(CLOCK_REALTIME)
        assert abs(offset) < 1_000_000, log
        # chronyd found the 100 ppm: tick (and freq) bring the namespace back to nominal
        tick_rate = mpq(cli.ntp.tick_length, (10**6) << 32) - 1
        freq = mpq(cli.ntp.time_freq, (1000 << 16) << 16) / 10**6
        assert abs((tick_rate + freq) * 10**6 + 100) < 5
        assert host.root.ntp.time_freq == 0 and host.root.ntp.tick_length == (10**6) << 32
    finally:
        shutil.rmtree(d, ignore_errors=True)
