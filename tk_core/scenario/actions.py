"""Timed events → engine calls: adjtimex, settime, suspend, leap announcements, CRIU steps.

Each handler turns one validated event into the system calls a daemon or a user would make,
in the kernel's own units (µs or ns per STA_NANO, scaled ppm), so a scenario exercises the
same paths a real program would.  An engine error the scenario did not `expect` becomes a
run failure with the event named; the run goes on so its outputs can show what happened.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

from ntp import timex
from ntp.timex import ADJ_NANO, ADJ_SETOFFSET, ADJ_STATUS, STA_DEL, STA_INS, STA_NANO, Timex

from .. import checkpoint
from ..clockids import CLOCK_REALTIME
from ..host import Host
from ..namespace import Namespace, TimekeeperNamespace
from .checks import leap_day_start_ns
from .events import (
    AdjtimexEvent,
    CheckpointEvent,
    EventBase,
    LeapAnnouncement,
    RestoreEvent,
    SetoffsetEvent,
    SettimeEvent,
    SuspendEvent,
)
from .recorder import Recorder
from .timescale import Timescale
from .types import ADJ_MODES, STA_BITS
from .units import NSEC


class Run(Protocol):
    """What handlers need from the runner."""

    host: Host
    ts: Timescale
    recorder: Recorder
    checkpoints: dict[str, dict[str, Any]]
    failures: list[str]
    leap_policies: dict[str, str]

    def schedule(self, true_ns: int, label: str, action: Callable[[], None]) -> None: ...

    def add_namespace(self, ns: Namespace, record: bool, group: str | None = None) -> None: ...


def describe(ev: EventBase, index: int) -> str:
    target = getattr(ev, "namespace", None)
    where = f" on {target!r}" if target else ""
    return f"events[{index}] ({ev.action}{where} at {_at(ev)})"  # type: ignore[attr-defined]


def _at(ev: EventBase) -> str:
    from .types import format_at

    return format_at(ev.at)


def apply(run: Run, ev: EventBase, index: int) -> None:
    """Apply one event now; unexpected kernel errors become run failures."""
    handler = _HANDLERS[type(ev)]
    expect = getattr(ev, "expect", "ok")
    try:
        handler(run, ev)
    except OSError as err:
        name = errno.errorcode.get(err.errno or 0, str(err.errno))
        if name != expect:
            detail = str(err.strerror or err)
            detail = detail if detail.startswith(name) else f"{name}: {detail}"
            run.failures.append(f"{describe(ev, index)}: {detail}")
        return
    if expect != "ok":
        run.failures.append(f"{describe(ev, index)}: expected {expect}, but the call succeeded")


def build_timex(ev: AdjtimexEvent, ns: Namespace) -> Timex:
    """The struct timex for an adjtimex event, in the units the kernel will read."""
    modes = 0
    for name in ev.modes:
        modes |= ADJ_MODES[name]
    ntp = ns.ntp if isinstance(ns, TimekeeperNamespace) else ns.host.root.ntp
    nano = bool(modes & ADJ_NANO) or (
        bool(ntp.time_status & STA_NANO) and not modes & timex.ADJ_MICRO
    )
    tx = Timex(modes=modes)
    if ev.offset is not None:
        single = "ADJ_OFFSET_SINGLESHOT" in ev.modes
        tx.offset = ev.offset if nano and not single else ev.offset // 1000
    if ev.freq is not None:
        tx.freq = ev.freq
    elif ev.freq_ppm is not None:
        tx.freq = round(ev.freq_ppm * 65536)
    if ev.status is not None:
        tx.status = _bits(ev.status)
    for field, value in (
        ("constant", ev.constant),
        ("constant", ev.tai),
        ("tick", ev.tick),
        ("maxerror", ev.maxerror_us),
        ("esterror", ev.esterror_us),
    ):
        if value is not None:
            setattr(tx, field, value)
    if ev.setoffset is not None:
        sec, frac = divmod(ev.setoffset, NSEC)
        tx.time = (sec, frac if modes & ADJ_NANO else frac // 1000)
    return tx


def _bits(names: list[str]) -> int:
    out = 0
    for name in names:
        out |= STA_BITS[name]
    return out


def _target(run: Run, ev: AdjtimexEvent | SettimeEvent | SetoffsetEvent) -> Namespace:
    """The one namespace a resolved event acts on (the checker expanded any list)."""
    if not isinstance(ev.namespace, str):
        raise TypeError(f"event names several namespaces, expected one: {ev.namespace}")
    return run.host.namespaces[ev.namespace]


def _adjtimex(run: Run, ev: AdjtimexEvent) -> None:
    ns = _target(run, ev)
    ns.adjtimex(build_timex(ev, ns))


def _settime(run: Run, ev: SettimeEvent) -> None:
    ns = _target(run, ev)
    value = ev.to if ev.to is not None else ns.clock_gettime_ns(CLOCK_REALTIME) + (ev.by or 0)
    ns.clock_settime_ns(CLOCK_REALTIME, value)


def _setoffset(run: Run, ev: SetoffsetEvent) -> None:
    sec, nsec = divmod(ev.by, NSEC)
    _target(run, ev).adjtimex(
        Timex(modes=ADJ_SETOFFSET | ADJ_NANO, time=(sec, nsec))
    )


def _suspend(run: Run, ev: SuspendEvent) -> None:
    run.host.suspend_for(ev.duration)
    run.recorder.forget_rates()


def announce_leap(run: Run, ev: LeapAnnouncement) -> None:
    """ntpd's part of a step leap: STA_INS/STA_DEL on the leap day, cleared after the leap."""
    table_sign = {e.day: e.sign for e in run.ts.table.events}.get(ev.date, 1)
    bit = STA_INS if (ev.sign or table_sign) > 0 else STA_DEL
    day_start = run.ts.true_of_utc(leap_day_start_ns(ev.date))
    leap_at = run.ts.true_of_utc(leap_day_start_ns(ev.date + timedelta(days=1)))
    targets = ev.namespaces or [n for n, p in run.leap_policies.items() if p == "step"]
    now = run.host.true_ns
    for name in targets:
        ns = run.host.namespaces[name]
        arm = max(now, day_start + NSEC)
        run.schedule(arm, f"leap: set {bit:#x} on {name}", _status_action(ns, bit, True))
        run.schedule(leap_at + NSEC, f"leap: clear on {name}", _status_action(ns, bit, False))


def _status_action(ns: Namespace, bit: int, on: bool) -> Callable[[], None]:
    """A scheduled action bound to this namespace (not to the loop variable)."""
    return lambda: _status(ns, bit, on)


def _status(ns: Namespace, bit: int, on: bool) -> None:
    tx = Timex()
    ns.adjtimex(tx)
    status = tx.status | bit if on else tx.status & ~bit
    ns.adjtimex(Timex(modes=ADJ_STATUS, status=status))


def _checkpoint(run: Run, ev: CheckpointEvent) -> None:
    if ev.namespace is None:
        doc = checkpoint.checkpoint_host(run.host)
    else:
        doc = checkpoint.checkpoint_namespace(run.host.namespaces[ev.namespace])
    run.checkpoints[ev.label] = doc


def _restore(run: Run, ev: RestoreEvent) -> None:
    text = checkpoint.dumps(run.checkpoints[ev.checkpoint])  # through the file format
    doc = checkpoint.loads(text, f"checkpoint {ev.checkpoint!r}")
    ns = checkpoint.restore_namespace(run.host, doc, ev.name, ev.mode)
    run.add_namespace(ns, True)


_HANDLERS: dict[type, Callable[[Run, Any], None]] = {
    AdjtimexEvent: _adjtimex,
    SettimeEvent: _settime,
    SetoffsetEvent: _setoffset,
    SuspendEvent: _suspend,
    LeapAnnouncement: announce_leap,
    CheckpointEvent: _checkpoint,
    RestoreEvent: _restore,
}
