"""Leap-table freshness: the newest verified copy, `leap_table = "newest"`, `--leap-file`,
and results that say which table a run used and whether the run outlived it.

Every copy here is built in tmp_path from the shipped file (a later expiry, a new leap, a
broken hash), so nothing depends on the machine's /usr/share/zoneinfo.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

import ntp.leap as leap_mod
from ntp.leap import (
    NTP_UNIX_OFFSET,
    SHIPPED_SOURCE,
    LeapTable,
    LeapTableError,
    choose_newest,
    date_to_unix,
    leap_file_hash,
)
from tk_core.cli import main
from tk_core.scenario import ScenarioError, load_scenario

SHIPPED_TEXT = (Path(leap_mod.__file__).parent / "data" / "leap-seconds.list").read_text("ascii")


def _ntp(day: date) -> str:
    return str(date_to_unix(day) + NTP_UNIX_OFFSET)


def leap_list(
    path: Path,
    *,
    expires: date = date(2027, 6, 28),
    updated: date = date(2026, 7, 6),
    new_leap: date | None = None,
    break_hash: bool = False,
) -> Path:
    """A leap-seconds.list like the IERS publishes: shipped data, new #$/#@, a correct #h.

    `new_leap` appends a positive leap at the end of that day; `break_hash` changes the #$
    date after the hash was computed (a corrupted or tampered copy that is otherwise valid).
    """
    lines: list[str] = []
    digits: list[str] = []
    last_offset = 0
    for line in SHIPPED_TEXT.splitlines():
        if line.startswith(("#$", "#@", "#h")):
            lines.append(line[:2])  # placeholders, filled below
            continue
        body = line.split("#", 1)[0].split()
        if not line.startswith("#") and body:
            digits += body
            last_offset = int(body[1])
        lines.append(line)
    if new_leap is not None:
        after = date.fromordinal(new_leap.toordinal() + 1)
        entry = [_ntp(after), str(last_offset + 1)]
        digits += entry
        at = max(i for i, line in enumerate(lines) if line and not line.startswith("#"))
        lines.insert(at + 1, f"{entry[0]}\t{entry[1]}\t# {after.isoformat()}")
    update, expiry = _ntp(updated), _ntp(expires)
    digest = leap_file_hash(update, expiry, digits)
    if break_hash:
        update = str(int(update) + 86_400)
    filled = {"#$": f"#$\t{update}", "#@": f"#@\t{expiry}", "#h": f"#h\t{digest}"}
    text = "\n".join(filled.get(line, line) for line in lines) + "\n"
    path.write_text(text, "ascii")
    return path


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    return leap_list(tmp_path / "fresh.list")


@pytest.fixture
def corrupt(tmp_path: Path) -> Path:
    return leap_list(tmp_path / "corrupt.list", expires=date(2030, 1, 1), break_hash=True)


@pytest.fixture(autouse=True)
def shipped_list_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests' dates are set against our leap-seconds.list copy: ship only that one.

    (`tests/test_leap_dat.py` covers the second shipped copy, Leap_Second.dat, and how
    `LeapTable.load()` picks between the two.)
    """
    monkeypatch.setattr(leap_mod, "SHIPPED_FILES", leap_mod.SHIPPED_FILES[:1])


@pytest.fixture
def no_system_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leap_mod, "SYSTEM_LEAP_FILES", ())


# -- the library ------------------------------------------------------------------------------


def test_the_builder_makes_files_the_parser_accepts(fresh: Path, tmp_path: Path) -> None:
    table = LeapTable.load(fresh)
    assert table.expires_date == date(2027, 6, 28)
    assert (table.path, table.shipped) == (str(fresh.resolve()), False)
    assert table.leaps == LeapTable.load().leaps
    leapy = LeapTable.load(leap_list(tmp_path / "l.list", new_leap=date(2026, 12, 31)))
    assert leapy.events[-1].day == date(2026, 12, 31)
    assert leapy.tai_minus_utc(date_to_unix(date(2027, 1, 1))) == 38


def test_newest_takes_a_fresher_verified_copy(fresh: Path) -> None:
    table = LeapTable.newest([fresh])
    assert not table.shipped
    assert table.path == str(fresh.resolve())
    assert table.source == str(fresh)
    assert (table.expires_date, table.last_update_date) == (date(2027, 6, 28), date(2026, 7, 6))
    assert table.describe() == f"{fresh}: expires 2027-06-28, last updated 2026-07-06"


def test_a_tie_or_an_older_copy_keeps_the_shipped_table(tmp_path: Path) -> None:
    same = tmp_path / "same.list"
    same.write_text(SHIPPED_TEXT, "ascii")
    older = leap_list(tmp_path / "older.list", expires=date(2025, 12, 28))
    table = LeapTable.newest([same, older])
    assert table.shipped and table.source == SHIPPED_SOURCE and table.path is None
    assert table.expires_date == date(2026, 12, 28)
    assert table.last_update_date == LeapTable.load().last_update_date


def test_a_copy_that_fails_its_hash_is_never_chosen(corrupt: Path, fresh: Path) -> None:
    choice = choose_newest([corrupt, fresh])
    assert choice.table.path == str(fresh.resolve())
    rejected = [c for c in choice.candidates if c.table is None]
    assert [c.source for c in rejected] == [str(corrupt)]
    assert "hash mismatch" in str(rejected[0].problem)
    text = choice.describe()
    assert text.splitlines()[0] == f"chosen: {fresh}: expires 2027-06-28, last updated 2026-07-06"
    assert f"{corrupt}, line" in text and SHIPPED_SOURCE in text


def test_missing_copies_are_skipped_and_unreadable_ones_reported(tmp_path: Path) -> None:
    binary = tmp_path / "binary.list"
    binary.write_bytes(b"\xff\xfe leap")
    choice = choose_newest([tmp_path / "absent.list", tmp_path, binary])
    assert choice.table.shipped
    problems = {c.source: c.problem for c in choice.candidates if c.table is None}
    assert set(problems) == {str(tmp_path), str(binary)}
    assert "is a directory" in str(problems[str(tmp_path)])
    assert "not ASCII text" in str(problems[str(binary)])


def test_newest_reads_the_system_copies_by_default(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(leap_mod, "SYSTEM_LEAP_FILES", (str(fresh),))
    assert LeapTable.newest().path == str(fresh.resolve())
    monkeypatch.setattr(leap_mod, "SYSTEM_LEAP_FILES", ())
    assert LeapTable.newest().shipped


def test_read_names_the_file_and_the_problem(tmp_path: Path, corrupt: Path) -> None:
    with pytest.raises(LeapTableError, match=r"absent\.list: cannot be read: No such file"):
        LeapTable.read(tmp_path / "absent.list")
    with pytest.raises(LeapTableError, match=r"corrupt\.list, line \d+: hash mismatch"):
        LeapTable.read(corrupt)


# -- scenarios --------------------------------------------------------------------------------

SCENARIO = """\
[scenario]
name = "fresh"
description = "one hour either side of the 2026 year end"
duration = "2h"
sample_every = "5min"
{extra}

[host]
start = 2026-12-31T23:00:00Z

[[namespaces]]
name = "stepper"
"""


def scenario(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "fresh.toml"
    path.write_text(SCENARIO.format(extra=extra))
    return path


def test_shipped_means_exactly_the_shipped_file(
    tmp_path: Path, fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(leap_mod, "SYSTEM_LEAP_FILES", (str(fresh),))
    assert load_scenario(scenario(tmp_path)).resolved.timescale.table.shipped
    newest = load_scenario(scenario(tmp_path, 'leap_table = "newest"'))
    assert newest.resolved.timescale.table.path == str(fresh.resolve())


def test_a_leap_in_the_chosen_table_is_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    leapy = leap_list(tmp_path / "leapy.list", new_leap=date(2026, 12, 31))
    monkeypatch.setattr(leap_mod, "SYSTEM_LEAP_FILES", (str(leapy),))
    path = scenario(tmp_path, 'leap_table = "newest"')
    assert main(["run", str(path), "--out", str(tmp_path / "n"), "-q"]) == 0
    assert main(["run", str(path), "--out", str(tmp_path / "s"), "-q",
                 "--set", "scenario.leap_table=shipped"]) == 0
    new = json.loads((tmp_path / "n" / "summary.json").read_text())
    old = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert new["namespaces"]["stepper"]["realtime_backward_steps"] == 1
    assert old["namespaces"]["stepper"]["realtime_backward_steps"] == 0
    assert new["leap_table"]["requested"] == "newest"
    assert new["leap_table"]["path"] == str(leapy.resolve())
    resolved = (tmp_path / "n" / "scenario.toml").read_text()
    assert f'leap_table = "{leapy.resolve()}"' in resolved  # pinned: re-runs reproduce


def test_summary_and_report_say_the_table_expired(
    tmp_path: Path, no_system_copies: None, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    assert main(["run", str(scenario(tmp_path)), "--out", str(out), "-q"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["leap_table"] == {
        "requested": "shipped",
        "kind": "shipped",
        "source": SHIPPED_SOURCE,
        "path": None,
        "expires": "2026-12-28",
        "last_update": LeapTable.load().last_update_date.isoformat(),
        "expiry_policy": "assume_no_new_leaps",
        "expired_at_end": True,
    }
    warning = [w for w in summary["warnings"] if "leap table" in w]
    assert len(warning) == 1
    assert "expired on 2026-12-28" in warning[0] and "unknown" in warning[0]
    assert "2027-01-01T01:00:00" in warning[0]
    assert "expired on 2026-12-28" in capsys.readouterr().err
    report = (out / "report.html").read_text()
    assert "EXPIRED before the run" in report and "expires 2026-12-28" in report


def test_a_run_inside_the_table_has_no_expiry_warning(tmp_path: Path, fresh: Path) -> None:
    out = tmp_path / "o"
    assert main(["run", str(scenario(tmp_path)), "--out", str(out), "-q",
                 "--leap-file", str(fresh)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    info = summary["leap_table"]
    assert (info["kind"], info["path"], info["expires"]) == ("file", str(fresh.resolve()),
                                                              "2027-06-28")
    assert info["expired_at_end"] is False
    assert not any("leap table" in w for w in summary["warnings"])
    assert f'leap_table = "{fresh.resolve()}"' in (out / "scenario.toml").read_text()


def test_strict_expiry_refuses_a_run_past_the_table(tmp_path: Path, fresh: Path) -> None:
    path = scenario(tmp_path, 'leap_expiry = "strict"')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    text = info.value.render()
    assert "scenario.leap_table" in text and "expires on 2026-12-28" in text
    assert load_scenario(path, leap_file=fresh).resolved.timescale.table.path is not None


# -- --leap-file on the command line ----------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "validate", "sweep"])
@pytest.mark.parametrize(
    ("which", "message"),
    [("corrupt", "hash mismatch"), ("absent", "cannot be read"), ("dir", "is a directory")],
)
def test_a_bad_leap_file_is_bad_input(
    command: str, which: str, message: str, tmp_path: Path, corrupt: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = {"corrupt": corrupt, "absent": tmp_path / "absent.list", "dir": tmp_path}[which]
    args = [command, str(scenario(tmp_path)), "--leap-file", str(bad)]
    if command != "validate":
        args += ["--out", str(tmp_path / "o"), "-q"]
    if command == "sweep":
        args += ["--workers", "0"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--leap-file" in err and str(bad) in err and message in err
    assert "Traceback" not in err


def test_leap_file_under_strict_expiry_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = leap_list(tmp_path / "stale.list", expires=date(2026, 12, 28))
    path = scenario(tmp_path, 'leap_expiry = "strict"')
    assert main(["validate", str(path), "--leap-file", str(stale)]) == 2
    err = capsys.readouterr().err
    assert str(stale) in err and "expires on 2026-12-28" in err and "strict" in err


def test_validate_and_sweep_use_the_leap_file(
    tmp_path: Path, fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(tmp_path, 'leap_expiry = "strict"')
    assert main(["validate", str(path)]) == 2
    assert main(["validate", str(path), "--leap-file", str(fresh)]) == 0
    out = tmp_path / "sw"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "0", "-q",
                 "--axis", "seed=1,2", "--leap-file", str(fresh), "--no-report"]) == 0
    summaries = list((out / "points").glob("*/summary.json"))
    assert len(summaries) == 2
    for file in summaries:
        assert json.loads(file.read_text())["leap_table"]["path"] == str(fresh.resolve())


def test_a_sweep_chooses_the_newest_table_once(
    tmp_path: Path, fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tk_core.sweep import load_sweep

    monkeypatch.setattr(leap_mod, "SYSTEM_LEAP_FILES", (str(fresh),))
    spec = load_sweep(scenario(tmp_path, 'leap_table = "newest"'), axes=["seed=1,2"])
    assert {p.data["scenario"]["leap_table"] for p in spec.points} == {str(fresh.resolve())}
    monkeypatch.setattr(leap_mod, "SYSTEM_LEAP_FILES", ())
    spec = load_sweep(scenario(tmp_path, 'leap_table = "newest"'))
    assert spec.points[0].data["scenario"]["leap_table"] == "shipped"


def test_a_hypothetical_leap_keeps_the_file_it_was_added_to(tmp_path: Path, fresh: Path) -> None:
    text = SCENARIO.format(extra="") + '\n[[events]]\nat = "10min"\naction = "leap"\n' \
        'date = 2027-03-31\nnamespaces = ["stepper"]\n'
    path = tmp_path / "what-if.toml"
    path.write_text(text.replace('duration = "2h"', 'until = 2027-04-01T00:00:10Z'))
    table = load_scenario(path, leap_file=fresh).resolved.timescale.table
    assert (table.path, table.shipped) == (str(fresh.resolve()), False)
    assert table.source.endswith("+ leap 2027-03-31 +1")
    assert not load_scenario(path, leap_file=fresh).resolved.timescale.expired_by(0)


def test_validate_says_which_table_a_non_default_choice_gave(
    tmp_path: Path, fresh: Path, no_system_copies: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(tmp_path, 'leap_table = "newest"')
    assert main(["validate", str(path)]) == 0
    assert "leap table: ntp/data/leap-seconds.list (shipped copy): expires 2026-12-28" in (
        capsys.readouterr().out
    )
    assert main(["validate", str(path), "--leap-file", str(fresh)]) == 0
    out = capsys.readouterr().out
    assert f"leap table: {fresh.resolve()}: expires 2027-06-28" in out
    assert "expires before the run ends" not in out
