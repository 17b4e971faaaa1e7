"""restored ≡ original: a host checkpointed at any point continues bit for bit.

A random host (namespaces of every model, interrupt costs on or off, a device slow to
program), a random run of steps and API calls, a checkpoint at a random step, a restore into
a new host; then both run the same further steps.  Every reading (all clocks, the coarse
ones too), the host and clockevent statistics, every timer callback (its namespace, true
time and overrun) and a later checkpoint's bytes must be identical.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

from gmpy2 import mpq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ntp import ADJ_NANO, ADJ_OFFSET, ADJ_STATUS, ADJ_TIMECONST, STA_PLL, Timex
from tk_core import Clocksource, Host
from tk_core.checkpoint import checkpoint_host, dumps, loads, register_callback, restore_host
from tk_core.clockids import (
    CLOCK_BOOTTIME,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_COARSE,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME,
    CLOCK_REALTIME_COARSE,
    CLOCK_TAI,
)

NS = 10**9
MS = 10**6
CLOCKS = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
          CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME, CLOCK_TAI)
TIMER_CLOCKS = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI)
TFD_CLOCKS = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME)

#: Every callback fired, per host: (namespace, true time, overrun or sleep clock reading).
FIRED: dict[int, list[tuple[Any, ...]]] = defaultdict(list)


def _on_timer(timer: Any, overrun: int) -> None:
    FIRED[id(timer.ns.host)].append((timer.ns.name, str(timer.ns.host.true_time), overrun))


def _on_wake(sleeper: Any) -> None:
    FIRED[id(sleeper.ns.host)].append((sleeper.ns.name, str(sleeper.ns.host.true_time),
                                       sleeper.woke_ns))


register_callback("test.on_timer", _on_timer)
register_callback("test.on_wake", _on_wake)

# -- building a random host ------------------------------------------------------------------

NAMESPACE_KINDS = ("lazy", "periodic", "dilated", "offsets", "offsets-entered")


@st.composite
def hosts(draw: st.DrawFn) -> dict[str, Any]:
    """A host recipe (built twice: once to run, once never, so the recipe is plain data)."""
    return {
        "hz": draw(st.sampled_from([100, 250, 1000])),
        "error_ppm": draw(st.integers(-50, 50)),
        "irq_cost_ns": draw(st.sampled_from([0, 0, 2500])),
        "expiry_cost_ns": draw(st.sampled_from([0, 0, 700])),
        "program_latency_ns": draw(st.sampled_from([0, 0, 3000])),
        "record_lateness": draw(st.booleans()),
        "namespaces": draw(st.lists(st.sampled_from(NAMESPACE_KINDS), min_size=1, max_size=4)),
    }


def build(recipe: dict[str, Any]) -> Host:
    cs = Clocksource(1_000_000_000, error_ppm=recipe["error_ppm"], seed=1)
    host = Host(clocksource=cs, hz=recipe["hz"], realtime_ns=1_700_000_000 * NS,
                monotonic_ns=5 * NS, irq_cost_ns=recipe["irq_cost_ns"],
                expiry_cost_ns=recipe["expiry_cost_ns"],
                program_latency_ns=recipe["program_latency_ns"],
                record_lateness=recipe["record_lateness"])
    for i, kind in enumerate(recipe["namespaces"]):
        name = f"n{i}"
        if kind.startswith("offsets"):
            ns = host.create_namespace(name, model="offsets")
            ns.set_offsets(monotonic_ns=(i + 1) * 7 * NS, boottime_ns=(i + 1) * 11 * NS)
            if kind == "offsets-entered":
                ns.spawn()
        else:
            host.create_namespace(name, update="lazy" if kind == "dilated" else kind,
                                  dilation=3 if kind == "dilated" else 1)
    return host


# -- steps -----------------------------------------------------------------------------------


def steps(n_namespaces: int) -> st.SearchStrategy[tuple[Any, ...]]:
    names = st.sampled_from(["root"] + [f"n{i}" for i in range(n_namespaces)])
    return st.one_of(
        st.tuples(st.just("run"), st.integers(1, 400 * MS)),
        st.tuples(st.just("suspend"), st.integers(0, 2 * NS)),
        st.tuples(st.just("timer"), names, st.sampled_from(TIMER_CLOCKS),
                  st.integers(1, 300 * MS), st.sampled_from([0, 0, 1 * MS, 7 * MS, 90 * MS]),
                  st.booleans()),
        st.tuples(st.just("timerfd"), names, st.sampled_from(TFD_CLOCKS),
                  st.integers(1, 300 * MS), st.sampled_from([0, 3 * MS, 40 * MS]),
                  st.booleans()),
        st.tuples(st.just("sleep"), names, st.sampled_from(TIMER_CLOCKS),
                  st.integers(1, 500 * MS)),
        st.tuples(st.just("read"), names, st.integers(0, 10)),
        st.tuples(st.just("cancel"), names, st.integers(0, 10)),
        st.tuples(st.just("slew"), names, st.integers(-50 * MS, 50 * MS)),
        st.tuples(st.just("settime"), names, st.integers(-3 * NS, 3 * NS)),
    )


def apply(host: Host, step: tuple[Any, ...]) -> Any:
    kind, *args = step
    if kind == "run":
        host.run_for(args[0])
        return None
    if kind == "suspend":
        host.suspend_for(args[0])
        return None
    ns = host.namespaces[args[0]]
    try:
        return _call(ns, kind, args[1:])
    except OSError as err:
        return ("errno", err.errno)


def _call(ns: Any, kind: str, args: list[Any]) -> Any:
    if kind == "timer":
        clockid, value, interval, absolute = args
        t = ns.timer_create(clockid, _on_timer)
        if absolute:
            value += ns.clock_gettime_ns(clockid)
        return t.settime(value, interval, absolute=absolute)
    if kind == "timerfd":
        clockid, value, interval, cancel = args
        fd = ns.timerfd_create(clockid)
        absolute = cancel and clockid == CLOCK_REALTIME
        if absolute:
            value += ns.clock_gettime_ns(clockid)
        return fd.settime(value, interval, absolute=absolute, cancel_on_set=cancel)
    if kind == "sleep":
        ns.clock_nanosleep(args[0], args[1], callback=_on_wake)
        return None
    handles = list(ns.live_timer_handles().values())
    if kind in ("read", "cancel"):
        if not handles:
            return None
        h = handles[args[0] % len(handles)]
        if kind == "cancel":
            return _cancel(h)
        if hasattr(h, "read"):
            return h.read()
        return h.gettime() if hasattr(h, "gettime") else h.done
    if kind == "slew":
        if not hasattr(ns, "tk"):
            return None
        return ns.adjtimex(Timex(modes=ADJ_OFFSET | ADJ_STATUS | ADJ_TIMECONST | ADJ_NANO,
                                 offset=args[0], status=STA_PLL, constant=2))
    now = ns.clock_gettime_ns(CLOCK_REALTIME)
    return ns.clock_settime_ns(CLOCK_REALTIME, max(0, now + args[0]))


def _cancel(h: Any) -> Any:
    if hasattr(h, "delete"):
        return h.delete()
    if hasattr(h, "close"):
        return h.close()
    return h.interrupt()


def readings(host: Host) -> list[Any]:
    out: list[Any] = [str(host.true_time), dataclasses.asdict(host.stats),
                      dataclasses.asdict(host.clockevent.stats), host.clockevent.min_delta_ns]
    if host.lateness is not None:
        out.append(host.lateness.as_dict())
    for ns in host.namespaces.values():
        out.append([ns.clock_gettime_ns(c) for c in CLOCKS])
    return out


@st.composite
def runs(draw: st.DrawFn) -> tuple[dict[str, Any], list[Any], int]:
    recipe = draw(hosts())
    plan = draw(st.lists(steps(len(recipe["namespaces"])), min_size=2, max_size=25))
    cut = draw(st.integers(0, len(plan)))
    return recipe, plan, cut


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_a_restored_host_continues_bit_for_bit(run: tuple[dict[str, Any], list[Any], int]) -> None:
    recipe, plan, cut = run
    original = build(recipe)
    for step in plan[:cut]:
        apply(original, step)
    text = dumps(checkpoint_host(original))
    restored = restore_host(loads(text))
    assert dumps(checkpoint_host(restored)) == text  # the restore itself loses nothing
    FIRED[id(original)].clear()
    FIRED[id(restored)].clear()
    assert readings(restored) == readings(original)
    for step in [*plan[cut:], ("run", 2 * NS)]:
        assert apply(restored, step) == apply(original, step)
        assert readings(restored) == readings(original)
    assert FIRED.pop(id(restored)) == FIRED.pop(id(original))
    assert dumps(checkpoint_host(restored)) == dumps(checkpoint_host(original))


# -- the interrupt the original had programmed -----------------------------------------------


def _near_deadline_host(irq_cost_ns: int) -> Host:
    """A timer 500 ns away: the device (min_delta 1 µs) is programmed for now + 1 µs."""
    host = Host(clocksource=Clocksource(1_000_000_000, seed=1), hz=250, irq_cost_ns=irq_cost_ns,
                realtime_ns=1_700_000_000 * NS)
    host.run_for(3 * MS)
    host.root.timer_create(CLOCK_MONOTONIC, _on_timer).settime(500)
    host.run_for(200)  # dump between programming and firing
    return host


def test_a_clamped_event_fires_where_the_original_programmed_it() -> None:
    """Re-programming at restore would clamp from the restore instant (1.2 µs, not 1 µs)."""
    for cost in (0, 2500):
        original = _near_deadline_host(cost)
        restored = restore_host(loads(dumps(checkpoint_host(original))))
        for host in (original, restored):
            FIRED[id(host)].clear()
            host.run_for(5 * MS)
        fired = FIRED.pop(id(original))
        assert fired == FIRED.pop(id(restored))
        # the interrupt at 3 ms + 1 µs (then its cost), as programmed before the dump
        assert fired[0][1] == str(mpq(3_001_000 + cost, NS))
        assert readings(restored) == readings(original)


def test_an_escalated_min_delta_and_device_counters_are_carried() -> None:
    """A device slower to program than its min_delta escalates it; the restore keeps that."""
    host = Host(clocksource=Clocksource(1_000_000_000, seed=1), hz=1000,
                program_latency_ns=3000, irq_cost_ns=2500)
    for i in range(20):
        host.root.timer_create(CLOCK_MONOTONIC, _on_timer).settime(1 + i * 700, 900)
    host.run_for(2 * MS)
    assert host.clockevent.stats.escalations > 0
    restored = restore_host(loads(dumps(checkpoint_host(host))))
    assert restored.clockevent.min_delta_ns == host.clockevent.min_delta_ns > 1000
    assert dataclasses.asdict(restored.clockevent.stats) == dataclasses.asdict(
        host.clockevent.stats)
    for h in (host, restored):
        h.run_for(20 * MS)
    assert readings(restored) == readings(host)
    assert dumps(checkpoint_host(restored)) == dumps(checkpoint_host(host))
