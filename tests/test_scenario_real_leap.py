"""The real chronyd's leap second as a scenario: `ntp_server = true` and chrony-real-leap.toml.

The validation tests need neither the shim nor a daemon.  The real run (the shipped
chrony-real-leap.toml started 30 s before midnight and cut to 45 simulated seconds) skips
with the standard message where chronyd or a C compiler is missing.
"""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from scenario_support import issues, one_issue
from shim_support import needs_cc

from tk_core.cli import main
from tk_core.scenario import ScenarioError, load_scenario, load_text
from tk_core.scenario.programs import ProgramOutcome, register_backend
from tk_core.scenario.results import execute
from tk_core.scenario.runner import Runner
from tk_shim.daemons import find_daemon, skip_message

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "scenarios" / "chrony-real-leap.toml"
MIDNIGHT_S = 90  # the shipped run starts 90 s before the leap
HEAD = """[scenario]
name = "l"
description = "leap server"
duration = "100s"
sample_every = "10s"

[host]
start = 2016-12-31T23:59:00Z
"""
LEAP_SERVER = '\n[[namespaces]]\nname = "leap-server"\nntp_server = true\n'
CLIENT = """
[[namespaces]]
name = "client"

[[namespaces.programs]]
daemon = "chronyd"
server = "leap-server"
"""


# -- validation (no daemon, no shim) -------------------------------------------------------------


def test_an_ntp_server_namespace_gets_an_address_and_can_be_a_clients_server() -> None:
    loaded = load_text(HEAD + LEAP_SERVER + CLIENT, "x.toml")
    r = loaded.resolved
    assert r.addresses == {"leap-server": "10.0.0.1", "client": "10.0.0.2"}
    assert [p.label for p in r.programs] == ["client/chronyd"]


def test_the_shipped_scenario_validates_with_its_servers_and_clients() -> None:
    r = load_scenario(SHIPPED).resolved
    assert r.addresses["leap-server"] == "10.0.0.1"
    servers = {p.namespace: p.spec.server for p in r.programs}
    assert servers == {"system": "leap-server", "step": "leap-server", "slew": "leap-server",
                       "smear-server": "leap-server", "smear-client": "smear-server"}
    modes = {p.namespace: p.spec.leapsecmode for p in r.programs}
    assert modes["system"] == "system" and modes["step"] == "step" and modes["slew"] == "slew"
    assert r.duration_ns <= 150 * 10**9


def test_it_is_listed_and_validates_by_name_without_any_daemon(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIMEKEEPERS_DAEMONS_DIR", str(tmp_path))
    monkeypatch.setenv("CC", "no-such-cc")
    assert main(["list"]) == 0
    assert "chrony-real-leap" in capsys.readouterr().out
    assert main(["validate", "chrony-real-leap"]) == 0
    assert "chrony-real-leap.toml: ok (10 namespaces" in capsys.readouterr().out


@pytest.mark.parametrize(("table", "path", "words"), [
    ('ntp_server = 3\n', "namespaces[0].ntp_server", "valid boolean"),
    ('ntp_server = true\nmodel = "offsets"\n', "namespaces[0]",
     "ntp_server = true needs model = 'timekeeper'"),
    ('ntp_server = true\n\n[[namespaces.programs]]\ndaemon = "chronyd"\nrole = "server"\n',
     "namespaces[0]", "expected no [[namespaces.programs]] in it"),
    ('ntp_srever = true\n', "namespaces[0].ntp_srever", "did you mean 'ntp_server'?"),
])
def test_a_malformed_ntp_server_names_its_field_and_what_was_expected(
    table: str, path: str, words: str
) -> None:
    text = HEAD + '\n[[namespaces]]\nname = "leap-server"\n' + table + CLIENT
    found = issues(text)
    assert any(where == path and words in message for where, message in found), found


def test_an_ntp_server_without_any_program_is_refused() -> None:
    where, message = one_issue(HEAD + LEAP_SERVER)
    assert where == "namespaces[0].ntp_server"
    assert "no namespace runs one" in message


def test_a_client_of_a_namespace_that_neither_runs_programs_nor_serves() -> None:
    text = HEAD + '\n[[namespaces]]\nname = "leap-server"\n' + CLIENT
    where, message = one_issue(text)
    assert where == "namespaces[1].programs[0].server"
    assert "[[namespaces.programs]] or ntp_server = true" in message


def test_errors_carry_the_file_and_line() -> None:
    text = HEAD + '\n[[namespaces]]\nname = "leap-server"\nntp_server = 3\n' + CLIENT
    with pytest.raises(ScenarioError) as info:
        load_text(text, "x.toml")
    shown = str(info.value)
    assert "x.toml:12" in shown and "ntp_server" in shown, shown


class _NoPrograms:
    """A backend whose driver moves time only (no shim): the table arming is the engine's."""

    def unavailable(self, resolved: Any) -> str | None:
        return None

    def driver(self, host: Any, resolved: Any) -> Any:
        return _Driver(host)


class _Driver:
    def __init__(self, host: Any) -> None:
        self.host = host

    def start(self, program: Any) -> None:
        pass

    def advance(self, true_ns: int) -> None:
        self.host.run_until(true_ns)

    def finish(self) -> list[ProgramOutcome]:
        return []


def test_the_leap_table_arms_the_server_and_not_the_real_programs_namespaces() -> None:
    register_backend(_NoPrograms())
    try:
        rows: list[list[str]] = []
        text = HEAD.replace('"10s"', '"250ms"') + LEAP_SERVER + CLIENT
        runner = Runner(load_text(text, "x.toml"), rows.append)
        runner.run()
    finally:
        register_backend(None)
    states = {(r[2], r[14]) for r in rows}
    assert ("leap-server", "TIME_OOP") in states  # armed by the table: its kernel inserts
    assert {s for ns, s in states if ns == "client"} == {"TIME_OK"}  # chronyd decides there


class _Probing:
    """The shim backend, with a model NTP client asking 10.0.0.1 at `times` (true ns)."""

    def __init__(self, times: list[int]) -> None:
        self.times = times
        self.probe: Any = None
        self.inner: Any = None

    def unavailable(self, resolved: Any) -> str | None:
        return None

    def driver(self, host: Any, resolved: Any) -> Any:
        from tk_shim.ntp_server import NtpClientModel
        from tk_shim.scenario import BACKEND

        self.inner = BACKEND.driver(host, resolved)
        node = self.inner.network.add_node("10.0.0.9", host.namespaces["client"])
        self.probe = NtpClientModel(node, ("10.0.0.1", 123))
        return self

    def start(self, program: Any) -> None:
        pass  # the client's chronyd is not needed: the probe asks instead

    def advance(self, true_ns: int) -> None:
        while self.times and self.times[0] <= true_ns:
            self.inner.advance(self.times.pop(0))
            self.probe.request()
        self.inner.advance(true_ns)

    def finish(self) -> list[ProgramOutcome]:
        self.inner.finish()
        return []


@needs_cc
def test_the_shim_driver_serves_the_leap_from_the_server_namespaces_kernel() -> None:
    seconds = (30, 59, 60, 61, 62, 63, 90)  # true midnight (23:59:60 begins) is at 60 s
    backend = _Probing([s * 10**9 + 500_000_000 for s in seconds])
    register_backend(backend)
    try:
        Runner(load_text(HEAD + LEAP_SERVER + CLIENT, "x.toml")).run()
    finally:
        register_backend(None)
    # LI = 1 until the kernel has inserted the second (TIME_WAIT from 00:00:00 on)
    assert [x.leap for x in backend.probe.samples] == [1, 1, 1, 0, 0, 0, 0]
    assert backend.inner.ntp_servers[0].answered == 7


# -- the real run ------------------------------------------------------------------------------

CHRONYD = find_daemon("chronyd")
LEAP_UNIX_NS = 1_483_228_800 * 10**9  # 2017-01-01T00:00:00Z
LEAD_S = 30  # the test's run starts 30 s before midnight and lasts 45 s


def _run(tmp_path: Path) -> tuple[dict[str, list[tuple[float, int, str, str]]], Any, Path]:
    loaded = load_scenario(SHIPPED, sets=["host.start=2016-12-31T23:59:30Z",
                                          "scenario.duration=45s"])
    out = tmp_path / "out"
    result = execute(loaded, out)
    assert result.failures == [], result.failures
    series: dict[str, list[tuple[float, int, str, str]]] = {}
    with (out / "samples.csv").open() as f:
        for r in csv.DictReader(f):
            t = int(r["true_ns"]) / 1e9 - LEAD_S  # seconds after true midnight
            series.setdefault(r["namespace"], []).append(
                (t, int(r["offset_utc_ns"]), r["ntp_state"], r["ntp_status"]))
    return series, result, out


def _realtimes(out: Path, namespace: str) -> list[tuple[float, int]]:
    with (out / "samples.csv").open() as f:
        return [(int(r["true_ns"]) / 1e9 - LEAD_S, int(r["realtime_ns"]))
                for r in csv.DictReader(f) if r["namespace"] == namespace]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return _run(tmp_path_factory.mktemp("real-leap"))


def _after(rows: list[tuple[float, int, str, str]], lo: float, hi: float = 1e9) -> list[int]:
    return [abs(o) for t, o, _, _ in rows if lo <= t <= hi]


@needs_cc
@pytest.mark.skipif(CHRONYD is None, reason=skip_message("chronyd"))
def test_system_mode_lets_the_clients_kernel_insert_the_leap(real_run: Any) -> None:
    series, result, out = real_run
    rows = series["system"]
    states = [s for _, _, s, _ in rows]
    assert "TIME_INS" in states and "TIME_OOP" in states and "TIME_WAIT" in states
    assert max(_after(rows, 0.1)) < 100_000  # on stepped UTC after midnight (< 0.1 ms)
    ns = result.summary["namespaces"]["system"]
    assert ns["realtime_backward_steps"] == 1
    log = (out / "programs" / "system" / "chronyd" / "output.log").read_text()
    assert "System clock status set to insert leap second" in log


@needs_cc
@pytest.mark.skipif(CHRONYD is None, reason=skip_message("chronyd"))
def test_step_mode_steps_the_clock_back_itself(real_run: Any) -> None:
    series, result, out = real_run
    rows = series["step"]
    assert {s for _, _, s, _ in rows} == {"TIME_OK"}  # the kernel is never armed
    assert not any("INS" in st for _, _, _, st in rows)
    # REALTIME reads 23:59:59 again without the kernel's TIME_OOP mark: a whole second
    # off the inserted 23:59:60 label, then on UTC from 00:00:00
    inserted = [o for t, o, _, _ in rows if 0.1 <= t <= 0.9]
    assert inserted and all(abs(o + 10**9) < 100_000 for o in inserted), inserted
    # ... and yet its REALTIME is the kernel's stepped UTC then, as `system`'s is
    real = dict(_realtimes(out, "step"))
    stepped = {t: LEAP_UNIX_NS - 10**9 + round(t * 10**9) for t in real if 0.1 <= t <= 0.9}
    assert stepped and all(abs(real[t] - v) < 100_000 for t, v in stepped.items())
    assert max(_after(rows, 1.1)) < 100_000
    assert result.summary["namespaces"]["step"]["realtime_backward_steps"] == 1
    log = (out / "programs" / "step" / "chronyd" / "output.log").read_text()
    assert "System clock was stepped for leap second" in log


@needs_cc
@pytest.mark.skipif(CHRONYD is None, reason=skip_message("chronyd"))
def test_slew_mode_slews_the_second_out_in_about_twelve_seconds(real_run: Any) -> None:
    series, result, _ = real_run
    rows = series["slew"]
    early = [o for t, o, _, _ in rows if 0.1 <= t <= 1.0]
    assert early and all(900 * 10**6 < o < 10**9 for o in early), early  # still ~1 s ahead
    falling = [o for t, o, _, _ in rows if 1.0 <= t <= 10.0]
    assert all(b < a for a, b in itertools.pairwise(falling))
    assert max(_after(rows, 15.0)) < 1_000_000  # within 1 ms 15 s after midnight
    above = result.summary["namespaces"]["slew"]["offset_utc_ns"]["time_above_ns"]["1ms"]
    assert 11 * 10**9 < above < 14 * 10**9  # 1 s at 83333 ppm: 12 s
    assert result.summary["namespaces"]["slew"]["realtime_backward_steps"] == 0


@needs_cc
@pytest.mark.skipif(CHRONYD is None, reason=skip_message("chronyd"))
def test_the_smear_client_never_hears_of_the_leap(real_run: Any) -> None:
    series, _, out = real_run
    rows = series["smear-client"]
    assert {s for _, _, s, _ in rows} == {"TIME_OK"}
    late = [o for t, o, _, _ in rows if t >= 1.0]
    assert late and all(abs(o - 10**9) < 1_000_000 for o in late)  # 1 s ahead, smear slow
    log = (out / "programs" / "smear-server" / "chronyd" / "output.log").read_text()
    assert "Time smoothing activated" in log
    listing = json.loads((out / "programs" / "programs.json").read_text())
    assert all(p["running_at_end"] for p in listing)
