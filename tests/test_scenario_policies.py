"""Leap policies and NTP daemons in scenarios: a kernel step, a smear, a chrony client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tk_core.scenario import features, load_text, run_scenario

AROUND_THE_LEAP = """\
[scenario]
name = "leap"
description = "twenty minutes around the 2016 leap"
duration = "20min"
sample_every = "5s"
seed = 4

[host]
start = 2016-12-31T23:50:00Z
leap = "ignore"

[host.clocksource]
freq_hz = "2GHz"

[[namespaces]]
name = "step"

[[namespaces]]
name = "ignore"
leap = "ignore"

[[namespaces]]
name = "windows"
leap = "windows"

[[events]]
at = "0s"
action = "leap"
date = 2016-12-31
"""


@pytest.mark.skipif(not features.follow_available(), reason="needs tk_core.policy.follow")
def test_step_ignore_and_smear_through_the_leap() -> None:
    result = run_scenario(load_text(AROUND_THE_LEAP))
    spaces = result.summary["namespaces"]
    assert spaces["step"]["realtime_backward_steps"] == 1
    assert spaces["step"]["offset_utc_ns"]["max_abs"] == 0
    assert spaces["ignore"]["offset_utc_ns"]["final"] == 10**9
    assert spaces["windows"]["realtime_backward_steps"] == 0
    assert abs(spaces["windows"]["offset_utc_ns"]["final"]) < 1_000_000
    assert result.summary["checks"]["ok"]


@pytest.mark.skipif(not features.discipline_available(), reason="needs ntp.discipline")
def test_chrony_client_converges() -> None:
    text = AROUND_THE_LEAP.replace('duration = "20min"', 'duration = "10min"').replace(
        '[[events]]\nat = "0s"\naction = "leap"\ndate = 2016-12-31\n', ""
    ) + (
        '\n[[namespaces]]\nname = "chrony"\nntp = { model = "chrony", poll_exp = 2, '
        'path = { jitter = "10us" } }\n'
    )
    text = text.replace("error_ppm = 0", "")
    text = text.replace('freq_hz = "2GHz"', 'freq_hz = "2GHz"\nerror_ppm = 25')
    result = run_scenario(load_text(text))
    chrony = result.summary["namespaces"]["chrony"]
    assert abs(chrony["offset_utc_ns"]["final"]) < 200_000
    assert abs(result.summary["namespaces"]["ignore"]["offset_utc_ns"]["final"]) > 10_000_000


def test_step_arms_itself_from_the_leap_table() -> None:
    """Without any leap event a `step` namespace still steps: it follows the leap table,
    as the smears do.  A namespace with its own NTP daemon is left to the daemon."""
    text = AROUND_THE_LEAP.split("[[events]]")[0]
    result = run_scenario(load_text(text))
    spaces = result.summary["namespaces"]
    assert spaces["step"]["realtime_backward_steps"] == 1
    assert spaces["step"]["offset_utc_ns"]["max_abs"] == 0
    assert spaces["ignore"]["realtime_backward_steps"] == 0
    assert spaces["ignore"]["offset_utc_ns"]["final"] == 10**9
    assert spaces["root"]["realtime_backward_steps"] == 0  # the host here ignores leaps


def test_step_outside_the_run_arms_nothing() -> None:
    text = AROUND_THE_LEAP.split("[[events]]")[0].replace("2016-12-31T23:50:00Z",
                                                          "2016-06-30T23:50:00Z")
    result = run_scenario(load_text(text))
    assert result.summary["namespaces"]["step"]["realtime_backward_steps"] == 0


def test_a_policy_that_cannot_be_followed_says_so(tmp_path: Path) -> None:
    """The windows smear needs −50 % for 2 s; adjtimex reaches ±10.05 %: the summary, the
    report and the terminal all say so, with the follower's tracking error."""
    from tk_core.cli import main

    path = tmp_path / "leap.toml"
    path.write_text(AROUND_THE_LEAP, "utf-8")
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "-q"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    follower = summary["namespaces"]["windows"]["leap_policy"]
    assert follower["rate_clamped"] and follower["tracking_error_max_ns"] > 500_000_000
    assert summary["warnings"] == follower["warnings"]
    assert "adjtimex reaches at most" in summary["warnings"][0]
    assert "Warnings" in (out / "report.html").read_text()
    assert "leap_policy" not in summary["namespaces"]["step"]


def test_a_synchronised_chrony_client_clears_sta_unsync() -> None:
    """chronyd's set_sync_status writes maxerror/esterror with STA_UNSYNC cleared on every
    update; without maxerror the kernel sets STA_UNSYNC again a second later."""
    text = """
[scenario]
name = "sync"
description = "a chrony client's status word"
duration = "2h"
sample_every = "60s"

[host]
start = 2017-06-01T00:00:00Z

[host.clocksource]
freq_hz = "2GHz"
error_ppm = 20

[[namespaces]]
name = "client"
ntp = { model = "chrony", poll_exp = 6 }
"""
    rows: list[list[str]] = []
    result = run_scenario(load_text(text), sink=rows.append)
    client = [r for r in rows if r[2] == "client"]
    unsynced = [r for r in client if "UNSYNC" in r[15]]
    assert len(unsynced) <= 2  # only before the first update
    assert all(r[14] == "TIME_OK" for r in client[2:])
    assert result.host is not None
    ntp = result.host.namespaces["client"].ntp
    # maxerror grows 500 µs a second between the 64 s polls
    assert 0 < ntp.time_maxerror < 64 * 500 + 10_000 and 0 < ntp.time_esterror < 10_000
