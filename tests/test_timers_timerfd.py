"""timerfd: counting reads, EAGAIN, periodic forwarding on read, CANCEL_ON_SET (ECANCELED)."""

from __future__ import annotations

import errno

import pytest

from ntp import ADJ_NANO, ADJ_SETOFFSET, ADJ_STATUS, STA_INS, Timex
from tk_core import CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_TAI, Host

NSEC = 1_000_000_000
MS = 1_000_000
US = 1_000
EPOCH = 1_483_228_790 * NSEC


def errno_of(call) -> int:
    with pytest.raises(OSError) as e:
        call()
    return e.value.errno


def test_timerfd_clocks():
    h = Host(realtime_ns=EPOCH)
    for clk in (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME):
        h.root.timerfd_create(clk)
    assert errno_of(lambda: h.root.timerfd_create(CLOCK_TAI)) == errno.EINVAL
    assert errno_of(lambda: h.root.timerfd_create(4)) == errno.EOPNOTSUPP


def test_read_counts_expirations_and_eagain_when_none():
    h = Host(realtime_ns=EPOCH)
    fd = h.create_namespace("a").timerfd_create(CLOCK_MONOTONIC)
    assert errno_of(fd.read) == errno.EAGAIN
    fd.settime(10 * MS, 10 * MS)
    h.run_for(5 * MS)
    assert errno_of(fd.read) == errno.EAGAIN
    h.run_for(30 * MS)  # expiries at 10, 20, 30 ms: the first fires, the rest are counted
    assert fd.read() == 3  # on read
    assert errno_of(fd.read) == errno.EAGAIN
    h.run_for(10 * MS)
    assert fd.read() == 1
    rem, interval = fd.gettime()
    assert interval == 10 * MS and 0 < rem <= 10 * MS


def test_periodic_timerfd_does_not_rearm_until_read():
    h = Host()
    fd = h.root.timerfd_create(CLOCK_MONOTONIC)
    fd.settime(US, US)  # 1 µs period: no storm, the fd sits expired until read
    h.run_for(10 * MS)
    assert h.stats.expiries == 1
    assert fd.read() in (9_999, 10_000)  # the 3 GHz mult is 0.06 ppm slow
    h.run_for(10 * MS)
    assert fd.read() in (9_999, 10_000)
    assert h.stats.expiries == 2


def test_settime_resets_the_count_and_zero_disarms():
    h = Host()
    fd = h.root.timerfd_create(CLOCK_MONOTONIC)
    fd.settime(MS)
    h.run_for(2 * MS)
    assert fd.settime(0, 5 * MS) == (0, 0)
    assert errno_of(fd.read) == errno.EAGAIN
    assert fd.gettime() == (0, 5 * MS)


def test_cancel_on_set_first_read_fails_with_ecanceled_timer_stays_armed():
    h = Host(realtime_ns=EPOCH)
    a = h.create_namespace("a")
    fd = a.timerfd_create(CLOCK_REALTIME)
    real = a.clock_gettime_ns(CLOCK_REALTIME)
    fd.settime(real + 10 * NSEC, NSEC, absolute=True, cancel_on_set=True)
    a.clock_settime_ns(CLOCK_REALTIME, a.clock_gettime_ns(CLOCK_REALTIME) + NSEC)
    assert errno_of(fd.read) == errno.ECANCELED
    assert errno_of(fd.read) == errno.EAGAIN  # the cancellation is consumed
    rem, _ = fd.gettime()
    assert abs(rem - 9 * NSEC) < MS  # still armed, re-keyed for the new clock
    a.adjtimex(Timex(modes=ADJ_SETOFFSET | ADJ_NANO, time=(-1, 0)))
    assert errno_of(fd.read) == errno.ECANCELED
    h.run_for(10 * NSEC + MS)
    assert fd.read() == 1


def test_cancel_on_set_is_local_to_the_namespace_and_ignored_when_relative():
    h = Host(realtime_ns=EPOCH)
    a, b = h.create_namespace("a"), h.create_namespace("b")
    fa, fb, rel = a.timerfd_create(CLOCK_REALTIME), b.timerfd_create(CLOCK_REALTIME), None
    for ns, fd in ((a, fa), (b, fb)):
        fd.settime(ns.clock_gettime_ns(CLOCK_REALTIME) + NSEC, absolute=True, cancel_on_set=True)
    rel = a.timerfd_create(CLOCK_REALTIME)
    rel.settime(NSEC, cancel_on_set=True)  # relative: CANCEL_ON_SET does not apply
    a.clock_settime_ns(CLOCK_REALTIME, a.clock_gettime_ns(CLOCK_REALTIME) + 5 * MS)
    assert errno_of(fa.read) == errno.ECANCELED
    assert errno_of(fb.read) == errno.EAGAIN
    assert errno_of(rel.read) == errno.EAGAIN


def test_offsets_namespace_timerfd_cancelled_by_a_host_clock_set():
    h = Host(realtime_ns=EPOCH)
    c = h.create_namespace("c", model="offsets")
    fd = c.timerfd_create(CLOCK_REALTIME)
    fd.settime(c.clock_gettime_ns(CLOCK_REALTIME) + NSEC, absolute=True, cancel_on_set=True)
    h.root.clock_settime_ns(CLOCK_REALTIME, h.root.clock_gettime_ns(CLOCK_REALTIME) + MS)
    assert errno_of(fd.read) == errno.ECANCELED


def test_a_leap_second_cancels_cancel_on_set_timerfds():
    midnight = 1_719_792_000
    h = Host(hz=100, realtime_ns=(midnight - 3) * NSEC)
    ns = h.create_namespace("ins")
    ns.adjtimex(Timex(modes=ADJ_STATUS, status=STA_INS))
    fd = ns.timerfd_create(CLOCK_REALTIME)
    fd.settime((midnight + 60) * NSEC, absolute=True, cancel_on_set=True)
    h.run_until(4 * NSEC)
    assert errno_of(fd.read) == errno.ECANCELED


def test_timens_absolute_timerfd_is_converted_when_armed():
    h = Host()
    c = h.create_namespace("c", model="offsets")
    c.set_offsets(monotonic_ns=50 * 86_400 * NSEC)
    fd = c.timerfd_create(CLOCK_MONOTONIC)
    fd.settime(c.clock_gettime_ns(CLOCK_MONOTONIC) + 3600 * NSEC, absolute=True)
    assert fd.gettime() == (3600 * NSEC, 0)


def test_closed_fd_is_ebadf():
    fd = Host().root.timerfd_create(CLOCK_MONOTONIC)
    fd.settime(MS)
    fd.close()
    assert errno_of(fd.read) == errno.EBADF
