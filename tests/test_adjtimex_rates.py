"""Clock rates and slews through namespaces: adjtick, freq-step, the PLL/FLL, adjtime(3).

Rates are measured the way the kernel selftests measure them (MONOTONIC against MONOTONIC_RAW,
or a namespace against an untouched twin created at the same instant) and compared with values
computed here from the kernel's formulas (tk_setup_internals, timekeeping_adjust, v4.19+,
ntp_update_offset, second_overflow, tools/testing/selftests/timers).

One kernel property shapes the slew checks: NTP adds its per-second phase/adjtime chunk to
*every accumulated tick* (cycle_interval) until the next ``second_overflow``, and that runs when
the disciplined clock's own second ends.  A clock slewed faster than nominal reaches its next
second after fewer than HZ ticks, so a second's chunk is applied slightly fewer than HZ times
(100 ms with time constant 0 is slewed as ≈98.6 ms in 60 s).  ``SlewModel`` integrates that
tick by tick with exact rationals; the engine must match it to within the tick phase (the
periodic tick runs up to one tick after the accumulation boundary) and the mult dither.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from gmpy2 import mpq

from ntp import (
    ADJ_FREQUENCY,
    ADJ_MICRO,
    ADJ_NANO,
    ADJ_OFFSET,
    ADJ_SETOFFSET,
    ADJ_STATUS,
    ADJ_TICK,
    ADJ_TIMECONST,
    STA_FLL,
    STA_FREQHOLD,
    STA_PLL,
    Timex,
)
from tk_core import CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME, Clocksource, Host

NSEC = 1_000_000_000
TSC = Clocksource(3_000_000_000, 64)
PPM_SCALE = 65_536_000
MAXFREQ_SCALED = 500_000 << 32
STA_MODE = 0x4000


def sr(x: int, s: int) -> int:
    """shift_right of linux/timex.h, written out: shift the magnitude, keep the sign."""
    return -((-x) >> s) if x < 0 else x >> s


def cdiv(a: int, b: int) -> int:
    """C division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def intervals(hz: int) -> tuple[int, int, int]:
    """tk_setup_internals: (cycle_interval, xtime_remainder, shift) of the 3 GHz TSC at this HZ."""
    mult, shift = TSC.mult, TSC.shift
    ntpinterval = (NSEC // hz) << shift
    ci = (ntpinterval + mult // 2) // mult
    return ci, ntpinterval - ci * mult, shift


def tick_length(hz: int, tick: int = 10_000, freq: int = 0, user_hz: int = 100) -> int:
    """ntp_update_frequency ntp_update_frequency with no slew running."""
    time_freq = max(-MAXFREQ_SCALED, min(MAXFREQ_SCALED, freq * PPM_SCALE))
    return (((tick * 1000 * user_hz) << 32) + time_freq) // hz


def mono_per_raw(hz: int, tl: int) -> mpq:
    """Exact long-run MONOTONIC/RAW ratio the v4.19+ steering converges to (timekeeping_adjust,
    v4.19+).

    Per accumulated tick the dithered mult makes MONOTONIC gain tick_length/2^32 ns minus the
    remainder, while RAW gains cycle_interval × mult (both in 2^-shift ns).
    """
    ci, rem, shift = intervals(hz)
    return (mpq(tl << shift, 1 << 32) - rem) / (ci * TSC.mult)


def freq_readback(time_freq: int) -> int:
    x = (time_freq >> 19) * ((1 << 51) // PPM_SCALE + 1)
    return sr(x, 32)


# --- adjtick.c --------------------------------------------------------------------------------

TICKS = list(range(9000, 11001, 250))


@pytest.mark.parametrize(
    ("hz", "update"), [(100, "lazy"), (250, "lazy"), (1000, "lazy"), (100, "periodic")]
)
def test_adjtick_rates(hz: int, update: str) -> None:
    """Lazy at every HZ; periodic at HZ 100 (1500 ticks per 15 s keeps the default run short)."""
    for tick in TICKS:
        h = Host(hz=hz, realtime_ns=1_600_000_000 * NSEC, monotonic_ns=100 * NSEC)
        ns = h.create_namespace("a", update=update)
        tx = Timex(
            modes=ADJ_TICK | ADJ_OFFSET | ADJ_FREQUENCY | ADJ_STATUS,
            status=STA_PLL,
            offset=0,
            freq=0,
            tick=tick,
        )
        ns.adjtimex(tx)
        assert (tx.offset, tx.freq, tx.tick) == (0, 0, tick)
        h.run_for(NSEC // 2)
        m0, r0 = ns.clock_gettime_ns(CLOCK_MONOTONIC), ns.clock_gettime_ns(CLOCK_MONOTONIC_RAW)
        h.run_for(15 * NSEC)
        m1, r1 = ns.clock_gettime_ns(CLOCK_MONOTONIC), ns.clock_gettime_ns(CLOCK_MONOTONIC_RAW)
        ppm = (mpq(m1 - m0, r1 - r0) - 1) * 10**6
        selftest = mpq(tick * 10**6, 10_000) - 10**6
        assert abs(ppm - selftest) <= 1, (tick, float(ppm))  # kernel's test allows 100
        exact = (mono_per_raw(hz, tick_length(hz, tick)) - 1) * 10**6
        # What is left is the ±1 mult dither's ntp_error at both ends: a few ns for a
        # periodic namespace, up to the lazy_error_bound_ns (100 ns) for a lazy one.
        slack_ns = 4 if update == "periodic" else 2 * 100 + 4
        assert abs(ppm - exact) <= mpq(slack_ns * 10**6, r1 - r0), (tick, float(ppm - exact))


# --- freq-step.c ------------------------------------------------------------------------------


def set_frequency(ns: object, ppm: int) -> None:
    """freq-step.c set_frequency: whole ticks through ADJ_TICK, the rest through ADJ_FREQUENCY."""
    tick_offset = cdiv(ppm, 100)  # 1e6 × f / USER_HZ, with f = ppm × 1e-6
    tx = Timex(
        modes=ADJ_TICK | ADJ_FREQUENCY,
        tick=10_000 + tick_offset,
        freq=(ppm - 100 * tick_offset) << 16,
    )
    ns.adjtimex(tx)  # type: ignore[attr-defined]


@pytest.mark.parametrize("update", ["periodic", "lazy"])
@pytest.mark.parametrize(("base", "step"), [(37, 40960), (-128, 640), (101, 10), (0, -40960)])
def test_freq_step_settles_at_once(update: str, base: int, step: int) -> None:
    hz = 1000
    h = Host(hz=hz, realtime_ns=1_600_000_000 * NSEC, lazy_error_bound_ns=1)
    ns = h.create_namespace("a", update=update)
    set_frequency(ns, base)
    ns.clock_adjtime(CLOCK_REALTIME, Timex(modes=ADJ_SETOFFSET, time=(0, 0)))  # ntp_error = 0
    h.run_for(NSEC // 3)
    set_frequency(ns, base + step)
    h.run_for(987_654_321)
    set_frequency(ns, base)
    tick_offset = cdiv(base, 100)
    rate = mono_per_raw(hz, tick_length(hz, 10_000 + tick_offset, (base - 100 * tick_offset) << 16))
    m0, r0 = ns.clock_gettime_ns(CLOCK_MONOTONIC), ns.clock_gettime_ns(CLOCK_MONOTONIC_RAW)
    for _ in range(100):  # 100 samples, 0.1 s apart, as the selftest takes them
        h.run_for(NSEC // 10)
        m, r = ns.clock_gettime_ns(CLOCK_MONOTONIC), ns.clock_gettime_ns(CLOCK_MONOTONIC_RAW)
        assert abs((m - m0) - rate * (r - r0)) <= 3  # ns: no lasting phase error at all
    assert abs(mpq(m - m0, r - r0) - rate) <= mpq(1, 10**9)  # the rate, to 1 ppb over 10 s


# --- the PLL: ADJ_OFFSET chunks and the slew they cause ---------------------------------------


class SlewModel:
    """Exact tick-by-tick model of a namespace slewed against its twin (module docstring).

    ``extra(k)`` is what NTP adds to tick_length (2^-32 ns per tick) after the k-th second
    boundary that follows the call.  Ticks are the namespace's accumulation intervals of
    cycle_interval cycles counted from its creation; a boundary is the tick during which the
    clock crosses a whole second, and the new chunk applies from the next tick on.
    """

    def __init__(
        self,
        hz: int,
        created_cycles: int,
        realtime0: int,
        call_cycles: int,
        extra: Callable[[int], int],
        until_cycles: int,
    ) -> None:
        ci, _rem, shift = intervals(hz)
        self.ci, self.c0 = ci, created_cycles
        base = mpq(ci * TSC.mult, 1 << shift)  # ns per tick with no NTP change (= RAW)
        x = mpq(realtime0)
        second = realtime0 // NSEC
        k = 0
        cur = 0
        self.cum = [mpq(0)]  # slew accumulated before tick i
        self.rate = []  # extra (2^-32 ns) applied during tick i
        i = 0
        while created_cycles + i * ci <= until_cycles:
            self.rate.append(cur)
            x += base + mpq(cur, 1 << 32)
            self.cum.append(self.cum[-1] + mpq(cur, 1 << 32))
            i += 1
            if x // NSEC > second:
                second += 1
                if created_cycles + i * ci > call_cycles:
                    k += 1
                    cur = extra(k)

    def diff(self, cycles: int) -> tuple[mpq, int]:
        """(expected namespace − twin in ns at ``cycles``, extra of the running tick)."""
        n, part = divmod(cycles - self.c0, self.ci)
        return self.cum[n] + mpq(part, self.ci) * mpq(self.rate[n], 1 << 32), self.rate[n]


def pll_chunks(offset_ns: int, hz: int, tc: int, seconds: int) -> list[int]:
    """time_offset after 0..seconds second_overflows, from ntp_update_offset's scaling."""
    rem = cdiv(offset_ns << 32, hz)
    out = [rem]
    for _ in range(seconds):
        rem -= sr(rem, 2 + tc)
        out.append(rem)
    return out


PLL_CASES = [(nano, c) for nano in (True, False) for c in (0, 2, 6, 10)]


@pytest.mark.parametrize("update", ["periodic", "lazy"])
@pytest.mark.parametrize(("nano", "constant"), PLL_CASES)
def test_pll_offset_follows_the_chunk_rule_and_slews_the_clock(
    nano: bool, constant: int, update: str
) -> None:
    _pll_run(250, nano, constant, 100_000_000, update)


@pytest.mark.parametrize("update", ["periodic", "lazy"])
def test_pll_negative_offset_and_hz_1000(update: str) -> None:
    _pll_run(1000, True, 2, -100_000_000, update)
    _pll_run(250, False, 0, -100_000_000, update)


def _pll_run(hz: int, nano: bool, constant: int, offset_ns: int, update: str) -> None:
    seconds = 60
    h = Host(hz=hz, realtime_ns=1_650_000_000 * NSEC + NSEC // 2, monotonic_ns=77 * NSEC)
    h.run_for(NSEC // 100)
    c0 = h.cycles_now()
    a = h.create_namespace("a", update=update)
    b = h.create_namespace("b", update=update)
    r0 = a.clock_gettime_ns(CLOCK_REALTIME)
    tc = min(max(constant, 0), 10) if nano else min(min(max(constant, 0), 10) + 4, 10)
    tx = Timex(
        modes=ADJ_STATUS | ADJ_OFFSET | ADJ_TIMECONST | (ADJ_NANO if nano else ADJ_MICRO),
        status=STA_PLL,
        offset=offset_ns if nano else offset_ns // 1000,
        constant=constant,
    )
    h.run_for(NSEC // 5)
    call = h.cycles_now()
    a.adjtimex(tx)
    assert tx.constant == tc
    assert tx.freq == 0  # STA_PLL switched on in the same call: secs = 0, no PLL frequency
    rems = pll_chunks(offset_ns, hz, tc, seconds + 10)
    chunks = [rems[k - 1] - rems[k] for k in range(1, seconds + 11)]
    model = SlewModel(hz, c0, r0, call, lambda k: chunks[k - 1], call + (seconds + 2) * 3 * NSEC)
    for k in range(seconds + 1):
        if k:
            h.run_for(NSEC)
        r = Timex()
        a.adjtimex(r)
        ns_left = sr(rems[k] * hz, 32)
        assert r.offset == (ns_left if nano else cdiv(ns_left, 1000)), k
        d = a.clock_gettime_ns(CLOCK_REALTIME) - b.clock_gettime_ns(CLOCK_REALTIME)
        expect, running = model.diff(h.cycles_now())
        prev = chunks[k - 1] if k else 0
        # the tick runs the second boundary up to ~one tick after the model's, in a periodic
        # namespace and (accumulating on tick boundaries, as update_wall_time does) a lazy one
        bound = 2 * mpq(max(abs(running), abs(prev)), 1 << 32) + 250 + (
            250 if update == "lazy" else 0)
        assert abs(d - expect) <= bound, (k, float(d - expect))
        assert a.clock_gettime_ns(CLOCK_MONOTONIC) - b.clock_gettime_ns(CLOCK_MONOTONIC) == d


# --- the FLL ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fll", "secs", "engaged"),
    [(True, 255, False), (True, 256, True), (False, 2048, False), (False, 2049, True)],
)
def test_fll_engages_after_minsec_with_sta_fll_or_after_maxsec_without(
    fll: bool, secs: int, engaged: bool
) -> None:
    h = Host(hz=250, realtime_ns=1_650_000_000 * NSEC + NSEC // 2)
    ns = h.create_namespace("a")
    status = STA_PLL | (STA_FLL if fll else 0)
    ns.adjtimex(Timex(modes=ADJ_STATUS | ADJ_NANO, status=status))  # time_reftime = now
    h.run_for(secs * NSEC)
    offset = 1_000_000  # 1 ms, ns mode
    tx = Timex(modes=ADJ_OFFSET, offset=offset)
    ns.adjtimex(tx)
    assert bool(tx.status & STA_MODE) is engaged
    tc = 2  # boot time constant, ns mode
    fll_term = cdiv(offset << 30, secs) if engaged else 0
    pll_term = (offset * min(secs, 1 << (3 + tc))) << (32 - 2 * (4 + tc))
    time_freq = max(-MAXFREQ_SCALED, min(MAXFREQ_SCALED, fll_term + pll_term))
    assert tx.freq == freq_readback(time_freq)
    # A second update soon after uses the short interval again: STA_MODE drops.
    h.run_for(16 * NSEC)
    tx = Timex(modes=ADJ_OFFSET, offset=offset)
    ns.adjtimex(tx)
    assert not tx.status & STA_MODE


def test_freqhold_keeps_the_frequency() -> None:
    h = Host(hz=250, realtime_ns=1_650_000_000 * NSEC + NSEC // 2)
    ns = h.create_namespace("a")
    ns.adjtimex(Timex(modes=ADJ_STATUS | ADJ_NANO, status=STA_PLL | STA_FLL | STA_FREQHOLD))
    h.run_for(3000 * NSEC)
    tx = Timex(modes=ADJ_OFFSET, offset=1_000_000)
    ns.adjtimex(tx)
    assert tx.freq == 0 and not tx.status & STA_MODE
    assert tx.offset == sr(cdiv(1_000_000 << 32, 250) * 250, 32)


# --- adjtime(3) -------------------------------------------------------------------------------


@pytest.mark.parametrize("update", ["periodic", "lazy"])
@pytest.mark.parametrize("hz", [250, 1000])
def test_adjtime_slews_500_500_250_us(hz: int, update: str) -> None:
    h = Host(hz=hz, realtime_ns=1_650_000_000 * NSEC + NSEC // 2)
    h.run_for(NSEC // 100)
    c0 = h.cycles_now()
    a = h.create_namespace("a", update=update)
    b = h.create_namespace("b", update=update)
    r0 = a.clock_gettime_ns(CLOCK_REALTIME)
    h.run_for(NSEC // 7)
    call = h.cycles_now()
    assert a.adjtime(1250) == 0  # returns the previous pending slew
    max_tickadj = (500 * 1000 << 32) // hz
    per_second = [max_tickadj, max_tickadj, ((250 * 1000) // hz) << 32]
    model = SlewModel(
        hz, c0, r0, call, lambda k: per_second[k - 1] if k <= 3 else 0, call + 20 * 3 * NSEC
    )
    pending = [1250, 750, 250, 0, 0, 0]
    for k in range(6):
        if k:
            h.run_for(NSEC)
        assert a.adjtime(None) == pending[k]
        d = a.clock_gettime_ns(CLOCK_REALTIME) - b.clock_gettime_ns(CLOCK_REALTIME)
        expect, running = model.diff(h.cycles_now())
        prev = per_second[k - 1] if 1 <= k <= 3 else 0
        # second boundaries run on the tick in both policies (update_wall_time)
        tol = 2 * mpq(max(running, prev), 1 << 32) + 250 + (250 if update == "lazy" else 0)
        assert abs(d - expect) <= tol, (k, float(d - expect))
    # All of it applied: 1250 µs, less what the ticks a shortened second lacks would have
    # added (under 0.1 %), give or take the mult dither (a lazy namespace's is ≤ 100 ns).
    slack = 250 if update == "lazy" else 4
    assert 1_250_000 - 1_250_000 // 1000 <= d <= 1_250_000 + slack
    # The pending slew is per namespace.
    assert b.adjtime(None) == 0 and h.root.adjtime(None) == 0


def test_adjtime_negative_and_replaced() -> None:
    h = Host(hz=250, realtime_ns=1_650_000_000 * NSEC + NSEC // 2)
    a = h.create_namespace("a")
    assert a.adjtime(-1200) == 0
    h.run_for(NSEC)
    assert a.adjtime(None) == -700
    assert a.adjtime(40) == -700  # a new request replaces what was pending
    h.run_for(NSEC)
    assert a.adjtime(None) == 0
