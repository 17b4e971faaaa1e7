"""Two programs on two namespaces at once: what one does to its clock never reaches the other."""

from __future__ import annotations

from shim_support import START_NS, bin_dir, needs_cc, probe, run_one  # noqa: F401

import tk_shim
from tk_core import CLOCK_MONOTONIC, CLOCK_REALTIME, Host

pytestmark = needs_cc


def test_two_namespaces_two_programs(probe):  # noqa: F811
    host = Host(realtime_ns=START_NS)
    a, b = host.create_namespace("a"), host.create_namespace("b")
    with tk_shim.Simulation(host) as sim:
        steer = sim.attach(a, [str(probe), "steer"], stdout=tk_shim.CAPTURE)
        # b reads after sleeping: a has already stepped and steered its own clock by then
        look = sim.attach(b, ["sh", "-c", f"sleep 2; {probe} read"], stdout=tk_shim.CAPTURE)
        sim.run()
    assert steer.stdout == b"settime=0 adjtimex=5 errno=0\n"
    real, mono, state, freq, status = (int(v) for v in look.stdout.split())
    assert (real - START_NS, mono, freq) == (2 * 10**9, 2 * 10**9, 0)
    assert state == 5 and status == 0x40
    assert b.clock_gettime_ns(CLOCK_REALTIME) == host.root.clock_gettime_ns(CLOCK_REALTIME)
    # a: stepped 1000 s, then 2 s at +100 ppm (≈ 200 µs); b: untouched
    gap = a.clock_gettime_ns(CLOCK_REALTIME) - b.clock_gettime_ns(CLOCK_REALTIME)
    assert 10**12 + 190_000 < gap < 10**12 + 210_000
    assert host.root.ntp.time_freq == b.ntp.time_freq == 0 != a.ntp.time_freq
    assert a.clock_gettime_ns(CLOCK_MONOTONIC) > b.clock_gettime_ns(CLOCK_MONOTONIC)


def test_programs_sleeping_in_two_namespaces_interleave_on_one_queue(probe):  # noqa: F811
    """Both programs sleep; time advances only when both are blocked, to the earlier wake."""
    host = Host(realtime_ns=START_NS)
    host.create_namespace("a")
    host.create_namespace("b")
    with tk_shim.Simulation(host) as sim:
        fast = sim.attach("a", ["sh", "-c", "for i in 1 2 3; do sleep 1; date -u +%T; done"],
                          stdout=tk_shim.CAPTURE)
        slow = sim.attach("b", ["sh", "-c", "sleep 2.5; date -u +%T"], stdout=tk_shim.CAPTURE)
        sim.run()
    assert fast.stdout == b"00:00:01\n00:00:02\n00:00:03\n"
    assert slow.stdout == b"00:00:02\n"
    assert 3 * 10**9 <= host.true_ns < 3 * 10**9 + 10**8
