"""Rate changes and clock steps: re-checks, re-keys, locality of clock_was_set, lateness."""

from __future__ import annotations

import random

import pytest

from ntp import ADJ_FREQUENCY, ADJ_OFFSET, ADJ_STATUS, ADJ_TICK, STA_INS, STA_PLL, Timex
from tk_core import CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_TAI, Clocksource, Host

NSEC = 1_000_000_000
MS = 1_000_000
US = 1_000
EPOCH = 1_483_228_790 * NSEC
CLOCKS = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI)


def arm_spread(ns, k: int, rng: random.Random, span_ns: int) -> list:
    timers = []
    for i in range(k):
        clk = CLOCKS[i % 4]
        t = ns.timer_create(clk)
        d = rng.randrange(NSEC // 10, span_ns)
        if (i // 4) % 2:
            t.settime(ns.clock_gettime_ns(clk) + d, absolute=True)
        else:
            t.settime(d)
        timers.append(t)
    return timers


def frequency_walk(requeue: bool, k: int = 120, seed: int = 7) -> tuple[Host, list]:
    """k timers over 30 s in one namespace whose frequency jumps in ±500 ppm every 0.5 s."""
    rng = random.Random(seed)
    h = Host(realtime_ns=EPOCH, requeue_on_adjust=requeue, record_lateness=True)
    a = h.create_namespace("a")
    timers = arm_spread(a, k, rng, 30 * NSEC)
    for _ in range(64):
        a.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=rng.randrange(-500 << 16, 500 << 16)))
        h.run_for(NSEC // 2)
    return h, timers


@pytest.mark.parametrize("requeue", [False, True], ids=["recheck", "requeue_on_adjust"])
def test_rearms_per_timer_after_frequency_changes(requeue):
    h, timers = frequency_walk(requeue)
    assert all(t.fires == 1 for t in timers)
    rechecks = [t.entry.rechecks for t in timers]
    rekeys = [t.entry.rekeys for t in timers]
    k = len(timers)
    print(f"\nrequeue_on_adjust={requeue}: early re-checks/timer {sum(rechecks) / k:.2f} "
          f"(max {max(rechecks)}), re-keys/timer {sum(rekeys) / k:.2f} (max {max(rekeys)}), "
          f"worst lateness {h.stats.late_max_ns} ns, interrupts {h.stats.interrupts}")
    if requeue:
        assert max(rechecks) <= 1 and sum(rechecks) < k // 2
        assert sum(rekeys) > 10 * k
    else:
        assert max(rechecks) <= 2  # one re-arm with the exact inverse normally suffices
        assert sum(rekeys) < 3 * k
    assert h.stats.late_max_ns <= h.rekey_slack_ns + h.clockevent.min_delta_ns


def test_pll_slews_adjtime_and_tick_keep_timers_on_time():
    # Negative PLL offsets and a falling adjtime slew make the rate *rise* second by second:
    # queued keys go late unless the base re-keys them.
    rng = random.Random(3)
    h = Host(hz=250, realtime_ns=EPOCH, record_lateness=True,
             clocksource=Clocksource(3_000_000_000, 64, error_ppm=-40))
    ns = {name: h.create_namespace(name) for name in ("pll", "adjtime", "tick")}
    ns["pll"].adjtimex(Timex(modes=ADJ_STATUS, status=STA_PLL))
    ns["pll"].adjtimex(Timex(modes=ADJ_OFFSET, offset=-450_000))
    ns["adjtime"].adjtime(-3_000)
    ns["tick"].adjtimex(Timex(modes=ADJ_TICK, tick=9_500))
    timers = {n: arm_spread(x, 60, rng, 40 * NSEC) for n, x in ns.items()}
    h.run_for(10 * NSEC)
    ns["tick"].adjtimex(Timex(modes=ADJ_TICK, tick=10_500))  # a 10 % rate rise at once
    h.run_for(40 * NSEC)
    assert all(t.fires == 1 for ts in timers.values() for t in ts)
    assert h.stats.late_max_ns <= h.rekey_slack_ns + h.clockevent.min_delta_ns
    assert h.stats.per_namespace["tick"].rekeys > 0


def test_far_timers_in_a_dithering_namespace():
    # 37.5 ppm needs the ±1 mult dither; hour-long timers are keyed at the dither's top so the
    # dither can only make them early: one re-check at most, never late beyond the slack.
    h = Host(realtime_ns=EPOCH, record_lateness=True)
    a = h.create_namespace("a")
    a.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=int(37.5 * 65536)))
    timers = []
    for i in range(8):
        t = a.timer_create(CLOCKS[i % 4])
        t.settime((3600 + 7 * i) * NSEC)
        timers.append(t)
    near = a.timer_create(CLOCK_MONOTONIC)
    near.settime(MS, 500 * MS)  # its expiries accumulate the namespace: the dither flips
    h.run_for(3700 * NSEC)
    assert all(t.fires == 1 and t.entry.rechecks <= 1 for t in timers)
    assert h.stats.per_namespace["a"].rekeys == 0  # the dither never forces a re-key
    assert h.stats.late_max_ns <= h.rekey_slack_ns + h.clockevent.min_delta_ns


def test_clock_was_set_rekeys_only_the_namespaces_own_wall_timers():
    h = Host(realtime_ns=EPOCH)
    a, b = h.create_namespace("a"), h.create_namespace("b")
    c = h.create_namespace("c", model="offsets")
    rng = random.Random(1)
    for ns in (a, b, c, h.root):
        arm_spread(ns, 40, rng, 100 * NSEC)
    a.clock_settime_ns(CLOCK_REALTIME, a.clock_gettime_ns(CLOCK_REALTIME) + 3 * NSEC)
    per = h.stats.per_namespace
    assert per["a"].rekeys == 15  # its 5 absolute REALTIME, 10 TAI (absolute or relative)
    assert per["b"].rekeys == per["c"].rekeys == per["root"].rekeys == 0
    h.root.clock_settime_ns(CLOCK_REALTIME, h.root.clock_gettime_ns(CLOCK_REALTIME) + NSEC)
    assert per["root"].rekeys == per["c"].rekeys == 15  # offsets namespaces share REALTIME
    assert per["b"].rekeys == 0 and per["a"].rekeys == 15


def test_a_leap_second_rekeys_only_the_leaping_namespace():
    midnight = 1_719_792_000
    h = Host(hz=100, realtime_ns=(midnight - 3) * NSEC)
    a, b = h.create_namespace("a"), h.create_namespace("b")
    a.adjtimex(Timex(modes=ADJ_STATUS, status=STA_INS))
    for ns in (a, b):
        ns.timer_create(CLOCK_REALTIME).settime((midnight + 10) * NSEC, absolute=True)
    h.run_until(5 * NSEC)
    assert h.stats.clock_was_set == 1
    assert h.stats.per_namespace["a"].rekeys >= 1 and h.stats.per_namespace["b"].rekeys == 0


def test_a_lazy_namespace_accumulates_when_its_timer_expires():
    h = Host(realtime_ns=EPOCH)
    a = h.create_namespace("a")
    t = a.timer_create(CLOCK_MONOTONIC)
    t.settime(5 * NSEC)
    h.run_for(4 * NSEC)
    before = a.advance_calls
    h.run_for(2 * NSEC)
    assert t.fires == 1 and a.advance_calls == before + 1


def test_relative_timers_are_untouched_by_steps():
    h = Host(realtime_ns=EPOCH)
    a = h.create_namespace("a")
    rel = [a.timer_create(c) for c in (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME)]
    for t in rel:
        t.settime(10 * NSEC)
    a.clock_settime_ns(CLOCK_REALTIME, a.clock_gettime_ns(CLOCK_REALTIME) + 100 * NSEC)
    assert [t.entry.rekeys for t in rel] == [0, 0, 0]
    assert all(t.gettime()[0] == 10 * NSEC for t in rel)


@pytest.mark.parametrize("policy", ["utc-sls", "chrony-slew", "step"])
def test_timers_through_a_smeared_or_stepped_leap(policy):
    # A follower steers the namespace onto the smeared timescale with adjtimex (ADJ_FREQUENCY,
    # ADJ_TICK beyond ±500 ppm) every second; periodic and one-shot REALTIME/TAI/MONOTONIC
    # timers run through the window: never early, late by at most the slack plus min_delta.
    from ntp import LeapTable
    from tk_core.policy import follow

    leap = LeapTable.load().next_leap(1_480_000_000)
    start = leap.unix - 1100
    h = Host(hz=250, realtime_ns=start * NSEC, tai_offset=36, record_lateness=True,
             clocksource=Clocksource(3_000_000_000, 64, error_ppm=7))
    ns = h.create_namespace(policy)
    follow(ns, policy, leap=leap, epoch_unix=start, update_interval_s=1)
    rng = random.Random(5)
    timers = arm_spread(ns, 80, rng, 1150 * NSEC)
    ticker = ns.timer_create(CLOCK_REALTIME)
    ticker.settime(ns.clock_gettime_ns(CLOCK_REALTIME) + NSEC // 3, NSEC, absolute=True)
    h.run_for(1200 * NSEC)
    assert all(t.fires == 1 for t in timers)
    assert ticker.fires >= 1150
    st = h.stats.per_namespace[policy]
    print(f"\n{policy}: {st.expiries} fires, {st.early_rechecks} early re-checks, "
          f"{st.rekeys} re-keys, {st.stepped_fires} stepped, worst lateness {st.late_max_ns} ns")
    assert st.early_rechecks <= st.expiries
    assert st.late_max_ns <= h.rekey_slack_ns + h.clockevent.min_delta_ns
