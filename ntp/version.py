"""Which kernel version's NTP behaviour to reproduce.

The NTP code changed in small, user-visible ways over the versions the simulator cares about.
``KernelBehaviour`` collects those differences as flags; ``KernelBehaviour.from_version`` sets
them from a version string: first from ``(major, minor)`` against the mainline release that
introduced each change, then, for a stable series listed in ``STABLE_BACKPORTS``, from the
patch level at which the change was backported into that series.

Flags and the change behind each (in process_adjtimex_modes, __do_adjtimex and the
do_settimeofday64/timekeeping_inject_offset error paths; UNSURE where no release is certain):

* ``timeconst_preclamp`` — v6.11+ (2024, "ntp: Safeguard against time_constant overflow"):
  ADJ_TIMECONST clamps ``constant`` to 0..MAXTC *before* adding 4 in µs mode.  Older kernels add
  first and clamp once, so −5 in µs mode gives 0 there and 4 here.
* ``maxerror_clamp`` — v6.11+ (2024, "ntp: Clamp maxerror and esterror to operating range"):
  ADJ_MAXERROR/ADJ_ESTERROR are clamped to 0..NTP_PHASE_LIMIT; older kernels store the raw value.
* ``offset_readback_u32_cast`` — v5.1 .. v6.12: the µs offset readback casts the ns value to
  ``u32`` before dividing by 1000, garbling negative offsets.  The cast came with "timex: use
  __kernel_timex internally" (merged for v5.1 by our reading; UNSURE whether 5.0) and was removed
  by "ntp: Remove invalid cast in time offset math" (v6.13).
* ``setoffset_error_clears_ntp`` — up to v6.12: a failing ADJ_SETOFFSET still runs the
  timekeeper update with TK_CLEAR_NTP; v6.13+ restores the shadow timekeeper instead.
* ``adj_tai_zero_allowed`` — v5.2+: ADJ_TAI accepts 0 (before: only > 0).  The MAX_TAI_OFFSET
  upper bound is applied for every version (it arrived in 2019 too; UNSURE for older kernels).
* ``ntp_skew_drain`` — v7.3+ (read in 7.3.4; the first release is UNSURE, and so is whether the
  change is upstream work or a Debian one): ``second_overflow`` no longer takes the PLL chunk and
  the adjtime slew off ``time_offset``/``time_adjust``; it sets a per-interval ``skew_delta``, and
  every accumulated interval drains it from the adjtime remainder first, then from the phase
  offset (ntp.c ``ntp_drain_time_adjust``, ``ntp_drain_time_offset``).  ``tick_length`` becomes
  the unslewed base including ``cs_tick_adj``, and the timekeeper's ``xtime_remainder`` is gone
  (``tk_setup_internals``, ``timekeeping_adjust``).  Readbacks of ``offset`` and of the adjtime
  remainder change every interval instead of once per second.  Only ``"7.3"`` and later
  release numbers get it: ``"mainline"`` (the default) keeps the 6.1–7.2 arithmetic, because
  the drain was read only in a distribution's 7.3.4 package and is not confirmed upstream.
* ``timens_deadline_saturates`` — 7.3.4 stable ("Fix overflow when converting absolute
  deadlines"; the mainline release is UNSURE, taken as v7.4): in ``timens_ktime_to_host`` an
  absolute namespace deadline whose conversion ``t - offset`` overflows s64 (a negative offset,
  t near KTIME_MAX) becomes KTIME_MAX.  Before, the wrapped negative expiry fired at once.
* ``adjtimex_clock_was_set_wall`` — False from v5.15 ("hrtimer: Add bases argument to
  clock_was_set()", timers/core for 5.15) to v6.10, True before and from v6.11 ("timekeeping: Fix
  bogus clock_was_set() invocation in do_adjtimex()", upstream 5916be8a53de, August 2024, tagged
  for stable): when ``do_adjtimex`` has set the clock (a successful ADJ_SETOFFSET, a new TAI
  offset, a leap second applied by its TK_ADV_FREQ advance) it calls ``clock_was_set`` with the
  mask CLOCK_SET_WALL, so the REALTIME and TAI hrtimer bases are re-evaluated at once.  The
  broken call passed CLOCK_REALTIME, which is 0 as a mask: no base was re-evaluated, and queued
  wall-clock timers saw the new offsets only at the next hrtimer interrupt
  (``hrtimer_update_base``); ``timerfd_clock_was_set`` ran either way.  Before 5.15
  ``clock_was_set`` took no mask and re-evaluated every base.
* ``user_timer_expired_sync`` — 7.3 (read in 7.3.4; the first 7.x release is UNSURE): user timers
  (POSIX timers, timerfd, nanosleep) are started through ``hrtimer_start_range_ns_user``, which
  does not queue a timer whose expiry has already passed when it would be the CPU's first
  timer; the caller handles the expiry before the syscall returns.  Older kernels queue it and
  fire it from the next interrupt (UNSURE: the 6.1 code was not re-read).  As with
  ``ntp_skew_drain``, ``"mainline"`` keeps the older behaviour: only ``"7.3"`` and later
  release numbers get it.
* ``timens_exec_switch`` — v6.2+ ("fs/exec: switch timens when a task gets a new mm", execve
  pull for v6.2-rc1): `copy_process` no longer refuses CLONE_THREAD/CLONE_VM with EINVAL while
  a task's time namespace differs from its time_ns_for_children (the refusal dates from 5.6),
  and execve moves a task whose two differ into time_ns_for_children
  (`exec_task_namespaces`).  Not a namespace-engine flag: the task model reads it.
* ``clock_adjtime_other_clocks_errno`` — EOPNOTSUPP for every version modelled: clock_adjtime on
  a known clock without an adjust method (MONOTONIC, MONOTONIC_RAW, REALTIME_COARSE,
  MONOTONIC_COARSE, BOOTTIME, the ALARM clocks, TAI, CPU-time clocks) fails with it; an unknown
  clock id fails with EINVAL (posix-timers.c ``clock_adjtime``).

Stable backports (``STABLE_BACKPORTS``).  The three 2024 fixes above were tagged for stable and
reached the long-term series at known patch levels.  For 6.1.y, the series Debian 12 ships, the
stable review postings show them in:

* 6.1.105 (review series "6.1.105-rc1", 12 Aug 2024, patches 102/150 and 107/150): both clamps
  (upstream 87d571d6fb77 and the time_constant safeguard);
* 6.1.105 also (same series, patch 108/150): the do_adjtimex ``clock_was_set`` mask fix
  (upstream 5916be8a53de).  5.15.y and 6.6.y got it in August 2024 too, and 6.10.y (named in
  Debian's changelog among the 6.10 stable updates); their patch levels are not listed here, so
  those series model their X.Y release (unfixed);
* 6.1.120 (review series "6.1.120-rc1", 12 Dec 2024, patch 563/772): the removal of the u32
  cast (upstream f5807b0606da, sent to stable as a one-line backport because the 6.13 code it
  was written against did not apply).

So ``"6.1"``/``"6.1.0"`` .. ``"6.1.104"`` model the 6.1 release, ``"6.1.105"`` .. ``"6.1.119"``
have mainline clamps, and ``"6.1.120"`` and later (Debian 12's ``"6.1.192"``) behave like
mainline for all three.  ``setoffset_error_clears_ntp`` is *not* backported: the v6.13 change is
part of the shadow-timekeeper rework, a refactoring series that was not sent to stable (UNSURE:
no stable posting of it was found), so every 6.1.y keeps clearing NTP on a failing
ADJ_SETOFFSET.  Other stable series are not listed: their patch level does not move any
threshold (they model their ``X.Y`` release); build a custom ``KernelBehaviour`` (a plain frozen
dataclass, use ``dataclasses.replace``) for such a kernel.

Beware of distribution ``uname -r`` strings: Debian's ``6.1.0-28-amd64`` carries the ABI
number, not the stable patch level, and parses as 6.1.0 (the release).  Pass the package
version instead (``uname -v`` shows it, e.g. ``Debian 6.1.119-1`` → ``"6.1.119"``).
"""

from __future__ import annotations

import errno
import re
from dataclasses import asdict, dataclass
from typing import Any

# The version that introduced each change, as (major, minor).
TIMECONST_PRECLAMP_SINCE = (6, 11)
MAXERROR_CLAMP_SINCE = (6, 11)
OFFSET_U32_CAST_SINCE = (5, 1)
OFFSET_U32_CAST_UNTIL = (6, 13)
SETOFFSET_ERROR_RESTORES_SINCE = (6, 13)
ADJ_TAI_ZERO_SINCE = (5, 2)
NTP_SKEW_DRAIN_SINCE = (7, 3)
TIMENS_DEADLINE_SATURATES_SINCE = (7, 4)
ADJTIMEX_CWS_MASKED_SINCE = (5, 15)
ADJTIMEX_CWS_WALL_SINCE = (6, 11)
USER_TIMER_EXPIRED_SYNC_SINCE = (7, 3)
TIMENS_EXEC_SWITCH_SINCE = (6, 2)

#: Stable series -> {flag: first patch level that has the mainline behaviour of that flag}.
#: Only backports confirmed in the stable review postings are listed (module docstring).
STABLE_BACKPORTS: dict[tuple[int, int], dict[str, int]] = {
    (6, 1): {
        "timeconst_preclamp": 105,
        "maxerror_clamp": 105,
        "offset_readback_u32_cast": 120,
        "adjtimex_clock_was_set_wall": 105,
    },
    (7, 3): {"timens_deadline_saturates": 4},
}

_MAINLINE_KEY = (10**9, 0)
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:[-+~][0-9A-Za-z.+~_-]*)?$")
_ACCEPTED = (
    "accepted forms: None or 'mainline' (newest behaviour), 'X.Y' or 'X.Y.Z' such as '5.6', "
    "'6.1' or '6.1.192', optionally followed by a uname-style suffix such as '6.1.0-28-amd64'"
)

# Linux clock ids (uapi/linux/time.h); duplicated here because ntp must not import tk_core.
_CLOCK_REALTIME = 0
_KNOWN_CLOCK_IDS = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11})
# Negative clock ids (posix-timers.h): the low three bits select a CPU clock, or with the value
# CLOCKFD a dynamic posix clock named by a file descriptor.
_CLOCKFD_MASK = 7
_CLOCKFD = 3


def _parse_full(version: str) -> tuple[int, int, int]:
    """``(major, minor, patch)`` of a version string (patch 0 if absent), else ``ValueError``."""
    m = _VERSION_RE.match(version.strip())
    if m is None:
        raise ValueError(f"unknown kernel version {version!r}; {_ACCEPTED}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def _parse(version: str) -> tuple[int, int]:
    """``(major, minor)`` of a version string, or ``ValueError`` naming the accepted forms."""
    major, minor, _ = _parse_full(version)
    return major, minor


def _backported(key: tuple[int, int], patch: int, flag: str) -> bool:
    """Whether stable release ``key``.``patch`` already carries mainline's ``flag`` behaviour."""
    since = STABLE_BACKPORTS.get(key, {}).get(flag)
    return since is not None and patch >= since


#: Flags added after checkpoints were first written: a document without one takes it from
#: its version string.
LATER_FLAGS = frozenset({
    "ntp_skew_drain",
    "timens_deadline_saturates",
    "adjtimex_clock_was_set_wall",
    "user_timer_expired_sync",
    "timens_exec_switch",
})


@dataclass(frozen=True)
class KernelBehaviour:
    """Version-dependent NTP behaviour; the defaults are mainline's (see the module docstring).

    ``ntp_skew_drain`` and ``user_timer_expired_sync`` are the flags a release number can turn
    on beyond mainline: 7.3+.
    """

    version: str = "mainline"
    timeconst_preclamp: bool = True
    maxerror_clamp: bool = True
    offset_readback_u32_cast: bool = False
    setoffset_error_clears_ntp: bool = False
    adj_tai_zero_allowed: bool = True
    ntp_skew_drain: bool = False
    timens_deadline_saturates: bool = True
    adjtimex_clock_was_set_wall: bool = True
    user_timer_expired_sync: bool = False
    timens_exec_switch: bool = True
    clock_adjtime_other_clocks_errno: int = errno.EOPNOTSUPP

    @classmethod
    def from_version(cls, version: str | None) -> KernelBehaviour:
        """Flags for ``version`` (``None``/'mainline'/'X.Y[.Z]'); ``ValueError`` otherwise."""
        if version is None:
            return cls()
        if not isinstance(version, str):
            raise TypeError(f"kernel version must be str or None, not {type(version).__name__}")
        if version.strip().lower() == "mainline":
            return cls()
        major, minor, patch = _parse_full(version)
        key = (major, minor)
        cast = OFFSET_U32_CAST_SINCE <= key < OFFSET_U32_CAST_UNTIL
        masked_cws = ADJTIMEX_CWS_MASKED_SINCE <= key < ADJTIMEX_CWS_WALL_SINCE
        return cls(
            version=version.strip(),
            timeconst_preclamp=key >= TIMECONST_PRECLAMP_SINCE
            or _backported(key, patch, "timeconst_preclamp"),
            maxerror_clamp=key >= MAXERROR_CLAMP_SINCE
            or _backported(key, patch, "maxerror_clamp"),
            offset_readback_u32_cast=cast
            and not _backported(key, patch, "offset_readback_u32_cast"),
            setoffset_error_clears_ntp=key < SETOFFSET_ERROR_RESTORES_SINCE,
            adj_tai_zero_allowed=key >= ADJ_TAI_ZERO_SINCE,
            ntp_skew_drain=key >= NTP_SKEW_DRAIN_SINCE,
            timens_deadline_saturates=key >= TIMENS_DEADLINE_SATURATES_SINCE
            or _backported(key, patch, "timens_deadline_saturates"),
            adjtimex_clock_was_set_wall=not masked_cws
            or _backported(key, patch, "adjtimex_clock_was_set_wall"),
            user_timer_expired_sync=key >= USER_TIMER_EXPIRED_SYNC_SINCE,
            timens_exec_switch=key >= TIMENS_EXEC_SWITCH_SINCE,
        )

    @property
    def key(self) -> tuple[int, int]:
        """``(major, minor)`` used for comparisons; mainline sorts after every release."""
        if self.version == "mainline":
            return _MAINLINE_KEY
        return _parse(self.version)

    def clock_adjtime_errno(self, clockid: int) -> int:
        """errno ``clock_adjtime(clockid, …)`` fails with before reaching NTP; 0 if it may.

        Mirrors posix-timers.c ``do_clock_adjtime``: the k_clock lookup comes first, before any
        permission or value check.  An unknown id has no k_clock (EINVAL); a known clock without
        ``clock_adj`` gives EOPNOTSUPP; only CLOCK_REALTIME reaches do_adjtimex.  Negative ids
        are per-process/thread CPU clocks (EOPNOTSUPP) unless their low bits say CLOCKFD: those
        name a dynamic posix clock by file descriptor, and since the simulation has no such
        descriptors the lookup fails as for a bad fd (EINVAL).  The 6.17+ auxiliary clocks
        (ids 16..23) are modelled as on a kernel built without CONFIG_POSIX_AUX_CLOCKS (EINVAL).
        """
        if clockid == _CLOCK_REALTIME:
            return 0
        if clockid < 0:
            if clockid & _CLOCKFD_MASK == _CLOCKFD:
                return errno.EINVAL
            return self.clock_adjtime_other_clocks_errno
        if clockid in _KNOWN_CLOCK_IDS:
            return self.clock_adjtime_other_clocks_errno
        return errno.EINVAL

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for checkpoints."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KernelBehaviour:
        """Inverse of ``to_dict``; a document written before one of `LATER_FLAGS` existed
        takes that flag from its version string."""
        d = dict(d)
        missing = LATER_FLAGS - d.keys()
        if missing:
            by_version = cls.from_version(d.get("version", "mainline"))
            d.update({flag: getattr(by_version, flag) for flag in missing})
        return cls(**d)
