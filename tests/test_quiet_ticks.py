"""A quiet span's whole ticks carry their seconds in closed form, bit for bit as one by one.

`Timekeeper.accumulate_quiet_ticks` is `accumulate_whole_ticks` for a span whose NTP state is
quiet (`Timekeeper._quiet_span`): the seconds it carries only grow maxerror, so they go in one
`NtpState.advance_quiet_seconds` instead of one `second_overflow` each.  From the same state,
for any span (short or hours long), any accumulated fraction, maxerror near its limit and
every modelled kernel, both must leave the timekeeper and its NTP state identical.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ntp import ADJ_FREQUENCY, ADJ_MAXERROR, Timex
from tk_core import Clocksource, Host

NSEC = 10**9


def _state(tk: object) -> tuple[object, object]:
    fields = tuple(getattr(tk, f) for f in tk._FIELDS)  # type: ignore[attr-defined]
    return fields, tk.ntp.to_dict()  # type: ignore[attr-defined]


@settings(max_examples=150, deadline=None)
@given(
    kernel=st.sampled_from(["5.15", "6.1", "6.12", "7.3"]),
    hz=st.sampled_from([100, 250, 1000]),
    ppm=st.integers(-300, 300),
    freq=st.integers(-500 << 16, 500 << 16),
    maxerror=st.one_of(st.integers(0, 16_000_000), st.just(15_999_999)),
    lead_ns=st.integers(0, 3 * NSEC),
    span_s=st.one_of(st.integers(0, 3), st.integers(0, 7_200)),
    span_frac_ns=st.integers(0, NSEC - 1),
)
def test_quiet_ticks_equal_one_second_at_a_time(kernel: str, hz: int, ppm: int, freq: int,
                                                maxerror: int, lead_ns: int,
                                                span_s: int, span_frac_ns: int) -> None:
    def led() -> object:  # the same inputs give the same timekeeper (a twin, not a copy:
        # a compiled Timekeeper cannot be deep-copied)
        host = Host(clocksource=Clocksource(1_000_000_000, 64, error_ppm=ppm), hz=hz,
                    realtime_ns=1_600_000_000 * NSEC, kernel_version=kernel)
        ns = host.create_namespace("q", update="periodic")
        ns.adjtimex(Timex(modes=ADJ_FREQUENCY | ADJ_MAXERROR, freq=freq, maxerror=maxerror))
        host.run_for(lead_ns)
        return ns.tk

    tk: Any = led()
    if not tk._quiet_span() or tk.skew_delta or tk.xtime_nsec < 0:
        return  # not a span the quiet path is taken for
    offset = span_s * NSEC + span_frac_ns + tk.cycle_interval  # cycles of the 1 GHz counter
    slow: Any = led()
    assert _state(slow) == _state(tk)
    tk.accumulate_quiet_ticks(offset)
    assert slow.accumulate_whole_ticks(offset) == 0
    assert _state(tk) == _state(slow)
