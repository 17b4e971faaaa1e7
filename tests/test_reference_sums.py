"""`tk_core.reference.Reference` sums its segments in integers; the plain rational sums agree.

The ideal clock moves at a new rate wherever NTP's tick length changes.  `Reference` keeps
Σ dᵢ·rateᵢ as integer numerators over the rates' shared denominators and turns them into
rationals only when a field is read.  `PlainReference` below is the rational sum done at every
change (what the class did before); random sequences of tick-length changes, changes of the
timekeeper's shift, interval and remainder (a new denominator), resumes, reads and field
assignments (a checkpoint restore) must give the same rationals in every field and the same
ideal readings.
"""

from __future__ import annotations

from gmpy2 import mpq
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tk_core import Host
from tk_core.clockids import CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME
from tk_core.reference import Reference
from tk_core.timekeeper import Timekeeper

NSEC = 1_000_000_000


class PlainReference:
    """The ideal by rational arithmetic at every rate change."""

    def __init__(self, tk: Timekeeper, cycles: int, freq_eff: mpq) -> None:
        self.freq_eff = mpq(freq_eff)
        self.anchor_cycles = cycles
        self.mono = mpq(tk.mono_ns(cycles))
        self.raw = mpq(tk.raw_ns(cycles))
        self.nominal_mono, self.nominal_raw = self.mono, self.raw
        self.raw_rate = mpq(tk.clock_mult, 1 << tk.shift)
        self.tick_length = -1
        self.set_rates(tk)

    def set_rates(self, tk: Timekeeper) -> None:
        self.tick_length = tl = tk.steered_tick_length()
        wanted = mpq(tl, 1 << tk.ntp_error_shift) - tk.xtime_remainder
        self.rate = wanted / (tk.cycle_interval << tk.shift)
        self.nominal_rate = mpq(tl * tk.hz) / (self.freq_eff * (1 << 32))

    def move(self, cycles: int) -> None:
        d = cycles - self.anchor_cycles
        self.mono += d * self.rate
        self.raw += d * self.raw_rate
        self.nominal_mono += d * self.nominal_rate
        self.nominal_raw += d * (NSEC / self.freq_eff)
        self.anchor_cycles = cycles

    def sync(self, tk: Timekeeper, cycles: int) -> None:
        if tk.steered_tick_length() != self.tick_length:
            self.move(cycles)
            self.set_rates(tk)

    def resume(self, suspend_cycles: int, resume_cycles: int) -> None:
        self.move(suspend_cycles)
        self.anchor_cycles = resume_cycles

    def ideal_ns(self, tk: Timekeeper, clockid: int, cycles: int, ideal: str) -> mpq:
        d = cycles - self.anchor_cycles
        if clockid == CLOCK_MONOTONIC_RAW:
            return (self.raw + d * self.raw_rate if ideal == "kernel"
                    else self.nominal_raw + d * (NSEC / self.freq_eff))
        mono = (self.mono + d * self.rate if ideal == "kernel"
                else self.nominal_mono + d * self.nominal_rate)
        return mono + (tk.offs_real if clockid == CLOCK_REALTIME else 0)


def real_tk() -> Timekeeper:
    """A namespace's timekeeper, whose fields the test then moves by hand (the compiled
    `Reference` takes a real one)."""
    tk = Host(hz=250).create_namespace("x").tk
    assert not tk.drain  # steered_tick_length is NTP's tick_length
    return tk


FIELDS = Reference.RATIONAL_FIELDS + Reference.INT_FIELDS
op = st.one_of(
    st.tuples(st.just("tick"), st.integers(0, 10**10), st.integers(-(10**12), 10**12)),
    st.tuples(st.just("shape"), st.integers(0, 10**10), st.integers(16, 26),
              st.integers(1, 10**8), st.integers(0, 2**20)),
    st.tuples(st.just("resume"), st.integers(0, 10**9), st.integers(0, 10**12)),
    st.tuples(st.just("read"), st.integers(0, 10**10)),
    st.tuples(st.just("set"), st.sampled_from(FIELDS), st.integers(1, 10**15)),
)


def fields(ref: object) -> list[object]:
    return [getattr(ref, name) for name in FIELDS]


@settings(max_examples=300, deadline=None)
@given(freq=st.integers(10**6, 4 * 10**9), ops=st.lists(op, max_size=30))
@example(freq=10**9, ops=[("tick", 5, 1), ("shape", 9, 20, 77, 5), ("tick", 20, -3),
                          ("read", 30)])
@example(freq=10**9, ops=[("tick", 5, 1), ("set", "freq_eff", 3), ("tick", 9, 2),
                          ("read", 30)])
def test_integer_sums_equal_the_rational_sums(freq: int, ops: list[tuple]) -> None:
    tk = real_tk()
    ref, plain = Reference(tk, 1000, mpq(freq)), PlainReference(tk, 1000, mpq(freq))
    cycles = 1000
    for o in ops:
        if o[0] == "tick":
            cycles += o[1]
            tk.ntp.tick_length += o[2]
            ref.sync(tk, cycles)
            plain.sync(tk, cycles)
        elif o[0] == "shape":  # the timekeeper's interval, shift or remainder changed
            cycles += o[1]
            tk.shift, tk.cycle_interval, tk.xtime_remainder = o[2], o[3], o[4]
            tk.ntp_error_shift = 32 - o[2]
            tk.ntp.tick_length += 1  # the next sync re-anchors with the new shape
            ref.sync(tk, cycles)
            plain.sync(tk, cycles)
        elif o[0] == "resume":
            ref.resume(cycles + o[1], cycles + o[1] + o[2])
            plain.resume(cycles + o[1], cycles + o[1] + o[2])
            cycles += o[1] + o[2]
        elif o[0] == "read":
            at = cycles + o[1]
            for clockid in (CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME):
                for ideal in ("kernel", "nominal"):
                    assert ref.ideal_ns(tk, clockid, at, ideal) == plain.ideal_ns(
                        tk, clockid, at, ideal)
        else:  # a restore assigns the fields by name
            _, name, value = o
            v: object = value if name in Reference.INT_FIELDS else mpq(value, 7)
            if name == "anchor_cycles":
                cycles = value
            setattr(ref, name, v)
            setattr(plain, name, v)
        assert fields(ref) == fields(plain)
