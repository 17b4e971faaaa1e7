"""Per-event rules: the namespace exists by then, modes and values agree, labels resolve.

Events are checked in time order, so a namespace restored at 2h can be steered at 3h but not
at 1h, and a restore can only name a checkpoint taken before it.
"""

from __future__ import annotations

from typing import Any, Protocol

from .events import (
    AdjtimexEvent,
    CheckpointEvent,
    EventBase,
    LeapAnnouncement,
    RestoreEvent,
    SettimeEvent,
)

#: adjtimex mode → the scenario fields it needs (any one of them).
MODE_FIELDS: dict[str, tuple[str, ...]] = {
    "ADJ_OFFSET": ("offset",),
    "ADJ_OFFSET_SINGLESHOT": ("offset",),
    "ADJ_FREQUENCY": ("freq_ppm", "freq"),
    "ADJ_STATUS": ("status",),
    "ADJ_TIMECONST": ("constant",),
    "ADJ_MAXERROR": ("maxerror_us",),
    "ADJ_ESTERROR": ("esterror_us",),
    "ADJ_TICK": ("tick",),
    "ADJ_TAI": ("tai",),
    "ADJ_SETOFFSET": ("setoffset",),
}


class Checker(Protocol):
    """What the event rules need from the checker: the scenario and a place for issues."""

    scn: Any

    def add(self, loc: tuple[str | int, ...], message: str) -> None: ...


def adjtimex_fields(ev: AdjtimexEvent) -> set[str]:
    """The value fields an adjtimex event gave."""
    return {
        name for fields in MODE_FIELDS.values() for name in fields if getattr(ev, name) is not None
    }


def check_event(
    checker: Checker,
    i: int,
    ev: EventBase,
    names: dict[str, str],
    checkpoints: dict[str, str | None],
) -> None:
    """Check one event against the namespaces and checkpoints that exist at its time."""
    target = getattr(ev, "namespace", None)
    if target is not None and target not in names:
        checker.add(
            ("events", i, "namespace"),
            f"no namespace named {target!r} at this time (known: {', '.join(sorted(names)[:8])})",
        )
    if isinstance(ev, AdjtimexEvent):
        _adjtimex(checker, i, ev)
    elif isinstance(ev, SettimeEvent) and (ev.to is None) == (ev.by is None):
        checker.add(
            ("events", i),
            "settime needs exactly one of 'to' (an ISO UTC date) or "
            "'by' (a signed step such as '-1s')",
        )
    elif isinstance(ev, LeapAnnouncement):
        _leap(checker, i, ev, names)
    elif isinstance(ev, CheckpointEvent):
        _checkpoint(checker, i, ev, checkpoints)
    elif isinstance(ev, RestoreEvent):
        _restore(checker, i, ev, names, checkpoints)


def _adjtimex(checker: Checker, i: int, ev: AdjtimexEvent) -> None:
    modes = set(ev.modes)
    given = adjtimex_fields(ev)
    needed = {f for m in modes for f in MODE_FIELDS.get(m, ())}
    for mode in sorted(modes):
        fields = MODE_FIELDS.get(mode, ())
        if fields and not given & set(fields):
            checker.add(
                ("events", i, "modes"),
                f"{mode} needs a value: add {' or '.join(repr(f) for f in fields)}",
            )
    for name in sorted(given - needed):
        mode = next(m for m, fs in MODE_FIELDS.items() if name in fs and "SINGLE" not in m)
        checker.add(("events", i, name), f"'{name}' is only sent with {mode}: add it to modes")
    if ev.freq is not None and ev.freq_ppm is not None:
        checker.add(("events", i, "freq"), "give 'freq' (kernel units) or 'freq_ppm', not both")
    if ev.tai is not None and ev.constant is not None and ev.tai != ev.constant:
        checker.add(
            ("events", i, "tai"),
            "the kernel reads ADJ_TAI and ADJ_TIMECONST from the "
            f"same 'constant' field: found tai = {ev.tai}, constant = {ev.constant}",
        )
    if "ADJ_OFFSET_SINGLESHOT" in modes and ev.offset is not None and ev.offset % 1000:
        checker.add(
            ("events", i, "offset"),
            f"adjtime (ADJ_OFFSET_SINGLESHOT) takes whole µs, found {ev.offset} ns",
        )
    nano = "ADJ_NANO" in modes
    for name in ("offset", "setoffset"):
        value = getattr(ev, name)
        if value is not None and value % 1000 and not nano:
            checker.add(
                ("events", i, name),
                f"{value} ns is not a whole number of µs: add "
                "'ADJ_NANO' to modes to send nanoseconds",
            )


def _leap(checker: Checker, i: int, ev: LeapAnnouncement, names: dict[str, str]) -> None:
    specs = {n: s for s in checker.scn.namespaces for n in s.names()}
    for j, name in enumerate(ev.namespaces or []):
        if name not in names:
            checker.add(("events", i, "namespaces", j), f"no namespace named {name!r}")
        elif names[name] != "timekeeper":
            checker.add(
                ("events", i, "namespaces", j),
                f"{name!r} is an offsets namespace: it "
                "uses the host's leap handling, announce to 'root' instead",
            )
        elif name in specs and specs[name].leap.policy == "ignore":
            checker.add(
                ("events", i, "namespaces", j),
                f"{name!r} has leap policy 'ignore': an announcement to it would do nothing",
            )


def _checkpoint(
    checker: Checker, i: int, ev: CheckpointEvent, checkpoints: dict[str, str | None]
) -> None:
    if ev.label in checkpoints:
        checker.add(("events", i, "label"), f"checkpoint label {ev.label!r} is used twice")
    checkpoints[ev.label] = ev.namespace


def _restore(
    checker: Checker,
    i: int,
    ev: RestoreEvent,
    names: dict[str, str],
    checkpoints: dict[str, str | None],
) -> None:
    if ev.checkpoint not in checkpoints:
        known = ", ".join(sorted(checkpoints)) or "none yet"
        checker.add(
            ("events", i, "checkpoint"),
            f"no checkpoint labelled {ev.checkpoint!r} before this event (taken so far: {known})",
        )
        return
    source = checkpoints[ev.checkpoint]
    if source is None:
        checker.add(
            ("events", i, "checkpoint"),
            f"{ev.checkpoint!r} is a whole-host checkpoint;"
            " restore takes a namespace checkpoint (give the checkpoint a 'namespace')",
        )
        return
    if ev.name in names:
        checker.add(("events", i, "name"), f"namespace {ev.name!r} already exists")
        return
    names[ev.name] = names.get(source, "timekeeper")
