"""Clocksource arithmetic against clocksource.c clocks_calc_mult_shift, and the counter's
physics."""

from __future__ import annotations

import pytest
from gmpy2 import mpq
from hypothesis import given
from hypothesis import strategies as st

from tk_core import Clocksource, clocks_calc_mult_shift, clocksource_update_freq

# freq, bits, maxsec, mult, shift, maxadj, max_cycles, max_idle_ns  (clocksource.c
# clocks_calc_mult_shift, COMPUTED rows)
TABLE = [
    (3_000_000_000, 64, 600, 5592405, 24, 615164, 2971653488460, 440795289890),
    (1_000_000_000, 64, 600, 8388608, 23, 922746, 1981102219259, 881590591483),
    (24_000_000, 56, 600, 699050667, 24, 76895573, 23773224384, 440795202592),
    (19_200_000, 56, 600, 873813333, 24, 96119466, 19018579527, 440795202767),
    (1_000_000, 32, 4294, 2097152000, 21, 230686720, 4294967295, 1911260446275),
    (3_579_545, 24, 4, 2343484437, 23, 257783288, 16777215, 2085701024),
    (32768, 32, 131071, 2000000000, 16, 220000000, 4294967295, 58327039986419),
]


@pytest.mark.parametrize("row", TABLE, ids=lambda r: f"{r[0]}Hz/{r[1]}bit")
def test_kernel_table_reproduced_exactly(row):
    freq, bits, _maxsec, mult, shift, maxadj, max_cycles, max_idle = row
    cs = Clocksource(freq, bits)
    assert (cs.mult, cs.shift, cs.maxadj) == (mult, shift, maxadj)
    assert (cs.max_cycles, cs.max_idle_ns) == (max_cycles, max_idle)
    params = clocksource_update_freq(freq, (1 << bits) - 1)
    assert params.mult == mult and params.max_idle_ns == max_idle


def test_calc_mult_shift_direct_call_matches_kernel_formula():
    # 3 GHz with maxsec 600: the kernel's note says shift 24 for >= 4 GHz-class counters.
    assert clocks_calc_mult_shift(3_000_000_000, 1_000_000_000, 600) == (5592405, 24)
    # A clockevent conversion goes the other way: ns -> cycles.
    mult, shift = clocks_calc_mult_shift(1_000_000_000, 3_000_000_000, 600)
    assert (mult * 1_000_000_000) >> shift == pytest.approx(3_000_000_000, rel=1e-6)


def test_counter_wraps_at_its_mask():
    cs = Clocksource(3_579_545, 24)
    wrap_t = mpq(1 << 24, 3_579_545)
    assert cs.counter_at(wrap_t) == 0
    assert cs.counter_at(wrap_t - mpq(1, 10**9)) == (1 << 24) - 1
    assert cs.cycles_at(wrap_t) == 1 << 24


def test_error_ppm_makes_the_counter_fast():
    cs = Clocksource(1_000_000_000, 64, error_ppm=100)
    assert cs.cycles_at(mpq(1)) == 1_000_100_000


@given(st.integers(min_value=1, max_value=10**15), st.integers(0, 50), st.integers(0, 3))
def test_time_of_cycles_is_the_exact_inverse(cycles, error, seed):
    cs = Clocksource(3_000_000_000, 64, error_ppm=mpq(error, 7), wander_ppm=seed, seed=seed)
    t = cs.time_of_cycles(cycles)
    assert cs.cycles_at(t) == cycles
    assert cs.exact_cycles_at(t) == cycles


def test_wander_is_seeded_and_deterministic():
    a = Clocksource(1_000_000, 32, wander_ppm=5, seed=7)
    b = Clocksource(1_000_000, 32, wander_ppm=5, seed=7)
    c = Clocksource(1_000_000, 32, wander_ppm=5, seed=8)
    t = mpq(1000)
    assert a.cycles_at(t) == b.cycles_at(t)
    assert a.cycles_at(t) != c.cycles_at(t)
    assert a.frequency_error_at(t) != 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"freq_hz": 0},
        {"freq_hz": 1.5},
        {"freq_hz": 10, "bits": 65},
        {"freq_hz": 10, "bits": 4},
        {"freq_hz": 10, "error_ppm": -1_000_000},
    ],
)
def test_bad_clocksource_arguments_are_clear_errors(kwargs):
    with pytest.raises(ValueError, match="Clocksource"):
        Clocksource(**kwargs)


@given(
    st.integers(1, 10**10),
    st.integers(-(10**6), 10**6),
    st.integers(0, 2**40),
    st.integers(-(2**41), 2**50),
)
def test_time_of_cycles_integer_path_matches_the_segment_formula(freq, error, start, cycles):
    """At a constant rate from an integer start `time_of_cycles` builds one rational from
    ints; it must be the segment formula's exact value, (cycles − start) / f0."""
    cs = Clocksource(freq, 64, error_ppm=mpq(error, 1000), start_cycles=start)
    assert cs.constant_rate is not None
    expected = mpq(0) if cycles <= start else (mpq(cycles) - cs._seg_c[0]) / cs._seg_f[0]
    got = cs.time_of_cycles(cycles)
    assert got == expected
    assert type(got) is type(expected)
