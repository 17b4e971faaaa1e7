"""Scenario units: exact parsing and canonical printing, each the other's inverse."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tk_core.scenario import units


@given(st.integers(min_value=-(10**18), max_value=10**18))
def test_duration_round_trip(ns: int) -> None:
    assert units.parse_duration(units.format_duration(ns)) == ns


@given(st.integers(min_value=63_072_000 * 10**9, max_value=4_000_000_000 * 10**9))
def test_utc_round_trip(ns: int) -> None:
    assert units.parse_utc(units.format_utc(ns)) == ns


def test_exact_values() -> None:
    assert units.parse_duration("1.5ms") == 1_500_000
    assert units.parse_duration("2h45s") == 7_245 * 10**9
    assert units.exact_number(0.1) == Fraction(1, 10)
    assert units.exact_number("1000000/16777215") == Fraction(1_000_000, 16_777_215)
    assert units.parse_frequency("3.579545MHz") == 3_579_545
    assert units.parse_utc("2016-12-31T23:59:59.5+01:00") == 1_483_225_199_500_000_000
    assert units.format_decimal(Fraction(-1, 3), 3) == "-0.333"


@pytest.mark.parametrize("bad", ["", "s", "1 parsec", "1e3s", "--1s", True, [1]])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(units.UnitError):
        units.parse_duration(bad)
