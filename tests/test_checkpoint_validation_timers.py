"""Format 2's new fields (timers, daemons, interrupt state) are checked like the old ones.

Every corruption is a CheckpointError naming the field; any mutation of a busy host's
checkpoint either restores to a host that runs or is refused cleanly (no other exception, no
hang); a callback that is not registered is refused by name on both sides.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from gmpy2 import mpq
from hypothesis import given
from test_checkpoint_validation import (
    _FUZZ,
    _leaves,
    _mutate,
    _mutations,
    _restore_and_run,
    edit,
)

from ntp.discipline import ChronyClient, PathModel, ReferenceServer
from ntp.leap import LeapTable
from tk_core import Clocksource, Host
from tk_core.checkpoint import (
    CheckpointError,
    checkpoint_host,
    dumps,
    register_callback,
    restore_host,
    unregister_callback,
)
from tk_core.clockids import CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_TAI
from tk_core.daemon import NtpDaemon

NS = 10**9
LEAP = 1_483_228_800
START = LEAP - 600


def _noop(timer: Any, overrun: int) -> None:
    """A registered callback for the busy host's timers."""


register_callback("validation.noop", _noop)


def _busy() -> Host:
    host = Host(clocksource=Clocksource(1_000_000_000, error_ppm=5, seed=2), hz=100,
                realtime_ns=START * NS, irq_cost_ns=1000, record_lateness=True)
    a = host.create_namespace("a")
    a.follow("utc-sls", epoch_unix=START, update_interval_s=8)
    NtpDaemon(a, ChronyClient(poll_exp=3), ReferenceServer(leap=LeapTable.load().next_leap(START)),
              PathModel(loss=mpq(1, 4)), seed=4).start()
    a.timer_create(CLOCK_TAI, _noop).settime(NS, NS // 3)
    fd = host.root.timerfd_create(CLOCK_REALTIME)
    fd.settime((START + 100) * NS, NS, absolute=True, cancel_on_set=True)
    a.clock_nanosleep(CLOCK_MONOTONIC, 200 * NS)
    host.run_for(30 * NS + 1234)
    return host


_DOC = checkpoint_host(_busy())
_STATE = _DOC["state"]


def doc() -> dict[str, Any]:
    return copy.deepcopy(_DOC)


def _index(items: list[Any], **match: Any) -> int:
    return next(i for i, x in enumerate(items) if all(x.get(k) == v for k, v in match.items()))


POSIX = _index(_STATE["timers"]["handles"], kind="posix", clockid=CLOCK_TAI)
FD = _index(_STATE["timers"]["handles"], kind="timerfd")
DAEMON = _index(_STATE["agents"], type="ntp_daemon")
FOLLOWER = _index(_STATE["agents"], type="follower")
DEFERRED = _index(_STATE["queue"], kind="deferred")
TIMER_Q = _index(_STATE["queue"], kind="timer")

CORRUPTIONS = [
    ("runtime.next_t", "-1", "runtime.next_t"),
    ("runtime.want", None, "runtime.next_t"),
    ("runtime.floor", "10**9", "runtime.floor"),
    ("runtime.hang_detected", 1, "runtime.hang_detected"),
    ("runtime.clockevent.next_event", -1, "clockevent.next_event"),
    ("runtime.clockevent.stats.programmed", -1, "clockevent.stats.programmed"),
    ("runtime.clockevent.stats.bogus", 1, "clockevent.stats"),
    ("runtime.lateness.count", 10**6, "lateness.count"),
    ("runtime.lateness.max_ns", 10**15, "lateness.max_ns"),
    ("runtime.lateness.buckets", [1], "lateness.buckets"),
    (f"timers.handles[{POSIX}].clockid", 4, f"handles[{POSIX}].clockid"),
    (f"timers.handles[{POSIX}].kind", "signalfd", f"handles[{POSIX}].kind"),
    (f"timers.handles[{POSIX}].callback", {"name": "nowhere"}, "'nowhere' is not registered"),
    (f"timers.handles[{POSIX}].callback", {"agent": 0, "method": "__init__"}, "callback"),
    (f"timers.handles[{POSIX}].callback", "validation.noop", "callback"),
    (f"timers.handles[{POSIX}].overrun", -7, f"handles[{POSIX}].overrun"),
    (f"timers.handles[{POSIX}].entry.expires", -1, "entry.expires"),
    (f"timers.handles[{POSIX}].entry.check_clockid", 99, "entry.check_clockid"),
    (f"timers.handles[{POSIX}].namespace", "zz", f"handles[{POSIX}].namespace"),
    (f"timers.handles[{FD}].ticks", -1, f"handles[{FD}].ticks"),
    (f"timers.handles[{FD}].clockid", CLOCK_TAI, f"handles[{FD}].clockid"),
    ("timers.next_ids.a", 0, "next_ids.a"),
    ("timers.bases.a.near.entries", [99], "near.entries[0]"),
    ("timers.bases.root.cancel_list", [POSIX], "cancel_list[0]"),
    ("timers.bases.root.wall", [POSIX], "wall[0]"),
    (f"queue[{TIMER_Q}].handle", 99, f"queue[{TIMER_Q}].handle"),
    (f"queue[{DEFERRED}].agent", 99, f"queue[{DEFERRED}].agent"),
    (f"queue[{DEFERRED}].action", "os.system", f"queue[{DEFERRED}].action"),
    (f"queue[{DEFERRED}].args", ["x"], f"queue[{DEFERRED}].args"),
    (f"agents[{DAEMON}].rng.words", [1, 2], f"agents[{DAEMON}].rng.words"),
    (f"agents[{DAEMON}].client.poll_exp", 99, "client.poll_exp"),
    (f"agents[{DAEMON}].client.model", "sntp", "client.model"),
    (f"agents[{DAEMON}].path.loss", "2", f"agents[{DAEMON}].path"),
    (f"agents[{DAEMON}].poll_timer", FD, f"agents[{DAEMON}].poll_timer"),
    (f"agents[{DAEMON}].server.leap.day", "someday", "server.leap.day"),
    (f"agents[{FOLLOWER}].smear.shape", "Evil", "smear.shape"),
    (f"agents[{FOLLOWER}].smear.params", {}, "smear.params"),
    (f"agents[{FOLLOWER}].last", [1], f"agents[{FOLLOWER}].last"),
    (f"agents[{FOLLOWER}].tracking", [["x", "1"]], "tracking[0]"),
    (f"agents[{FOLLOWER}].namespace", "b", f"agents[{FOLLOWER}].namespace"),
    (f"agents[{FOLLOWER}].type", "botnet", f"agents[{FOLLOWER}].type"),
]


@pytest.mark.parametrize(("path", "value", "fragment"), CORRUPTIONS)
def test_a_corrupt_new_field_is_named(path: str, value: Any, fragment: str) -> None:
    if path == "runtime.floor":
        value = "1000000"  # far beyond the dump's true time
    bad = edit(doc(), path, value)
    with pytest.raises(CheckpointError, match="checkpoint field") as err:
        restore_host(bad)
    assert fragment in str(err.value)
    # nothing was left behind: the pristine document restores to the same bytes
    assert dumps(checkpoint_host(restore_host(doc()))) == dumps(_DOC)


def test_the_busy_document_restores_to_the_same_bytes() -> None:
    assert dumps(checkpoint_host(restore_host(doc()))) == dumps(_DOC)


def test_an_unregistered_callback_is_refused_naming_the_timer() -> None:
    host = Host()
    ns = host.create_namespace("web")
    ns.timer_create(CLOCK_MONOTONIC)  # id 0, no callback: fine
    ns.timer_create(CLOCK_MONOTONIC, lambda t, o: None).settime(NS)  # id 1
    with pytest.raises(CheckpointError, match=r"posix timer 1 of namespace 'web'.*not registered"):
        checkpoint_host(host)


def test_a_callback_must_be_registered_where_it_is_restored() -> None:
    def beep(timer: Any, overrun: int) -> None:
        """A callback registered only while the checkpoint is written."""

    register_callback("validation.beep", beep)
    host = Host()
    host.root.timer_create(CLOCK_MONOTONIC, beep).settime(NS)
    text = checkpoint_host(host)
    unregister_callback("validation.beep")
    with pytest.raises(CheckpointError, match=r"'validation\.beep' is not registered"):
        restore_host(text)
    register_callback("validation.beep", beep)
    assert restore_host(text).root.timer_handles[0].callback is beep
    unregister_callback("validation.beep")


_PATHS = [p for p in _leaves(_STATE) if p[0] in ("runtime", "timers", "agents", "queue")]


@_FUZZ
@given(_mutations(_PATHS))
def test_mutated_busy_checkpoints_restore_or_fail_cleanly(mutations: list[Any]) -> None:
    _restore_and_run(lambda: restore_host(_mutate(doc(), mutations)))


# -- completeness tripwires: a new field of a carried object must be carried too -------------


def own_fields(cls: type) -> set[str]:
    """The attributes a class adds to its bases: its `__slots__`, or under the compiled build
    (where `__slots__` is empty) its own part of mypyc's attribute list."""
    attrs = getattr(cls, "__mypyc_attrs__", None)
    if attrs is None:
        return set(cls.__slots__)
    inherited = {name for base in cls.__mro__[1:] for name in getattr(base, "__mypyc_attrs__", ())}
    return set(attrs) - inherited - {"__dict__"}


def test_every_field_of_the_carried_objects_is_known_to_the_format() -> None:
    """Adding state to a timer, a timer entry, a daemon or a follower fails here until the
    checkpoint carries it (otherwise restored ≡ original silently stops holding)."""
    import dataclasses

    from tk_core.policy import Follower
    from tk_core.posix_timers import PosixTimer, Sleeper
    from tk_core.timerbase import TimerBase, TimerEntry, _Group
    from tk_core.timerfd import TimerFd

    assert set(PosixTimer.__slots__) == {"_armed", "_entry", "callback", "clockid", "deleted",
                                         "fires", "interval", "ns", "overrun"}
    assert set(TimerFd.__slots__) == {"_entry", "clockid", "closed", "expired", "interval",
                                      "might_cancel", "moffs", "ns", "ticks"}
    assert set(Sleeper.__slots__) == {"_entry", "absolute", "callback", "clockid", "done",
                                      "interrupted", "ns", "woke_ns"}
    assert own_fields(TimerEntry) == {"base", "check_clockid", "check_expires", "ns",
                                      "on_fire", "rechecks", "rekeys", "stats", "stepped",
                                      "group", "in_wall"}  # the last two: from the base's sets
    assert own_fields(TimerBase) == {"_base_mult", "_leap", "cancel_list", "far", "host",
                                     "near", "ns", "wall"}
    assert own_fields(_Group) == {"entries", "key_far", "mult_max", "mult_min", "since"}
    assert {f.name for f in dataclasses.fields(Follower)} == {
        "ns", "policy", "bound", "epoch_unix", "update_interval_s", "apply_leap_too",
        "tracking", "warnings", "freq_set", "clamped", "_gain", "_last", "_tai0", "_leap_bits"}
    host = restore_host(doc())
    daemon = next(a for a in host.namespaces["a"].agents if isinstance(a, NtpDaemon))
    assert set(vars(daemon)) == {"ns", "host", "client", "server", "path", "rng", "epoch_unix",
                                 "polls", "lost", "_poll_timer", "_leap_timer", "_leap_sign",
                                 "_followups"}
    from ntp.discipline import NtpdClient

    common = {"poll_exp", "samples", "updates", "leap_pending", "minpoll", "maxpoll", "poller"}
    assert set(vars(NtpdClient())) == common | {"slew_leap", "step_threshold_ns", "started"}
    assert set(vars(ChronyClient())) == common | {
        "makestep_ns", "makestep_limit", "corrtimeratio", "maxslewrate", "leapsecmode",
        "max_samples", "freq", "base_freq", "applied_ns", "applied_at", "corrected",
        "leap_slewing", "leap_end_mono", "dropped_near_leap", "rtcsync"}
    for ns in host.namespaces.values():  # the restorer set every slot of every handle
        for h in ns.timer_handles.values():
            for slot in type(h).__slots__:
                getattr(h, slot)


def test_every_host_attribute_is_carried_or_derived() -> None:
    """A new Host attribute must be carried by the checkpoint (or be derived on restore):
    add it to the format, then here."""
    carried = {"_floor", "_lost", "_next_t", "_now", "_pids", "_tick", "_want", "aux_clocks",
               "clockevent", "clocksource", "counter", "epoch_ns", "expiry_cost_ns",
               "hang_detected", "hz", "irq_cost_ns", "last_jiffies_update", "lateness",
               "lazy_error_bound",
               "fair_expiry", "namespaces", "nohz", "queue", "rekey_slack_ns", "requeue_on_adjust",
               "stats",
               "user_hz", "wrap_guard"}
    derived = {"_cache_cycles", "_cache_now", "_in_irq", "_touched", "behaviour",
               "guard_cycles", "kernel_version", "periodic", "root", "tick_period",
               "_jiffy_tk", "stale_bases", "_int_now", "_now_ns", "_event_t",
               "_event_cycles"}
    host = Host()
    native = {name for base in type(host).__mro__  # the compiled HostCore's own fields
              for name in getattr(base, "__mypyc_attrs__", ())} - {"__dict__"}
    assert (set(vars(host)) | native) - {"_lazy_reader_table"} == carried | derived
