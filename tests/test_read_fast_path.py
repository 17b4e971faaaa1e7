"""The clock read path against the exact formulas, over random runs of clock-changing calls.

`clock_gettime_ns` takes shortcuts: the host keeps the extended count per true instant, a
timekeeper namespace keeps the values it read at that count until its timekeeper's
`read_seq` moves, an offsets namespace reads its host's (kept) value and adds its offset,
and a constant-rate counter is converted with one rational product.  Every reading here is
checked against a value computed afresh from the exact true time, the counter's extension
state and the timekeeper's fields, with the formulas of the kernel read functions
(`ktime_get`, `ktime_get_real`, `ktime_get_raw`, `ktime_get_coarse`, …) written out.

Readings are compared after every step *at the same instant* as the step, so a value kept
from before a settime, an offset step, an accumulation, a restore or a suspend would show;
timer callbacks read every clock from inside the interrupt that runs them too.
"""

from __future__ import annotations

import contextlib
import errno

import pytest
from gmpy2 import mpq
from hypothesis import given
from hypothesis import strategies as st

from ntp.exact import floor_q
from ntp.timex import (
    ADJ_FREQUENCY,
    ADJ_NANO,
    ADJ_OFFSET,
    ADJ_SETOFFSET,
    ADJ_STATUS,
    ADJ_TAI,
    ADJ_TICK,
    STA_PLL,
    Timex,
)
from tk_compiled import is_compiled
from tk_core import Host
from tk_core.checkpoint import register_callback
from tk_core.clockids import (
    CLOCK_AUX,
    CLOCK_BOOTTIME,
    CLOCK_BOOTTIME_ALARM,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_COARSE,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME,
    CLOCK_REALTIME_ALARM,
    CLOCK_REALTIME_COARSE,
    CLOCK_TAI,
)
from tk_core.clocksource import Clocksource
from tk_core.namespace import OffsetsNamespace, TimekeeperNamespace

NSEC = 10**9
START = 1_700_000_000 * NSEC
MODELLED = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
            CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME, CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM,
            CLOCK_TAI)
AUX = tuple(range(CLOCK_AUX, CLOCK_AUX + 8))
#: Ids that are not clocks here (CPU-time ids, gaps, beyond the aux range), and not ints.
BAD = (2, 3, 10, 12, 15, 24, -1, 1 << 40, "0", None, 1.5)
#: Under the compiled build a method checks its declared argument types itself, so these
#: raise its TypeError before the engine's EINVAL (the one documented difference).
NOT_INTS = ("0", None, 1.5)
COMPILED = is_compiled()


# -- the reference: every value from scratch ----------------------------------------------


def ref_cycles(host: Host) -> int:
    """The extended count now, from the exact true time and the extension's state."""
    cs, c = host.clocksource, host.counter
    raw = floor_q(cs.exact_cycles_at(host.true_time)) & cs.mask
    d = (raw - c.last_raw) & c.mask
    return c.last_ext + (0 if d > c.max_delta else d)


def ref_last_tick(host: Host, cycles: int) -> int:
    """The last tick boundary at or before `cycles`: the first count at which root MONOTONIC
    (the jiffies grid) reads the last whole TICK_NSEC past `last_jiffies_update`."""
    tk = host.root.tk
    mono = tk.base_mono + (((cycles - tk.cycle_last) * tk.mult + tk.xtime_nsec) >> tk.shift)
    period, last = host.tick_period, host.last_jiffies_update
    boundary = last + (mono - last) // period * period
    need = ((boundary - tk.base_mono) << tk.shift) - tk.xtime_nsec
    at = tk.cycle_last if need <= 0 else tk.cycle_last + -(-need // tk.mult)
    return min(at, cycles)


def ref_tk_read(ns: TimekeeperNamespace, clockid: int, cycles: int) -> int:
    """The kernel read functions, written out over the timekeeper's fields."""
    tk = ns.tk
    mono = tk.base_mono + (((cycles - tk.cycle_last) * tk.mult + tk.xtime_nsec) >> tk.shift)
    frac = tk.coarse_nsec if tk.separate_coarse_nsec else tk.xtime_nsec >> tk.shift
    if ns.update == "lazy":
        # as of the host's last tick: the whole intervals up to it, each cycle_interval × mult
        k = (ref_last_tick(ns.host, cycles) - tk.cycle_last) // tk.cycle_interval
        if k > 0:
            frac = (tk.xtime_nsec + k * tk.cycle_interval * tk.mult) >> tk.shift
    if clockid in (CLOCK_REALTIME, CLOCK_REALTIME_ALARM):
        return mono + tk.offs_real
    if clockid == CLOCK_MONOTONIC:
        return mono
    if clockid in (CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM):
        return mono + tk.offs_boot
    if clockid == CLOCK_TAI:
        return mono + tk.offs_tai
    if clockid == CLOCK_MONOTONIC_RAW:
        return tk.base_raw + (((cycles - tk.cycle_last) * tk.raw_mult + tk.raw_xtime_nsec)
                              >> tk.shift)
    if clockid == CLOCK_REALTIME_COARSE:
        return tk.xtime_sec * NSEC + frac
    if clockid == CLOCK_MONOTONIC_COARSE:
        return tk.base_mono + frac
    return ns.aux.clock(clockid).read(cycles)  # aux: ENODEV while disabled


def ref_read(ns: TimekeeperNamespace | OffsetsNamespace, clockid: int) -> int:
    cycles = ref_cycles(ns.host)
    if isinstance(ns, TimekeeperNamespace):
        return ref_tk_read(ns, clockid, cycles)
    base = ref_tk_read(ns.host.root, clockid, cycles)
    if clockid in (CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_COARSE):
        return base + ns.monotonic_offset
    if clockid in (CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM):
        return base + ns.boottime_offset
    return base


def outcome(fn, *args) -> tuple[str, object]:
    try:
        value = fn(*args)
    except OSError as e:
        return ("errno", e.errno)
    assert type(value) is int
    return ("value", value)


def check_all(host: Host, where: str) -> None:
    """Every namespace, every clock id: the read path gives the reference, twice."""
    ids = MODELLED + (AUX if host.aux_clocks else ())
    for ns in host.namespaces.values():
        for _ in range(2):  # the second round reads what the first one kept
            for clk in ids:
                got = outcome(ns.clock_gettime_ns, clk)
                want = outcome(ref_read, ns, clk)
                assert got == want, (where, ns.name, clk)
        for clk in BAD + (() if host.aux_clocks else AUX):
            if COMPILED and clk in NOT_INTS:
                with pytest.raises(TypeError):
                    ns.clock_gettime_ns(clk)
                continue
            with pytest.raises(OSError) as info:
                ns.clock_gettime_ns(clk)
            assert info.value.errno == errno.EINVAL, (where, ns.name, clk)


# -- the steps --------------------------------------------------------------------------


def check_in_timer(timer, overrun: int) -> None:
    """A timer's callback: every clock of its host, from inside the interrupt."""
    check_all(timer.ns.host, "in a timer callback")


register_callback("test_read_fast_path.check_in_timer", check_in_timer)


def make_host(kind: int, version: str, root_update: str, aux: bool) -> Host:
    cs = {
        0: None,  # the default 3 GHz, 64-bit TSC
        1: Clocksource(1_000_000_000, 32, error_ppm=mpq(37, 3), start_cycles=4_000_000_000),
        2: Clocksource(24_000_000, 56, wander_ppm=5, seed=3),
        3: Clocksource(19_200_000, 24, error_ppm=-11),  # wraps every 0.87 s
    }[kind]
    host = Host(cs, realtime_ns=START, monotonic_ns=7 * NSEC, tai_offset=37,
                kernel_version=version, root_update=root_update, aux_clocks=aux)
    host.create_namespace("lazy")
    host.create_namespace("periodic", update="periodic")
    host.create_namespace("dilated", dilation=mpq(1_000_003, 1_000_000))
    offs = host.create_namespace("offsets", model="offsets")
    offs.set_offsets(monotonic_ns=-3 * NSEC, boottime_ns=11 * NSEC)
    return host


def timekeepers(host: Host) -> list[TimekeeperNamespace]:
    return [ns for ns in host.namespaces.values() if isinstance(ns, TimekeeperNamespace)]


def pick(host: Host, i: int) -> TimekeeperNamespace:
    spaces = timekeepers(host)
    return spaces[i % len(spaces)]


def adj(ns: TimekeeperNamespace, tx: Timex) -> None:
    with contextlib.suppress(OSError):  # refused values change nothing; reads must agree
        ns.adjtimex(tx)


def do_settime(host: Host, ns: TimekeeperNamespace, v: int) -> None:
    with contextlib.suppress(OSError):  # below MONOTONIC: the failed step is undone
        ns.clock_settime_ns(CLOCK_REALTIME, ns.clock_gettime_ns(CLOCK_REALTIME) + v)


def do_setoffset(host: Host, ns: TimekeeperNamespace, v: int) -> None:
    sec, nsec = divmod(v * 1000, NSEC)
    adj(ns, Timex(modes=ADJ_SETOFFSET | ADJ_NANO, time=(sec, nsec)))


def do_catch_up(host: Host, ns: TimekeeperNamespace, v: int) -> None:
    """What an interrupt does: accumulate at the instant's own (kept) count."""
    ns.advance_to(host.cycles_now())


def do_restore_tk(host: Host, ns: TimekeeperNamespace, v: int) -> None:
    """The shadow-timekeeper restore of a failed step, at the same count."""
    snap = ns.tk.snapshot()
    adj(ns, Timex(modes=ADJ_SETOFFSET | ADJ_NANO, time=(v % 7 + 1, 0)))
    check_all(host, "between a step and its restore")
    ns.tk.restore(snap)
    ns.reference.sync(ns.tk, host.cycles_now())
    ns.timer_base.conversion_changed()
    ns.plan()


def do_offsets(host: Host, ns: TimekeeperNamespace, v: int) -> None:
    offs = host.namespaces["offsets"]
    assert isinstance(offs, OffsetsNamespace)
    which = v % 3  # one offset, the other, or both: each must empty the kept values
    offs.set_offsets(monotonic_ns=None if which == 1 else v * 1000,
                     boottime_ns=None if which == 0 else -v * 999)


def do_timer(host: Host, ns: TimekeeperNamespace, v: int) -> None:
    ns.timer_create(CLOCK_MONOTONIC, check_in_timer).settime(v % (3 * NSEC) + 1)


def do_aux(host: Host, ns: TimekeeperNamespace, v: int) -> None:
    if host.aux_clocks:
        ns.aux_clock_enable_write(v % 2, "1")
        ns.clock_settime_ns(CLOCK_AUX + v % 2, ns.clock_gettime_ns(CLOCK_REALTIME))


STEPS = {
    "run": lambda host, ns, v: host.run_for(v),
    "settime": do_settime,
    "freq": lambda host, ns, v: adj(ns, Timex(modes=ADJ_FREQUENCY, freq=v << 10)),
    "tick": lambda host, ns, v: adj(ns, Timex(modes=ADJ_TICK, tick=10_000 + v % 900)),
    "offset": lambda host, ns, v: adj(ns, Timex(
        modes=ADJ_OFFSET | ADJ_STATUS | ADJ_NANO, status=STA_PLL, offset=v * 1000)),
    "setoffset": do_setoffset,
    "tai": lambda host, ns, v: adj(ns, Timex(modes=ADJ_TAI, constant=37 + v % 5)),
    "catch_up": do_catch_up,
    "restore_tk": do_restore_tk,
    "offsets": do_offsets,
    "suspend": lambda host, ns, v: host.suspend_for(v),
    "timer": do_timer,
    "aux": do_aux,
}


def step(host: Host, op: tuple[str, int, int]) -> Host:
    """Apply one step; a checkpoint step goes on with the restored host."""
    kind, i, v = op
    if kind == "checkpoint":
        return Host.restore(host.checkpoint())
    STEPS[kind](host, pick(host, i), v)
    return host


OPS = st.one_of(
    st.tuples(st.just("run"), st.integers(0, 3), st.integers(0, 4 * NSEC)),
    st.tuples(st.just("run"), st.integers(0, 3), st.integers(0, 2000)),
    st.tuples(st.sampled_from(["settime", "setoffset"]), st.integers(0, 3),
              st.integers(-5 * NSEC, 5 * NSEC)),
    st.tuples(st.sampled_from(["freq", "tick", "offset", "tai"]), st.integers(0, 3),
              st.integers(-500_000, 500_000)),
    st.tuples(st.sampled_from(["catch_up", "restore_tk", "offsets", "timer", "aux"]),
              st.integers(0, 3), st.integers(0, 10**6)),
    st.tuples(st.just("suspend"), st.integers(0, 3), st.integers(0, 3 * NSEC)),
    st.tuples(st.just("checkpoint"), st.integers(0, 3), st.just(0)),
)


@given(
    kind=st.integers(0, 3),
    version=st.sampled_from(["6.6", "6.12", "7.3"]),
    root_update=st.sampled_from(["lazy", "periodic"]),
    ops=st.lists(OPS, min_size=1, max_size=14),
)
def test_reads_match_the_exact_formulas(kind, version, root_update, ops):
    host = make_host(kind, version, root_update, aux=version == "7.3")
    check_all(host, "start")
    for n, op in enumerate(ops):
        host = step(host, op)
        check_all(host, f"after step {n} {op}")


def test_a_kept_value_goes_with_a_same_instant_accumulation():
    # COARSE moves when a lazy namespace catches up at the instant's own count: the value
    # read just before must not be handed out again.  A lazy namespace's coarse clocks read
    # as of the last tick, so the catch-up must cross an interval boundary after that tick:
    # this one's intervals end half a tick (2 ms at HZ 250) after the host's ticks.
    host = make_host(0, "7.3", "lazy", aux=False)
    host.run_for(2 * 10**6)
    ns = host.create_namespace("late")
    assert isinstance(ns, TimekeeperNamespace)
    host.run_for(5 * NSEC + 10**6)
    before = ns.clock_gettime_ns(CLOCK_MONOTONIC_COARSE)
    seq = ns.tk.read_seq
    ns.advance_to(host.cycles_now())
    assert ns.tk.read_seq != seq
    after = ns.clock_gettime_ns(CLOCK_MONOTONIC_COARSE)
    assert after == ref_read(ns, CLOCK_MONOTONIC_COARSE) and after > before


def test_read_seq_is_unique_across_timekeepers():
    host = make_host(0, "6.12", "lazy", aux=False)
    seqs = [ns.tk.read_seq for ns in timekeepers(host)]
    assert len(set(seqs)) == len(seqs)


def test_constant_rate_conversion_is_the_exact_floor():
    cs = Clocksource(1_000_000_007, 64, error_ppm=mpq(-17, 7), start_cycles=12345)
    for t in (mpq(0), mpq(1, 3), mpq(10**12 + 1, 999_999_937), mpq(2**70, 3)):
        assert cs.cycles_at(t) == floor_q(cs.exact_cycles_at(t))
    with pytest.raises(ValueError):
        cs.cycles_at(mpq(-1, 10**9))
