"""Property tests at namespace level: random adjtimex/clock_adjtime calls interleaved with time.

For any sequence of calls (valid or not, with or without CAP_SYS_TIME, including ADJ_SETOFFSET
and ADJ_TICK) on a namespace of a running host:

* the errno (or success) is the one timekeeping_validate_timex's checks and the inject step
predict, computed here;
* mainline: a call that raises changes no field of ``ns.timekeeper.snapshot()`` and no reading;
* 6.1: the same, except a failing ADJ_SETOFFSET that passed validation, which runs TK_CLEAR_NTP
  (the v5.x–6.12 ``timekeeping_inject_offset`` error path): NTP state is cleared, the clocks
  read what they read before;
* the frequency stays within ±500 ppm, and the fields a call returns equal those of a modes=0
  read made right after it.

A lazy namespace is brought up to date (``ns.accumulate()``) before each call, so that its
catch-up to the present, which a kernel's tick would have done anyway, is not counted as the
call's doing.
"""

from __future__ import annotations

import errno
from functools import reduce
from operator import or_
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ntp import (
    ADJ_ADJTIME,
    ADJ_ESTERROR,
    ADJ_FREQUENCY,
    ADJ_MAXERROR,
    ADJ_MICRO,
    ADJ_NANO,
    ADJ_OFFSET,
    ADJ_OFFSET_SINGLESHOT,
    ADJ_OFFSET_SS_READ,
    ADJ_SETOFFSET,
    ADJ_STATUS,
    ADJ_TAI,
    ADJ_TICK,
    ADJ_TIMECONST,
    STA_DEL,
    STA_FLL,
    STA_INS,
    STA_PLL,
    Timex,
)
from tk_core import CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_TAI, Host

NSEC = 1_000_000_000
S64 = st.integers(-(2**63), 2**63 - 1)
PPM_SCALE = 65_536_000
FREQ_MAX = (2**63 - 1) // PPM_SCALE  # C division of LLONG_MAX / LLONG_MIN by PPM_SCALE
TOLERANCE = 32_768_000
MAXFREQ_SCALED = 500_000 << 32
SETTOD_MAX = 9_223_372_036 - 30 * 365 * 86_400
NTP_PHASE_LIMIT = 16_000_000
STA_UNSYNC = 0x40
MIDNIGHT = 1_719_792_000
# : Versions whose failing ADJ_SETOFFSET still runs TK_CLEAR_NTP (v5.x–6.12, timekeeping.c,
# do_settimeofday64/timekeeping_inject_offset).
CLEARS_NTP = ("6.1", "6.1.192")
READ_FIELDS = (
    "freq",
    "maxerror",
    "esterror",
    "status",
    "constant",
    "precision",
    "tolerance",
    "tick",
    "tai",
    "time",
    "ppsfreq",
    "jitter",
    "shift",
    "stabil",
    "jitcnt",
    "calcnt",
    "errcnt",
    "stbcnt",
)
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

modes_st = st.one_of(
    st.just(0),
    st.sampled_from([ADJ_OFFSET_SINGLESHOT, ADJ_OFFSET_SS_READ, ADJ_ADJTIME]),
    st.sampled_from([ADJ_OFFSET_SINGLESHOT | ADJ_SETOFFSET, ADJ_OFFSET_SS_READ | ADJ_SETOFFSET]),
    st.lists(st.sampled_from(MODE_BITS), min_size=1, max_size=4).map(
        lambda bits: reduce(or_, bits, 0)
    ),
    st.integers(0, 0xFFFF),
)
small_or_s64 = st.one_of(st.integers(-3_000_000, 3_000_000), S64)
tx_st = st.builds(
    Timex,
    modes=modes_st,
    offset=st.one_of(st.integers(-2_000_000, 2_000_000), S64),
    freq=st.one_of(
        st.integers(-(600 << 16), 600 << 16), st.sampled_from([FREQ_MAX, -FREQ_MAX - 1]), S64
    ),
    maxerror=small_or_s64,
    esterror=small_or_s64,
    status=st.one_of(
        st.sampled_from([0, STA_PLL, STA_INS, STA_DEL, STA_PLL | STA_FLL, STA_PLL | STA_INS]),
        st.integers(-(2**31), 2**31 - 1),
    ),
    constant=st.one_of(st.integers(-20, 120), small_or_s64),
    tick=st.one_of(st.integers(8_900, 11_100), S64),
    time=st.tuples(
        st.one_of(st.integers(-12, 12), st.integers(-(2**40), 2**40)),
        st.one_of(st.integers(-2, 2), st.integers(-2, 2_000_000_001)),
    ),
)
call_st = st.tuples(
    st.just("call"), tx_st, st.sampled_from(["owner", "cap", "nocap"]), st.booleans()
)
run_st = st.tuples(st.just("run"), st.integers(1, 700_000_000))
steps_st = st.lists(st.one_of(call_st, call_st, run_st), min_size=1, max_size=12)
start_st = st.sampled_from(
    [
        (MIDNIGHT - 2) * NSEC + 123_456_789,  # near a midnight: leaps can happen
        1_650_000_000 * NSEC + 987_654_321,
        10 * NSEC,  # close to MONOTONIC: negative offsets fail the inject step
    ]
)


def expected_errno(tx: Timex, cap: bool, real: int, mono: int) -> int:
    """timekeeping_validate_timex timekeeping_validate_timex, then timekeeping.c,
    do_settimeofday64/timekeeping_inject_offset's inject-step checks; 0 if the call succeeds."""
    return validation_errno(tx, cap) or (
        errno.EINVAL if tx.modes & ADJ_SETOFFSET and inject_fails(tx, real, mono) else 0
    )


def validation_errno(tx: Timex, cap: bool, user_hz: int = 100) -> int:
    """timekeeping_validate_timex timekeeping_validate_timex, in the kernel's order of checks."""
    m = tx.modes
    if m & ADJ_ADJTIME:
        if not m & 0x0001:
            return errno.EINVAL
        if not m & 0x2000 and not cap:
            return errno.EPERM
    else:
        if m and not cap:
            return errno.EPERM
        if m & ADJ_TICK and not 900_000 // user_hz <= tx.tick <= 1_100_000 // user_hz:
            return errno.EINVAL
    if m & ADJ_SETOFFSET:
        if not cap:
            return errno.EPERM
        frac = tx.time.tv_usec
        if frac < 0 or frac >= (NSEC if m & ADJ_NANO else 1_000_000):
            return errno.EINVAL
    if m & ADJ_FREQUENCY and not -FREQ_MAX <= tx.freq <= FREQ_MAX:
        return errno.EINVAL
    return 0


def offset_of(tx: Timex) -> int:
    frac = tx.time.tv_usec if tx.modes & ADJ_NANO else tx.time.tv_usec * 1000
    return tx.time.tv_sec * NSEC + frac


def inject_fails(tx: Timex, real: int, mono: int) -> bool:
    new = real + offset_of(tx)
    return new < mono or not 0 <= new // NSEC < SETTOD_MAX


def fields(tx: Timex, with_offset: bool) -> dict[str, Any]:
    d = {name: getattr(tx, name) for name in READ_FIELDS}
    if with_offset:
        d["offset"] = tx.offset
    return d


def readings(ns: Any) -> dict[int, int]:
    ids = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI)
    return {c: ns.clock_gettime_ns(c) for c in ids}


def residue_after_fold(tk: Any, before: dict[str, Any]) -> int:
    """What a lazy clear must keep: from the state before the failed call, fold the cycles the
    inject step folded (the shipped `timekeeping_forward_now`) and take ntp_error less the
    twin's.  The timekeeper is put back as it was found."""
    found = tk.snapshot()
    tk.restore(before)
    tk.timekeeping_forward_now(found["cycle_last"])
    residue = tk.ntp_error - tk.twin_ntp_error
    tk.restore(found)
    assert tk.snapshot() == found
    return residue


def check_sequence(version: str | None, update: str, start: int, steps: list[tuple]) -> None:
    hz = 250
    h = Host(hz=hz, realtime_ns=start, monotonic_ns=5 * NSEC, tai_offset=37, kernel_version=version)
    ns = h.create_namespace("ns", update=update)
    callers = {"owner": ns, "cap": ns.spawn({"CAP_SYS_TIME"}), "nocap": ns.spawn()}
    for step in steps:
        if step[0] == "run":
            h.run_for(step[1])
            continue
        _, tx_in, who, via_clock_adjtime = step
        tx = tx_in.copy()
        if update == "lazy":
            ns.accumulate()
        before, seen = ns.timekeeper.snapshot(), readings(ns)
        pending_before = ns.adjtime(None)
        old = Timex()
        ns.adjtimex(old)
        caller = callers[who]
        expect = expected_errno(tx, who != "nocap", seen[CLOCK_REALTIME], seen[CLOCK_MONOTONIC])
        try:
            if via_clock_adjtime:
                result = caller.clock_adjtime(CLOCK_REALTIME, tx)
            else:
                result = caller.adjtimex(tx)
        except OSError as exc:
            assert exc.errno == expect and expect, (exc, expect)
            assert readings(ns) == seen
            # Did it fail in the inject step, after validation passed?
            clears = version in CLEARS_NTP and validation_errno(tx, who != "nocap") == 0
            if not clears:
                assert ns.timekeeper.snapshot() == before
                continue
            # 6.1: timekeeping_inject_offset's error path ran TK_CLEAR_NTP (timekeeping.c,
            # do_settimeofday64/timekeeping_inject_offset).
            now = Timex()
            ns.adjtimex(now)
            assert now.status == old.status | STA_UNSYNC
            assert (now.maxerror, now.esterror, now.offset) == (
                NTP_PHASE_LIMIT,
                NTP_PHASE_LIMIT,
                0,
            )
            assert (now.freq, now.constant, now.tick, now.tai) == (
                old.freq,
                old.constant,
                old.tick,
                old.tai,
            )
            assert ns.adjtime(None) == 0
            # a lazy timekeeper keeps across the clear how far it trails its tick-by-tick twin
            # (lazy_keeps_error, twin_ntp_error) once the inject step has folded its cycles in
            tk = ns.timekeeper
            kept = 0 if update == "periodic" else residue_after_fold(tk, before)
            assert tk.ntp_error == kept
            assert tk.twin_ntp_error == 0
            assert abs(kept) <= 2 * h.lazy_error_bound
            assert ns.ntp.time_state == before["ntp"]["time_state"]
            continue
        assert expect == 0, (tx_in, expect)
        assert 0 <= result <= 5
        assert -TOLERANCE <= tx.freq <= TOLERANCE
        assert -MAXFREQ_SCALED <= ns.ntp.time_freq <= MAXFREQ_SCALED
        if tx.modes & ADJ_ADJTIME:
            # adjtime(3) returns the slew pending before the call, unless an ADJ_SETOFFSET in
            # the same call was injected first and cleared it (TK_CLEAR_NTP, __do_adjtimex order).
            assert tx.offset == (0 if tx.modes & ADJ_SETOFFSET else pending_before)
        after = Timex()
        again = ns.adjtimex(after)
        # A frequency change recomputes mult at once (TK_ADV_FREQ); if the REALTIME second
        # turned since the last tick, that accumulation runs second_overflow inside the call,
        # after tx was filled in, as in the kernel.  Only then may a read right after differ.
        turned = seen[CLOCK_REALTIME] % NSEC < 2 * NSEC // hz
        if not (tx.modes & (ADJ_FREQUENCY | ADJ_TICK) and turned):
            with_offset = not tx.modes & ADJ_ADJTIME  # adjtime(3) returns the old slew there
            assert fields(tx, with_offset) == fields(after, with_offset)
            assert again == result
        assert -TOLERANCE <= after.freq <= TOLERANCE


@given(st.sampled_from(["periodic", "lazy"]), start_st, steps_st)
def test_failed_calls_change_nothing_mainline(update: str, start: int, steps: list) -> None:
    check_sequence(None, update, start, steps)


@given(st.sampled_from(["periodic", "lazy"]), start_st, steps_st)
def test_failed_setoffset_clears_ntp_on_6_1(update: str, start: int, steps: list) -> None:
    check_sequence("6.1", update, start, steps)


@pytest.mark.soak
@settings(max_examples=2000, deadline=None)
@given(
    st.sampled_from([None, "6.1", "6.1.192"]),
    st.sampled_from(["periodic", "lazy"]),
    start_st,
    st.lists(st.one_of(call_st, call_st, run_st), min_size=1, max_size=60),
)
def test_adjtimex_sequences_soak(version: str | None, update: str, start: int, steps: list) -> None:
    check_sequence(version, update, start, steps)


def test_inject_failure_on_6_1_clears_ntp_example() -> None:
    """The 6.1 difference, spelled out on one example (hypothesis explores the rest)."""
    for version, clears in ((None, False), ("6.1", True), ("6.1.192", True), ("6.13", False)):
        h = Host(hz=250, realtime_ns=1_650_000_000 * NSEC, kernel_version=version)
        ns = h.create_namespace("ns", update="periodic")
        ns.adjtimex(Timex(modes=ADJ_STATUS | ADJ_MAXERROR, status=STA_PLL, maxerror=0))
        ns.adjtimex(Timex(modes=ADJ_OFFSET | ADJ_FREQUENCY, offset=300, freq=5 << 16))
        ns.adjtime(900)
        h.run_for(NSEC + NSEC // 3)
        before, seen = ns.timekeeper.snapshot(), readings(ns)
        too_far = Timex(modes=ADJ_SETOFFSET, time=(-2_000_000_000, 0))  # before MONOTONIC
        with pytest.raises(OSError) as exc:
            ns.clock_adjtime(CLOCK_REALTIME, too_far)
        assert exc.value.errno == errno.EINVAL
        assert readings(ns) == seen
        tx = Timex()
        ns.adjtimex(tx)
        if clears:
            assert tx.status == STA_PLL | STA_UNSYNC and tx.offset == 0
            assert tx.maxerror == NTP_PHASE_LIMIT and ns.adjtime(None) == 0
            assert tx.freq == 5 << 16  # ntp_clear keeps the frequency
        else:
            assert ns.timekeeper.snapshot() == before
            assert tx.status == STA_PLL and tx.offset != 0 and ns.adjtime(None) != 0


def test_the_errno_predictor_itself() -> None:
    """The test's own predictor, on hand-checked cases (timekeeping_validate_timex order: EPERM
    before values)."""
    assert expected_errno(Timex(modes=ADJ_TICK, tick=5), True, 0, 0) == errno.EINVAL
    assert expected_errno(Timex(modes=ADJ_TICK, tick=5), False, 0, 0) == errno.EPERM
    assert expected_errno(Timex(modes=ADJ_ADJTIME), False, 0, 0) == errno.EINVAL
    assert expected_errno(Timex(modes=ADJ_OFFSET_SS_READ), False, 0, 0) == 0
    assert expected_errno(Timex(modes=ADJ_OFFSET_SINGLESHOT), False, 0, 0) == errno.EPERM
    bad = Timex(modes=ADJ_SETOFFSET, time=(-10, 0))
    assert expected_errno(bad, True, 5 * NSEC, 0) == errno.EINVAL
    assert expected_errno(bad, True, 15 * NSEC, 5 * NSEC) == 0
