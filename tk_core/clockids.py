"""Linux clock ids (include/uapi/linux/time.h) and which of them this engine models."""

from __future__ import annotations

from typing import Final

CLOCK_REALTIME: Final = 0
CLOCK_MONOTONIC: Final = 1
CLOCK_PROCESS_CPUTIME_ID: Final = 2
CLOCK_THREAD_CPUTIME_ID: Final = 3
CLOCK_MONOTONIC_RAW: Final = 4
CLOCK_REALTIME_COARSE: Final = 5
CLOCK_MONOTONIC_COARSE: Final = 6
CLOCK_BOOTTIME: Final = 7
CLOCK_REALTIME_ALARM: Final = 8
CLOCK_BOOTTIME_ALARM: Final = 9
CLOCK_TAI: Final = 11
#: CONFIG_POSIX_AUX_CLOCKS (6.17+): CLOCK_AUX = MAX_CLOCKS = 16, eight of them, ids 16..23.
CLOCK_AUX: Final = 16
MAX_AUX_CLOCKS: Final = 8
CLOCK_AUX_LAST: Final = CLOCK_AUX + MAX_AUX_CLOCKS - 1

CLOCK_NAMES: dict[int, str] = {
    CLOCK_REALTIME: "CLOCK_REALTIME",
    CLOCK_MONOTONIC: "CLOCK_MONOTONIC",
    CLOCK_PROCESS_CPUTIME_ID: "CLOCK_PROCESS_CPUTIME_ID",
    CLOCK_THREAD_CPUTIME_ID: "CLOCK_THREAD_CPUTIME_ID",
    CLOCK_MONOTONIC_RAW: "CLOCK_MONOTONIC_RAW",
    CLOCK_REALTIME_COARSE: "CLOCK_REALTIME_COARSE",
    CLOCK_MONOTONIC_COARSE: "CLOCK_MONOTONIC_COARSE",
    CLOCK_BOOTTIME: "CLOCK_BOOTTIME",
    CLOCK_REALTIME_ALARM: "CLOCK_REALTIME_ALARM",
    CLOCK_BOOTTIME_ALARM: "CLOCK_BOOTTIME_ALARM",
    CLOCK_TAI: "CLOCK_TAI",
    **{CLOCK_AUX + n: f"CLOCK_AUX{n}" for n in range(MAX_AUX_CLOCKS)},
}

#: The clocks a namespace can read with clock_gettime_ns.
READABLE_CLOCKS = frozenset(
    {
        CLOCK_REALTIME,
        CLOCK_MONOTONIC,
        CLOCK_MONOTONIC_RAW,
        CLOCK_REALTIME_COARSE,
        CLOCK_MONOTONIC_COARSE,
        CLOCK_BOOTTIME,
        CLOCK_TAI,
    }
)

#: Clocks that are ids Linux knows but this engine does not model (CPU time, alarms):
#: reading them fails with EINVAL rather than returning invented numbers.
KNOWN_UNMODELLED = frozenset(
    {CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID, CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM}
)

#: Clocks whose offset from MONOTONIC changes when the wall clock is set (clock_was_set).
WALL_CLOCKS = frozenset({CLOCK_REALTIME, CLOCK_TAI})


def clock_name(clockid: int) -> str:
    """A readable name for error messages and traces."""
    return CLOCK_NAMES.get(clockid, f"clock {clockid}")
