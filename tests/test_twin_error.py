"""A lazy timekeeper follows the ntp_error of its tick-by-tick twin in closed form
(`Timekeeper.twin_ntp_error`, `follow_dither`), so a clear keeps only how far it trails."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_checkpoint_validation import resign

from ntp import Timex
from ntp.timex import ADJ_FREQUENCY
from tk_core import CLOCK_MONOTONIC, Host
from tk_core.checkpoint import CheckpointError, checkpoint_host, dumps, loads, restore_host
from tk_core.timekeeper import follow_dither

S = 10**9


def dither_tick_by_tick(error: int, intervals: int, rate_off: int, step: int) -> int:
    """The kernel's rule, one interval at a time: the dither is on while ntp_error > 0."""
    for _ in range(intervals):
        error += rate_off - step if error > 0 else rate_off
    return error


@settings(max_examples=300, deadline=None)
@given(
    error=st.integers(-10**6, 10**6),
    intervals=st.integers(0, 3000),
    rate_off=st.integers(-2000, 2000),
    step=st.integers(1, 2000),
)
def test_follow_dither_equals_the_tick_by_tick_rule(error, intervals, rate_off, step):
    assert follow_dither(error, intervals, rate_off, step) == dither_tick_by_tick(
        error, intervals, rate_off, step)


def _twins_after_a_rate_change(version: str):
    host = Host(hz=100, realtime_ns=1_700_000_000 * S, kernel_version=version)
    twins = [host.create_namespace(u, update=u) for u in ("lazy", "periodic")]
    host.run_for(1_300_000_000)
    for ns in twins:
        ns.adjtimex(Timex(modes=ADJ_FREQUENCY, freq=-50 * 65536))
    host.run_for(1_700_000_000)
    return host, twins


def test_twin_error_is_what_the_periodic_twin_holds():
    """7.3 books about -500 ns for -50 ppm at HZ 100; the periodic twin has worked part of
    it off 1.7 s later, and the lazy twin's estimate, brought to the same tick, agrees."""
    _, (lazy, per) = _twins_after_a_rate_change("7.3")
    lazy.adjtimex(Timex())  # catches the lazy twin up to the last tick
    assert per.tk.ntp_error >> 32 < -300
    assert abs(lazy.tk.twin_ntp_error - per.tk.ntp_error) >> 32 <= 2
    assert lazy.tk.cycle_last == per.tk.cycle_last


def test_a_periodic_timekeeper_keeps_no_twin():
    _, (_, per) = _twins_after_a_rate_change("7.3")
    assert per.tk.twin_ntp_error == 0
    assert "twin_ntp_error" not in per.tk.snapshot()


def test_checkpoint_carries_the_twin_error():
    host, (lazy, _) = _twins_after_a_rate_change("7.3")
    lazy.adjtimex(Timex())
    assert lazy.tk.twin_ntp_error != 0
    restored = restore_host(loads(dumps(checkpoint_host(host))))
    twin = restored.namespaces["lazy"].tk
    assert twin.twin_ntp_error == lazy.tk.twin_ntp_error
    for h in (host, restored):
        h.run_for(3 * S)
    assert (restored.namespaces["lazy"].clock_gettime_ns(CLOCK_MONOTONIC)
            == lazy.clock_gettime_ns(CLOCK_MONOTONIC))


def _edit_twin(node, value):
    """Drop (value None) or set every twin_ntp_error in a checkpoint document; how many."""
    found = 0
    if isinstance(node, dict):
        if "twin_ntp_error" in node:
            found += 1
            if value is None:
                del node["twin_ntp_error"]
            else:
                node["twin_ntp_error"] = value
        for child in node.values():
            found += _edit_twin(child, value)
    elif isinstance(node, list):
        for child in node:
            found += _edit_twin(child, value)
    return found


def test_a_checkpoint_without_the_twin_error_still_restores():
    """Documents written before the field existed restore, with a twin error of 0."""
    host, (lazy, _) = _twins_after_a_rate_change("7.3")
    lazy.adjtimex(Timex())
    doc = loads(dumps(checkpoint_host(host)))
    assert _edit_twin(doc, None) == 1
    assert restore_host(resign(doc)).namespaces["lazy"].tk.twin_ntp_error == 0


def test_a_bad_twin_error_is_a_checkpoint_error_naming_the_field():
    host, (lazy, _) = _twins_after_a_rate_change("7.3")
    lazy.adjtimex(Timex())
    doc = loads(dumps(checkpoint_host(host)))
    assert _edit_twin(doc, "-5") == 1
    with pytest.raises(CheckpointError, match="twin_ntp_error"):
        restore_host(resign(doc))
