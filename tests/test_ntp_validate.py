"""timekeeping_validate_timex (timekeeping_validate_timex) and the selftests' vectors of
selftests/timers/valid-adjtimex.c."""

from __future__ import annotations

import errno

import pytest

from ntp import (
    ADJ_ADJTIME,
    ADJ_FREQUENCY,
    ADJ_MICRO,
    ADJ_NANO,
    ADJ_OFFSET,
    ADJ_OFFSET_SINGLESHOT,
    ADJ_OFFSET_SS_READ,
    ADJ_SETOFFSET,
    ADJ_STATUS,
    ADJ_TICK,
    STA_NANO,
    NtpState,
    Timex,
)
from ntp.timex import LLONG_MAX, LLONG_MIN

NOW = 1_700_000_000


def call(state: NtpState, tx: Timex, cap: bool = True) -> int:
    """do_adjtimex without the SETOFFSET injection: validate, then the NTP call."""
    state.validate_timex(tx, cap)
    result, _tai = state.adjtimex(tx, NOW, 0, NOW, 0)
    return result


def rejected(state: NtpState, tx: Timex, cap: bool = True) -> int:
    """The errno validate_timex raises; also checks that it left the state untouched."""
    before = NtpState.from_dict(state.to_dict())
    with pytest.raises(OSError) as info:
        state.validate_timex(tx, cap)
    assert state == before
    return info.value.errno


@pytest.fixture
def st() -> NtpState:
    """A state after the selftests' clear_time_state (ADJ_STATUS, status 0)."""
    state = NtpState(1000)
    call(state, Timex(modes=ADJ_STATUS, status=0))
    return state


VALID_PPM = [499, 450, 400, 350, 300, 250, 200, 150, 100, 75, 50, 25, 10, 5, 1]
VALID_FREQS = [p << 16 for p in VALID_PPM] + [-(p << 16) for p in VALID_PPM] + [-1000, 0]


def test_valid_list_has_32_entries() -> None:
    assert len(VALID_FREQS) == 32


@pytest.mark.parametrize("freq", VALID_FREQS)
def test_valid_frequency_reads_back_exactly(st: NtpState, freq: int) -> None:
    tx = Timex(modes=ADJ_FREQUENCY, freq=freq)
    assert call(st, tx) >= 0
    assert tx.freq == freq
    read = Timex()
    call(st, read, cap=False)
    assert read.freq == freq


@pytest.mark.parametrize(
    ("freq", "readback"),
    [
        (550 << 16, 32768000),
        (-(550 << 16), -32768000),
        (1000 << 16, 32768000),
        (-(1000 << 16), -32768000),
        (140737488355, 32768000),
        (-140737488355, -32768000),
    ],
)
def test_out_of_range_frequency_is_clamped_not_rejected(
    st: NtpState, freq: int, readback: int
) -> None:
    tx = Timex(modes=ADJ_FREQUENCY, freq=freq)
    assert call(st, tx) >= 0
    assert tx.freq == readback != freq
    assert abs(st.time_freq) == 2147483648000000


@pytest.mark.parametrize("freq", [LLONG_MAX, LLONG_MIN, 140737488356, -140737488356])
def test_frequency_that_would_overflow_is_einval(st: NtpState, freq: int) -> None:
    assert rejected(st, Timex(modes=ADJ_FREQUENCY, freq=freq)) == errno.EINVAL


def test_frequency_check_applies_in_adjtime_mode_too(st: NtpState) -> None:
    tx = Timex(modes=ADJ_OFFSET_SINGLESHOT | ADJ_FREQUENCY, freq=LLONG_MAX)
    assert rejected(st, tx) == errno.EINVAL


NS_OK = [(0, 999999999), (-1, 1), (-2, 999999999), (5, 0), (-5, 0), (5, 500000000), (-6, 500000000)]
US_OK = [(0, 999999), (-1, 1), (-2, 999999), (5, 0), (-5, 0), (5, 500000), (-6, 500000)]
BAD = [
    ((0, -1), True),
    ((0, -1), False),
    ((0, 2 * 10**9), True),
    ((0, 2 * 10**6), False),
    ((0, 10**9), True),
    ((0, 10**6), False),
    ((0, -(10**9)), True),
    ((0, -(10**6)), False),
]


@pytest.mark.parametrize("tv", NS_OK)
def test_setoffset_ns_accepted(st: NtpState, tv: tuple[int, int]) -> None:
    tx = Timex(modes=ADJ_SETOFFSET | ADJ_NANO, time=tv)
    st.validate_timex(tx, True)
    call(st, tx)
    assert st.time_status & STA_NANO  # ADJ_NANO rides along, as in the kernel


@pytest.mark.parametrize("tv", US_OK)
def test_setoffset_us_accepted(st: NtpState, tv: tuple[int, int]) -> None:
    st.validate_timex(Timex(modes=ADJ_SETOFFSET | ADJ_MICRO, time=tv), True)
    st.validate_timex(Timex(modes=ADJ_SETOFFSET, time=tv), True)


@pytest.mark.parametrize(("tv", "nano"), BAD)
def test_setoffset_rejected(st: NtpState, tv: tuple[int, int], nano: bool) -> None:
    modes = ADJ_SETOFFSET | (ADJ_NANO if nano else 0)
    assert rejected(st, Timex(modes=modes, time=tv)) == errno.EINVAL


def test_setoffset_without_cap_is_eperm_even_in_readonly_adjtime(st: NtpState) -> None:
    assert rejected(st, Timex(modes=ADJ_SETOFFSET), cap=False) == errno.EPERM
    tx = Timex(modes=ADJ_OFFSET_SS_READ | ADJ_SETOFFSET, time=(0, -1))
    assert rejected(st, tx, cap=False) == errno.EPERM
    assert rejected(st, tx, cap=True) == errno.EINVAL


def test_modes_without_cap_is_eperm(st: NtpState) -> None:
    for modes in (ADJ_STATUS, ADJ_FREQUENCY, ADJ_OFFSET, ADJ_NANO, ADJ_TICK):
        assert rejected(st, Timex(modes=modes, tick=10000), cap=False) == errno.EPERM
    with pytest.raises(PermissionError):
        st.validate_timex(Timex(modes=ADJ_STATUS), False)


def test_read_needs_no_cap(st: NtpState) -> None:
    st.validate_timex(Timex(), False)
    st.validate_timex(Timex(modes=ADJ_OFFSET_SS_READ), False)


def test_adjtime_write_without_cap_is_eperm(st: NtpState) -> None:
    assert rejected(st, Timex(modes=ADJ_OFFSET_SINGLESHOT, offset=5), cap=False) == errno.EPERM


@pytest.mark.parametrize("modes", [ADJ_ADJTIME, ADJ_ADJTIME | ADJ_NANO, ADJ_ADJTIME | ADJ_STATUS])
def test_adjtime_without_singleshot_bit_is_einval(st: NtpState, modes: int) -> None:
    assert rejected(st, Timex(modes=modes), cap=True) == errno.EINVAL
    assert rejected(st, Timex(modes=modes), cap=False) == errno.EINVAL  # checked before EPERM


@pytest.mark.parametrize(
    ("tick", "ok"),
    [(8999, False), (9000, True), (10000, True), (11000, True), (11001, False), (-10000, False)],
)
def test_tick_range_at_user_hz_100(st: NtpState, tick: int, ok: bool) -> None:
    tx = Timex(modes=ADJ_TICK, tick=tick)
    if ok:
        call(st, tx)
        assert st.tick_usec == tick == tx.tick
    else:
        assert rejected(st, tx) == errno.EINVAL


def test_tick_range_uses_user_hz_not_hz() -> None:
    state = NtpState(hz=250, user_hz=1000)
    state.validate_timex(Timex(modes=ADJ_TICK, tick=900), True)
    state.validate_timex(Timex(modes=ADJ_TICK, tick=1100), True)
    assert rejected(state, Timex(modes=ADJ_TICK, tick=899)) == errno.EINVAL
    assert rejected(state, Timex(modes=ADJ_TICK, tick=9000)) == errno.EINVAL


def test_tick_not_checked_in_adjtime_mode(st: NtpState) -> None:
    st.validate_timex(Timex(modes=ADJ_OFFSET_SINGLESHOT | ADJ_TICK, tick=1), True)


def test_eperm_comes_before_tick_einval(st: NtpState) -> None:
    assert rejected(st, Timex(modes=ADJ_TICK, tick=1), cap=False) == errno.EPERM


def test_error_messages_name_the_check(st: NtpState) -> None:
    with pytest.raises(OSError, match="ADJ_TICK"):
        st.validate_timex(Timex(modes=ADJ_TICK, tick=1), True)
    with pytest.raises(OSError, match="ADJ_SETOFFSET"):
        st.validate_timex(Timex(modes=ADJ_SETOFFSET, time=(0, -1)), True)
    with pytest.raises(OSError, match="ADJ_FREQUENCY"):
        st.validate_timex(Timex(modes=ADJ_FREQUENCY, freq=LLONG_MAX), True)
