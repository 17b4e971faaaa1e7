"""The host loop: NOHZ, the tick, lazy versus periodic, the exact reference, determinism."""

from __future__ import annotations

import pytest

from ntp import ADJ_FREQUENCY, Timex
from tk_core import CLOCK_MONOTONIC, CLOCK_REALTIME, Clocksource, Host

NSEC = 1_000_000_000
FREQ_37_5 = int(37.5 * 65536)  # a frequency whose mult needs the ±1 dither


def test_nohz_idle_host_has_no_tick():
    h = Host()
    h.create_namespace("a")
    h.run_for(10 * NSEC)
    assert h.stats.ticks == 0
    assert h.stats.interrupts == 0  # TSC max_idle is 440 s: nothing needed waking up


def test_periodic_namespace_turns_the_tick_on_at_hz():
    h = Host(hz=250)
    p = h.create_namespace("p", update="periodic")
    h.run_for(2 * NSEC)
    assert h.stats.ticks in (499, 500)
    assert p.advance_calls == h.stats.ticks


def test_quiescent_lazy_namespaces_cost_nothing_per_tick():
    h = Host(hz=1000, nohz=False)
    lazy = [h.create_namespace(f"idle{i}") for i in range(50)]
    h.run_for(5 * NSEC)
    assert h.stats.ticks >= 4999
    assert all(ns.advance_calls == 0 for ns in lazy)
    assert all(not ns._hook.queued for ns in lazy)


def test_a_lazy_namespace_reads_correctly_without_accumulating():
    h = Host(realtime_ns=10 * NSEC)
    a = h.create_namespace("a")
    h.run_for(300 * NSEC)
    assert a.advance_calls == 0
    assert a.clock_gettime_ns(CLOCK_REALTIME) == h.root.clock_gettime_ns(CLOCK_REALTIME)


def steered_pair(hz: int = 250, bound: int = 100) -> tuple[Host, object, object]:
    h = Host(
        clocksource=Clocksource(3_000_000_000, 64, error_ppm=12),
        hz=hz,
        realtime_ns=1_483_228_790 * NSEC,
        lazy_error_bound_ns=bound,
    )
    lazy, periodic = h.create_namespace("L"), h.create_namespace("P", update="periodic")
    for ns in (lazy, periodic):
        ns.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=FREQ_37_5))
    return h, lazy, periodic


@pytest.mark.parametrize("bound", [100, 1000])
def test_lazy_and_periodic_stay_within_the_lazy_error_bound(bound):
    h, lazy, periodic = steered_pair(bound=bound)
    worst = 0
    for _ in range(120):
        h.run_for(NSEC - 12_345)
        worst = max(
            worst,
            abs(
                lazy.clock_gettime_ns(CLOCK_MONOTONIC) - periodic.clock_gettime_ns(CLOCK_MONOTONIC)
            ),
        )
    assert worst <= bound + 2
    assert lazy.advance_calls < periodic.advance_calls // 100


def test_periodic_reference_error_stays_within_two_ns():
    h, _, periodic = steered_pair()
    worst = 0
    for _ in range(120):
        h.run_for(NSEC - 7)
        worst = max(worst, abs(periodic.reference_error_ns(CLOCK_MONOTONIC)))
    assert worst < 2


def test_lazy_reference_error_bounded_over_a_simulated_day():
    h, lazy, _ = steered_pair()
    h.periodic.clear()  # leave the periodic twin out of this one: a day of ticks is slow
    h._update_tick()
    worst = 0
    for _ in range(24 * 6):
        h.run_for(600 * NSEC)
        worst = max(worst, abs(lazy.reference_error_ns(CLOCK_MONOTONIC)))
    assert worst <= 100 + 2
    nominal = lazy.reference_error_ns(CLOCK_MONOTONIC, ideal="nominal")
    # Against the nominal ideal the registered mult's quantisation shows: -0.0596 ppm a day.
    assert nominal == pytest.approx(-0.0596e-6 * 86_400e9 * (1 + 37.5e-6), rel=2e-3)


def run_script() -> list[int]:
    h = Host(
        clocksource=Clocksource(24_000_000, 56, error_ppm=3, wander_ppm=1, seed=5),
        realtime_ns=1_000 * NSEC,
    )
    a = h.create_namespace("a")
    p = h.create_namespace("p", update="periodic")
    out = []
    for i in range(20):
        h.run_for(97_000_000)
        if i == 5:
            a.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=-(123 << 16)))
        if i == 9:
            p.clock_settime_ns(CLOCK_REALTIME, 5_000 * NSEC)
        out += [ns.clock_gettime_ns(c) for ns in (h.root, a, p) for c in (0, 1, 4, 5, 6, 7, 11)]
    return out


def test_same_inputs_give_identical_readings():
    assert run_script() == run_script()


def test_run_until_cannot_go_back():
    h = Host()
    h.run_for(NSEC)
    with pytest.raises(ValueError):
        h.run_until(0)
    with pytest.raises(ValueError):
        h.run_for(-1)


def test_checkpoint_methods_round_trip():
    h = Host(clocksource=Clocksource(24_000_000, 56, error_ppm=3), realtime_ns=10**18)
    a = h.create_namespace("a")
    a.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=FREQ_37_5))
    h.run_for(3 * NSEC)
    twin = Host.restore(h.checkpoint())
    for host in (h, twin):
        host.run_for(5 * NSEC)
    for clock in (CLOCK_REALTIME, CLOCK_MONOTONIC):
        assert twin.namespaces["a"].clock_gettime_ns(clock) == a.clock_gettime_ns(clock)
    copy = twin.restore_namespace(a.checkpoint(), "copy")
    assert copy.clock_gettime_ns(CLOCK_MONOTONIC) == a.clock_gettime_ns(CLOCK_MONOTONIC)


def test_exact_rounding_beyond_2_to_the_53():
    from gmpy2 import mpq

    from ntp.exact import ceil_q, floor_q, round_q

    big = 2**60 + 1
    assert (floor_q(mpq(big)), ceil_q(mpq(big)), round_q(mpq(big))) == (big, big, big)
    assert (floor_q(mpq(-7, 2)), ceil_q(mpq(-7, 2)), round_q(mpq(7, 2)), round_q(mpq(5, 2))) == (
        -4,
        -3,
        4,
        2,
    )
    cs = Clocksource(3_000_000_000, 64)
    t = mpq(10**7) + mpq(1, 3_000_000_000)  # ~116 days: counts far beyond 2^53
    assert cs.cycles_at(t) == 3 * 10**16 + 1
