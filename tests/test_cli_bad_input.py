"""The CLI's bad-input promise: exit 2 and a message naming the input, never "internal error".

Each row of the table is an input that once ended as an internal error (exit 1), passed
(exit 0), or was refused without naming the field: a scenario value beyond what the
kernel's integer types hold, a file nested too deep, a corrupt leap table or results folder,
an output path that is a file.  Every row must exit 2, name the
file or option and the field, say what was expected, and show no traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tk_core.cli import main

BIG = 10**30
BASE = """\
[scenario]
name = "bad"
description = "bad input"
duration = "10s"
sample_every = "1s"
{scenario}
[host]
start = {start}
{host}
[host.clocksource]
{clocksource}
[[namespaces]]
name = "a"
{namespace}
{events}"""


def scenario_text(**parts: str) -> str:
    fields = {"scenario": "", "start": "2024-01-01T00:00:00Z", "host": "", "clocksource": "",
              "namespace": "", "events": ""}
    fields.update(parts)
    return BASE.format(**fields)


def adjtimex(modes: str, values: str) -> str:
    return (
        '[[events]]\nat = "1s"\naction = "adjtimex"\nnamespace = "a"\n'
        f"modes = [{modes}]\n{values}\n"
    )


def namespace_summary(**changes: object) -> dict[str, object]:
    """The keys of one namespace that `show` reads (None in `changes` drops a key)."""
    ns: dict[str, object] = {
        "model": "timekeeper", "update": "lazy",
        "offset_utc_ns": {"max_abs": 1.5, "rms": 1.0},
        "offset_reference_ns": {"max_abs": 1.5},
        "freq_ppm": {"max_abs_deviation": 0.1},
        "realtime_backward_steps": 0,
        "timers": {"fires": 0, "early_fires": 0, "rearms": 0,
                   "lateness_ns": {"p50": None, "p99": None}},
    }
    return _changed(ns, changes)


def host_summary(**changes: object) -> dict[str, object]:
    host: dict[str, object] = {
        "clocksource": {"name": "tsc", "freq_hz": 3_000_000_000, "bits": 64, "error_ppm": "0"},
        "hz": 1000, "nohz": True, "wrap_guard": True, "interrupts": 0, "guard_wakes": 0,
        "ticks": 0, "lazy_hooks": 0, "timer_expiries": 0, "timer_rearms": 0, "lost_cycles": 0,
    }
    return _changed(host, changes)


def summary_json(**changes: object) -> str:
    """A summary.json `show` can print, with `changes` applied."""
    summary: dict[str, object] = {
        "scenario": "x", "duration": "10s", "start_utc": "2024-01-01T00:00:00Z",
        "samples": 11, "sample_every": "1s", "checks": {"ok": True},
        "host": host_summary(), "namespaces": {"a": namespace_summary()},
    }
    return json.dumps(_changed(summary, changes))


def _changed(base: dict[str, object], changes: dict[str, object]) -> dict[str, object]:
    out = {**base, **changes}
    return {k: v for k, v in out.items() if v is not None}


# (case id, scenario text or None, extra files {name: text}, argv after the program,
#  words the message must contain)
CASES: list[tuple[str, str | None, dict[str, str], list[str], list[str]]] = [
    ("nested-5000-arrays", "x = " + "[" * 5000 + "]" * 5000 + "\n", {}, ["run"],
     ["nested", "TOML"]),
    ("nested-5000-tables", "x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n", {}, ["run"],
     ["nested", "TOML"]),
    ("freq_hz-1e30", scenario_text(clocksource=f"freq_hz = {BIG}"), {}, ["run"],
     ["host.clocksource.freq_hz", "at most"]),
    ("freq_hz-1e30-validate", scenario_text(clocksource=f"freq_hz = {BIG}"), {}, ["validate"],
     ["host.clocksource.freq_hz", "at most"]),
    ("wander_ppm-1e30", scenario_text(clocksource=f"wander_ppm = {BIG}"), {}, ["validate"],
     ["host.clocksource.wander_ppm", "at most"]),
    ("dilation-1e12", scenario_text(namespace=f"dilation = {10**12}"), {}, ["run"],
     ["namespaces[0].dilation", "at most"]),
    ("dilation-tiny", scenario_text(namespace=f'dilation = "1/{10**12}"'), {}, ["run"],
     ["namespaces[0].dilation", "at least"]),
    ("start-epoch-1e30", scenario_text(start=str(BIG)), {}, ["run"],
     ["host.start", "before"]),
    ("uptime-1e30ns", scenario_text(host=f'uptime = "{BIG}ns"'), {}, ["run"],
     ["host.uptime", "at most"]),
    ("boottime-1e30ns", scenario_text(host=f'boottime = "{BIG}ns"'), {}, ["run"],
     ["host.boottime", "at most"]),
    ("settime-by-1e30ns", scenario_text(
        events=f'[[events]]\nat = "1s"\naction = "settime"\nnamespace = "a"\nby = "{BIG}ns"\n'),
     {}, ["run"], ["events[0].by", "at most"]),
    ("offsets-1e30ns", scenario_text(
        namespace=f'model = "offsets"\noffsets = {{ monotonic = "{BIG}ns" }}'),
     {}, ["run"], ["namespaces[0].offsets.monotonic", "at most"]),
    ("adjtimex-freq-1e30", scenario_text(events=adjtimex('"ADJ_FREQUENCY"', f"freq = {BIG}")),
     {}, ["run"], ["events[0].freq", "s64"]),
    ("adjtimex-freq_ppm-1e30", scenario_text(
        events=adjtimex('"ADJ_FREQUENCY"', f"freq_ppm = {BIG}")),
     {}, ["run"], ["events[0].freq_ppm", "s64"]),
    ("adjtimex-offset-1e30ns", scenario_text(
        events=adjtimex('"ADJ_OFFSET", "ADJ_NANO"', f'offset = "{BIG}ns"')),
     {}, ["run"], ["events[0].offset", "s64"]),
    ("adjtimex-tick-1e30", scenario_text(events=adjtimex('"ADJ_TICK"', f"tick = {BIG}")),
     {}, ["run"], ["events[0].tick", "s64"]),
    ("adjtimex-constant-1e30", scenario_text(
        events=adjtimex('"ADJ_TIMECONST"', f"constant = {BIG}")),
     {}, ["run"], ["events[0].constant", "s64"]),
    ("adjtimex-maxerror-1e30", scenario_text(
        events=adjtimex('"ADJ_MAXERROR"', f"maxerror_us = {BIG}")),
     {}, ["run"], ["events[0].maxerror_us", "s64"]),
    ("adjtimex-esterror-1e30", scenario_text(
        events=adjtimex('"ADJ_ESTERROR"', f"esterror_us = {BIG}")),
     {}, ["run"], ["events[0].esterror_us", "s64"]),
    ("adjtimex-tai-1e30", scenario_text(events=adjtimex('"ADJ_TAI"', f"tai = {BIG}")),
     {}, ["run"], ["events[0].tai", "s64"]),
    ("adjtimex-setoffset-1e30ns", scenario_text(
        events=adjtimex('"ADJ_SETOFFSET", "ADJ_NANO"', f'setoffset = "{BIG}ns"')),
     {}, ["run"], ["events[0].setoffset", "at most"]),
    ("leap-table-line-1e30", scenario_text(scenario='leap_table = "leaps.list"'),
     {"leaps.list": f"2272060800\t10\n{BIG}\t11\n"}, ["run"],
     ["leaps.list", "line 2", "scenario.leap_table"]),
    ("leap-table-line-1e30-validate", scenario_text(scenario='leap_table = "leaps.list"'),
     {"leaps.list": f"2272060800\t10\n{BIG}\t11\n"}, ["validate"],
     ["leaps.list", "line 2", "scenario.leap_table"]),
    ("show-summary-missing-keys", None, {"res/summary.json": json.dumps({"namespaces": {}})},
     ["show", "res"], ["summary.json", "scenario", "missing"]),
    ("show-summary-no-checks", None, {"res/summary.json": summary_json(checks=None)},
     ["show", "res"], ["summary.json", "checks", "missing"]),
    ("show-summary-checks-wrong-type", None, {"res/summary.json": summary_json(checks=[])},
     ["show", "res"], ["summary.json", "checks", "expected a JSON object"]),
    ("show-summary-namespace-not-table", None,
     {"res/summary.json": summary_json(namespaces={"a": 3})},
     ["show", "res"], ["summary.json", "namespaces.a", "expected a JSON object"]),
    ("show-summary-namespace-missing-timers", None,
     {"res/summary.json": summary_json(namespaces={"a": namespace_summary(timers=None)})},
     ["show", "res"], ["summary.json", "namespaces.a.timers", "missing"]),
    ("show-summary-host-hz-text", None,
     {"res/summary.json": summary_json(host=host_summary(hz="fast"))},
     ["show", "res"], ["summary.json", "host.hz", "found a string"]),
    ("show-timing-not-object", None,
     {"res/summary.json": summary_json(), "res/timing.json": "[1, 2]"},
     ["show", "res"], ["timing.json", "expected a JSON object"]),
    ("set-nested-5000", None, {},
     ["run", "VALID", "-q", "--set", "host.x=" + "[" * 5000 + "]" * 5000], ["--set", "nested"]),
    ("demo-days-1e21", None, {}, ["demo", "--days", str(10**21), "--out", "d"],
     ["--days", "expected"]),
    ("demo-out-is-a-file", None, {"taken": "not a folder\n"}, ["demo", "--out", "taken"],
     ["taken", "not a directory"]),
]


@pytest.mark.parametrize(
    ("text", "files", "argv", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_input_exits_2_with_a_clear_message(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str | None,
    files: dict[str, str],
    argv: list[str],
    words: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    (tmp_path / "valid.toml").write_text(scenario_text())
    args = ["valid.toml" if arg == "VALID" else arg for arg in argv]
    if text is not None:
        (tmp_path / "bad.toml").write_text(text)
        args += ["bad.toml"]
        if args[0] == "run":
            args += ["--quiet", "--out", "out"]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "internal error" not in err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)
    if text is not None and args[0] == "run":
        assert not (tmp_path / "out").exists()
        assert not list(tmp_path.glob(".out.partial-*"))  # bad input leaves nothing behind


def test_a_complete_summary_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control for the show rows: the keys the table reads are enough, nothing more."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "summary.json").write_text(summary_json())
    assert main(["show", "res"]) == 0, capsys.readouterr().err


def test_the_bounds_accept_the_extremes_the_kernel_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control for the scenario rows: values at the edge of each range still validate."""
    monkeypatch.chdir(tmp_path)
    edge = scenario_text(
        start="2232-04-18T23:47:15Z",
        clocksource='freq_hz = "100GHz"',
        namespace=f'dilation = "1/{10**6}"',
        events=adjtimex('"ADJ_FREQUENCY", "ADJ_MAXERROR"',
                        f"freq = {2**63 - 1}\nmaxerror_us = {-(2**63)}"),
    )
    (tmp_path / "edge.toml").write_text(edge)
    assert main(["validate", "edge.toml"]) == 0, capsys.readouterr().err


# Scenarios the schema and the checks accept but the engine refuses while building the host
# and its namespaces: `validate` builds them too, so it must refuse them the same way.
BUILD_TIME = {
    "offsets-monotonic-below-zero": scenario_text(
        host='uptime = "1h"', namespace='model = "offsets"\noffsets = { monotonic = "-1d" }'),
    "offsets-boottime-below-zero": scenario_text(
        namespace='model = "offsets"\noffsets = { boottime = "-1s" }'),
    "offsets-monotonic-past-half-ktime": scenario_text(
        namespace='model = "offsets"\noffsets = { monotonic = "5000000000s" }'),
}


@pytest.mark.parametrize("text", list(BUILD_TIME.values()), ids=list(BUILD_TIME))
def test_validate_refuses_what_run_refuses_at_build_time(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text(text)
    assert main(["run", "bad.toml", "-q", "--out", "out"]) == 2
    run_err = capsys.readouterr().err
    assert main(["validate", "bad.toml"]) == 2
    captured = capsys.readouterr()
    assert "ok" not in captured.out
    assert captured.err == run_err
    assert "namespaces[0]" in run_err and "internal error" not in run_err


def test_error_messages_print_what_the_file_says_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A quoted line is shown as written: no ':x:' turned into an emoji, no markup read."""
    leap = tmp_path / "passwd-like.list"
    leap.write_text("root:x:0:0:[bold]root[/]:/root:/bin/sh\n")
    assert main(["validate", "pll-step-response", "--leap-file", str(leap)]) == 2
    err = capsys.readouterr().err
    assert "root:x:0:0:[bold]root[/]:/root:/bin/sh" in err
