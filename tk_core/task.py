"""Tasks: the callers of syscall-shaped methods, with capabilities.

A namespace object acts as its own privileged owner; a `Task` spawned into it carries an
explicit capability set and every call is checked against it, as the kernel checks
`capable(CAP_SYS_TIME)`.  Capability strings:

* ``"CAP_SYS_TIME"`` — held in the user namespace that owns the task's time namespace;
* ``"CAP_SYS_TIME:host"`` — held over the host (the initial user namespace); implies the
  local one.  Only this lets a task in a Linux-style ``offsets`` namespace steer or set the
  host clock, because there REALTIME *is* the host's;
* ``"CAP_SYS_ADMIN"`` (and ``":host"``) for entering namespaces.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from collections.abc import Callable

    from ntp.timex import Timex

    from .namespace import Namespace
    from .posix_timers import PosixTimer, Sleeper
    from .timerfd import TimerFd

CAP_SYS_TIME = "CAP_SYS_TIME"
CAP_SYS_ADMIN = "CAP_SYS_ADMIN"
HOST_SUFFIX = ":host"
#: clone(2) flags the task model understands (uapi/linux/sched.h).
CLONE_VM = 0x00000100
CLONE_SIGHAND = 0x00000800
CLONE_VFORK = 0x00004000
CLONE_THREAD = 0x00010000
CLONE_FLAGS = CLONE_VM | CLONE_SIGHAND | CLONE_VFORK | CLONE_THREAD
KNOWN_CAPS = frozenset(
    {CAP_SYS_TIME, CAP_SYS_ADMIN, CAP_SYS_TIME + HOST_SUFFIX, CAP_SYS_ADMIN + HOST_SUFFIX}
)


def eperm(what: str) -> OSError:
    return OSError(errno.EPERM, f"EPERM: {what}")


class Credentials:
    """Who is calling: the owner of a namespace (all local capabilities) or a task."""

    __slots__ = ("caps",)

    def __init__(self, caps: frozenset[str]) -> None:
        unknown = set(caps) - KNOWN_CAPS
        if unknown:
            raise ValueError(f"unknown capabilities {sorted(unknown)}; known: {sorted(KNOWN_CAPS)}")
        self.caps = caps

    def has(self, cap: str, *, over_host: bool = False) -> bool:
        """True if the caller holds `cap` locally, or over the host when `over_host`."""
        if cap + HOST_SUFFIX in self.caps:
            return True
        return not over_host and cap in self.caps


OWNER = Credentials(frozenset({CAP_SYS_TIME, CAP_SYS_ADMIN}))


class Task:
    """A task inside a namespace: the syscall boundary.

    Every method is one syscall-shaped call on the task's own namespace, made with the task's
    own credentials and checked the kernel's way.  Nothing else is forwarded: a task cannot
    reach its namespace's owner methods (`spawn` with any capabilities, `resume`,
    `timer_domain`, the namespace object itself).  See docs/security.md for what this
    boundary protects and what a Python object graph never can.
    """

    __slots__ = ("_children", "_ns", "creds", "pid")

    def __init__(self, namespace: Namespace, pid: int, caps: frozenset[str]) -> None:
        self._ns = namespace
        #: time_ns_for_children: where a fork (and, from 6.2, an execve) takes the task
        self._children = namespace
        self.pid = pid
        self.creds = Credentials(frozenset(caps))

    @property
    def namespace_name(self) -> str:
        """The name of the namespace this task lives in."""
        return self._ns.name

    @property
    def children_namespace_name(self) -> str:
        """`/proc/PID/ns/time_for_children`: the namespace a forked child enters."""
        return self._children.name

    # -- clocks -----------------------------------------------------------------------

    def clock_gettime_ns(self, clockid: int) -> int:
        return self._ns.clock_gettime_ns(clockid)

    def clock_getres_ns(self, clockid: int) -> int:
        return self._ns.clock_getres_ns(clockid)

    def clock_settime_ns(self, clockid: int, value_ns: int) -> None:
        self._ns.clock_settime_ns(clockid, value_ns, creds=self.creds)

    def adjtimex(self, tx: Timex) -> int:
        return self._ns.adjtimex(tx, creds=self.creds)

    def clock_adjtime(self, clockid: int, tx: Timex) -> int:
        return self._ns.clock_adjtime(clockid, tx, creds=self.creds)

    def adjtime(self, delta_us: int | None) -> int:
        return self._ns.adjtime(delta_us, creds=self.creds)

    # -- timers (no capability is needed for the modelled clocks) ---------------------

    def timer_create(
        self, clockid: int, callback: Callable[[PosixTimer, int], None] | None = None
    ) -> PosixTimer:
        return self._ns.timer_create(clockid, callback)

    def clock_nanosleep(
        self,
        clockid: int,
        value_ns: int,
        absolute: bool = False,
        callback: Callable[[Sleeper], None] | None = None,
    ) -> Sleeper:
        return self._ns.clock_nanosleep(clockid, value_ns, absolute, callback)

    def timerfd_create(self, clockid: int) -> TimerFd:
        return self._ns.timerfd_create(clockid)

    # -- /proc and /sys files ---------------------------------------------------------

    # /proc/PID/timens_offsets names the task's time_ns_for_children (`timens_for_children_get`)

    def timens_offsets_read(self) -> str:
        return cast(str, self._call("timens_offsets_read"))

    def timens_offsets_write(self, text: str) -> int:
        return cast(int, self._call("timens_offsets_write", text, creds=self.creds))

    def set_offsets(self, monotonic_ns: int | None = None, boottime_ns: int | None = None) -> None:
        self._call("set_offsets", monotonic_ns, boottime_ns, creds=self.creds)

    def aux_clock_enable_read(self, index: int) -> str:
        return self._ns.aux_clock_enable_read(index)

    def aux_clock_enable_write(self, index: int, text: str, *, euid: int = 0) -> int:
        return self._ns.aux_clock_enable_write(index, text, self.creds, euid=euid)

    # -- processes --------------------------------------------------------------------

    def spawn(self, caps: frozenset[str] | set[str] | tuple[str, ...] = frozenset()) -> Task:
        """`fork` + capset: a child in the same namespace with at most this task's caps.

        A capability the parent lacks cannot be granted (EPERM), as capset refuses to raise
        a permitted set.
        """
        wanted = Credentials(frozenset(caps))
        extra = {c for c in wanted.caps if not self.creds.has(c.removesuffix(HOST_SUFFIX),
                                                               over_host=c.endswith(HOST_SUFFIX))}
        if extra:
            raise eperm(f"a task cannot give its child capabilities it lacks: {sorted(extra)}")
        return self._children.spawn(wanted.caps)

    def unshare_time(self, name: str, model: str = "offsets") -> None:
        """`unshare(CLONE_NEWTIME)`: a new time namespace for this task's future children.

        Needs CAP_SYS_ADMIN (EPERM otherwise; `create_new_namespaces` → `copy_time_ns`).  The
        new namespace (named `name`) copies the offsets of the current time_ns_for_children
        and becomes the new one; the task itself stays where it is.  A fork enters it and
        freezes its offsets; until then /proc/PID/timens_offsets (`timens_offsets_write`)
        sets them.  `model="timekeeper"` makes an engine timekeeper namespace instead; an
        `offsets` namespace sits on the host timekeeper, so it can only be made below the
        root or another offsets namespace (EINVAL otherwise).
        """
        if not self.creds.has(CAP_SYS_ADMIN):
            raise eperm("unshare(CLONE_NEWTIME) needs CAP_SYS_ADMIN")
        parent = self._children
        if model == "offsets" and parent.model == "timekeeper" and parent is not parent.host.root:
            raise OSError(errno.EINVAL, "EINVAL: an offsets namespace cannot be made inside "
                          f"the timekeeper namespace {parent.name!r} (it would read the host's "
                          "clocks)")
        self._children = parent.host.create_namespace(name, model, parent=parent)

    def clone(self, flags: int) -> Task:
        """`clone(2)` with CLONE_VM, CLONE_SIGHAND, CLONE_VFORK and/or CLONE_THREAD.

        `copy_process`: CLONE_THREAD needs CLONE_SIGHAND, CLONE_SIGHAND needs CLONE_VM (EINVAL).
        A child sharing the parent's memory (CLONE_VM) shares its nsproxy (`copy_namespaces`):
        it lives in the parent's namespace with the same time_ns_for_children.  Before 6.2 such
        a clone fails with EINVAL while the two namespaces differ (after `unshare_time`).  A
        child without CLONE_VM is a fork: it enters time_ns_for_children (`timens_on_fork`).
        The child has the parent's capabilities.
        """
        if not isinstance(flags, int) or isinstance(flags, bool):
            raise TypeError(f"clone flags must be an int, got {type(flags).__name__}")
        if flags & ~CLONE_FLAGS:
            raise OSError(errno.EINVAL, f"EINVAL: clone flags {flags & ~CLONE_FLAGS:#x} are "
                          "not modelled (known: CLONE_VM, CLONE_SIGHAND, CLONE_VFORK, "
                          "CLONE_THREAD)")
        if flags & CLONE_THREAD and not flags & CLONE_SIGHAND:
            raise OSError(errno.EINVAL, "EINVAL: CLONE_THREAD needs CLONE_SIGHAND")
        if flags & CLONE_SIGHAND and not flags & CLONE_VM:
            raise OSError(errno.EINVAL, "EINVAL: CLONE_SIGHAND needs CLONE_VM")
        if not flags & CLONE_VM:
            return self._children.spawn(self.creds.caps)
        if self._children is not self._ns and not self._ns.host.behaviour.timens_exec_switch:
            raise OSError(errno.EINVAL, "EINVAL: a thread or CLONE_VM child cannot share the "
                          "memory of a task whose children get another time namespace "
                          "(kernels before 6.2)")
        child = self._ns.spawn(self.creds.caps)
        child._children = self._children
        return child

    def execve(self) -> None:
        """`execve(2)`: from 6.2 a task whose time_ns_for_children differs enters it.

        `exec_task_namespaces` switches the task into time_ns_for_children, which freezes that
        namespace's offsets (`timens_commit`); before 6.2 execve leaves the namespaces alone.
        The task keeps its capabilities (as a root task, or one whose capabilities are
        ambient, would: the engine has no user ids or file capabilities) and its timers.
        """
        new = self._children
        if new is self._ns or not new.host.behaviour.timens_exec_switch:
            return
        self._ns.tasks.remove(self)
        new.tasks.append(self)
        new.frozen = True
        self._ns = new

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        ns = self._children
        method = getattr(type(ns), name, None)
        if method is None:
            raise OSError(errno.EINVAL, f"EINVAL: {name} does not exist in a "
                          f"{ns.model} namespace")
        return method(ns, *args, **kwargs)

    def __repr__(self) -> str:
        return f"Task(pid={self.pid}, ns={self._ns.name!r}, caps={sorted(self.creds.caps)})"
