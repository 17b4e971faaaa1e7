"""The scenario's side of POSIX timers: arm through the engine's API, measure every expiry.

The engine's timer API (issue 4) is `t = ns.timer_create(clockid, callback)`,
`t.settime(value_ns, interval_ns=0, absolute=False)`, `t.overrun`, `t.delete()`.  This
adapter is the only code that calls it, so if the API's details change only this file does.
Lateness is measured in the timer's own clock: the clock read at the callback minus the
expiry the timer was due at (never negative unless the engine fired early — which the run
reports as a failure).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ntp.trace import TRACE, emit

from .types import TIMER_CLOCKS

OnFire = Callable[[str, int, int], None]


class TimerProbe:
    """One scenario timer: arms it, follows its expiries, deletes it after `count` of them."""

    def __init__(
        self,
        ns: Any,
        clock: str,
        value_ns: int,
        *,
        absolute: bool,
        interval_ns: int,
        count: int,
        on_fire: OnFire,
    ) -> None:
        self.ns = ns
        self.clockid = TIMER_CLOCKS[clock]
        self.value_ns = value_ns
        self.absolute = absolute
        self.interval_ns = interval_ns
        self.remaining = count
        self.on_fire = on_fire
        self.expected = 0
        self.timer: Any = None

    def arm(self) -> None:
        """Create and start the timer; remember the first expiry in the timer's clock."""
        now = self.ns.clock_gettime_ns(self.clockid)
        self.expected = self.value_ns if self.absolute else now + self.value_ns
        self.timer = self.ns.timer_create(self.clockid, callback=self._fired)
        self.timer.settime(self.value_ns, interval_ns=self.interval_ns, absolute=self.absolute)
        if TRACE.enabled:
            emit(
                "scenario_timer_arm",
                ns=self.ns.name,
                clockid=self.clockid,
                expires=self.expected,
                interval=self.interval_ns,
            )

    def _fired(self, *_: Any) -> None:
        now = self.ns.clock_gettime_ns(self.clockid)
        overrun = int(getattr(self.timer, "overrun", 0) or 0)
        due = self.expected + overrun * self.interval_ns
        self.on_fire(self.ns.name, now - due, overrun)
        if TRACE.enabled:
            emit(
                "scenario_timer_fire", ns=self.ns.name, due=due, late_ns=now - due, overrun=overrun
            )
        self.remaining -= 1 + overrun
        self.expected = due + self.interval_ns
        if self.remaining <= 0 or not self.interval_ns:
            self.timer.delete()
