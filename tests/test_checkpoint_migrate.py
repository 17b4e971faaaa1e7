"""Migrate and continue: dump a busy host mid-run, restore it in a fresh one, run on.

The host has POSIX timers on several clocks (one periodic, overrunning), a timerfd, a sleep,
a namespace following a leap smear (checkpointed inside the smear window) and NTP clients
polling over a lossy, jittery path.  Restored from the checkpoint text, it must fire the same
timers at the same true times with the same overruns, and the follower and the clients must
follow the same trajectory as the run that was never interrupted.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from gmpy2 import mpq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ntp.discipline import ChronyClient, NtpdClient, PathModel, ReferenceServer
from ntp.leap import LeapTable
from tk_core import Clocksource, Host
from tk_core.checkpoint import checkpoint_host, dumps, loads, register_callback, restore_host
from tk_core.clockids import CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_TAI
from tk_core.daemon import NtpDaemon

NS = 10**9
LEAP = 1_483_228_800  # 2017-01-01T00:00:00Z: 2016-12-31 ends with 23:59:60
START = LEAP - 1200
FIRED: dict[int, list[tuple[Any, ...]]] = defaultdict(list)


def _fired(timer: Any, overrun: int) -> None:
    FIRED[id(timer.ns.host)].append((timer.ns.name, timer.clockid, str(timer.ns.host.true_time),
                                     overrun))


register_callback("migrate.fired", _fired)


def build(seed: int, policy: str, chrony_mode: str) -> Host:
    cs = Clocksource(2_000_000_000, error_ppm=9, seed=seed)
    host = Host(clocksource=cs, hz=250, realtime_ns=START * NS, irq_cost_ns=1500)
    leap = LeapTable.load().next_leap(START)
    smear = host.create_namespace("smear")
    smear.follow(policy, epoch_unix=START, update_interval_s=16)
    chrony = host.create_namespace("chrony")
    NtpDaemon(chrony, ChronyClient(poll_exp=4, leapsecmode=chrony_mode, minpoll=4, maxpoll=8),
              ReferenceServer(leap=leap), PathModel(jitter_ns=400_000, loss=mpq(1, 8)),
              seed=seed).start()
    ntpd = host.create_namespace("ntpd")
    NtpDaemon(ntpd, NtpdClient(poll_exp=5, minpoll=4, maxpoll=9), ReferenceServer(leap=leap),
              seed=seed + 1).start()
    off = host.create_namespace("off", model="offsets")
    off.set_offsets(monotonic_ns=100 * NS)
    off.spawn()
    _arm_timers(host)
    return host


def _arm_timers(host: Host) -> None:
    smear, chrony, off = (host.namespaces[n] for n in ("smear", "chrony", "off"))
    smear.timer_create(CLOCK_REALTIME, _fired).settime((LEAP - 1) * NS, NS, absolute=True)
    smear.timer_create(CLOCK_TAI, _fired).settime(7 * NS, 13 * NS)
    chrony.timer_create(CLOCK_MONOTONIC, _fired).settime(1, 3 * NS + 1)
    off.timer_create(CLOCK_BOOTTIME, _fired).settime(110 * NS, 5 * NS, absolute=True)
    fd = host.root.timerfd_create(CLOCK_REALTIME)
    fd.settime((LEAP + 5) * NS, 2 * NS, absolute=True, cancel_on_set=True)
    host.root.clock_nanosleep(CLOCK_MONOTONIC, 1500 * NS)


def trajectory(host: Host) -> dict[str, Any]:
    """What the run did: follower tracking and frequencies, client samples and frequency."""
    out: dict[str, Any] = {}
    for ns in host.namespaces.values():
        for agent in ns.agents:
            if isinstance(agent, NtpDaemon):
                c = agent.client
                out[ns.name] = ([(s.local_ns, str(s.offset_ns)) for s in c.samples],
                                agent.polls, agent.lost, str(getattr(c, "freq", "")))
            else:
                out[ns.name] = ([(str(t), str(e)) for t, e in agent.tracking],
                                [(str(t), str(f)) for t, f in agent.freq_set])
        out[ns.name + ".timers"] = {k: _handle(h) for k, h in ns.timer_handles.items()}
    return out


def _handle(h: Any) -> tuple[Any, ...]:
    if hasattr(h, "fires"):
        return ("posix", h.fires, h.overrun, h.gettime() if not h.deleted else None)
    if hasattr(h, "ticks"):
        return ("timerfd", h.ticks, h.gettime())
    return ("sleep", h.done, h.woke_ns)


def migrate(seed: int, policy: str, chrony_mode: str, cut_ns: int, total_ns: int) -> None:
    straight, moved = build(seed, policy, chrony_mode), build(seed, policy, chrony_mode)
    FIRED[id(straight)].clear()
    # run_until, not run_for: with interrupt costs a run may end past its target, and a
    # relative second run would then aim past where the straight run stops
    straight.run_until(total_ns)
    moved.run_until(cut_ns)
    before = FIRED.pop(id(moved), [])
    fresh = restore_host(loads(dumps(checkpoint_host(moved))))
    FIRED[id(fresh)].clear()
    fresh.run_until(total_ns)
    assert before + FIRED.pop(id(fresh)) == FIRED.pop(id(straight))
    assert trajectory(fresh) == trajectory(straight)
    assert dumps(checkpoint_host(fresh)) == dumps(checkpoint_host(straight))


def test_a_busy_host_migrated_mid_smear_continues_as_if_never_stopped() -> None:
    """Dumped 15 min in: mid-smear (UTC-SLS's last 1000 s), the chrony slew yet to come."""
    migrate(3, "utc-sls", "slew", 900 * NS + 123_456, 1500 * NS)
    host = build(3, "utc-sls", "slew")
    host.run_for(900 * NS)
    follower = host.namespaces["smear"].agents[0]
    lo, hi = follower.bound.window()
    assert lo < follower.true_unix() < hi  # really in mid-smear at the dump


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    policy=st.sampled_from(["utc-sls", "linear-24h", "cosine", "step", "chrony-slew"]),
    chrony_mode=st.sampled_from(["system", "step", "slew"]),
    cut_ns=st.integers(1, 1400 * NS),
)
def test_migrate_and_continue_at_any_instant(
    seed: int, policy: str, chrony_mode: str, cut_ns: int
) -> None:
    migrate(seed, policy, chrony_mode, cut_ns, 1400 * NS)
