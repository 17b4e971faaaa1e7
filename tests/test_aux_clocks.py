"""CLOCK_AUX0..7 (6.17+, CONFIG_POSIX_AUX_CLOCKS): the sysfs switch, syscalls, errno order, NTP."""

from __future__ import annotations

import errno

import pytest

from ntp.timex import (
    ADJ_ADJTIME,
    ADJ_FREQUENCY,
    ADJ_NANO,
    ADJ_SETOFFSET,
    ADJ_STATUS,
    ADJ_TAI,
    ADJ_TICK,
    STA_INS,
    STA_PLL,
    STA_PPSTIME,
    Timex,
)
from tk_core import CLOCK_MONOTONIC_RAW, Host
from tk_core.auxclock import kstrtobool

AUX0 = 16
S = 10**9


def errno_of(fn, *args, **kw) -> int:
    with pytest.raises(OSError) as info:
        fn(*args, **kw)
    return info.value.errno


@pytest.fixture(params=["periodic", "lazy"])
def ns(request):
    host = Host(kernel_version="7.3.4", aux_clocks=True)
    return host.create_namespace("ptp", update=request.param)


def test_without_config_every_call_is_einval():
    host = Host(kernel_version="7.3")
    ns = host.create_namespace("x")
    for call in (
        lambda: ns.clock_gettime_ns(AUX0),
        lambda: ns.clock_getres_ns(AUX0),
        lambda: ns.clock_adjtime(AUX0, Timex()),
    ):
        assert errno_of(call) == errno.EINVAL


def test_aux_clocks_need_617():
    with pytest.raises(ValueError, match=r"6\.17"):
        Host(kernel_version="6.12.117", aux_clocks=True)
    Host(kernel_version="6.17", aux_clocks=True)


@pytest.mark.parametrize(("text", "value"), [
    ("1", True), ("y\n", True), ("Yes", True), ("t", True), ("E", True), ("on", True),
    ("0", False), ("n", False), ("F", False), ("d", False), ("off", False), ("of", False),
])
def test_kstrtobool(text, value):
    assert kstrtobool(text) is value


@pytest.mark.parametrize("text", ["2", "", "o", "ox", " 1", "-1"])
def test_kstrtobool_rejects(text):
    assert errno_of(kstrtobool, text) == errno.EINVAL


def test_sysfs_errno_order(ns):
    task = ns.spawn()
    # non-root: EACCES before the capability and before the value is parsed
    assert errno_of(task.aux_clock_enable_write, 0, "junk", euid=1000) == errno.EACCES
    assert errno_of(ns.aux_clock_enable_write, 0, "junk", task.creds) == errno.EPERM
    assert errno_of(ns.aux_clock_enable_write, 0, "2") == errno.EINVAL
    assert ns.aux_clock_enable_read(0) == "0\n"
    assert ns.aux_clock_enable_write(0, "1\n") == 2
    assert ns.aux_clock_enable_read(0) == "1\n"
    assert errno_of(ns.aux_clock_enable_read, 8) == errno.ENOENT


def test_disabled_clock(ns):
    assert errno_of(ns.clock_gettime_ns, AUX0) == errno.ENODEV
    assert ns.clock_getres_ns(AUX0) == 1  # aux_get_res answers whatever the state
    # settime: EINVAL and EPERM come before ENODEV
    task = ns.spawn()
    assert errno_of(ns.clock_settime_ns, AUX0, -1) == errno.EINVAL
    assert errno_of(task.clock_settime_ns, AUX0, S) == errno.EPERM
    assert errno_of(ns.clock_settime_ns, AUX0, S) == errno.ENODEV
    # adjtime: every validation first, then ENODEV
    assert errno_of(ns.clock_adjtime, AUX0, Timex(modes=ADJ_TAI, constant=1)) == errno.EINVAL
    assert errno_of(ns.clock_adjtime, AUX0, Timex()) == errno.ENODEV


def test_enabled_clock_starts_at_zero_at_raw_rate(ns):
    host = ns.host
    host.run_for(3 * S)
    ns.aux_clock_enable_write(2, "1")
    raw0 = ns.clock_gettime_ns(CLOCK_MONOTONIC_RAW)
    assert ns.clock_gettime_ns(AUX0 + 2) == 0
    host.run_for(5 * S + 123)
    raw = ns.clock_gettime_ns(CLOCK_MONOTONIC_RAW) - raw0
    assert abs(ns.clock_gettime_ns(AUX0 + 2) - raw) <= 1
    # each clock is independent: the others stay disabled
    assert errno_of(ns.clock_gettime_ns, AUX0 + 1) == errno.ENODEV


def test_timers_and_sleeps_refused(ns):
    ns.aux_clock_enable_write(0, "1")
    assert errno_of(ns.timer_create, AUX0) == errno.EOPNOTSUPP
    assert errno_of(ns.clock_nanosleep, AUX0, S) == errno.EOPNOTSUPP
    assert errno_of(ns.timerfd_create, AUX0) == errno.EINVAL


def test_boot_state_readback(ns):
    ns.aux_clock_enable_write(0, "1")
    tx = Timex()
    assert ns.clock_adjtime(AUX0, tx) == 5
    assert (tx.offset, tx.freq, tx.maxerror, tx.esterror, tx.status, tx.constant, tx.tick,
            tx.tai) == (0, 0, 16_000_000, 16_000_000, 0x40, 2, 10_000, 0)


@pytest.mark.parametrize("tx", [
    Timex(modes=ADJ_STATUS, status=STA_INS),
    Timex(modes=ADJ_STATUS, status=STA_PPSTIME),
    Timex(modes=ADJ_TAI | ADJ_FREQUENCY, freq=65536, constant=5),
    Timex(modes=ADJ_ADJTIME),
    Timex(modes=ADJ_FREQUENCY, freq=140_737_488_356),
    Timex(modes=ADJ_TICK, tick=8999),
])
def test_rejected_modes_change_nothing(ns, tx):
    ns.aux_clock_enable_write(0, "1")
    before = ns.aux[0].ntp.to_dict()
    assert errno_of(ns.clock_adjtime, AUX0, tx) == errno.EINVAL
    assert ns.aux[0].ntp.to_dict() == before


def test_unprivileged(ns):
    ns.aux_clock_enable_write(0, "1")
    task = ns.spawn()
    assert task.clock_adjtime(AUX0, Timex()) == 5
    assert errno_of(task.clock_adjtime, AUX0, Timex(modes=ADJ_FREQUENCY, freq=1)) == errno.EPERM


def test_frequency_steers_and_survives_disable(ns):
    host = ns.host
    ns.aux_clock_enable_write(0, "1")
    ns.clock_adjtime(AUX0, Timex(modes=ADJ_FREQUENCY | ADJ_STATUS, freq=6_553_600,
                                 status=STA_PLL))
    host.run_for(10 * S)
    t10 = ns.clock_gettime_ns(AUX0)
    assert abs(t10 - 10 * S * (1 + 100e-6)) < 5_000  # +100 ppm against RAW
    ns.aux_clock_enable_write(0, "0")
    assert errno_of(ns.clock_gettime_ns, AUX0) == errno.ENODEV
    ns.aux_clock_enable_write(0, "1")
    assert ns.clock_gettime_ns(AUX0) == 0
    tx = Timex()
    ns.clock_adjtime(AUX0, tx)
    assert (tx.freq, tx.status, tx.maxerror, tx.offset) == (6_553_600, 0x41, 16_000_000, 0)
    # writing the state it already has does not restart the clock
    host.run_for(S)
    ns.aux_clock_enable_write(0, "1")
    assert ns.clock_gettime_ns(AUX0) > S


def test_core_ntp_untouched(ns):
    ns.aux_clock_enable_write(0, "1")
    core = ns.ntp.to_dict()
    ns.clock_adjtime(AUX0, Timex(modes=ADJ_FREQUENCY, freq=65536 * 50))
    assert ns.ntp.to_dict() == core


def test_settime_moves_only_offs_aux(ns):
    host = ns.host
    ns.aux_clock_enable_write(0, "1")
    host.run_for(S // 4)
    ns.clock_adjtime(AUX0, Timex(modes=ADJ_STATUS, status=STA_PLL))
    ns.clock_settime_ns(AUX0, 1000 * S + S // 2)
    assert ns.clock_gettime_ns(AUX0) == 1000 * S + S // 2
    tk = ns.aux[0].tk
    assert tk.xtime_sec == 0  # internal seconds keep their phase
    tx = Timex()
    assert ns.clock_adjtime(AUX0, tx) == 5  # TK_UPDATE_ALL cleared NTP: UNSYNC again
    assert tx.status & 0x40


def test_setoffset(ns):
    host = ns.host
    ns.aux_clock_enable_write(0, "1")
    host.run_for(2 * S)
    now = ns.clock_gettime_ns(AUX0)
    tx = Timex(modes=ADJ_SETOFFSET | ADJ_NANO, time=(-1, 500_000_000))
    assert ns.clock_adjtime(AUX0, tx) == 5
    assert tx.status == 0x2040 and tx.maxerror == 16_000_000
    assert ns.clock_gettime_ns(AUX0) == now - S // 2
    # no upper limit like the core's settod range
    ns.clock_adjtime(AUX0, Timex(modes=ADJ_SETOFFSET, time=(1 << 40, 0)))
    assert ns.clock_gettime_ns(AUX0) >= (1 << 40) * S
    # below zero: EINVAL and nothing changes
    before = ns.clock_gettime_ns(AUX0)
    assert errno_of(ns.clock_adjtime, AUX0,
                    Timex(modes=ADJ_SETOFFSET, time=(-(1 << 41), 0))) == errno.EINVAL
    assert ns.clock_gettime_ns(AUX0) == before


def test_every_namespace_has_its_own_eight():
    host = Host(kernel_version="7.3", aux_clocks=True)
    a = host.create_namespace("a")
    b = host.create_namespace("b", update="periodic")
    a.aux_clock_enable_write(0, "1")
    assert errno_of(b.clock_gettime_ns, AUX0) == errno.ENODEV
    b.aux_clock_enable_write(0, "1")
    a.clock_adjtime(AUX0, Timex(modes=ADJ_FREQUENCY, freq=65536 * 300))
    host.run_for(10 * S)
    assert a.clock_gettime_ns(AUX0) - b.clock_gettime_ns(AUX0) > 2_900_000


def test_offsets_namespace_sees_host_aux_without_offset():
    host = Host(kernel_version="7.3", aux_clocks=True)
    off = host.create_namespace("c", model="offsets")
    off.set_offsets(monotonic_ns=100 * S)
    host.root.aux_clock_enable_write(0, "1")
    host.run_for(S)
    assert off.clock_gettime_ns(AUX0) == host.root.clock_gettime_ns(AUX0)
    task = off.spawn({"CAP_SYS_TIME"})
    # a local capability does not reach the host's aux clock
    assert errno_of(task.clock_adjtime, AUX0, Timex(modes=ADJ_FREQUENCY, freq=1)) == errno.EPERM
    host_task = off.spawn({"CAP_SYS_TIME:host"})
    host_task.clock_adjtime(AUX0, Timex(modes=ADJ_FREQUENCY, freq=1))


def test_lazy_and_periodic_twins_agree():
    host = Host(kernel_version="7.3", aux_clocks=True)
    lazy = host.create_namespace("l")
    per = host.create_namespace("p", update="periodic")
    for ns in (lazy, per):
        ns.aux_clock_enable_write(5, "1")
        ns.clock_adjtime(AUX0 + 5, Timex(modes=ADJ_FREQUENCY, freq=-65536 * 37))
    for _ in range(20):
        host.run_for(S // 3)
        assert abs(lazy.clock_gettime_ns(AUX0 + 5) - per.clock_gettime_ns(AUX0 + 5)) <= 100


def test_checkpoint_round_trip_continues():
    host = Host(kernel_version="7.3", aux_clocks=True)
    ns = host.create_namespace("a", update="periodic")
    ns.aux_clock_enable_write(1, "1")
    ns.clock_adjtime(AUX0 + 1, Timex(modes=ADJ_FREQUENCY, freq=65536 * 20))
    host.run_for(3 * S + 17)
    twin = Host.restore(host.checkpoint())
    for h in (host, twin):
        h.run_for(5 * S)
    a, b = host.namespaces["a"], twin.namespaces["a"]
    assert a.clock_gettime_ns(AUX0 + 1) == b.clock_gettime_ns(AUX0 + 1)
    assert a.aux[1].ntp.to_dict() == b.aux[1].ntp.to_dict()
