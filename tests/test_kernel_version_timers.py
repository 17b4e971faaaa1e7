"""Version-gated timer behaviours: do_adjtimex's clock_was_set mask, expired user timers."""

from __future__ import annotations

import errno

import pytest

from ntp import ADJ_NANO, ADJ_SETOFFSET, ADJ_TAI, Timex
from ntp.version import KernelBehaviour
from tk_core import CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_TAI, Host

NSEC = 1_000_000_000
MS = 1_000_000
US = 1_000
EPOCH = 1_483_228_790 * NSEC

# version -> whether do_adjtimex's clock_was_set re-evaluates the wall hrtimer bases
WALL_MASK = {
    "5.10": True,  # clock_was_set() took no mask yet: every base
    "5.15": False,
    "6.1": False,
    "6.1.0-28-amd64": False,  # an ABI number, not the patch level: the 6.1 release
    "6.1.104": False,
    "6.1.105": True,  # stable backport (review series 6.1.105-rc1)
    "6.1.192": True,
    "6.10": False,
    "6.11": True,
    "6.12.117": True,
    "7.3.4": True,
    None: True,
}


def _host(version: str | None) -> Host:
    return Host(kernel_version=version, realtime_ns=EPOCH, monotonic_ns=3600 * NSEC, tai_offset=37)


@pytest.mark.parametrize(("version", "wall"), list(WALL_MASK.items()))
def test_wall_mask_flag_follows_version(version, wall):
    assert KernelBehaviour.from_version(version).adjtimex_clock_was_set_wall is wall


@pytest.mark.parametrize(("version", "wall"), list(WALL_MASK.items()))
def test_adj_tai_reaches_queued_tai_timers_at_once_only_with_the_fix(version, wall):
    """ADJ_TAI +20 s makes an absolute TAI deadline 10 s ahead overdue.

    With CLOCK_SET_WALL the TAI base is re-evaluated at once; with the empty mask the timer
    waits for the next hrtimer interrupt, here an unrelated MONOTONIC timer 5 s later.
    """
    h = _host(version)
    root = h.root
    tai = root.clock_gettime_ns(CLOCK_TAI)
    t = root.timer_create(CLOCK_TAI)
    t.settime(tai + 10 * NSEC, absolute=True)
    nap = root.clock_nanosleep(CLOCK_TAI, tai + 10 * NSEC, absolute=True)
    other = root.timer_create(CLOCK_MONOTONIC)
    other.settime(5 * NSEC)
    tx = Timex(modes=ADJ_TAI, constant=57)
    root.adjtimex(tx)
    assert root.clock_gettime_ns(CLOCK_TAI) - tai == 20 * NSEC  # the offset did change
    h.run_for(1 * MS)
    assert (t.fires, nap.done) == ((1, True) if wall else (0, False))
    h.run_for(5 * NSEC)
    assert (t.fires, nap.done, other.fires) == (1, True, 1)
    assert h.stats.stepped_fires == 2  # a clock step made both due, in either case
    assert not h.stale_bases


@pytest.mark.parametrize("version", ["6.1", "6.11"])
def test_adj_tai_never_cancels_a_cancel_on_set_timerfd(version):
    """timerfd_clock_was_set compares offs_real only: a TAI change leaves the timerfd alone."""
    h = _host(version)
    fd = h.root.timerfd_create(CLOCK_REALTIME)
    real = h.root.clock_gettime_ns(CLOCK_REALTIME)
    fd.settime(real + 10 * NSEC, absolute=True, cancel_on_set=True)
    h.root.adjtimex(Timex(modes=ADJ_TAI, constant=38))
    h.run_for(1 * MS)
    with pytest.raises(OSError) as e:
        fd.read()
    assert e.value.errno == errno.EAGAIN
    assert fd.gettime()[0] > 9 * NSEC


@pytest.mark.parametrize("version", ["6.1", "6.11"])
def test_setoffset_re_evaluates_realtime_timers_at_once_in_every_version(version):
    """timekeeping_inject_offset notified CLOCK_SET_WALL itself: only TAI and leaps were masked."""
    h = _host(version)
    real = h.root.clock_gettime_ns(CLOCK_REALTIME)
    t = h.root.timer_create(CLOCK_REALTIME)
    t.settime(real + 10 * NSEC, absolute=True)
    fd = h.root.timerfd_create(CLOCK_REALTIME)
    fd.settime(real + 100 * NSEC, absolute=True, cancel_on_set=True)
    h.root.adjtimex(Timex(modes=ADJ_SETOFFSET | ADJ_NANO, time=(20, 0)))
    h.run_for(1 * MS)
    assert t.fires == 1
    with pytest.raises(OSError) as e:
        fd.read()
    assert e.value.errno == errno.ECANCELED
