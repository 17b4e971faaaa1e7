"""Events on several namespaces, copies selected one by one, keys into short forms, --until."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tk_core.scenario import ScenarioError, load_scenario, load_text, run_scenario

BASE = """
[scenario]
name = "targets"
description = "events on several namespaces"
duration = "4min"
sample_every = "30s"
seed = 5

[host]
start = 2016-06-01T00:00:00Z

[host.clocksource]
freq_hz = "2GHz"

[[namespaces]]
name = "client"
count = 3
ntp = "chrony"

[[namespaces]]
name = "a"

[[namespaces]]
name = "b"
"""


def _final_offsets(text: str) -> dict[str, float]:
    result = run_scenario(load_text(text))
    return {n: v["offset_utc_ns"]["final"] for n, v in result.summary["namespaces"].items()}


def test_one_event_on_a_list_of_namespaces() -> None:
    offsets = _final_offsets(BASE + """
[[events]]
at = "1min"
action = "settime"
namespace = ["a", "b"]
by = "1s"
""")
    assert offsets["a"] == offsets["b"] == 1_000_000_000
    assert offsets["root"] == 0


def test_name_star_is_every_copy() -> None:
    loaded = load_text(BASE + """
[[events]]
at = "1min"
action = "setoffset"
namespace = ["client-*", "a"]
by = "-2ms"
""")
    targets = [ev.namespace for _, _, ev in loaded.resolved.events]  # type: ignore[attr-defined]
    assert targets == ["client-0", "client-1", "client-2", "a"]


def test_leap_namespaces_take_name_star() -> None:
    base = BASE.replace('ntp = "chrony"', "").replace("2016-06-01", "2016-12-31")
    loaded = load_text(base + """
[[events]]
at = "1min"
action = "leap"
date = 2016-12-31
namespaces = ["client-*"]
""")
    (_, _, ev), = loaded.resolved.events
    assert ev.namespaces == ["client-0", "client-1", "client-2"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ('["a", "a"]', "'a' twice"),
        ("[]", "at least one namespace"),
        ('["nobody-*"]', "no [[namespaces]] entry named 'nobody' with count > 1"),
        ('["a", "client"]', "no namespace named 'client'"),
    ],
)
def test_bad_target_lists_are_named(target: str, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_text(BASE + f"""
[[events]]
at = "1min"
action = "settime"
namespace = {target}
by = "1s"
""")
    text = err.value.render()
    assert message in text and "events[0].namespace" in text


def _file(tmp_path: Path, text: str = BASE) -> Path:
    path = tmp_path / "targets.toml"
    path.write_text(text, "utf-8")
    return path


def test_copies_are_named_in_order(tmp_path: Path) -> None:
    loaded = load_scenario(_file(tmp_path, BASE.replace("count = 3", "count = 10")))
    names = [n for n, _ in loaded.resolved.namespaces]
    assert names[:10] == [f"client-{i}" for i in range(10)]


def test_selecting_one_copy_changes_only_that_copy(tmp_path: Path) -> None:
    path = _file(tmp_path)
    loaded = load_scenario(path, sets=["namespaces[name=client-1].ntp.poll_exp=4"])
    polls = {n: s.ntp.poll_exp for n, s in loaded.resolved.namespaces}
    groups = {n: s.group_name for n, s in loaded.resolved.namespaces}
    assert polls == {"client-0": 6, "client-1": 4, "client-2": 6, "a": 6, "b": 6}
    assert groups["client-1"] == groups["client-2"] == "client"


def test_splitting_the_copies_keeps_every_result(tmp_path: Path) -> None:
    path = _file(tmp_path)
    plain = run_scenario(load_scenario(path)).summary
    split = run_scenario(load_scenario(path, sets=["namespaces[name=client-2].ntp.poll_exp=6"]))
    assert json.dumps(split.summary) == json.dumps(plain)


def test_a_key_reaches_inside_a_short_form(tmp_path: Path) -> None:
    path = _file(tmp_path)
    loaded = load_scenario(path, sets=["namespaces[0].ntp.poll_exp=5",
                                       "namespaces[1].leap.shape='cosine'",
                                       "namespaces[1].leap.policy='smear'"])
    specs = dict(loaded.resolved.namespaces)
    assert specs["client-0"].ntp.model == "chrony" and specs["client-0"].ntp.poll_exp == 5
    assert specs["a"].leap.shape == "cosine"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tk_core.cli", *args],
                          capture_output=True, text=True, check=False)


def test_until_ends_a_run_early(tmp_path: Path) -> None:
    path = _file(tmp_path)
    assert load_scenario(path, until="1min").resolved.duration_ns == 60 * 10**9
    assert load_scenario(path, until="4min").resolved.duration_ns == 240 * 10**9
    early = load_scenario(path, until="2016-06-01T00:02:00Z")
    assert early.resolved.duration_ns == 120 * 10**9


def test_until_after_the_end_runs_to_the_end(tmp_path: Path) -> None:
    path = _file(tmp_path)
    late = load_scenario(path, until="5min")
    assert late.resolved.duration_ns == 240 * 10**9
    assert late.notes and "after the scenario's end (4min" in late.notes[0]
    ran = _cli("run", str(path), "--out", str(tmp_path / "out"), "-q",
               "--until", "2016-06-01T01:00:00Z")
    assert ran.returncode == 0, ran.stderr
    assert "warning: --until 2016-06-01T01:00:00Z is after the scenario's end" in ran.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text("utf-8"))
    assert summary["duration"] == "4min"
