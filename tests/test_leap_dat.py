"""The IERS Leap_Second.dat layout (`ntp.leap_dat`), our shipped copy of it, and how
`LeapTable.load()` picks between the two shipped copies."""

from __future__ import annotations

from datetime import date, timedelta
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ntp.leap as leap_mod
from ntp.leap import (
    MAX_TAI_UTC,
    SHIPPED_DAT_SOURCE,
    SHIPPED_SOURCE,
    LeapTable,
    LeapTableError,
    choose_newest,
    date_to_unix,
)
from ntp.leap_dat import MJD_UNIX_EPOCH, is_leap_second_dat
from tk_core.cli import main

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def shipped(name: str) -> str:
    return resources.files("ntp").joinpath("data", name).read_text("ascii")


def mjd(day: date) -> int:
    return day.toordinal() - date(1970, 1, 1).toordinal() + MJD_UNIX_EPOCH


def dat_text(entries: list[tuple[date, int]], expires: date, updated: date,
             bulletin: int = 72) -> str:
    """A Leap_Second.dat laid out as the IERS writes it."""
    head = [
        "#  Value of TAI-UTC in second valid beetween the initial value until",
        f"#  Updated through IERS Bulletin {bulletin} issued in {MONTHS[updated.month - 1]} "
        f"{updated.year}",
        "#  ",
        f"#  File expires on {expires.day} {MONTHS[expires.month - 1]} {expires.year}",
        "#",
        "#    MJD        Date        TAI-UTC (s)",
        "#",
    ]
    rows = [f"    {mjd(d)}.0    {d.day:2d} {d.month:2d} {d.year}       {off}" for d, off in entries]
    return "\n".join(head + rows) + "\n"


def lines_of(text: str) -> list[str]:
    return text.splitlines()


# --- the shipped copies ----------------------------------------------------------------------
def test_both_shipped_copies_say_the_same_leaps() -> None:
    listed, dat = LeapTable.shipped_copies()
    assert (listed.source, dat.source) == (SHIPPED_SOURCE, SHIPPED_DAT_SOURCE)
    assert listed.leaps == dat.leaps and len(dat.leaps) == 28
    assert listed.shipped and dat.shipped and dat.path is None


def test_the_shipped_dat_is_bulletin_c_72() -> None:
    dat = LeapTable.shipped_copies()[1]
    text = shipped("Leap_Second.dat")
    assert "Updated through IERS Bulletin 72 issued in July 2026" in text
    assert (dat.expires_date, dat.last_update_date) == (date(2027, 6, 28), date(2026, 7, 1))
    assert dat.tai_minus_utc(date_to_unix(date(2027, 6, 27))) == 37
    assert not dat.is_expired(date_to_unix(date(2027, 6, 28)) - 1)


def test_load_takes_the_later_expiring_shipped_copy_and_the_list_on_a_tie() -> None:
    copies = LeapTable.shipped_copies()
    table = LeapTable.load()
    assert table.expires == max(c.expires for c in copies)
    first_best = next(c for c in copies if c.expires == table.expires)
    assert table.source == first_best.source and table.shipped


def test_a_tie_between_shipped_copies_keeps_the_hashed_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listed, dat = LeapTable.shipped_copies()
    same = LeapTable(dat.leaps, expires=listed.expires, last_update=dat.last_update,
                     source=SHIPPED_DAT_SOURCE)
    monkeypatch.setattr(LeapTable, "shipped_copies", classmethod(lambda cls, **kw: [listed, same]))
    assert LeapTable.load() is listed


def test_newest_lists_both_shipped_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leap_mod, "SYSTEM_LEAP_FILES", ())
    choice = choose_newest()
    assert [c.source for c in choice.candidates] == [SHIPPED_SOURCE, SHIPPED_DAT_SOURCE]
    assert choice.table is LeapTable.newest() or choice.table.source == LeapTable.load().source
    assert "not chosen: ntp/data/" in choice.describe()


# --- the layout ------------------------------------------------------------------------------
def test_the_layouts_are_told_apart_by_their_data_lines() -> None:
    assert is_leap_second_dat(shipped("Leap_Second.dat"))
    assert not is_leap_second_dat(shipped("leap-seconds.list"))
    # a damaged list is still read as a list, so its own parser names the problem
    no_expiry = "\n".join(ln for ln in lines_of(shipped("leap-seconds.list"))
                          if not ln.startswith("#@"))
    assert not is_leap_second_dat(no_expiry)
    with pytest.raises(LeapTableError, match=r"missing #@ line"):
        LeapTable.parse(no_expiry, "x.list")
    assert not is_leap_second_dat("# only comments\n")


month_starts = st.integers(0, (2100 - 1972) * 12 - 1).map(
    lambda k: date(1972 + k // 12, k % 12 + 1, 1))


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[tuple[date, int]], date, date]:
    days = sorted(set(draw(st.lists(month_starts, min_size=1, max_size=40))))
    offset = draw(st.integers(0, 60))
    entries = [(days[0], offset)]
    for day in days[1:]:
        offset += draw(st.sampled_from((1, -1))) if offset > 0 else 1
        entries.append((day, offset))
    expires = days[-1] + timedelta(days=draw(st.integers(1, 4000)))
    updated = days[-1] + timedelta(days=draw(st.integers(0, 4000)))
    return entries, expires, updated


@given(tables())
def test_a_written_dat_reads_back_exactly(table: tuple[list[tuple[date, int]], date, date]) -> None:
    entries, expires, updated = table
    parsed = LeapTable.parse(dat_text(entries, expires, updated), "t.dat")
    assert parsed.leaps == [(date_to_unix(d), off) for d, off in entries]
    assert parsed.expires_date == expires
    assert parsed.last_update_date == updated.replace(day=1)
    assert not parsed.shipped


GOOD = [(date(1972, 1, 1), 10), (date(1972, 7, 1), 11), (date(1973, 1, 1), 12)]


def corrupt(edit: str) -> str:
    text = dat_text(GOOD, date(2027, 6, 28), date(2026, 7, 1))
    rows = lines_of(text)
    last = len(rows) - 1
    edits = {
        "mjd": (last, f"    {mjd(date(1973, 1, 1)) + 1}.0     1  1 1973       12"),
        "mid-month": (last, f"    {mjd(date(1973, 1, 2))}.0     2  1 1973       12"),
        "before-1972": (last - 2, f"    {mjd(date(1971, 1, 1))}.0     1  1 1971       10"),
        "step": (last, f"    {mjd(date(1973, 1, 1))}.0     1  1 1973       14"),
        "order": (last, f"    {mjd(date(1972, 7, 1))}.0     1  7 1972       12"),
        "fields": (last, f"    {mjd(date(1973, 1, 1))}.0     1  1 1973"),
        "date": (last, "    41346.0    30  2 1973       12"),
        "huge": (last - 2, f"    {mjd(date(1972, 1, 1))}.0     1  1 1972  {MAX_TAI_UTC + 1}"),
        "fraction": (last, f"    {mjd(date(1973, 1, 1))}.5     1  1 1973       12"),
        "no-expiry": (3, "#"),
        "no-update": (1, "#"),
        "bad-expiry": (3, "#  File expires on 31 June 2027"),
        "twice": (4, "#  File expires on 28 December 2027"),
    }
    at, line = edits[edit]
    rows[at] = line
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize(("edit", "check"), [
    ("mjd", "MJD does not match the date"),
    ("mid-month", "not the 1st of a month"),
    ("before-1972", "not the 1st of a month from 1972"),
    ("step", "offset step not ±1"),
    ("order", "non-increasing dates"),
    ("fields", "bad data line"),
    ("date", "bad date"),
    ("huge", "bad TAI-UTC"),
    ("fraction", "bad data line"),
    ("no-expiry", "missing expiry"),
    ("no-update", "missing last update"),
    ("bad-expiry", "bad expiry date"),
    ("twice", "duplicate line"),
])
def test_each_broken_dat_names_the_file_the_line_and_the_check(edit: str, check: str) -> None:
    text = corrupt(edit)
    with pytest.raises(LeapTableError) as err:
        LeapTable.parse(text, "bad.dat")
    message = str(err.value)
    assert message.startswith("bad.dat, line ") and f": {check}" in message


# --- as a file -------------------------------------------------------------------------------
def fresher_dat(path: Path) -> Path:
    listed = LeapTable.load()
    entries = [(date.fromordinal(date(1970, 1, 1).toordinal() + u // 86_400), off)
               for u, off in listed.leaps]
    expires = listed.expires_date + timedelta(days=366)
    path.write_text(dat_text(entries, expires, listed.expires_date, bulletin=99), "ascii")
    return path


def test_a_fresher_system_dat_is_chosen(tmp_path: Path) -> None:
    path = fresher_dat(tmp_path / "Leap_Second.dat")
    table = LeapTable.newest([path])
    assert (table.path, table.shipped) == (str(path.resolve()), False)
    assert table.expires_date == LeapTable.load().expires_date + timedelta(days=366)
    broken = tmp_path / "broken.dat"
    broken.write_text(corrupt("mjd"), "ascii")
    choice = choose_newest([broken, path])
    assert choice.table.path == str(path.resolve())
    assert [c.source for c in choice.candidates if c.table is None] == [str(broken)]


def test_a_run_takes_a_dat_as_its_leap_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        '[scenario]\nname = "d"\ndescription = "a leap under a dat"\nduration = "10min"\n'
        'sample_every = "5min"\n\n'
        '[host]\nstart = 2016-12-31T23:55:00Z\n\n[[namespaces]]\nname = "stepper"\n')
    dat = fresher_dat(tmp_path / "Leap_Second.dat")
    assert main(["validate", str(scenario), "--leap-file", str(dat)]) == 0
    assert f"leap table: {dat.resolve()}" in capsys.readouterr().out
    broken = tmp_path / "broken.dat"
    broken.write_text(corrupt("step"), "ascii")
    assert main(["validate", str(scenario), "--leap-file", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "--leap-file" in err and "offset step not ±1" in err and "Traceback" not in err
