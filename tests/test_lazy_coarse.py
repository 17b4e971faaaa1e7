"""A lazy namespace's coarse clocks read what a periodic twin's last tick left them.

CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE and time(2) read the last accumulation; a lazy
timekeeper may not have accumulated for seconds, so it computes them as of the host's last
tick (`Timekeeper.coarse_fraction_at_tick`) without accumulating.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ntp import ADJ_OFFSET, ADJ_STATUS, STA_PLL, Timex
from ntp.timex import ADJ_FREQUENCY, ADJ_NANO
from tk_core import CLOCK_MONOTONIC, CLOCK_REALTIME, Host
from tk_core.clockids import CLOCK_MONOTONIC_COARSE, CLOCK_REALTIME_COARSE
from tk_shim.protocol import pack_reply
from tk_shim.syscalls import Calls

S = 10**9
START = 1_700_000_000 * S


def tick_slack(tk) -> int:
    """How far the coarse difference may stray from the fine one read at the same instant.

    The coarse clocks stand for the end of the last whole interval before the last tick, up to
    two intervals before the read; over that span the twins' mults (each base ±1 dither) differ
    by at most two units, each drifting cycle_interval / 2^shift ns an interval (1.8 ns at HZ
    100 on 3 GHz); the periodic twin's last mult change moved its xtime_nsec by up to one more
    such drift, and each twin truncates to a ns.
    """
    per_interval = -(-tk.cycle_interval // (1 << tk.shift))
    return 2 * 3 * per_interval + 2


def _twins(hz: int, version: str) -> tuple[Host, object, object]:
    host = Host(hz=hz, realtime_ns=START, monotonic_ns=1000 * S, kernel_version=version)
    return host, host.create_namespace("lazy", update="lazy"), host.create_namespace(
        "per", update="periodic")


def _feed(twins, kind: str, v: int) -> None:
    for ns in twins:
        if kind == "freq":
            ns.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=v * 1000))
        elif kind == "offset":
            ns.adjtimex(Timex(modes=ADJ_OFFSET | ADJ_STATUS | ADJ_NANO, offset=v * 1000,
                              status=STA_PLL))
        else:
            ns.clock_settime_ns(CLOCK_REALTIME, START + 5 * S + 10**6 * v)


def _compare(lazy, per) -> None:
    """Coarse differences equal the fine ones (within a tick's drift); coarse never leads."""
    fine = {c: lazy.clock_gettime_ns(c) - per.clock_gettime_ns(c)
            for c in (CLOCK_REALTIME, CLOCK_MONOTONIC)}
    for coarse, of in ((CLOCK_REALTIME_COARSE, CLOCK_REALTIME),
                       (CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC)):
        diff = lazy.clock_gettime_ns(coarse) - per.clock_gettime_ns(coarse)
        assert abs(diff - fine[of]) <= tick_slack(lazy.tk), (coarse, diff, fine)
        assert lazy.clock_gettime_ns(coarse) <= lazy.clock_gettime_ns(of)


@settings(max_examples=12, deadline=None)
@given(
    hz=st.sampled_from([100, 250, 300, 1000]),
    version=st.sampled_from(["6.1", "6.12", "7.3"]),
    ops=st.lists(st.tuples(st.sampled_from(["freq", "offset", "settime"]),
                           st.integers(-300, 300)), min_size=1, max_size=3),
    reads=st.lists(st.integers(1, 3 * S), min_size=3, max_size=8),
)
def test_idle_lazy_twin_reads_the_periodic_coarse_clocks(hz, version, ops, reads):
    host, lazy, per = _twins(hz, version)
    for kind, v in ops:
        _feed((lazy, per), kind, v)
        host.run_for(S // 3 + v * 1000)
    for gap in reads:  # idle seconds: the lazy twin does not accumulate (NTP quiet or not)
        host.run_for(gap)
        _compare(lazy, per)
    bound = (host.lazy_error_bound >> 32) + 1
    d = lazy.clock_gettime_ns(CLOCK_MONOTONIC_COARSE) - per.clock_gettime_ns(
        CLOCK_MONOTONIC_COARSE)
    assert abs(d) <= bound + tick_slack(lazy.tk)


def test_coarse_read_accumulates_nothing():
    host, lazy, _ = _twins(250, "7.3")
    lazy.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=77 * 65536))
    host.run_for(7 * S + 1234567)
    before, calls = lazy.tk.snapshot(), lazy.advance_calls
    coarse = lazy.clock_gettime_ns(CLOCK_REALTIME_COARSE)
    assert lazy.tk.snapshot() == before and lazy.advance_calls == calls
    assert coarse > START + 6 * S  # not the value of the last accumulation, 7 s back


def test_time_and_offsets_namespace_follow_a_lazy_root():
    # time(2) half a second past 10 s is the second date shows (REALTIME's); an offsets
    # namespace on a lazy root moves MONOTONIC_COARSE by its offset only
    host = Host(hz=100, realtime_ns=START, monotonic_ns=1000 * S, root_update="lazy")
    offs = host.create_namespace("offs", model="offsets")
    offs.set_offsets(monotonic_ns=-3 * S, boottime_ns=0)
    host.run_for(10 * S + S // 2)
    calls = Calls(offs.spawn(), seed=0)
    assert calls.time([]) == pack_reply(START // S + 10)
    assert offs.clock_gettime_ns(CLOCK_REALTIME) // S == START // S + 10
    root = host.root
    assert root.clock_gettime_ns(CLOCK_REALTIME_COARSE) > START + 10 * S - S // 100
    assert offs.clock_gettime_ns(CLOCK_MONOTONIC_COARSE) == root.clock_gettime_ns(
        CLOCK_MONOTONIC_COARSE) - 3 * S


@settings(max_examples=10, deadline=None)
@given(
    hz=st.sampled_from([100, 250, 300, 1000]),
    version=st.sampled_from(["6.17", "7.3"]),
    freq=st.integers(-500, 500),
    steps=st.lists(st.tuples(st.integers(1, 3 * 10**6), st.booleans()), min_size=50,
                   max_size=300),
)
def test_lazy_coarse_never_steps_back_from_6_15(hz, version, freq, steps):
    # an accumulation takes the mult compensation off xtime_nsec; the coarse reading already
    # handed out (computed without it) is kept, so coarse_nsec never steps back
    host = Host(hz=hz, realtime_ns=START, kernel_version=version)
    ns = host.create_namespace("lazy", update="lazy")
    ns.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=freq * 65536))
    last = ns.clock_gettime_ns(CLOCK_MONOTONIC_COARSE)
    for gap, catch_up in steps:
        host.run_for(gap)
        if catch_up:
            ns.adjtimex(Timex())  # a readback: the catch-up to the last tick
        now = ns.clock_gettime_ns(CLOCK_MONOTONIC_COARSE)
        assert last <= now <= ns.clock_gettime_ns(CLOCK_MONOTONIC)
        last = now
