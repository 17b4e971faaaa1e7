"""Adaptive polling: how chronyd and ntpd move their poll interval between minpoll and maxpoll.

A real daemon does not poll at one fixed interval.  Both start at `minpoll` and lengthen the
interval while the clock is tracked well, shorten it when it is not; a model compared with a
real daemon must do the same, or it is compared at the wrong sampling rate.  The two rules:

* **chronyd** (`ntp_core.c`: `get_poll_adj`, `adjust_poll`, chrony 4.x).  A fractional *poll
  score* accumulates an adjustment after every accepted sample; each time it crosses a whole
  number the poll exponent moves by that much.  When the new offset lies further from the
  value the regression predicted than the peer distance (delay/2 + dispersion), the score drops
  by the bit length of their ratio (the interval shortens at once); otherwise it drifts by
  (samples / polltarget − 1) / polltarget, doubled when below target — so the interval grows
  while the regression holds more than `polltarget` (8) samples.
* **ntpd** (`ntp_loopfilter.c`: `local_clock`, ntpd 4.2 and ntpsec).  A *jitter* is kept as
  the exponentially weighted RMS (weight 1/8) of successive offset differences; an offset below
  4 × jitter adds the poll exponent to a counter, one above takes twice the exponent off; the
  exponent steps up (down) when the counter passes +30 (−30), and the counter restarts at 0.

Both daemons compute in floating point; here every quantity is an exact integer or rational,
so a run is reproducible bit for bit.  ntpd's jitter² is kept in whole ns² (floored after
each update) so its denominators stay small; no decision above the nanosecond level depends
on the dropped fraction.
"""

from __future__ import annotations

from gmpy2 import mpq

POLL_MIN, POLL_MAX = 0, 17
CHRONY_POLLTARGET = 8  # chrony's `polltarget` default
CHRONY_DISPERSION_NS = 30  # peer dispersion: about 2^-25 s, chronyd's usual precision
NTPD_PGATE = 4  # CLOCK_PGATE
NTPD_LIMIT = 30  # CLOCK_LIMIT
NTPD_AVG = 8  # CLOCK_AVG
NTPD_PRECISION_NS = 60  # about 2^-24 s, what ntpd measures on a current machine


def check_range(poll_exp: int, minpoll: int | None, maxpoll: int | None) -> tuple[int, int]:
    """Resolve and check minpoll ≤ poll_exp ≤ maxpoll (both default to `poll_exp`: fixed)."""
    lo = poll_exp if minpoll is None else minpoll
    hi = poll_exp if maxpoll is None else maxpoll
    for name, value in (("poll_exp", poll_exp), ("minpoll", lo), ("maxpoll", hi)):
        if not POLL_MIN <= value <= POLL_MAX:
            raise ValueError(f"{name} must be in {POLL_MIN}..{POLL_MAX}, got {value}")
    if not lo <= poll_exp <= hi:
        raise ValueError(
            f"expected minpoll ≤ poll_exp ≤ maxpoll, found {lo} ≤ {poll_exp} ≤ {hi}"
        )
    return lo, hi


def _trunc(q: mpq) -> int:
    """C's (int) of a double: toward zero."""
    return int(q) if q >= 0 else -int(-q)


class ChronyPoll:
    """chronyd's poll score (see the module docstring)."""

    def __init__(self, poll_exp: int, minpoll: int, maxpoll: int,
                 polltarget: int = CHRONY_POLLTARGET) -> None:
        self.poll_exp, self.minpoll, self.maxpoll = poll_exp, minpoll, maxpoll
        self.polltarget = polltarget
        self.score = mpq(0)

    def adjustment(self, error_ns: mpq, distance_ns: mpq, samples: int) -> mpq:
        """chronyd's `get_poll_adj`: back off fast when the prediction missed, else drift."""
        if error_ns > distance_ns:
            shift = max(1, _trunc(error_ns / distance_ns).bit_length())
            return -shift - self.score + mpq(1, 2)
        adj = (mpq(samples, self.polltarget) - 1) / self.polltarget
        return 2 * adj if samples < self.polltarget else adj

    def adjust(self, adj: mpq) -> int:
        """chronyd's `adjust_poll`: move the exponent by whole steps of the score; clamp."""
        self.score += adj
        if self.score >= 1:
            step = _trunc(self.score)
            self.poll_exp += step
            self.score -= step
        if self.score < 0:
            step = _trunc(self.score - 1)
            self.poll_exp += step
            self.score -= step
        if self.poll_exp < self.minpoll:
            self.poll_exp, self.score = self.minpoll, mpq(0)
        elif self.poll_exp > self.maxpoll:
            self.poll_exp, self.score = self.maxpoll, mpq(1)
        return self.poll_exp


class NtpdPoll:
    """ntpd's jitter-gated poll counter (see the module docstring)."""

    def __init__(self, poll_exp: int, minpoll: int, maxpoll: int,
                 precision_ns: int = NTPD_PRECISION_NS) -> None:
        self.poll_exp, self.minpoll, self.maxpoll = poll_exp, minpoll, maxpoll
        self.precision_ns = precision_ns
        self.jitter2 = precision_ns * precision_ns  # ns², floored
        self.counter = 0
        self.last_offset = mpq(0)  # ntpd's `last_offset` starts at 0 too

    def update(self, offset_ns: mpq) -> int:
        """One `local_clock` update with offset θ: new jitter, then the poll counter."""
        diff = max(abs(offset_ns - self.last_offset), mpq(self.precision_ns))
        self.jitter2 = int(self.jitter2 + (diff * diff - self.jitter2) / NTPD_AVG)
        self.last_offset = offset_ns
        if offset_ns * offset_ns < NTPD_PGATE * NTPD_PGATE * self.jitter2:
            self.counter += self.poll_exp
            if self.counter > NTPD_LIMIT:
                self.counter = NTPD_LIMIT
                if self.poll_exp < self.maxpoll:
                    self.counter = 0
                    self.poll_exp += 1
        else:
            self.counter -= self.poll_exp << 1
            if self.counter < -NTPD_LIMIT:
                self.counter = -NTPD_LIMIT
                if self.poll_exp > self.minpoll:
                    self.counter = 0
                    self.poll_exp -= 1
        return self.poll_exp
