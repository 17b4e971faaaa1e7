"""Linux 7.3 drain: version gating, lazy against periodic, and the invariants that must still hold.

Readbacks are compared half an interval after a tick, where a periodic namespace and a lazy one
(which accumulates up to the read) have accumulated the same intervals.
"""

from __future__ import annotations

import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ntp import (
    ADJ_NANO,
    ADJ_OFFSET,
    ADJ_STATUS,
    ADJ_TIMECONST,
    STA_NANO,
    STA_PLL,
    KernelBehaviour,
    Timex,
)
from ntp.timex import ADJ_FREQUENCY, ADJ_OFFSET_SINGLESHOT, ADJ_OFFSET_SS_READ, ADJ_TICK
from tk_core import CLOCK_MONOTONIC, CLOCK_REALTIME, Clocksource, Host
from tk_core.checkpoint._format import _digest

NSEC = 1_000_000_000
START = 1_650_000_000 * NSEC

OLD = ["6.1", "6.1.192", "6.12.117", "7.2", "7.2.9", None, "mainline", "5.10"]
NEW = ["7.3", "7.3.4", "7.3.4-1~bpo13+1", "7.4", "8.0"]


@pytest.mark.parametrize("version", OLD + NEW)
def test_version_gating(version: str | None) -> None:
    assert KernelBehaviour.from_version(version).ntp_skew_drain == (version in NEW)


def _offset_reads(version: str | None, hz: int = 250) -> list[int]:
    host = Host(clocksource=Clocksource(NSEC, 64), hz=hz, realtime_ns=START,
                kernel_version=version)
    ns = host.create_namespace("p", update="periodic")
    host.run_for(NSEC // 10)
    ns.adjtimex(Timex(modes=ADJ_STATUS | ADJ_OFFSET | ADJ_NANO | ADJ_TIMECONST,
                      status=STA_PLL | STA_NANO, offset=10_000_000, constant=0))
    out = []
    for k in range(1, 9):
        host.run_for(NSEC // 10 + k * NSEC // 4 + NSEC // hz // 2 - host.true_ns)
        tx = Timex()
        ns.adjtimex(tx)
        out.append(tx.offset)
    return out


@pytest.mark.parametrize("version", ["6.1", "6.12.117", "7.2"])
def test_old_versions_step_once_per_second(version: str) -> None:
    """6.1–7.2: the phase offset moves only at second_overflow, by 1/4 (tc 0) each time.

    Expected from the 6.x formula (T −= shift_right(T, 2) per second), read four times a
    second: 10 ms, then 7.5 ms, 5.625 ms, 4.21875 ms, each held for a second.
    """
    reads = _offset_reads(version)
    t = (10_000_000 << 32) // 250
    want = []
    for k in range(1, 9):
        seconds = (NSEC // 10 + k * NSEC // 4) // NSEC  # boundaries passed at 1 s, 2 s
        tk = t
        for _ in range(seconds):
            tk -= tk >> 2
        want.append((tk * 250) >> 32)
    assert reads == want


@pytest.mark.parametrize("version", ["7.3", "7.3.4"])
def test_7_3_drains_within_the_second(version: str) -> None:
    reads = _offset_reads(version)
    assert reads[:3] == [10_000_000] * 3  # up to the first boundary nothing drains (skew 0)
    after = reads[3:]  # 1.1 s, 1.35 s, ...: smaller at every reading, within the seconds too
    assert all(a > b for a, b in zip([10_000_000, *after], after, strict=False))


def twins(hz: int, error_ppm: int, version: str = "7.3.4",
          freq: int = 3_000_000_000) -> tuple[Host, object, object]:
    host = Host(clocksource=Clocksource(freq, 64, error_ppm=error_ppm), hz=hz,
                realtime_ns=START, kernel_version=version)
    return host, host.create_namespace("L"), host.create_namespace("P", update="periodic")


def both(nss: tuple[object, ...], make: object) -> list[Timex]:
    out = []
    for ns in nss:
        tx = make()  # type: ignore[operator]
        ns.adjtimex(tx)  # type: ignore[attr-defined]
        out.append(tx)
    return out


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("pll"), st.integers(-400_000_000, 400_000_000), st.integers(0, 3)),
        st.tuples(st.just("adjtime"), st.integers(-3000, 3000), st.just(0)),
        st.tuples(st.just("freq"), st.integers(-400, 400), st.just(0)),
    ),
    min_size=1,
    max_size=3,
)


def make(op: tuple[str, int, int]) -> object:
    kind, value, tc = op
    if kind == "pll":
        return lambda: Timex(modes=ADJ_STATUS | ADJ_OFFSET | ADJ_NANO | ADJ_TIMECONST,
                             status=STA_PLL | STA_NANO, offset=value, constant=tc)
    if kind == "adjtime":
        return lambda: Timex(modes=ADJ_OFFSET_SINGLESHOT, offset=value)
    return lambda: Timex(modes=ADJ_FREQUENCY, freq=value << 16)


def reads(ns: object) -> tuple[int, int]:
    a, b = Timex(), Timex(modes=ADJ_OFFSET_SS_READ)
    ns.adjtimex(a)  # type: ignore[attr-defined]
    ns.adjtimex(b)  # type: ignore[attr-defined]
    return a.offset, b.offset


@settings(max_examples=12, deadline=None)
@given(st.sampled_from([100, 250, 1000]), st.integers(-20, 20), OPS,
       st.lists(st.integers(1, 3 * NSEC), min_size=2, max_size=5))
def test_lazy_twin_within_bound(hz: int, error_ppm: int, ops: list[tuple[str, int, int]],
                                gaps: list[int]) -> None:
    """Lazy and periodic: the same trackers (up to one interval's drain) and clocks ≤ ~bound."""
    host, lazy, periodic = twins(hz, error_ppm)
    interval_ns = NSEC // hz
    host.run_for(interval_ns // 2)
    for op, gap in zip(ops + ops[-1:] * len(gaps), gaps, strict=False):
        both((lazy, periodic), make(op))
        host.run_for(gap - gap % interval_ns)  # stay half an interval past a tick
        (lo, la), (po, pa) = reads(lazy), reads(periodic)
        # one interval of a tc-0 chunk; the chunk is a quarter of the offset at the last
        # second boundary, which is at most 4/3 of what is left now
        assert abs(lo - po) <= abs(po) * 4 // 3 // (4 * hz) + 2
        assert abs(la - pa) <= (500 // hz) + 1  # one interval at the 500 µs/s cap
        for clock in (CLOCK_REALTIME, CLOCK_MONOTONIC):
            d = lazy.clock_gettime_ns(clock) - periodic.clock_gettime_ns(clock)  # type: ignore[attr-defined]
            assert abs(d) <= 100 + 2 * (500 // hz + 1) * 1000  # bound, or one interval's slew


@pytest.mark.parametrize("hz", [100, 250, 1000])
def test_lazy_twin_bit_exact_readbacks(hz: int) -> None:
    """HZ dividing the adjtime cap: the lazy trackers equal the periodic ones exactly.

    On a 1 GHz counter the namespace's interval grid coincides with the host tick, so between
    ticks both have accumulated the same intervals.  (A lazy read accumulates only to the last
    tick boundary, so on a grid that ends a few cycles after the host tick it does not include
    the interval whose tick has not run either.)
    """
    host, lazy, periodic = twins(hz, 0, freq=NSEC)
    host.run_for(NSEC // hz // 2)
    both((lazy, periodic), make(("pll", 3_000_000, 0)))
    both((lazy, periodic), make(("adjtime", 1700, 0)))
    for _ in range(12):
        host.run_for(NSEC // 2)
        assert reads(lazy) == reads(periodic)
        assert lazy.tk.ntp.time_adjust_frac == periodic.tk.ntp.time_adjust_frac  # type: ignore[attr-defined]


@pytest.mark.parametrize("hz", [100, 1000])
def test_pll_remnant_drains_to_zero_and_the_clock_goes_quiet(hz: int) -> None:
    """7.3 drains the last remnant in one second (6.x keeps it forever); then no more hooks."""
    host, lazy, periodic = twins(hz, 3)
    both((lazy, periodic), make(("pll", 2_000_000, 0)))
    host.run_for(200 * NSEC)
    assert lazy.tk.ntp.time_offset == periodic.tk.ntp.time_offset == 0  # type: ignore[attr-defined]
    hooks = host.stats.lazy_hooks
    host.run_for(300 * NSEC)
    assert host.stats.lazy_hooks - hooks <= 3  # was a few per second while draining
    old, lazy_old, _ = twins(hz, 3, "7.2")
    both((lazy_old,), make(("pll", 2_000_000, 0)))
    old.run_for(200 * NSEC)
    assert lazy_old.tk.ntp.time_offset != 0  # type: ignore[attr-defined]


def test_quiet_7_3_clock_takes_no_hooks() -> None:
    host, lazy, _ = twins(250, 7)
    host.run_for(5 * NSEC)
    hooks = host.stats.lazy_hooks
    host.run_for(600 * NSEC)
    assert host.stats.lazy_hooks - hooks <= 2
    assert not lazy.tk.ntp.needs_per_second_hook()  # type: ignore[attr-defined]


@settings(max_examples=10, deadline=None)
@given(OPS, st.integers(1, 4 * NSEC), st.sampled_from(["lazy", "periodic"]))
def test_clocks_monotonic_while_draining(ops: list[tuple[str, int, int]], step: int,
                                         update: str) -> None:
    host = Host(hz=250, realtime_ns=START, kernel_version="7.3")
    ns = host.create_namespace("n", update=update)
    last = ns.clock_gettime_ns(CLOCK_MONOTONIC)
    for op in ops:
        ns.adjtimex(make(op)())  # type: ignore[operator]
        for _ in range(6):
            host.run_for(step // 6 + 1)
            now = ns.clock_gettime_ns(CLOCK_MONOTONIC)
            assert now >= last
            last = now


@settings(max_examples=10, deadline=None)
@given(OPS, st.integers(1, 3 * NSEC), st.sampled_from(["lazy", "periodic"]))
def test_failed_call_changes_nothing_while_draining(ops: list[tuple[str, int, int]], gap: int,
                                                    update: str) -> None:
    host = Host(hz=250, realtime_ns=START, kernel_version="7.3.4")
    ns = host.create_namespace("n", update=update)
    for op in ops:
        ns.adjtimex(make(op)())  # type: ignore[operator]
    host.run_for(gap)
    if update == "lazy":
        ns.accumulate()  # type: ignore[attr-defined]
    before = ns.tk.snapshot()  # type: ignore[attr-defined]
    user = ns.spawn()  # type: ignore[attr-defined]
    for tx in (Timex(modes=ADJ_TICK, tick=8999), Timex(modes=ADJ_OFFSET_SINGLESHOT, offset=5)):
        with pytest.raises(OSError) as err:
            ns.adjtimex(tx, creds=user.creds) if tx.modes & 0x8000 else ns.adjtimex(tx)  # type: ignore[attr-defined]
        assert err.value.errno in (errno.EINVAL, errno.EPERM)
    assert ns.tk.snapshot() == before  # type: ignore[attr-defined]


def _drop_drain_flag(doc: object) -> None:
    """Remove every ``ntp_skew_drain`` key, as in a document written before the flag."""
    if isinstance(doc, dict):
        doc.pop("ntp_skew_drain", None)
        for value in doc.values():
            _drop_drain_flag(value)
    elif isinstance(doc, list):
        for value in doc:
            _drop_drain_flag(value)


@pytest.mark.parametrize("version", ["7.3.4", "7.2"])
def test_checkpoint_mid_drain_continues_identically(version: str) -> None:
    host, lazy, periodic = twins(250, 4, version)
    both((lazy, periodic), make(("pll", 30_000_000, 1)))
    both((lazy, periodic), make(("adjtime", -1300, 0)))
    host.run_for(NSEC + NSEC // 3)
    doc = host.checkpoint()
    if version == "7.2":
        _drop_drain_flag(doc)  # an older document (re-signed) still loads, as 7.2
        doc["sha256"] = _digest(doc["kind"], doc["state"])
    copy = Host.restore(doc)
    for h in (host, copy):
        h.run_for(3 * NSEC)
    for name in ("L", "P"):
        a, b = host.namespaces[name], copy.namespaces[name]
        assert reads(a) == reads(b)
        assert a.clock_gettime_ns(CLOCK_REALTIME) == b.clock_gettime_ns(CLOCK_REALTIME)
        assert a.tk.ntp.behaviour.ntp_skew_drain == (version == "7.3.4")


@pytest.mark.parametrize("hz", [100, 250, 1000])
@pytest.mark.parametrize("op", [("pll", 50_000_000, 2), ("adjtime", 3000, 0),
                                ("adjtime", -3, 0)])
def test_lazy_drain_takes_a_few_hooks_per_second_not_one_per_tick(
        hz: int, op: tuple[str, int, int]) -> None:
    host, lazy, _ = twins(hz, 3)
    both((lazy,), make(op))
    hooks = host.stats.lazy_hooks
    host.run_for(10 * NSEC)
    assert host.stats.lazy_hooks - hooks <= 40  # boundary, the tick before it, rate changes


def test_second_overflow_drains_a_remnant_whose_chunk_is_zero() -> None:
    """7.3: off = shift_right(T, 2 + tc) = 0 → off = T, so skew ±1; 7.2 leaves T for ever."""
    from ntp.kernel import NtpState

    for version, skew in (("7.3", 1), ("7.2", 0)):
        st_ = NtpState(250, behaviour=KernelBehaviour.from_version(version))
        st_.time_offset, st_.time_constant = 3, 0
        base = st_.tick_length
        st_.second_overflow(100)
        assert st_.skew_delta == skew
        assert st_.time_offset == 3 and st_.tick_length == base
        st_.time_offset = -3
        st_.second_overflow(101)
        assert st_.skew_delta == -skew


@pytest.mark.parametrize("update", ["lazy", "periodic"])
def test_settime_mid_drain_clears_and_the_cached_skew_lasts_one_interval(update: str) -> None:
    """ntp_clear empties T, A, the drawer and NTP's skew; the timekeeper's copy goes next tick."""
    host = Host(clocksource=Clocksource(NSEC, 64), hz=250, realtime_ns=START,
                kernel_version="7.3")
    ns = host.create_namespace("n", update=update)
    ns.adjtimex(make(("adjtime", 2000, 0))())
    host.run_for(NSEC + NSEC // 3 + 2_000_000)
    if update == "lazy":
        ns.accumulate()
    tk = ns.tk
    assert tk.skew_delta != 0 and tk.ntp.time_adjust < 2000
    ns.clock_settime_ns(CLOCK_REALTIME, START + 50 * NSEC)
    assert (tk.ntp.time_adjust, tk.ntp.time_adjust_frac, tk.ntp.skew_delta) == (0, 0, 0)
    assert reads(ns) == (0, 0)
    assert tk.skew_delta != 0  # refreshed only by the next advance
    host.run_for(NSEC // 100)  # a lazy namespace planned that one advance itself
    assert ns.tk.skew_delta == 0
    hooks = host.stats.lazy_hooks
    host.run_for(100 * NSEC)
    assert host.stats.lazy_hooks - hooks <= 2
