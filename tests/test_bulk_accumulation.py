"""Quiet spans accumulate in closed form, bit for bit as the kernel's chunk-by-chunk loop.

`Timekeeper.accumulate_quiet_chunks` replaces a run of equal `logarithmic_accumulation`
chunks, and the quiet seconds they carry, by sums.  The same random sequence of NTP calls,
settime and runs, with and without it, must leave every host in the same checkpointed state
and every reading and adjtimex readback equal.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ntp import (
    ADJ_FREQUENCY,
    ADJ_MAXERROR,
    ADJ_OFFSET,
    ADJ_STATUS,
    ADJ_TICK,
    STA_INS,
    STA_PLL,
    Timex,
)
from ntp.kernel import NtpState
from ntp.timex import ADJ_OFFSET_SINGLESHOT
from tk_core import (
    CLOCK_BOOTTIME,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_COARSE,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME,
    CLOCK_REALTIME_COARSE,
    CLOCK_TAI,
    Clocksource,
    Host,
)
from tk_core.checkpoint import checkpoint_host, dumps
from tk_core.timekeeper import Timekeeper

NSEC = 1_000_000_000
CLOCKS = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI, CLOCK_MONOTONIC_RAW,
          CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE)

# (modes, field, value): a fresh Timex per call, since adjtimex fills the one it is given
ntp_call = st.one_of(
    st.tuples(st.just(ADJ_FREQUENCY), st.just("freq"), st.integers(-500 << 16, 500 << 16)),
    st.tuples(st.just(ADJ_OFFSET), st.just("offset"), st.integers(-400_000, 400_000)),
    st.tuples(st.just(ADJ_STATUS), st.just("status"), st.sampled_from([0, STA_PLL, STA_INS])),
    st.tuples(st.just(ADJ_OFFSET_SINGLESHOT), st.just("offset"), st.integers(-5000, 5000)),
    st.tuples(st.just(ADJ_TICK), st.just("tick"), st.integers(9_990, 10_010)),
    st.tuples(st.just(ADJ_MAXERROR), st.just("maxerror"), st.integers(0, 16_000_000)),
)
step = st.one_of(
    st.tuples(st.just("run"), st.integers(0, 300 * NSEC)),
    st.tuples(st.just("ntp"), st.integers(0, 2), ntp_call),
    st.tuples(st.just("settime"), st.integers(0, 2), st.integers(-10 * NSEC, 10 * NSEC)),
)


def _run(program: list[Any], hz: int, ppm: int, bulk: bool) -> tuple[str, list[Any]]:
    saved = Timekeeper.bulk_quiet
    Timekeeper.bulk_quiet = bulk
    try:
        host = Host(clocksource=Clocksource(1_000_000_000, 64, error_ppm=ppm), hz=hz,
                    realtime_ns=1_483_228_000 * NSEC)
        spaces = [host.create_namespace("lazy"), host.create_namespace("periodic",
                                                                       update="periodic"),
                  host.create_namespace("slow", dilation=3)]
        seen: list[Any] = []
        for op in program:
            if op[0] == "run":
                host.run_for(op[1])
            elif op[0] == "ntp":
                modes, name, value = op[2]
                tx = Timex(modes=modes, **{name: value})
                seen.append(_call(lambda ns=spaces[op[1]], tx=tx: ns.adjtimex(tx)))
            else:
                ns = spaces[op[1]]
                seen.append(_call(lambda ns=ns, d=op[2]: ns.clock_settime_ns(
                    CLOCK_REALTIME, ns.clock_gettime_ns(CLOCK_REALTIME) + d)))
            seen.append([[ns.clock_gettime_ns(c) for c in CLOCKS] for ns in spaces])
            seen.append([_readback(ns) for ns in spaces])
        return dumps(checkpoint_host(host)), seen
    finally:
        Timekeeper.bulk_quiet = saved


def _readback(ns: Any) -> str:
    tx = Timex()
    return f"{ns.adjtimex(tx)} {tx!r}"


def _call(fn: Any) -> Any:
    try:
        return repr(fn())
    except OSError as exc:
        return exc.errno


@settings(max_examples=25, deadline=None)
@given(st.lists(step, max_size=12), st.sampled_from([100, 250, 1000]), st.integers(-200, 200))
def test_closed_form_quiet_spans_equal_the_kernel_loop(program: list[Any], hz: int,
                                                       ppm: int) -> None:
    assert _run(program, hz, ppm, bulk=True) == _run(program, hz, ppm, bulk=False)


@pytest.mark.pure_only(reason="counts calls through a monkeypatched method")
def test_a_quiet_hour_is_accumulated_in_closed_form(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path is taken (so the property above compares two different paths): the
    quiet seconds are carried in closed form, not one `second_overflow` each."""
    seconds: list[int] = []
    real = NtpState.advance_quiet_seconds

    def counted(self: NtpState, count: int) -> None:
        seconds.append(count)
        real(self, count)

    monkeypatch.setattr(NtpState, "advance_quiet_seconds", counted)
    program = [("ntp", 0, (ADJ_FREQUENCY, "freq", 12 << 16)), ("run", 600 * NSEC)]
    fast = _run(program, 250, 7, bulk=True)
    assert sum(seconds) > 100
    assert fast == _run(program, 250, 7, bulk=False)
