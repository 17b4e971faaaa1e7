"""A slewing advance adds all its whole ticks in one sum, bit for bit as the chunk loop.

`Timekeeper.accumulate_whole_ticks` replaces the kernel's `logarithmic_accumulation` chunks of
an advance whose NTP state is not quiet (phase slew, adjtime, a new tick length, a pending
leap), or that is shorter than two seconds, by one sum, then runs the same `second_overflow`
calls.  The same random sequence of
adjtimex calls (PLL, FLL and nanosecond offsets, frequency, tick, status and leap flags, time
constant, adjtime) and runs, with and without it (`Timekeeper.bulk_quiet` False runs the
kernel's loop literally), must leave every host in the same checkpointed state and every
reading and adjtimex readback equal, for every modelled kernel's behaviour.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bulk_accumulation import CLOCKS, NSEC, _call, _readback

from ntp import (
    ADJ_FREQUENCY,
    ADJ_NANO,
    ADJ_OFFSET,
    ADJ_STATUS,
    ADJ_TICK,
    ADJ_TIMECONST,
    STA_DEL,
    STA_FLL,
    STA_INS,
    STA_NANO,
    STA_PLL,
    Timex,
)
from ntp.timex import ADJ_OFFSET_SINGLESHOT
from tk_core import (
    Clocksource,
    Host,
)
from tk_core.checkpoint import checkpoint_host, dumps
from tk_core.timekeeper import Timekeeper

STATUS = st.sampled_from([STA_PLL, STA_PLL | STA_FLL, STA_PLL | STA_NANO, STA_PLL | STA_INS,
                          STA_PLL | STA_DEL, STA_PLL | STA_FLL | STA_NANO, STA_INS, 0])

# (modes, {field: value}): a fresh Timex per call, since adjtimex fills the one it is given
ntp_call = st.one_of(
    st.tuples(st.just(ADJ_STATUS), st.builds(lambda s: {"status": s}, STATUS)),
    st.tuples(st.just(ADJ_OFFSET), st.builds(lambda o: {"offset": o},
                                             st.integers(-500_000, 500_000))),
    st.tuples(st.just(ADJ_OFFSET | ADJ_NANO | ADJ_STATUS),
              st.builds(lambda o, s: {"offset": o, "status": s | STA_NANO},
                        st.integers(-500_000_000, 500_000_000), STATUS)),
    st.tuples(st.just(ADJ_FREQUENCY), st.builds(lambda f: {"freq": f},
                                                st.integers(-500 << 16, 500 << 16))),
    st.tuples(st.just(ADJ_TICK), st.builds(lambda t: {"tick": t}, st.integers(9_990, 10_010))),
    st.tuples(st.just(ADJ_TIMECONST), st.builds(lambda c: {"constant": c},
                                                st.integers(0, 10))),
    st.tuples(st.just(ADJ_OFFSET_SINGLESHOT), st.builds(lambda o: {"offset": o},
                                                        st.integers(-900_000, 900_000))),
)
step = st.one_of(
    st.tuples(st.just("run"), st.integers(0, 5 * NSEC)),
    st.tuples(st.just("run"), st.integers(0, 120 * NSEC)),
    st.tuples(st.just("ntp"), st.integers(0, 2), ntp_call),
)


def _run(program: list[Any], hz: int, ppm: int, kernel: str, start: int,
         bulk: bool) -> tuple[str, list[Any]]:
    saved = Timekeeper.bulk_quiet
    Timekeeper.bulk_quiet = bulk
    try:
        host = Host(clocksource=Clocksource(1_000_000_000, 64, error_ppm=ppm), hz=hz,
                    realtime_ns=start * NSEC, kernel_version=kernel)
        spaces = [host.create_namespace("lazy"),
                  host.create_namespace("periodic", update="periodic"),
                  host.create_namespace("slow", dilation=3)]
        seen: list[Any] = []
        for op in program:
            if op[0] == "run":
                host.run_for(op[1])
            else:
                modes, fields = op[2]
                tx = Timex(modes=modes, **fields)
                seen.append(_call(lambda ns=spaces[op[1]], tx=tx: ns.adjtimex(tx)))
            seen.append([[ns.clock_gettime_ns(c) for c in CLOCKS] for ns in spaces])
            seen.append([_readback(ns) for ns in spaces])
        return dumps(checkpoint_host(host)), seen
    finally:
        Timekeeper.bulk_quiet = saved


#: a start a few minutes before a UTC midnight, so leap flags reach their boundary
NEAR_MIDNIGHT = 1_483_228_800 - 200


@settings(max_examples=8, deadline=None)
@given(st.lists(step, max_size=12), st.sampled_from([100, 250, 1000]), st.integers(-300, 300),
       st.sampled_from(["6.8", "6.17", "7.3"]),
       st.sampled_from([NEAR_MIDNIGHT, 1_483_228_800 + 1_234]))
def test_whole_tick_sums_equal_the_kernel_loop(program: list[Any], hz: int, ppm: int,
                                               kernel: str, start: int) -> None:
    fast = _run(program, hz, ppm, kernel, start, bulk=True)
    assert fast == _run(program, hz, ppm, kernel, start, bulk=False)


@pytest.mark.pure_only(reason="counts calls through a monkeypatched method")
def test_a_slewing_minute_takes_the_sum(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sum is taken while NTP slews (so the property above compares two paths), and a
    leap inserted on the way lands the same."""
    calls: list[int] = []
    real = Timekeeper.accumulate_whole_ticks

    def counted(self: Timekeeper, offset: int) -> int:
        calls.append(offset)
        return real(self, offset)

    monkeypatch.setattr(Timekeeper, "accumulate_whole_ticks", counted)
    program: list[Any] = [
        ("ntp", 0, (ADJ_STATUS, {"status": STA_PLL | STA_INS})),
        ("ntp", 2, (ADJ_STATUS, {"status": STA_PLL | STA_INS})),
        ("ntp", 0, (ADJ_OFFSET, {"offset": 300_000})),
        ("ntp", 2, (ADJ_OFFSET, {"offset": -200_000})),
        ("run", 210 * NSEC),
    ]
    fast = _run(program, 100, 11, "6.17", NEAR_MIDNIGHT, bulk=True)
    assert len(calls) > 200
    slow = _run(program, 100, 11, "6.17", NEAR_MIDNIGHT, bulk=False)
    assert fast == slow
    realtime_minus_mono = [r[0] - r[1] for r in fast[1][-2]]
    first = [r[0] - r[1] for r in fast[1][10]]
    # the leap took one second off REALTIME − MONOTONIC where it was armed; the dilated
    # namespace is still short of its midnight
    assert [a - b for a, b in zip(first, realtime_minus_mono, strict=True)] == [NSEC, 0, 0]
