"""Daemons inside namespaces: NTP clients that poll a reference server over a simulated path.

A daemon acts only through its namespace's syscalls (clock_gettime, adjtimex).  Its polls are
entries in the host's one timer queue, armed on the namespace's CLOCK_MONOTONIC as a real
daemon's timerfd would be; the network is physical, so the request and reply travel in true
time (entries at the counter cycle of a true instant).  The server stamps its clock at the
true instant the request arrives.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from gmpy2 import mpq

from ntp.discipline import NtpClient, PathModel, ReferenceServer
from ntp.exact import ceil_q

from .clockids import CLOCK_MONOTONIC, CLOCK_REALTIME
from .hrtimer import ClockEntry, CycleEntry

if TYPE_CHECKING:
    from .host import Host
    from .namespace import Namespace

NSEC = 1_000_000_000


def at_true_time(host: Host, t: mpq, action: Callable[[], None]) -> CycleEntry:
    """Queue `action` for the first counter cycle at or after true time `t` (seconds)."""
    cycles = ceil_q(host.clocksource.exact_cycles_at(max(t, host.true_time)))
    entry = CycleEntry(lambda _cycles: action())
    host.enqueue(entry, cycles - host.lost_cycles())
    return entry


class CallbackEntry(ClockEntry):
    """A one-shot deadline in a namespace clock that calls `action` (a daemon's timer)."""

    __slots__ = ("action",)

    def __init__(
        self, host: Host, ns: Namespace, clockid: int, expires: int, action: Callable[[], None]
    ) -> None:
        super().__init__(host, ns, clockid, expires)
        self.action = action

    def fire(self, cycles: int, now: int) -> None:
        self.action()


class NtpDaemon:
    """Runs `client` in `ns` against `server` over `path` (see the module docstring).

    `epoch_unix` is the true Unix time at true time 0 (the host's starting REALTIME when
    the host began on true UTC).  Counters: `polls`, `lost`, `samples` (on the client).
    """

    def __init__(
        self,
        ns: Namespace,
        client: NtpClient,
        server: ReferenceServer,
        path: PathModel | None = None,
        *,
        seed: int = 0,
        epoch_unix: mpq,
    ) -> None:
        self.ns = ns
        self.host = ns.host
        self.client = client
        self.server = server
        self.path = path if path is not None else PathModel()
        self.rng = random.Random(seed)
        self.epoch_unix = mpq(epoch_unix)
        self.polls = 0
        self.lost = 0
        self._timer: CallbackEntry | None = None
        self._leap_entry: CallbackEntry | None = None

    def true_unix(self) -> mpq:
        return self.epoch_unix + self.host.true_time

    def start(self, first_poll_ns: int = 0) -> None:
        """Poll `first_poll_ns` from now (namespace MONOTONIC), then every poll interval."""
        self._arm(self.ns.clock_gettime_ns(CLOCK_MONOTONIC) + first_poll_ns)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _arm(self, mono_ns: int) -> None:
        self._timer = CallbackEntry(self.host, self.ns, CLOCK_MONOTONIC, mono_ns, self._poll)
        self._timer.arm()

    def _poll(self) -> None:
        self.polls += 1
        t1 = self.ns.clock_gettime_ns(CLOCK_REALTIME)
        self._arm(self.ns.clock_gettime_ns(CLOCK_MONOTONIC) + self.client.next_poll_ns())
        delays = self.path.draw(self.rng)
        if delays is None:
            self.lost += 1
            return
        out, back = delays
        at_true_time(
            self.host, self.host.true_time + mpq(out, NSEC), lambda: self._at_server(t1, back)
        )

    def _at_server(self, t1: int, back: int) -> None:
        now = self.true_unix()
        t2 = self.server.time_ns(now)
        leap = self.server.leap_indicator(now)
        at_true_time(
            self.host, self.host.true_time + mpq(back, NSEC), lambda: self._at_client(t1, t2, leap)
        )

    def _at_client(self, t1: int, t2: int, leap: int) -> None:
        t4 = self.ns.clock_gettime_ns(CLOCK_REALTIME)
        self.client.on_sample(self.ns, t1, t2, t2, t4, leap)
        if leap and self.server.leap is not None:
            self._arm_leap_instant()

    def _arm_leap_instant(self) -> None:
        """chronyd's own leap handling (step/slew) runs when its REALTIME reaches midnight.

        Re-armed after every sample: the client keeps changing its clock's rate, and a
        deadline converted to cycles hours ahead with today's rate would fire late (a daemon
        re-computes its timeouts from the clock in the same way).
        """
        if self._leap_entry is not None:
            if not self._leap_entry.queued:
                return  # already handled
            self._leap_entry.cancel()
        leap = self.server.leap
        sign = leap.sign  # type: ignore[union-attr]
        midnight_ns = (leap.unix - (1 if sign < 0 else 0)) * NSEC  # type: ignore[union-attr]

        def at_leap() -> None:
            delay = self.client.on_leap_instant(self.ns, sign)
            if delay is not None:
                mono = self.ns.clock_gettime_ns(CLOCK_MONOTONIC) + delay
                CallbackEntry(
                    self.host,
                    self.ns,
                    CLOCK_MONOTONIC,
                    mono,
                    lambda: self.client.on_leap_followup(self.ns),
                ).arm()

        self._leap_entry = CallbackEntry(self.host, self.ns, CLOCK_REALTIME, midnight_ns, at_leap)
        self._leap_entry.arm()
