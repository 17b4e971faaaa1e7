"""Property tests: random adjtimex/second_overflow sequences keep NtpState's invariants."""

from __future__ import annotations

import dataclasses
import errno
from functools import reduce
from operator import or_

from hypothesis import event, given, settings
from hypothesis import strategies as st

from ntp import (
    ADJ_ADJTIME,
    ADJ_ESTERROR,
    ADJ_FREQUENCY,
    ADJ_MAXERROR,
    ADJ_MICRO,
    ADJ_NANO,
    ADJ_OFFSET,
    ADJ_OFFSET_READONLY,
    ADJ_OFFSET_SINGLESHOT,
    ADJ_OFFSET_SS_READ,
    ADJ_SETOFFSET,
    ADJ_STATUS,
    ADJ_TAI,
    ADJ_TICK,
    ADJ_TIMECONST,
    STA_DEL,
    STA_FLL,
    STA_FREQHOLD,
    STA_INS,
    STA_PLL,
    KernelBehaviour,
    NtpState,
    Timex,
    shift_right,
)
from ntp.timex import (
    LLONG_MAX,
    LLONG_MIN,
    MAXFREQ_SCALED,
    MAXPHASE,
    MAXTC,
    div_trunc,
    rem_trunc,
)

FAST = settings(max_examples=200, deadline=None)
MIDNIGHT = 86400 * 20000
S64 = st.integers(LLONG_MIN, LLONG_MAX)
MODE_BITS = [
    ADJ_OFFSET,
    ADJ_FREQUENCY,
    ADJ_MAXERROR,
    ADJ_ESTERROR,
    ADJ_STATUS,
    ADJ_TIMECONST,
    ADJ_TAI,
    ADJ_SETOFFSET,
    ADJ_MICRO,
    ADJ_NANO,
    ADJ_TICK,
]
STATUSES = [
    0,
    STA_PLL,
    STA_INS,
    STA_DEL,
    STA_PLL | STA_INS,
    STA_PLL | STA_FLL,
    STA_PLL | STA_DEL,
    STA_PLL | STA_FREQHOLD,
]

modes_st = st.one_of(
    st.just(0),
    st.sampled_from([ADJ_OFFSET_SINGLESHOT, ADJ_OFFSET_SS_READ, ADJ_ADJTIME]),
    st.lists(st.sampled_from(MODE_BITS), max_size=4).map(lambda bits: reduce(or_, bits, 0)),
    st.integers(0, 0xFFFF),
)
timex_st = st.builds(
    Timex,
    modes=modes_st,
    offset=st.one_of(st.integers(-2_000_000, 2_000_000), st.integers(-(10**9), 10**9), S64),
    freq=st.one_of(st.integers(-(600 << 16), 600 << 16), st.integers(-(2**38), 2**38), S64),
    maxerror=st.one_of(st.integers(-10, 20_000_000), S64),
    esterror=st.one_of(st.integers(-10, 20_000_000), S64),
    status=st.one_of(st.sampled_from(STATUSES), st.integers(-(2**31), 2**31 - 1)),
    constant=st.one_of(st.integers(-20, 40), st.integers(-1, 100_001), S64),
    tick=st.one_of(st.integers(8990, 11010), S64),
    time=st.tuples(st.integers(-10, 10), st.one_of(st.integers(-2, 10**9 + 1), S64)),
)
op_st = st.one_of(
    st.tuples(st.just("adj"), timex_st, st.sampled_from([True, True, True, False])),
    st.tuples(
        st.just("adj"),
        st.builds(Timex, modes=st.just(ADJ_STATUS), status=st.sampled_from(STATUSES)),
        st.just(True),
    ),
    st.tuples(st.just("tick"), st.integers(1, 12)),
    st.tuples(st.just("jump"), st.integers(-30, 30)),
)
world_st = st.tuples(
    st.sampled_from([100, 250, 300, 1000]),
    st.sampled_from([None, "6.1", "5.6"]),
    st.integers(MIDNIGHT - 40, MIDNIGHT + 2),
    st.lists(op_st, max_size=25),
)

#: Timex fields a modes=0 read right after a call must reproduce (``offset`` only outside the
#: adjtime(3) path, which reports the old adjtime slew instead of the PLL phase).
STABLE_FIELDS = [f.name for f in dataclasses.fields(Timex) if f.name not in ("modes", "offset")]


def expected_errno(tx: Timex, cap: bool, user_hz: int) -> int:
    """timekeeping_validate_timex, written out independently of the implementation."""
    modes = tx.modes
    if modes & ADJ_ADJTIME:
        if not modes & 1:
            return errno.EINVAL
        if not modes & ADJ_OFFSET_READONLY and not cap:
            return errno.EPERM
    else:
        if modes and not cap:
            return errno.EPERM
        if modes & ADJ_TICK and not 900000 // user_hz <= tx.tick <= 1100000 // user_hz:
            return errno.EINVAL
    if modes & ADJ_SETOFFSET:
        if not cap:
            return errno.EPERM
        limit = 10**9 if modes & ADJ_NANO else 10**6
        if not 0 <= tx.time.tv_usec < limit:
            return errno.EINVAL
    if modes & ADJ_FREQUENCY and not -140737488355 <= tx.freq <= 140737488355:
        return errno.EINVAL
    return 0


def check_invariants(ntp: NtpState) -> None:
    assert -MAXFREQ_SCALED <= ntp.time_freq <= MAXFREQ_SCALED
    assert 0 <= ntp.time_constant <= MAXTC
    assert 0 <= ntp.tick_length < 2**64 and 0 <= ntp.tick_length_base < 2**64
    assert abs(ntp.time_offset) <= (MAXPHASE << 32) // ntp.hz
    assert 0 <= ntp.time_state <= 4
    assert -(2**31) <= ntp.time_status < 2**31
    assert NtpState.from_dict(ntp.to_dict()) == ntp


def run_adjtimex(ntp: NtpState, tx: Timex, cap: bool, now: int, tai: int) -> int:
    """One adjtimex as do_adjtimex would run it; returns the new tai."""
    before = NtpState.from_dict(ntp.to_dict())
    want = expected_errno(tx, cap, ntp.user_hz)
    try:
        ntp.validate_timex(tx, cap)
    except OSError as err:
        event(f"rejected errno {err.errno}")
        assert err.errno == want
        assert ntp == before  # a failed call changes nothing
        return tai
    assert want == 0
    result, tai = ntp.adjtimex(tx, now, 123_456_789, now, tai)
    event(f"adjtimex result {result}")
    if not tx.modes:
        assert ntp == before
    read = Timex()
    snapshot = NtpState.from_dict(ntp.to_dict())
    result2, tai2 = ntp.adjtimex(read, now, 123_456_789, now, tai)
    assert ntp == snapshot and tai2 == tai and result2 == result
    for name in STABLE_FIELDS:
        assert getattr(read, name) == getattr(tx, name), name
    if not tx.modes & ADJ_ADJTIME:
        assert read.offset == tx.offset
    return tai


@FAST
@given(world_st)
def test_random_adjtimex_sequences(world: tuple) -> None:
    hz, version, now, ops = world
    ntp = NtpState(hz, behaviour=KernelBehaviour.from_version(version))
    tai = 37
    for op in ops:
        if op[0] == "adj":
            tai = run_adjtimex(ntp, op[1], op[2], now, tai)
        elif op[0] == "tick":
            for _ in range(op[1]):
                now += 1
                leap = ntp.second_overflow(now)
                assert leap in (-1, 0, 1)
                if leap:
                    event(f"leap {leap}")
                now, tai = now + leap, tai - leap
        else:
            now += op[1]
        check_invariants(ntp)


@FAST
@given(S64, st.integers(0, 63))
def test_shift_right_symmetric(x: int, s: int) -> None:
    assert shift_right(x, s) == -shift_right(-x, s)
    assert abs(shift_right(x, s)) == abs(x) >> s


@FAST
@given(S64, S64.filter(lambda b: b != 0))
def test_c_division(a: int, b: int) -> None:
    q, r = div_trunc(a, b), rem_trunc(a, b)
    assert q * b + r == a
    assert abs(r) < abs(b)
    assert r == 0 or (r < 0) == (a < 0)
