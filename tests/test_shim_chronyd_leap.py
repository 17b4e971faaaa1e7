"""The real chronyd around the 2016-12-31 leap second, on a simulated namespace (skips without
chronyd or a C compiler).

The client is Debian's chronyd 4.3, synchronised to the model server `tk_shim.ntp_server`
(whose namespace's kernel has STA_INS armed, so every reply carries leap indicator 1) from 20 s
before midnight, polling every second.  `tk_shim.chrony_leap` samples the client's namespace
every 100 ms around midnight against true UTC (the inserted second reads 23:59:59 again).
"""

from __future__ import annotations

import contextlib
import io
import itertools
from typing import Any

import pytest
from doc_blocks import DOCS, code_blocks, run_block
from shim_support import needs_cc

from ntp.timex import STA_INS, STA_UNSYNC
from tk_shim.chrony_leap import LEAP_2016, LeapTrace, RunSpec, run_real, run_smear
from tk_shim.daemon_config import Smoothtime
from tk_shim.daemons import find_daemon, skip_message

pytestmark = [needs_cc,
              pytest.mark.skipif(find_daemon("chronyd") is None, reason=skip_message("chronyd"))]
MS = 1_000_000
_RUNS: dict[str, LeapTrace] = {}


def real(mode: str) -> LeapTrace:
    """One run per mode for the whole module (about 2 s of wall time each)."""
    if mode not in _RUNS:
        _RUNS[mode] = run_real(mode)
    return _RUNS[mode]


def _between(trace: LeapTrace, lo: float, hi: float) -> list[Any]:
    return [s for s in trace.samples if LEAP_2016 + lo <= s.true_unix < LEAP_2016 + hi]


def _backward_steps(trace: LeapTrace) -> list[int]:
    return [a.realtime_ns - b.realtime_ns for a, b in itertools.pairwise(trace.samples)
            if b.realtime_ns < a.realtime_ns]


def test_system_mode_the_namespace_kernel_inserts_the_leap() -> None:
    trace = real("system")
    log = trace.logs["client"]
    assert "System clock status set to insert leap second" in log, log
    # chronyd armed STA_INS through adjtimex: the readback shows it until chronyd's leap
    # end, 2 s after 23:59:59.5 on its own (stepped-back) REALTIME, i.e. true 00:00:02.5
    assert all(s.status & STA_INS for s in _between(trace, -10, 2.4))
    assert not any(s.status & STA_INS for s in _between(trace, 2.6, 16))
    # the namespace's own kernel state machine ran the leap
    assert trace.states() == ["TIME_OK", "TIME_INS", "TIME_OOP", "TIME_WAIT", "TIME_OK"]
    # REALTIME repeats 23:59:59: the last second of the year is read twice
    seconds = [s.realtime_ns // 10**9 for s in _between(trace, -1, 1)]
    assert seconds == [LEAP_2016 - 1] * 20
    assert len(_backward_steps(trace)) == 1
    # and it stays on UTC throughout (chronyd drops the samples within 5 s of midnight)
    assert max(abs(s.offset_ns) for s in trace.samples) < MS // 10
    assert "Dropping sample around leap second" in log


def test_step_mode_chronyd_steps_the_clock_back_itself() -> None:
    trace = real("step")
    assert "System clock was stepped for leap second" in trace.logs["client"]
    # no leap armed in the kernel: its state machine never leaves TIME_OK
    assert not any(s.status & STA_INS for s in trace.samples)
    assert trace.states() == ["TIME_OK"]
    back = _backward_steps(trace)
    assert len(back) == 1 and 899 * MS < back[0] < 901 * MS  # 1 s minus the 100 ms sampling
    assert max(abs(s.offset_ns) for s in trace.samples) < MS // 10


def test_slew_mode_slews_the_second_away_at_the_default_maxslewrate() -> None:
    trace = real("slew")
    assert "Adjusting system clock for leap second" in trace.logs["client"]
    assert not _backward_steps(trace) and trace.states() == ["TIME_OK"]
    after = trace.after()
    first = after[0]  # 50 ms after midnight: almost the whole second ahead of UTC
    assert 990 * MS < first.offset_ns <= 1000 * MS
    # 83333 ppm = 1/12: the offset falls 1/12 s per second while the slew runs
    a, b = _between(trace, 1, 1.1)[0], _between(trace, 9, 9.1)[0]
    rate = (a.offset_ns - b.offset_ns) / float(b.true_unix - a.true_unix) / 1e9
    assert abs(rate - 1 / 12) < 1e-3
    # about 12 s to absorb it, a few ms of overshoot, then within 1 ms from 14 s on
    assert all(s.offset_ns > 100 * MS for s in _between(trace, 0, 10))
    assert all(abs(s.offset_ns) < MS for s in _between(trace, 14, 16))
    assert min(s.offset_ns for s in after) > -10 * MS


def _check_smear(trace: LeapTrace) -> None:
    """smoothtime 400 0.001024 leaponly with leapsecmode slew (chrony.conf(5)'s leap smear):
    the served time does not step, so the client runs on, one second ahead of UTC just after
    midnight, and decays over about 17 hours (2·sqrt(1 s / 0.001024 ppm/s))."""
    smear, client = trace.logs["smear"], trace.logs["client"]
    assert "Time smoothing activated (leap seconds only)" in smear, smear
    assert "Adjusting system clock for leap second" in smear
    assert "Selected source 10.0.0.3" in client, client
    assert "leap" not in client.lower()  # the client never hears of the leap
    assert not _backward_steps(trace) and trace.states() == ["TIME_OK"]
    # REALTIME never jumps: between samples it advances with true time (UTC steps back)
    drift = [abs((b.realtime_ns - a.realtime_ns) - int((b.true_unix - a.true_unix) * 10**9))
             for a, b in itertools.pairwise(trace.samples)]
    assert max(drift) < MS // 10
    after = trace.after(1)
    assert all(990 * MS < s.offset_ns < 1001 * MS for s in after)
    assert after[-1].offset_ns <= after[0].offset_ns  # decaying, slowly
    assert all(s.status & STA_UNSYNC for s in trace.samples)  # no rtcsync: chronyd on Linux
    assert Smoothtime().directive() == "smoothtime 400 0.001024 leaponly"


def test_a_smearing_chronyd_server_keeps_its_client_continuous() -> None:
    _check_smear(run_smear(RunSpec(lead_s=20, span_s=10, poll=0, fine_to_s=2)))


@pytest.mark.soak
def test_smearing_chronyd_for_ten_minutes() -> None:
    """Ten simulated minutes after the leap (about a minute of wall time)."""
    trace = run_smear(RunSpec(lead_s=60, span_s=600, poll=0, fine_to_s=5))
    _check_smear(trace)
    # the smear's quadratic start: w·t²/2 = 0.001024 ppm/s · (600 s)² / 2 ≈ 0.18 ms, and
    # the client follows within a few tens of µs
    assert 0.05 * MS < trace.after(1)[0].offset_ns - trace.samples[-1].offset_ns < 1 * MS


def test_the_python_api_example_of_the_docs_runs() -> None:
    """docs/real-daemons.md spells the system-mode run out with the Python API: it runs."""
    doc = DOCS / "real-daemons.md"
    blocks = code_blocks(doc)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        run_block(doc, len(blocks) - 1, blocks[-1], {})
    assert "System clock status set to insert leap second" in out.getvalue(), out.getvalue()
