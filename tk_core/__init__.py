"""timekeepers' engine: one host, one clocksource, one timer queue, a timekeeper per namespace.

Start with `Host`; see README.md for a tour.
"""

from __future__ import annotations

from typing import Any

from .clockevent import ClockEventDevice
from .clockids import (
    CLOCK_BOOTTIME,
    CLOCK_BOOTTIME_ALARM,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_COARSE,
    CLOCK_MONOTONIC_RAW,
    CLOCK_PROCESS_CPUTIME_ID,
    CLOCK_REALTIME,
    CLOCK_REALTIME_ALARM,
    CLOCK_REALTIME_COARSE,
    CLOCK_TAI,
    CLOCK_THREAD_CPUTIME_ID,
    clock_name,
)
from .clocksource import (
    Clocksource,
    clocks_calc_max_nsecs,
    clocks_calc_mult_shift,
    clocksource_max_adjustment,
    clocksource_update_freq,
)
from .counter import ExtendedCounter
from .host import Host, HostStats, NamespaceStats
from .namespace import Namespace, OffsetsNamespace, TimekeeperNamespace
from .patching import SimClock, TkEventLoop, TkEventLoopPolicy, patch_time
from .posix_timers import PosixTimer, Sleeper
from .task import Task
from .timekeeper import Timekeeper
from .timerfd import TimerFd


def clock_gettime_ns(caller: Namespace | Task, clockid: int) -> int:
    """`clock_gettime` as a function: `caller` is a namespace (its owner) or a task."""
    return caller.clock_gettime_ns(clockid)


def clock_settime_ns(caller: Namespace | Task, clockid: int, value_ns: int) -> None:
    """`clock_settime` as a function (EPERM for a task without CAP_SYS_TIME)."""
    caller.clock_settime_ns(clockid, value_ns)


def create_namespace(host: Host, name: str, **kwargs: Any) -> Namespace:
    """`Host.create_namespace` as a function."""
    ns: Namespace = host.create_namespace(name, **kwargs)
    return ns


def run_for(host: Host, duration_ns: int) -> None:
    """`Host.run_for` as a function."""
    host.run_for(duration_ns)


def run_until(host: Host, true_ns: int) -> None:
    """`Host.run_until` as a function."""
    host.run_until(true_ns)


def spawn(namespace: Namespace, caps: frozenset[str] = frozenset()) -> Task:
    """`Namespace.spawn` as a function."""
    return namespace.spawn(caps)


__all__ = [
    "CLOCK_BOOTTIME",
    "CLOCK_BOOTTIME_ALARM",
    "CLOCK_MONOTONIC",
    "CLOCK_MONOTONIC_COARSE",
    "CLOCK_MONOTONIC_RAW",
    "CLOCK_PROCESS_CPUTIME_ID",
    "CLOCK_REALTIME",
    "CLOCK_REALTIME_ALARM",
    "CLOCK_REALTIME_COARSE",
    "CLOCK_TAI",
    "CLOCK_THREAD_CPUTIME_ID",
    "ClockEventDevice",
    "Clocksource",
    "ExtendedCounter",
    "Host",
    "HostStats",
    "Namespace",
    "NamespaceStats",
    "OffsetsNamespace",
    "PosixTimer",
    "SimClock",
    "Sleeper",
    "Task",
    "Timekeeper",
    "TimekeeperNamespace",
    "TimerFd",
    "TkEventLoop",
    "TkEventLoopPolicy",
    "clock_gettime_ns",
    "clock_name",
    "clock_settime_ns",
    "clocks_calc_max_nsecs",
    "clocks_calc_mult_shift",
    "clocksource_max_adjustment",
    "clocksource_update_freq",
    "create_namespace",
    "patch_time",
    "run_for",
    "run_until",
    "spawn",
]
