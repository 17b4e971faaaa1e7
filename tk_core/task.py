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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .namespace import Namespace

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
    """A task inside a namespace.  Its calls are the namespace's, checked against its caps."""

    __slots__ = ("creds", "namespace", "pid")

    def __init__(self, namespace: Namespace, pid: int, caps: frozenset[str]) -> None:
        self.namespace = namespace
        self.pid = pid
        self.creds = Credentials(frozenset(caps))

    def clock_gettime_ns(self, clockid: int) -> int:
        return self.namespace.clock_gettime_ns(clockid)

    def clock_settime_ns(self, clockid: int, value_ns: int) -> None:
        self.namespace.clock_settime_ns(clockid, value_ns, creds=self.creds)

    def adjtimex(self, tx: Any) -> int:
        return self.namespace.adjtimex(tx, creds=self.creds)

    def clock_adjtime(self, clockid: int, tx: Any) -> int:
        return self.namespace.clock_adjtime(clockid, tx, creds=self.creds)

    def adjtime(self, delta_us: int | None) -> int:
        return self.namespace.adjtime(delta_us, creds=self.creds)

    def __getattr__(self, name: str) -> Any:
        # Timer calls (timer_create, clock_nanosleep, timerfd_create) and other read-only
        # calls go to the namespace; the timer module checks credentials where Linux does.
        attr = getattr(self.namespace, name)
        if callable(attr) and name in self.namespace.CRED_CALLS:
            return lambda *a, **kw: attr(*a, creds=self.creds, **kw)
        return attr

    def __repr__(self) -> str:
        return f"Task(pid={self.pid}, ns={self.namespace.name!r}, caps={sorted(self.creds.caps)})"
