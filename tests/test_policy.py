"""Namespaces following leap policies through the 2016-12-31 leap second, side by side."""

from __future__ import annotations

import itertools

import pytest
from gmpy2 import mpq

from ntp import STA_INS, LeapTable, make_shape
from ntp.smear import SHAPES
from tk_core import CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_TAI, Clocksource, Host
from tk_core.policy import follow

NSEC = 1_000_000_000
LEAP = LeapTable.load().next_leap(1_480_000_000)  # 2017-01-01T00:00:00Z, +1
START = LEAP.unix - 25 * 3600  # 2016-12-30T23:00Z: before every window opens
END_S = 43 * 3600 + 1800  # to 2017-01-01T18:30Z: after every window has closed
# Tracking error bounds measured with a 16 s update interval (ns), with margin.
TRACKING_BOUND_NS = {
    "step": 2_000,
    "linear-24h": 1_000,
    "linear-20h": 1_000,
    "cosine": 1_000,
    "chrony-quadratic": 1_500,
    "chrony-slew": 1_000,
    "ntpd-slew": 1_000,
    "fbclock": 1_000,
    "utc-sls": 1_500,
}


@pytest.fixture(scope="module")
def leap_run():
    host = Host(
        clocksource=Clocksource(3_000_000_000, 64, error_ppm=7),
        hz=250,
        realtime_ns=START * NSEC,
        tai_offset=36,
    )
    followers = {
        name: follow(host.create_namespace(name), name, leap=LEAP, epoch_unix=START)
        for name in SHAPES
    }
    pitfall = follow(
        host.create_namespace("double"),
        "linear-24h",
        leap=LEAP,
        epoch_unix=START,
        apply_leap_too=True,
    )
    mono = {name: [] for name in followers}
    around = {}
    host.run_until((LEAP.unix - START - 2) * NSEC)
    for step in range(40):  # 23:59:58 .. 00:00:02 in 0.1 s steps
        host.run_until((LEAP.unix - START - 2) * NSEC + step * NSEC // 10)
        for name, f in followers.items():
            mono[name].append(f.ns.clock_gettime_ns(CLOCK_MONOTONIC))
            around.setdefault(name, []).append(f.ns.clock_gettime_ns(CLOCK_REALTIME))
    host.run_until(END_S * NSEC)
    return host, followers, pitfall, around


@pytest.mark.parametrize("name", [n for n in SHAPES if n != "windows"])
def test_each_policy_tracks_its_exact_timescale(leap_run, name):
    _, followers, _, _ = leap_run
    f = followers[name]
    assert f.max_tracking_error_ns() <= TRACKING_BOUND_NS[name]
    assert not f.warnings


def test_every_policy_ends_on_stepped_utc(leap_run):
    host, followers, _, _ = leap_run
    utc_now = (START + host.true_time - 1) * NSEC  # one leap second later than the true axis
    for name, f in followers.items():
        if name == "windows":
            continue
        assert abs(f.ns.clock_gettime_ns(CLOCK_REALTIME) - utc_now) < 2_000, name


def test_step_repeats_2359_59_and_keeps_tai_and_monotonic_continuous(leap_run):
    _host, followers, _, around = leap_run
    readings = around["step"]
    seconds = [r // NSEC - (LEAP.unix - 1) for r in readings]  # 0 means 23:59:59
    assert seconds.count(0) >= 19  # 23:59:59.x shown for about two seconds (it repeats)
    assert any(b < a for a, b in itertools.pairwise(readings))  # it stepped back
    ns = followers["step"].ns
    assert ns.timekeeper.tai_offset == 37
    assert ns.clock_gettime_ns(CLOCK_TAI) - ns.clock_gettime_ns(CLOCK_REALTIME) == 37 * NSEC


def test_smears_never_step_back(leap_run):
    _, _, _, around = leap_run
    for name, readings in around.items():
        if name in ("step", "fbclock"):
            continue
        assert all(b > a for a, b in itertools.pairwise(readings)), name


def test_windows_half_speed_cannot_be_done_through_adjtimex(leap_run):
    _, followers, _, _ = leap_run
    f = followers["windows"]
    assert f.clamped and "adjtimex reaches at most" in f.warnings[0]


def test_double_correction_is_detected_and_reproduced(leap_run):
    _host, _, pitfall, _ = leap_run
    assert any("double correction" in w for w in pitfall.warnings)
    # Smeared and stepped: a second off the smeared timescale until the discipline (here the
    # follower, at its next update) slews it back.
    worst = pitfall.max_tracking_error_ns(window_only=False)
    assert NSEC * 9 // 10 <= worst <= NSEC * 11 // 10
    assert not pitfall.ns.ntp.time_status & STA_INS  # cleared after the leap


def test_bad_policies_are_clear_errors():
    host = Host(realtime_ns=START * NSEC)
    ns = host.create_namespace("a")
    with pytest.raises(ValueError, match="unknown smear shape"):
        follow(ns, "sideways", leap=LEAP, epoch_unix=START)
    with pytest.raises(ValueError, match="update_interval_s"):
        follow(ns, "step", leap=LEAP, epoch_unix=START, update_interval_s=0)
    assert make_shape("cosine", window=3600).for_event(LEAP).duration == 3600
    assert mpq(LEAP.unix) == LEAP.unix


def test_namespace_follow_method_uses_the_hosts_epoch():
    host = Host(realtime_ns=(LEAP.unix - 600) * NSEC)
    ns = host.create_namespace("slewing")
    f = ns.follow("slew", leap=LEAP)
    host.run_for(640 * NSEC)  # 40 s past the leap: chrony's 12 s slew is done
    utc = (host.true_unix - 1) * NSEC
    assert abs(ns.clock_gettime_ns(CLOCK_REALTIME) - utc) < 2_000
    assert f.max_tracking_error_ns() < 1_000
