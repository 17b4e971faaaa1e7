"""The host's clockevent device and the hang protection of the hrtimer interrupt.

One programmable one-shot device serves the whole host (one CPU).  It counts the host
clocksource's cycles, as a TSC-deadline timer does, so an event programmed for cycle c fires
exactly when the counter reaches c.  What is kernel behaviour here (hrtimer_interrupt,
clockevents_program_event):

* `ClockEventDevice.program_event` reproduces `clockevents_program_event`: an expiry at or
  before now fails with ETIME unless forced; a forced one programs the minimum delta; any
  other delta is clamped to [min_delta_ns, max_delta_ns].
* `ClockEventDevice.program_min_delta` reproduces `clockevents_program_min_delta` with
  CONFIG_GENERIC_CLOCKEVENTS_MIN_ADJUST (`clockevents_increase_min_delta`): after every three
  failed attempts min_delta_ns is raised to 5000 ns, then by half of itself each time, never
  above one jiffy; a device already at the cap gives up (no event, ETIME).
* `HANG_PASSES` and `HANG_MAX_DELAY_NS` are the numbers of `hrtimer_interrupt` (three passes,
  a forced delay of at most 100 ms); the loop itself lives in `Host._interrupt`.

What is a model, not kernel code: a programming attempt fails when the delta is shorter than
`program_latency_ns` (the time the device needs to take a deadline; an HPET-like comparator
that the counter overtakes while it is being written).  With the default latency 0 every
positive delta programs, so min_delta escalation happens only for such devices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

NSEC_PER_SEC: Final = 1_000_000_000
MIN_DELTA_FLOOR_NS: Final = 5000
MIN_DELTA_TRIES: Final = 3
HANG_PASSES: Final = 3
HANG_MAX_DELAY_NS: Final = 100_000_000
MAX_DELTA_DEFAULT_NS: Final = 600 * NSEC_PER_SEC


@dataclass(eq=False)
class ClockEventStats:
    """What the device was asked to do."""

    programmed: int = 0
    etime: int = 0
    min_delta_programs: int = 0
    retries: int = 0
    escalations: int = 0
    give_ups: int = 0


class ClockEventDevice:
    """A one-shot device counting the host counter's cycles (see the module docstring).

    `freq_hz` is the counter's nominal frequency (used to turn the device's ns limits into
    cycles, rounding up); `hz` sets the escalation cap, one jiffy.
    """

    __slots__ = (
        "_min_cycles",
        "freq_hz",
        "max_delta_ns",
        "min_adjust",
        "min_delta_limit",
        "min_delta_ns",
        "next_event",
        "program_latency_ns",
        "stats",
    )

    def __init__(
        self,
        freq_hz: int,
        hz: int,
        *,
        min_delta_ns: int = 1000,
        max_delta_ns: int = MAX_DELTA_DEFAULT_NS,
        program_latency_ns: int = 0,
        min_adjust: bool = True,
    ) -> None:
        if min_delta_ns <= 0 or max_delta_ns < min_delta_ns or program_latency_ns < 0:
            raise ValueError("need 0 < min_delta_ns <= max_delta_ns and program_latency_ns >= 0")
        self.freq_hz = int(freq_hz)
        self.min_delta_ns = min_delta_ns
        self.max_delta_ns = max_delta_ns
        self.min_delta_limit = NSEC_PER_SEC // hz
        self.program_latency_ns = program_latency_ns
        self.min_adjust = min_adjust
        self.next_event: int | None = None
        self.stats = ClockEventStats()
        self._min_cycles = self.ns_to_cycles(min_delta_ns)

    def ns_to_cycles(self, ns: int) -> int:
        """Counter cycles for `ns` nanoseconds at the nominal frequency, rounded up."""
        return -(-ns * self.freq_hz // NSEC_PER_SEC)

    def cycles_to_ns(self, cycles: int) -> int:
        """Nanoseconds for `cycles` at the nominal frequency, rounded down."""
        return cycles * NSEC_PER_SEC // self.freq_hz

    def set_next_event(self, delta_ns: int) -> bool:
        """The device's own programming: it misses deadlines closer than its latency."""
        return delta_ns >= self.program_latency_ns

    def program_event(self, expires: int, now: int, force: bool) -> int | None:
        """`clockevents_program_event`: the cycle the device will fire at, or None (ETIME).

        `expires` and `now` are extended counter cycles.  An unclamped delta fires exactly
        at `expires`; a clamped one at now + the limit.
        """
        delta = expires - now
        if delta <= 0:
            if not force:
                self.stats.etime += 1
                return None
            return self.program_min_delta(now)
        delta_ns = self.cycles_to_ns(delta)
        if delta_ns > self.max_delta_ns:
            delta_ns = self.max_delta_ns
            expires = now + self.ns_to_cycles(delta_ns)
        elif delta < self._min_cycles:
            delta_ns = self.min_delta_ns
            expires = now + self._min_cycles
        if self.set_next_event(delta_ns):
            self.stats.programmed += 1
            self.next_event = expires
            return expires
        if force:
            return self.program_min_delta(now)
        self.stats.etime += 1
        return None

    def program_min_delta(self, now: int) -> int | None:
        """`clockevents_program_min_delta`: program now + min_delta_ns, escalating on failure."""
        self.stats.min_delta_programs += 1
        tries = 0
        while True:
            self.stats.retries += 1
            if self.set_next_event(self.min_delta_ns):
                self.stats.programmed += 1
                self.next_event = now + self._min_cycles
                return self.next_event
            if not self.min_adjust:
                self.stats.etime += 1
                return None
            tries += 1
            if tries >= MIN_DELTA_TRIES:
                if not self.increase_min_delta():
                    self.next_event = None
                    self.stats.give_ups += 1
                    self.stats.etime += 1
                    return None
                tries = 0

    def increase_min_delta(self) -> bool:
        """`clockevents_increase_min_delta`: 5000 ns, then ×1.5, capped at one jiffy."""
        if self.min_delta_ns >= self.min_delta_limit:
            return False
        if self.min_delta_ns < MIN_DELTA_FLOOR_NS:
            self.min_delta_ns = MIN_DELTA_FLOOR_NS
        else:
            self.min_delta_ns += self.min_delta_ns >> 1
        self.min_delta_ns = min(self.min_delta_ns, self.min_delta_limit)
        self._min_cycles = self.ns_to_cycles(self.min_delta_ns)
        self.stats.escalations += 1
        return True


def hang_delay_ns(spent_ns: int) -> int:
    """The forced delay after a hang in `hrtimer_interrupt`: the time spent, at most 100 ms."""
    return min(spent_ns, HANG_MAX_DELAY_NS)
