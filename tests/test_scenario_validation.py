"""Scenario validation: every bad input a new user might write gets a clear, located error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tk_core.scenario import ScenarioError, features, load_scenario, load_text

BASE = """\
[scenario]
name = "t"
description = "test"
duration = "10s"

[host]
start = 2024-01-01T00:00:00Z
"""


def errors_of(text: str, tmp_path: Path) -> ScenarioError:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value


def test_minimal_scenario_loads() -> None:
    loaded = load_text(BASE)
    assert loaded.resolved.duration_ns == 10 * 10**9
    assert loaded.resolved.sample_every_ns == 10_000_000  # duration / 1000, rounded up nicely


def test_misspelled_key_names_file_line_path_and_suggestion(tmp_path: Path) -> None:
    err = errors_of(BASE + "hzz = 250\n", tmp_path)
    text = err.render()
    assert f"{tmp_path / 'bad.toml'}:8: host.hzz: unknown key; did you mean 'hz'?" in text
    assert "expected one of:" in text


def test_several_errors_reported_at_once(tmp_path: Path) -> None:
    text = BASE.replace('duration = "10s"', 'duration = "10"') + (
        'hz = "fast"\n\n[[namespaces]]\nname = "a"\nupdate = "lazzy"\n'
    )
    err = errors_of(text, tmp_path)
    paths = {i.path() for i in err.issues}
    assert {"scenario.duration", "host.hz", "namespaces[0].update"} <= paths
    assert all(i.line for i in err.issues)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"10"', "a duration needs a unit"),
        ("10", "a duration needs a unit: write '10s'"),
        ('"10 sec"', "unknown unit 'sec'"),
        ('"1m"', "'m' is ambiguous"),
        ('"-5s"', "must be > 0, found -5s"),
        ('"1.5ns"', "not a whole number of nanoseconds"),
    ],
)
def test_wrong_units_and_negative_durations(tmp_path: Path, value: str, expected: str) -> None:
    err = errors_of(BASE.replace('"10s"', value), tmp_path)
    assert err.issues[0].path() == "scenario.duration"
    assert expected in err.issues[0].message
    assert err.issues[0].line == 4


def test_leap_date_not_a_month_end(tmp_path: Path) -> None:
    text = BASE + '\n[[events]]\nat = "1s"\naction = "leap"\ndate = 2024-06-29\n'
    err = errors_of(text, tmp_path)
    assert err.issues[0].path() == "events[0].date"
    assert "expected the last day of a month" in err.issues[0].message
    assert "found 2024-06-29" in err.issues[0].message


def test_too_many_namespaces(tmp_path: Path) -> None:
    err = errors_of(BASE + '\n[[namespaces]]\nname = "n"\ncount = 10000000\n', tmp_path)
    assert err.issues[0].path() == "namespaces[0].count"
    assert "at most 10000 namespaces" in err.issues[0].message
    assert "found 10000000" in err.issues[0].message


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match="is a directory"):
        load_scenario(tmp_path)


def test_toml_syntax_error_has_its_line(tmp_path: Path) -> None:
    err = errors_of(BASE + "hz = = 3\n", tmp_path)
    assert err.issues[0].line == 8
    assert "not valid TOML" in err.issues[0].message


def test_start_before_1972_and_naive_date(tmp_path: Path) -> None:
    err = errors_of(BASE.replace("2024-01-01T00:00:00Z", "1970-01-01T00:00:00Z"), tmp_path)
    assert "on or after 1972-01-01" in err.issues[0].message
    err = errors_of(BASE.replace("2024-01-01T00:00:00Z", '"2024-01-01T00:00:00"'), tmp_path)
    assert "no time zone" in err.issues[0].message


def test_event_references_and_times(tmp_path: Path) -> None:
    text = BASE + (
        '\n[[events]]\nat = "20s"\naction = "settime"\nby = "1s"\n'
        '\n[[events]]\nat = "1s"\naction = "setoffset"\nnamespace = "ghost"\nby = "1s"\n'
        '\n[[events]]\nat = "2s"\naction = "restore"\ncheckpoint = "x"\nname = "y"\n'
        '\n[[events]]\nat = "3s"\naction = "settime"\n'
    )
    err = errors_of(text, tmp_path)
    messages = {i.path(): i.message for i in err.issues}
    assert "within the run" in messages["events[0].at"]
    assert "no namespace named 'ghost'" in messages["events[1].namespace"]
    assert "no checkpoint labelled 'x'" in messages["events[2].checkpoint"]
    assert "exactly one of 'to'" in messages["events[3]"]


def test_adjtimex_modes_and_values_must_agree(tmp_path: Path) -> None:
    text = BASE + (
        '\n[[events]]\nat = "1s"\naction = "adjtimex"\nmodes = ["ADJ_OFFSET", "ADJ_FREQ"]\n'
        "freq_ppm = 3\n"
    )
    err = errors_of(text, tmp_path)
    assert "did you mean 'ADJ_FREQUENCY'" in err.issues[0].message
    fixed = text.replace('"ADJ_FREQ"', '"ADJ_STATUS"').replace("freq_ppm = 3", 'offset = "1500ns"')
    messages = {i.path(): i.message for i in errors_of(fixed, tmp_path).issues}
    assert "ADJ_STATUS needs a value" in messages["events[0].modes"]
    assert "add 'ADJ_NANO'" in messages["events[0].offset"]


def test_event_inside_a_suspend(tmp_path: Path) -> None:
    text = BASE + (
        '\n[[events]]\nat = "1s"\naction = "suspend"\nduration = "5s"\n'
        '\n[[events]]\nat = "3s"\naction = "settime"\nby = "1s"\n'
    )
    err = errors_of(text, tmp_path)
    assert err.issues[0].path() == "events[1].at"
    assert "the host is asleep" in err.issues[0].message


def test_smear_policy_and_ntp_model_are_not_available_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(features, "follow_available", lambda: False)
    monkeypatch.setattr(features, "discipline_available", lambda: False)
    text = BASE + '\n[[namespaces]]\nname = "s"\nleap = "linear-24h"\nntp = "chrony"\n'
    err = errors_of(text, tmp_path)
    messages = {i.path(): i.message for i in err.issues}
    assert "not available in this version" in messages["namespaces[0].leap"]
    assert "not available in this version" in messages["namespaces[0].ntp.model"]


def test_unknown_smear_shape(tmp_path: Path) -> None:
    err = errors_of(BASE + '\n[[namespaces]]\nname = "s"\nleap = "wiggle"\n', tmp_path)
    assert err.issues[0].path() == "namespaces[0].leap"


def test_timers_not_available_fail_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features, "timers_available", lambda: False)
    err = errors_of(BASE + '\n[[timers]]\nvalue = "1s"\n', tmp_path)
    assert err.issues[0].path() == "timers[0]"
    assert "not available in this version" in err.issues[0].message


def test_offsets_model_fields(tmp_path: Path) -> None:
    text = BASE + '\n[[namespaces]]\nname = "c"\nmodel = "offsets"\ndilation = 2\n'
    err = errors_of(text, tmp_path)
    assert err.issues[0].path() == "namespaces[0].dilation"
    assert "needs model = 'timekeeper'" in err.issues[0].message


def test_shipped_scenarios_validate() -> None:
    folder = Path(__file__).resolve().parents[1] / "scenarios"
    paths = sorted(folder.glob("*.toml"))
    assert len(paths) >= 6
    for path in paths:
        load_scenario(path)
