"""NtpState: boot values, adjtimex processing, second_overflow, leap seconds, versions.

Expected values are computed here from the kernel's formulas (kernel/time/ntp.c) with literal
numbers or an
independent helper, never with the implementation's own helpers.
"""

from __future__ import annotations

import errno
from typing import Any, NamedTuple

import gmpy2
import pytest

from ntp import (
    ADJ_ESTERROR,
    ADJ_FREQUENCY,
    ADJ_MAXERROR,
    ADJ_NANO,
    ADJ_OFFSET,
    ADJ_OFFSET_SINGLESHOT,
    ADJ_OFFSET_SS_READ,
    ADJ_STATUS,
    ADJ_TAI,
    ADJ_TICK,
    ADJ_TIMECONST,
    STA_CLOCKERR,
    STA_DEL,
    STA_FLL,
    STA_FREQHOLD,
    STA_INS,
    STA_MODE,
    STA_NANO,
    STA_PLL,
    STA_PPSERROR,
    STA_PPSFREQ,
    STA_PPSJITTER,
    STA_PPSSIGNAL,
    STA_PPSTIME,
    STA_PPSWANDER,
    STA_UNSYNC,
    TIME_DEL,
    TIME_ERROR,
    TIME_INS,
    TIME_OK,
    TIME_OOP,
    TIME_WAIT,
    KernelBehaviour,
    NtpState,
    Timex,
)
from ntp.kernel import is_error_status
from ntp.timex import KTIME_MAX, LLONG_MAX, TIME64_MAX
from ntp.trace import disable, enable

DAY = 86400
MIDNIGHT = DAY * 20000  # a UTC midnight
NOW = MIDNIGHT - 1000


def sym_shift(x: int, s: int) -> int:
    """Independent symmetric right shift for expectations."""
    return -((-x) >> s) if x < 0 else x >> s


class Reply(NamedTuple):
    tx: Timex
    result: int
    tai: int


def adj(st: NtpState, modes: int = 0, *, now: int = NOW, tai: int = 0, **fields: Any) -> Reply:
    """A privileged adjtimex at REALTIME ``now`` (ns part 0.25 s): validate, then the NTP call."""
    tx = Timex(modes=modes, **fields)
    st.validate_timex(tx, True)
    result, new_tai = st.adjtimex(tx, now, 250_000_000, now, tai)
    return Reply(tx, result, new_tai)


def call(st: NtpState, modes: int = 0, *, now: int = NOW, tai: int = 0, **fields: Any) -> Timex:
    """``adj`` when only the filled-in Timex matters."""
    return adj(st, modes, now=now, tai=tai, **fields).tx


def synced(hz: int = 1000, version: str | None = None) -> NtpState:
    """leap-a-day's clear_time_state: maxerror 0 and status 0, so adjtimex reports the plain
    time_state for the next 32000 s (from maxerror 16 s it would be unsynced after 1 s)."""
    st = NtpState(hz, behaviour=KernelBehaviour.from_version(version))
    call(st, ADJ_MAXERROR | ADJ_STATUS, maxerror=0, status=0)
    return st


# --- boot ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("hz", "tick_length"),
    [
        (1000, 4294967296000000),
        (250, 17179869184000000),
        (300, 14316557653333333),
        (100, 42949672960000000),
    ],
)
def test_boot_tick_length(hz: int, tick_length: int) -> None:
    st = NtpState(hz)
    assert st.tick_length == st.tick_length_base == tick_length


def test_boot_values() -> None:
    st = NtpState(250)
    assert st.tick_usec == 10000
    assert (st.time_state, st.time_status) == (TIME_OK, STA_UNSYNC)
    assert (st.time_offset, st.time_constant, st.time_freq) == (0, 2, 0)
    assert st.time_maxerror == st.time_esterror == 16000000
    assert (st.time_reftime, st.time_adjust, st.ntp_tick_adj) == (0, 0, 0)
    assert st.ntp_next_leap_sec == TIME64_MAX
    assert st.get_next_leap() == KTIME_MAX
    assert not st.needs_per_second_hook()


def test_ntp_tick_adj_boot_parameter_shifts_base() -> None:
    st = NtpState(1000, ntp_tick_adj=1000)
    assert st.ntp_tick_adj == 1000 << 32
    assert st.tick_length_base == ((10**9 << 32) + (1000 << 32)) // 1000


@pytest.mark.parametrize("kwargs", [{"hz": 0}, {"hz": -100}, {"hz": 1000, "user_hz": 0}])
def test_constructor_rejects_bad_rates(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        NtpState(**kwargs)
    with pytest.raises(TypeError):
        NtpState(100.0)  # type: ignore[arg-type]


def test_fresh_read_is_time_error_with_unsync() -> None:
    st = NtpState(1000)
    tx = Timex()
    st.validate_timex(tx, False)
    result, tai = st.adjtimex(tx, 1234, 567_891_234, 1234, 37)
    assert (result, tai) == (TIME_ERROR, 37)
    assert tx.status == 0x40
    assert (tx.offset, tx.freq, tx.maxerror, tx.esterror) == (0, 0, 16000000, 16000000)
    assert (tx.constant, tx.precision, tx.tolerance, tx.tick, tx.tai) == (2, 1, 32768000, 10000, 37)
    assert tx.time == (1234, 567891)
    assert (tx.ppsfreq, tx.jitter, tx.shift, tx.stabil) == (0, 0, 0, 0)
    assert (tx.jitcnt, tx.calcnt, tx.errcnt, tx.stbcnt) == (0, 0, 0, 0)


def test_read_changes_nothing() -> None:
    st = synced()
    before = NtpState.from_dict(st.to_dict())
    call(st, 0)
    assert st == before


def test_time_readback_in_ns_mode() -> None:
    st = synced()
    assert call(st, ADJ_NANO).time == (NOW, 250_000_000)


# --- TAI, TIMECONST, maxerror --------------------------------------------------------------
def test_set_tai_1_to_60() -> None:
    st = synced()
    tai = 0
    for i in range(1, 61):
        tai = adj(st, ADJ_TAI, constant=i, tai=tai).tai
        assert tai == i
        assert call(st, 0, tai=tai).tai == i


@pytest.mark.parametrize("bad", [-1, 100001, LLONG_MAX])
def test_tai_out_of_range_is_ignored(bad: int) -> None:
    st = synced()
    assert adj(st, ADJ_TAI, constant=bad, tai=37).tai == 37


def test_tai_zero_since_5_2() -> None:
    assert adj(synced(), ADJ_TAI, constant=0, tai=37).tai == 0
    assert adj(synced(version="5.1"), ADJ_TAI, constant=0, tai=37).tai == 37


@pytest.mark.parametrize(
    ("modes", "constant", "internal"),
    [(0, 2, 6), (0, 0, 4), (0, 6, 10), (0, 20, 10), (ADJ_NANO, 2, 2), (ADJ_NANO, 11, 10)],
)
def test_timeconst_readback(modes: int, constant: int, internal: int) -> None:
    st = synced()
    tx = call(st, ADJ_TIMECONST | modes, constant=constant)
    assert tx.constant == st.time_constant == internal
    assert call(st, 0).constant == internal


@pytest.mark.parametrize(
    ("version", "constant", "internal"),
    [
        (None, -5, 4),
        ("5.6", -5, 0),
        ("6.1", -5, 0),
        ("6.11", -5, 4),
        (None, LLONG_MAX, 10),
        ("5.6", LLONG_MAX, 0),
    ],
)
def test_timeconst_version_difference(version: str | None, constant: int, internal: int) -> None:
    st = synced(version=version)
    assert call(st, ADJ_TIMECONST, constant=constant).constant == internal


@pytest.mark.parametrize(
    ("version", "value", "stored"),
    [
        (None, -5, 0),
        (None, 20000000, 16000000),
        (None, 1234, 1234),
        ("6.1", -5, -5),
        ("6.1", 20000000, 20000000),
        ("5.6", 1234, 1234),
    ],
)
def test_maxerror_esterror_clamp_by_version(version: str | None, value: int, stored: int) -> None:
    st = synced(version=version)
    tx = call(st, ADJ_MAXERROR | ADJ_ESTERROR, maxerror=value, esterror=value)
    assert (tx.maxerror, tx.esterror) == (stored, stored)


def test_unclamped_maxerror_wraps_like_the_old_kernel() -> None:
    st = synced(version="6.1")
    call(st, ADJ_MAXERROR, maxerror=LLONG_MAX)
    st.second_overflow(NOW)
    assert st.time_maxerror == -(2**63) + 499
    assert not st.time_status & STA_UNSYNC


def test_maxerror_grows_500_per_second_and_unsyncs_at_32001() -> None:
    st = synced()
    call(st, ADJ_MAXERROR, maxerror=0)
    for second in range(1, 32001):
        st.second_overflow(NOW + second)
        assert not st.time_status & STA_UNSYNC
    assert st.time_maxerror == 16000000
    st.second_overflow(NOW + 32001)
    assert st.time_status & STA_UNSYNC
    assert st.time_maxerror == 16000000
    r = adj(st, 0)
    assert r.tx.status & STA_UNSYNC and r.result == TIME_ERROR


@pytest.mark.parametrize("count", [0, 1, 31999, 32000, 32001, 10**6])
def test_advance_quiet_seconds_matches_loop(count: int) -> None:
    a, b = synced(), synced()
    for st in (a, b):
        call(st, ADJ_MAXERROR, maxerror=1000)
    a.advance_quiet_seconds(count)
    for second in range(min(count, 32002)):
        b.second_overflow(NOW + second)
    assert a == b


def test_advance_quiet_seconds_refuses_busy_state() -> None:
    st = synced()
    call(st, ADJ_OFFSET_SINGLESHOT, offset=100)
    with pytest.raises(ValueError):
        st.advance_quiet_seconds(5)


# --- adjtime(3) ----------------------------------------------------------------------------
@pytest.mark.parametrize("hz", [100, 250, 300, 1000])
@pytest.mark.parametrize("sign", [1, -1])
def test_adjtime_slew(hz: int, sign: int) -> None:
    st = synced(hz)
    base = st.tick_length_base
    tx = call(st, ADJ_OFFSET_SINGLESHOT, offset=sign * 1250)
    assert tx.offset == 0
    full = (500 * 1000 << 32) // hz
    rest_ns = 250 * 1000 // hz  # positive, so floor == C truncation
    steps = [sign * full, sign * full, sign * (rest_ns << 32), 0]
    for step in steps:
        st.second_overflow(NOW)
        assert st.tick_length - base == step
    assert st.time_adjust == 0


def test_adjtime_readonly_reports_pending_slew() -> None:
    st = synced()
    call(st, ADJ_OFFSET_SINGLESHOT, offset=2000)
    st.second_overflow(NOW)
    tx = Timex(modes=ADJ_OFFSET_SS_READ)
    st.validate_timex(tx, False)
    st.adjtimex(tx, NOW, 0, NOW, 0)
    assert tx.offset == 1500 == st.time_adjust
    assert not st.time_status & STA_NANO  # the READONLY bit is not ADJ_NANO here
    tx = call(st, ADJ_OFFSET_SINGLESHOT, offset=-7)
    assert tx.offset == 1500 and st.time_adjust == -7


# --- PLL / FLL -------------------------------------------------------------------------------
@pytest.mark.parametrize("hz", [1000, 300])
@pytest.mark.parametrize("constant", [0, 2, 6, 10])
@pytest.mark.parametrize("nano", [False, True])
@pytest.mark.parametrize("sign", [1, -1])
def test_pll_phase_decay(hz: int, constant: int, nano: bool, sign: int) -> None:
    st = synced(hz)
    unit = ADJ_NANO if nano else 0
    call(st, ADJ_STATUS | unit, status=STA_PLL)
    offset = sign * (100_000_000 if nano else 100_000)
    call(st, ADJ_OFFSET | ADJ_TIMECONST | unit, offset=offset, constant=constant)
    tc = constant if nano else min(constant + 4, 10)
    remaining = sign * ((100_000_000 << 32) // hz)  # C division of a positive magnitude
    assert st.time_offset == remaining
    assert st.time_freq == 0  # secs == 0: no frequency change
    base = st.tick_length_base
    for second in range(1, 61):
        chunk = sym_shift(remaining, 2 + tc)
        remaining -= chunk
        st.second_overflow(NOW + second)
        assert st.time_offset == remaining
        assert st.tick_length - base == chunk
        ns = sym_shift(remaining * hz, 32)
        expect = ns if nano else sign * (abs(ns) // 1000)
        assert call(st, 0, now=NOW + second).offset == expect


def test_offset_readback_truncates_at_hz_300() -> None:
    st = synced(300)
    call(st, ADJ_STATUS, status=STA_PLL)
    assert call(st, ADJ_OFFSET, offset=1000).offset == 999


def test_offset_is_clamped_to_half_a_second() -> None:
    st = synced()
    call(st, ADJ_STATUS, status=STA_PLL)
    call(st, ADJ_OFFSET, offset=10**12)
    assert st.time_offset == (500_000_000 << 32) // 1000
    call(st, ADJ_OFFSET | ADJ_NANO, offset=-(10**12))
    assert st.time_offset == -((500_000_000 << 32) // 1000)


def test_offset_ignored_without_pll() -> None:
    st = synced()
    call(st, ADJ_OFFSET, offset=1000)
    assert st.time_offset == 0 and st.time_freq == 0


def fll_case(status: int, secs: int, offset_us: int) -> NtpState:
    st = synced()
    call(st, ADJ_STATUS, status=status, now=NOW)
    call(st, ADJ_OFFSET, offset=offset_us, now=NOW + secs)
    assert st.time_reftime == NOW + secs
    return st


PLL_1MS_TC2 = 33554432000000  # (1e6 ns * 32 s) << (32 - 2*(2+2+2)); secs capped at 1<<(2+1+2)


@pytest.mark.parametrize(
    ("status", "secs", "offset_us", "freq", "mode"),
    [
        (STA_PLL | STA_FLL, 255, 1000, PLL_1MS_TC2, False),
        (STA_PLL | STA_FLL, 256, 1000, PLL_1MS_TC2 + 4194304000000, True),  # (1e6<<30)/256
        (STA_PLL, 256, 1000, PLL_1MS_TC2, False),
        (STA_PLL, 2048, 1000, PLL_1MS_TC2, False),
        (STA_PLL, 2049, 1000, PLL_1MS_TC2 + 524032124938, True),  # (1e6<<30)/2049 truncated
        (STA_PLL | STA_FLL, 300, -1000, -PLL_1MS_TC2 - 3579139413333, True),  # C truncation
        (STA_PLL | STA_FLL | STA_FREQHOLD, 5000, 1000, 0, False),
        (STA_PLL, 16, 100, (100000 * 16) << 20, False),
    ],
)
def test_fll_and_pll_frequency_terms(
    status: int, secs: int, offset_us: int, freq: int, mode: bool
) -> None:
    st = fll_case(status, secs, offset_us)
    assert st.time_freq == freq
    assert bool(st.time_status & STA_MODE) == mode


def test_frequency_readback_after_pll() -> None:
    st = fll_case(STA_PLL | STA_FLL, 256, 1000)
    assert call(st, 0, now=NOW + 256).freq == 576000
    st = fll_case(STA_PLL | STA_FLL, 300, -1000)
    assert call(st, 0, now=NOW + 300).freq == -566613  # symmetric final shift


def test_frequency_is_clamped_after_pll() -> None:
    st = synced()
    call(st, ADJ_FREQUENCY, freq=499 << 16)
    call(st, ADJ_STATUS, status=STA_PLL, now=NOW)
    call(st, ADJ_OFFSET | ADJ_NANO, offset=500_000_000, now=NOW + 3000)
    assert st.time_freq == 2147483648000000


def test_freq_ppm_is_exact() -> None:
    st = synced()
    call(st, ADJ_FREQUENCY, freq=100 << 16)
    assert st.freq_ppm == 100
    call(st, ADJ_FREQUENCY, freq=1)
    assert st.freq_ppm == gmpy2.mpq(1, 65536)


def test_tick_and_frequency_update_tick_length_immediately() -> None:
    st = synced(1000)
    call(st, ADJ_TICK | ADJ_FREQUENCY, tick=9000, freq=-(10 << 16))
    base = ((9000 * 1000 * 100) << 32) - (10 << 16) * 65536000
    assert st.tick_length_base == st.tick_length == base // 1000


# --- offset readback cast (version) --------------------------------------------------------
@pytest.mark.parametrize(("version", "expect"), [(None, -1000), ("6.1", 4293967), ("6.13", -1000)])
def test_negative_us_offset_readback(version: str | None, expect: int) -> None:
    st = synced(version=version)
    call(st, ADJ_STATUS, status=STA_PLL)
    assert call(st, ADJ_OFFSET, offset=-1000).offset == expect
    assert call(st, ADJ_NANO).offset == -1000000


# --- status ----------------------------------------------------------------------------------
def test_pll_off_resets_state_and_drops_unsync_and_nano() -> None:
    st = synced()
    call(st, ADJ_STATUS | ADJ_NANO, status=STA_PLL | STA_INS | STA_UNSYNC)
    st.second_overflow(NOW)
    assert st.time_state == TIME_INS and st.time_status & STA_NANO
    r = adj(st, ADJ_STATUS, status=STA_FLL)
    assert st.time_state == TIME_OK == r.result
    assert st.time_status == r.tx.status == STA_FLL
    assert st.ntp_next_leap_sec == TIME64_MAX
    call(st, ADJ_STATUS, status=STA_PLL)
    call(st, ADJ_STATUS, status=0)
    assert st.time_status == 0


def test_status_keeps_read_only_bits() -> None:
    st = synced()
    call(st, ADJ_NANO)
    call(st, ADJ_STATUS, status=0xFF00 | STA_FLL)
    assert st.time_status == STA_NANO | STA_FLL


def test_pll_on_sets_reftime() -> None:
    st = synced()
    call(st, ADJ_STATUS, status=STA_PLL, now=NOW + 77)
    assert st.time_reftime == NOW + 77


# --- leap seconds ----------------------------------------------------------------------------
def test_leap_insert_full_cycle() -> None:
    st = synced()
    assert adj(st, ADJ_STATUS, status=STA_INS).result == TIME_OK
    assert st.second_overflow(MIDNIGHT - 10) == 0
    assert st.time_state == TIME_INS and st.ntp_next_leap_sec == MIDNIGHT
    assert st.get_next_leap() == MIDNIGHT * 10**9
    assert st.needs_per_second_hook()
    assert adj(st, now=MIDNIGHT - 1).result == TIME_INS
    for secs in range(MIDNIGHT - 9, MIDNIGHT):
        assert st.second_overflow(secs) == 0
    assert st.second_overflow(MIDNIGHT) == -1
    assert st.time_state == TIME_OOP
    assert adj(st, now=MIDNIGHT - 1).result == TIME_OOP  # the repeated 23:59:59
    assert st.second_overflow(MIDNIGHT) == 0  # REALTIME reaches midnight again
    assert st.time_state == TIME_WAIT and st.ntp_next_leap_sec == TIME64_MAX
    assert st.get_next_leap() == KTIME_MAX
    assert st.second_overflow(MIDNIGHT + 1) == 0 and st.time_state == TIME_WAIT
    assert adj(st, now=MIDNIGHT + 1).result == TIME_WAIT
    call(st, ADJ_STATUS, status=0)
    st.second_overflow(MIDNIGHT + 2)
    assert st.time_state == TIME_OK


def test_leap_delete_full_cycle() -> None:
    st = synced()
    call(st, ADJ_STATUS, status=STA_DEL)
    assert st.second_overflow(MIDNIGHT - 10) == 0
    assert st.time_state == TIME_DEL and st.ntp_next_leap_sec == MIDNIGHT - 1
    assert st.get_next_leap() == KTIME_MAX  # only insertions are announced
    assert st.second_overflow(MIDNIGHT - 2) == 0
    assert st.second_overflow(MIDNIGHT - 1) == 1
    assert st.time_state == TIME_WAIT and st.ntp_next_leap_sec == TIME64_MAX
    call(st, ADJ_STATUS, status=0)
    st.second_overflow(MIDNIGHT + 1)
    assert st.time_state == TIME_OK


@pytest.mark.parametrize(
    ("bit", "secs", "next_leap"),
    [
        (STA_INS, MIDNIGHT, MIDNIGHT + DAY),
        (STA_INS, MIDNIGHT - 1, MIDNIGHT),
        (STA_DEL, MIDNIGHT - 1, MIDNIGHT - 1 + DAY),
        (STA_DEL, MIDNIGHT - 2, MIDNIGHT - 1),
        (STA_INS, -10, DAY),
        (STA_DEL, -10, DAY - 1),
    ],  # C % on negative secs
)
def test_next_leap_second_edges(bit: int, secs: int, next_leap: int) -> None:
    st = synced()
    call(st, ADJ_STATUS, status=bit)
    st.second_overflow(secs)
    assert st.ntp_next_leap_sec == next_leap


@pytest.mark.parametrize(("bit", "state"), [(STA_INS, TIME_INS), (STA_DEL, TIME_DEL)])
def test_leap_cancel(bit: int, state: int) -> None:
    st = synced()
    call(st, ADJ_STATUS, status=bit)
    st.second_overflow(MIDNIGHT - 5)
    assert st.time_state == state
    call(st, ADJ_STATUS, status=0)
    assert st.time_state == state  # takes effect at the next second
    assert st.second_overflow(MIDNIGHT - 4) == 0
    assert st.time_state == TIME_OK and st.ntp_next_leap_sec == TIME64_MAX
    for secs in range(MIDNIGHT - 3, MIDNIGHT + 2):
        assert st.second_overflow(secs) == 0


def test_leap_cancel_through_pll_off_is_immediate() -> None:
    st = synced()
    call(st, ADJ_STATUS, status=STA_PLL | STA_INS)
    st.second_overflow(MIDNIGHT - 5)
    call(st, ADJ_STATUS, status=0)
    assert st.time_state == TIME_OK and st.get_next_leap() == KTIME_MAX


def test_leap_read_fixup_insert() -> None:
    st = synced()
    call(st, ADJ_STATUS, status=STA_INS)
    st.second_overflow(MIDNIGHT - 10)
    r = adj(st, now=MIDNIGHT - 1, tai=36)
    assert (r.result, r.tx.time, r.tx.tai) == (TIME_INS, (MIDNIGHT - 1, 250000), 36)
    r = adj(st, now=MIDNIGHT, tai=36)
    assert (r.result, r.tx.time, r.tx.tai) == (TIME_OOP, (MIDNIGHT - 1, 250000), 37)
    assert r.tai == 36  # the timekeeper's own tai is not changed
    st.second_overflow(MIDNIGHT)  # now TIME_OOP
    assert adj(st, now=MIDNIGHT - 1).result == TIME_OOP
    r = adj(st, now=MIDNIGHT, tai=37)
    assert (r.result, r.tx.time.tv_sec, r.tx.tai) == (TIME_WAIT, MIDNIGHT, 37)


def test_leap_read_fixup_overrides_time_error() -> None:
    st = synced()
    call(st, ADJ_STATUS, status=STA_INS | STA_UNSYNC)
    st.second_overflow(MIDNIGHT - 10)
    assert adj(st, now=MIDNIGHT - 1).result == TIME_ERROR
    assert adj(st, now=MIDNIGHT).result == TIME_OOP


def test_leap_read_fixup_delete() -> None:
    st = synced()
    call(st, ADJ_STATUS, status=STA_DEL)
    st.second_overflow(MIDNIGHT - 10)
    r = adj(st, now=MIDNIGHT - 1, tai=37)
    assert (r.result, r.tx.time.tv_sec, r.tx.tai) == (TIME_WAIT, MIDNIGHT, 36)


def test_clear_keeps_freq_constant_state() -> None:
    st = synced()
    call(st, ADJ_STATUS | ADJ_FREQUENCY | ADJ_TIMECONST, status=STA_PLL | STA_INS, freq=5 << 16)
    call(st, ADJ_OFFSET, offset=300)
    call(st, ADJ_OFFSET_SINGLESHOT, offset=900)
    st.second_overflow(MIDNIGHT - 10)
    st.clear()
    assert (st.time_adjust, st.time_offset) == (0, 0)
    assert st.time_status & STA_UNSYNC and st.time_status & STA_INS
    assert st.tick_length == st.tick_length_base
    assert (
        st.time_state == TIME_INS and st.time_freq == (5 << 16) * 65536000 and st.time_constant == 4
    )
    assert st.ntp_next_leap_sec == TIME64_MAX and st.get_next_leap() == KTIME_MAX


def test_needs_per_second_hook() -> None:
    st = synced()
    assert not st.needs_per_second_hook()
    call(st, ADJ_FREQUENCY | ADJ_TICK, freq=100 << 16, tick=9500)
    assert not st.needs_per_second_hook()
    call(st, ADJ_OFFSET_SINGLESHOT, offset=1)
    assert st.needs_per_second_hook()
    st.second_overflow(NOW)
    assert st.needs_per_second_hook()  # tick_length still carries the last slew
    st.second_overflow(NOW + 1)
    assert not st.needs_per_second_hook()


# --- checkpoints, equality, tracing, versions ------------------------------------------------
def test_to_dict_round_trip_and_eq() -> None:
    st = synced(250, "6.1")
    call(st, ADJ_STATUS, status=STA_PLL | STA_INS)
    call(st, ADJ_OFFSET, offset=-321)
    st.second_overflow(MIDNIGHT - 3)
    d = st.to_dict()
    assert d["hz"] == 250 and d["user_hz"] == 100 and d["behaviour"] == "6.1"
    assert all(type(v) is int for k, v in d.items() if k not in ("behaviour", "behaviour_flags"))
    copy = NtpState.from_dict(d)
    assert copy == st and copy.behaviour == st.behaviour
    copy.second_overflow(MIDNIGHT - 2)
    assert copy != st
    d.pop("behaviour_flags")
    assert NtpState.from_dict(d).behaviour == KernelBehaviour.from_version("6.1")


def test_trace_events() -> None:
    events: list[tuple[str, dict[str, Any]]] = []

    class Sink:
        def info(self, event: str, **fields: Any) -> None:
            events.append((event, fields))

    st = synced()
    enable(Sink())
    try:
        call(st, ADJ_STATUS, status=STA_INS)
        st.second_overflow(MIDNIGHT - 1)
        st.second_overflow(MIDNIGHT)
    finally:
        disable()
    assert events[0] == (
        "adjtimex",
        {"modes": ADJ_STATUS, "result": 0, "status": STA_INS, "tai": 0},
    )
    transitions = [f for e, f in events if e == "leap_transition"]
    assert transitions == [
        {"from_state": "TIME_OK", "to_state": "TIME_INS", "secs": MIDNIGHT - 1},
        {"from_state": "TIME_INS", "to_state": "TIME_OOP", "secs": MIDNIGHT},
    ]


@pytest.mark.parametrize(
    ("version", "pre", "maxerr", "cast", "clears", "tai0"),
    [
        (None, True, True, False, False, True),
        ("mainline", True, True, False, False, True),
        ("6.1", False, False, True, True, True),
        ("6.1.192", True, True, False, True, True),  # stable backports, ntp.version
        ("6.1.0-28-amd64", False, False, True, True, True),
        ("5.6", False, False, True, True, True),
        ("5.1", False, False, True, True, False),
        ("5.0.21", False, False, False, True, False),
        ("6.10.14", False, False, True, True, True),
        ("6.11", True, True, True, True, True),
        ("6.12.5", True, True, True, True, True),
        ("6.13", True, True, False, False, True),
        ("6.17.1", True, True, False, False, True),
    ],
)
def test_version_flags(
    version: str | None, pre: bool, maxerr: bool, cast: bool, clears: bool, tai0: bool
) -> None:
    b = KernelBehaviour.from_version(version)
    assert (b.timeconst_preclamp, b.maxerror_clamp) == (pre, maxerr)
    assert (b.offset_readback_u32_cast, b.setoffset_error_clears_ntp) == (cast, clears)
    assert b.adj_tai_zero_allowed == tai0
    assert b.clock_adjtime_other_clocks_errno == errno.EOPNOTSUPP


@pytest.mark.parametrize("bad", ["", "6", "6.x", "v6.1", "latest", "6.1.2.3", "6..1"])
def test_bad_version_strings(bad: str) -> None:
    with pytest.raises(ValueError, match="accepted forms"):
        KernelBehaviour.from_version(bad)
    with pytest.raises(TypeError):
        KernelBehaviour.from_version(6.1)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [None, "6.1", "5.6"])
def test_clock_adjtime_errno(version: str | None) -> None:
    b = KernelBehaviour.from_version(version)
    assert b.clock_adjtime_errno(0) == 0
    for clockid in (1, 2, 3, 4, 5, 6, 7, 8, 9, 11, -6):
        assert b.clock_adjtime_errno(clockid) == errno.EOPNOTSUPP
    for clockid in (10, 12, 16, 1000):
        assert b.clock_adjtime_errno(clockid) == errno.EINVAL


def test_behaviour_dict_round_trip() -> None:
    b = KernelBehaviour.from_version("5.6")
    assert KernelBehaviour.from_dict(b.to_dict()) == b
    assert KernelBehaviour.from_version("mainline").key > KernelBehaviour.from_version("99.0").key


def test_frequency_change_keeps_running_slew() -> None:
    st = synced(1000)
    call(st, ADJ_OFFSET_SINGLESHOT, offset=5000)
    st.second_overflow(NOW)
    slew = (500 * 1000 << 32) // 1000
    assert st.tick_length - st.tick_length_base == slew
    call(st, ADJ_FREQUENCY, freq=-(200 << 16))
    assert st.tick_length_base == ((10**9 << 32) - (200 << 16) * 65536000) // 1000
    assert st.tick_length - st.tick_length_base == slew


def test_pps_status_bits_are_not_errors_without_pps() -> None:
    st = synced()
    r = adj(st, ADJ_STATUS, status=STA_PPSFREQ | STA_PPSTIME)
    assert r.result == TIME_OK
    assert is_error_status(STA_CLOCKERR) and is_error_status(STA_UNSYNC)
    assert not is_error_status(STA_PPSFREQ | STA_PPSTIME | STA_PPSJITTER | STA_PPSWANDER)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (STA_PPSFREQ, True),
        (STA_PPSTIME, True),
        (STA_PPSFREQ | STA_PPSSIGNAL, False),
        (STA_PPSTIME | STA_PPSSIGNAL, False),
        (STA_PPSTIME | STA_PPSSIGNAL | STA_PPSJITTER, True),
        (STA_PPSFREQ | STA_PPSSIGNAL | STA_PPSJITTER, False),
        (STA_PPSFREQ | STA_PPSSIGNAL | STA_PPSWANDER, True),
        (STA_PPSFREQ | STA_PPSSIGNAL | STA_PPSERROR, True),
        (STA_PPSTIME | STA_PPSSIGNAL | STA_PPSERROR, False),
        (STA_PLL, False),
        (STA_CLOCKERR, True),
    ],
)
def test_is_error_status_with_pps(status: int, error: bool) -> None:
    assert is_error_status(status, pps=True) is error
