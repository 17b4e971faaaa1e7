"""Timed events: what happens to which namespace, and when (the [[events]] tables).

Each event kind is its own model, chosen by its `action` key, so a misspelt field is named
against the right kind ("adjtimex has no key 'modez'") and the errors stay readable.  `at` is
either an offset from the start ('12h') or an ISO UTC instant; the runner turns both into
exact true time with the leap table.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from .types import (
    NAME_PATTERN,
    S64_MAX,
    S64_MIN,
    AdjMode,
    Day,
    Duration,
    Exact,
    Kind,
    PositiveDuration,
    StaBit,
    Strict,
    Utc,
    When,
    fail,
    s64,
)

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
#: A namespace an event names: a name, or `NAME-*` for every copy of a `count = N` entry.
TARGET_PATTERN = NAME_PATTERN.removesuffix("$") + r"(-\*)?$"
TargetName = Annotated[
    str,
    Field(pattern=TARGET_PATTERN),
    Kind("namespace name", "a namespace's name, or `NAME-*` for every copy of a `count = N` "
         "entry (NAME-0 … NAME-(N-1))"),
]


def _distinct(names: list[str]) -> list[str]:
    if not names:
        raise fail("expected at least one namespace name, found an empty list")
    return _unique(names)


def _unique(names: list[str]) -> list[str]:
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise fail(f"expected each namespace once, found {', '.join(map(repr, twice))} twice")
    return names


#: One namespace, or several: the event happens in each, at the same instant, in list order.
Targets = TargetName | Annotated[list[TargetName], AfterValidator(_distinct)]
_TARGET = (
    "The namespace it acts on ('root': the host's; for count > 1 one of the expanded names "
    "NAME-0 … NAME-(count-1)), or a list of them (the event happens in each, in list order); "
    "NAME-* stands for every copy of NAME."
)
ERRNO_NAMES = ("EINVAL", "EPERM", "EACCES", "ERANGE")


def _freq_ppm_fits(value: Fraction | None) -> Fraction | None:
    """freq_ppm is sent as `freq` in 2^-16 ppm units, a `long` (s64) of struct timex."""
    if value is not None and not S64_MIN <= round(value * 65536) <= S64_MAX:
        raise fail(
            f"expected freq_ppm within ±{S64_MAX // 65536} (sent as freq in 1/65536 ppm, "
            f"the kernel's s64), found {value}"
        )
    return value


class EventBase(Strict):
    """What every event has: when, and an optional note carried into the trace."""

    at: When = Field(description="When it happens: an offset from the start or an ISO UTC instant.")
    note: str = Field("", description="Free text carried into the trace.")


class AdjtimexEvent(EventBase):
    """`adjtimex(2)` on a namespace, with named modes and values in their natural units.

    `offset` and `setoffset` are durations (sent in ns when ADJ_NANO or STA_NANO applies,
    else in whole µs); `freq_ppm` is exact ppm, rounded to the kernel's 1/65536 ppm unit
    (`freq` gives that unit directly); `tai` is sent as the ADJ_TAI `constant`.
    """

    action: Literal["adjtimex"] = Field(description="Selects this kind of event.")
    namespace: Targets = Field("root", description=_TARGET)
    modes: list[AdjMode] = Field(
        min_length=1, description="The modes bits to set, by name (ADJ_OFFSET, ADJ_STATUS …)."
    )
    offset: Duration | None = Field(
        None, description="ADJ_OFFSET: the offset (ns with ADJ_NANO/STA_NANO, else whole µs)."
    )
    freq_ppm: Annotated[Exact | None, AfterValidator(_freq_ppm_fits)] = Field(
        None, description="ADJ_FREQUENCY in ppm, rounded to the kernel's 1/65536 ppm."
    )
    freq: Annotated[int | None, s64("freq")] = Field(
        None, description="ADJ_FREQUENCY in the kernel's unit (1/65536 ppm), instead of freq_ppm."
    )
    status: list[StaBit] | None = Field(
        None, description="ADJ_STATUS: the status bits to set, by name (the rest are cleared)."
    )
    constant: Annotated[int | None, s64("constant")] = Field(
        None, description="ADJ_TIMECONST: the PLL time constant."
    )
    maxerror_us: Annotated[int | None, s64("maxerror_us")] = Field(
        None, description="ADJ_MAXERROR, in µs."
    )
    esterror_us: Annotated[int | None, s64("esterror_us")] = Field(
        None, description="ADJ_ESTERROR, in µs."
    )
    tick: Annotated[int | None, s64("tick")] = Field(
        None, description="ADJ_TICK: µs per USER_HZ tick."
    )
    tai: Annotated[int | None, s64("tai")] = Field(
        None, description="ADJ_TAI: TAI − UTC in seconds (sent as `constant`)."
    )
    setoffset: Duration | None = Field(
        None, description="ADJ_SETOFFSET: step REALTIME by this (signed)."
    )
    expect: Literal["ok", "EINVAL", "EPERM", "EACCES", "ERANGE"] = Field(
        "ok",
        description="The outcome the scenario expects: 'ok', or the errno of a call that must "
        "fail (a different outcome fails the run).",
    )


class SettimeEvent(EventBase):
    """`clock_settime(CLOCK_REALTIME)`: `to` an ISO UTC instant, or `by` a signed step."""

    action: Literal["settime"] = Field(description="Selects this kind of event.")
    namespace: Targets = Field("root", description=_TARGET)
    to: Utc | None = Field(None, description="Set REALTIME to this instant (or give `by`).")
    by: Duration | None = Field(None, description="Step REALTIME by this, signed (or give `to`).")


class SetoffsetEvent(EventBase):
    """`adjtimex(ADJ_SETOFFSET | ADJ_NANO)`: step REALTIME by `by` (signed)."""

    action: Literal["setoffset"] = Field(description="Selects this kind of event.")
    namespace: Targets = Field("root", description=_TARGET)
    by: Duration = Field(description="The step, signed.")


class SuspendEvent(EventBase):
    """Suspend the whole host for `duration`, then resume (BOOTTIME/REALTIME jump)."""

    action: Literal["suspend"] = Field(description="Selects this kind of event.")
    duration: PositiveDuration = Field(description="How long the host stays suspended.")


class LeapAnnouncement(EventBase):
    """Tell namespaces a leap second ends `date` (a month end), as ntpd does.

    Each namespace told gets STA_INS (or STA_DEL) from the start of the leap day, cleared
    one second after the leap.  `sign` defaults to the leap table's, else +1; `namespaces`
    to 'root' (when host.leap is 'step') and every timekeeper namespace whose leap policy is
    'step'.  A namespace told here is not told again by the leap table for that day; an
    event without `namespaces` replaces the table's announcement for everyone.
    """

    action: Literal["leap"] = Field(description="Selects this kind of event.")
    date: Day = Field(description="The leap day: the last day of a month, ending in the leap.")
    sign: Literal[1, -1] | None = Field(
        None, description="1 inserts a second, -1 deletes one (unset: the leap table's, else 1)."
    )
    namespaces: Annotated[list[TargetName], AfterValidator(_unique)] | None = Field(
        None,
        description="The namespaces told (expanded names such as NAME-0 for count > 1, or "
        "NAME-* for every copy; unset: "
        "'root' if host.leap = 'step' and every [[namespaces]] timekeeper whose leap policy "
        "is 'step').",
    )


class CheckpointEvent(EventBase):
    """Write a checkpoint (the host, or one namespace) to checkpoints/LABEL.json."""

    action: Literal["checkpoint"] = Field(description="Selects this kind of event.")
    label: Name = Field(description="The checkpoint's label: checkpoints/LABEL.json.")
    namespace: Name | None = Field(
        None, description="The namespace to checkpoint (unset: the whole host)."
    )


class RestoreEvent(EventBase):
    """Restore a namespace checkpoint as a new namespace `name` (a CRIU restore).

    `mode`: 'criu' (MONOTONIC/BOOTTIME resume at their checkpointed values, REALTIME moves
    on by the downtime), 'suspend' (as after a suspend: BOOTTIME moves on too) or 'exact'
    (the state as it was: the clocks read as if the namespace never stopped).
    """

    action: Literal["restore"] = Field(description="Selects this kind of event.")
    checkpoint: Name = Field(description="The label of an earlier namespace checkpoint.")
    name: Name = Field(description="The new namespace's name (must not exist yet).")
    mode: Literal["criu", "suspend", "exact"] = Field(
        "criu", description="How its clocks resume: 'criu', 'suspend' or 'exact' (see above)."
    )


EVENT_TYPES: dict[str, type[EventBase]] = {
    "adjtimex": AdjtimexEvent,
    "settime": SettimeEvent,
    "setoffset": SetoffsetEvent,
    "suspend": SuspendEvent,
    "leap": LeapAnnouncement,
    "checkpoint": CheckpointEvent,
    "restore": RestoreEvent,
}

Event = Annotated[
    AdjtimexEvent
    | SettimeEvent
    | SetoffsetEvent
    | SuspendEvent
    | LeapAnnouncement
    | CheckpointEvent
    | RestoreEvent,
    Field(discriminator="action"),
]
