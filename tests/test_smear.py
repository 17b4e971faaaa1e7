"""Tests for ntp.smear: published figures, both leap signs, continuity and exact inverses."""

from __future__ import annotations

from fractions import Fraction

import gmpy2
import pytest
from gmpy2 import mpfr, mpq
from hypothesis import given
from hypothesis import strategies as st

from ntp.leap import LeapTable
from ntp.smear import (
    GRID,
    SHAPES,
    BoundSmear,
    CosineSmear,
    LinearSmear,
    NotInvertible,
    QuadraticSmear,
    SlewAfterLeap,
    Staircase,
    Step,
    UtcSls,
    WindowsHalfSpeed,
    make_shape,
    ppm,
)

L = 1_483_228_800  # 2017-01-01 00:00:00 UTC, after the 2016-12-31 leap
SIGNS = [1, -1]
RATIONAL = [n for n in SHAPES if n != "cosine"]
CONTINUOUS = [n for n in SHAPES if n not in ("step", "fbclock")]


def bound(name: str, sign: int = 1, **params: object) -> BoundSmear:
    return make_shape(name, **params).for_leap(L, sign)


def quarters(b: BoundSmear) -> list[mpq]:
    return [b.lie(b.start + b.duration * mpq(k, 4)) for k in range(5)]


def cosine_lie(fraction: mpq) -> mpfr:
    with gmpy2.context(precision=128):
        return (1 - gmpy2.cos(gmpy2.const_pi() * mpfr(fraction))) / 2


# --- quarter points ----------------------------------------------------------------------------
LINEAR_Q = [mpq(k, 4) for k in range(5)]


@pytest.mark.parametrize("sign", SIGNS)
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("linear-24h", LINEAR_Q),
        ("linear-20h", LINEAR_Q),
        ("chrony-quadratic", [0, mpq(1, 8), mpq(1, 2), mpq(7, 8), 1]),
        ("chrony-slew", LINEAR_Q),
        ("ntpd-slew", LINEAR_Q),
        ("fbclock", LINEAR_Q),
        ("utc-sls", LINEAR_Q),
        ("windows", LINEAR_Q),
    ],
)
def test_rational_quarter_points_are_exact(name: str, expected: list[mpq], sign: int) -> None:
    assert quarters(bound(name, sign)) == expected


@pytest.mark.parametrize("sign", SIGNS)
def test_cosine_quarter_points(sign: int) -> None:
    q = quarters(bound("cosine", sign))
    assert q[0] == 0 and q[2] == mpq(1, 2) and q[4] == 1
    for k, value in enumerate(q):
        assert abs(value - mpq(cosine_lie(mpq(k, 4)))) <= GRID
    assert abs(q[1] - mpq("0.1464466094067262")) < mpq(1, 10**15)
    assert abs(q[3] - mpq("0.8535533905932737")) < mpq(1, 10**15)


# --- windows, rates and peaks ------------------------------------------------------------------
def test_linear_rates_and_windows() -> None:
    aws = bound("linear-24h")
    assert aws.window() == (L - 43_200, L + 43_200)
    assert aws.rate(L - 1) == mpq(-1, 86_400)
    assert aws.rate(L - 43_201) == 0 and aws.rate(L + 43_200) == 0
    g16 = bound("linear-20h")
    assert g16.window() == (L - 36_000, L + 36_000)
    assert g16.peak_rate() == mpq(1, 72_000)
    assert aws.max_utc_distance() == mpq(1, 2)
    assert aws.utc_offset(L) == mpq(1, 2)  # just after the kernel would step back


def test_google_unsmear_variant_spans_86401_si_seconds() -> None:
    b = LinearSmear.google_aws(utc_labels=True).for_leap(L, 1)
    assert b.window() == (L - 43_200, L + 43_201)
    assert b.utc(b.end) == L + 43_200  # ends at 12:00:00 UTC
    assert b.rate(L) == mpq(-1, 86_401)
    assert LinearSmear.google_aws(utc_labels=True).for_leap(L, -1).duration == 86_399


def test_cosine_peak_is_pi_over_2w() -> None:
    b = bound("cosine")
    assert b.window() == (L - 86_400, L)
    expected = mpq(gmpy2.const_pi(precision=128) / (2 * 86_400))
    assert abs(b.peak_rate() - expected) <= GRID
    assert abs(b.peak_rate() - mpq("18.18e-6")) < mpq("0.01e-6")
    assert abs(b.rate(L - 43_200) + b.peak_rate()) <= GRID
    assert b.max_utc_distance() == 1


def test_chrony_quadratic_peaks_at_32_ppm() -> None:
    b = bound("chrony-quadratic")
    assert b.window() == (L, L + 62_500)
    assert b.peak_rate() == ppm(32)
    assert b.rate(L + 31_250) == -ppm(32)
    assert b.rate(L + 1000) == -ppm("1.024")
    assert QuadraticSmear.chrony() == QuadraticSmear()


def test_chrony_quadratic_with_a_hold_stage() -> None:
    shape = QuadraticSmear(max_freq=ppm(10), max_wander=ppm("0.001024"))
    b = shape.for_leap(L, 1)
    ramp = ppm(10) / ppm("0.001024")  # 9765.625 s to reach 10 ppm
    assert b.peak_rate() == ppm(10)
    assert b.rate(b.start + ramp + 1) == -ppm(10)
    assert b.lie(b.end) == 1
    hold = b.duration - 2 * ramp
    assert hold == (1 - ppm(10) ** 2 / ppm("0.001024")) / ppm(10)
    assert b.lie(b.start + ramp + hold / 2) == mpq(1, 2)
    for sign in SIGNS:
        bs = shape.for_leap(L, sign)
        for k in range(-1, 18):
            t = bs.start + bs.duration * mpq(k, 16) + mpq(1, 7)
            assert bs.inverse(bs.smeared(t)) == t


def test_chrony_quadratic_with_irrational_ramp_still_absorbs_one_second() -> None:
    b = QuadraticSmear(max_wander=ppm("0.002")).for_leap(L, 1)
    assert b.lie(b.end) == 1
    assert b.lie(b.start + b.duration / 2) == mpq(1, 2)
    with gmpy2.context(precision=128):
        expected = mpq(2 * gmpy2.sqrt(mpfr(500_000_000)))
    assert abs(b.duration - expected) <= 2 * GRID


def test_slews_after_the_leap() -> None:
    chrony, ntpd = bound("chrony-slew"), bound("ntpd-slew")
    assert chrony.window() == (L, L + 12) and chrony.peak_rate() == mpq(1, 12)
    assert ntpd.window() == (L, L + 2000) and ntpd.peak_rate() == ppm(500)
    late = SlewAfterLeap.ntpd_x(delay=300).for_leap(L, 1)
    assert late.window() == (L + 300, L + 2300)
    assert late.utc_offset(L + 299) == 1  # a full second off until ntpd notices


def test_fbclock_staircase() -> None:
    b = bound("fbclock")
    assert b.window() == (L, L + 65_000)
    assert b.peak_rate() == mpq(1, 65_000)
    assert b.lie(L + mpq(65, 10**6) - mpq(1, 10**12)) == 0
    assert b.lie(L + mpq(65, 10**6)) == mpq(1, 10**9)
    assert b.lie(L + 1) == mpq(15_384, 10**9)  # floor(1 s / 65 µs) ns
    with pytest.raises(NotInvertible):
        b.inverse(L + 5)


def test_utc_sls() -> None:
    b = bound("utc-sls")
    assert b.window() == (L - 999, L + 1)  # 23:43:21 .. 24:00:00, 1000 UTC seconds
    assert b.smeared(b.end) - b.smeared(b.start) == 999
    assert b.peak_rate() == mpq(1, 1000)
    assert b.max_utc_distance() == mpq(999, 1000)


def test_windows_half_speed_definition() -> None:
    b = bound("windows")
    assert b.smeared(L - 1) == L - 1  # 23:59:59.000 as 23:59:59 begins
    assert b.smeared(L) == L - mpq(1, 2)  # 23:59:59.500 as 23:59:60 begins
    assert b.smeared(L + 1) == L  # 00:00:00 on time
    assert b.rate(L) == mpq(-1, 2)
    assert b.max_utc_distance() == mpq(1, 2)
    assert b.inverse(L - mpq(1, 4)) == L + mpq(1, 2)
    neg = bound("windows", -1)  # 23:59:57 -> 24:00:00 over the two seconds left
    assert neg.window() == (L - 3, L - 1)
    assert neg.smeared(L - 2) == L - mpq(3, 2)  # 23:59:58.5, halfway


def test_step_is_stepped_utc() -> None:
    for sign in SIGNS:
        b = bound("step", sign)
        for dt in (-2, -1, mpq(-1, 2), 0, mpq(1, 2), 1, 2):
            assert b.smeared(L + dt) == b.utc(L + dt)
            assert b.utc_offset(L + dt) == 0
        assert b.max_utc_distance() == 0 and b.peak_rate() == 0
        with pytest.raises(NotInvertible):
            b.inverse(L)


# --- stepped UTC and the true time line --------------------------------------------------------
def test_utc_conversions_around_a_positive_leap() -> None:
    b = bound("step")
    assert b.to_utc(L - mpq(1, 2)) == (L - mpq(1, 2), 0)
    assert b.to_utc(L + mpq(1, 2)) == (L - mpq(1, 2), 1)  # 23:59:60.5
    assert b.to_utc(L + 1) == (L, 0)
    for t in (L - mpq(1, 2), L + mpq(1, 2), L + 1, L + 7):
        assert b.from_utc(*b.to_utc(t)) == t


def test_utc_conversions_around_a_negative_leap() -> None:
    b = bound("step", -1)
    assert b.to_utc(L - mpq(3, 2)) == (L - mpq(3, 2), 0)
    assert b.to_utc(L - 1) == (L, 0)
    assert b.from_utc(L + 5) == L + 4
    with pytest.raises(ValueError, match="deleted second"):
        b.from_utc(L - mpq(1, 2))


# --- signs -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_negative_leap_flips_the_sign(name: str) -> None:
    pos, neg = bound(name, 1), bound(name, -1)
    assert pos.duration == neg.duration
    for k in range(-1, 10):
        x = pos.duration * mpq(k, 8)
        assert neg.lie(neg.start + x) == pos.lie(pos.start + x)
        assert neg.smeared_offset(neg.start + x) == -pos.smeared_offset(pos.start + x)
        assert neg.rate(neg.start + x) == -pos.rate(pos.start + x)


def test_ntpd_negative_quirk() -> None:
    quirk = CosineSmear(ntpd_negative_quirk=True)
    b = quirk.for_leap(L, -1)
    assert b.window() == (L - 86_400, L - 1)
    assert b.lie(L - 86_401) == 0
    assert b.lie(L - 86_400) == 1  # the served clock jumps 1 s ahead as the window opens
    assert b.utc_offset(L - 86_400) == 1
    assert b.lie(L - 43_200) == mpq(1, 2)
    assert b.rate(L - 43_200) < 0  # runs slow although the leap is negative
    assert b.lie(L - 2) < mpq(1, 10**8)
    assert b.lie(L - 1) == 1  # ... and then takes the kernel's 1 s step anyway
    assert b.max_utc_distance() == 1
    assert not b.invertible
    with pytest.raises(NotInvertible):
        b.inverse(L - 100)
    pos = quirk.for_leap(L, 1)  # positive leaps are unaffected
    assert pos.window() == bound("cosine").window()
    assert pos.lie(L - 20_000) == bound("cosine").lie(L - 20_000)


# --- properties over time ----------------------------------------------------------------------
@st.composite
def instants_near(draw: st.DrawFn, name: str, sign: int) -> mpq:
    b = bound(name, sign)
    frac = mpq(draw(st.integers(-(10**6), 11 * 10**6)), 10**7)
    return b.start + (b.duration + 2) * frac - 1


def pairs() -> st.SearchStrategy[tuple[str, int, mpq, mpq]]:
    return (
        st.tuples(st.sampled_from(sorted(SHAPES)), st.sampled_from(SIGNS))
        .flatmap(lambda ns: st.tuples(st.just(ns[0]), st.just(ns[1]),
                                      instants_near(*ns), instants_near(*ns)))
    )  # fmt: skip


@given(pairs())
def test_lie_is_monotone_and_bounded(case: tuple[str, int, mpq, mpq]) -> None:
    name, sign, t1, t2 = case
    b = bound(name, sign)
    lo, hi = sorted((t1, t2))
    assert 0 <= b.lie(lo) <= b.lie(hi) <= 1


@given(pairs())
def test_lie_is_continuous_where_defined(case: tuple[str, int, mpq, mpq]) -> None:
    name, sign, t1, t2 = case
    if name not in CONTINUOUS:
        return
    b = bound(name, sign)
    assert abs(b.lie(t2) - b.lie(t1)) <= (b.peak_rate() + GRID) * abs(t2 - t1) + GRID


@given(pairs())
def test_inverse_undoes_smeared(case: tuple[str, int, mpq, mpq]) -> None:
    name, sign, t, _ = case
    b = bound(name, sign)
    if not b.invertible:
        return
    if name in RATIONAL:
        assert b.inverse(b.smeared(t)) == t
    else:
        assert abs(b.inverse(b.smeared(t)) - t) <= 4 * GRID


@given(st.integers(1, 10**6), st.sampled_from(SIGNS))
def test_short_cosine_inverse(numerator: int, sign: int) -> None:
    b = CosineSmear(window=3600).for_leap(L, sign)
    t = b.start + mpq(numerator, 10**6) * 3600
    assert abs(b.inverse(b.smeared(t)) - t) <= 4 * GRID


# --- registry and parameters -------------------------------------------------------------------
def test_registry_names() -> None:
    assert list(SHAPES) == [
        "step", "linear-24h", "linear-20h", "cosine", "chrony-quadratic",
        "chrony-slew", "ntpd-slew", "fbclock", "utc-sls", "windows",
    ]  # fmt: skip
    assert isinstance(make_shape("step"), Step)
    assert make_shape("linear-24h") == LinearSmear.google_aws()
    assert make_shape("linear-20h") == LinearSmear.google_2016()
    assert make_shape("chrony-slew") == SlewAfterLeap.chrony()
    assert make_shape("ntpd-slew") == SlewAfterLeap.ntpd_x()
    assert isinstance(make_shape("fbclock"), Staircase)
    assert type(make_shape("utc-sls")) is UtcSls
    assert isinstance(make_shape("windows"), WindowsHalfSpeed)


def test_make_shape_accepts_exact_params() -> None:
    assert make_shape("cosine", window=3600) == CosineSmear(window=mpq(3600))
    assert make_shape("chrony-slew", rate="1/10").rate == mpq(1, 10)
    assert make_shape("linear-24h", duration=Fraction(7200)).duration == 7200
    assert make_shape("chrony-quadratic", max_freq="400e-6").max_freq == ppm(400)
    assert make_shape("cosine", ntpd_negative_quirk=True).ntpd_negative_quirk


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("smear-o-matic", {}, "unknown smear shape 'smear-o-matic'; known shapes: step, "),
        ("cosine", {"width": 5}, "shape 'cosine' has no parameter width; it takes "),
        ("step", {"window": 5}, "it takes no parameters"),
        ("cosine", {"window": 0.5}, "shape 'cosine': window must be exact.*float"),
        ("cosine", {"window": -5}, "CosineSmear.window must be > 0, got -5"),
        ("cosine", {"ntpd_negative_quirk": 1}, "ntpd_negative_quirk must be true or false"),
        ("ntpd-slew", {"rate": "fast"}, "cannot read 'fast'"),
        ("fbclock", {"tick": 0}, "Staircase.tick must be > 0"),
    ],
)
def test_make_shape_rejects_bad_params(name: str, params: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_shape(name, **params)


def test_binding_checks() -> None:
    with pytest.raises(ValueError, match="sign"):
        Step().for_leap(L, 0)
    with pytest.raises(ValueError, match="whole Unix second"):
        Step().for_leap(mpq(L) + mpq(1, 2))
    with pytest.raises(TypeError, match="float"):
        bound("cosine").lie(1.5e9)


def test_bind_to_table_events() -> None:
    table = LeapTable.load()
    event = table.next_leap(L - 86_400 * 100)
    assert event is not None
    b = UtcSls().for_event(event)
    assert (b.leap, b.sign) == (L, 1)
    hypothetical = table.with_leap("2027-06-30", -1).events[-1]
    assert CosineSmear().for_event(hypothetical).sign == -1
