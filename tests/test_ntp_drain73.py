"""Linux 7.3: the PLL offset and the adjtime remainder drain every interval (ntp.drain).

The expected readbacks come from a small model in this file, written from the 7.3.4 formulas
(ntp.c `second_overflow`, `ntp_transfer_offset_adjust`, `ntp_drain_time_adjust`,
`ntp_drain_time_offset`, `ntp_adjtimex`; timekeeping.c `timekeeping_adjust`,
`logarithmic_accumulation`) in plain integers.  It never calls the engine.  The clock is a 1 GHz
counter, so a tick is exactly 1/HZ s of counter and the base mult is exact; the slew still moves
the second boundaries, which the model follows through its own mult and ntp_error.
"""

from __future__ import annotations

import pytest

from ntp import (
    ADJ_NANO,
    ADJ_OFFSET,
    ADJ_STATUS,
    ADJ_TIMECONST,
    STA_NANO,
    STA_PLL,
    Timex,
)
from ntp.timex import ADJ_MICRO, ADJ_OFFSET_SINGLESHOT, ADJ_OFFSET_SS_READ
from tk_core import Clocksource, Host

NSEC = 1_000_000_000
U = 1 << 32
ONE_US = 1000 * U
START = 1_700_000_000 * NSEC


def sgn(x: int) -> int:
    return -1 if x < 0 else 1


def cdiv(a: int, b: int) -> int:
    """C division of a by a positive b (toward zero)."""
    return -((-a) // b) if a < 0 else a // b


def sym_shift(x: int, n: int) -> int:
    return -((-x) >> n) if x < 0 else x >> n


class Model:
    """One 7.3 timekeeper with its NTP data, one interval per tick, from the formulas."""

    def __init__(self, hz: int) -> None:
        self.hz = hz
        self.shift = 23  # the 1 GHz clocksource: mult 2^23
        self.es = 32 - self.shift
        self.ci = NSEC // hz
        self.mult = 1 << self.shift
        self.tick = ((10_000 * 1000 * 100) << 32) // hz  # tick_usec 10000, USER_HZ 100, exact
        self.cached_tick = self.ci * self.mult << self.es
        self.t = self.a = self.f = 0
        self.tc = 2
        self.skew = self.cached = 0
        self.err = self.err_mult = 0
        self.xnsec = 0
        self.maxtick = 500_000 * U // hz

    # --- ntp.c ---------------------------------------------------------------------------
    def new_second(self) -> None:
        if not (self.t or self.a or self.f):
            self.skew = 0
            return
        off = sym_shift(self.t, 2 + self.tc) or self.t
        adj = 0
        if self.a or self.f:
            whole = min(max(self.a, -500), 500)
            total = whole * ONE_US + (0 if abs(self.a) >= 500 else self.f)
            adj = cdiv(total, self.hz) or (-1 if self.f < 0 else 1)
        if off and adj and sgn(off) != sgn(adj):
            c = sgn(off) * min(abs(off), abs(adj), abs(self.t))
            self.t -= c
            self.f += c * self.hz
            q = cdiv(self.f, ONE_US)
            self.a += q
            self.f -= q * ONE_US
            if self.a > 0 and self.f < 0:
                self.a, self.f = self.a - 1, self.f + ONE_US
            if self.a < 0 and self.f > 0:
                self.a, self.f = self.a + 1, self.f - ONE_US
        net = off + adj
        self.skew = cdiv(net, self.hz) or (sgn(net) if net else 0)

    def drain(self, s: int) -> int:
        """One interval at skew s; returns what was drained (OU)."""
        if not s:
            return 0
        claimed = 0
        ref = self.a if self.a else self.f
        if ref and sgn(ref) == sgn(s):
            want = min(abs(s) * self.hz, self.maxtick)
            short = want - abs(self.f)
            if short > 0 and self.a:
                take = min((short + ONE_US - 1) // ONE_US, abs(self.a))
                self.f += sgn(self.a) * take * ONE_US
                self.a -= sgn(self.a) * take
            got = min(want, abs(self.f))
            self.f -= sgn(self.f) * got
            claimed = got // self.hz
        rest = s - sgn(s) * claimed
        if rest == 0 or sgn(rest) != sgn(self.t):
            return s - rest
        if abs(rest) > abs(self.t):
            left = rest - self.t
            self.t = 0
            return s - left
        self.t -= rest
        return s

    # --- timekeeping.c -------------------------------------------------------------------
    def interval(self) -> None:
        self.xnsec += self.ci * self.mult
        if self.xnsec >= NSEC << self.shift:
            self.xnsec -= NSEC << self.shift
            self.new_second()
        drained = self.drain(self.cached)
        self.err += self.cached_tick - ((self.ci * self.mult) << self.es) + drained * self.hz
        if (self.cached_tick, self.cached) != (self.tick, self.skew):
            self.cached_tick, self.cached = self.tick, self.skew
            mult = ((self.tick + self.skew * self.hz) >> self.es) // self.ci
        else:
            mult = self.mult - self.err_mult
        self.err_mult = 1 if self.err > 0 else 0
        self.mult = mult + self.err_mult  # the tick lands on the grid: no xtime correction

    # --- adjtimex ------------------------------------------------------------------------
    def set_offset(self, offset: int, nano: bool, constant: int) -> None:
        self.tc = min(max(constant, 0), 10) + (0 if nano else 4)
        ns = offset if nano else offset * 1000
        self.t = cdiv(ns * U, self.hz)

    def offset_readback(self, nano: bool) -> int:
        ns = sym_shift(self.t * self.hz, 32)
        return ns if nano else cdiv(ns, 1000)

    def singleshot(self, usec: int) -> int:
        old, self.a, self.f = self.a, usec, 0
        return old


def host_and_ns(hz: int) -> tuple[Host, object]:
    host = Host(clocksource=Clocksource(NSEC, 64), hz=hz, realtime_ns=START, kernel_version="7.3")
    return host, host.create_namespace("p", update="periodic")


def sequence(hz: int, call: Timex, apply: object, read: object, seconds: int = 6):
    """Readbacks of engine and model every half second from 0.3 s after a call at 0.3 s."""
    host, ns = host_and_ns(hz)
    model = Model(hz)
    ci = model.ci
    got, want = [], []
    done = 0
    half = ci // 2
    for k in range(2 * seconds + 1):
        t = (3 * NSEC) // 10 + k * NSEC // 2 + half
        host.run_for(t - host.true_ns)
        n = t // ci
        for _ in range(n - done):
            model.interval()
        done = n
        if k == 0:
            ns.adjtimex(call.copy())  # type: ignore[attr-defined]
            apply(model)  # type: ignore[operator]
            continue
        g, w = read(ns, model)  # type: ignore[operator]
        got.append(g)
        want.append(w)
    return got, want


def pll_call(offset: int, nano: bool, constant: int) -> Timex:
    unit = ADJ_NANO if nano else ADJ_MICRO
    return Timex(modes=ADJ_STATUS | ADJ_OFFSET | ADJ_TIMECONST | unit, offset=offset,
                 status=STA_PLL | (STA_NANO if nano else 0), constant=constant)


def read_offset(nano: bool):
    def read(ns: object, model: Model) -> tuple[int, int]:
        tx = Timex()
        ns.adjtimex(tx)  # type: ignore[attr-defined]
        return tx.offset, model.offset_readback(nano)
    return read


def read_adjtime(ns: object, model: Model) -> tuple[int, int]:
    tx = Timex(modes=ADJ_OFFSET_SS_READ)
    ns.adjtimex(tx)  # type: ignore[attr-defined]
    return tx.offset, model.a


HZS = [100, 250, 1000]


@pytest.mark.parametrize("hz", HZS)
@pytest.mark.parametrize(("offset", "nano", "constant"), [
    (10_000_000, True, 0), (-3_333_333, True, 1), (100_000, False, 0), (-42_000, False, 2),
])
def test_pll_offset_readback_per_half_second(hz: int, offset: int, nano: bool,
                                             constant: int) -> None:
    """The PLL offset falls every interval; each readback matches the formulas to the unit."""
    got, want = sequence(
        hz, pll_call(offset, nano, constant),
        lambda m: m.set_offset(offset, nano, constant), read_offset(nano))
    assert got == want
    assert len(set(got)) > len(got) // 2  # it changes within seconds, not once per second


@pytest.mark.parametrize("hz", HZS)
@pytest.mark.parametrize("usec", [1250, -1250, 499, -77, 3])
def test_adjtime_remainder_readback_per_half_second(hz: int, usec: int) -> None:
    got, want = sequence(hz, Timex(modes=ADJ_OFFSET_SINGLESHOT, offset=usec),
                         lambda m: m.singleshot(usec), read_adjtime)
    assert got == want
    assert got[-1] == 0


@pytest.mark.parametrize("hz", HZS)
@pytest.mark.parametrize("nano", [True, False])
def test_opposing_pll_and_adjtime_settle(hz: int, nano: bool) -> None:
    """PLL +1 ms against adjtime −1000 µs: both trackers jump toward 0 at each boundary."""
    offset = 1_000_000 if nano else 1000

    def apply(m: Model) -> None:
        m.set_offset(offset, nano, 0)
        m.singleshot(-1000)

    host, ns = host_and_ns(hz)
    model = Model(hz)
    t0 = (3 * NSEC) // 10 + model.ci // 2
    host.run_for(t0)
    for _ in range(t0 // model.ci):
        model.interval()
    ns.adjtimex(pll_call(offset, nano, 0))  # type: ignore[attr-defined]
    ns.adjtimex(Timex(modes=ADJ_OFFSET_SINGLESHOT, offset=-1000))  # type: ignore[attr-defined]
    apply(model)
    done = t0 // model.ci
    seen = []
    for k in range(1, 13):
        t = t0 + k * NSEC // 2
        host.run_for(t - host.true_ns)
        for _ in range(t // model.ci - done):
            model.interval()
        done = t // model.ci
        g1, w1 = read_offset(nano)(ns, model)
        g2, w2 = read_adjtime(ns, model)
        seen.append((g1, g2))
        assert (g1, g2) == (w1, w2)
    assert seen[-1][0] < offset and seen[-1][1] > -1000


def test_worked_example_hz250_singleshot_1250() -> None:
    """The documented sequence: 1250, 1002, 750, 502, 250, 125, 0 (docs/adjtimex.md).

    Read just after each boundary interval and 124 intervals later (TSC-free 1 GHz clock, the
    boundary falls on interval 250·k, the call is made before the first one).
    """
    host, ns = host_and_ns(250)
    host.run_for(NSEC // 2)
    ns.adjtimex(Timex(modes=ADJ_OFFSET_SINGLESHOT, offset=1250))  # type: ignore[attr-defined]
    out = []
    for ms in (1002, 1498, 2002, 2498, 3002, 3498, 4002):
        host.run_for(ms * 1_000_000 - host.true_ns)
        tx = Timex(modes=ADJ_OFFSET_SS_READ)
        ns.adjtimex(tx)  # type: ignore[attr-defined]
        out.append(tx.offset)
    assert out == [1250, 1002, 750, 502, 250, 125, 0]


def _replay(hz: int, calls: dict[int, tuple[Timex, object]], reads: list[int],
            read: object) -> tuple[list[int], list[int]]:
    """Calls and reads at given ms (half-tick offsets chosen by the caller), engine and model."""
    host, ns = host_and_ns(hz)
    model = Model(hz)
    done = 0
    got, want = [], []
    for ms in sorted(set(calls) | set(reads)):
        t = ms * 1_000_000
        host.run_for(t - host.true_ns)
        for _ in range(t // model.ci - done):
            model.interval()
        done = t // model.ci
        if ms in calls:
            tx, apply = calls[ms]
            ns.adjtimex(tx.copy())  # type: ignore[attr-defined]
            apply(model)  # type: ignore[operator]
        if ms in reads:
            g, w = read(ns, model)  # type: ignore[operator]
            got.append(g)
            want.append(w)
    return got, want


@pytest.mark.parametrize("hz", HZS)
def test_adj_offset_replaced_in_mid_second_drains_at_the_old_rate(hz: int) -> None:
    """The cached skew keeps draining the new T until the next boundary (e.g. HZ 250: 8750000,
    then +4 ms drains to 2760000 before the boundary and 2750000 after it)."""
    calls = {500: (pll_call(10_000_000, True, 0), lambda m: m.set_offset(10_000_000, True, 0)),
             1502: (Timex(modes=ADJ_OFFSET | ADJ_NANO, offset=4_000_000),
                    lambda m: m.set_offset(4_000_000, True, 0))}
    got, want = _replay(hz, calls, [1502, 1998, 2002, 2502, 3002], read_offset(True))
    assert got == want


@pytest.mark.parametrize("hz", HZS)
@pytest.mark.parametrize("usec", [100, -100])
def test_singleshot_replaced_in_mid_second(hz: int, usec: int) -> None:
    """+100 is used up within the current second; −100 waits for the next boundary."""
    calls = {500: (Timex(modes=ADJ_OFFSET_SINGLESHOT, offset=1250), lambda m: m.singleshot(1250)),
             1502: (Timex(modes=ADJ_OFFSET_SINGLESHOT, offset=usec), lambda m: m.singleshot(usec))}
    got, want = _replay(hz, calls, [1602, 1702, 1998, 2002, 2502, 2998, 3002], read_adjtime)
    assert got == want
    assert got[-1] == 0
