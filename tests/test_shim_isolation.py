"""Two programs on two namespaces at once: what one does to its clock never reaches the other."""

from __future__ import annotations

import os
import time

from shim_support import START_NS, bin_dir, needs_cc, probe, run_one  # noqa: F401

import tk_shim
from tk_core import CLOCK_MONOTONIC, CLOCK_REALTIME, Host
from tk_shim.server import _stat

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


def test_a_shell_between_two_commands_is_never_counted_as_blocked(probe):  # noqa: F811
    """Many child exits in a row: each is a moment where the shell is about to run.

    A `date` child closes its connection before it becomes a zombie; the shell's real wait is
    then about to return.  Time must not jump to the other namespace's wake-up in that gap
    (it once did under load: 00:00:01, 00:00:03, 00:00:04).
    """
    host = Host(realtime_ns=START_NS)
    host.create_namespace("a")
    host.create_namespace("b")
    loop = "for i in $(seq 1 12); do sleep 1; date -u +%T; done"
    with tk_shim.Simulation(host) as sim:
        fast = sim.attach("a", ["sh", "-c", loop], stdout=tk_shim.CAPTURE)
        slow = sim.attach("b", ["sh", "-c", "for i in $(seq 1 9); do sleep 1.3; done; date -u +%T"],
                          stdout=tk_shim.CAPTURE)
        sim.run()
    assert fast.stdout == b"".join(b"00:00:%02d\n" % s for s in range(1, 13))
    assert slow.stdout == b"00:00:11\n"


def test_a_wait_on_a_zombie_or_no_child_is_not_settled():
    """The server's rule for a process in a real wait: blocked only on live, attached children."""
    import subprocess

    host = Host(realtime_ns=START_NS)
    with tk_shim.Simulation(host) as sim:
        me = os.getpid()
        child = subprocess.Popen(["true"])
        while (_stat(child.pid) or ("Z",))[0] not in ("Z", "X"):
            time.sleep(0.01)
        assert not sim._wait_settled(me)  # a zombie: the wait returns at once
        child.wait()
        running = subprocess.Popen(["sleep", "5"])
        try:
            assert not sim._wait_settled(me)  # alive but never attached
            assert not sim._wait_settled(running.pid)  # no child at all: ECHILD at once
        finally:
            running.kill()
            running.wait()
