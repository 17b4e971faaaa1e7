"""No timer, sleep or timerfd fires before its clock reaches its deadline, whatever changes
the namespace's clock-to-host mapping between arming and expiry.

Each callback reads its own clock with `clock_gettime_ns` at the moment it fires; the
property holds across namespace models (timekeeper lazy / periodic, dilated, offsets) and
across mapping changes (clock_settime, ADJ_SETOFFSET, ADJ_FREQUENCY, ADJ_TICK, a leap
insert, offsets written before any task enters, host suspend).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ntp import ADJ_STATUS, Timex
from ntp.timex import ADJ_FREQUENCY, ADJ_NANO, ADJ_SETOFFSET, ADJ_TICK, STA_INS
from tk_core import CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, Host

S = 10**9
CLOCKS = [CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME]


def _make(model: str):
    host = Host(realtime_ns=1_700_000_000 * S, monotonic_ns=1000 * S)
    if model == "offsets":
        return host, host.create_namespace("n", model="offsets")
    if model == "dilated":
        return host, host.create_namespace("n", dilation=3)
    return host, host.create_namespace("n", update=model)


def _arm(ns, clockid, when, absolute, how, log):
    """Arm one timer; relative REALTIME arms are not held to the wall clock (a step back
    legitimately leaves the wall clock short of arm-time + interval)."""
    deadline = ns.clock_gettime_ns(clockid) + when
    checked = absolute or clockid != CLOCK_REALTIME

    def fired(*_):
        log.append((clockid, deadline, ns.clock_gettime_ns(clockid), checked))

    value = deadline if absolute else when
    if how == "timer":
        ns.timer_create(clockid, fired).settime(value, absolute=absolute)
    else:
        ns.clock_nanosleep(clockid, value, absolute=absolute, callback=fired)


def _change(ns, kind, amount):
    if kind == "offsets":
        if hasattr(ns, "set_offsets"):
            ns.set_offsets(monotonic_ns=amount * S // 10)
        return
    if not hasattr(ns, "tk"):
        return
    if kind == "settime":
        ns.clock_settime_ns(
            CLOCK_REALTIME,
            ns.clock_gettime_ns(CLOCK_REALTIME) + amount * S // 10)
    elif kind == "setoffset":
        tx = Timex(modes=ADJ_SETOFFSET | ADJ_NANO)
        sec, nsec = divmod(amount * S // 10, S)
        tx.time = (sec, nsec)
        ns.adjtimex(tx)
    elif kind == "freq":
        ns.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=amount * 100_000))
    elif kind == "tick":
        ns.adjtimex(Timex(modes=ADJ_TICK, tick=10000 + amount * 10))
    elif kind == "leap":
        ns.adjtimex(Timex(modes=ADJ_STATUS, status=STA_INS))


@settings(max_examples=20, deadline=None)
@given(
    model=st.sampled_from(["lazy", "periodic", "dilated", "offsets"]),
    arms=st.lists(
        st.tuples(
            st.sampled_from(CLOCKS),
            st.integers(1, 3 * S),
            st.booleans(),
            st.sampled_from(["timer", "sleep"]),
        ),
        min_size=1,
        max_size=5,
    ),
    changes=st.lists(
        st.tuples(
            st.sampled_from(["settime", "setoffset", "freq", "tick", "leap", "offsets", "suspend"]),
            st.integers(-50, 50),
            st.integers(0, S),
        ),
        max_size=4,
    ),
)
def test_no_callback_sees_its_clock_before_its_deadline(model, arms, changes):
    host, ns = _make(model)
    log: list = []
    for clockid, when, absolute, how in arms:
        _arm(ns, clockid, when, absolute, how, log)
    for kind, amount, gap in changes:
        if kind == "suspend":
            host.suspend_for(abs(amount) * S // 100)
        else:
            _change(ns, kind, amount)
        host.run_for(gap)
    # long enough for every deadline: up to 5 s set back, 3 s armed, dilation 3
    host.run_for(40 * S)
    assert len(log) == len(arms)
    for clockid, deadline, seen, checked in log:
        if checked:
            assert seen >= deadline, (clockid, deadline, seen)
