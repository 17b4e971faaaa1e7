"""A real ntpd (ntpsec) disciplines a namespace through the kernel PLL (skips without ntpd).

The client's namespace counts seconds 100 ppm short and starts 0.1 s ahead: under ntpd's
0.128 s step threshold, so ntpd slews it through the namespace's kernel PLL (STA_PLL set with
ADJ_STATUS, offsets handed over with ADJ_OFFSET) instead of stepping.  The server is the model
stratum-1 server (`tk_shim.ntp_server.NtpServer`) on a nominal namespace.  ntpd polls every
16 s (minpoll 4 maxpoll 4).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from gmpy2 import mpq
from shim_support import START_NS, needs_cc

import tk_shim
from ntp.discipline import PathModel
from tk_core import CLOCK_MONOTONIC, CLOCK_REALTIME, Host
from tk_core.namespace import Namespace
from tk_shim.daemon_config import ntpd_command, ntpsec_client_conf
from tk_shim.daemons import find_daemon, skip_message
from tk_shim.netsim import Network
from tk_shim.ntp_server import NtpServer

NTPD = find_daemon("ntpd")
pytestmark = [needs_cc, pytest.mark.skipif(NTPD is None, reason=skip_message("ntpd"))]
STA_PLL = 0x0001
SAMPLE_NS = 16 * 10**9


@dataclass
class NtpdRun:
    client: Namespace
    server: Namespace
    log: str
    answered: int
    samples: list[tuple[int, int]] = field(default_factory=list)  # (true ns, offset ns)


def rate_ppm(ns: Namespace) -> mpq:
    """The namespace's NTP tick rate less nominal, ppm (tick_length carries time_freq)."""
    return (mpq(ns.ntp.tick_length, (10**6) << 32) - 1) * 10**6


def offset_ns(cli: Namespace, srv: Namespace) -> int:
    return cli.clock_gettime_ns(CLOCK_REALTIME) - srv.clock_gettime_ns(CLOCK_REALTIME)


def workdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="tk-ntpd-"))
    d.chmod(0o777)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def run_ntpd(d: Path, sim_s: int, start_offset_ns: int = 10**8) -> NtpdRun:
    assert NTPD is not None
    conf = d / "ntp.conf"
    conf.write_text(ntpsec_client_conf("10.0.0.1", d, minpoll=4, maxpoll=4,
                                       extra=["tinker panic 0"]))
    conf.chmod(0o644)
    host = Host(realtime_ns=START_NS)
    srv = host.create_namespace("server")
    cli = host.create_namespace("client", dilation=mpq(10**6, 10**6 + 100))
    cli.clock_settime_ns(CLOCK_REALTIME, cli.clock_gettime_ns(CLOCK_REALTIME) + start_offset_ns)
    net = Network(host, seed=3, default_path=PathModel(delay_ns=500_000, jitter_ns=50_000))
    server = NtpServer(net.add_node("10.0.0.1", srv))
    run = NtpdRun(cli, srv, "", 0)
    sampler = srv.timer_create(
        CLOCK_MONOTONIC, lambda _t, _o: run.samples.append((host.true_ns, offset_ns(cli, srv))))
    sampler.settime(SAMPLE_NS, SAMPLE_NS)
    env = {**os.environ, "TK_REPORT_ROOT": "1"}  # ntpd refuses to start unless uid 0
    with tk_shim.Simulation(host, network=net) as sim:
        prog = sim.attach(cli, ntpd_command(NTPD.path, conf), address="10.0.0.2", cwd=d, env=env,
                          stdout=tk_shim.CAPTURE, stderr=tk_shim.CAPTURE)
        sim.run(until_ns=sim_s * 10**9)
    run.log, run.answered = (prog.stdout + prog.stderr).decode(), server.answered
    assert host.root.ntp.time_freq == 0 and host.root.ntp.tick_length == (10**6) << 32
    return run


def rms_ns(samples: list[tuple[int, int]], after_ns: int) -> float:
    tail = [o for t, o in samples if t >= after_ns]
    return math.sqrt(sum(o * o for o in tail) / len(tail))


def converged_at_ns(samples: list[tuple[int, int]], bound_ns: int = 10**6) -> int:
    """The first sample time from which every later offset stays below `bound_ns`."""
    for i, (t, _) in enumerate(samples):
        if all(abs(o) < bound_ns for _, o in samples[i:]):
            return t
    raise AssertionError("never converged")


def check_disciplined(run: NtpdRun) -> None:
    assert "Listen normally on 1 sim0 10.0.0.2:123" in run.log, run.log
    assert run.answered > 50, run.log
    # the kernel PLL is on, and it holds the frequency ntpd found
    assert run.client.ntp.time_status & STA_PLL
    assert abs(rate_ppm(run.client) + 100) < 3, float(rate_ppm(run.client))
    assert abs(offset_ns(run.client, run.server)) < 10**6


def test_ntpd_slews_a_fast_namespace_through_the_kernel_pll():
    for d in workdir():
        run = run_ntpd(d, 2000)
        check_disciplined(run)
        # slewed, never stepped: no sample jumps by more than the slew the PLL allows
        # (0.5 ms/s for 16 s) plus the 100 ppm drift
        pairs = zip(run.samples, run.samples[1:], strict=False)
        steps = [abs(b - a) for (_, a), (_, b) in pairs]
        assert max(steps) < 16 * 600_000
        assert run.samples[0][1] > 90_000_000  # started 0.1 s ahead, not stepped to 0


@pytest.mark.soak
def test_ntpd_holds_a_fast_namespace_for_1e5_seconds():
    for d in workdir():
        run = run_ntpd(d, 100_000 + 2000)
        check_disciplined(run)
        start = converged_at_ns(run.samples)
        assert start < 2000 * 10**9
        assert rms_ns(run.samples, start) < 100_000
