"""Fair expiry: a namespace's timer storm cannot delay another namespace's due timers.

`Host._run_due` runs the entries due in one interrupt pass round-robin across namespaces (one
expiry per namespace per round, by expiry within each).  Checked here:

* the bound: with k namespaces due, a victim's j-th due entry runs at most
  irq_cost + (k·j − 1)·expiry_cost after the interrupt began, whatever the others' counts;
* a single namespace's pass is the strict expiry order of `fair_expiry=False` (readings,
  stats and the checkpoint are identical, and the fair loop is never entered);
* callbacks that re-arm (into the past), cancel or re-arm other due entries mid-pass;
* never early (hypothesis), the trace event, the checkpoint option.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ntp.trace
from ntp import ADJ_FREQUENCY, Timex
from tk_core import CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, Host
from tk_core.checkpoint import checkpoint_host, dumps, loads, register_callback, restore_host
from tk_core.checkpoint._format import _envelope

NSEC = 1_000_000_000
MS = 1_000_000
US = 1_000
IRQ, COST = 1_000, 1_000
#: an instant off the 1 ms tick grid, so no lazy NTP hook is due with the timers
DEADLINE = 3 * MS + 123_457


def storm_host(**kw: object) -> Host:
    return Host(irq_cost_ns=IRQ, expiry_cost_ns=COST, **kw)  # type: ignore[arg-type]


def arm_at(ns, deadline: int, log: list | None = None, clock: int = CLOCK_MONOTONIC):
    """A one-shot absolute timer; its callback logs how late its own clock reads."""

    def on_fire(timer, _overrun: int) -> None:
        if log is not None:
            log.append(ns.clock_gettime_ns(clock) - deadline)

    t = ns.timer_create(clock, on_fire)
    t.settime(deadline, absolute=True)
    return t


def test_victim_beside_a_10k_storm_is_late_by_one_expiry():
    h = storm_host()
    bad, victim = h.create_namespace("hostile"), h.create_namespace("victim")
    for _ in range(10_000):
        arm_at(bad, DEADLINE)
    late: list[int] = []
    arm_at(victim, DEADLINE, late)  # armed last: strict expiry order would run it last
    h.run_for(20 * MS)
    assert h.stats.per_namespace["hostile"].expiries == 10_000
    assert late and late[0] >= 0
    assert late[0] <= IRQ + COST  # strict order: IRQ + 10 000 · COST
    assert h.stats.per_namespace["victim"].late_max_ns == late[0]


def test_strict_order_makes_the_victim_wait_for_the_storm():
    # fair_expiry=False is the kernel's order: the victim's lateness scales with the storm
    h = storm_host(fair_expiry=False)
    bad, victim = h.create_namespace("hostile"), h.create_namespace("victim")
    for _ in range(1_000):
        arm_at(bad, DEADLINE)
    late: list[int] = []
    arm_at(victim, DEADLINE, late)
    h.run_for(20 * MS)
    assert late[0] >= IRQ + 1_000 * COST


@pytest.mark.parametrize(("k", "hostile", "m"), [(2, 300, 5), (3, 200, 4), (4, 50, 7)])
def test_jth_entry_bound_depends_on_namespaces_not_on_counts(k, hostile, m):
    h = storm_host()
    for i in range(k - 1):
        bad = h.create_namespace(f"hostile{i}")
        for _ in range(hostile * (i + 1)):
            arm_at(bad, DEADLINE)
    victim = h.create_namespace("victim")
    late: list[int] = []
    for _ in range(m):
        arm_at(victim, DEADLINE, late)
    h.run_for(20 * MS)
    assert len(late) == m
    for j, lateness in enumerate(late, start=1):
        assert 0 <= lateness <= IRQ + (k * j - 1) * COST, (j, late)
    # the bound is tight: round j of k namespaces, the victim earliest by arming order last
    assert late[-1] >= IRQ + (k * (m - 1)) * COST


def pre_fairness_run_due(self: Host, cycles: int) -> None:
    """`Host._run_due` as it was before fair expiry: strictly by expiry (the reference)."""
    cost = self.expiry_cost_ns
    queue = self.queue
    while (entry := queue.pop_due(cycles)) is not None:
        entry.expire(cycles)
        if cost:
            self._spend(cost)


#: what the registered callback of `single_namespace_run` works on (one run at a time)
RUN: dict[str, Any] = {}


def _single_fire(t: Any, overrun: int) -> None:
    """Log the reading; some timers cancel a neighbour or re-arm another into the past."""
    ns, timers = RUN["ns"], RUN["timers"]
    i = RUN["index"][id(t)]
    clk = t.clockid
    RUN["log"].append((i, ns.clock_gettime_ns(clk), overrun))
    if i % 7 == 0 and timers[i + 1].gettime()[0]:
        timers[i + 1].settime(0)  # cancel a neighbour, often already due
    if i % 11 == 0:
        timers[(i + 3) % 60].settime(ns.clock_gettime_ns(clk) - 5, absolute=True)


register_callback("storm_fairness.single_fire", _single_fire)


def single_namespace_run(fair: bool):
    """A busy single-namespace workload; returns its fire log, stats and checkpoint."""
    h = storm_host(realtime_ns=1_483_228_790 * NSEC, fair_expiry=fair)
    ns = h.create_namespace("only", update="periodic")  # the tick is due beside its timers
    ns.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=37 << 16))
    RUN.update(ns=ns, timers=[], index={}, log=[])
    for i in range(60):
        clk = (CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME)[i % 3]
        t = ns.timer_create(clk, _single_fire)
        RUN["index"][id(t)] = i
        RUN["timers"].append(t)
        t.settime(ns.clock_gettime_ns(clk) + MS + (i % 5) * 10, (i % 4 + 1) * 250 * US,
                  absolute=True)
    h.run_for(12 * MS)
    doc = checkpoint_host(h)
    doc["state"]["config"]["options"].pop("fair_expiry")
    return list(RUN["log"]), dataclasses.asdict(h.stats), dumps(_envelope("host", doc["state"]))


def test_single_namespace_pass_is_the_pre_fairness_order(monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(Host, "_run_due", pre_fairness_run_due)
        reference = single_namespace_run(True)
    strict = single_namespace_run(False)

    def never(self: Host, cycles: int) -> None:  # the fast path must not group at all
        raise AssertionError("the fair loop ran for a single namespace")

    monkeypatch.setattr(Host, "_run_fair", never)
    fair = single_namespace_run(True)
    assert len(reference[0]) > 100 and reference[1]["hang_detections"] == 0
    assert fair[0] == strict[0] == reference[0]  # every reading, in the same order
    assert fair[1] == strict[1] == reference[1]  # every counter
    assert fair[2] == strict[2] == reference[2]  # the whole checkpoint


def test_a_rearm_into_the_past_neither_starves_nor_loops():
    # The hostile callback re-arms its own timer already due, 50 times: each run is one turn.
    h = storm_host()
    bad, victim = h.create_namespace("hostile"), h.create_namespace("victim")
    fires = [0]

    def again(t, _overrun: int) -> None:
        fires[0] += 1
        if fires[0] <= 50:
            t.settime(DEADLINE, absolute=True)

    bad.timer_create(CLOCK_MONOTONIC, again).settime(DEADLINE, absolute=True)
    for _ in range(3):
        arm_at(bad, DEADLINE)
    late: list[int] = []
    for _ in range(3):
        arm_at(victim, DEADLINE, late)
    h.run_for(10 * MS)
    assert fires[0] == 51
    assert h.stats.interrupts <= 3
    assert late == [IRQ + (2 * j - 1) * COST for j in (1, 2, 3)]


def test_cancelled_or_rearmed_held_entries_do_not_run():
    h = storm_host()
    a, b = h.create_namespace("a"), h.create_namespace("b")
    ran: list[str] = []
    b_timers = []

    def a_fire(t, _o: int) -> None:
        ran.append("a")
        if len(ran) == 1:
            b_timers[1].settime(0)  # cancel b's second, already taken for this pass
            b_timers[2].settime(DEADLINE + 5 * MS, absolute=True)  # and push its third out

    for _ in range(3):
        a.timer_create(CLOCK_MONOTONIC, a_fire).settime(DEADLINE, absolute=True)
    for i in range(4):
        t = b.timer_create(CLOCK_MONOTONIC, lambda t, o, i=i: ran.append(f"b{i}"))
        t.settime(DEADLINE, absolute=True)
        b_timers.append(t)
    h.run_for(DEADLINE + MS)
    assert ran == ["a", "b0", "a", "b3", "a"]
    assert b_timers[1].fires == 0 and b_timers[2].fires == 0
    h.run_for(DEADLINE + 6 * MS)
    assert b_timers[2].fires == 1 and b_timers[1].fires == 0


def test_offsets_namespaces_are_separate_tenants():
    # an offsets namespace's timers are converted by the root's timekeeper, yet it is its own
    # namespace for fairness: a storm in one offsets namespace does not delay another's
    h = storm_host()
    bad = h.create_namespace("bad", model="offsets")
    victim = h.create_namespace("victim", model="offsets")
    for _ in range(500):
        arm_at(bad, DEADLINE)
    late: list[int] = []
    arm_at(victim, DEADLINE, late)
    h.run_for(10 * MS)
    assert late[0] <= IRQ + COST


def test_the_fair_loop_traces_the_namespaces_it_defers():
    events: list[tuple[str, dict]] = []

    class Log:
        def info(self, event: str, **fields: object) -> None:
            events.append((event, fields))

    def storm(fair: bool) -> list[dict]:
        events.clear()
        h = storm_host(fair_expiry=fair)
        bad, victim = h.create_namespace("hostile"), h.create_namespace("victim")
        for _ in range(20):
            arm_at(bad, DEADLINE)
        arm_at(victim, DEADLINE)
        ntp.trace.enable(Log())
        try:
            h.run_for(10 * MS)
        finally:
            ntp.trace.disable()
        return [f for e, f in events if e == "hrtimer_fair_defer"]

    deferred = storm(True)
    assert deferred == [{"ns": "hostile", "waiting": 19, "groups": 2}]
    assert storm(False) == []


def test_fair_expiry_is_a_checkpointed_bool_option():
    for fair in (False, True):
        h = Host(fair_expiry=fair)
        restored = restore_host(loads(dumps(checkpoint_host(h))))
        assert restored.fair_expiry is fair
    doc = checkpoint_host(Host(fair_expiry=False))
    del doc["state"]["config"]["options"]["fair_expiry"]  # a checkpoint from before the option
    assert restore_host(loads(dumps(_envelope("host", doc["state"])))).fair_expiry is True
    with pytest.raises(TypeError, match="fair_expiry must be a bool"):
        Host(fair_expiry=1)  # type: ignore[arg-type]


@settings(max_examples=15)
@given(
    counts=st.lists(st.integers(1, 40), min_size=2, max_size=4),
    spread=st.integers(0, 3_000),
    cost=st.integers(0, 2_000),
    freqs=st.lists(st.integers(-500, 500), min_size=4, max_size=4),
    dilated=st.booleans(),
)
def test_never_early_and_within_namespace_order_under_fair_expiry(
    counts, spread, cost, freqs, dilated
):
    h = Host(irq_cost_ns=IRQ, expiry_cost_ns=cost)
    fired: list[tuple[str, int, int]] = []  # (namespace, host key, reading) per fire
    for n, count in enumerate(counts):
        kind = "offsets" if n == 3 else "timekeeper"
        if kind == "offsets":
            ns = h.create_namespace(f"ns{n}", model="offsets")
        else:
            ns = h.create_namespace(f"ns{n}", dilation=2 if dilated and n == 1 else 1)
            ns.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=freqs[n] << 16))
        for i in range(count):
            clk = (CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME)[i % 3]
            deadline = ns.clock_gettime_ns(clk) + MS + (i % 4) * spread

            def on_fire(t, _o, ns=ns, clk=clk, deadline=deadline, i=i) -> None:
                now = ns.clock_gettime_ns(clk)
                assert now >= deadline, (ns.name, now, deadline)
                fired.append((ns.name, t.entry.key, now))

            ns.timer_create(clk, on_fire).settime(deadline, absolute=True)
    h.run_for(20 * MS)
    assert len(fired) == sum(counts)
    assert h.stats.expiries == sum(counts)
    for n in range(len(counts)):  # by expiry within each namespace
        keys = [key for name, key, _ in fired if name == f"ns{n}"]
        assert keys == sorted(keys)


def test_held_entries_stay_queued_for_everyone_else_and_return_if_a_callback_raises():
    h = storm_host()
    a, b = h.create_namespace("a"), h.create_namespace("b")
    seen: list[tuple[int, bool, int | None]] = []
    b_timers = [b.timer_create(CLOCK_MONOTONIC) for _ in range(3)]

    def a_fire(t, _o: int) -> None:
        # mid-pass: b's due timers are held by the pass, yet still queued and counted
        entries = h.queue.entries()
        seen.append((len(h.queue), all(bt.entry.queued for bt in b_timers),
                     h.queue.first_key()))
        assert set(entries) >= {bt.entry for bt in b_timers}
        assert [e.key for e in entries] == sorted(e.key for e in entries)
        raise RuntimeError("callback failed")

    a.timer_create(CLOCK_MONOTONIC, a_fire).settime(DEADLINE, absolute=True)
    for bt in b_timers:
        bt.settime(DEADLINE, absolute=True)
    queued = len(h.queue)
    with pytest.raises(RuntimeError, match="callback failed"):
        h.run_for(DEADLINE + MS)
    assert seen == [(queued - 1, True, b_timers[0].entry.key)]
    assert len(h.queue) == queued - 1 and not h.queue._held  # b's three are back on the list
    assert all(bt.entry.queued and bt.fires == 0 for bt in b_timers)
    h.run_for(DEADLINE + 2 * MS)  # the next interrupt runs them
    assert [bt.fires for bt in b_timers] == [1, 1, 1]


STORM_SCENARIO = """
[scenario]
name = "storm-keys"
description = "a storm beside a victim, with interrupt costs"
duration = "300ms"
sample_every = "100ms"

[host]
start = 2024-03-01T00:00:00Z
irq_cost = "1us"
expiry_cost = "1us"
fair_expiry = FAIR

[[namespaces]]
name = "hostile"

[[namespaces]]
name = "victim"

[[timers]]
namespace = "hostile"
clock = "CLOCK_MONOTONIC"
value = "10ms"
interval = "100ms"
count = 2
copies = 300
stagger = "0s"

[[timers]]
namespace = "victim"
clock = "CLOCK_MONOTONIC"
value = "10ms"
interval = "100ms"
count = 2
"""


@pytest.mark.parametrize(("fair", "low", "high"), [("true", 0, IRQ + COST),
                                                   ("false", IRQ + 300 * COST, 400 * COST)])
def test_scenario_host_keys_reach_the_engine(fair, low, high):
    from tk_core.scenario import load_text, run_scenario

    summary = run_scenario(load_text(STORM_SCENARIO.replace("FAIR", fair))).summary
    late = summary["namespaces"]["victim"]["timers"]["lateness_ns"]["max"]
    assert summary["namespaces"]["hostile"]["timers"]["fires"] == 600
    assert low <= late <= high


def test_scenario_costs_are_bounded():
    from tk_core.scenario import ScenarioError, load_text

    with pytest.raises(ScenarioError, match="at most 1000000 ns"):
        load_text(STORM_SCENARIO.replace("FAIR", "true").replace('"1us"', '"2ms"', 1))


@pytest.mark.parametrize("fair", [True, False])
def test_a_victim_due_while_the_storm_runs_joins_at_the_next_round(fair):
    # The storm is due 5 µs before the victim: the pass that runs it starts before the
    # victim is due.  Fair expiry takes the victim in once its deadline passes.
    h = storm_host(fair_expiry=fair)
    bad, victim = h.create_namespace("hostile"), h.create_namespace("victim")
    for _ in range(2_000):
        arm_at(bad, DEADLINE)
    late: list[int] = []
    arm_at(victim, DEADLINE + 5 * US, late)
    late_b: list[int] = []
    third = h.create_namespace("third")
    for _ in range(3):
        arm_at(third, DEADLINE + 9 * US, late_b)
    h.run_for(20 * MS)
    assert h.stats.per_namespace["hostile"].expiries == 2_000
    if fair:
        # the expiry in progress, then one round's earlier turns (hostile's; the victim's)
        assert 0 <= late[0] <= 2 * COST
        assert late_b == sorted(late_b) and late_b[-1] <= 2 * COST + 3 * 2 * COST
    else:
        assert late[0] >= 1_990 * COST  # strict order: after the whole storm's pass
