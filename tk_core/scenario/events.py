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
    PositiveDuration,
    StaBit,
    Strict,
    Utc,
    When,
    fail,
    s64,
)

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
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

    at: When
    note: str = ""


class AdjtimexEvent(EventBase):
    """`adjtimex(2)` on a namespace, with named modes and values in their natural units.

    `offset` and `setoffset` are durations (sent in ns when ADJ_NANO or STA_NANO applies,
    else in whole µs); `freq_ppm` is exact ppm, rounded to the kernel's 1/65536 ppm unit
    (`freq` gives that unit directly); `tai` is sent as the ADJ_TAI `constant`.
    """

    action: Literal["adjtimex"]
    namespace: Name = "root"
    modes: list[AdjMode] = Field(min_length=1)
    offset: Duration | None = None
    freq_ppm: Annotated[Exact | None, AfterValidator(_freq_ppm_fits)] = None
    freq: Annotated[int | None, s64("freq")] = None
    status: list[StaBit] | None = None
    constant: Annotated[int | None, s64("constant")] = None
    maxerror_us: Annotated[int | None, s64("maxerror_us")] = None
    esterror_us: Annotated[int | None, s64("esterror_us")] = None
    tick: Annotated[int | None, s64("tick")] = None
    tai: Annotated[int | None, s64("tai")] = None
    setoffset: Duration | None = None
    expect: Literal["ok", "EINVAL", "EPERM", "EACCES", "ERANGE"] = "ok"


class SettimeEvent(EventBase):
    """`clock_settime(CLOCK_REALTIME)`: `to` an ISO UTC instant, or `by` a signed step."""

    action: Literal["settime"]
    namespace: Name = "root"
    to: Utc | None = None
    by: Duration | None = None


class SetoffsetEvent(EventBase):
    """`adjtimex(ADJ_SETOFFSET | ADJ_NANO)`: step REALTIME by `by` (signed)."""

    action: Literal["setoffset"]
    namespace: Name = "root"
    by: Duration


class SuspendEvent(EventBase):
    """Suspend the whole host for `duration`, then resume (BOOTTIME/REALTIME jump)."""

    action: Literal["suspend"]
    duration: PositiveDuration


class LeapAnnouncement(EventBase):
    """Tell namespaces a leap second ends `date` (a month end); each applies its policy.

    With the `step` policy this is what ntpd does: set STA_INS (or STA_DEL) on the leap day,
    clear it after.  `sign` defaults to the leap table's, else +1; `namespaces` to every
    timekeeper namespace whose policy is not 'ignore'.
    """

    action: Literal["leap"]
    date: Day
    sign: Literal[1, -1] | None = None
    namespaces: list[Name] | None = None


class CheckpointEvent(EventBase):
    """Write a checkpoint (the host, or one namespace) to checkpoints/LABEL.json."""

    action: Literal["checkpoint"]
    label: Name
    namespace: Name | None = None


class RestoreEvent(EventBase):
    """Restore a namespace checkpoint as a new namespace `name` (a CRIU restore).

    `mode`: 'criu' (MONOTONIC/BOOTTIME resume at their checkpointed values, REALTIME moves
    on by the downtime), 'suspend' (as after a suspend: BOOTTIME moves on too) or 'exact'
    (the state as it was: the clocks read as if the namespace never stopped).
    """

    action: Literal["restore"]
    checkpoint: Name
    name: Name
    mode: Literal["criu", "suspend", "exact"] = "criu"


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
