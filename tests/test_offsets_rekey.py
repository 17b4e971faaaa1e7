"""Offsets written before the first task enters move the namespace's queued timers too.

Regression: an owner armed an absolute MONOTONIC timer in an offsets namespace, then raised
the MONOTONIC offset by 100 s; the timer kept its old host deadline and fired when the
namespace clock read 100 s before its deadline.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tk_core import CLOCK_BOOTTIME, CLOCK_MONOTONIC, Host

S = 10**9


def _arm(ns, clockid, deadline, log, how):
    def fired(*_):
        log.append((clockid, deadline, ns.clock_gettime_ns(clockid)))

    if how == "timer":
        t = ns.timer_create(clockid, fired)
        t.settime(deadline, absolute=True)
        return t
    if how == "sleep":
        return ns.clock_nanosleep(clockid, deadline, absolute=True, callback=fired)
    fd = ns.timerfd_create(clockid)
    fd.settime(deadline, absolute=True)
    return fd


def test_timer_armed_then_offset_raised_is_not_early():
    host = Host(monotonic_ns=1000 * S)
    ns = host.create_namespace("c", model="offsets")
    log: list = []
    deadline = ns.clock_gettime_ns(CLOCK_MONOTONIC) + 10 * S
    _arm(ns, CLOCK_MONOTONIC, deadline, log, "timer")
    ns.set_offsets(monotonic_ns=-100 * S)  # the namespace clock now reads 100 s less
    host.run_for(50 * S)
    assert log == []  # it would have fired here, 100 s early
    host.run_for(70 * S)
    assert len(log) == 1 and log[0][2] >= deadline


@settings(max_examples=40, deadline=None)
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(["mono", "boot"]), st.integers(-50, 50)), min_size=1, max_size=4
    ),
    arms=st.lists(
        st.tuples(
            st.sampled_from([CLOCK_MONOTONIC, CLOCK_BOOTTIME]),
            st.integers(1, 60),
            st.sampled_from(["timer", "sleep", "timerfd"]),
        ),
        min_size=1,
        max_size=5,
    ),
)
def test_never_early_under_offset_changes(changes, arms):
    host = Host(monotonic_ns=1000 * S)
    ns = host.create_namespace("c", model="offsets")
    log: list = []
    fds = []
    for clockid, secs, how in arms:
        deadline = ns.clock_gettime_ns(clockid) + secs * S
        obj = _arm(ns, clockid, deadline, log, how)
        if how == "timerfd":
            fds.append((obj, clockid, deadline))
    fired: set[int] = set()

    def check_fds() -> None:
        # a descriptor that has just counted its first expiry: its clock reached the deadline
        for i, (fd, clockid, deadline) in enumerate(fds):
            if fd.ticks and i not in fired:
                fired.add(i)
                assert ns.clock_gettime_ns(clockid) >= deadline

    for which, secs in changes:
        host.run_for(S // 3)
        check_fds()
        if which == "mono":
            ns.set_offsets(monotonic_ns=secs * S)
        else:
            ns.set_offsets(boottime_ns=secs * S)
    for _ in range(40):
        host.run_for(S)
        check_fds()
        for _clockid, deadline, seen in log:
            assert seen >= deadline
