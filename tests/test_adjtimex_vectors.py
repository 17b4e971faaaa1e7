"""adjtimex end to end through namespaces: the selftest vectors, readbacks, errors, permissions.

Everything goes through `ns.adjtimex` / `ns.clock_adjtime` / `ns.adjtime` on a `Host`, as a test
author driving a namespace like chronyd or ntpd would.  Expected values are computed here from
the kernel's formulas (tk_setup_internals, timekeeping_adjust, v4.19+, kernel/time/ntp.c,
timekeeping_validate_timex, tools/testing/selftests/timers), never by calling the
engine's own helpers.
"""

from __future__ import annotations

import errno

import pytest

from ntp import (
    ADJ_ADJTIME,
    ADJ_ESTERROR,
    ADJ_FREQUENCY,
    ADJ_MAXERROR,
    ADJ_MICRO,
    ADJ_NANO,
    ADJ_OFFSET,
    ADJ_OFFSET_SINGLESHOT,
    ADJ_OFFSET_SS_READ,
    ADJ_SETOFFSET,
    ADJ_STATUS,
    ADJ_TAI,
    ADJ_TICK,
    ADJ_TIMECONST,
    STA_PLL,
    Timex,
)
from tk_core import (
    CLOCK_BOOTTIME,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME,
    CLOCK_TAI,
    Clocksource,
    Host,
)

NSEC = 1_000_000_000
REALTIME0 = 1_700_000_000 * NSEC + 123_456_789
MONOTONIC0 = 5_000 * NSEC
TAI0 = 37
LONG_MAX = 2**63 - 1
LONG_MIN = -(2**63)
TSC = Clocksource(3_000_000_000, 64)

# Kernel constants (linux/timex.h), written out (not imported from the engine).
PPM_SCALE = 65_536_000  # 1000 << 16
MAXFREQ_SCALED = 500_000 << 32
TOLERANCE = 32_768_000  # 500 ppm in 16.16
NTP_PHASE_LIMIT = 16_000_000
STA_UNSYNC = 0x40
TIME_OK, TIME_ERROR = 0, 5

VALID_PPM = [499, 450, 400, 350, 300, 250, 200, 150, 100, 75, 50, 25, 10, 5, 1]
VALID_FREQS = [p << 16 for p in VALID_PPM] + [-(p << 16) for p in VALID_PPM] + [-1000, 0]


def make_host(hz: int = 1000, version: str | None = None, **kw: object) -> Host:
    return Host(
        hz=hz,
        realtime_ns=REALTIME0,
        monotonic_ns=MONOTONIC0,
        tai_offset=TAI0,
        kernel_version=version,
        **kw,  # type: ignore[arg-type]
    )


def clear_time_state(ns: object) -> None:
    """The selftests' clear_time_state: STA_PLL on, then status 0 (drops UNSYNC)."""
    ns.adjtimex(Timex(modes=ADJ_STATUS, status=STA_PLL))  # type: ignore[attr-defined]
    ns.adjtimex(Timex(modes=ADJ_STATUS, status=0))  # type: ignore[attr-defined]


def read(ns: object) -> tuple[int, Timex]:
    tx = Timex()
    return ns.adjtimex(tx), tx  # type: ignore[attr-defined]


def clocks(ns: object) -> dict[int, int]:
    ids = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI, CLOCK_MONOTONIC_RAW)
    return {c: ns.clock_gettime_ns(c) for c in ids}  # type: ignore[attr-defined]


def expected_mult(hz: int, freq: int = 0, tick: int = 10_000, user_hz: int = 100) -> int:
    """tk_setup_internals/timekeeping_adjust, v4.19+: mult right after TK_ADV_FREQ on a timekeeper
    whose ntp_error is still 0."""
    mult, shift = TSC.mult, TSC.shift
    ntpinterval = (NSEC // hz) << shift
    cycle_interval = (ntpinterval + mult // 2) // mult
    remainder = ntpinterval - cycle_interval * mult
    time_freq = max(-MAXFREQ_SCALED, min(MAXFREQ_SCALED, freq * PPM_SCALE))
    second = ((tick * 1000 * user_hz) << 32) + time_freq
    tick_length = second // hz
    return ((tick_length >> (32 - shift)) - remainder) // cycle_interval


def freq_readback(time_freq: int) -> int:
    """__do_adjtimex: shift_right((time_freq >> 19) * PPM_SCALE_INV, 32), written out."""
    x = (time_freq >> 19) * ((1 << 51) // PPM_SCALE + 1)
    return -((-x) >> 32) if x < 0 else x >> 32


# --- a fresh namespace ------------------------------------------------------------------------


@pytest.mark.parametrize("user_hz", [100, 1000])
def test_fresh_namespace_reads_time_error_with_unsync_and_boot_values(user_hz: int) -> None:
    h = make_host(user_hz=user_hz)
    h.run_for(NSEC // 3)
    for ns in (h.root, h.create_namespace("a"), h.create_namespace("p", update="periodic")):
        result, tx = read(ns)
        assert result == TIME_ERROR
        assert tx.status == STA_UNSYNC == 0x0040
        assert (tx.offset, tx.freq, tx.constant, tx.precision) == (0, 0, 2, 1)
        assert (tx.maxerror, tx.esterror) == (NTP_PHASE_LIMIT, NTP_PHASE_LIMIT)
        assert tx.tolerance == TOLERANCE
        assert tx.tick == (1_000_000 + user_hz // 2) // user_hz
        assert tx.tai == TAI0
        assert (tx.ppsfreq, tx.jitter, tx.shift, tx.stabil) == (0, 0, 0, 0)
        assert (tx.jitcnt, tx.calcnt, tx.errcnt, tx.stbcnt) == (0, 0, 0, 0)
        real = ns.clock_gettime_ns(CLOCK_REALTIME)
        assert tx.time == (real // NSEC, real % NSEC // 1000)  # µs: STA_NANO is clear
        tx2 = Timex()
        assert ns.clock_adjtime(CLOCK_REALTIME, tx2) == TIME_ERROR
        assert tx2 == tx


def test_clear_time_state_gives_time_ok() -> None:
    ns = make_host().create_namespace("a")
    clear_time_state(ns)
    result, tx = read(ns)
    assert (result, tx.status) == (TIME_OK, 0)


# --- selftests/timers/valid-adjtimex.c frequency vectors ------------------------------------------


def test_the_valid_frequency_list_has_its_32_entries() -> None:
    assert len(VALID_FREQS) == 32 and len(set(VALID_FREQS)) == 32


@pytest.mark.parametrize("freq", VALID_FREQS)
def test_valid_frequency_reads_back_and_sets_mult_at_once(freq: int) -> None:
    h = make_host(hz=1000)
    ns = h.create_namespace("a", update="periodic")
    clear_time_state(ns)
    tx = Timex(modes=ADJ_FREQUENCY, freq=freq)
    assert ns.adjtimex(tx) >= 0
    assert tx.freq == freq
    assert read(ns)[1].freq == freq
    # TK_ADV_FREQ: the new mult is in place before any time passes.
    assert ns.timekeeper.mult == expected_mult(1000, freq)


def test_mult_table_of_the_reference() -> None:
    """timekeeping_adjust, v4.19+ COMPUTED table (TSC 3 GHz, HZ 1000), reached through adjtimex
    with no time passing."""
    table = {0: 5592405, 1: 5592410, 100: 5592964, 500: 5595201, -500: 5589608}
    for ppm, mult in table.items():
        ns = make_host().create_namespace(f"f{ppm}")
        ns.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=ppm << 16))
        assert ns.timekeeper.mult == mult == expected_mult(1000, ppm << 16)
    for tick, mult in ((9000, 5033164), (11000, 6151645)):
        ns = make_host().create_namespace(f"t{tick}")
        ns.adjtimex(Timex(modes=ADJ_TICK, tick=tick))
        assert ns.timekeeper.mult == mult == expected_mult(1000, tick=tick)


@pytest.mark.parametrize("ppm", [550, -550, 1000, -1000])
def test_out_of_range_frequency_is_clamped_to_500_ppm(ppm: int) -> None:
    ns = make_host().create_namespace("a")
    clear_time_state(ns)
    tx = Timex(modes=ADJ_FREQUENCY, freq=ppm << 16)
    assert ns.adjtimex(tx) >= 0
    assert tx.freq != ppm << 16
    assert tx.freq == (TOLERANCE if ppm > 0 else -TOLERANCE)
    assert ns.timekeeper.mult == expected_mult(1000, (500 if ppm > 0 else -500) << 16)


@pytest.mark.parametrize(
    "freq", [LONG_MAX, LONG_MIN, LONG_MAX // PPM_SCALE + 1, -(-LONG_MIN // PPM_SCALE) - 1]
)
def test_frequency_that_would_overflow_is_einval_and_changes_nothing(freq: int) -> None:
    ns = make_host().create_namespace("a", update="periodic")
    before = ns.timekeeper.snapshot()
    with pytest.raises(OSError) as exc:
        ns.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=freq))
    assert exc.value.errno == errno.EINVAL
    assert ns.timekeeper.snapshot() == before


def test_largest_accepted_frequency_input_is_clamped() -> None:
    ns = make_host().create_namespace("a")
    for freq, expect in (
        (LONG_MAX // PPM_SCALE, TOLERANCE),
        (-(LONG_MAX // PPM_SCALE), -TOLERANCE),
    ):
        tx = Timex(modes=ADJ_FREQUENCY, freq=freq)
        ns.adjtimex(tx)
        assert tx.freq == expect


# --- selftests/timers/valid-adjtimex.c ADJ_SETOFFSET vectors through clock_adjtime(CLOCK_REALTIME)


def _split(total: int, unit: int) -> tuple[int, int]:
    """A negative total is written as (sec − 1, frac + unit), as valid-adjtimex.c does."""
    return total // unit, total % unit


SETOFFSET_OK = [
    (999_999_999, True),
    (-999_999_999, True),
    (-1_000_000_001, True),
    (5 * NSEC, True),
    (-5 * NSEC, True),
    (5_500_000_000, True),
    (-5_500_000_000, True),
    (999_999, False),
    (-999_999, False),
    (-1_000_001, False),
    (5_000_000, False),
    (-5_000_000, False),
    (5_500_000, False),
    (-5_500_000, False),
]


@pytest.mark.parametrize("update", ["periodic", "lazy"])
@pytest.mark.parametrize(("total", "nano"), SETOFFSET_OK)
def test_setoffset_steps_realtime_by_exactly_the_offset(
    total: int, nano: bool, update: str
) -> None:
    h = make_host(hz=250)
    h.run_for(777_777_777)
    a = h.create_namespace("a", update=update)
    b = h.create_namespace("b", update=update)  # the twin, left alone
    a.adjtimex(Timex(modes=ADJ_OFFSET_SINGLESHOT, offset=300))  # some NTP state to clear
    a.adjtimex(Timex(modes=ADJ_MAXERROR | ADJ_STATUS, maxerror=0, status=STA_PLL))
    h.run_for(1_234_567)
    unit = NSEC if nano else 1_000_000
    sec, frac = _split(total, unit)
    assert sec * unit + frac == total and 0 <= frac < unit
    tx = Timex(modes=ADJ_SETOFFSET | (ADJ_NANO if nano else ADJ_MICRO), time=(sec, frac))
    result = a.clock_adjtime(CLOCK_REALTIME, tx)
    assert result == TIME_ERROR  # TK_CLEAR_NTP set STA_UNSYNC again
    ca, cb = clocks(a), clocks(b)
    step = total if nano else total * 1000
    assert ca[CLOCK_REALTIME] - cb[CLOCK_REALTIME] == step
    assert ca[CLOCK_TAI] - cb[CLOCK_TAI] == step
    for c in (CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_MONOTONIC_RAW):
        assert ca[c] == cb[c]
    # The time the call reports is read after the step.
    assert tx.time.tv_sec == ca[CLOCK_REALTIME] // NSEC
    # TK_CLEAR_NTP: adjtime slew and errors dropped, STA_UNSYNC set, PLL bit kept.
    _, now = read(a)
    assert now.status & STA_UNSYNC and now.status & STA_PLL
    assert (now.maxerror, now.esterror, now.offset) == (NTP_PHASE_LIMIT, NTP_PHASE_LIMIT, 0)
    assert a.adjtime(None) == 0
    if update == "periodic":
        assert a.timekeeper.ntp_error == 0
    else:  # a lazy timekeeper keeps its dither residue across the clear (lazy_keeps_error)
        assert abs(a.timekeeper.ntp_error) <= h.lazy_error_bound


SETOFFSET_BAD = [
    ((0, -1), True),
    ((0, -1), False),
    ((0, 2 * NSEC), True),
    ((0, 2_000_000), False),
    ((0, NSEC), True),
    ((0, 1_000_000), False),
    ((0, -NSEC), True),
    ((0, -1_000_000), False),
]


@pytest.mark.parametrize("update", ["periodic", "lazy"])
@pytest.mark.parametrize(("tv", "nano"), SETOFFSET_BAD)
def test_invalid_setoffset_is_einval_and_changes_nothing(
    tv: tuple[int, int], nano: bool, update: str
) -> None:
    h = make_host(hz=250)
    a = h.create_namespace("a", update=update)
    a.adjtimex(Timex(modes=ADJ_OFFSET_SINGLESHOT, offset=300))
    h.run_for(1_500_000_001)
    a.accumulate()  # a lazy namespace's catch-up is not the call's doing
    before, readings = a.timekeeper.snapshot(), clocks(a)
    tx = Timex(modes=ADJ_SETOFFSET | (ADJ_NANO if nano else 0), time=tv)
    with pytest.raises(OSError) as exc:
        a.clock_adjtime(CLOCK_REALTIME, tx)
    assert exc.value.errno == errno.EINVAL
    assert a.timekeeper.snapshot() == before
    assert clocks(a) == readings


@pytest.mark.parametrize("update", ["periodic", "lazy"])
def test_setoffset_bounds_of_the_inject_step(update: str) -> None:
    """REALTIME + offset must stay ≥ MONOTONIC and below TIME_SETTOD_SEC_MAX (timekeeping.c,
    do_settimeofday64/timekeeping_inject_offset)."""
    settod_max = 9_223_372_036 - 30 * 365 * 86_400
    for make_offset, ok in (
        (lambda c: c[CLOCK_MONOTONIC] - c[CLOCK_REALTIME], True),  # exactly MONOTONIC
        (lambda c: c[CLOCK_MONOTONIC] - c[CLOCK_REALTIME] - 1, False),
        (lambda c: settod_max * NSEC - 1 - c[CLOCK_REALTIME], True),
        (lambda c: settod_max * NSEC - c[CLOCK_REALTIME], False),
    ):
        h = make_host(hz=250)
        h.run_for(NSEC // 7)
        a = h.create_namespace("a", update=update)
        b = h.create_namespace("b", update=update)
        a.accumulate()
        before = a.timekeeper.snapshot()
        offset = make_offset(clocks(a))
        tx = Timex(modes=ADJ_SETOFFSET | ADJ_NANO, time=(offset // NSEC, offset % NSEC))
        if ok:
            a.clock_adjtime(CLOCK_REALTIME, tx)
            assert a.clock_gettime_ns(CLOCK_REALTIME) - b.clock_gettime_ns(CLOCK_REALTIME) == (
                offset
            )
        else:
            with pytest.raises(OSError) as exc:
                a.clock_adjtime(CLOCK_REALTIME, tx)
            assert exc.value.errno == errno.EINVAL
            assert a.timekeeper.snapshot() == before  # mainline restores the shadow copy


# --- settimeofday clears NTP as TK_CLEAR_NTP does ----------------------------------------------


def test_settime_clears_ntp_state_but_keeps_frequency_and_constant() -> None:
    h = make_host(hz=250)
    a = h.create_namespace("a", update="periodic")
    a.adjtimex(
        Timex(
            modes=ADJ_STATUS
            | ADJ_OFFSET
            | ADJ_FREQUENCY
            | ADJ_MAXERROR
            | ADJ_ESTERROR
            | ADJ_TIMECONST,
            status=STA_PLL,
            offset=20_000,
            freq=12 << 16,
            maxerror=100,
            esterror=50,
            constant=3,
        )
    )
    a.adjtimex(Timex(modes=ADJ_OFFSET_SINGLESHOT, offset=4_000))
    h.run_for(2 * NSEC)
    _, before = read(a)
    assert before.offset != 0 and a.adjtime(None) != 0
    target = a.clock_gettime_ns(CLOCK_REALTIME) + 3600 * NSEC
    a.clock_settime_ns(CLOCK_REALTIME, target)
    assert a.clock_gettime_ns(CLOCK_REALTIME) == target
    result, after = read(a)
    assert result == TIME_ERROR
    assert after.status == before.status | STA_UNSYNC
    assert (after.offset, after.maxerror, after.esterror) == (0, NTP_PHASE_LIMIT, NTP_PHASE_LIMIT)
    assert a.adjtime(None) == 0
    assert (after.freq, after.constant, after.tick) == (before.freq, before.constant, before.tick)
    assert a.timekeeper.ntp_error == 0


# --- tools/testing/selftests/timers set-tai and ADJ_TAI edges -------------------------------------


@pytest.mark.parametrize("update", ["periodic", "lazy"])
def test_set_tai_one_to_sixty(update: str) -> None:
    h = make_host()
    ns = h.create_namespace("a", update=update)
    for i in range(1, 61):
        ns.adjtimex(Timex(modes=ADJ_TAI, constant=i))
        _, tx = read(ns)
        assert tx.tai == i
        assert ns.clock_gettime_ns(CLOCK_TAI) - ns.clock_gettime_ns(CLOCK_REALTIME) == i * NSEC
        h.run_for(NSEC // 10)
        assert ns.clock_gettime_ns(CLOCK_TAI) - ns.clock_gettime_ns(CLOCK_REALTIME) == i * NSEC
    assert read(h.root)[1].tai == TAI0  # another namespace's TAI is untouched


def test_adj_tai_range() -> None:
    ns = make_host().create_namespace("a")
    for value, expect in ((0, 0), (100_000, 100_000), (100_001, 100_000), (-1, 100_000)):
        ns.adjtimex(Timex(modes=ADJ_TAI, constant=value))  # out of range: silently ignored
        assert read(ns)[1].tai == expect
        assert ns.clock_gettime_ns(CLOCK_TAI) - ns.clock_gettime_ns(CLOCK_REALTIME) == (
            expect * NSEC
        )


# --- ADJ_TIMECONST readback ------------------------------------------------------------------


@pytest.mark.parametrize("constant", [-5, -1, 0, 2, 6, 7, 10, 11, 1000])
@pytest.mark.parametrize("nano", [False, True])
def test_timeconst_readback(constant: int, nano: bool) -> None:
    """Internal constant: +4 in µs mode, clamped to 0..10 before and after (mainline)."""
    ns = make_host().create_namespace("a")
    unit = ADJ_NANO if nano else ADJ_MICRO
    ns.adjtimex(Timex(modes=unit))
    tx = Timex(modes=ADJ_TIMECONST, constant=constant)
    ns.adjtimex(tx)
    pre = min(max(constant, 0), 10)
    expect = pre if nano else min(pre + 4, 10)
    assert tx.constant == expect == read(ns)[1].constant


def test_timeconst_sees_the_units_set_in_the_same_call() -> None:
    """ADJ_NANO/ADJ_MICRO are processed before ADJ_TIMECONST (process_adjtimex_modes order
    order)."""
    ns = make_host().create_namespace("a")
    tx = Timex(modes=ADJ_TIMECONST | ADJ_MICRO, constant=3)
    ns.adjtimex(tx)
    assert tx.constant == 7
    tx = Timex(modes=ADJ_TIMECONST | ADJ_NANO, constant=3)
    ns.adjtimex(tx)
    assert tx.constant == 3


# --- permissions: tasks, capabilities, the offsets model --------------------------------------


def _errno_of(fn: object, *args: object) -> int:
    with pytest.raises(OSError) as exc:
        fn(*args)  # type: ignore[operator]
    return exc.value.errno


def test_task_without_cap_sys_time_gets_eperm_before_any_value_check() -> None:
    h = make_host(hz=250)
    ns = h.create_namespace("a", update="periodic")
    task = ns.spawn()
    before = ns.timekeeper.snapshot()
    assert _errno_of(task.adjtimex, Timex(modes=ADJ_FREQUENCY, freq=1)) == errno.EPERM
    assert _errno_of(task.adjtimex, Timex(modes=ADJ_TICK, tick=5)) == errno.EPERM
    assert _errno_of(task.adjtimex, Timex(modes=ADJ_FREQUENCY, freq=LONG_MAX)) == errno.EPERM
    bad_setoffset = Timex(modes=ADJ_SETOFFSET, time=(0, -1))
    assert _errno_of(task.clock_adjtime, CLOCK_REALTIME, bad_setoffset) == errno.EPERM
    assert _errno_of(task.adjtime, 100) == errno.EPERM
    assert _errno_of(task.adjtimex, Timex(modes=ADJ_OFFSET_SINGLESHOT, offset=1)) == errno.EPERM
    # The one check that comes before the capability: ADJ_ADJTIME without the SINGLESHOT bit.
    assert _errno_of(task.adjtimex, Timex(modes=ADJ_ADJTIME)) == errno.EINVAL
    assert ns.timekeeper.snapshot() == before
    # Reads need no capability.
    assert task.adjtimex(Timex()) == TIME_ERROR
    assert task.adjtime(None) == 0
    tx = Timex(modes=ADJ_OFFSET_SS_READ)
    task.adjtimex(tx)
    assert tx.offset == 0
    assert ns.timekeeper.snapshot() == before


@pytest.mark.parametrize("cap", ["CAP_SYS_TIME", "CAP_SYS_TIME:host"])
def test_task_with_cap_steers_its_own_timekeeper_only(cap: str) -> None:
    h = make_host()
    a = h.create_namespace("a")
    b = h.create_namespace("b")
    task = a.spawn({cap})
    tx = Timex(modes=ADJ_FREQUENCY, freq=77 << 16)
    task.adjtimex(tx)
    assert tx.freq == 77 << 16
    assert read(a)[1].freq == 77 << 16
    assert read(b)[1].freq == 0 and read(h.root)[1].freq == 0
    assert task.adjtime(250) == 0 and a.adjtime(None) == 250


def test_offsets_namespace_steers_the_host_only_with_cap_over_the_host() -> None:
    h = make_host()
    crit = h.create_namespace("criu", model="offsets")
    crit.set_offsets(monotonic_ns=10 * 86_400 * NSEC)
    local = crit.spawn({"CAP_SYS_TIME"})
    host_cap = crit.spawn({"CAP_SYS_TIME:host"})
    before = h.root.timekeeper.snapshot()
    for caller in (local, crit):  # a task with the local cap, and the namespace's owner
        assert _errno_of(caller.adjtimex, Timex(modes=ADJ_FREQUENCY, freq=1)) == errno.EPERM
        assert _errno_of(caller.adjtime, 10) == errno.EPERM
        setoffset = Timex(modes=ADJ_SETOFFSET, time=(1, 0))
        assert _errno_of(caller.clock_adjtime, CLOCK_REALTIME, setoffset) == errno.EPERM
    assert h.root.timekeeper.snapshot() == before
    # Reading is allowed and shows the host's NTP state.
    result, tx = read(local)
    root_result, root_tx = read(h.root)
    assert (result, tx.status, tx.freq, tx.tai) == (root_result, root_tx.status, 0, TAI0)
    # With CAP_SYS_TIME over the host the call steers the host timekeeper.
    tx = Timex(modes=ADJ_FREQUENCY, freq=-(33 << 16))
    host_cap.adjtimex(tx)
    assert tx.freq == -(33 << 16) == read(h.root)[1].freq
    real_before = h.root.clock_gettime_ns(CLOCK_REALTIME)
    host_cap.clock_adjtime(CLOCK_REALTIME, Timex(modes=ADJ_SETOFFSET, time=(2, 0)))
    assert h.root.clock_gettime_ns(CLOCK_REALTIME) == real_before + 2 * NSEC
    assert crit.clock_gettime_ns(CLOCK_REALTIME) == h.root.clock_gettime_ns(CLOCK_REALTIME)


# --- clock_adjtime on clocks other than CLOCK_REALTIME -----------------------------------------


def cpu_clock(pid: int, which: int, thread: bool = False) -> int:
    """MAKE_PROCESS_CPUCLOCK / MAKE_THREAD_CPUCLOCK: ((~pid) << 3) | clock | perthread."""
    return ((~pid) << 3) | which | (4 if thread else 0)


def fd_clock(fd: int) -> int:
    """FD_TO_CLOCKID: ((~fd) << 3) | CLOCKFD (3)."""
    return ((~fd) << 3) | 3


EOPNOTSUPP_IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, cpu_clock(1234, 2), cpu_clock(1, 0, thread=True)]
EINVAL_IDS = [10, 12, 15, 16, 23, 24, 1000, 2**31 - 1, fd_clock(3), fd_clock(0)]


@pytest.mark.parametrize("version", [None, "6.1", "6.1.192"])
@pytest.mark.parametrize("model", ["timekeeper", "offsets"])
def test_clock_adjtime_errnos_per_clock_id(version: str | None, model: str) -> None:
    h = make_host(version=version)
    ns = h.create_namespace("a", model=model)
    task = ns.spawn()  # no capability: the clock lookup comes before the permission check
    target = h.root if model == "offsets" else ns
    before = target.timekeeper.snapshot()
    for caller in (ns, task):
        for clockid in EOPNOTSUPP_IDS:
            tx = Timex(modes=ADJ_FREQUENCY, freq=1)
            assert _errno_of(caller.clock_adjtime, clockid, tx) == errno.EOPNOTSUPP, clockid
            assert _errno_of(caller.clock_adjtime, clockid, Timex()) == errno.EOPNOTSUPP
        for clockid in EINVAL_IDS:
            tx = Timex(modes=ADJ_FREQUENCY, freq=1)
            assert _errno_of(caller.clock_adjtime, clockid, tx) == errno.EINVAL, clockid
    assert target.timekeeper.snapshot() == before
    assert ns.clock_adjtime(CLOCK_REALTIME, Timex()) == TIME_ERROR


@pytest.mark.parametrize(("hz", "user_hz"), [(1000, 100), (100, 1000), (250, 250)])
def test_tick_range_and_rate_follow_user_hz(hz: int, user_hz: int) -> None:
    """ADJ_TICK is in µs per USER_HZ tick: valid 900000/USER_HZ … 1100000/USER_HZ
    (timekeeping_validate_timex)."""
    h = make_host(hz=hz, user_hz=user_hz)
    ns = h.create_namespace("a")
    nominal = (1_000_000 + user_hz // 2) // user_hz
    lo, hi = 900_000 // user_hz, 1_100_000 // user_hz
    for tick, ok in ((lo - 1, False), (lo, True), (hi, True), (hi + 1, False)):
        if ok:
            tx = Timex(modes=ADJ_TICK, tick=tick)
            ns.adjtimex(tx)
            assert tx.tick == tick
        else:
            assert _errno_of(ns.adjtimex, Timex(modes=ADJ_TICK, tick=tick)) == errno.EINVAL
    ns.adjtimex(Timex(modes=ADJ_TICK, tick=lo))  # 10 % slow, whatever HZ is
    m0, r0 = ns.clock_gettime_ns(CLOCK_MONOTONIC), ns.clock_gettime_ns(CLOCK_MONOTONIC_RAW)
    h.run_for(2 * NSEC)
    dm = ns.clock_gettime_ns(CLOCK_MONOTONIC) - m0
    dr = ns.clock_gettime_ns(CLOCK_MONOTONIC_RAW) - r0
    expect = dr * lo * user_hz // 1_000_000  # lo × USER_HZ µs of MONOTONIC per RAW second
    assert abs(dm - expect) <= 300, (dm, expect)
    assert nominal * user_hz == 1_000_000
