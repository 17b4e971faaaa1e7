"""Structured teaching events, off by default and cheap when off.

Every decision worth teaching (an accumulation, a mult change, a leap transition, an adjtimex
call, a timer re-arm) is reported through :func:`emit`.  Hot paths guard the call with
``if TRACE.enabled:`` so that a disabled tracer costs one attribute load and no allocation.

The events are plain structlog events; :func:`enable` routes them to any structlog-compatible
logger (the scenario runner writes them as JSON lines).  This module lives in ``ntp`` because
``ntp`` is the bottom of the dependency graph: ``tk_core`` imports it, never the reverse.
"""

from __future__ import annotations

from typing import Any

import structlog


class Tracer:
    """Holds whether tracing is on and where events go."""

    __slots__ = ("enabled", "logger")

    def __init__(self) -> None:
        self.enabled = False
        self.logger: Any = None


TRACE = Tracer()


def enable(logger: Any | None = None) -> None:
    """Start emitting events to ``logger`` (a structlog bound logger; default: structlog's)."""
    TRACE.logger = logger if logger is not None else structlog.get_logger("timekeepers")
    TRACE.enabled = True


def disable() -> None:
    """Stop emitting events."""
    TRACE.enabled = False
    TRACE.logger = None


def emit(event: str, **fields: Any) -> None:
    """Emit one event if tracing is on.  Callers on hot paths check ``TRACE.enabled`` first."""
    if TRACE.enabled:
        TRACE.logger.info(event, **fields)
