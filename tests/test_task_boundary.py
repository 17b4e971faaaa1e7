"""A Task is the syscall boundary: it acts with its own credentials only.

Regressions for escalation paths the old attribute forwarding opened: a task without
capabilities spawning a child with CAP_SYS_TIME over the host, steering through
`task.timer_domain`, resuming its namespace.
"""

from __future__ import annotations

import errno

import pytest

from ntp.timex import ADJ_FREQUENCY, Timex
from tk_core import CLOCK_MONOTONIC, CLOCK_REALTIME, Host

S = 10**9


@pytest.fixture(params=["timekeeper", "offsets"])
def ns(request):
    return Host(monotonic_ns=10 * S).create_namespace("n", model=request.param)


def test_spawn_cannot_raise_capabilities(ns):
    task = ns.spawn()
    for caps in ({"CAP_SYS_TIME:host"}, {"CAP_SYS_TIME"}, {"CAP_SYS_ADMIN"}):
        with pytest.raises(OSError) as info:
            task.spawn(caps)
        assert info.value.errno == errno.EPERM
    local = ns.spawn({"CAP_SYS_TIME"})
    assert local.spawn({"CAP_SYS_TIME"}).creds.has("CAP_SYS_TIME")
    with pytest.raises(OSError):
        local.spawn({"CAP_SYS_TIME:host"})
    hostwide = ns.spawn({"CAP_SYS_TIME:host"})
    assert hostwide.spawn({"CAP_SYS_TIME"}).creds.has("CAP_SYS_TIME")


@pytest.mark.parametrize("name", ["timer_domain", "resume", "suspend", "follow", "namespace",
                                  "host", "timekeeper", "checkpoint", "tasks", "aux"])
def test_owner_surfaces_are_not_reachable(ns, name):
    task = ns.spawn()
    with pytest.raises(AttributeError):
        getattr(task, name)


def test_unprivileged_task_cannot_steer_the_root(ns):
    root = ns.host.root
    before = (root.ntp.to_dict(), root.clock_gettime_ns(CLOCK_REALTIME) -
              root.clock_gettime_ns(CLOCK_MONOTONIC))
    task = ns.spawn()
    with pytest.raises(OSError) as info:
        task.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=1 << 16))
    assert info.value.errno == errno.EPERM
    with pytest.raises(OSError):
        task.clock_settime_ns(CLOCK_REALTIME, 5 * S)
    after = (root.ntp.to_dict(), root.clock_gettime_ns(CLOCK_REALTIME) -
             root.clock_gettime_ns(CLOCK_MONOTONIC))
    assert after == before


def test_syscalls_still_work_for_a_task(ns):
    task = ns.spawn()
    assert task.clock_gettime_ns(CLOCK_MONOTONIC) >= 10 * S
    assert task.clock_getres_ns(CLOCK_MONOTONIC) == 1
    assert task.namespace_name == "n"
    fired = []
    t = task.timer_create(CLOCK_MONOTONIC, lambda tm, o: fired.append(o))
    t.settime(S)
    ns.host.run_for(2 * S)
    assert fired == [0]
    assert task.adjtimex(Timex()) >= 0
