"""The `timekeepers` command: exit codes, outputs, determinism, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tk_core.cli import main

SMALL = """\
# a small scenario for the CLI tests
[scenario]
name = "small"
description = "two namespaces, a slew, a step, a suspend"
duration = "2min"
sample_every = "5s"
seed = 7

[host]
start = 2024-01-01T00:00:00Z
hz = 250

[host.clocksource]
freq_hz = "3GHz"
error_ppm = 10
wander_ppm = "0.5"
wander_interval = "10s"

[[namespaces]]
name = "slew"

[[namespaces]]
name = "c56"
model = "offsets"
offsets = { monotonic = "1d" }

[[events]]
at = "10s"
action = "adjtimex"
namespace = "slew"
modes = ["ADJ_OFFSET", "ADJ_STATUS", "ADJ_NANO"]
offset = "5ms"
status = ["STA_PLL"]

[[events]]
at = "30s"
action = "setoffset"
namespace = "slew"
by = "-250ms"

[[events]]
at = "60s"
action = "suspend"
duration = "10s"

[[events]]
at = "90s"
action = "checkpoint"
label = "mid"
"""


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    return path


def run(*args: str) -> int:
    return main(list(args))


def test_run_writes_every_result(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("run", str(small), "--out", str(out), "--quiet") == 0
    names = {p.name for p in out.iterdir()}
    assert {
        "samples.csv",
        "summary.json",
        "timing.json",
        "scenario.toml",
        "report.html",
        "offset_utc.png",
        "frequency.png",
        "checkpoints",
    } <= names
    summary = json.loads((out / "summary.json").read_text())
    assert summary["checks"]["ok"]
    assert summary["namespaces"]["slew"]["realtime_backward_steps"] == 1
    assert "wall" not in json.dumps(summary)
    assert "data:image/png;base64," in (out / "report.html").read_text()
    assert run("show", str(out)) == 0


def test_same_seed_same_bytes_other_seed_other_bytes(small: Path, tmp_path: Path) -> None:
    outs = [tmp_path / name for name in ("a", "b", "c")]
    for out, seed in zip(outs, ("7", "7", "8"), strict=True):
        assert run("run", str(small), "--out", str(out), "-q", "--seed", seed) == 0
    for name in ("samples.csv", "summary.json"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes()
        assert (outs[0] / name).read_bytes() != (outs[2] / name).read_bytes()


def test_resolved_scenario_reproduces_the_run(small: Path, tmp_path: Path) -> None:
    assert run("run", str(small), "--out", str(tmp_path / "a"), "-q") == 0
    resolved = tmp_path / "a" / "scenario.toml"
    assert run("run", str(resolved), "--out", str(tmp_path / "b"), "-q") == 0
    for name in ("samples.csv", "summary.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_until_set_and_trace(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    args = ["run", str(small), "--out", str(out), "-q", "--until", "95s", "--trace"]
    assert run(*args, "--set", "host.hz=100") == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["duration"] == "95s"
    assert summary["host"]["hz"] == 100
    lines = (out / "trace.jsonl").read_text().splitlines()
    events = {json.loads(line)["event"] for line in lines}
    assert {"adjtimex", "scenario_event", "accumulation"} <= events


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "no/such/file.toml"], "no such file"),
        (["validate", "."], "is a directory"),
        (["show", "no-such-results"], "no such results folder"),
        (["run", "SMALL", "--until", "soon"], "--until"),
        (["run", "SMALL", "--set", "oops"], "expected KEY=VALUE"),
        (["run", "SMALL", "--set", "host.hz=-4"], "host.hz"),
        (["run", "SMALL", "--out", "FILE"], "is not a directory"),
        (["list", "no-such-folder"], "no such folder"),
    ],
)
def test_bad_input_exits_2_without_traceback(
    args: list[str], message: str, small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("x")
    args = [
        str(small) if a == "SMALL" else str(tmp_path / "file") if a == "FILE" else a for a in args
    ]
    assert run(*args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run"])
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_unexpected_engine_error_fails_the_run(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = small.read_text() + (
        '\n[[events]]\nat = "100s"\naction = "adjtimex"\nnamespace = "slew"\n'
        'modes = ["ADJ_TICK"]\ntick = 1\n'
    )
    small.write_text(bad)
    assert run("run", str(small), "--out", str(tmp_path / "o"), "-q") == 1
    assert "EINVAL" in capsys.readouterr().err


def test_expected_errno_is_not_a_failure(small: Path, tmp_path: Path) -> None:
    ok = small.read_text() + (
        '\n[[events]]\nat = "100s"\naction = "adjtimex"\nnamespace = "slew"\n'
        'modes = ["ADJ_TICK"]\ntick = 1\nexpect = "EINVAL"\n'
    )
    small.write_text(ok)
    assert run("run", str(small), "--out", str(tmp_path / "o"), "-q") == 0


def test_list_and_validate_shipped(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("list") == 0
    out = capsys.readouterr().out
    for name in (
        "leap-2016-smear-vs-step",
        "criu-migration",
        "acpi-pm-wraparound",
        "pll-step-response",
        "timer-storm",
        "lazy-vs-periodic",
    ):
        assert name in out
    assert run("validate", "leap-2016-smear-vs-step", "timer-storm") == 0


def test_demo_still_works(tmp_path: Path) -> None:
    assert run("demo", "--out", str(tmp_path / "demo")) == 0
    assert (tmp_path / "demo" / "summary.json").exists()
