"""The chrony model (`ntp.discipline.ChronyClient`) against the real chronyd around a leap.

`tk_shim.chrony_leap.run_real` and `run_model` run the same scenario: the 2016-12-31 leap,
start 20 s before midnight on UTC, poll every second, a 250 µs ± 20 µs path, the client
namespace sampled every 100 ms around midnight (`RunSpec()`).  The real chronyd is the
reference.  Its figures below were measured with Debian bookworm's chronyd 4.3
(`run_real(mode).metrics()`, and with ``RunSpec(client_extra=("rtcsync",))``); the soak test
measures them again and checks the constants still hold.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from gmpy2 import mpq
from hypothesis import given, settings
from hypothesis import strategies as st
from shim_support import needs_cc

from ntp.discipline import ChronyClient, ReferenceServer
from ntp.timex import STA_INS, STA_UNSYNC
from tk_core import Host
from tk_core.checkpoint import checkpoint_host, restore_host
from tk_core.checkpoint._format import _envelope
from tk_core.daemon import NtpDaemon
from tk_shim.chrony_leap import (
    LEAP_2016,
    LeapTrace,
    RunSpec,
    run_model,
    run_real,
    sample_times,
    true_utc_ns,
)
from tk_shim.daemons import find_daemon, skip_message

SAMPLES = 198  # RunSpec(): every second, and every 100 ms from 2 s before midnight to 16 s after
# Measured with the real chronyd 4.3 (see the module docstring).
REAL: dict[str, dict[str, Any]] = {
    "system": {"max_abs_offset_ms": 0.0035, "within_1ms_after_s": 0.0, "unsync": SAMPLES,
               "unsync_rtcsync": 1, "backward_steps": 1, "sta_ins_cleared_at_s": 2.55,
               "states": ["TIME_OK", "TIME_INS", "TIME_OOP", "TIME_WAIT", "TIME_OK"]},
    "step": {"max_abs_offset_ms": 0.0036, "within_1ms_after_s": 0.0, "unsync": SAMPLES,
             "unsync_rtcsync": 15, "backward_steps": 1, "sta_ins_cleared_at_s": None,
             "states": ["TIME_OK"]},
    "slew": {"max_abs_offset_ms": 995.831, "within_1ms_after_s": 13.05, "unsync": SAMPLES,
             "unsync_rtcsync": 1, "backward_steps": 0, "sta_ins_cleared_at_s": None,
             "states": ["TIME_OK"]},
}
# How close the model must come: offsets on UTC within 0.1 ms of the real ones; the slew's
# peak within 1 ms; its settling time within 1.5 s (the real chronyd eases off the last
# ~50 ms of its slew and overshoots by ~5 ms, the model slews at 1/12 to the end); STA_INS
# cleared within 0.2 s of the real chronyd; STA_UNSYNC in as many samples, up to a few
# around a step.
TOL = {"offset_ms": 0.1, "slew_peak_ms": 1.0, "settle_s": 1.5, "clear_s": 0.2, "unsync": 10}


def sta_ins_cleared_at(trace: LeapTrace) -> float | None:
    """True seconds after midnight of the first sample after it without STA_INS (None when
    STA_INS was never set)."""
    if not any(s.status & STA_INS for s in trace.samples):
        return None
    return next(float(s.true_unix - LEAP_2016) for s in trace.after()
                if not s.status & STA_INS)


def figures(trace: LeapTrace, rtcsync: LeapTrace) -> dict[str, Any]:
    m = trace.metrics()
    return {"max_abs_offset_ms": m["max_abs_offset_ms"],
            "within_1ms_after_s": m["within_1ms_after_s"], "unsync": m["unsync_samples"],
            "unsync_rtcsync": rtcsync.metrics()["unsync_samples"],
            "backward_steps": len(m["realtime_steps_back_ms"]),
            "sta_ins_cleared_at_s": sta_ins_cleared_at(trace), "states": m["states"]}


def agree(got: dict[str, Any], want: dict[str, Any], mode: str) -> None:
    limit = TOL["slew_peak_ms"] if mode == "slew" else TOL["offset_ms"]
    assert abs(got["max_abs_offset_ms"] - want["max_abs_offset_ms"]) <= limit, got
    assert abs(got["within_1ms_after_s"] - want["within_1ms_after_s"]) <= TOL["settle_s"], got
    assert got["unsync"] == want["unsync"], got
    assert abs(got["unsync_rtcsync"] - want["unsync_rtcsync"]) <= TOL["unsync"], got
    assert got["backward_steps"] == want["backward_steps"], got
    assert got["states"] == want["states"], got
    if want["sta_ins_cleared_at_s"] is None:
        assert got["sta_ins_cleared_at_s"] is None, got
    else:
        assert abs(got["sta_ins_cleared_at_s"] - want["sta_ins_cleared_at_s"]) <= TOL["clear_s"]


@pytest.mark.parametrize("mode", ["system", "step", "slew"])
def test_the_model_agrees_with_the_real_chronyd_around_a_leap(mode: str) -> None:
    got = figures(run_model(mode), run_model(mode, RunSpec(client_extra=("rtcsync",))))
    agree(got, REAL[mode], mode)


def test_without_rtcsync_the_model_leaves_sta_unsync_set_like_chronyd() -> None:
    """chronyd on Linux clears STA_UNSYNC only with ``rtcsync``: the model did it always."""
    trace = run_model("system")
    assert all(s.status & STA_UNSYNC for s in trace.samples)
    synced = run_model("system", RunSpec(client_extra=("rtcsync",)))
    assert not any(s.status & STA_UNSYNC for s in synced.after())


@pytest.mark.soak
@needs_cc
@pytest.mark.skipif(find_daemon("chronyd") is None, reason=skip_message("chronyd"))
@pytest.mark.parametrize("mode", ["system", "step", "slew"])
def test_the_recorded_real_figures_still_hold(mode: str) -> None:
    """Measure the real chronyd again (about 5 s of wall time per mode)."""
    got = figures(run_real(mode), run_real(mode, RunSpec(client_extra=("rtcsync",))))
    want = REAL[mode]
    assert got["states"] == want["states"] and got["unsync"] == want["unsync"], got
    assert got["backward_steps"] == want["backward_steps"], got
    assert abs(got["max_abs_offset_ms"] - want["max_abs_offset_ms"]) <= 0.01, got
    assert abs(got["within_1ms_after_s"] - want["within_1ms_after_s"]) <= 0.3, got
    assert abs(got["unsync_rtcsync"] - want["unsync_rtcsync"]) <= 2, got
    if want["sta_ins_cleared_at_s"] is not None:
        assert abs(got["sta_ins_cleared_at_s"] - want["sta_ins_cleared_at_s"]) <= 0.1, got


def _chrony_host(rtcsync: bool) -> Host:
    host = Host(realtime_ns=(LEAP_2016 - 100) * 10**9)
    ns = host.create_namespace("c")
    NtpDaemon(ns, ChronyClient(poll_exp=2, rtcsync=rtcsync), ReferenceServer()).start()
    host.run_for(30 * 10**9)
    return host


def _agent(host: Any) -> Any:
    return next(a for a in host.namespaces["c"].agents if isinstance(a, NtpDaemon))


@pytest.mark.parametrize("rtcsync", [False, True])
def test_a_checkpoint_carries_rtcsync(rtcsync: bool) -> None:
    doc = checkpoint_host(_chrony_host(rtcsync))
    restored = restore_host(doc)
    assert _agent(restored).client.rtcsync is rtcsync
    restored.run_for(10 * 10**9)  # and the restored client keeps the status word the same way
    assert bool(restored.namespaces["c"].ntp.time_status & STA_UNSYNC) is not rtcsync


def test_an_older_checkpoint_without_rtcsync_restores_it_on() -> None:
    state = checkpoint_host(_chrony_host(False))["state"]
    clients = [a["client"] for a in state["agents"] if a.get("type") == "ntp_daemon"]
    assert [c.pop("rtcsync") for c in clients] == [False]
    assert _agent(restore_host(_envelope("host", state))).client.rtcsync is True


@settings(max_examples=50)
@given(st.integers(-10 * 10**9, 10 * 10**9))
def test_true_utc_repeats_the_last_second_of_the_year(true_ns: int) -> None:
    """Before midnight UTC is true time; from then on one second less, so the inserted
    second reads 23:59:59 again (as the kernel's REALTIME does)."""
    utc = true_utc_ns(LEAP_2016 + mpq(true_ns, 10**9), LEAP_2016)
    expected = LEAP_2016 * 10**9 + true_ns - (10**9 if true_ns >= 0 else 0)
    assert utc == expected


@settings(max_examples=20)
@given(st.integers(5, 60), st.integers(1, 30), st.sampled_from([50, 100, 250]))
def test_sample_times_keep_off_the_second_boundaries(lead: int, span: int, step: int) -> None:
    times = sample_times(lead, span, 2, min(span, 16), step)
    assert times == sorted(set(times)) and times[0] > 0 and times[-1] < lead + span
    assert all(t.denominator != 1 for t in times)  # never on a whole second
    fine = [t for t in times if lead - 2 < t < lead + min(span, 16) - 1]
    gaps = {b - a for a, b in itertools.pairwise(fine)}
    assert gaps == {mpq(step, 1000)}


@pytest.mark.soak
@needs_cc
@pytest.mark.skipif(find_daemon("chronyd") is None, reason=skip_message("chronyd"))
@pytest.mark.parametrize("mode", ["system", "step", "slew"])
def test_model_and_real_with_64s_polls_for_half_an_hour_after_the_leap(mode: str) -> None:
    """10 minutes before midnight to 30 after, 64 s polls (about 4 s of wall time): no
    excursion after the leap in either, the same slew, the same status words."""
    spec = RunSpec(lead_s=600, span_s=1800, poll=6)
    real_m, model_m = run_real(mode, spec).metrics(), run_model(mode, spec).metrics()
    if mode == "slew":
        assert abs(real_m["max_abs_offset_ms"] - model_m["max_abs_offset_ms"]) < 1.0
        assert abs(real_m["within_1ms_after_s"] - model_m["within_1ms_after_s"]) <= 0.3
    else:
        assert real_m["max_abs_offset_ms"] < 0.5 and model_m["max_abs_offset_ms"] < 0.5
    assert real_m["unsync_samples"] == model_m["unsync_samples"] == real_m["samples"]
    assert real_m["states"] == model_m["states"]
    assert len(real_m["realtime_steps_back_ms"]) == len(model_m["realtime_steps_back_ms"])
