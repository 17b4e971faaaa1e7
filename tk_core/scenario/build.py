"""A resolved scenario → a Host with its namespaces, through the engine's public API only.

The parts the engine cannot run yet (smear policies, NTP client models) have their hooks
here, each in one function, so that wiring them in is a change of one place; the schema
already refuses them with "not available in this version" until then.
"""

from __future__ import annotations

from typing import Any

from gmpy2 import mpq

from ..clocksource import Clocksource
from ..host import Host
from ..namespace import Namespace, TimekeeperNamespace
from .checks import Resolved
from .schema import LeapPolicy, NamespaceSpec, NtpSpec
from .timescale import Timescale

NSEC = 1_000_000_000


def build_host(r: Resolved) -> Host:
    """The host described by `[host]`, seeded by `[scenario] seed`."""
    spec, run = r.scenario.host, r.scenario.scenario
    cs = spec.clocksource
    counter = Clocksource(
        cs.freq_hz,
        cs.bits,
        error_ppm=mpq(cs.error_ppm),
        wander_ppm=mpq(cs.wander_ppm),
        wander_interval_s=cs.wander_interval // 1_000_000_000,
        seed=run.seed,
        name=cs.name,
    )
    return Host(
        clocksource=counter,
        hz=spec.hz,
        realtime_ns=spec.start,
        monotonic_ns=spec.uptime,
        boottime_ns=spec.boottime,
        tai_offset=r.timescale.tai_offset if spec.tai_offset is None else spec.tai_offset,
        user_hz=spec.user_hz,
        kernel_version=spec.kernel_version,
        nohz=spec.nohz,
        wrap_guard=spec.wrap_guard,
        root_update=spec.root_update,
        lazy_error_bound_ns=spec.lazy_error_bound,
        irq_cost_ns=spec.irq_cost,
        expiry_cost_ns=spec.expiry_cost,
        fair_expiry=spec.fair_expiry,
    )


def create_namespace(
    host: Host,
    name: str,
    spec: NamespaceSpec,
    ts: Timescale,
    seed: int = 0,
    followers: dict[str, Any] | None = None,
) -> Namespace:
    """One namespace from its spec: model, update policy, dilation, offsets, policies."""
    if spec.model == "offsets":
        offsets = host.create_namespace(name, model="offsets")
        if spec.offsets is not None:
            offsets.set_offsets(
                monotonic_ns=spec.offsets.monotonic, boottime_ns=spec.offsets.boottime
            )
        return offsets
    ns = host.create_namespace(name, update=spec.update, dilation=mpq(spec.dilation))
    follower = follow_leap_policy(ns, spec.leap, ts)
    if follower is not None and followers is not None:
        followers[name] = follower
    start_discipline(ns, spec.ntp, ts, seed)
    return ns


def follow_leap_policy(ns: TimekeeperNamespace, policy: LeapPolicy, ts: Timescale) -> Any:
    """A smear: `tk_core.policy.follow` steers the namespace onto the smeared timescale.

    'step' needs nothing here (leap announcements or an NTP daemon set STA_INS/STA_DEL, as
    ntpd does) and 'ignore' means the namespace is never told.
    """
    if policy.policy != "smear":
        return None
    epoch = mpq(ts.start_utc_ns, NSEC)
    interval = policy.update_interval // NSEC
    method = getattr(ns, "follow", None)
    if method is not None:
        return method(
            policy.shape,
            epoch_unix=epoch,
            table=ts.table,
            update_interval_s=interval,
            **policy.shape_params(),
        )
    from ..policy import follow

    return follow(
        ns,
        policy.shape or "",
        epoch_unix=epoch,
        table=ts.table,
        update_interval_s=interval,
        **policy.shape_params(),
    )


def start_discipline(ns: Namespace, spec: NtpSpec, ts: Timescale, seed: int) -> None:
    """An NTP daemon in `ns` polling a reference server over a seeded network path."""
    if spec.model == "none":
        return
    from ntp import discipline
    from ntp.smear import make_shape

    from ..daemon import NtpDaemon

    start_s = ts.start_utc_ns // NSEC
    leap = ts.table.next_leap(start_s)
    smear = None
    if spec.server != "utc" and leap is not None:
        smear = make_shape(spec.server).for_event(leap)
    server = discipline.ReferenceServer(leap=leap, smear=smear)
    if spec.model == "chrony":
        client: discipline.NtpClient = discipline.ChronyClient(
            poll_exp=spec.poll_exp, leapsecmode=spec.leapsecmode,
            minpoll=spec.minpoll, maxpoll=spec.maxpoll,
        )
    else:
        client = discipline.NtpdClient(
            poll_exp=spec.poll_exp, slew_leap=spec.slew_leap,
            minpoll=spec.minpoll, maxpoll=spec.maxpoll,
        )
    p = spec.path
    path = discipline.PathModel(p.delay, p.jitter, p.asymmetry, mpq(p.loss))
    daemon = NtpDaemon(ns, client, server, path, seed=seed, epoch_unix=mpq(ts.start_utc_ns, NSEC))
    daemon.start()
