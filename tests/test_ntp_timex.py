"""ntp.timex: constants against include/linux/timex.h and uapi/linux/timex.h, C integer helpers,
Timex."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ntp
from ntp import timex as t
from ntp.timex import Timeval, Timex, div_trunc, rem_trunc, shift_right, to_s32, to_s64, to_u32


def test_mode_bits_match_uapi() -> None:
    assert (t.ADJ_OFFSET, t.ADJ_FREQUENCY, t.ADJ_MAXERROR, t.ADJ_ESTERROR) == (1, 2, 4, 8)
    assert (t.ADJ_STATUS, t.ADJ_TIMECONST, t.ADJ_TAI, t.ADJ_SETOFFSET) == (0x10, 0x20, 0x80, 0x100)
    assert (t.ADJ_MICRO, t.ADJ_NANO, t.ADJ_TICK) == (0x1000, 0x2000, 0x4000)
    assert t.ADJ_ADJTIME == 0x8000
    assert t.ADJ_OFFSET_READONLY == 0x2000 == t.ADJ_NANO
    assert t.ADJ_OFFSET_SINGLESHOT == 0x8001
    assert t.ADJ_OFFSET_SS_READ == 0xA001


def test_status_bits_and_ronly_mask() -> None:
    bits = [
        t.STA_PLL,
        t.STA_PPSFREQ,
        t.STA_PPSTIME,
        t.STA_FLL,
        t.STA_INS,
        t.STA_DEL,
        t.STA_UNSYNC,
        t.STA_FREQHOLD,
        t.STA_PPSSIGNAL,
        t.STA_PPSJITTER,
        t.STA_PPSWANDER,
        t.STA_PPSERROR,
        t.STA_CLOCKERR,
        t.STA_NANO,
        t.STA_MODE,
        t.STA_CLK,
    ]
    assert bits == [1 << i for i in range(16)]
    assert t.STA_RONLY == 0xFF00


def test_states() -> None:
    states = (t.TIME_OK, t.TIME_INS, t.TIME_DEL, t.TIME_OOP, t.TIME_WAIT, t.TIME_ERROR)
    assert states == (0, 1, 2, 3, 4, 5)
    assert t.TIME_BAD == t.TIME_ERROR


def test_ntp_constants_match_reference_numbers() -> None:
    assert t.NTP_SCALE_SHIFT == 32
    assert (t.SHIFT_PLL, t.SHIFT_FLL, t.MAXTC, t.SHIFT_USEC) == (2, 2, 10, 16)
    assert t.PPM_SCALE == 65536000
    assert t.PPM_SCALE_INV_SHIFT == 19
    assert t.PPM_SCALE_INV == 34359739
    assert t.MAXPHASE == 500000000
    assert t.MAXFREQ == 500000
    assert t.MAXFREQ_SCALED == 2147483648000000
    assert (t.MINSEC, t.MAXSEC) == (256, 2048)
    assert t.NTP_PHASE_LIMIT == 16000000
    assert t.MAX_TICKADJ == 500
    assert t.MAX_TAI_OFFSET == 100000
    assert t.MAXFREQ_SCALED // t.PPM_SCALE == 32768000  # tolerance returned


def test_generic_limits() -> None:
    assert (t.NSEC_PER_SEC, t.NSEC_PER_USEC, t.USEC_PER_SEC) == (10**9, 1000, 10**6)
    assert t.KTIME_MAX == 2**63 - 1 == t.LLONG_MAX == t.TIME64_MAX
    assert t.LLONG_MIN == -(2**63)
    assert t.KTIME_SEC_MAX == 9223372036
    assert t.TIME_SETTOD_SEC_MAX == 8277292036
    assert t.USER_HZ == 100


@pytest.mark.parametrize(
    ("x", "s", "expected"),
    [(7, 1, 3), (-7, 1, -3), (-1, 5, 0), (-(2**40), 32, -256), (-(2**40) - 1, 32, -256)],
)
def test_shift_right_is_symmetric(x: int, s: int, expected: int) -> None:
    assert shift_right(x, s) == expected
    assert shift_right(-x, s) == -expected


@pytest.mark.parametrize(
    ("a", "b", "q", "r"),
    [(7, 2, 3, 1), (-7, 2, -3, -1), (7, -2, -3, 1), (-7, -2, 3, -1), (-250000, 300, -833, -100)],
)
def test_div_and_rem_truncate_like_c(a: int, b: int, q: int, r: int) -> None:
    assert div_trunc(a, b) == q
    assert rem_trunc(a, b) == r


def test_wraps() -> None:
    assert to_s64(2**63) == -(2**63)
    assert to_s64(-1) == -1
    assert to_s64(2**64 + 5) == 5
    assert t.to_u64(-1) == 2**64 - 1
    assert to_u32(-1000000) == 4293967296
    assert to_s32(2**31) == -(2**31)
    assert t.clamp(-5, 0, 10) == 0 and t.clamp(15, 0, 10) == 10 and t.clamp(3, 0, 10) == 3


def test_timex_defaults() -> None:
    tx = Timex()
    for name in t.TIMEX_FIELD_RANGES:
        assert getattr(tx, name) == 0
    assert tx.time == (0, 0)
    assert isinstance(tx.time, Timeval)


def test_timex_time_accepts_plain_pair() -> None:
    tx = Timex(time=(1, 2))
    assert type(tx.time) is Timeval
    tx.time = (5, 0)
    assert tx.time == (5, 0)
    assert type(tx.time) is Timeval
    assert tx.time.tv_sec == 5 and tx.time.tv_usec == 0


@pytest.mark.parametrize("bad", [1.5, "3", None, True])
def test_timex_rejects_non_int_with_field_name(bad: object) -> None:
    tx = Timex()
    with pytest.raises(TypeError, match="freq"):
        tx.freq = bad  # type: ignore[assignment]
    with pytest.raises(TypeError, match="offset"):
        Timex(offset=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [(1.0, 0), (0, "1"), (1, 2, 3), 5, [1, 2]])
def test_timex_rejects_bad_time(bad: object) -> None:
    with pytest.raises(TypeError, match="time"):
        Timex(time=bad)  # type: ignore[arg-type]


def test_timex_range_checks_follow_c_types() -> None:
    tx = Timex(freq=t.LLONG_MAX, offset=t.LLONG_MIN, modes=2**32 - 1, status=-(2**31))
    assert tx.freq == t.LLONG_MAX
    with pytest.raises(OverflowError, match="freq"):
        tx.freq = t.LLONG_MAX + 1
    with pytest.raises(OverflowError, match="modes"):
        tx.modes = -1
    with pytest.raises(OverflowError, match="status"):
        tx.status = 2**31
    with pytest.raises(OverflowError, match="tv_usec"):
        tx.time = (0, 2**63)


def test_timex_rejects_unknown_attribute() -> None:
    with pytest.raises(AttributeError):
        Timex().frequency = 5  # type: ignore[attr-defined]


def test_timex_copy_is_independent() -> None:
    tx = Timex(modes=3, freq=7, time=(1, 2))
    cp = tx.copy()
    assert cp == tx and cp is not tx
    cp.freq = 8
    assert tx.freq == 7


def test_package_exports() -> None:
    for name in ("Timex", "Timeval", "NtpState", "KernelBehaviour", "shift_right"):
        assert name in ntp.__all__
    for name in dir(t):
        if name.startswith(("ADJ_", "STA_")) or name in ("TIME_OK", "TIME_BAD", "TIME_ERROR"):
            assert name in ntp.__all__, name
            assert getattr(ntp, name) == getattr(t, name)


# `Timex.__setattr__` stores an in-range plain int after one lookup; anything else goes the
# checked way.  The shortcut must accept and reject exactly what the check does.
_FIELD_NAMES = sorted(t.TIMEX_FIELD_RANGES)


@settings(max_examples=400)
@given(st.sampled_from(_FIELD_NAMES), st.data())
def test_the_assignment_shortcut_accepts_exactly_what_the_check_accepts(
        name: str, data: st.DataObject) -> None:
    lo, hi = t.TIMEX_FIELD_RANGES[name]
    value = data.draw(st.integers(lo - 2, lo + 2) | st.integers(hi - 2, hi + 2)
                      | st.integers(lo, hi) | st.booleans() | st.floats(allow_nan=False))
    tx = Timex()
    try:
        expected: object = t._check_c_int(name, value, (lo, hi))
    except (TypeError, OverflowError) as error:
        with pytest.raises(type(error), match=name):
            setattr(tx, name, value)
        assert getattr(tx, name) == 0  # a refused assignment leaves the field as it was
        return
    setattr(tx, name, value)
    assert getattr(tx, name) == expected and type(getattr(tx, name)) is int


def test_the_written_out_init_takes_the_fields_in_declaration_order() -> None:
    """`Timex.__init__` is written out: its parameters are the dataclass fields, in order,
    positionally and by name, each stored where `dataclasses.fields` says it lives."""
    import dataclasses
    import inspect

    names = [f.name for f in dataclasses.fields(Timex)]
    assert list(inspect.signature(Timex).parameters) == names
    values = [Timeval(7, 8) if name == "time" else i + 1 for i, name in enumerate(names)]
    for tx in (Timex(*values), Timex(**dict(zip(names, values, strict=True)))):
        assert [getattr(tx, name) for name in names] == values
    assert Timex(time=(3, 4)).time == Timeval(3, 4) and type(Timex(time=(3, 4)).time) is Timeval


@settings(max_examples=200)
@given(st.sampled_from([*_FIELD_NAMES, "time"]), st.data())
def test_init_refuses_what_the_assignment_refuses(name: str, data: st.DataObject) -> None:
    value = data.draw(st.integers(-(2**64), 2**64) | st.booleans() | st.floats(allow_nan=False)
                      | st.tuples(st.integers(-(2**64), 2**64), st.integers(-(2**64), 2**64)))
    try:
        setattr(Timex(), name, value)
    except (TypeError, OverflowError) as error:
        with pytest.raises(type(error), match=name.split(".")[0]):
            Timex(**{name: value})
        return
    assert getattr(Timex(**{name: value}), name) == getattr(_assigned(name, value), name)


def _assigned(name: str, value: object) -> Timex:
    tx = Timex()
    setattr(tx, name, value)
    return tx
