"""Rational arguments of the public API: exact values in, clear errors out, nothing changed.

`tk_core.exact_input.exact_rational` is the one rule (ints, Fractions and mpq as they are,
floats by their shortest decimal spelling, decimal or fraction strings); the engine calls that
take rationals use it, so a float 0.1 is 1/10 and a typo names the argument.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from gmpy2 import mpq, mpz
from hypothesis import given
from hypothesis import strategies as st

from tk_core import CLOCK_MONOTONIC, CLOCK_REALTIME, Clocksource, Host
from tk_core.exact_input import exact_rational
from tk_core.scenario.units import UnitError, exact_number

fractions = st.fractions(max_denominator=10**12)


@given(fractions)
def test_fractions_mpq_and_their_text_are_read_exactly(value: Fraction) -> None:
    q = mpq(value)
    assert exact_rational(value) == q
    assert exact_rational(q) is q
    assert exact_rational(str(value)) == q
    if value.denominator == 1:
        assert exact_rational(int(value)) == q
        assert exact_rational(mpz(int(value))) == q


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_means_its_shortest_decimal_spelling(value: float) -> None:
    assert exact_rational(value) == mpq(Fraction(repr(value)))
    assert float(exact_rational(value)) == value


def test_decimal_text_and_floats_are_what_was_written() -> None:
    assert exact_rational(0.1) == mpq(1, 10)
    assert exact_rational("-3.5") == mpq(-7, 2)
    assert exact_rational(" 1_000/3 ") == mpq(1000, 3)
    assert exact_rational("1e-3") == mpq(1, 1000)


@pytest.mark.parametrize(("value", "error", "message"), [
    ("abc", ValueError, "rate: expected a number such as 12, '-3.5' or '1/3', found 'abc'"),
    ("1/0", ValueError, "rate: expected a number such as 12"),
    ("٣", ValueError, "rate: expected a number written with ASCII digits, found '٣'"),
    (float("nan"), ValueError, "rate: expected a finite number, found nan"),
    (float("-inf"), ValueError, "rate: expected a finite number, found -inf"),
    (True, TypeError, "rate: expected a number, found a boolean (True)"),
    (None, TypeError, "rate: expected a number, found NoneType None"),
    ([1], TypeError, "rate: expected a number, found list [1]"),
])
def test_bad_values_name_the_argument(value: object, error: type[Exception],
                                      message: str) -> None:
    with pytest.raises(error) as exc:
        exact_rational(value, "rate")
    assert str(exc.value).startswith(message)


def test_scenario_numbers_follow_the_same_rule() -> None:
    assert exact_number(0.1) == Fraction(1, 10)
    with pytest.raises(UnitError, match=r"^expected a rate such as 12, .*found 'x'$"):
        exact_number("x", "rate")
    with pytest.raises(UnitError, match=r"^expected a rate, found a boolean"):
        exact_number(False, "rate")


def test_clocksource_rates_are_exact_and_checked() -> None:
    assert Clocksource(10**9, error_ppm=0.1).error_ppm == mpq(1, 10)
    assert Clocksource(10**9, error_ppm="1/3").error_ppm == mpq(1, 3)
    assert Clocksource(10**9, wander_ppm=Fraction(1, 2)).wander_ppm == mpq(1, 2)
    with pytest.raises(ValueError, match=r"^Clocksource error_ppm: expected a number"):
        Clocksource(10**9, error_ppm="12 ppm")
    with pytest.raises(TypeError, match=r"^Clocksource wander_ppm: expected a number, found"):
        Clocksource(10**9, wander_ppm=None)
    with pytest.raises(ValueError, match=r"^Clocksource error_ppm must be > -1e6, got -1000000$"):
        Clocksource(10**9, error_ppm=-10**6)
    for field in ("wander_interval_s", "seed", "start_cycles"):
        with pytest.raises(TypeError, match=rf"^Clocksource {field} must be an int, got 1\.5$"):
            Clocksource(10**9, **{field: 1.5})


def readings(host: Host) -> list[int]:
    return [ns.clock_gettime_ns(clock) for ns in host.namespaces.values()
            for clock in (CLOCK_REALTIME, CLOCK_MONOTONIC)]


def test_dilation_is_exact_and_a_bad_one_creates_nothing() -> None:
    host = Host()
    assert host.create_namespace("a", dilation=0.1).dilation == mpq(1, 10)
    assert host.create_namespace("b", dilation="3/2").dilation == mpq(3, 2)
    before = set(host.namespaces)
    for bad, error in (("fast", ValueError), (True, TypeError), (0, ValueError)):
        with pytest.raises(error, match=r"^dilation"):
            host.create_namespace("c", dilation=bad)
    assert set(host.namespaces) == before


@pytest.mark.parametrize("call", ["run_for", "run_until", "suspend_for"])
@pytest.mark.parametrize(("bad", "error"), [("soon", ValueError), (True, TypeError),
                                            (None, TypeError), (float("inf"), ValueError)])
def test_a_bad_duration_is_refused_and_changes_nothing(call: str, bad: object,
                                                       error: type[Exception]) -> None:
    host = Host()
    host.create_namespace("a")
    host.run_for(10**9)
    before = host.true_time, readings(host)
    with pytest.raises(error, match=f"^{call} "):
        getattr(host, call)(bad)
    assert (host.true_time, readings(host)) == before


def test_rational_durations_are_exact() -> None:
    """A float or text duration is the rational it spells, the same as an mpq of it."""
    spelled, exact = Host(), Host()
    for host in (spelled, exact):
        host.create_namespace("a")
    spelled.run_for(0.5)
    spelled.run_for("1/3")
    spelled.run_until("2000000000.25")
    exact.run_for(mpq(1, 2))
    exact.run_for(mpq(1, 3))
    exact.run_until(mpq(8_000_000_001, 4))
    assert readings(spelled) == readings(exact)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"clocksource": "tsc"}, TypeError, "Host clocksource must be a Clocksource or None, got str"),
    ({"clockevent": 5}, TypeError, "Host clockevent must be a ClockEventDevice or None"),
    ({"tai_offset": -1}, ValueError, "Host tai_offset must be >= 0, got -1"),
    ({"tai_offset": 100_001}, ValueError, "Host tai_offset must be <= 100000, got 100001"),
    ({"irq_cost_ns": 1.5}, TypeError, "Host irq_cost_ns must be an int, got 1.5"),
    ({"expiry_cost_ns": -1}, ValueError, "Host expiry_cost_ns must be >= 0, got -1"),
    ({"user_hz": 0}, ValueError, "Host user_hz must be >= 1, got 0"),
    ({"boottime_ns": "1s"}, TypeError, "Host boottime_ns must be an int, got '1s'"),
    ({"hz": True}, TypeError, "Host hz must be an int, got True"),
    ({"nohz": "no"}, TypeError, "Host nohz must be a bool, got 'no'"),
    ({"record_lateness": 1}, TypeError, "Host record_lateness must be a bool, got 1"),
])
def test_host_arguments_are_checked_before_anything_is_built(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as exc:
        Host(**kwargs)  # type: ignore[arg-type]
    assert str(exc.value).startswith(message)


def test_host_arguments_at_their_limits_are_taken() -> None:
    host = Host(tai_offset=100_000, lazy_error_bound_ns=0, irq_cost_ns=0, boottime_ns=0,
                monotonic_ns=5, record_lateness=True, nohz=False)
    assert host.root.clock_gettime_ns(CLOCK_MONOTONIC) == 5
