"""A stateful hypothesis machine over the public API of a whole host.

Every operation (a rule) is applied, in the same order, to every live *world* — a host plus
the machine's own record of what it armed — and each world's answers (readings, return
values, errnos, callback events) must be identical.  The machine starts with two worlds
built from the same operations; a checkpoint rule asserts both dump to the same bytes (byte
determinism), restores the primary's document into a new host and carries on with that
restored host *and* the original in lockstep, so every later reading compares restored
against original.

Invariants, checked by the machine itself (not by `Host.check_never_early`):

* never early: each POSIX timer and sleep callback reads its namespace's clock and asserts it
  reached the deadline the machine computed at arm time (relative REALTIME arms count on
  MONOTONIC, as `__hrtimer_init` puts them there; periodic expiry k at first + k·interval,
  overruns included); a timerfd has no callback, so its expirations are checked at every
  step boundary and at each `read` (n expirations read ⇒ the n-th deadline has passed);
* monotonic: MONOTONIC, BOOTTIME, MONOTONIC_RAW and MONOTONIC_COARSE never go backwards in
  any namespace, over every read the machine makes (only an offsets write on a namespace no
  task has entered may move them, and then the machine starts again from the new value);
* a call that raises OSError changes nothing readable: the adjtimex readback, every clock,
  every POSIX timer's gettime, timerfd counts and the timens offsets are identical before
  and after (read at the same instant);
* restored ≡ original, and equal operations give equal checkpoint bytes.
"""

from __future__ import annotations

import copy
import errno
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ntp.timex import Timex
from tk_core import (
    CLOCK_BOOTTIME,
    CLOCK_BOOTTIME_ALARM,
    CLOCK_MONOTONIC,
    CLOCK_MONOTONIC_COARSE,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME,
    CLOCK_REALTIME_ALARM,
    CLOCK_REALTIME_COARSE,
    CLOCK_TAI,
    Host,
    OffsetsNamespace,
    PosixTimer,
    Sleeper,
    TimerFd,
)
from tk_core.checkpoint import checkpoint_host, dumps, loads, register_callback, restore_host
from tk_core.clockids import READABLE_CLOCKS

NSEC = 1_000_000_000
READ_CLOCKS = tuple(sorted(READABLE_CLOCKS))  # every clock clock_gettime_ns reads
MONOTONIC_CLOCKS = (CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_COARSE)
#: every clock id a timer call may be given: the timer clocks, the ones without timers, the
#: unmodelled alarms, a CPU clock and a bad id (the last ones must fail and change nothing)
TIMER_CLOCK_CHOICES = (
    *(CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI) * 3,
    CLOCK_REALTIME_ALARM,
    CLOCK_BOOTTIME_ALARM,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME_COARSE,
    2,
    99,
)
CAPS = (frozenset(), frozenset({"CAP_SYS_TIME"}), frozenset({"CAP_SYS_TIME:host"}))
TIMEX_FIELDS = ("offset", "freq", "maxerror", "esterror", "status", "constant", "tick", "tai")
MAX_NAMESPACES = 5
#: the machine's worlds by id(host): how a callback (registered by name, so a restored host
#: finds it) reaches the records of the world it belongs to
WORLDS: dict[int, World] = {}


# -- the machine's own records ---------------------------------------------------------------


@dataclass
class Deadline:
    """What the machine expects of one armed handle, in its namespace's own clock."""

    clockid: int
    first: int
    interval: int = 0
    index: int = 0  # the expiry the next fire stands for
    known: bool = True  # False after a timerfd cancellation (ECANCELED): nothing to check
    #: timerfd ticks already held to the deadline: a tick is checked in the step it appears,
    #: since a REALTIME clock set back afterwards legitimately reads before an old expiry
    checked_ticks: int = 0


@dataclass
class World:
    """One host and the machine's record of it (the record is copied into a restored host)."""

    host: Host
    deadlines: dict[tuple[str, int], Deadline] = field(default_factory=dict)
    last: dict[tuple[str, int], int] = field(default_factory=dict)
    events: list[tuple[Any, ...]] = field(default_factory=list)

    def ns(self, name: str) -> Any:
        return self.host.namespaces[name]

    def handle(self, ref: tuple[str, int]) -> Any:
        return self.ns(ref[0]).timer_handles[ref[1]]

    def read(self, name: str, clockid: int) -> int:
        """clock_gettime, checked against this world's last reading of a monotonic clock."""
        value = self.ns(name).clock_gettime_ns(clockid)
        if clockid in MONOTONIC_CLOCKS:
            prev = self.last.get((name, clockid))
            assert prev is None or value >= prev, (
                f"{name}: clock {clockid} went backwards {prev} -> {value}"
            )
            self.last[(name, clockid)] = value
        return value

    def forget_monotonic(self, name: str) -> None:
        for clockid in MONOTONIC_CLOCKS:
            self.last.pop((name, clockid), None)


def _handle_id(handle: Any) -> int:
    for hid, h in handle.ns.timer_handles.items():
        if h is handle:
            return int(hid)
    raise AssertionError(f"{handle!r} is not among its namespace's handles")


def _check_fire(world: World, ref: tuple[str, int], overrun: int) -> None:
    """Never early: the namespace clock has reached the latest expiry this fire stands for."""
    dl = world.deadlines[ref]
    due = dl.first + (dl.index + overrun) * dl.interval
    now = world.read(ref[0], dl.clockid)
    assert now >= due, f"{ref}: fired early, clock {dl.clockid} reads {now} < deadline {due}"
    world.events.append(("fire", ref, dl.index, overrun, now))
    dl.index += overrun + 1


def on_posix_timer(timer: PosixTimer, overrun: int) -> None:
    world = WORLDS[id(timer.ns.host)]
    _check_fire(world, (timer.ns.name, _handle_id(timer)), overrun)


def on_sleep(sleeper: Sleeper) -> None:
    world = WORLDS[id(sleeper.ns.host)]
    ref = (sleeper.ns.name, _handle_id(sleeper))
    _check_fire(world, ref, 0)
    del world.deadlines[ref]


register_callback("test_stateful_host.on_posix_timer", on_posix_timer)
register_callback("test_stateful_host.on_sleep", on_sleep)


# -- readable state, for "a failed call changes nothing" ----------------------------------------


def snapshot(world: World) -> list[Any]:
    """Everything a program can read, at this instant, across all namespaces."""
    out: list[Any] = []
    for name, ns in world.host.namespaces.items():
        tx = Timex()
        state = ns.adjtimex(tx)
        out.append((name, state, tuple(getattr(tx, f) for f in (*TIMEX_FIELDS, "time"))))
        out.append(tuple(world.read(name, c) for c in READ_CLOCKS))
        if isinstance(ns, OffsetsNamespace):
            out.append(ns.timens_offsets_read())
        for hid, h in ns.live_timer_handles().items():
            if isinstance(h, PosixTimer):
                out.append((hid, h.gettime(), h.armed, h.overrun))
            elif isinstance(h, TimerFd):
                out.append((hid, h.ticks, h.expired, h.interval, h.entry.expires))
            else:
                out.append((hid, h.done, h.entry.expires))
    return out


def guarded(world: World, call: Any, consumes: int | None = None) -> Any:
    """Run `call()`; if it raises OSError, assert the readable state did not change.

    `consumes` names the one errno that reports something by consuming it (a timerfd read's
    ECANCELED clears the pending cancellation and the count, as `timerfd_read` does).
    """
    before = snapshot(world)
    try:
        return ("ok", call())
    except OSError as err:
        after = snapshot(world)
        if err.errno != consumes:
            assert after == before, f"a failed call ({err}) changed the readable state"
        return ("err", err.errno)


# -- strategies -----------------------------------------------------------------------------

durations = st.one_of(
    st.just(0),
    st.integers(1, 1_000_000),
    st.integers(1_000_000, 1_000_000_000),
    st.integers(1_000_000_000, 20 * NSEC),
    st.integers(20 * NSEC, 3 * 86_400 * NSEC),  # very long (capped while periodic work exists)
)
deltas = st.one_of(
    st.integers(0, 10),
    st.integers(0, 50_000_000),
    st.integers(0, 5 * NSEC),
    st.integers(1_000_000, NSEC),
    st.integers(1_000_000, NSEC),
    st.integers(0, 1000 * NSEC),
    st.just(2**63),  # beyond KTIME_SEC_MAX seconds: KTIME_MAX
)
intervals = st.one_of(st.just(0), st.integers(10_000_000, 3 * NSEC))
bad_or_value = st.one_of(deltas, st.integers(-2 * NSEC, -1))


@st.composite
def timexes(draw: st.DrawFn) -> Timex:
    """adjtimex arguments: random mode bits (unknown bits too) and in- or out-of-range fields."""
    modes = draw(st.one_of(
        st.sampled_from([0, 0x0001, 0x0002, 0x0010, 0x0080, 0x0100, 0x4000, 0x8001, 0xA001,
                         0x2000 | 0x0001, 0x1000 | 0x0100, 0x2000 | 0x0100]),
        st.integers(0, 0xFFFF),
    ))
    tx = Timex(modes=modes)
    tx.offset = draw(st.one_of(st.integers(-500_000, 500_000), st.integers(-2**31, 2**31 - 1)))
    tx.freq = draw(st.one_of(st.integers(-500 << 16, 500 << 16), st.integers(-2**40, 2**40)))
    tx.maxerror = draw(st.integers(0, 20_000_000))
    tx.esterror = draw(st.integers(0, 20_000_000))
    tx.status = draw(st.sampled_from([0, 0x0001, 0x0010, 0x0020, 0x0040, 0x2000, 0x0011]))
    tx.constant = draw(st.integers(-2, 12))
    tx.tick = draw(st.one_of(st.integers(9000, 11000), st.integers(0, 20000)))
    tx.tai = draw(st.integers(-5, 50))
    tx.time = (draw(st.integers(-3, 3)), draw(st.one_of(st.integers(0, 999_999_999),
                                                      st.integers(-5, 2 * NSEC))))
    return tx


class HostMachine(RuleBasedStateMachine):
    """See the module docstring."""

    namespaces = Bundle("namespaces")
    timers = Bundle("timers")
    timerfds = Bundle("timerfds")
    sleeps = Bundle("sleeps")

    def __init__(self) -> None:
        super().__init__()
        self.worlds: list[World] = []
        self.models: dict[str, str] = {}
        self.entered: set[str] = set()
        self.tasks: dict[str, list[frozenset[str]]] = {}
        self.periodic_work = False
        self.count = 0
        self.log: list[Any] = []

    # -- plumbing -----------------------------------------------------------------------

    def each(self, fn: Any) -> Any:
        """Apply `fn(world)` to every world; all must answer alike (the answer is returned)."""
        answers = [fn(w) for w in self.worlds]
        for w, a in zip(self.worlds[1:], answers[1:], strict=True):
            assert a == answers[0], f"worlds disagree: {answers[0]!r} != {a!r}"
            assert w.events == self.worlds[0].events, "worlds' callback events differ"
        return answers[0]

    def caller(self, world: World, name: str, who: int) -> Any:
        """The namespace itself (owner) for who == 0, else one of its tasks."""
        ns = world.ns(name)
        return ns if who == 0 or not ns.tasks else ns.tasks[(who - 1) % len(ns.tasks)]

    @initialize(target=namespaces)
    def boot(self) -> Any:
        for _ in range(2):
            host = Host(hz=100, realtime_ns=1_700_000_000 * NSEC, monotonic_ns=5 * NSEC)
            world = World(host)
            WORLDS[id(host)] = world
            self.worlds.append(world)
        self.models["root"] = "timekeeper"
        self.tasks["root"] = []
        return "root"

    def teardown(self) -> None:
        for w in self.worlds:
            WORLDS.pop(id(w.host), None)

    # -- namespaces and tasks -----------------------------------------------------------

    @precondition(lambda self: len(self.models) < MAX_NAMESPACES)
    @rule(
        target=namespaces,
        kind=st.sampled_from(["lazy", "periodic", "dilated", "offsets", "offsets"]),
        dilation=st.sampled_from(["1/2", "3", "1001/1000", "999999/1000000"]),
        update=st.sampled_from(["lazy", "periodic"]),
    )
    def create_namespace(self, kind: str, dilation: str, update: str) -> str:
        name = f"ns{self.count}"
        self.count += 1

        def make(w: World) -> str:
            if kind == "offsets":
                w.host.create_namespace(name, "offsets")
            elif kind == "dilated":
                w.host.create_namespace(name, update=update, dilation=dilation)
            else:
                w.host.create_namespace(name, update=kind)
            return name

        self.each(make)
        self.models[name] = "offsets" if kind == "offsets" else "timekeeper"
        self.tasks[name] = []
        if kind == "periodic" or (kind == "dilated" and update == "periodic"):
            self.periodic_work = True
        return name

    @rule(name=namespaces, caps=st.sampled_from(CAPS))
    def spawn(self, name: str, caps: frozenset[str]) -> None:
        self.each(lambda w: w.ns(name).spawn(caps).pid)
        self.entered.add(name)
        self.tasks[name].append(caps)

    # -- time passing -------------------------------------------------------------------

    @rule(duration=durations)
    def run(self, duration: int) -> None:
        if self.periodic_work:
            duration = min(duration, 20 * NSEC)
        self.each(lambda w: w.host.run_for(duration))

    @rule(duration=st.integers(0, 2 * NSEC))
    def run_short(self, duration: int) -> None:
        self.each(lambda w: w.host.run_for(duration))

    @rule(duration=st.one_of(st.just(0), st.integers(1, 10**12)))
    def suspend(self, duration: int) -> None:
        self.each(lambda w: w.host.suspend_for(duration))

    # -- clocks -------------------------------------------------------------------------

    @rule(name=namespaces)
    def read_clocks(self, name: str) -> None:
        self.each(lambda w: tuple(w.read(name, c) for c in READ_CLOCKS))

    @rule(
        name=namespaces,
        who=st.integers(0, 3),
        clockid=st.sampled_from([CLOCK_REALTIME] * 4 + [CLOCK_MONOTONIC, CLOCK_TAI, 99]),
        delta=st.one_of(st.integers(-10**10, 10**10), st.integers(-10**13, 10**13),
                        st.integers(-10**19, 10**19)),
        absolute=st.booleans(),
    )
    def clock_settime(self, name: str, who: int, clockid: int, delta: int,
                      absolute: bool) -> None:
        def go(w: World) -> Any:
            value = delta if absolute else w.ns(name).clock_gettime_ns(CLOCK_REALTIME) + delta
            return guarded(w, lambda: self.caller(w, name, who).clock_settime_ns(clockid, value))

        self.each(go)

    @rule(name=namespaces, who=st.integers(0, 3), tx=timexes())
    def adjtimex(self, name: str, who: int, tx: Timex) -> None:
        def go(w: World) -> Any:
            mine = tx.copy()
            out = guarded(w, lambda: self.caller(w, name, who).adjtimex(mine))
            return out, tuple(getattr(mine, f) for f in TIMEX_FIELDS)

        self.each(go)

    @rule(
        name=namespaces,
        who=st.integers(0, 3),
        mono=st.one_of(st.none(), st.integers(-10**12, 10**12), st.integers(-2**64, 2**64)),
        boot=st.one_of(st.none(), st.integers(-10**12, 10**12)),
    )
    def set_offsets(self, name: str, who: int, mono: int | None, boot: int | None) -> None:
        if self.models[name] != "offsets":
            return

        def go(w: World) -> Any:
            out = guarded(w, lambda: self.caller(w, name, who).set_offsets(mono, boot))
            if out[0] == "ok":
                w.forget_monotonic(name)
            return out

        self.each(go)

    # -- POSIX timers -------------------------------------------------------------------

    @rule(target=timers, name=namespaces, who=st.integers(0, 3),
          clockid=st.sampled_from(TIMER_CLOCK_CHOICES), value=bad_or_value,
          interval=intervals, absolute=st.booleans(), back=st.integers(-5 * NSEC, 10 * NSEC))
    def timer_create(self, name: str, who: int, clockid: int, value: int, interval: int,
                     absolute: bool, back: int) -> Any:
        """timer_create, then (if it worked) timer_settime with the drawn arguments."""
        def go(w: World) -> Any:
            out = guarded(w, lambda: self.caller(w, name, who).timer_create(
                clockid, on_posix_timer))
            return ("ok", _handle_id(out[1])) if out[0] == "ok" else out

        out = self.each(go)
        if out[0] != "ok":
            return multiple()  # nothing made: hand back no handle
        timer = (name, out[1], clockid)
        self.timer_settime(timer, value, interval, absolute, back)
        return timer

    def _settime(self, ref: tuple[str, int], clockid: int, value: int, interval: int,
                 absolute: bool, back: int, settime: Any) -> None:
        """Arm `ref` alike in every world; record its deadline where the call succeeded.

        An absolute value in range is replaced by the world's clock now plus `back`, so
        arms land near the present; `settime(world, value)` makes the call itself.
        """
        def go(w: World) -> Any:
            v = value
            if absolute and 0 <= value < 2**62:
                v = max(0, w.read(ref[0], clockid) + back)
            dl = self._arm(w, ref, clockid, v, max(interval, 0), absolute)
            out = guarded(w, lambda: settime(w, v))
            if out[0] == "ok":
                w.deadlines.pop(ref, None)
                if v != 0:
                    w.deadlines[ref] = dl
            return out

        self.each(go)

    def _arm(self, w: World, ref: tuple[str, int], clockid: int, value: int,
             interval: int, absolute: bool) -> Deadline:
        """The deadline, in the namespace's clock, that arming now with these values sets."""
        if absolute:
            return Deadline(clockid, value, interval)
        base = CLOCK_MONOTONIC if clockid == CLOCK_REALTIME else clockid
        return Deadline(base, w.read(ref[0], base) + value, interval)

    @rule(timer=timers, value=bad_or_value, interval=st.one_of(intervals, st.just(-1)),
          absolute=st.booleans(), back=st.integers(-5 * NSEC, 10 * NSEC))
    def timer_settime(self, timer: tuple[str, int, int], value: int, interval: int,
                      absolute: bool, back: int) -> None:
        name, hid, clockid = timer
        ref = (name, hid)
        self._settime(ref, clockid, value, interval, absolute, back,
                      lambda w, v: w.handle(ref).settime(v, interval, absolute))
        if interval > 0 and value:
            self.periodic_work = True

    @rule(timer=timers)
    def timer_gettime(self, timer: tuple[str, int, int]) -> None:
        self.each(lambda w: w.handle(timer[:2]).gettime())

    @rule(timer=consumes(timers))
    def timer_delete(self, timer: tuple[str, int, int]) -> None:
        def go(w: World) -> None:
            w.handle(timer[:2]).delete()
            w.deadlines.pop(timer[:2], None)

        self.each(go)

    # -- sleeps -------------------------------------------------------------------------

    @rule(target=sleeps, name=namespaces, who=st.integers(0, 3),
          clockid=st.sampled_from(TIMER_CLOCK_CHOICES), value=bad_or_value,
          absolute=st.booleans(), back=st.integers(-5 * NSEC, 10 * NSEC))
    def clock_nanosleep(self, name: str, who: int, clockid: int, value: int, absolute: bool,
                        back: int) -> Any:
        def go(w: World) -> Any:
            v = value
            if absolute and 0 <= value < 2**62 and clockid in (0, 1, 7, 11):
                v = max(0, w.read(name, clockid) + back)
            ns = w.ns(name)
            hid = ns.next_timer_id
            dl = (self._arm(w, (name, hid), clockid, v, 0, absolute)
                  if clockid in (0, 1, 7, 11) else None)
            out = guarded(w, lambda: self.caller(w, name, who).clock_nanosleep(
                clockid, v, absolute, on_sleep))
            if out[0] == "ok":
                assert dl is not None
                w.deadlines[(name, hid)] = dl
                return ("ok", hid)
            return out

        out = self.each(go)
        if out[0] != "ok":
            return multiple()
        return (name, out[1])

    @rule(sleep=sleeps)
    def sleep_interrupt(self, sleep: tuple[str, int]) -> None:
        def go(w: World) -> Any:
            h = w.ns(sleep[0]).timer_handles.get(sleep[1])
            if h is None or h.done or h.interrupted:
                return "over"
            w.deadlines.pop(sleep, None)
            return h.interrupt()

        self.each(go)

    # -- timerfds -----------------------------------------------------------------------

    @rule(target=timerfds, name=namespaces, who=st.integers(0, 3),
          clockid=st.sampled_from(TIMER_CLOCK_CHOICES), value=bad_or_value,
          interval=intervals, absolute=st.booleans(), cancel=st.booleans(),
          back=st.integers(-5 * NSEC, 10 * NSEC))
    def timerfd_create(self, name: str, who: int, clockid: int, value: int, interval: int,
                       absolute: bool, cancel: bool, back: int) -> Any:
        """timerfd_create, then (if it worked) timerfd_settime with the drawn arguments."""
        def go(w: World) -> Any:
            out = guarded(w, lambda: self.caller(w, name, who).timerfd_create(clockid))
            return ("ok", _handle_id(out[1])) if out[0] == "ok" else out

        out = self.each(go)
        if out[0] != "ok":
            return multiple()
        fd = (name, out[1], clockid)
        self.timerfd_settime(fd, value, interval, absolute, cancel, back)
        return fd

    @rule(fd=timerfds, value=bad_or_value, interval=intervals, absolute=st.booleans(),
          cancel=st.booleans(), back=st.integers(-5 * NSEC, 10 * NSEC))
    def timerfd_settime(self, fd: tuple[str, int, int], value: int, interval: int,
                        absolute: bool, cancel: bool, back: int) -> None:
        name, hid, clockid = fd
        ref = (name, hid)
        self._settime(ref, clockid, value, interval, absolute, back,
                      lambda w, v: w.handle(ref).settime(v, interval, absolute, cancel))
        if interval:
            self.periodic_work = True

    @rule(fd=timerfds)
    def timerfd_read(self, fd: tuple[str, int, int]) -> None:
        ref = fd[:2]

        def go(w: World) -> Any:
            out = guarded(w, lambda: w.handle(ref).read(), errno.ECANCELED)
            dl = w.deadlines.get(ref)
            if out == ("err", errno.ECANCELED) and dl is not None:
                dl.known = False
            if out[0] == "ok" and dl is not None and dl.known:
                due = dl.first + (dl.index + out[1] - 1) * dl.interval
                now = w.read(ref[0], dl.clockid)
                assert now >= due, f"{ref}: read {out[1]} expirations before deadline {due}"
                dl.index += out[1]
            return out

        self.each(go)

    # -- checkpoints --------------------------------------------------------------------

    @rule()
    def checkpoint_round_trip(self) -> None:
        texts = [dumps(checkpoint_host(w.host)) for w in self.worlds]
        assert all(t == texts[0] for t in texts), "same operations, different checkpoint bytes"
        primary = self.worlds[0]
        host = restore_host(loads(texts[0]))
        restored = World(host, copy.deepcopy(primary.deadlines), dict(primary.last),
                         list(primary.events))
        WORLDS[id(host)] = restored
        assert dumps(checkpoint_host(host)) == texts[0], "a restore lost something"
        for w in self.worlds[1:]:
            WORLDS.pop(id(w.host), None)
        self.worlds = [restored, primary]

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def worlds_agree_and_timerfds_never_early(self) -> None:
        def look(w: World) -> Any:
            seen = []
            for name in w.host.namespaces:
                seen.append(tuple(w.read(name, c) for c in READ_CLOCKS))
            for ref, dl in w.deadlines.items():
                h = w.handle(ref)
                if not isinstance(h, TimerFd):
                    continue
                fresh = h.ticks > dl.checked_ticks
                dl.checked_ticks = h.ticks
                if fresh and dl.known and not h.might_cancel:
                    now = w.read(ref[0], dl.clockid)
                    assert now >= dl.first + dl.index * dl.interval, f"{ref}: timerfd early"
            return seen, len(w.deadlines), w.host.true_time

        if self.worlds:
            self.each(look)


def machine_settings(examples: int, steps: int) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def test_host_machine() -> None:
    """The machine, small: 30 examples of up to 30 steps."""
    run_state_machine_as_test(HostMachine, settings=machine_settings(30, 30))


@pytest.mark.soak
def test_host_machine_soak() -> None:
    """The same machine, 2000 examples of 50 steps (10^5 steps)."""
    run_state_machine_as_test(HostMachine, settings=machine_settings(2000, 50))


# -- regressions the machine found -------------------------------------------------------------


def test_checkpoint_restores_a_sleep_until_ktime_max() -> None:
    """A sleep of KTIME_MAX (a value of KTIME_SEC_MAX s or more) is keyed past 2^64 cycles on
    a GHz counter; the host's own checkpoint of it must restore and continue alike."""
    host = Host(hz=100)
    sleeper = host.root.clock_nanosleep(CLOCK_REALTIME, 2**63)
    timer = host.root.timer_create(CLOCK_MONOTONIC)
    timer.settime(2**63, NSEC)
    text = dumps(checkpoint_host(host))
    restored = restore_host(loads(text))
    assert dumps(checkpoint_host(restored)) == text
    for h in (host, restored):
        h.run_for(10 * NSEC)
    assert dumps(checkpoint_host(restored)) == dumps(checkpoint_host(host))
    assert not sleeper.done and timer.fires == 0
