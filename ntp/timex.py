"""The adjtimex ABI: mode/status/state constants, NTP constants, integer helpers, ``Timex``.

Everything here mirrors ``include/uapi/linux/timex.h`` and ``include/linux/timex.h`` (values as
those headers define them).  The integer helpers give Python ints the semantics the kernel's C
code has: truncating signed division, the symmetric ``shift_right`` and 64/32-bit wrap-around.

``Timex`` is ``struct timex`` (the kernel's ``struct __kernel_timex`` on a 64-bit machine).  Its
fields only accept plain ``int`` values that fit the C field; a wrong type raises ``TypeError``
and an out-of-range value raises ``OverflowError``, both naming the field.  For a Python API a
wrong type is a programming error, not a system-call failure, so it is never an ``OSError``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NamedTuple, overload

# --- adjtimex mode bits (uapi/linux/timex.h) -------------------------------------------------
ADJ_OFFSET: Final = 0x0001
ADJ_FREQUENCY: Final = 0x0002
ADJ_MAXERROR: Final = 0x0004
ADJ_ESTERROR: Final = 0x0008
ADJ_STATUS: Final = 0x0010
ADJ_TIMECONST: Final = 0x0020
ADJ_TAI: Final = 0x0080
ADJ_SETOFFSET: Final = 0x0100
ADJ_MICRO: Final = 0x1000
ADJ_NANO: Final = 0x2000
ADJ_TICK: Final = 0x4000
#: Kernel-internal: the call comes from adjtime(3), not ntp_adjtime(3).
ADJ_ADJTIME: Final = 0x8000
#: Kernel-internal: with ADJ_ADJTIME, only read the pending adjtime slew (same bit as ADJ_NANO).
ADJ_OFFSET_READONLY: Final = 0x2000
#: User-space names for the adjtime(3) modes (ADJ_ADJTIME | ADJ_OFFSET [| READONLY]).
ADJ_OFFSET_SINGLESHOT: Final = 0x8001
ADJ_OFFSET_SS_READ: Final = 0xA001

# --- status bits ----------------------------------------------------------------------------
STA_PLL: Final = 0x0001
STA_PPSFREQ: Final = 0x0002
STA_PPSTIME: Final = 0x0004
STA_FLL: Final = 0x0008
STA_INS: Final = 0x0010
STA_DEL: Final = 0x0020
STA_UNSYNC: Final = 0x0040
STA_FREQHOLD: Final = 0x0080
STA_PPSSIGNAL: Final = 0x0100
STA_PPSJITTER: Final = 0x0200
STA_PPSWANDER: Final = 0x0400
STA_PPSERROR: Final = 0x0800
STA_CLOCKERR: Final = 0x1000
STA_NANO: Final = 0x2000
STA_MODE: Final = 0x4000
STA_CLK: Final = 0x8000
#: Bits user space cannot write through ADJ_STATUS.
STA_RONLY: Final = (
    STA_PPSSIGNAL
    | STA_PPSJITTER
    | STA_PPSWANDER
    | STA_PPSERROR
    | STA_CLOCKERR
    | STA_NANO
    | STA_MODE
    | STA_CLK
)

# --- clock states (adjtimex return values) ---------------------------------------------------
TIME_OK: Final = 0
TIME_INS: Final = 1
TIME_DEL: Final = 2
TIME_OOP: Final = 3
TIME_WAIT: Final = 4
TIME_ERROR: Final = 5
TIME_BAD: Final = TIME_ERROR

# --- generic limits -------------------------------------------------------------------------
NSEC_PER_SEC: Final = 1_000_000_000
NSEC_PER_USEC: Final = 1_000
USEC_PER_SEC: Final = 1_000_000
LLONG_MAX: Final = 2**63 - 1
LLONG_MIN: Final = -(2**63)
KTIME_MAX: Final = LLONG_MAX
KTIME_SEC_MAX: Final = KTIME_MAX // NSEC_PER_SEC  # 9223372036
TIME64_MAX: Final = LLONG_MAX
#: KTIME_SEC_MAX less 30 years of 365 days: the last second settimeofday accepts (time64.h).
TIME_SETTOD_SEC_MAX: Final = KTIME_SEC_MAX - 30 * 365 * 86400  # 8277292036
SECS_PER_DAY: Final = 86400
USER_HZ: Final = 100

# --- NTP constants (linux/timex.h, ntp.c; include/linux/timex.h) ----------------------------------
NTP_SCALE_SHIFT: Final = 32
SHIFT_PLL: Final = 2
SHIFT_FLL: Final = 2
MAXTC: Final = 10
SHIFT_USEC: Final = 16
PPM_SCALE: Final = NSEC_PER_USEC << (NTP_SCALE_SHIFT - SHIFT_USEC)  # 65536000
PPM_SCALE_INV_SHIFT: Final = 19
PPM_SCALE_INV: Final = (1 << (PPM_SCALE_INV_SHIFT + NTP_SCALE_SHIFT)) // PPM_SCALE + 1  # 34359739
MAXPHASE: Final = 500_000_000
MAXFREQ: Final = 500_000
MAXFREQ_SCALED: Final = MAXFREQ << NTP_SCALE_SHIFT  # 2147483648000000
MINSEC: Final = 256
MAXSEC: Final = 2048
NTP_PHASE_LIMIT: Final = (MAXPHASE // NSEC_PER_USEC) << 5  # 16000000 µs
MAX_TICKADJ: Final = 500
MAX_TAI_OFFSET: Final = 100_000

_MASK32: Final = (1 << 32) - 1
_MASK64: Final = (1 << 64) - 1


# --- integer helpers with C semantics -------------------------------------------------------
def shift_right(x: int, s: int) -> int:
    """``shift_right()`` of linux/timex.h: shift the magnitude, keep the sign.

    The kernel uses it so that negative phase and frequency values round toward zero exactly
    like positive ones, instead of toward minus infinity as an arithmetic shift would.
    """
    return -((-x) >> s) if x < 0 else x >> s


def div_trunc(a: int, b: int) -> int:
    """C signed division (``div_s64``/``/`` on signed operands): truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def rem_trunc(a: int, b: int) -> int:
    """C ``%`` (the remainder ``div_s64_rem`` returns): takes the sign of the dividend."""
    return a - div_trunc(a, b) * b


def to_u64(x: int) -> int:
    """Wrap to ``u64`` as a C assignment to an unsigned 64-bit variable does."""
    return x & _MASK64


def to_s64(x: int) -> int:
    """Wrap to ``s64`` (the kernel builds with -fno-strict-overflow, so signed math wraps)."""
    x &= _MASK64
    return x - (1 << 64) if x >> 63 else x


def to_u32(x: int) -> int:
    """Wrap to ``u32`` (a ``(u32)`` cast)."""
    return x & _MASK32


def to_s32(x: int) -> int:
    """Wrap to ``s32`` (an ``int`` field)."""
    x &= _MASK32
    return x - (1 << 32) if x >> 31 else x


def clamp(x: int, lo: int, hi: int) -> int:
    """The kernel's ``clamp(val, lo, hi)``."""
    return lo if x < lo else hi if x > hi else x


# --- struct timex ---------------------------------------------------------------------------
class Timeval(NamedTuple):
    """``struct __kernel_timex_timeval``: ``tv_usec`` holds ns when STA_NANO/ADJ_NANO apply."""

    tv_sec: int
    tv_usec: int


_TIMEVAL_ZERO = Timeval(0, 0)  # immutable, so a safe shared default
_S64 = (LLONG_MIN, LLONG_MAX)
_S32 = (-(2**31), 2**31 - 1)
_U32 = (0, _MASK32)

#: C type range of every integer field of ``struct __kernel_timex`` (64-bit layout).
TIMEX_FIELD_RANGES: dict[str, tuple[int, int]] = {
    "modes": _U32,
    "offset": _S64,
    "freq": _S64,
    "maxerror": _S64,
    "esterror": _S64,
    "status": _S32,
    "constant": _S64,
    "precision": _S64,
    "tolerance": _S64,
    "tick": _S64,
    "ppsfreq": _S64,
    "jitter": _S64,
    "shift": _S32,
    "stabil": _S64,
    "jitcnt": _S64,
    "calcnt": _S64,
    "errcnt": _S64,
    "stbcnt": _S64,
    "tai": _S32,
}


def _check_c_int(name: str, value: Any, bounds: tuple[int, int]) -> int:
    """Accept a plain int that fits the C field ``name``; bool is rejected as a likely bug."""
    if type(value) is not int:
        raise TypeError(f"Timex.{name} must be int, not {type(value).__name__}")
    lo, hi = bounds
    if not lo <= value <= hi:
        raise OverflowError(f"Timex.{name}={value} does not fit its C type [{lo}, {hi}]")
    return value


def _as_timeval(value: Any) -> Timeval:
    """Turn a 2-tuple of ints into a ``Timeval`` (both members are 64-bit in the ABI)."""
    if not isinstance(value, tuple) or len(value) != 2:
        raise TypeError(f"Timex.time must be a (tv_sec, tv_usec) pair, not {value!r}")
    sec = _check_c_int("time.tv_sec", value[0], _S64)
    usec = _check_c_int("time.tv_usec", value[1], _S64)
    return Timeval(sec, usec)


if TYPE_CHECKING:

    class _TimevalField:
        """What type checkers see for ``Timex.time``: any ``(tv_sec, tv_usec)`` pair may be
        written (``Timeval`` is one), and reading always gives the ``Timeval`` that
        ``Timex.__setattr__`` stored.  Only a declaration: at run time the field is plain."""

        @overload
        def __get__(self, instance: None, owner: type[Any]) -> _TimevalField: ...
        @overload
        def __get__(self, instance: object, owner: type[Any]) -> Timeval: ...
        def __get__(self, instance: object, owner: type[Any]) -> Timeval | _TimevalField: ...
        def __set__(self, instance: object, value: tuple[int, int]) -> None: ...


@dataclass(slots=True)
class Timex:
    """``struct timex`` as adjtimex(2) sees it; the kernel reads and fills it in place.

    Every field defaults to 0 and ``time`` to ``Timeval(0, 0)``.  Assigning a plain pair to
    ``time`` stores a ``Timeval``.  Non-int values raise ``TypeError``; values outside the C
    field's range raise ``OverflowError`` (see the module docstring).
    """

    modes: int = 0
    offset: int = 0
    freq: int = 0
    maxerror: int = 0
    esterror: int = 0
    status: int = 0
    constant: int = 0
    precision: int = 0
    tolerance: int = 0
    if TYPE_CHECKING:
        time: _TimevalField = _TimevalField()  # accepts (sec, frac); reads back a Timeval
    else:
        time: Timeval = _TIMEVAL_ZERO
    tick: int = 0
    ppsfreq: int = 0
    jitter: int = 0
    shift: int = 0
    stabil: int = 0
    jitcnt: int = 0
    calcnt: int = 0
    errcnt: int = 0
    stbcnt: int = 0
    tai: int = 0

    def __init__(
        self, modes: int = 0, offset: int = 0, freq: int = 0, maxerror: int = 0,
        esterror: int = 0, status: int = 0, constant: int = 0, precision: int = 0,
        tolerance: int = 0, time: tuple[int, int] = _TIMEVAL_ZERO, tick: int = 0,
        ppsfreq: int = 0, jitter: int = 0, shift: int = 0, stabil: int = 0, jitcnt: int = 0,
        calcnt: int = 0, errcnt: int = 0, stbcnt: int = 0, tai: int = 0,
    ) -> None:
        """Store every field, in field order, as its assignment (`__setattr__`) would.

        Written out because the generated ``__init__`` makes one interpreted
        ``__setattr__`` call per field, twenty for every Timex a caller builds; here a
        plain in-range int (or the default ``time``) is stored at once and only any other
        value goes through the checked assignment, which raises naming the field.
        """
        values = (modes, offset, freq, maxerror, esterror, status, constant, precision,
                  tolerance, time, tick, ppsfreq, jitter, shift, stabil, jitcnt, calcnt,
                  errcnt, stbcnt, tai)
        store = object.__setattr__
        for (name, lo, hi), value in zip(_FIELD_ORDER, values, strict=True):
            if (type(value) is int and lo <= value <= hi) or value is _TIMEVAL_ZERO:
                store(self, name, value)
            else:
                self.__setattr__(name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        """Type- and range-check every assignment, including those made by ``__init__``.

        A plain int within its field's range, by far the common case, is stored after one
        lookup and one comparison.
        """
        bounds = TIMEX_FIELD_RANGES.get(name)
        if bounds is not None and type(value) is int and bounds[0] <= value <= bounds[1]:
            object.__setattr__(self, name, value)
            return
        if name == "time":
            value = _as_timeval(value)
        elif name in TIMEX_FIELD_RANGES:
            value = _check_c_int(name, value, TIMEX_FIELD_RANGES[name])
        object.__setattr__(self, name, value)

    def copy(self) -> Timex:
        """An independent copy (``Timeval`` is immutable, so a shallow copy suffices)."""
        return dataclasses.replace(self)


#: (name, lo, hi) of every field in declaration order, as `Timex.__init__` takes them; ``time``
#: gets an empty range, so any value but the default goes through its checked assignment
_FIELD_ORDER: tuple[tuple[str, int, int], ...] = tuple(
    (f.name, *TIMEX_FIELD_RANGES.get(f.name, (1, 0))) for f in dataclasses.fields(Timex))
