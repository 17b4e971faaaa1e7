"""Range checks: every checkpoint field against the invariants the engine relies on.

Type checks alone let a re-signed document (sha256 is a checksum, not a signature) hang the
host (`cycle_interval` 0 makes `timekeeping_advance` loop forever), divide by zero (`mult`
0) or run with values no kernel could hold.  These checks run before anything is built and
use the kernel's own ranges where it has them:

* clocksource conversion: mult 1..U32_MAX and shift 0..32 (`clocks_calc_mult_shift` never
  yields more than 32; `__clocksource_update_freq_scale` keeps mult ± maxadj inside u32);
  the fixed per-tick values are re-derived as `tk_setup_internals` derives them;
* counters and cycle values: 0 ≤ v < 2^64; shifted nanoseconds below NSEC_PER_SEC << shift;
* NTP (kernel/time/ntp.c, `timekeeping_validate_timex`): time_constant 0..MAXTC, tick in
  the ADJ_TICK range 900000/USER_HZ..1100000/USER_HZ, time_freq within ±MAXFREQ_SCALED,
  time_offset within what `ntp_update_offset` can store (±MAXPHASE), only defined STA_ bits,
  a time_state the state machine has, tick_length_base as `ntp_update_frequency` computes it.

Each failure is a `CheckpointError` naming the field path and what was expected.
"""

from __future__ import annotations

from typing import Any

from gmpy2 import mpq

from ntp.kernel import STATE_FIELDS, max_tickadj_scaled
from ntp.timex import (
    MAXFREQ_SCALED,
    MAXPHASE,
    MAXTC,
    NSEC_PER_USEC,
    NTP_SCALE_SHIFT,
    TIME_ERROR,
    TIME_OK,
    USEC_PER_SEC,
    to_u64,
)
from ntp.version import LATER_FLAGS, KernelBehaviour

from ..clocksource import U32_MAX, MultShift, clocksource_update_freq
from ..task import HOST_SUFFIX, KNOWN_CAPS
from ..timekeeper import KTIME_SEC_MAX, NSEC_PER_SEC, Timekeeper
from ._format import CheckpointError, _get, _rational

U64 = (0, (1 << 64) - 1)
S64 = (-(1 << 63), (1 << 63) - 1)
S32 = (-(1 << 31), (1 << 31) - 1)
#: ntp_error is the kernel's s64; a lazy namespace's long deltas are exact (128-bit) sums.
S128 = (-(1 << 127), (1 << 127) - 1)
#: A queue key is the extended-counter cycle at which a deadline falls due.  Linux keys its
#: hrtimers in ns (KTIME_MAX at most); here a KTIME_MAX deadline converted to cycles of a GHz
#: counter lies well past 2^64 (about 2^64.6 at 3 GHz), so keys get a 128-bit range.
KEY = (0, (1 << 128) - 1)
#: Every STA_ bit of timex.h, STA_PLL (0x0001) up to STA_CLK (0x8000).
STA_ALL = 0xFFFF
#: MAX_SHIFT: clocks_calc_mult_shift starts at 32 and only goes down.
MAX_SHIFT = 32
#: ntp_tick_adj (boot parameter, ns/s << 32): bounded like tick, ±10 % of a second per second.
MAX_TICK_ADJ = (NSEC_PER_SEC << NTP_SCALE_SHIFT) // 10
_BOOL_FIELDS = ("mult_warned", "separate_coarse_nsec")


def fail(path: str, expected: str, found: Any = None, *, show: bool = True) -> CheckpointError:
    """The error for one field: its path, what was expected, what was found."""
    tail = f", found {shown(found)}" if show else ""
    return CheckpointError(f"checkpoint field {path}: expected {expected}{tail}")


def shown(value: Any) -> str:
    """A value for a message, short even when an edit made it enormous."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def int_in(d: Any, key: str, path: str, lo: int, hi: int, what: str = "") -> int:
    """An int field within lo..hi (inclusive)."""
    value = _get(d, key, int, path)
    if not lo <= value <= hi:
        raise fail(f"{path}.{key}", what or f"an integer in {_range(lo, hi)}", value)
    return int(value)


def check_jiffies(state: Any, path: str, tick_period: int, root_mono_now: int) -> int:
    """`last_jiffies_update`: a whole multiple of TICK_NSEC, not after root MONOTONIC now."""
    value = int_in(state, "last_jiffies_update", path, 0, max(0, root_mono_now),
                   "root MONOTONIC ns in 0..now (the last jiffy boundary accounted for)")
    if value % tick_period:
        raise fail(f"{path}.last_jiffies_update", f"a whole multiple of TICK_NSEC ({tick_period})",
                   value)
    return value


def _range(lo: int, hi: int) -> str:
    names = {U64[1]: "2^64-1", S64[1]: "2^63-1", S64[0]: "-2^63", S32[0]: "-2^31",
             S32[1]: "2^31-1", U32_MAX: "2^32-1", S128[0]: "-2^127", S128[1]: "2^127-1",
             KEY[1]: "2^128-1"}
    return f"{names.get(lo, lo)}..{names.get(hi, hi)}"


def equal(d: dict[str, Any], key: str, path: str, want: Any, why: str) -> None:
    if d[key] != want:
        raise fail(f"{path}.{key}", f"{shown(want)} ({why})", d[key])


def choice(d: Any, key: str, path: str, allowed: tuple[str, ...]) -> str:
    value = _get(d, key, str, path)
    if value not in allowed:
        raise fail(f"{path}.{key}", "one of " + ", ".join(allowed), value)
    return str(value)


def positive_rational(d: Any, key: str, path: str) -> mpq:
    value = _rational(d, key, path)
    if value <= 0:
        raise fail(f"{path}.{key}", "a rational > 0", str(value))
    return value


def nonempty(d: Any, key: str, path: str) -> str:
    value = _get(d, key, str, path)
    if not value:
        raise fail(f"{path}.{key}", "a non-empty name", value)
    return str(value)


# -- the timekeeper -----------------------------------------------------------------------------


def clock_params(freq_hz: Any, mask: int, path: str) -> MultShift:
    """`clocksource_update_freq` for a (dilated) frequency, refused when mult/shift cannot fit."""
    expected = "a frequency whose clocksource mult fits 1..2^32-1 with shift 0..32"
    try:
        params = clocksource_update_freq(freq_hz, mask)
    except (ZeroDivisionError, ValueError):  # mult 0: max_cycles would divide by zero
        raise fail(path, f"{expected} (mult would be 0)", show=False) from None
    if not (1 <= params.mult <= U32_MAX and 0 <= params.shift <= MAX_SHIFT):
        got = f"(got mult {shown(params.mult)}, shift {params.shift})"
        raise fail(path, f"{expected} {got}", show=False)
    return params


def check_timekeeper(
    snap: Any, path: str, clock: tuple[int, int, int], hz: int, max_cycles: int
) -> None:
    """A `Timekeeper.snapshot()`: ranges, then the values `tk_setup_internals` fixes.

    `clock` is (clock_mult, shift, maxadj) of the clocksource this timekeeper runs on here;
    `max_cycles` the counter's value now (a timekeeper cannot have accumulated beyond it).
    """
    if not isinstance(snap, dict):
        raise fail(path, "an object", type(snap).__name__, show=True)
    for key in Timekeeper._FIELDS:
        _get(snap, key, bool if key in _BOOL_FIELDS else int, path)
    ntp = _get(snap, "ntp", dict, path)
    _check_conversion(snap, path, clock, hz, drains(ntp))
    _check_accumulated(snap, path, max_cycles)
    _check_offsets(snap, path)
    check_ntp(_get(snap, "ntp", dict, path), f"{path}.ntp", snap["hz"])
    _check_next_mult(snap, path)


def drains(ntp: dict[str, Any]) -> bool:
    """Whether a saved NTP state follows 7.3's per-interval drain (``ntp_skew_drain``)."""
    flags = ntp.get("behaviour_flags")
    if isinstance(flags, dict) and isinstance(flags.get("ntp_skew_drain"), bool):
        return bool(flags["ntp_skew_drain"])
    version = ntp.get("behaviour")
    try:
        return KernelBehaviour.from_version(version).ntp_skew_drain
    except (TypeError, ValueError):
        return False  # _check_behaviour names the bad version


def _check_conversion(
    snap: dict[str, Any], path: str, clock: tuple[int, int, int], hz: int, drain: bool = False
) -> None:
    clock_mult, shift, maxadj = clock
    equal(snap, "clock_mult", path, clock_mult, "the clocksource's mult for this counter")
    equal(snap, "shift", path, shift, "the clocksource's shift for this counter")
    equal(snap, "maxadj", path, maxadj, "11% of the clocksource's mult")
    equal(snap, "hz", path, hz, "the host's HZ")
    equal(snap, "raw_mult", path, clock_mult, "the clocksource's mult")
    ntpinterval = (NSEC_PER_SEC // hz) << shift
    interval = max(1, (ntpinterval + clock_mult // 2) // clock_mult)
    int_in(snap, "cycle_interval", path, 1, U64[1])
    equal(snap, "cycle_interval", path, interval, "as tk_setup_internals derives it")
    if drain:
        equal(snap, "xtime_remainder", path, 0, "0 (7.3 hands the tick rounding to NTP)")
        rounding = ((interval * clock_mult) << (NTP_SCALE_SHIFT - shift)) - (
            (NSEC_PER_SEC // hz) << NTP_SCALE_SHIFT)
        equal(snap, "cs_tick_adj", path, rounding * hz,
              "the tick's rounding to whole cycles per second, as tk_setup_internals sets it")
        int_in(snap, "skew_delta", path, *S64)
    else:
        equal(snap, "xtime_remainder", path, ntpinterval - interval * clock_mult,
              "NSEC_PER_SEC/HZ << shift minus cycle_interval * clock_mult")
    equal(snap, "ntp_error_shift", path, NTP_SCALE_SHIFT - shift, "32 - shift")
    mult = int_in(snap, "mult", path, 1, U32_MAX, "a steered mult in 1..2^32-1")
    equal(snap, "xtime_interval", path, interval * mult, "cycle_interval * mult")
    equal(snap, "raw_interval", path, interval * clock_mult, "cycle_interval * raw_mult")
    int_in(snap, "ntp_tick", path, 1, U64[1])
    int_in(snap, "ntp_error", path, *S128)
    if "twin_ntp_error" in snap:  # lazy only: the tick-by-tick twin's ntp_error
        int_in(snap, "twin_ntp_error", path, *S128)
    int_in(snap, "ntp_err_mult", path, 0, 1)
    int_in(snap, "skip_second_overflow", path, 0, 1)


def _check_accumulated(snap: dict[str, Any], path: str, max_cycles: int) -> None:
    shifted = (NSEC_PER_SEC << snap["shift"]) - 1
    int_in(snap, "cycle_last", path, 0, max_cycles,
           f"a cycle count in 0..{max_cycles} (not beyond the counter now)")
    int_in(snap, "xtime_sec", path, 0, KTIME_SEC_MAX)
    int_in(snap, "xtime_nsec", path, 0, shifted, f"shifted ns in 0..(NSEC_PER_SEC << shift) - 1 "
           f"= {shifted}")
    int_in(snap, "raw_sec", path, 0, KTIME_SEC_MAX)
    int_in(snap, "raw_xtime_nsec", path, 0, shifted, f"shifted ns in 0..{shifted}")
    int_in(snap, "coarse_nsec", path, *S64)
    int_in(snap, "clock_was_set_seq", path, *U64)


def _check_offsets(snap: dict[str, Any], path: str) -> None:
    wtm = int_in(snap, "wall_to_monotonic_ns", path, *S64)
    tai = int_in(snap, "tai_offset", path, *S32)
    int_in(snap, "offs_boot", path, *S64)
    int_in(snap, "next_leap_ktime", path, *S64)
    equal(snap, "offs_real", path, -wtm, "-wall_to_monotonic_ns")
    equal(snap, "offs_tai", path, -wtm + tai * NSEC_PER_SEC, "offs_real + tai_offset seconds")
    equal(snap, "base_mono", path, snap["xtime_sec"] * NSEC_PER_SEC + wtm,
          "xtime_sec in ns + wall_to_monotonic_ns")
    equal(snap, "base_raw", path, snap["raw_sec"] * NSEC_PER_SEC, "raw_sec in ns")


def _check_next_mult(snap: dict[str, Any], path: str) -> None:
    """The mult `timekeeping_adjust` will take from NTP's tick length must stay ≥ 1."""
    tick_length = snap["ntp"]["tick_length"]
    mult = ((tick_length >> snap["ntp_error_shift"]) - snap["xtime_remainder"]) // snap[
        "cycle_interval"
    ]
    if not 1 <= mult <= U32_MAX + 1:
        raise fail(f"{path}.ntp.tick_length", "a tick length that gives a mult in 1..2^32-1",
                   tick_length)


# -- NTP ------------------------------------------------------------------------------------------


def check_ntp(ntp: Any, path: str, hz: int) -> None:
    """An `NtpState.to_dict()` within the ranges ntp.c keeps its variables in."""
    if not isinstance(ntp, dict):
        raise fail(path, "an object", type(ntp).__name__)
    equal_hz = int_in(ntp, "hz", path, 1, NSEC_PER_SEC)
    if equal_hz != hz:
        raise fail(f"{path}.hz", f"{hz} (the timekeeper's HZ)", equal_hz)
    user_hz = int_in(ntp, "user_hz", path, 1, USEC_PER_SEC)
    for key in STATE_FIELDS:
        _get(ntp, key, int, path)
    _check_behaviour(ntp, path)
    lo, hi = 900000 // user_hz, 1100000 // user_hz
    tick_usec = int_in(ntp, "tick_usec", path, lo, hi, f"an ADJ_TICK value in {lo}..{hi}")
    freq = int_in(ntp, "time_freq", path, -MAXFREQ_SCALED, MAXFREQ_SCALED,
                  "a frequency within ±MAXFREQ_SCALED (500 ppm)")
    adj = int_in(ntp, "ntp_tick_adj", path, -MAX_TICK_ADJ, MAX_TICK_ADJ,
                 "a boot-time tick adjustment within ±0.1 s/s (the ADJ_TICK range)")
    second = to_u64(to_u64((tick_usec * NSEC_PER_USEC * user_hz) << NTP_SCALE_SHIFT) + adj + freq)
    drain = drains(ntp)
    if drain:
        second = to_u64(second + _check_drain_fields(ntp, path, hz))
    base = int_in(ntp, "tick_length_base", path, 1, U64[1])
    equal(ntp, "tick_length_base", path, second // hz, "as ntp_update_frequency computes it")
    max_offset = (MAXPHASE << NTP_SCALE_SHIFT) // hz
    int_in(ntp, "time_offset", path, -max_offset, max_offset,
           f"a phase offset within ±MAXPHASE per tick (|v| <= {max_offset})")
    slew = max_offset + max_tickadj_scaled(hz)
    if drain:
        equal(ntp, "tick_length", path, base, "tick_length_base (7.3 keeps the slew apart)")
    else:
        int_in(ntp, "tick_length", path, max(1, base - slew), min(U64[1], base + slew),
               "tick_length_base plus at most one PLL chunk and one adjtime slew")
    int_in(ntp, "time_constant", path, 0, MAXTC, f"a time constant in 0..MAXTC ({MAXTC})")
    int_in(ntp, "time_status", path, 0, STA_ALL, "only defined STA_ bits (0..0xffff)")
    int_in(ntp, "time_state", path, TIME_OK, TIME_ERROR,
           f"a time_state TIME_OK..TIME_ERROR ({TIME_OK}..{TIME_ERROR})")
    for key in ("time_maxerror", "time_esterror", "time_reftime", "time_adjust",
                "ntp_next_leap_sec"):
        int_in(ntp, key, path, *S64)


def _check_drain_fields(ntp: dict[str, Any], path: str, hz: int) -> int:
    """7.3's skew_delta, drawer and cs_tick_adj within what ntp.c can hold; returns cs_tick_adj."""
    max_skew = ((MAXPHASE << NTP_SCALE_SHIFT) // hz + max_tickadj_scaled(hz)) // hz + 1
    int_in(ntp, "skew_delta", path, -max_skew, max_skew,
           f"a per-interval slew of at most one PLL chunk and one adjtime slew (|v| <= {max_skew})")
    one_us = NSEC_PER_USEC << NTP_SCALE_SHIFT
    int_in(ntp, "time_adjust_frac", path, -one_us, one_us, "under 1 µs (in ns << 32)")
    return int_in(ntp, "cs_tick_adj", path, *S64)


#: Flags added after checkpoints were first written: an older document may lack them.
_LATER_FLAGS = LATER_FLAGS


def _check_behaviour(ntp: dict[str, Any], path: str) -> None:
    flags = ntp.get("behaviour_flags")
    if flags is None:
        version = ntp.get("behaviour")
        try:
            KernelBehaviour.from_version(version)
        except (TypeError, ValueError) as err:
            raise fail(f"{path}.behaviour", f"a kernel version ({err})", version) from None
        return
    defaults = KernelBehaviour()
    known = set(vars(defaults))
    if not isinstance(flags, dict) or not known - _LATER_FLAGS <= set(flags) <= known:
        raise fail(f"{path}.behaviour_flags", "an object with the keys "
                   + ", ".join(sorted(vars(defaults))), flags)
    for key, default in vars(defaults).items():
        if key in flags:
            _get(flags, key, type(default), f"{path}.behaviour_flags")


# -- tasks ----------------------------------------------------------------------------------------


def check_caps(task: Any, path: str, host_caps: bool) -> frozenset[str]:
    """A task's capability list: known, not repeated, and over the host only when allowed."""
    caps = _get(task, "caps", list, path)
    where = f"{path}.caps"
    if not all(isinstance(c, str) for c in caps):
        raise fail(where, "a list of capability names", caps)
    unknown = sorted(set(caps) - KNOWN_CAPS)
    if unknown:
        raise fail(where, "capabilities among " + ", ".join(sorted(KNOWN_CAPS)), unknown)
    if len(set(caps)) != len(caps):
        raise fail(where, "each capability once", caps)
    over_host = sorted(c for c in caps if c.endswith(HOST_SUFFIX))
    if over_host and not host_caps:
        raise fail(where, "no capabilities over the host (a checkpoint cannot grant them "
                   "here; the host owner may pass host_caps=True)", over_host)
    return frozenset(caps)


def check_tasks(state: Any, path: str, host_caps: bool, pids: set[int] | None) -> None:
    """Every task's pid and caps; `pids` collects host-wide pids (None: fresh pids are drawn)."""
    tasks = _get(state, "tasks", list, path)
    for i, task in enumerate(tasks):
        where = f"{path}.tasks[{i}]"
        if not isinstance(task, dict):
            raise fail(where, "an object", type(task).__name__)
        pid = int_in(task, "pid", where, 1, S32[1], "a pid in 1..2^31-1")
        check_caps(task, where, host_caps)
        if "for_children" in task:
            if pids is None:
                raise fail(f"{where}.for_children", "nothing (a namespace document cannot "
                           "name another namespace)", task["for_children"])
            _get(task, "for_children", str, where)
        if pids is not None:
            if pid in pids:
                raise fail(f"{where}.pid", "a pid no other task has", pid)
            pids.add(pid)
    frozen = _get(state, "frozen", bool, path)
    if tasks and not frozen:
        raise fail(f"{path}.frozen", "true (a task has entered the namespace)", frozen)


# -- the reference ---------------------------------------------------------------------------------


def check_reference(ref: Any, path: str, freq_eff: mpq) -> None:
    """The exact reference: rationals that parse, positive rates, the namespace's frequency."""
    from ..reference import Reference

    if not isinstance(ref, dict):
        raise fail(path, "an object", type(ref).__name__)
    for key in Reference.RATIONAL_FIELDS:
        _rational(ref, key, path)
    for key in ("freq_eff", "rate", "nominal_rate", "raw_rate"):
        positive_rational(ref, key, path)
    if _rational(ref, "freq_eff", path) != freq_eff:
        raise fail(f"{path}.freq_eff", f"{freq_eff} (counter frequency × dilation)",
                   ref["freq_eff"])
    int_in(ref, "anchor_cycles", path, *U64)
    int_in(ref, "tick_length", path, -1, U64[1], "-1 (not yet set) or a tick length < 2^64")
