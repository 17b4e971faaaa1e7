"""The CLI's bad-input promise: exit 2 and a message naming the input, never "internal error".

Each row of the table is an input that once ended as an internal error (exit 1): a scenario
value beyond what the engine's integer types hold, a file nested too deep, a corrupt leap
table or results folder, an output path that is a file.  Every row must exit 2, name the
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
    ("suspend-1e30ns", scenario_text(
        events=f'[[events]]\nat = "1s"\naction = "suspend"\nduration = "{BIG}ns"\n'),
     {}, ["run"], ["events[0].duration", "at most"]),
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
     ["show", "res"], ["summary.json", "scenario"]),
    ("show-summary-namespace-not-table", None,
     {"res/summary.json": json.dumps({"scenario": "x", "namespaces": {"a": 3}})},
     ["show", "res"], ["summary.json", "namespaces.a"]),
    ("show-summary-checks-wrong-type", None,
     {"res/summary.json": json.dumps({"scenario": "x", "namespaces": {}, "checks": []})},
     ["show", "res"], ["summary.json", "checks"]),
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
    args = list(argv)
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
        assert not (tmp_path / "out" / "summary.json").exists()
