"""Timekeeper arithmetic against kernel/time/timekeeping.c (TSC 3 GHz, HZ=1000 unless noted)."""

from __future__ import annotations

import errno

import pytest

from ntp import ADJ_FREQUENCY, ADJ_SETOFFSET, ADJ_TICK, STA_UNSYNC, Timex
from tk_core import (
    CLOCK_BOOTTIME,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME,
    CLOCK_TAI,
    Host,
)

NSEC = 1_000_000_000
START = 1_483_228_790 * NSEC


def test_setup_internals_match_the_computed_values():
    tk = Host().root.timekeeper
    assert tk.cycle_interval == 3_000_000
    assert tk.xtime_interval == 16_777_215_000_000
    assert tk.xtime_remainder == 1_000_000
    assert tk.ntp_error_shift == 8
    assert tk.ntp_tick == 4_294_967_296_000_000
    assert tk.raw_interval == tk.xtime_interval


@pytest.mark.parametrize(
    "freq_ppm, mult",
    [(0, 5592405), (1, 5592410), (100, 5592964), (500, 5595201), (-500, 5589608)],
)
def test_mult_follows_ntp_frequency_at_once(freq_ppm, mult):
    ns = Host().create_namespace("a", update="periodic")
    ns.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=freq_ppm << 16))
    tk = ns.timekeeper
    assert tk.mult - tk.ntp_err_mult == mult


@pytest.mark.parametrize("tick, mult", [(9000, 5033164), (11000, 6151645)])
def test_mult_follows_tick(tick, mult):
    ns = Host().create_namespace("a")
    ns.adjtimex(Timex(modes=ADJ_TICK, tick=tick))
    assert ns.timekeeper.mult - ns.timekeeper.ntp_err_mult == mult


def test_reads_are_continuous_across_a_mult_change():
    host = Host(realtime_ns=START)
    ns = host.create_namespace("a", update="periodic")
    host.run_for(1_234_567)
    before = ns.clock_gettime_ns(CLOCK_MONOTONIC)
    ns.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=500 << 16))
    after = ns.clock_gettime_ns(CLOCK_MONOTONIC)
    assert 0 <= after - before <= 1  # xtime_nsec compensation keeps "now" where it was


def test_settime_validation_and_effects():
    host = Host(realtime_ns=START, monotonic_ns=100 * NSEC)
    ns = host.create_namespace("a")
    host.run_for(NSEC)
    snap = ns.timekeeper.snapshot()
    for bad in (-1, 8_277_292_036 * NSEC, 50 * NSEC):  # negative, too far, below MONOTONIC
        with pytest.raises(OSError) as exc:
            ns.clock_settime_ns(CLOCK_REALTIME, bad)
        assert exc.value.errno == errno.EINVAL
        assert ns.timekeeper.snapshot() == snap  # a failed call changes nothing
    mono = ns.clock_gettime_ns(CLOCK_MONOTONIC)
    ns.clock_settime_ns(CLOCK_REALTIME, 2_000_000_000 * NSEC)
    assert ns.clock_gettime_ns(CLOCK_REALTIME) == 2_000_000_000 * NSEC
    assert ns.clock_gettime_ns(CLOCK_MONOTONIC) - mono in (0, 1)
    assert ns.clock_gettime_ns(CLOCK_TAI) == 2_000_000_000 * NSEC  # tai_offset 0
    assert ns.ntp.time_status & STA_UNSYNC  # TK_CLEAR_NTP
    assert host.root.clock_gettime_ns(CLOCK_REALTIME) < START + 2 * NSEC  # others untouched


def test_settime_to_exactly_monotonic_is_allowed():
    host = Host(realtime_ns=START, monotonic_ns=100 * NSEC)
    ns = host.create_namespace("a")
    ns.clock_settime_ns(CLOCK_REALTIME, ns.clock_gettime_ns(CLOCK_MONOTONIC))
    assert ns.timekeeper.wall_to_monotonic_ns == 0


def test_setoffset_steps_realtime_only():
    host = Host(realtime_ns=START)
    ns = host.create_namespace("a")
    r, m = ns.clock_gettime_ns(CLOCK_REALTIME), ns.clock_gettime_ns(CLOCK_MONOTONIC)
    ns.adjtimex(Timex(modes=ADJ_SETOFFSET, time=(-3, 500_000)))  # -2.5 s in µs mode
    assert ns.clock_gettime_ns(CLOCK_REALTIME) - r == -2_500_000_000
    assert ns.clock_gettime_ns(CLOCK_MONOTONIC) == m


def test_suspend_advances_boottime_but_not_monotonic():
    host = Host(realtime_ns=START)
    ns = host.create_namespace("a", update="periodic")
    host.run_for(NSEC)
    read = {
        c: ns.clock_gettime_ns(c)
        for c in (CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME, CLOCK_MONOTONIC_RAW)
    }
    host.suspend_for(3600 * NSEC)
    tk = ns.timekeeper
    slept = ((3600 * 3_000_000_000) * tk.clock_mult) >> tk.shift
    assert ns.clock_gettime_ns(CLOCK_BOOTTIME) - read[CLOCK_BOOTTIME] - slept in (0, 1)
    assert ns.clock_gettime_ns(CLOCK_REALTIME) - read[CLOCK_REALTIME] - slept in (0, 1)
    assert ns.clock_gettime_ns(CLOCK_MONOTONIC) - read[CLOCK_MONOTONIC] in (0, 1)
    assert ns.clock_gettime_ns(CLOCK_MONOTONIC_RAW) - read[CLOCK_MONOTONIC_RAW] in (0, 1)
    host.run_for(NSEC)
    assert ns.clock_gettime_ns(CLOCK_MONOTONIC) - read[CLOCK_MONOTONIC] == pytest.approx(
        NSEC, abs=1000
    )


def test_negative_xtime_nsec_is_folded_into_the_previous_second():
    # Steering down right after a second boundary can push xtime_nsec below zero; the kernel
    # borrows a second and skips that second's NTP hook (skip_second_overflow).
    host = Host(realtime_ns=START)
    ns = host.create_namespace("a", update="periodic")
    tk = ns.timekeeper
    tk.xtime_nsec = 5  # just past a second boundary, in shifted ns
    sec = tk.xtime_sec
    tk.timekeeping_apply_adjustment(1000, 1)
    assert tk.xtime_nsec < 0
    tk.timekeeping_adjust(0)
    assert tk.xtime_nsec >= 0 and tk.xtime_sec == sec - 1 and tk.skip_second_overflow == 1


@pytest.mark.parametrize("version, clears", [(None, False), ("6.1", True)])
def test_failed_setoffset_error_path_per_version(version, clears):
    # Before 6.13 the inject error path still ran TK_CLEAR_NTP | TK_CLOCK_WAS_SET and the
    # kernel called clock_was_set; since 6.13 the shadow timekeeper is restored: no change.
    host = Host(realtime_ns=START, monotonic_ns=100 * NSEC, kernel_version=version)
    ns = host.create_namespace("a", update="periodic")
    ns.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=10 << 16))
    ns.adjtimex(Timex(modes=0x10, status=0))  # ADJ_STATUS: clear STA_UNSYNC
    before = host.stats.clock_was_set
    with pytest.raises(OSError):
        ns.adjtimex(Timex(modes=ADJ_SETOFFSET, time=(-2_000_000_000, 0)))  # below MONOTONIC
    assert bool(ns.ntp.time_status & STA_UNSYNC) is clears
    assert (host.stats.clock_was_set - before == 1) is clears
    assert ns.ntp.time_freq != 0  # ntp_clear keeps the frequency in both
