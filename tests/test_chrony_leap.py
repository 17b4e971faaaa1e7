"""The chrony model around a leap second: chronyd drops samples close to a pending leap.

chronyd (reference.c, `REF_IsLeapSecondClose`) discards every measurement taken within 5 s of
midnight while a leap is due, and ends its leap handling 2 s after it started it (half a
second before midnight in `leapsecmode system`), clearing STA_INS itself.  Without the rule a
poll that lands on the leap stamps one side of the exchange before the inserted second and the
other after it: the sample reads as a −0.5 s offset and the client runs away by ~140 ms.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ntp.discipline import LEAP_INSERT, LEAP_NONE, NSEC, ChronyClient
from tk_core.scenario import features, load_text, run_scenario
from tk_core.scenario.recorder import COLUMNS

MIDNIGHT_S = 1_435_708_800  # 2015-07-01T00:00:00Z, just after the 2015 leap


@given(st.integers(-20, 20), st.integers(0, NSEC - 1))
def test_leap_is_close_window(second: int, nsec: int) -> None:
    client = ChronyClient()
    t = (MIDNIGHT_S + second) * NSEC + nsec
    assert not client.leap_is_close(t)
    client.leap_pending = LEAP_INSERT
    assert client.leap_is_close(t) == (-5 <= second < 5)
    client.leap_pending = LEAP_NONE
    assert not client.leap_is_close(t)


# The client polls every 64 s from 23:00:16, so its 57th poll is sent exactly at midnight.
POLL_ON_THE_LEAP = """\
[scenario]
name = "chrony-poll-on-the-leap"
description = "a chrony client whose poll lands on the 2015 leap second"
duration = "75min"
sample_every = "5s"
seed = 0

[host]
start = 2015-06-30T23:00:16Z
uptime = "1h"
hz = 1000

[host.clocksource]
name = "tsc"
freq_hz = "2GHz"
error_ppm = 20

[[namespaces]]
name = "client"
ntp = { model = "chrony", poll_exp = 6, server = "utc", leapsecmode = "LEAPSECMODE",\
 path = { delay = "250us", jitter = "100us" } }
"""


def _run_after_leap(mode: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Run the scenario; return its summary and the client's rows from 10 s after the leap."""
    rows: list[list[str]] = []
    result = run_scenario(load_text(POLL_ON_THE_LEAP.replace("LEAPSECMODE", mode)), rows.append)
    named = [dict(zip(COLUMNS, row, strict=False)) for row in rows]
    start_ns = (3584 + 1 + 10) * NSEC  # true_ns counts from the start; +1: the leap second
    after = [r for r in named if r["namespace"] == "client" and int(r["true_ns"]) >= start_ns]
    return result.summary, after


@pytest.mark.skipif(not features.discipline_available(), reason="needs ntp.discipline")
@pytest.mark.parametrize("mode", ["system", "step"])
def test_no_excursion_when_a_poll_lands_on_the_leap(mode: str) -> None:
    summary, after = _run_after_leap(mode)
    assert summary["checks"]["ok"]
    assert summary["namespaces"]["client"]["realtime_backward_steps"] == 1  # the leap, once
    # nothing ran away after it: every later sample within 100 µs of UTC ...
    assert len(after) > 150  # 15 minutes of 5 s samples
    assert max(abs(int(r["offset_utc_ns"])) for r in after) < 100_000
    # ... and the frequency stayed on the clock's own error, not thousands of ppm off
    assert max(abs(float(r["freq_ppm"])) for r in after if r["freq_ppm"]) < 25
    # chronyd clears STA_INS itself 1.5 s after midnight: no lingering TIME_WAIT
    assert all(r["ntp_state"] == "TIME_OK" for r in after)
