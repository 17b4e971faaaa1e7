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

    __slots__ = ("_ns", "creds", "pid")

    def __init__(self, namespace: Namespace, pid: int, caps: frozenset[str]) -> None:
        self._ns = namespace
        self.pid = pid
        self.creds = Credentials(frozenset(caps))

    @property
    def namespace_name(self) -> str:
        """The name of the namespace this task lives in."""
        return self._ns.name

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
        return self._ns.spawn(wanted.caps)

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(type(self._ns), name, None)
        if method is None:
            raise OSError(errno.EINVAL, f"EINVAL: {name} does not exist in a "
                          f"{self._ns.model} namespace")
        return method(self._ns, *args, **kwargs)

    def __repr__(self) -> str:
        return f"Task(pid={self.pid}, ns={self._ns.name!r}, caps={sorted(self.creds.caps)})"
