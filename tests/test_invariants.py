"""Hypothesis: invariants that must hold for any sequence of operations on any namespaces."""

from __future__ import annotations

import contextlib

from hypothesis import example, given
from hypothesis import strategies as st

from ntp import ADJ_FREQUENCY, ADJ_TICK, Timex
from tk_core import (
    CLOCK_BOOTTIME,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_COARSE,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME,
    CLOCK_REALTIME_COARSE,
    Clocksource,
    Host,
)

NSEC = 1_000_000_000
# The coarse clocks are checked apart: with 6.15+'s coarse_nsec (the default) they never step
# back; on 6.1 they could, by the few ns of the mult compensation (see docs/timekeeping.md).
# They never lead their fine clock.
NEVER_BACK = (CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME)

op = st.one_of(
    st.tuples(st.just("run"), st.integers(0, 3 * NSEC)),
    st.tuples(st.just("settime"), st.integers(0, 2), st.integers(-(10**12), 10**12)),
    st.tuples(st.just("freq"), st.integers(0, 2), st.integers(-600, 600)),
    st.tuples(st.just("tick"), st.integers(0, 2), st.integers(8990, 11010)),
    st.tuples(st.just("suspend"), st.integers(0, 50 * NSEC)),
    st.tuples(st.just("read"), st.integers(0, 3)),
)
counters = st.sampled_from([(3_000_000_000, 64), (3_579_545, 24), (24_000_000, 56)])


def build(freq_bits: tuple[int, int]) -> tuple[Host, list]:
    freq, bits = freq_bits
    h = Host(clocksource=Clocksource(freq, bits, error_ppm=7), hz=250, realtime_ns=10**18)
    spaces = [
        h.root,
        h.create_namespace("lazy"),
        h.create_namespace("periodic", update="periodic"),
        h.create_namespace("offsets", model="offsets"),
    ]
    spaces[3].set_offsets(monotonic_ns=5 * NSEC)
    return h, spaces


def apply(h: Host, spaces: list, step: tuple) -> None:
    kind = step[0]
    if kind == "run":
        h.run_for(step[1])
    elif kind == "suspend":
        h.suspend_for(step[1])
    elif kind == "settime":
        ns = spaces[step[1]]
        with contextlib.suppress(OSError):
            ns.clock_settime_ns(CLOCK_REALTIME, ns.clock_gettime_ns(CLOCK_REALTIME) + step[2])
    elif kind == "freq":
        spaces[step[1]].adjtimex(Timex(modes=ADJ_FREQUENCY, freq=step[2] << 16))
    elif kind == "tick":
        with contextlib.suppress(OSError):
            spaces[step[1]].adjtimex(Timex(modes=ADJ_TICK, tick=step[2]))


@example((3_000_000_000, 64), [("settime", 0, -1), ("run", 10), ("tick", 0, 9000)])
@example((3_000_000_000, 64), [("run", 1), ("tick", 0, 10001)])
@example((3_000_000_000, 64), [("run", 10001), ("tick", 0, 11000)])
@given(counters, st.lists(op, max_size=25))
def test_monotonic_clocks_never_go_backwards_and_coarse_never_leads(freq_bits, steps):
    h, spaces = build(freq_bits)
    last = {(i, c): spaces[i].clock_gettime_ns(c) for i in range(4) for c in NEVER_BACK}
    last_coarse = [ns.clock_gettime_ns(CLOCK_MONOTONIC_COARSE) for ns in spaces]
    for step in steps:
        apply(h, spaces, step)
        for i, ns in enumerate(spaces):
            for c in NEVER_BACK:
                v = ns.clock_gettime_ns(c)
                assert v >= last[i, c], (ns.name, c, step)
                last[i, c] = v
            assert ns.clock_gettime_ns(CLOCK_MONOTONIC_COARSE) <= ns.clock_gettime_ns(
                CLOCK_MONOTONIC
            )
            coarse = ns.clock_gettime_ns(CLOCK_MONOTONIC_COARSE)
            assert coarse >= last_coarse[i], (ns.name, step)  # 6.15+: coarse never steps back
            last_coarse[i] = coarse
            assert ns.clock_gettime_ns(CLOCK_REALTIME_COARSE) <= ns.clock_gettime_ns(CLOCK_REALTIME)


@given(
    counters,
    st.lists(st.integers(-500, 500), min_size=1, max_size=6),
    st.lists(st.integers(1, 2 * NSEC), min_size=1, max_size=6),
)
def test_raw_is_unaffected_by_ntp(freq_bits, freqs, runs):
    h, _ = build(freq_bits)
    steered, plain = h.create_namespace("steered"), h.create_namespace("plain")
    for f, d in zip(freqs, runs, strict=False):
        steered.adjtimex(Timex(modes=ADJ_FREQUENCY | ADJ_TICK, freq=f << 16, tick=9500))
        h.run_for(d)
        assert steered.clock_gettime_ns(CLOCK_MONOTONIC_RAW) == plain.clock_gettime_ns(
            CLOCK_MONOTONIC_RAW
        )


@given(st.lists(op, max_size=15))
def test_same_operations_twice_give_the_same_readings(steps):
    readings = []
    for _ in range(2):
        h, spaces = build((24_000_000, 56))
        for step in steps:
            apply(h, spaces, step)
        readings.append([ns.clock_gettime_ns(c) for ns in spaces for c in (0, 1, 4, 5, 6, 7, 11)])
    assert readings[0] == readings[1]
