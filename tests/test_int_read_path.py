"""The integer read path (whole-ns true time, constant-rate counter) equals the rational one,
and an idle namespace stays small.

`Host.cycles_now` reads the counter in integers while true time is a whole number of ns
(`Clocksource.cycles_at_ns`); the exact `Clocksource.cycles_at` over the mpq true time stays
the definition.  Every reading here is compared with that definition, over random counters
(frequency, rational error, width down to wrapping 8-bit ones, start count), random spans
(whole ns and sub-ns rational steps) and dilated namespaces.
"""

from __future__ import annotations

import gc
import tracemalloc

import pytest
from gmpy2 import mpq
from hypothesis import given, settings
from hypothesis import strategies as st

from tk_core import (
    CLOCK_BOOTTIME,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME,
    CLOCK_TAI,
    Clocksource,
    Host,
)

NSEC = 10**9
FINE = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI, CLOCK_MONOTONIC_RAW)

COUNTERS = st.builds(
    lambda freq, bits, num, den, start: Clocksource(
        freq, bits, error_ppm=mpq(num, den), start_cycles=start),
    st.integers(1_000_000, 5_000_000_000),
    st.sampled_from([16, 24, 32, 56, 64]),
    st.integers(-500_000, 500_000),
    st.integers(1, 1000),
    st.integers(0, 2**40),
)
SPANS = st.one_of(
    st.integers(0, 3 * NSEC),  # whole ns: the integer path
    st.integers(0, 5000),
    st.builds(mpq, st.integers(1, 10**7), st.integers(2, 997)),  # sub-ns rational steps
)


def slow_cycles(host: Host) -> int:
    """The extended count by the definition: `cycles_at` over the exact true time."""
    cs = host.clocksource
    return host.counter.peek(cs.cycles_at(host.true_time) & cs.mask)


@given(n=st.integers(0, 10**15), cs=COUNTERS)
@settings(max_examples=60, deadline=None)
def test_cycles_at_ns_is_cycles_at(n: int, cs: Clocksource) -> None:
    assert cs.cycles_at_ns(n) == cs.cycles_at(mpq(n, NSEC))


DILATIONS = st.sampled_from([mpq(1), mpq(1_000_003, 1_000_000), mpq(7, 9)])


@given(cs=COUNTERS, spans=st.lists(SPANS, min_size=1, max_size=12), dilation=DILATIONS)
@settings(max_examples=25, deadline=None)
def test_integer_reads_equal_rational_reads(cs: Clocksource, spans: list, dilation: mpq) -> None:
    check_integer_reads(cs, spans, dilation)


@pytest.mark.soak
@given(cs=COUNTERS, spans=st.lists(SPANS, min_size=1, max_size=30), dilation=DILATIONS)
@settings(max_examples=500, deadline=None)
def test_integer_reads_equal_rational_reads_soak(
    cs: Clocksource, spans: list, dilation: mpq
) -> None:
    check_integer_reads(cs, spans, dilation)


def check_integer_reads(cs: Clocksource, spans: list, dilation: mpq) -> None:
    """After each span, the integer count and every fine reading equal the definition's."""
    host = Host(cs, realtime_ns=1_700_000_000 * NSEC)
    spaces = [host.root, host.create_namespace("lazy"),
              host.create_namespace("dil", dilation=dilation),
              host.create_namespace("per", update="periodic")]
    for span in spans:
        if isinstance(span, int):
            host.run_for(span)
        else:
            host.run_until(host.true_time * NSEC + span)
        exact = host.true_time * NSEC
        if exact.denominator == 1:
            assert host._int_now is host._now and host._now_ns == exact  # the integer path ran
        cycles = slow_cycles(host)
        assert host.cycles_now() == cycles
        for ns in spaces:
            for clk in FINE:
                assert ns.clock_gettime_ns(clk) == ns.read_clock_at(clk, cycles), (ns, clk)


def test_a_restored_host_reads_in_integers_again() -> None:
    host = Host(realtime_ns=1_700_000_000 * NSEC)
    host.run_for(NSEC + 17)
    again = Host.restore(host.checkpoint())
    again.run_for(1000)
    assert again._int_now is again._now and again._now_ns == NSEC + 1017
    assert again.cycles_now() == slow_cycles(again)


def test_an_idle_namespace_makes_its_parts_on_first_use() -> None:
    host = Host(realtime_ns=1_700_000_000 * NSEC)
    ns = host.create_namespace("idle")
    assert ns._timer_base is None and ns._listeners is None and ns._hook_entry is None
    assert ns._tasks is None and ns._agents is None and ns._timer_handles is None
    told: list[int] = []
    ns.clock_was_set_listeners.append(lambda n: told.append(n.clock_gettime_ns(0)))
    assert ns.clock_was_set_listeners[0] == ns.timer_base.clock_was_set
    fired: list[int] = []
    timer = ns.timer_create(CLOCK_MONOTONIC, lambda t, o: fired.append(
        t.ns.clock_gettime_ns(CLOCK_MONOTONIC)))
    start = ns.clock_gettime_ns(CLOCK_MONOTONIC)
    timer.settime(NSEC)
    ns.clock_settime_ns(CLOCK_REALTIME, 1_800_000_000 * NSEC)
    assert told == [1_800_000_000 * NSEC]
    assert list(ns.timer_handles.values()) == [timer]
    host.run_for(2 * NSEC)
    assert len(fired) == 1 and fired[0] >= start + NSEC


def test_idle_namespaces_stay_small() -> None:
    """tracemalloc over 500 idle lazy namespaces (5.1 KB each before their parts were lazy)."""
    host = Host(realtime_ns=1_700_000_000 * NSEC)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(500):
        host.create_namespace(f"idle{i}")
    gc.collect()
    per_ns = (tracemalloc.get_traced_memory()[0] - before) / 500
    tracemalloc.stop()
    assert per_ns < 2.5 * 1024


def test_a_lazy_coarse_reading_is_not_kept_across_a_root_step() -> None:
    """A lazy namespace's coarse clocks follow the host's tick grid (root MONOTONIC); a step of
    the root at the same instant moves the grid without a new read_seq in the namespace, so
    a kept coarse value would be stale."""
    from tk_core import CLOCK_MONOTONIC_COARSE, CLOCK_REALTIME_COARSE

    start = 1_700_000_000 * NSEC
    host = Host(realtime_ns=start, monotonic_ns=7 * NSEC, tai_offset=37, kernel_version="6.6")
    lazy = host.create_namespace("lazy")
    host.create_namespace("periodic", update="periodic")
    dilated = host.create_namespace("dilated", dilation=mpq(1_000_003, 1_000_000))
    host.run_for(1_000_003)
    for ns in (lazy, host.root):
        for clk in (CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE):
            dilated.clock_gettime_ns(clk)  # kept, if coarse values were kept
        ns.clock_settime_ns(CLOCK_REALTIME, ns.clock_gettime_ns(CLOCK_REALTIME))
        cycles = host.cycles_now()
        for clk in (CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE):
            assert dilated.clock_gettime_ns(clk) == dilated.read_clock_at(clk, cycles), clk
