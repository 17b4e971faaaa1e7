"""Version-gated timer behaviours: do_adjtimex's clock_was_set mask, expired user timers."""

from __future__ import annotations

import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# version -> whether a user timer armed with an expiry already past is handled synchronously
SYNC = {"6.1.192": False, "6.12.117": False, "7.2": False, "7.3": True, "7.3.4": True,
        "7.4": True, None: False}


@pytest.mark.parametrize(("version", "sync"), list(SYNC.items()))
def test_sync_flag_follows_version(version, sync):
    assert KernelBehaviour.from_version(version).user_timer_expired_sync is sync


def _past(h: Host, clockid: int = CLOCK_MONOTONIC) -> int:
    return h.root.clock_gettime_ns(clockid) - 10 * MS


@pytest.mark.parametrize(("version", "sync"), list(SYNC.items()))
def test_posix_timer_armed_in_the_past(version, sync):
    h = _host(version)
    seen = []
    t = h.root.timer_create(CLOCK_MONOTONIC, lambda timer, overrun: seen.append(overrun))
    irqs = h.stats.interrupts
    t.settime(_past(h), absolute=True)
    # 7.3: the signal is queued before timer_settime returns, nothing is queued
    assert (t.fires, seen, t.armed) == ((1, [0], False) if sync else (0, [], True))
    assert t.entry.queued is not sync
    h.run_for(1 * MS)
    assert (t.fires, seen, t.armed) == (1, [0], False)
    assert h.stats.interrupts - irqs == (0 if sync else 1)
    assert h.stats.expiries == 1


@pytest.mark.parametrize(("version", "sync"), list(SYNC.items()))
def test_periodic_posix_timer_armed_in_the_past_is_forwarded_at_once(version, sync):
    h = _host(version)
    t = h.root.timer_create(CLOCK_MONOTONIC)
    start = h.root.clock_gettime_ns(CLOCK_MONOTONIC)
    t.settime(start - 10 * MS - MS // 2, interval_ns=MS, absolute=True)
    assert t.fires == (1 if sync else 0)
    if sync:  # forwarded past now by common_hrtimer_rearm: 10 periods missed
        assert (t.overrun, t.entry.expires) == (10, start + MS // 2)
    h.run_for(100 * US)
    assert (t.fires, t.overrun, t.entry.expires) == (1, 10, start + MS // 2)


@pytest.mark.parametrize(("version", "sync"), list(SYNC.items()))
def test_timerfd_armed_in_the_past_counts_before_settime_returns(version, sync):
    h = _host(version)
    fd = h.root.timerfd_create(CLOCK_REALTIME)
    irqs = h.stats.interrupts
    fd.settime(_past(h, CLOCK_REALTIME), absolute=True)
    if sync:
        assert fd.read() == 1
    else:
        with pytest.raises(OSError) as e:
            fd.read()
        assert e.value.errno == errno.EAGAIN
        h.run_for(1 * MS)
        assert fd.read() == 1
    assert h.stats.interrupts - irqs == (0 if sync else 1)


@pytest.mark.parametrize(("version", "sync"), list(SYNC.items()))
@pytest.mark.parametrize("how", ["absolute", "relative 0"])
def test_nanosleep_to_a_past_deadline_does_not_sleep(version, sync, how):
    h = _host(version)
    woke = []
    if how == "absolute":
        deadline = _past(h)
        nap = h.root.clock_nanosleep(CLOCK_MONOTONIC, deadline, absolute=True,
                                     callback=woke.append)
    else:
        deadline = h.root.clock_gettime_ns(CLOCK_MONOTONIC)
        nap = h.root.clock_nanosleep(CLOCK_MONOTONIC, 0, callback=woke.append)
    assert nap.done is sync
    assert woke == ([nap] if sync else [])
    h.run_for(1 * MS)
    assert nap.done and woke == [nap]
    assert nap.woke_ns is not None and nap.woke_ns >= deadline


@pytest.mark.parametrize("version", ["6.12.117", "7.3.4"])
def test_a_future_timer_is_queued_in_every_version(version):
    h = _host(version)
    t = h.root.timer_create(CLOCK_MONOTONIC)
    t.settime(1 * MS)
    assert t.fires == 0 and t.entry.queued
    h.run_for(2 * MS)
    assert t.fires == 1


def test_an_expired_timer_behind_a_due_entry_is_queued():
    """Only a timer that would be the first due is handled at once; otherwise it is queued."""
    h = _host("7.3.4")
    early = h.root.timer_create(CLOCK_MONOTONIC)
    t = h.root.timer_create(CLOCK_MONOTONIC)

    def arm_inside(_timer, _overrun):
        # inside the interrupt: `t2` is still queued and due, so `t` is queued behind it
        t.settime(_past(h), absolute=True)
        assert t.fires == 0 and t.entry.queued

    t2 = h.root.timer_create(CLOCK_MONOTONIC)
    early.callback = arm_inside
    now = h.root.clock_gettime_ns(CLOCK_MONOTONIC)
    early.settime(now + MS, absolute=True)
    t2.settime(now + MS, absolute=True)
    h.run_for(2 * MS)
    assert (early.fires, t2.fires, t.fires) == (1, 1, 1)


def test_a_checkpoint_keeps_a_masked_clock_was_set_pending():
    """Taken between the masked notification and the next interrupt, a checkpoint restores a
    host whose TAI timer still waits for that interrupt, then fires in it."""
    h = _host("6.1")
    tai = h.root.clock_gettime_ns(CLOCK_TAI)
    h.root.timer_create(CLOCK_TAI).settime(tai + 10 * NSEC, absolute=True)
    h.root.timer_create(CLOCK_MONOTONIC).settime(5 * NSEC)
    h.root.adjtimex(Timex(modes=ADJ_TAI, constant=57))
    doc = h.checkpoint()
    assert doc == h.checkpoint()
    r = Host.restore(doc)
    assert len(r.stale_bases) == 1
    t, other = (r.root.live_timer_handles()[k] for k in sorted(r.root.live_timer_handles()))
    r.run_for(1 * MS)
    assert t.fires == 0
    r.run_for(5 * NSEC)
    assert (t.fires, other.fires) == (1, 1)
    assert not r.stale_bases


@pytest.mark.parametrize(("version", "sync"), [("6.12.117", False), ("7.3.4", True)])
def test_rearm_past_its_forwarded_expiry(version, sync):
    """With 10 µs per expiry, a 8 µs periodic timer run after another timer of the same
    interrupt is forwarded (from the interrupt's entry time) to an expiry already past when
    common_hrtimer_rearm restarts it.  7.3 queues the signal again at once; older kernels
    queue the timer and run it in the interrupt's next pass, after its own expiry cost."""
    h = Host(kernel_version=version, realtime_ns=EPOCH, monotonic_ns=3600 * NSEC,
             expiry_cost_ns=10 * US)
    now = h.root.clock_gettime_ns(CLOCK_MONOTONIC)
    log = []

    def record(timer, overrun):
        log.append((h.true_ns, timer.fires, overrun))
        if timer.fires == 2:
            timer.delete()

    first = h.root.timer_create(CLOCK_MONOTONIC)
    periodic = h.root.timer_create(CLOCK_MONOTONIC, record)
    first.settime(now + MS, absolute=True)
    periodic.settime(now + MS, interval_ns=8 * US, absolute=True)
    h.run_for(2 * MS)
    at = MS + 10 * US  # after the first timer's cost
    assert log == ([(at, 1, 0), (at, 2, 0)] if sync else [(at, 1, 0), (at + 10 * US, 2, 1)])
    assert h.stats.interrupts == 1


@settings(max_examples=25, deadline=None)
@given(
    offset_us=st.integers(-50_000, 50_000),
    interval_us=st.sampled_from([0, 1, 7, 1000, 3333]),
    absolute=st.booleans(),
)
def test_sync_and_queued_expiry_agree_once_the_queued_one_has_run(offset_us, interval_us,
                                                                  absolute):
    """Differential: 7.3's synchronous handling and the older queued one end in the same state
    (fires, overrun, next expiry) once the older kernel's interrupt has run, and the 7.3 host
    takes no interrupt for a timer that was already due."""
    out = []
    for version in ("6.12.117", "7.3.4"):
        h = _host(version)
        t = h.root.timer_create(CLOCK_MONOTONIC)
        now = h.root.clock_gettime_ns(CLOCK_MONOTONIC)
        value = now + offset_us * US if absolute else max(offset_us, 1) * US
        t.settime(value, interval_ns=interval_us * US, absolute=absolute)
        due = (value if absolute else now + value) <= now
        after_settime = (t.fires, h.stats.interrupts)
        # the queued expiry runs in the host's next interrupt, one minimum delta later: move
        # exactly there, before any later period could come due
        h.run_for(h.clockevent.min_delta_ns if due else 0)
        out.append((due, after_settime, t.fires, t.overrun, t.armed, t.entry.expires))
    (due, old_at_set, *old), (_, new_at_set, *new) = out
    if not due:
        assert old == new and old_at_set == new_at_set == (0, 0)
        return
    assert old_at_set == (0, 0) and new_at_set == (1, 0)
    (fires_o, orun_o, armed_o, exp_o), (fires_n, orun_n, armed_n, exp_n) = old, new
    assert (fires_o, armed_o) == (fires_n, armed_n) == (1, interval_us > 0)
    if interval_us:
        # both forwarded past the instant they fired (7.3 at settime, the older one a minimum
        # delta later): the same period grid, the later fire skipping the periods in between
        period = interval_us * US
        assert (exp_o - exp_n) % period == 0 and 0 <= exp_o - exp_n <= h.clockevent.min_delta_ns
        assert orun_o - orun_n == (exp_o - exp_n) // period
    else:
        assert (orun_o, orun_n) == (0, 0)


@settings(max_examples=25, deadline=None)
@given(
    a=st.integers(1, 20), d=st.integers(-10, 10).filter(bool), b=st.integers(1, 30),
    version=st.sampled_from(["6.1", "6.1.105"]),
)
def test_a_tai_timer_fires_when_its_kernel_first_looks(a, d, b, version):
    """A TAI timer a s ahead, ADJ_TAI moving TAI by d s, another timer b s ahead.  With the
    fix it fires at its new deadline a − d (at once if that has passed); without it the old
    key (a) or the other timer (b), whichever comes first, is when the kernel first looks."""
    h = _host(version)
    tai = h.root.clock_gettime_ns(CLOCK_TAI)
    fired = []
    t = h.root.timer_create(CLOCK_TAI, lambda *_: fired.append(h.true_ns))
    t.settime(tai + a * NSEC, absolute=True)
    h.root.timer_create(CLOCK_MONOTONIC).settime(b * NSEC)
    h.root.adjtimex(Timex(modes=ADJ_TAI, constant=37 + d))
    h.run_for(40 * NSEC)
    first_look = 0 if KernelBehaviour.from_version(version).adjtimex_clock_was_set_wall \
        else min(a, b) * NSEC
    expected = max((a - d) * NSEC, first_look)
    assert len(fired) == 1
    assert expected <= fired[0] <= expected + h.clockevent.min_delta_ns + 2 * US
