"""What the host counts: per-namespace timer counters and the host's own (`HostStats`).

Plain dataclasses that `dataclasses.asdict`, `dataclasses.fields` and the checkpoints read.
Every interrupt and every expiry counts into them, so the compiled build compiles this
module too (`tk_compiled`): the counters are then native fields, and the host's interrupt
path and `TimerEntry.expire` bump them without a generic attribute lookup.  Compiled, they
have no `__dict__`: read them with `dataclasses.asdict`, not `vars`.  `tk_core.host`
re-exports both.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(eq=False, slots=True)
class NamespaceStats:
    """Per-namespace timer counters (filled by the timer queue).

    `expiries`: timers fired; `early_rechecks`: expiries refused because the namespace clock
    had not reached the deadline (each re-arms); `rekeys`: queued timers converted again
    without coming due (clock_was_set, a rate rise, requeue_on_adjust); `rearms` =
    early_rechecks + rekeys; `interrupts` / `hang_detections`: host interrupts (hangs) in
    which one of its timers was run; `late_max_ns`: worst lateness (namespace clock ns) of a
    fire not caused by a forward step; `stepped_fires`: fires a clock step made due.
    """

    expiries: int = 0
    early_rechecks: int = 0
    rearms: int = 0
    rekeys: int = 0
    interrupts: int = 0
    hang_detections: int = 0
    late_max_ns: int = 0
    stepped_fires: int = 0


@dataclass
class HostStats:
    """What the host did; the scalability experiments read these.

    Timer counters are the sums of the per-namespace ones; `other_rechecks` counts early
    re-checks of clock entries that are not namespace timers (the tick, daemons).
    """

    interrupts: int = 0
    guard_wakes: int = 0
    ticks: int = 0
    lazy_hooks: int = 0
    clock_was_set: int = 0
    expiries: int = 0
    early_rechecks: int = 0
    rearms: int = 0
    rekeys: int = 0
    other_rechecks: int = 0
    hang_detections: int = 0
    late_max_ns: int = 0
    stepped_fires: int = 0
    max_hang_ns: int = 0
    per_namespace: dict[str, NamespaceStats] = field(default_factory=dict)
