"""Namespaces of both models: creation, offsets, /proc/PID/timens_offsets, tasks, dilation."""

from __future__ import annotations

import errno

import pytest
from gmpy2 import mpq

from ntp import ADJ_FREQUENCY, Timex
from tk_core import (
    CLOCK_BOOTTIME,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_COARSE,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME,
    CLOCK_REALTIME_COARSE,
    CLOCK_TAI,
    Host,
)

NSEC = 1_000_000_000
DAY = 86_400 * NSEC
FINE = (CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI, CLOCK_MONOTONIC_RAW)


def host() -> Host:
    return Host(realtime_ns=1_483_228_790 * NSEC, monotonic_ns=3600 * NSEC, tai_offset=36)


def test_timekeeper_namespace_starts_as_a_copy_then_evolves_alone():
    h = host()
    h.run_for(1_234_567_891)
    a = h.create_namespace("a")
    assert [a.clock_gettime_ns(c) for c in FINE] == [h.root.clock_gettime_ns(c) for c in FINE]
    a.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=100 << 16))
    h.run_for(100 * NSEC)
    diff = a.clock_gettime_ns(CLOCK_MONOTONIC) - h.root.clock_gettime_ns(CLOCK_MONOTONIC)
    assert diff == pytest.approx(100 * NSEC * 100 // 10**6, rel=1e-3)  # 100 ppm of 100 s


def test_different_ntp_frequencies_give_seconds_in_the_ratio_of_their_mults():
    h = Host()
    a = h.create_namespace("a", update="periodic")
    b = h.create_namespace("b", update="periodic")
    a.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=-200 << 16))
    b.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=300 << 16))
    a0, b0, t0 = (
        a.clock_gettime_ns(CLOCK_MONOTONIC),
        b.clock_gettime_ns(CLOCK_MONOTONIC),
        h.true_time,
    )
    h.run_for(20 * NSEC)
    da = a.clock_gettime_ns(CLOCK_MONOTONIC) - a0
    db = b.clock_gettime_ns(CLOCK_MONOTONIC) - b0
    elapsed = (h.true_time - t0) * NSEC
    # Each true second is about (1 + f) namespace seconds, f its NTP frequency (the rest is
    # the registered mult's own quantisation, -0.06 ppm for this TSC) ...
    assert mpq(da) / elapsed == pytest.approx(1 - 200e-6, abs=1e-7)
    assert mpq(db) / elapsed == pytest.approx(1 + 300e-6, abs=1e-7)
    # ... and exactly the rate the dithered mult averages to: m* = (ntp tick - remainder) / ci.
    ta, tb = a.timekeeper, b.timekeeper
    ideal_a = mpq(
        (ta.ntp.tick_length >> ta.ntp_error_shift) - ta.xtime_remainder, ta.cycle_interval
    )
    ideal_b = mpq(
        (tb.ntp.tick_length >> tb.ntp_error_shift) - tb.xtime_remainder, tb.cycle_interval
    )
    per_true_ns = mpq(3, 1 << 24)  # 3 cycles per true ns, mult in units of 2^-24 ns
    assert mpq(da) / elapsed == pytest.approx(ideal_a * per_true_ns, abs=1e-10)
    assert mpq(db) / elapsed == pytest.approx(ideal_b * per_true_ns, abs=1e-10)
    assert mpq(db, da) == pytest.approx(ideal_b / ideal_a, abs=1e-10)
    assert ta.mult in (int(ideal_a), int(ideal_a) + 1) and tb.mult in (
        int(ideal_b),
        int(ideal_b) + 1,
    )


def test_dilation_makes_seconds_longer():
    h = Host()
    slow = h.create_namespace("slow", dilation=4)
    h.run_for(8 * NSEC)
    assert slow.clock_gettime_ns(CLOCK_MONOTONIC) == pytest.approx(2 * NSEC, rel=1e-6)
    assert slow.clock_gettime_ns(CLOCK_MONOTONIC_RAW) == pytest.approx(2 * NSEC, rel=1e-6)
    with pytest.raises(ValueError, match="dilation"):
        h.create_namespace("bad", dilation=0)


def test_offsets_namespace_shares_realtime_and_shifts_monotonic_and_boottime():
    h = host()
    c = h.create_namespace("c", model="offsets")
    c.set_offsets(monotonic_ns=10 * DAY, boottime_ns=-3600 * NSEC + 5)
    h.run_for(NSEC)
    r = h.root
    for clock in (CLOCK_REALTIME, CLOCK_TAI, CLOCK_REALTIME_COARSE):
        assert c.clock_gettime_ns(clock) == r.clock_gettime_ns(clock)
    for clock in (CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_COARSE):
        assert c.clock_gettime_ns(clock) == r.clock_gettime_ns(clock) + 10 * DAY
    assert (
        c.clock_gettime_ns(CLOCK_BOOTTIME) == r.clock_gettime_ns(CLOCK_BOOTTIME) - 3600 * NSEC + 5
    )


def test_offsets_freeze_when_a_task_enters():
    c = host().create_namespace("c", model="offsets")
    c.set_offsets(monotonic_ns=NSEC)
    c.spawn()
    with pytest.raises(OSError) as exc:
        c.set_offsets(monotonic_ns=2 * NSEC)
    assert exc.value.errno == errno.EACCES
    assert c.monotonic_offset == NSEC


def test_offset_range_errors_come_before_the_frozen_check():
    h = host()
    c = h.create_namespace("c", model="offsets")
    c.spawn()
    for value in (-7200 * NSEC, 4_611_686_018 * NSEC):  # clock would go < 0 / > KTIME_SEC_MAX/2
        with pytest.raises(OSError) as exc:
            c.set_offsets(monotonic_ns=value)
        assert exc.value.errno == errno.ERANGE


def test_timens_offsets_text_interface_matches_linux():
    c = host().create_namespace("c", model="offsets")
    assert c.timens_offsets_write("monotonic 864000 0") == len("monotonic 864000 0")
    assert c.timens_offsets_write("7 777600 5\n") == len("7 777600 5\n")
    assert (
        c.timens_offsets_read()
        == "monotonic      864000         0\nboottime       777600         5\n"
    )
    text = "1 10 0\n7 20 0\nboottime 30 0\n"
    assert c.timens_offsets_write(text) == len("1 10 0\n7 20 0\n")  # third entry not consumed
    assert (c.monotonic_offset, c.boottime_offset) == (10 * NSEC, 20 * NSEC)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "monotonic 1",
        "realtime 5 0",
        "01 5 0",
        "monotonic 5 1000000000",
        "monotonic 5 -1",
        "1 5 0\n\n7 5 0",
        "monotonic x 0",
    ],
)
def test_timens_offsets_bad_input_is_einval_and_changes_nothing(text):
    c = host().create_namespace("c", model="offsets")
    with pytest.raises(OSError) as exc:
        c.timens_offsets_write(text)
    assert exc.value.errno == errno.EINVAL
    assert (c.monotonic_offset, c.boottime_offset) == (0, 0)


def test_timens_offsets_one_bad_entry_applies_none():
    c = host().create_namespace("c", model="offsets")
    with pytest.raises(OSError) as exc:
        c.timens_offsets_write("1 100 0\n7 -999999 0")
    assert exc.value.errno == errno.ERANGE
    assert c.monotonic_offset == 0


def test_tasks_need_cap_sys_time_and_offsets_need_it_over_the_host():
    h = host()
    a = h.create_namespace("a")
    plain, admin = a.spawn(), a.spawn({"CAP_SYS_TIME"})
    for call in (
        lambda t: t.clock_settime_ns(CLOCK_REALTIME, 2 * 10**18),
        lambda t: t.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=1)),
    ):
        with pytest.raises(OSError) as exc:
            call(plain)
        assert exc.value.errno == errno.EPERM
        call(admin)
    assert plain.adjtimex(Timex()) >= 0  # modes=0 is a read: always allowed
    c = h.create_namespace("c", model="offsets")
    local, hostwide = c.spawn({"CAP_SYS_TIME"}), c.spawn({"CAP_SYS_TIME:host"})
    with pytest.raises(OSError) as exc:
        local.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=1))
    assert exc.value.errno == errno.EPERM
    with pytest.raises(OSError):
        c.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=1))  # the namespace-local owner: EPERM
    hostwide.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=7 << 16))
    assert h.root.ntp.time_freq != 0  # it steered the host


def test_bad_clock_ids_and_types():
    a = host().create_namespace("a")
    for clock in (3, 10, 12, -1, 99):
        with pytest.raises(OSError) as exc:
            a.clock_gettime_ns(clock)
        assert exc.value.errno == errno.EINVAL
    with pytest.raises(OSError) as exc:
        a.clock_settime_ns(CLOCK_MONOTONIC, 10 * NSEC)
    assert exc.value.errno == errno.EINVAL
    with pytest.raises(TypeError):
        a.clock_settime_ns(CLOCK_REALTIME, 1.5)
    with pytest.raises(ValueError, match="already exists"):
        a.host.create_namespace("a")
    with pytest.raises(ValueError, match="model"):
        a.host.create_namespace("z", model="vm")
