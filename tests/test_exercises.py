"""The tutorials' exercises: each solution's answer, checked against the kernel's formula.

Every tutorial ends with exercises (a `### … {#ex-ID}` heading and a collapsible
`??? success "Solution"` whose python block markdown-exec runs at build time).  Here each
solution runs on its own, in a fresh namespace, and must leave its result in `answer`.  The
expected value is worked out *separately*, from the kernel's arithmetic written out below in
plain integers (kernel/time/clocksource.c, timekeeping.c, ntp.c, hrtimer.c, timerfd.c,
namespace.c): never from the engine, so an engine that drifts from the kernel fails here.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest
from doc_blocks import DOCS, exercises

NSEC_PER_SEC = 1_000_000_000
U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1
NTP_SCALE_SHIFT = 32
SHIFT_PLL = 2
SHIFT_FLL = 2
USER_HZ = 100
TICK_USEC = (1_000_000 + USER_HZ // 2) // USER_HZ
PPM_SCALE = 1000 << (NTP_SCALE_SHIFT - 16)          # NSEC_PER_USEC << (32 - SHIFT_USEC)
PPM_SCALE_INV_SHIFT = 19
PPM_SCALE_INV = (1 << (PPM_SCALE_INV_SHIFT + NTP_SCALE_SHIFT)) // PPM_SCALE + 1
SECS_PER_DAY = 86_400

TUTORIALS = sorted((DOCS / "tutorials").glob("*.md"))


# --- the kernel's arithmetic, written out again in plain integers ----------------------------

def calc_mult_shift(from_hz: int, to_hz: int, maxsec: int) -> tuple[int, int]:
    """clocks_calc_mult_shift: the bits mult may use, then the first shift from 32 that fits."""
    tmp = (maxsec * from_hz) >> 32
    sftacc = 32
    while tmp:
        tmp >>= 1
        sftacc -= 1
    for sft in range(32, 0, -1):
        mult = ((to_hz << sft) + from_hz // 2) // from_hz
        if mult >> sftacc == 0:
            return mult, sft
    return mult, 0


def registered(freq_hz: int, bits: int) -> tuple[int, int, int]:
    """__clocksource_update_freq_scale (scale 1): (mult, shift, maxadj)."""
    mask = (1 << bits) - 1
    maxsec = mask // freq_hz
    if maxsec == 0:
        maxsec = 1
    elif maxsec > 600 and mask > U32_MAX:
        maxsec = 600
    mult, shift = calc_mult_shift(freq_hz, NSEC_PER_SEC, maxsec)
    maxadj = mult * 11 // 100
    while mult + maxadj > U32_MAX or mult - maxadj < 0:
        mult, shift = mult >> 1, shift - 1
        maxadj = mult * 11 // 100
    return mult, shift, maxadj


def max_idle_ns(freq_hz: int, bits: int) -> int:
    """clocks_calc_max_nsecs: cycles safe at mult + maxadj, converted at mult − maxadj, halved."""
    mult, shift, maxadj = registered(freq_hz, bits)
    max_cycles = min(U64_MAX // (mult + maxadj), (1 << bits) - 1)
    return ((max_cycles * (mult - maxadj)) >> shift) >> 1


def tick_fields(freq_hz: int, bits: int, hz: int) -> tuple[int, int, int]:
    """tk_setup_internals: (cycle_interval, xtime_interval, xtime_remainder)."""
    mult, shift, _ = registered(freq_hz, bits)
    ntpinterval = (NSEC_PER_SEC // hz) << shift
    cycle_interval = max(1, (ntpinterval + mult // 2) // mult)
    xtime_interval = cycle_interval * mult
    return cycle_interval, xtime_interval, ntpinterval - xtime_interval


def tick_length(hz: int, time_freq: int) -> int:
    """ntp_update_frequency: one NTP interval in ns << 32 (no offset or adjtime pending)."""
    second_length = ((TICK_USEC * 1000 * USER_HZ) << NTP_SCALE_SHIFT) + time_freq
    return second_length // hz


def freq_readback(time_freq: int) -> int:
    """__do_adjtimex's `freq`: time_freq (ns << 32 per s) back to ppm << 16."""
    value = (time_freq >> PPM_SCALE_INV_SHIFT) * PPM_SCALE_INV
    return value >> NTP_SCALE_SHIFT if value >= 0 else -((-value) >> NTP_SCALE_SHIFT)


def hrtimer_forward(expires: int, now: int, interval: int) -> tuple[int, int]:
    """hrtimer_forward: (overruns, new expiry) of a timer moved past `now`."""
    delta = now - expires
    if delta < 0:
        return 0, expires
    orun = 0
    if delta >= interval:
        orun = delta // interval
        expires += orun * interval
        if expires > now:
            return orun, expires
    return orun + 1, expires + interval


# --- one independent answer per exercise --------------------------------------------------

def expect_mult_shift_19m2() -> tuple[int, int]:
    mult, shift, _ = registered(19_200_000, 56)
    return mult, shift


def expect_acpi_wrap_ns() -> int:
    mult, shift, _ = registered(3_579_545, 24)
    return ((1 << 24) * mult) >> shift


def expect_max_idle() -> int:
    return max_idle_ns(24_000_000, 32)


def expect_tick_fields() -> tuple[int, int, int]:
    return tick_fields(19_200_000, 56, 250)


def expect_dither_pair() -> tuple[int, int]:
    hz = 1000
    _, shift, _ = registered(3_000_000_000, 64)
    cycle_interval, _, xtime_remainder = tick_fields(3_000_000_000, 64, hz)
    ntp_tick = tick_length(hz, (100 << 16) * PPM_SCALE)          # ADJ_FREQUENCY +100 ppm
    low = ((ntp_tick >> (NTP_SCALE_SHIFT - shift)) - xtime_remainder) // cycle_interval
    return low, low + 1


def expect_pll_5s() -> int:
    hz, tc = 250, 2
    time_offset = (50_000_000 << NTP_SCALE_SHIFT) // hz           # ntp_update_offset
    for _ in range(5):                                              # five second_overflow
        time_offset -= time_offset >> (SHIFT_PLL + tc)
    return (time_offset * hz) >> NTP_SCALE_SHIFT


def expect_fll_freq() -> tuple[int, int]:
    offset, secs, tc = 10_000_000, 512, 5
    capped = min(secs, 1 << (SHIFT_PLL + 1 + tc))
    pll = (offset * capped) << (NTP_SCALE_SHIFT - 2 * (SHIFT_PLL + 2 + tc))
    fll = (offset << (NTP_SCALE_SHIFT - SHIFT_FLL)) // secs         # secs ≥ MINSEC, STA_FLL
    return freq_readback(pll), freq_readback(pll + fll)


def expect_delete_leap() -> tuple[list[int], int]:
    armed_at = 1_435_708_800 - 5 + 1         # the first second_overflow after STA_DEL is set
    next_leap = armed_at + SECS_PER_DAY - armed_at % SECS_PER_DAY
    return [next_leap - 1], 35 - 1


def expect_linear_smear() -> Fraction:
    return Fraction(6 * 3600, 86_400) * NSEC_PER_SEC


def expect_settime_order() -> list[tuple[str, int]]:
    set_at, step = 5 * NSEC_PER_SEC, -10 * NSEC_PER_SEC
    realtime_after = set_at + step                   # REALTIME − E just after the setting
    absolute = {"A": 30 * NSEC_PER_SEC, "C": 12 * NSEC_PER_SEC}
    due = {name: set_at + (deadline - realtime_after) for name, deadline in absolute.items()}
    due["B"] = 25 * NSEC_PER_SEC                     # relative: on MONOTONIC, not moved
    return sorted(due.items(), key=lambda item: item[1])


def expect_timerfd_ticks() -> int:
    interval = 7_000_000
    ticks = 1                                        # timerfd_tmrproc at the first expiry
    orun, _ = hrtimer_forward(interval, NSEC_PER_SEC, interval)
    return ticks + orun - 1                          # timerfd_read forwards the expired timer


def expect_dilation() -> int:
    mult, shift, _ = registered(4_500_000_000, 64)   # the counter as if at 3 GHz × 3/2
    return (10 * 3_000_000_000 * mult) >> shift


def expect_timens_range() -> list[str]:
    up_ns = 100_300_000_000
    accepted = []
    for text in ("-100 0", "-101 800000000", "-101 700000000", "-101 600000000"):
        sec, nsec = (int(v) for v in text.split())
        if (up_ns + sec * NSEC_PER_SEC + nsec) // NSEC_PER_SEC >= 0:   # timespec tv_sec ≥ 0
            accepted.append(text)
    return accepted


def exact(expected: Any) -> Callable[[Any], bool]:
    return lambda answer: answer == expected


def within(expected: Any, tolerance: int) -> Callable[[Any], bool]:
    return lambda answer: abs(answer - expected) <= tolerance


def fires(expected: list[tuple[str, int]], tolerance: int) -> Callable[[Any], bool]:
    def check(answer: Any) -> bool:
        return [label for label, _ in answer] == [label for label, _ in expected] and all(
            0 <= t - due <= tolerance for (_, t), (_, due) in zip(answer, expected, strict=True)
        )
    return check


# exercise id: (expected value, how the solution's answer must match it)
CHECKS: dict[str, Callable[[], tuple[Any, Callable[[Any], bool]]]] = {
    "ex-mult-shift-19m2": lambda: (e := expect_mult_shift_19m2(), exact(e)),
    "ex-acpi-wrap-ns": lambda: (e := expect_acpi_wrap_ns(), exact(e)),
    "ex-max-idle": lambda: (e := expect_max_idle(), exact(e)),
    "ex-tick-fields": lambda: (e := expect_tick_fields(), exact(e)),
    "ex-dither-pair": lambda: (e := expect_dither_pair(), exact(e)),
    "ex-pll-5s": lambda: (e := expect_pll_5s(), exact(e)),
    "ex-fll-freq": lambda: (e := expect_fll_freq(), exact(e)),
    "ex-delete-leap": lambda: (e := expect_delete_leap(), exact(e)),
    # the follower steers every 16 s; it lands within nanoseconds of the shape
    "ex-linear-smear": lambda: (e := expect_linear_smear(), within(e, 1_000)),
    # a fire is never early, and late only by the clockevent's delta and the TSC's rounding
    "ex-settime-order": lambda: (e := expect_settime_order(), fires(e, 10_000)),
    "ex-timerfd-ticks": lambda: (e := expect_timerfd_ticks(), exact(e)),
    # the read's truncation of xtime_nsec may cost one nanosecond either way
    "ex-dilation": lambda: (e := expect_dilation(), within(e, 1)),
    "ex-timens-range": lambda: (e := expect_timens_range(), exact(e)),
}

ALL = {ident: (page, code) for page in TUTORIALS for ident, code in exercises(page).items()}


def test_every_tutorial_ends_with_one_to_three_exercises() -> None:
    assert len(TUTORIALS) >= 6
    for page in TUTORIALS:
        found = exercises(page)
        assert 1 <= len(found) <= 3, f"{page.name}: {len(found)} exercises"
        assert all(found.values()), f"{page.name}: an exercise without an executed solution"
        text = page.read_text(encoding="utf-8")
        assert text.index("## Exercises") < text.index("## Where next"), page.name


def test_every_exercise_is_checked_and_every_check_has_an_exercise() -> None:
    ids = [ident for page in TUTORIALS for ident in exercises(page)]
    assert len(ids) == len(set(ids)), "exercise ids must be unique across the tutorials"
    assert set(ids) == set(CHECKS)


def test_solution_blocks_are_all_executed() -> None:
    """An indented ```python block that markdown-exec does not run would show unchecked code."""
    for page in TUTORIALS:
        for line in re.findall(r"^ +```python[^\n]*$", page.read_text(encoding="utf-8"), re.M):
            assert 'exec="true"' in line, f"{page.name}: {line.strip()}"


@pytest.mark.parametrize("ident", sorted(CHECKS))
def test_solution_gives_the_kernel_answer(ident: str) -> None:
    page, code = ALL[ident]
    env: dict[str, Any] = {"__name__": f"docs.{page.stem}.{ident}"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"{page.name}[{ident}]", "exec"), env)
    assert "answer" in env, f"{ident}: the solution must leave its result in `answer`"
    assert out.getvalue().strip(), f"{ident}: the solution prints nothing for the reader"
    expected, matches = CHECKS[ident]()
    assert matches(env["answer"]), f"{ident}: solution {env['answer']!r}, kernel {expected!r}"


def test_the_checks_can_fail() -> None:
    """Each check rejects a value one unit off, so a wrong solution cannot pass."""
    for ident, check in CHECKS.items():
        expected, matches = check()
        assert matches(expected), ident
        assert not matches(_nudged(expected)), ident


def _nudged(value: Any) -> Any:
    """`value` made wrong: ints (and the first int inside a tuple or list) moved far off."""
    if isinstance(value, (int, Fraction)):
        return value + 1_000_000_007
    if isinstance(value, str):
        return value + " 1"
    if isinstance(value, tuple) and value and isinstance(value[0], str):
        return (value[0], _nudged(value[1]))
    if isinstance(value, (tuple, list)):
        return type(value)([_nudged(value[0]), *value[1:]]) if value else [0]
    raise TypeError(value)
