"""Timer callbacks by name: what a checkpoint writes instead of code.

A checkpoint never carries code (restoring one must execute nothing from the document), so a
timer's callback is written as the name it was registered under here, and the restoring
program registers its own function under the same name before `restore_host` — as a
process restored by CRIU brings its own signal handlers.  Callbacks that are methods of a
daemon the checkpoint carries (an NTP client's poll timer) need no registration: they are
written as the daemon and the method.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._format import CheckpointError

#: name -> callback; `register_callback` fills it.
CALLBACKS: dict[str, Callable[..., Any]] = {}


def register_callback(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Register `fn` as the timer callback called `name` (returns `fn`: usable as a decorator
    factory's target).  Re-registering a name replaces its function (a restoring program
    brings its own); one function may have several names, the first registered is written.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a callback name must be a non-empty string, got {name!r}")
    if not callable(fn):
        raise TypeError(f"callback {name!r} must be callable, got {type(fn).__name__}")
    CALLBACKS[name] = fn
    return fn


def unregister_callback(name: str) -> None:
    """Forget the callback called `name` (no error if it is not registered)."""
    CALLBACKS.pop(name, None)


def callback_name(fn: Callable[..., Any], what: str) -> str:
    """The registered name of `fn`; CheckpointError naming `what` (the timer) if it has none."""
    for name, registered in CALLBACKS.items():
        if registered is fn or registered == fn:
            return name
    label = getattr(fn, "__qualname__", type(fn).__name__)
    raise CheckpointError(
        f"cannot checkpoint {what}: its callback {label} is not registered "
        "(tk_core.checkpoint.register_callback(name, fn), here and where it is restored)"
    )


def lookup_callback(name: str, path: str) -> Callable[..., Any]:
    """The function registered as `name` in this program, for a restore."""
    fn = CALLBACKS.get(name)
    if fn is None:
        raise CheckpointError(
            f"checkpoint field {path}: callback {name!r} is not registered in this program "
            "(register it with tk_core.checkpoint.register_callback before restoring)"
        )
    return fn
