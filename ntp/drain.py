"""Linux 7.3 NTP: the phase offset and the adjtime remainder drained interval by interval.

Up to 7.2, ``second_overflow`` took one PLL chunk off ``time_offset`` and up to 500 µs off
``time_adjust`` once per second and put both into ``tick_length`` for the next second.  In 7.3
(read in 7.3.4's kernel/time/ntp.c) it only works out a per-interval slew, ``skew_delta``; the
timekeeper then drains that slew from the two trackers in every interval it accumulates
(``ntp_drain_skew``), so both fall while they are delivered and adjtimex reads back a smaller
value after every tick.  ``NtpState`` calls these functions when its ``KernelBehaviour`` has
``ntp_skew_drain``.

Units (all plain ints, kernel semantics):

* ``time_offset`` T and ``skew_delta`` are in the PLL's per-interval unit ("OU"): X OU is
  X·HZ/2^32 ns of phase;
* ``time_adjust`` A is whole µs; ``time_adjust_frac`` F (the "drawer": sub-µs of adjtime already
  borrowed from A, not yet delivered) is in ns·2^32 ("PU"), not divided by HZ.

Not a kernel function: ``intervals_until_drain_change`` (below) tells a lazy namespace for how
many intervals the drain goes on at the same rate, so it can accumulate them in one go.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ntp.timex import MAX_TICKADJ, NSEC_PER_USEC, NTP_SCALE_SHIFT, div_trunc, shift_right

if TYPE_CHECKING:
    from ntp.kernel import NtpState

#: One µs in PU (``ONE_US_NS`` of 7.3's ntp.c): what one unit of ``time_adjust`` is worth in F.
ONE_US_NS = NSEC_PER_USEC << NTP_SCALE_SHIFT


def _sign(x: int) -> int:
    return -1 if x < 0 else 1


def _chunk(ntp: NtpState) -> int:
    """The PLL share of the next second (OU): ``ntp_offset_chunk``, or all of a last remnant."""
    off = shift_right(ntp.time_offset, 2 + ntp.time_constant)
    return off if off else ntp.time_offset


def _adj_chunk(ntp: NtpState) -> int:
    """The adjtime share of the next second (OU): at most 500 µs, else A and F in full."""
    a, f = ntp.time_adjust, ntp.time_adjust_frac
    if a == 0 and f == 0:
        return 0
    if a >= MAX_TICKADJ:
        adj = MAX_TICKADJ * ONE_US_NS
    elif a <= -MAX_TICKADJ:
        adj = -MAX_TICKADJ * ONE_US_NS
    else:
        adj = a * ONE_US_NS + f
    chunk = div_trunc(adj, ntp.hz)
    return chunk if chunk else _sign(f)


def skew_for_next_second(ntp: NtpState) -> None:
    """The slew part of 7.3's ``second_overflow``: set ``skew_delta`` for the coming second.

    Nothing is taken off T or A here.  When the two chunks oppose each other,
    ``ntp_transfer_offset_adjust`` first settles them against each other (no clock motion).
    """
    if not (ntp.time_offset or ntp.time_adjust or ntp.time_adjust_frac):
        ntp.skew_delta = 0
        return
    off, adj = _chunk(ntp), _adj_chunk(ntp)
    if off and adj and (off < 0) != (adj < 0):
        transfer_offset_adjust(ntp, off, adj)
    net = off + adj
    skew = div_trunc(net, ntp.hz)
    ntp.skew_delta = skew if skew or not net else _sign(net)


def transfer_offset_adjust(ntp: NtpState, off: int, adj: int) -> None:
    """``ntp_transfer_offset_adjust``: cancel opposing PLL and adjtime chunks against each other.

    The smaller chunk (at most all of T) moves from T into the drawer F; whole µs of F are then
    carried into A, and if A and F are left with opposite signs one µs is moved between them so
    both share A's sign.  The sum A + F/1µs + T is unchanged.
    """
    t = ntp.time_offset
    c = _sign(off) * min(abs(off), abs(adj), abs(t))
    ntp.time_offset = t - c
    f = ntp.time_adjust_frac + c * ntp.hz
    carry = div_trunc(f, ONE_US_NS)
    a = ntp.time_adjust + carry
    f -= carry * ONE_US_NS
    if a > 0 > f:
        a, f = a - 1, f + ONE_US_NS
    elif a < 0 < f:
        a, f = a + 1, f - ONE_US_NS
    ntp.time_adjust, ntp.time_adjust_frac = a, f


def drain_skew(ntp: NtpState, skew: int, shift: int) -> int:
    """``ntp_drain_skew``: drain 2^shift intervals of ``skew``; return the OU really drained.

    adjtime first (``ntp_drain_time_adjust``), then the PLL offset gets what adjtime passed on
    (``ntp_drain_time_offset``).  What neither could take is not drained: the caller credits
    ntp_error only with the returned amount.
    """
    if skew == 0:
        return 0
    amount = skew << shift
    passed = amount - _sign(amount) * _drain_time_adjust(ntp, amount, shift)
    return amount - _drain_time_offset(ntp, passed)


def _drain_time_adjust(ntp: NtpState, amount: int, shift: int) -> int:
    """``ntp_drain_time_adjust``: deliver up to the adjtime cap from F, topping F up from A.

    Returns the OU claimed (a magnitude).  Borrowing from A is in whole µs, only as many as the
    delivery needs, so A reads back the whole µs not yet borrowed.
    """
    a, f = ntp.time_adjust, ntp.time_adjust_frac
    ref = a if a else f
    if ref == 0 or (amount < 0) != (ref < 0):
        return 0
    deliver = min(abs(amount) * ntp.hz, ntp.max_tickadj_scaled << shift)
    deficit = deliver - abs(f)
    if deficit > 0 and a:
        borrow = min(-(-deficit // ONE_US_NS), abs(a))
        a -= _sign(a) * borrow
        f += _sign(ref) * borrow * ONE_US_NS
    deliver = min(deliver, abs(f))
    ntp.time_adjust, ntp.time_adjust_frac = a, f - _sign(f) * deliver
    return deliver // ntp.hz


def _drain_time_offset(ntp: NtpState, r: int) -> int:
    """``ntp_drain_time_offset``: take ``r`` off T if it points the same way; return the rest.

    T = 0 counts as positive; a drain larger than T empties it and the excess is unclaimed.
    """
    t = ntp.time_offset
    if r == 0 or (r < 0) != (t < 0):
        return r
    if abs(r) > abs(t):
        ntp.time_offset = 0
        return r - t
    ntp.time_offset = t - r
    return 0


def drained_per_interval(ntp: NtpState, skew: int) -> int:
    """OU one interval would drain now (signed), without changing anything (lazy planning)."""
    if skew == 0:
        return 0
    claimed = _claim_per_interval(ntp, skew)
    passed = skew - _sign(skew) * claimed
    t = ntp.time_offset
    if passed == 0 or (passed < 0) != (t < 0):
        return skew - passed
    return skew - (passed - t if abs(passed) > abs(t) else 0)


def _claim_per_interval(ntp: NtpState, skew: int) -> int:
    """What adjtime claims in one full interval (a magnitude), 0 if it takes no part."""
    ref = ntp.time_adjust if ntp.time_adjust else ntp.time_adjust_frac
    if ref == 0 or (skew < 0) != (ref < 0):
        return 0
    return min(abs(skew) * ntp.hz, ntp.max_tickadj_scaled) // ntp.hz


def intervals_until_drain_change(ntp: NtpState, skew: int) -> int | None:
    """How many whole intervals drain exactly as the next one does; None if that never ends.

    Not a kernel function.  Within such a run each interval claims the same amounts, so a lazy
    namespace can accumulate the run in one advance and its ntp_error moves linearly.  A run
    ends when the adjtime pool (A µs plus the drawer) or the phase offset can no longer supply a
    full interval; the returned count is at least 1 (the interval that changes the rate).
    """
    if skew == 0:
        return None
    runs: list[int] = []
    claim = _claim_per_interval(ntp, skew)
    if claim:
        deliver = min(abs(skew) * ntp.hz, ntp.max_tickadj_scaled)
        pool = abs(ntp.time_adjust) * ONE_US_NS + abs(ntp.time_adjust_frac)
        runs.append(pool // deliver)
    rest = abs(skew) - claim
    t = ntp.time_offset
    if rest and t and (skew < 0) == (t < 0):  # an empty T passes every interval on alike
        runs.append(abs(t) // rest)
    if not runs:
        return None
    return max(1, min(runs))
