"""Daemons inside namespaces: NTP clients that poll a reference server over a simulated path.

A daemon acts only through its namespace's syscalls (clock_gettime, adjtimex, timer_create).
Its polls are POSIX timers on the namespace's CLOCK_MONOTONIC, as a real daemon's timerfd
would be, so they sit in the host's one timer queue.  The network is physical: request and
reply travel in true time (entries at the counter cycle of a true instant), and the server
stamps its clock at the true instant the request arrives.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gmpy2 import mpq

from ntp.discipline import NtpClient, PathModel, ReferenceServer
from ntp.exact import ceil_q

from .clockids import CLOCK_MONOTONIC, CLOCK_REALTIME
from .hrtimer import CycleEntry

if TYPE_CHECKING:
    from ntp.smear import LeapLike

    from .host import Host
    from .namespace import Namespace
    from .posix_timers import PosixTimer

NSEC = 1_000_000_000


class Deferred(CycleEntry):
    """`action(*args)` at a fixed cycle: a packet in flight, a daemon's next update.

    The action and its arguments are kept as data (not a closure) so that a checkpoint can
    say what is pending: a bound method of a daemon and plain ints.
    """

    __slots__ = ("args", "call")

    def __init__(self, call: Callable[..., None], args: tuple[Any, ...]) -> None:
        super().__init__(self._run)
        self.call = call
        self.args = args

    def _run(self, _cycles: int) -> None:
        self.call(*self.args)


def at_true_time(host: Host, t: mpq, action: Callable[..., None], *args: Any) -> Deferred:
    """Queue `action(*args)` for the first counter cycle at or after true time `t` (seconds)."""
    cycles = ceil_q(host.clocksource.exact_cycles_at(max(t, host.true_time)))
    entry = Deferred(action, args)
    host.enqueue(entry, cycles - host.lost_cycles())
    return entry


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
        epoch_unix: mpq | int | None = None,
    ) -> None:
        self.ns = ns
        self.host = ns.host
        self.client = client
        self.server = server
        self.path = path if path is not None else PathModel()
        self.rng = random.Random(seed)
        epoch = mpq(self.host.epoch_ns, NSEC) if epoch_unix is None else epoch_unix
        self.epoch_unix = mpq(epoch)
        self.polls = 0
        self.lost = 0
        # The daemon's timers are ordinary POSIX timers of its namespace: the timer base
        # re-keys them on clock settings and rate changes, as a kernel re-programs them.
        # Their callbacks are the daemon's own methods, so a checkpoint can name them.
        self._poll_timer = ns.timer_create(CLOCK_MONOTONIC, self._on_poll_timer)
        self._leap_timer: PosixTimer | None = None
        self._leap_sign = 0
        self._followups: list[PosixTimer] = []
        ns.agents.append(self)

    def true_unix(self) -> mpq:
        return self.epoch_unix + self.host.true_time

    def start(self, first_poll_ns: int = 0) -> None:
        """Poll `first_poll_ns` from now (namespace MONOTONIC; 0 = now), then every interval."""
        if first_poll_ns > 0:
            self._poll_timer.settime(first_poll_ns)
        else:
            self._poll()

    def stop(self) -> None:
        self._poll_timer.settime(0)

    def _on_poll_timer(self, _timer: PosixTimer, _overrun: int) -> None:
        self._poll()

    def _poll(self) -> None:
        self.polls += 1
        t1 = self.ns.clock_gettime_ns(CLOCK_REALTIME)
        self._poll_timer.settime(self.client.next_poll_ns())
        delays = self.path.draw(self.rng)
        if delays is None:
            self.lost += 1
            return
        out, back = delays
        at_true_time(self.host, self.host.true_time + mpq(out, NSEC), self._at_server, t1, back)

    def _at_server(self, t1: int, back: int) -> None:
        now = self.true_unix()
        t2 = self.server.time_ns(now)
        leap = self.server.leap_indicator(now)
        at_true_time(
            self.host, self.host.true_time + mpq(back, NSEC), self._at_client, t1, t2, leap
        )

    def _at_client(self, t1: int, t2: int, leap: int) -> None:
        t4 = self.ns.clock_gettime_ns(CLOCK_REALTIME)
        self.client.on_sample(self.ns, t1, t2, t2, t4, leap)
        event = self.server.leap
        if leap and event is not None:
            self._arm_leap_instant(event)

    def _arm_leap_instant(self, leap: LeapLike) -> None:
        """chronyd's own leap handling (step/slew) runs when its REALTIME reaches midnight."""
        if self._leap_timer is not None:
            return
        self._leap_sign = sign = leap.sign
        midnight_ns = (leap.unix - (1 if sign < 0 else 0)) * NSEC
        self._leap_timer = self.ns.timer_create(CLOCK_REALTIME, self._on_leap_timer)
        self._leap_timer.settime(midnight_ns, absolute=True)

    def _on_leap_timer(self, _timer: PosixTimer, _overrun: int) -> None:
        delay = self.client.on_leap_instant(self.ns, self._leap_sign)
        if delay is not None:
            followup = self.ns.timer_create(CLOCK_MONOTONIC, self._on_followup_timer)
            self._followups.append(followup)
            followup.settime(delay)

    def _on_followup_timer(self, _timer: PosixTimer, _overrun: int) -> None:
        self.client.on_leap_followup(self.ns)
