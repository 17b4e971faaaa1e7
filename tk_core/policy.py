"""`ns.follow(policy)`: a namespace that handles a leap second the way some part of the world does.

A follower is an idealised daemon: it knows true UTC exactly (as if its NTP server were
perfect) and acts on its namespace only through adjtimex, as chronyd or ntpd would:

* ``step``: it sets STA_INS (STA_DEL) on the leap day and clears it after the leap; the
  namespace's own kernel timekeeper inserts (deletes) the second at midnight;
* every other policy is a smear shape from `ntp.smear` (``slew`` policies included: chrony's
  `leapsecmode slew` and ntpd −x are shapes that start at the leap).  At each update point the
  follower reads REALTIME, and sets the frequency (ADJ_FREQUENCY, and ADJ_TICK beyond ±500
  ppm) that brings the clock onto the smeared timescale at the next update point.  Update
  points are every `update_interval_s` and at every corner of the shape (window start, end,
  middle), so the piecewise-linear clock matches the shape to within its curvature.  The
  gain of the clock (its counter error and mult quantisation) is measured from the previous
  interval, so no bias accumulates.

The follower keeps disciplining the namespace before and after the window too (to true UTC,
or to the smeared timescale inside it), so counter error never masquerades as policy error.

A smearing namespace must not also apply the leap (the double-correction pitfall): if
STA_INS/STA_DEL shows up in its status the follower records a warning (and emits a
`double_correction` event).  `apply_leap_too=True` reproduces the pitfall on purpose.
Tracking error (REALTIME minus the exact smeared time, in ns) is recorded at every update.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gmpy2 import mpq

from ntp.discipline import applied_frequency, frequency_modes
from ntp.exact import floor_q
from ntp.leap import LeapEvent, LeapTable
from ntp.smear import BoundSmear, Shape, Step, make_shape
from ntp.timex import ADJ_ESTERROR, ADJ_MAXERROR, ADJ_STATUS, STA_DEL, STA_INS, STA_PLL, Timex
from ntp.trace import emit

from .clockids import CLOCK_REALTIME
from .daemon import at_true_time

if TYPE_CHECKING:
    from .namespace import TimekeeperNamespace

NSEC = 1_000_000_000
ARM_BEFORE_S = 3600  # STA_INS goes in an hour before midnight (a real daemon: on the leap day)
SYNC_ERROR_US = 1000  # maxerror/esterror a synchronised follower reports (µs)
MAX_ADJ = mpq(1, 10) + mpq(500, 1_000_000)  # ADJ_TICK ±10 % plus ADJ_FREQUENCY ±500 ppm


@dataclass
class Follower:
    """The state of one namespace following one leap policy (see the module docstring)."""

    ns: TimekeeperNamespace
    policy: str
    bound: BoundSmear
    epoch_unix: mpq
    update_interval_s: int
    apply_leap_too: bool = False
    tracking: list[tuple[mpq, mpq]] = field(default_factory=list)  # (true unix, error ns)
    warnings: list[str] = field(default_factory=list)
    freq_set: list[tuple[mpq, mpq]] = field(default_factory=list)  # (true unix, freq)
    clamped: bool = False
    _gain: mpq | None = None
    _last: tuple[mpq, int, mpq] | None = None  # (true unix, REALTIME ns, freq set)
    _tai0: int = 0
    _leap_bits: int = 0

    @property
    def is_step(self) -> bool:
        """Whether the policy steps (a `Step` shape) rather than smears.

        Asked several times at every update point; `Shape` is an abstract base class, whose
        isinstance check goes through its registry, so the shape's class is looked at.
        """
        return Step in type(self.bound.shape).__mro__

    def true_unix(self) -> mpq:
        return self.epoch_unix + self.ns.host.true_time

    def target_ns(self, t: mpq) -> mpq:
        """Where REALTIME should be at true instant `t` under this policy (exact ns)."""
        return self.bound.smeared(t) * NSEC

    def max_tracking_error_ns(self, *, window_only: bool = True) -> mpq:
        """Largest |REALTIME − policy target| at the update points (inside the window)."""
        lo, hi = self.bound.window()
        everywhere = not window_only or lo == hi  # a step has no window: judge it throughout
        # The first two samples precede the first gain measurement (the follower is locking).
        locked = self.tracking[2:]
        return max(
            (abs(e) for t, e in locked if everywhere or lo <= t <= hi),
            default=mpq(0),
        )

    # -- step ----------------------------------------------------------------------------

    def _set_leap_bits(self, bits: int) -> None:
        """Arm or clear the kernel leap as leap-a-day.c does (STA_PLL on, then the bits)."""
        self._leap_bits = bits
        self.ns.adjtimex(Timex(modes=ADJ_STATUS, status=STA_PLL))
        self.ns.adjtimex(Timex(modes=ADJ_STATUS, status=bits))

    def _arm_step(self) -> None:
        bits = STA_INS if self.bound.sign > 0 else STA_DEL
        host = self.ns.host
        arm_at = self.bound.t_leap - ARM_BEFORE_S - self.epoch_unix
        clear_at = self.bound.midnight + 2 - self.epoch_unix
        at_true_time(host, arm_at, self._set_leap_bits, bits)
        at_true_time(host, clear_at, self._set_leap_bits, 0)

    # -- smear ---------------------------------------------------------------------------

    def _corners(self) -> list[mpq]:
        b = self.bound
        return sorted({b.start, b.end, (b.start + b.end) / 2, b.t_leap})

    def next_update(self, t: mpq) -> mpq:
        """The next update point after `t`: the next point of the interval grid, or a corner.

        A stepping namespace's grid is shifted by half an interval so that no update lands on
        the leap instant itself, where the kernel is still up to one tick from stepping.
        """
        step = self.update_interval_s
        phase = mpq(step, 2) if self.is_step else mpq(0)
        nxt = ((t - phase) // step + 1) * step + phase
        if self.is_step:
            return nxt
        for corner in self._corners():
            if t < corner < nxt:
                nxt = corner
        return nxt

    def _unstepped(self, now: int) -> int:
        """REALTIME as if the kernel had not applied a leap (for the rate computation)."""
        return now + (self.ns.timekeeper.tai_offset - self._tai0) * NSEC

    def _update(self) -> None:
        t = self.true_unix()
        now = self.ns.clock_gettime_ns(CLOCK_REALTIME)
        self.tracking.append((t, now - self.target_ns(t)))
        self._check_double_correction()
        raw = self._unstepped(now) if self.is_step else now
        if self._last is not None:
            t0, c0, f0 = self._last
            if t > t0:
                self._gain = mpq(raw - c0) / ((t - t0) * NSEC) / (1 + f0)
        nxt = self.next_update(t)
        gain = self._gain if self._gain is not None else mpq(1)
        goal = nxt * NSEC if self.is_step else self.target_ns(nxt)
        want = (goal - raw) / ((nxt - t) * NSEC)
        self._apply(t, raw, want / gain - 1)
        at_true_time(self.ns.host, nxt - self.epoch_unix, self._update)

    def _apply(self, t: mpq, now: int, freq: mpq) -> None:
        if abs(freq) > MAX_ADJ:
            if not self.clamped:
                self.warnings.append(
                    f"{self.policy}: needs {float(freq) * 1e6:.0f} ppm; adjtimex reaches "
                    f"at most ±{float(MAX_ADJ) * 1e6:.0f} ppm, so the clock falls behind"
                )
                emit("policy_rate_clamped", ns=self.ns.name, policy=self.policy)
            self.clamped = True
            freq = max(-MAX_ADJ, min(MAX_ADJ, freq))
        tx = frequency_modes(freq)
        # A synchronised daemon also keeps the kernel's error estimates small and STA_UNSYNC
        # clear (ntpd and chronyd both do), so adjtimex reports TIME_OK, not TIME_ERROR.
        tx.modes |= ADJ_STATUS | ADJ_MAXERROR | ADJ_ESTERROR
        tx.status = self._leap_bits
        tx.maxerror = tx.esterror = SYNC_ERROR_US
        self.ns.adjtimex(tx)
        applied = applied_frequency(tx)
        self._last = (t, now, applied)
        self.freq_set.append((t, applied))

    def _check_double_correction(self) -> None:
        status = self.ns.ntp.time_status
        if status & (STA_INS | STA_DEL) and not self.is_step:
            msg = (
                f"{self.ns.name}: follows the {self.policy} smear but STA_INS/STA_DEL is set: "
                "the kernel will also step (double correction)"
            )
            if msg not in self.warnings:
                self.warnings.append(msg)
                emit("double_correction", ns=self.ns.name, policy=self.policy)

    def start(self) -> None:
        """Arm the kernel leap (step, or the pitfall on purpose) and start disciplining now."""
        self._tai0 = self.ns.timekeeper.tai_offset
        if self.is_step or self.apply_leap_too:
            self._arm_step()
        self._update()


def resolve_policy(policy: str | Shape, **params: Any) -> Shape:
    """A policy name (`ntp.smear.SHAPES`, plus ``"slew"`` = chrony's) or a Shape instance."""
    if isinstance(policy, Shape):
        return policy
    name = "chrony-slew" if policy == "slew" else policy
    return make_shape(name, **params)


def follow(
    ns: TimekeeperNamespace,
    policy: str | Shape,
    *,
    leap: LeapEvent | None = None,
    epoch_unix: int | mpq,
    update_interval_s: int = 16,
    apply_leap_too: bool = False,
    table: LeapTable | None = None,
    **params: Any,
) -> Follower:
    """Make `ns` realise `policy` for `leap` (default: the table's next leap after now).

    `epoch_unix` is the true Unix time at the host's true time 0.
    """
    if update_interval_s <= 0:
        raise ValueError(f"update_interval_s must be > 0, got {update_interval_s}")
    shape = resolve_policy(policy, **params)
    epoch = mpq(epoch_unix)
    if leap is None:
        now = epoch + ns.host.true_time
        leap = (table or LeapTable.load()).next_leap(floor_q(now))
        if leap is None:
            raise ValueError("no leap second scheduled after now; pass leap= (LeapEvent)")
    name = policy if isinstance(policy, str) else type(policy).__name__
    f = Follower(ns, name, shape.for_event(leap), epoch, update_interval_s, apply_leap_too)
    ns.agents.append(f)
    f.start()
    return f
