"""Timers in scenarios: every expiry measured in its own clock, none early."""

from __future__ import annotations

from pathlib import Path

import pytest

from tk_core.cli import main
from tk_core.scenario import features, load_text, run_scenario

pytestmark = pytest.mark.skipif(
    not features.timers_available(), reason="needs the timers API (issue 4)"
)

STORM = """\
[scenario]
name = "storm"
description = "timers in plain, slewing and dilated namespaces"
duration = "3s"
sample_every = "500ms"

[host]
start = 2024-01-01T00:00:00Z
hz = 250

[[namespaces]]
name = "plain"

[[namespaces]]
name = "slewing"

[[namespaces]]
name = "dilated"
dilation = 2

[[events]]
at = "100ms"
action = "adjtimex"
namespace = "slewing"
modes = ["ADJ_OFFSET", "ADJ_STATUS", "ADJ_NANO"]
offset = "30ms"
status = ["STA_PLL"]

[[timers]]
namespace = "plain"
value = "10ms"
interval = "10ms"
count = 200
copies = 5
stagger = "1ms"

[[timers]]
namespace = "slewing"
value = "10ms"
interval = "10ms"
count = 200
copies = 5

[[timers]]
namespace = "dilated"
clock = "CLOCK_REALTIME"
absolute = true
value = 2024-01-01T00:00:00.5Z
interval = "50ms"
count = 10
"""


def test_every_expiry_is_measured_and_none_is_early() -> None:
    result = run_scenario(load_text(STORM))
    spaces = result.summary["namespaces"]
    assert spaces["plain"]["timers"]["fires"] == 1000
    assert spaces["slewing"]["timers"]["fires"] == 1000
    assert spaces["dilated"]["timers"]["fires"] == 10
    for ns in spaces.values():
        assert ns["timers"]["early_fires"] == 0
        late = ns["timers"]["lateness_ns"]
        if ns["timers"]["fires"]:
            assert 0 <= late["p50"] <= late["p99"] <= late["max"]
    assert result.summary["checks"]["ok"]


def test_lateness_histogram_is_written(tmp_path: Path) -> None:
    path = tmp_path / "storm.toml"
    path.write_text(STORM)
    assert main(["run", str(path), "--out", str(tmp_path / "o"), "-q"]) == 0
    assert (tmp_path / "o" / "timer_lateness.png").stat().st_size > 10_000


def test_timer_values_are_checked() -> None:
    from tk_core.scenario import ScenarioError

    bad = STORM.replace('value = "10ms"\ninterval', "value = 2024-01-01T00:00:01Z\ninterval", 1)
    bad = bad.replace("count = 10\n", 'count = 10\n\n[[timers]]\nvalue = "1s"\ncount = 3\n')
    with pytest.raises(ScenarioError) as info:
        load_text(bad)
    messages = {i.path(): i.message for i in info.value.issues}
    assert "relative timer needs a duration" in messages["timers[0].value"]
    assert "one-shot timer" in messages["timers[3].count"]
