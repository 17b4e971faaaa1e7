"""What this version of the engine can run, asked of the engine itself.

The scenario schema covers work that is still being built (timers, leap/smear policies that
a namespace follows, NTP client models).  Rather than silently skipping those parts, the
schema asks these functions and fails with "not available in this version"; when the engine
grows the hook, the same scenario starts to run with no change here.
"""

from __future__ import annotations

import importlib.util


def timers_available() -> bool:
    """POSIX timers: `Namespace.timer_create(clockid, callback)` (the timers issue)."""
    from ..namespace import Namespace

    return hasattr(Namespace, "timer_create")


def _has(module: str, name: str) -> bool:
    if importlib.util.find_spec(module) is None:
        return False
    return hasattr(importlib.import_module(module), name)


def follow_available() -> bool:
    """Smear policies: `tk_core.policy.follow(ns, policy, …)` (or a `ns.follow` method)."""
    from ..namespace import TimekeeperNamespace

    return hasattr(TimekeeperNamespace, "follow") or _has("tk_core.policy", "follow")


def discipline_available() -> bool:
    """NTP clients: `tk_core.daemon.NtpDaemon` running `ntp.discipline` client models."""
    return _has("tk_core.daemon", "NtpDaemon") and _has("ntp.discipline", "ChronyClient")
