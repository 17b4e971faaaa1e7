"""Tests for ntp.leap: the shipped table, the file checks, conversions and the expiry policy."""

from __future__ import annotations

import hashlib
from datetime import date
from importlib import resources
from typing import Any

import pytest
from gmpy2 import mpq
from hypothesis import given
from hypothesis import strategies as st

from ntp import trace
from ntp.leap import (
    NTP_UNIX_OFFSET,
    SHIPPED_SOURCE,
    LeapTable,
    LeapTableError,
    LeapTableExpired,
    date_to_unix,
    leap_file_hash,
)

JAN_2017 = date_to_unix(date(2017, 1, 1))
EXPIRY = date_to_unix(date(2026, 12, 28))


def shipped_text() -> str:
    return resources.files("ntp").joinpath("data", "leap-seconds.list").read_text("ascii")


def shipped_list(**kwargs: Any) -> LeapTable:
    """Our leap-seconds.list copy (`LeapTable.load()` may pick the fresher Leap_Second.dat)."""
    table = LeapTable.shipped_copies(**kwargs)[0]
    assert table.source == SHIPPED_SOURCE
    return table


def line_no(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


class Recorder:
    """A stand-in structlog logger that keeps every event."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))


@pytest.fixture
def recorder() -> Any:
    rec = Recorder()
    trace.enable(rec)
    yield rec
    trace.disable()


@pytest.fixture(scope="module")
def table() -> LeapTable:
    return shipped_list()


# --- the shipped table -------------------------------------------------------------------------
def test_shipped_copy_has_the_expected_header() -> None:
    text = shipped_text()
    assert "#$\t3976686858" in text
    assert "#@\t4007404800" in text
    assert "#h\t2e101270 4e6749f8 2f1792b7 14a0c188 36bb19d6" in text


def test_entries_and_events(table: LeapTable) -> None:
    assert len(table.leaps) == 28
    events = table.events
    assert len(events) == 27
    assert all(e.sign == 1 for e in events)
    assert events[0].day == date(1972, 6, 30)
    assert events[-1].day == date(2016, 12, 31)
    assert events[-1].unix == JAN_2017
    assert events[-1].ntp == 3692217600
    assert (events[-1].tai_minus_utc_before, events[-1].tai_minus_utc_after) == (36, 37)


def test_offsets_at_known_instants(table: LeapTable) -> None:
    assert table.tai_minus_utc(date_to_unix(date(1972, 1, 1))) == 10
    assert table.tai_minus_utc(JAN_2017) == 37
    assert table.tai_minus_utc(JAN_2017 - 1) == 36  # 2016-12-31T23:59:59
    assert table.tai_minus_utc(JAN_2017 - mpq(1, 10**9)) == 36
    assert table.tai_minus_utc(date_to_unix(date(2020, 1, 1))) == 37


def test_before_1972_is_refused_with_a_reason(table: LeapTable) -> None:
    with pytest.raises(ValueError, match=r"1972-01-01.*whole number of seconds"):
        table.tai_minus_utc(date_to_unix(date(1971, 12, 31)))
    with pytest.raises(ValueError, match="1972"):
        table.tai_to_utc(0)


def test_next_leap(table: LeapTable) -> None:
    event = table.next_leap(date_to_unix(date(2016, 6, 1)))
    assert event is not None
    assert (event.unix, event.sign, event.day) == (JAN_2017, 1, date(2016, 12, 31))
    assert table.next_leap(JAN_2017 - 1) == event
    assert table.next_leap(JAN_2017) is None


def test_expiry_and_last_update(table: LeapTable) -> None:
    assert table.expires == EXPIRY == 4007404800 - NTP_UNIX_OFFSET
    assert table.expires_date == date(2026, 12, 28)
    assert table.last_update == 3976686858 - NTP_UNIX_OFFSET
    assert not table.is_expired(EXPIRY - 1)
    assert table.is_expired(EXPIRY)


def test_floats_are_refused(table: LeapTable) -> None:
    with pytest.raises(TypeError, match="float"):
        table.tai_minus_utc(1.5e9)


# --- the hash ----------------------------------------------------------------------------------
def test_hash_covers_update_expiry_and_data_numbers() -> None:
    text = shipped_text()
    data = [w for line in text.splitlines() if not line.startswith("#") for w in line.split()[:2]]
    assert leap_file_hash("3976686858", "4007404800", data) == (
        "2e101270 4e6749f8 2f1792b7 14a0c188 36bb19d6"
    )
    # Without the #@ value the digest would not match: the expiry is covered too.
    digest = hashlib.sha1(("3976686858" + "".join(data)).encode()).hexdigest()
    assert not digest.startswith("2e101270")


def synthetic(update: int, expiry: int, data: list[tuple[int, int]], hash_words: str) -> str:
    body = "\n".join(f"{ntp}\t{off}\t# entry" for ntp, off in data)
    return f"# test\n#$\t{update}\n#@\t{expiry}\n{body}\n#h\t{hash_words}\n"


def test_hash_words_without_leading_zeros_are_accepted() -> None:
    data = [(2272060800, 10), (2287785600, 11)]
    for update in range(3_900_000_000, 3_900_000_200):
        words = leap_file_hash(str(update), "4007404800", [str(n) for e in data for n in e])
        if any(w.startswith("0") for w in words.split()):
            break
    stripped = " ".join(w.lstrip("0") or "0" for w in words.split())
    assert stripped != words
    assert len(LeapTable.parse(synthetic(update, 4007404800, data, stripped)).leaps) == 2


# --- corrupt or tampered files -----------------------------------------------------------------
def tampered(old: str, new: str) -> str:
    text = shipped_text()
    assert old in text
    return text.replace(old, new, 1)


def test_one_digit_tamper_in_last_update_fails_the_hash() -> None:
    text = tampered("#$\t3976686858", "#$\t3960835201")
    with pytest.raises(LeapTableError) as err:
        LeapTable.parse(text, "evil.list")
    msg = str(err.value)
    assert msg.startswith(f"evil.list, line {line_no(text, '#h')}: hash mismatch")
    assert "#h says 2e101270 4e6749f8 2f1792b7 14a0c188 36bb19d6, computed " in msg


def test_moving_a_leap_to_another_month_fails_the_hash() -> None:
    jul_2017 = date_to_unix(date(2017, 7, 1)) + NTP_UNIX_OFFSET
    with pytest.raises(LeapTableError, match="hash mismatch"):
        LeapTable.parse(tampered("3692217600", str(jul_2017)))


def test_one_digit_tamper_in_a_date_names_line_and_check() -> None:
    text = tampered("2303683200", "2303683300")
    with pytest.raises(LeapTableError) as err:
        LeapTable.parse(text, "x.list")
    assert str(err.value).startswith(f"x.list, line {line_no(text, '2303683300')}: not the start")


def test_offset_tamper_names_the_step_check() -> None:
    text = tampered("3692217600      37", "3692217600      38")
    with pytest.raises(LeapTableError, match=rf"line {line_no(text, '3692217600')}: offset step"):
        LeapTable.parse(text)


def test_non_increasing_dates() -> None:
    text = tampered("2303683200      12      # 1 Jan 1973", "2272060800      12      # bad")
    with pytest.raises(LeapTableError, match=r"line \d+: non-increasing dates"):
        LeapTable.parse(text)


def test_bad_number() -> None:
    text = tampered("3692217600      37", "3692217600      3x7")
    with pytest.raises(LeapTableError, match=rf"line {line_no(text, '3x7')}: bad number"):
        LeapTable.parse(text)


@pytest.mark.parametrize(("prefix", "what"), [("#h", "SHA-1 hash"), ("#@", "expiry")])
def test_missing_special_line(prefix: str, what: str) -> None:
    lines = [ln for ln in shipped_text().splitlines() if not ln.startswith(prefix)]
    with pytest.raises(LeapTableError, match=f"<string>, end of file .*missing {prefix}.*{what}"):
        LeapTable.parse("\n".join(lines))


def test_load_from_a_path_names_the_file(tmp_path: Any) -> None:
    path = tmp_path / "leap-seconds.list"
    path.write_text(tampered("#$\t3976686858", "#$\t3960835209"))
    with pytest.raises(LeapTableError, match=str(path)):
        LeapTable.load(path)
    path.write_text(shipped_text())
    assert LeapTable.load(path).source == str(path)


# --- expiry policy -----------------------------------------------------------------------------
def test_after_expiry_default_answers_and_warns_once(recorder: Recorder) -> None:
    table = shipped_list()
    assert table.tai_minus_utc(EXPIRY - 1) == 37
    assert recorder.events == []
    assert table.tai_minus_utc(EXPIRY + 86_400 * 365) == 37
    assert table.utc_to_tai(EXPIRY + 5) == EXPIRY + 42
    assert [name for name, _ in recorder.events] == ["leap_table_expired"]
    fields = recorder.events[0][1]
    assert fields["expires_utc"] == "2026-12-28T00:00:00Z"
    assert fields["policy"] == "assume_no_new_leaps"


def test_after_expiry_strict_raises_clearly() -> None:
    table = shipped_list(expiry_policy="strict")
    assert table.tai_minus_utc(EXPIRY - 1) == 37
    asked = EXPIRY + 3600
    with pytest.raises(LeapTableExpired) as err:
        table.tai_minus_utc(asked)
    assert "expired on 2026-12-28" in str(err.value)
    assert f"Unix {asked}" in str(err.value)
    with pytest.raises(LeapTableExpired):
        table.tai_to_utc(asked + 37)


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="expiry_policy"):
        LeapTable.load(expiry_policy="hope")  # type: ignore[arg-type]


# --- hypothetical leaps ------------------------------------------------------------------------
def test_with_leap_adds_a_negative_leap(table: LeapTable) -> None:
    new = table.with_leap("2027-06-30", -1, expires=date_to_unix(date(2028, 1, 1)))
    leap = date_to_unix(date(2027, 7, 1))
    assert len(table.leaps) == 28  # the original is untouched
    assert new.leaps[-1] == (leap, 36)
    assert new.events[-1].sign == -1
    assert new.events[-1].day == date(2027, 6, 30)
    assert new.tai_minus_utc(leap - 1) == 37
    assert new.tai_minus_utc(leap) == 36
    assert new.next_leap(leap - 86_400) == new.events[-1]


def test_with_leap_refuses_a_day_that_does_not_end_a_month(table: LeapTable) -> None:
    with pytest.raises(ValueError, match=r"2027-06-29 is not the last day of a month.*2027-06-30"):
        table.with_leap(date(2027, 6, 29), 1)
    with pytest.raises(ValueError, match="2028-02-29"):
        table.with_leap(date(2028, 2, 28), 1)
    assert table.with_leap(date(2028, 2, 29), 1).events[-1].unix == date_to_unix(date(2028, 3, 1))


def test_with_leap_refuses_bad_sign_and_past_dates(table: LeapTable) -> None:
    with pytest.raises(ValueError, match="sign"):
        table.with_leap("2027-12-31", 2)
    with pytest.raises(ValueError, match="not after the table's last entry"):
        table.with_leap("2015-12-31", 1)


# --- conversions -------------------------------------------------------------------------------
def test_the_inserted_second_maps_to_a_repeated_2359_59(table: LeapTable) -> None:
    assert table.utc_to_tai(JAN_2017 - 1) == JAN_2017 - 1 + 36
    assert table.utc_to_tai(JAN_2017 - 1, fold=1) == JAN_2017 + 36  # 23:59:60
    assert table.utc_to_tai(JAN_2017) == JAN_2017 + 37
    assert table.utc_to_tai(JAN_2017 - 2, fold=1) == JAN_2017 - 2 + 36  # fold only matters there
    assert table.tai_to_utc_fold(JAN_2017 + 36 + mpq(1, 2)) == (JAN_2017 - mpq(1, 2), 1)
    assert table.tai_to_utc_fold(JAN_2017 + 37) == (JAN_2017, 0)


def test_negative_leap_conversions(table: LeapTable) -> None:
    new = table.with_leap("2027-06-30", -1, expires=date_to_unix(date(2028, 1, 1)))
    leap = date_to_unix(date(2027, 7, 1))
    assert new.utc_to_tai(leap - 2) == leap - 2 + 37  # 23:59:58
    assert new.utc_to_tai(leap) == leap + 36  # next TAI second: 23:59:59 never happened
    assert new.tai_to_utc(leap + 35) == leap - 2
    assert new.tai_to_utc(leap + 36) == leap


@st.composite
def instants(draw: st.DrawFn) -> mpq:
    whole = draw(st.integers(date_to_unix(date(1972, 1, 1)), date_to_unix(date(2030, 1, 1))))
    return whole + mpq(draw(st.integers(0, 10**9 - 1)), 10**9)


@given(instants(), st.sampled_from([0, 1]))
def test_utc_tai_round_trip(table: LeapTable, u: mpq, fold: int) -> None:
    tai = table.utc_to_tai(u, fold=fold)
    assert table.tai_to_utc(tai) == u


@given(instants())
def test_tai_utc_round_trip_with_fold(table: LeapTable, tai: mpq) -> None:
    tai += 10
    utc, fold = table.tai_to_utc_fold(tai)
    assert table.utc_to_tai(utc, fold=fold) == tai


@given(st.integers(1, 27), st.integers(0, 999))
def test_every_leap_second_is_a_fold(table: LeapTable, index: int, ms: int) -> None:
    event = table.events[index - 1]
    tai = event.unix + event.tai_minus_utc_before + mpq(ms, 1000)  # inside 23:59:60
    assert table.tai_to_utc_fold(tai) == (event.unix - 1 + mpq(ms, 1000), 1)


def test_programmatic_tables_get_the_same_structural_checks() -> None:
    ok = LeapTable([(63_072_000, 10), (78_796_800, 11)], expires=EXPIRY, last_update=0)
    assert [e.sign for e in ok.events] == [1]
    with pytest.raises(ValueError, match="change by exactly ±1"):
        LeapTable([(63_072_000, 10), (78_796_800, 12)], expires=EXPIRY, last_update=0)
    with pytest.raises(ValueError, match="dates must increase"):
        LeapTable([(78_796_800, 10), (63_072_000, 11)], expires=EXPIRY, last_update=0)
