"""`patch_time(ns)`: make this process's Python time follow a simulated namespace.

A surface beside the engine: it uses only the public engine API (`clock_gettime_ns`,
`clock_getres_ns`, `clock_nanosleep`, `Host.run_while`).  While the context is active:

* ``time.time/time_ns`` read the namespace's CLOCK_REALTIME (so a leap inserted with a kernel
  step shows 23:59:59 twice, a smeared namespace never does); ``time.monotonic(_ns)`` and
  ``time.perf_counter(_ns)`` read its CLOCK_MONOTONIC (never backwards, whatever REALTIME
  does); ``time.clock_gettime(_ns)`` / ``clock_getres`` read the clock asked for (CLOCK_TAI is
  the namespace's TAI); CPU-time clocks, which the engine does not model, stay real.
* ``time.localtime/gmtime/ctime/asctime/strftime`` without a time argument use REALTIME.
* ``datetime.datetime`` and ``datetime.date`` are replaced by subclasses whose
  ``now/utcnow/today`` read REALTIME (the C types cannot be patched in place — the approach
  freezegun and time-machine also take); ``isinstance`` works both ways.
* ``time.sleep`` follows the sleep mode: ``advance`` arms a `clock_nanosleep` on the
  namespace's MONOTONIC and runs the whole host until it wakes (other namespaces' timers fire
  on the way; dilation and NTP slewing change how much true time that takes); ``real`` sleeps
  for real and then advances the same way; ``frozen`` returns at once without moving time.
* asyncio: loops made by the event-loop policy while the patch is active are `TkEventLoop`s:
  their ``time()`` is MONOTONIC, so ``call_at/call_later``, ``asyncio.sleep`` and ``wait_for``
  timeouts are scheduled on it, and an idle loop fast-forwards the simulation to its next
  timer instead of waiting (in every sleep mode: a frozen idle loop would hang forever).

Threads: the engine is not thread-safe, so every read and every advance takes one lock.  All
threads see the same namespace; a sleeping thread advances the shared simulation while holding
the lock, so concurrent sleeps run one after another in simulated time (two threads each
sleeping 1 s move MONOTONIC by 2 s).  Not patched: names bound before the patch
(``from time import time``), C extensions reading the system clock, other processes, file
timestamps, ``threading`` / ``queue`` timeouts, and loops created before the patch.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import selectors
import threading
import time as _time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from .clockids import CLOCK_MONOTONIC, CLOCK_REALTIME, READABLE_CLOCKS
from .namespace import Namespace

SleepMode = Literal["advance", "real", "frozen"]
SLEEP_MODES: tuple[str, ...] = ("advance", "real", "frozen")
NSEC = 1_000_000_000

_REAL = {name: getattr(_time, name) for name in (
    "time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns",
    "clock_gettime", "clock_gettime_ns", "clock_getres", "sleep", "localtime", "gmtime",
    "ctime", "asctime", "strftime",
)}
_REAL_DATETIME = _dt.datetime
_REAL_DATE = _dt.date


class SimClock:
    """One namespace's clocks as the patched functions see them (thread-safe)."""

    def __init__(self, ns: Namespace, sleep: SleepMode = "advance") -> None:
        if sleep not in SLEEP_MODES:
            raise ValueError(f"sleep must be one of {SLEEP_MODES}, got {sleep!r}")
        self.ns = ns
        self.sleep_mode: SleepMode = sleep
        self.lock = threading.RLock()
        #: (true ns, REALTIME, MONOTONIC, TAI) after every advance, when `tracing` is on.
        self.tracing = False
        self.samples: list[tuple[int, int, int, int]] = []

    def sample(self) -> None:
        """Record the clocks now (the plugin's --timekeepers-trace writes these)."""
        with self.lock:
            read = self.ns.clock_gettime_ns
            self.samples.append(
                (self.ns.host.true_ns, read(CLOCK_REALTIME), read(CLOCK_MONOTONIC), read(11))
            )

    def read_ns(self, clockid: int) -> int:
        """The namespace's `clock_gettime` in int ns."""
        with self.lock:
            return self.ns.clock_gettime_ns(clockid)

    def realtime(self) -> float:
        return self.read_ns(CLOCK_REALTIME) / NSEC

    def advance_ns(self, duration_ns: int) -> None:
        """Run the host until a MONOTONIC sleep of `duration_ns` on the namespace wakes."""
        if duration_ns <= 0:
            return
        with self.lock:
            host = self.ns.host
            sleeper = self.ns.clock_nanosleep(CLOCK_MONOTONIC, duration_ns)
            dilation = getattr(self.ns, "dilation", 1)
            # An upper bound on the true time the sleep takes (±10 % tick, ±500 ppm freq).
            span = int(duration_ns * dilation * 2) + NSEC
            while not sleeper.done:
                host.run_while(lambda: not sleeper.done, host.true_ns + span)
            if self.tracing:
                self.sample()

    def sleep(self, seconds: float) -> None:
        """`time.sleep` under the sleep mode (ValueError for a negative time, as Python)."""
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        if self.sleep_mode == "frozen":
            return
        if self.sleep_mode == "real":
            _REAL["sleep"](seconds)
        self.advance_ns(round(seconds * NSEC))


def _struct_now(clock: SimClock, convert: Any) -> Any:
    def patched(secs: float | None = None) -> Any:
        return convert(clock.realtime() if secs is None else secs)

    return patched


def _time_functions(clock: SimClock) -> dict[str, Any]:
    """The replacement for every patched `time` function."""

    def clock_gettime_ns(clockid: int) -> int:
        if clockid in READABLE_CLOCKS:
            return clock.read_ns(clockid)
        return int(_REAL["clock_gettime_ns"](clockid))

    def clock_getres(clockid: int) -> float:
        if clockid in READABLE_CLOCKS:
            with clock.lock:
                return clock.ns.clock_getres_ns(clockid) / NSEC
        return float(_REAL["clock_getres"](clockid))

    def strftime(fmt: str, t: Any = None) -> str:
        return str(_REAL["strftime"](fmt, _REAL["localtime"](clock.realtime()) if t is None else t))

    def asctime(t: Any = None) -> str:
        return str(_REAL["asctime"](_REAL["localtime"](clock.realtime()) if t is None else t))

    return {
        "time": clock.realtime,
        "time_ns": lambda: clock.read_ns(CLOCK_REALTIME),
        "monotonic": lambda: clock.read_ns(CLOCK_MONOTONIC) / NSEC,
        "monotonic_ns": lambda: clock.read_ns(CLOCK_MONOTONIC),
        "perf_counter": lambda: clock.read_ns(CLOCK_MONOTONIC) / NSEC,
        "perf_counter_ns": lambda: clock.read_ns(CLOCK_MONOTONIC),
        "clock_gettime": lambda clockid: clock_gettime_ns(clockid) / NSEC,
        "clock_gettime_ns": clock_gettime_ns,
        "clock_getres": clock_getres,
        "sleep": clock.sleep,
        "localtime": _struct_now(clock, _REAL["localtime"]),
        "gmtime": _struct_now(clock, _REAL["gmtime"]),
        "ctime": _struct_now(clock, _REAL["ctime"]),
        "asctime": asctime,
        "strftime": strftime,
    }


class _Instancecheck(type):
    """isinstance(real_datetime, FakeDatetime) is True, as users' code expects."""

    real: type = object

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, cls.real)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, cls.real)


def _datetime_classes(clock: SimClock) -> tuple[type, type]:
    """Subclasses of datetime.date/datetime whose today/now/utcnow read the namespace."""

    def stamp() -> tuple[int, int]:
        sec, nsec = divmod(clock.read_ns(CLOCK_REALTIME), NSEC)
        return sec, nsec // 1000

    class _DateMeta(_Instancecheck):
        real = _REAL_DATE

    class _DatetimeMeta(_Instancecheck):
        real = _REAL_DATETIME

    class TkDate(_REAL_DATE, metaclass=_DateMeta):
        @classmethod
        def today(cls) -> Any:
            return _REAL_DATE.fromtimestamp(stamp()[0])

    class TkDatetime(_REAL_DATETIME, metaclass=_DatetimeMeta):
        @classmethod
        def now(cls, tz: _dt.tzinfo | None = None) -> Any:
            sec, usec = stamp()
            return _REAL_DATETIME.fromtimestamp(sec, tz).replace(microsecond=usec)

        @classmethod
        def today(cls) -> Any:
            return cls.now()

        @classmethod
        def utcnow(cls) -> Any:
            sec, usec = stamp()
            epoch = _REAL_DATETIME(1970, 1, 1)
            return epoch + _dt.timedelta(seconds=sec, microseconds=usec)

    return TkDate, TkDatetime


class _FastForwardSelector(selectors.DefaultSelector):
    """A selector whose idle wait runs the simulation forward instead of blocking."""

    def __init__(self, clock: SimClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[Any]:
        events: list[Any] = super().select(0)
        if events or timeout is None or timeout <= 0:
            return events if events or timeout == 0 else super().select(timeout)
        self._clock.advance_ns(max(1, round(timeout * NSEC)))
        return []


class TkEventLoop(asyncio.SelectorEventLoop):
    """An asyncio loop on a namespace's MONOTONIC that fast-forwards when idle."""

    def __init__(self, clock: SimClock) -> None:
        super().__init__(_FastForwardSelector(clock))
        self._tk_clock = clock

    def time(self) -> float:
        return self._tk_clock.read_ns(CLOCK_MONOTONIC) / NSEC


class TkEventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """Hands out `TkEventLoop`s (pytest-asyncio, anyio and asyncio.run all ask the policy)."""

    def __init__(self, clock: SimClock) -> None:
        super().__init__()
        self._tk_clock = clock

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return TkEventLoop(self._tk_clock)


@contextmanager
def patch_time(ns: Namespace, *, sleep: SleepMode = "advance") -> Iterator[SimClock]:
    """Make `time`, `datetime` and new asyncio loops follow `ns` (see the module docstring).

    Yields the `SimClock`; everything is restored on exit, also when the body raises.
    """
    clock = SimClock(ns, sleep)
    saved_time = {name: getattr(_time, name) for name in _REAL}
    saved_dt = (_dt.date, _dt.datetime)
    saved_policy = asyncio.get_event_loop_policy()
    tk_date, tk_datetime = _datetime_classes(clock)
    try:
        for name, fn in _time_functions(clock).items():
            setattr(_time, name, fn)
        _dt.date, _dt.datetime = tk_date, tk_datetime  # type: ignore[misc,assignment]
        asyncio.set_event_loop_policy(TkEventLoopPolicy(clock))
        yield clock
    finally:
        for name, fn in saved_time.items():
            setattr(_time, name, fn)
        _dt.date, _dt.datetime = saved_dt  # type: ignore[misc]
        asyncio.set_event_loop_policy(saved_policy)
