"""Checkpoints: a whole host, or one namespace, as versioned JSON — never pickle.

Why JSON: a checkpoint is data that may come from elsewhere (a colleague's run, a CRIU-style
migration), so restoring one must never execute anything, and a person must be able to read
it.  Every value is an int, a bool, a string or an exact rational written "p/q"; Python's
json keeps big ints exact (other readers may need a big-int mode).

The document (format version 2; version 1 is still read)::

    {"format": "timekeepers-checkpoint", "version": 2, "kind": "host" | "namespace",
     "sha256": <hex of the canonical JSON of format, version, kind and state>,
     "state": {...}}

A host state holds the config (clocksource, HZ, flags), exact true time, the extended
counter, statistics, every namespace (its kernel timekeeper fields, NTP state, exact
reference, tasks), every live POSIX timer, timerfd and sleep with each timer base's index
(`_timers`), the daemons acting on the namespaces — leap followers, NTP clients with their
server, path and random generator (`_agents`) — the programmed clockevent, hang state and
lateness histogram (`_runtime`), and every queued entry in queue order (the tick, the lazy
NTP hooks, timers, daemons' pending actions), so a restored host continues bit for bit.
Timer callbacks are written by name (`register_callback`); a checkpoint carries no code.
The checksum catches truncation and accidental edits; since anyone can re-sign a document,
every field is also range-checked on restore (`_validate`: the invariants the engine relies
on, with the kernel's own ranges), and any problem is a `CheckpointError` (a ValueError)
naming the field path and what was expected.  A failed `restore_namespace` leaves the host
as it was; a failed `restore_host` returns nothing.

Extension hook (for timers, and later sections): `register_section(name, dump, restore,
owns)`.  `dump(host)` returns JSON-able data stored under state["sections"][name];
`restore(host, data)` runs after namespaces are rebuilt and before the clockevent is
programmed, and must re-queue its entries; `owns(entry)` says which queued entries are the
section's, so the core does not refuse them.  Queued entries nobody knows (an entry put on
the host queue directly) make `checkpoint_host` refuse with an error.  A reader that meets
a section it has no handler for refuses the document.
"""

from __future__ import annotations

from ._callbacks import CALLBACKS, register_callback, unregister_callback
from ._format import (
    FORMAT,
    KINDS,
    READS,
    RESTORE_MODES,
    SECTIONS,
    VERSION,
    CheckpointError,
    Section,
    dumps,
    loads,
    register_section,
    verify,
)
from ._host import checkpoint_host, restore_host
from ._namespace import checkpoint_namespace, restore_namespace

__all__ = [
    "CALLBACKS",
    "FORMAT",
    "KINDS",
    "READS",
    "RESTORE_MODES",
    "SECTIONS",
    "VERSION",
    "CheckpointError",
    "Section",
    "checkpoint_host",
    "checkpoint_namespace",
    "dumps",
    "loads",
    "register_callback",
    "register_section",
    "restore_host",
    "restore_namespace",
    "unregister_callback",
    "verify",
]
