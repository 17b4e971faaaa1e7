"""Real programs in scenarios: the `[[namespaces.programs]]` schema, the backend hook, a real run.

The schema and hook tests need neither the shim nor a daemon.  The real run (the shipped
chrony-real.toml, cut to a few simulated minutes) skips with the standard message where
chronyd or a C compiler is missing.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scenario_support import one_issue
from shim_support import START_NS, bin_dir, compile_c, needs_cc  # noqa: F401

from tk_core.cli import main
from tk_core.host import Host
from tk_core.scenario import ScenarioError, load_scenario, load_text
from tk_core.scenario.programs import (
    PlannedProgram,
    ProgramOutcome,
    placeholders,
    register_backend,
    substitute,
)
from tk_core.scenario.results import execute
from tk_core.scenario.runner import Runner
from tk_shim.daemons import find_daemon, skip_message

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "scenarios" / "chrony-real.toml"
HEAD = """[scenario]
name = "p"
description = "programs"
duration = "100s"
sample_every = "10s"

[host]
start = 2026-03-01T00:00:00Z
"""
SERVER = """
[[namespaces]]
name = "server"

[[namespaces.programs]]
daemon = "chronyd"
role = "server"
"""


def scenario(*tables: str) -> str:
    return HEAD + SERVER + "".join(tables)


def client(body: str = 'daemon = "chronyd"\nserver = "server"\n', extra: str = "") -> str:
    return f'\n[[namespaces]]\nname = "client"\n{extra}\n[[namespaces.programs]]\n{body}'


# -- the schema and its rules ------------------------------------------------------------------


def test_shorthand_plans_each_program_and_gives_addresses_in_file_order() -> None:
    loaded = load_text(scenario(client(extra="count = 2")), "x.toml")
    r = loaded.resolved
    assert r.addresses == {"server": "10.0.0.1", "client-0": "10.0.0.2",
                           "client-1": "10.0.0.3"}
    assert [p.label for p in r.programs] == ["server/chronyd", "client-0/chronyd",
                                             "client-1/chronyd"]
    assert r.programs[1].spec.poll_range() == (6, 10)


def test_shipped_scenario_validates_without_any_daemon(tmp_path: Path, capsys: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMEKEEPERS_")}
    env.update(TIMEKEEPERS_DAEMONS_DIR=str(tmp_path), PATH=str(tmp_path), CC="no-such-cc")
    code = ("import sys; from tk_core.cli import main; rc = main(['validate', sys.argv[1]]); "
            "print('tk_shim' in sys.modules); raise SystemExit(rc)")
    done = subprocess.run([sys.executable, "-c", code, str(SHIPPED)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "chrony-real.toml: ok (3 namespaces" in done.stdout
    assert done.stdout.strip().endswith("False")  # validating never imports the shim


def test_engine_modules_do_not_import_the_shim() -> None:
    code = ("import sys, tk_core.scenario, tk_core.scenario.results, tk_core.cli_commands; "
            "print(sorted(m for m in sys.modules if m.startswith('tk_shim')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(("body", "path", "words"), [
    ('daemon = "chronyd"\nargv = ["x"]\nserver = "server"\n', "namespaces[1].programs[0]",
     "exactly one of `argv`"),
    ('name = "x"\n', "namespaces[1].programs[0]", "exactly one of `argv`"),
    ('daemon = "chronyd"\n', "namespaces[1].programs[0]", "needs `server`"),
    ('argv = ["date"]\nminpoll = 4\n', "namespaces[1].programs[0]",
     "minpoll apply to `daemon = ...` only"),
    ('daemon = "ntpd"\nrole = "server"\n', "namespaces[1].programs[0]",
     "daemon 'ntpd' runs as 'client' here"),
    ('daemon = "ntpd"\nserver = "server"\nminpoll = 2\n', "namespaces[1].programs[0]",
     "ntpd needs 3 <= minpoll <= maxpoll <= 17, found minpoll 2"),
    ('daemon = "chronyd"\nserver = "server"\nminpoll = 8\nmaxpoll = 6\n',
     "namespaces[1].programs[0]", "minpoll 8, maxpoll 6"),
    ('daemon = "chronyd"\nserver = "server"\nstratum = 2\n', "namespaces[1].programs[0]",
     "stratum applies to role = 'server' only"),
    ('daemon = "chronyd"\nrole = "server"\nserver = "server"\n', "namespaces[1].programs[0]",
     "server apply to role = 'client' only"),
    ('daemon = "chronyd"\nserver = "nowhere"\n', "namespaces[1].programs[0].server",
     "a namespace that runs a program (one with [[namespaces.programs]] or ntp_server = true: "
     "client, server), found 'nowhere'"),
    ('daemon = "chronyd"\nserver = "client"\n', "namespaces[1].programs[0].server",
     "found its own ('client')"),
    ('argv = ["date"]\nstart = "200s"\n', "namespaces[1].programs[0].start",
     "within the run"),
    ('argv = ["date", "{wrokdir}"]\n', "namespaces[1].programs[0].argv[1]",
     "unknown placeholder '{wrokdir}'"),
    ('argv = ["date"]\nfiles = { "a.conf" = "server {address:ghost}" }\n',
     "namespaces[1].programs[0].files.a.conf", "found 'ghost'"),
    ('argv = ["date"]\nfiles = { "a.conf" = "x { y" }\n',
     "namespaces[1].programs[0].files.a.conf", "a lone '{'"),
    ('argv = ["date"]\nfiles = { "../evil" = "x" }\n', "namespaces[1].programs[0].files.../evil",
     "expected a name"),
    ('argv = ["date"]\nenv = { LD_PRELOAD = "x.so" }\n', "namespaces[1].programs[0].env",
     "not LD_* or TK_SHIM_*"),
    ('argv = ["date"]\nargs = ["x"]\n', "namespaces[1].programs[0].args",
     "unknown key; did you mean 'argv'?"),
    ('argv = []\n', "namespaces[1].programs[0].argv", "at least 1 item"),
    ('daemon = "chrony"\nserver = "server"\n', "namespaces[1].programs[0].daemon",
     "expected 'chronyd' or 'ntpd'"),
])
def test_a_malformed_entry_names_its_field_and_what_was_expected(
    body: str, path: str, words: str
) -> None:
    where, message = one_issue(scenario(client(body)))
    assert where == path
    assert words in message


def test_errors_carry_the_file_and_line() -> None:
    text = scenario(client('daemon = "chronyd"\nserver = "nowhere"\n'))
    with pytest.raises(ScenarioError) as info:
        load_text(text, "x.toml")
    line = text.splitlines().index('server = "nowhere"') + 1
    assert f"x.toml:{line}: namespaces[1].programs[0].server" in info.value.render()


def test_two_programs_of_one_name_in_a_namespace() -> None:
    body = 'argv = ["date"]\n\n[[namespaces.programs]]\nargv = ["/bin/date"]\n'
    where, message = one_issue(scenario(client(body)))
    assert where == "namespaces[1].programs[1].name"
    assert "'date' is used twice" in message


def test_network_loss_must_be_a_probability() -> None:
    where, message = one_issue(scenario(client(), "\n[network]\nloss = 1\n"))
    assert where == "network.loss" and "[0, 1)" in message


def test_placeholders_are_parsed_and_filled() -> None:
    text = "server {address:srv} {{literal}} dir {workdir} own {address} as {user}"
    assert placeholders(text) == [("address", "srv"), ("workdir", None), ("address", None),
                                  ("user", None)]
    filled = substitute(text, {"workdir": "/w", "address": "10.0.0.2", "user": "u"},
                        {"srv": "10.0.0.1"}.__getitem__)
    assert filled == "server 10.0.0.1 {literal} dir /w own 10.0.0.2 as u"
    for bad in ("{workdir:x}", "{address:}", "}", "{nope}"):
        with pytest.raises(ValueError):
            placeholders(bad)


# -- the backend hook -----------------------------------------------------------------------------


class FakeDriver:
    """Records the runner's calls; moves time as the engine would."""

    def __init__(self, host: Host, log: list[tuple[str, int]]) -> None:
        self.host, self.log = host, log

    def start(self, program: PlannedProgram) -> None:
        self.log.append((f"start {program.label}", self.host.true_ns))

    def advance(self, true_ns: int) -> None:
        self.log.append(("advance", true_ns))
        self.host.run_until(true_ns)

    def finish(self) -> list[ProgramOutcome]:
        self.log.append(("finish", self.host.true_ns))
        return [ProgramOutcome("client/date", ["date"], 1, None, False, b"boom\n")]


class FakeBackend:
    def __init__(self, why: str | None = None) -> None:
        self.why = why
        self.log: list[tuple[str, int]] = []

    def unavailable(self, resolved: Any) -> str | None:
        return self.why

    def driver(self, host: Host, resolved: Any) -> FakeDriver:
        return FakeDriver(host, self.log)


@pytest.fixture
def fake() -> Any:
    backend = FakeBackend()
    register_backend(backend)
    yield backend
    register_backend(None)


def test_the_runner_hands_time_and_starts_to_the_driver(fake: FakeBackend) -> None:
    text = scenario(client('argv = ["date"]\nstart = "35s"\n'))
    loaded = load_text(text, "x.toml")
    Runner(loaded)  # building (what `validate` does) starts nothing
    assert fake.log == []
    result = Runner(loaded).run()
    assert ("start server/chronyd", 0) in fake.log
    assert ("start client/date", 35 * 10**9) in fake.log
    advances = [t for what, t in fake.log if what == "advance"]
    assert advances and max(advances) == 100 * 10**9
    assert fake.log[-1] == ("finish", 100 * 10**9)
    # a program that exited with an error before the end fails the run, with its last line
    assert "program client/date: exited with status 1 (last output: boom)" in result.failures


def test_programs_that_cannot_run_leave_no_results(tmp_path: Path, fake: FakeBackend,
                                                   capsys: Any) -> None:
    fake.why = "chronyd not found: run scripts/fetch-daemons.sh"
    path = tmp_path / "s.toml"
    path.write_text(scenario(client()))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "-q"]) == 1
    assert "chronyd not found: run scripts/fetch-daemons.sh" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == [path]


def test_the_shim_backend_says_how_to_get_a_missing_daemon(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from tk_shim.scenario import BACKEND

    for var in ("TIMEKEEPERS_CHRONYD", "TIMEKEEPERS_NTPD"):
        monkeypatch.delenv(var, raising=False)
    cc = shutil.which(os.environ.get("CC", "cc").split()[0])
    if cc is None:
        pytest.skip("no C compiler: the shim backend reports that first")
    monkeypatch.setenv("CC", cc)
    monkeypatch.setenv("TIMEKEEPERS_DAEMONS_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    if Path("/usr/sbin/chronyd").exists() or Path("/usr/local/sbin/chronyd").exists():
        pytest.skip("chronyd is installed system-wide: it cannot be missing here")
    resolved = load_text(scenario(client()), "x.toml").resolved
    why = BACKEND.unavailable(resolved)
    assert why is not None and why.startswith("program server/chronyd: chronyd not found")
    assert "scripts/fetch-daemons.sh" in why
    monkeypatch.setenv("CC", "no-such-compiler")
    why = BACKEND.unavailable(resolved)
    assert why is not None and "C compiler" in why


# -- the shim's pause point and a real run ---------------------------------------------------------


@needs_cc
def test_run_until_pauses_a_sleeping_program_and_goes_on() -> None:
    import tk_shim

    host = Host(realtime_ns=START_NS)
    ns = host.create_namespace("t")
    with tk_shim.Simulation(host) as sim:
        prog = sim.attach(ns, ["sleep", "5"], stdout=tk_shim.CAPTURE, stderr=tk_shim.CAPTURE)
        assert sim.run_until(2 * 10**9) is True
        assert host.true_ns == 2 * 10**9 and prog.returncode is None and prog.error is None
        assert sim.run_until(10 * 10**9) is False  # it slept to 5 s and exited
        assert host.true_ns == 10 * 10**9
        assert prog.returncode == 0 and prog.error is None, prog.diagnostics


@needs_cc
def test_run_until_waits_out_a_block_nothing_can_end(bin_dir: Path) -> None:  # noqa: F811
    """`run` calls it a deadlock; `run_until` waits at its horizon, where a caller may act."""
    import tk_shim

    source = bin_dir / "pauser.c"
    source.write_text("#include <unistd.h>\nint main(void) { pause(); return 0; }\n")
    pauser = compile_c(source, bin_dir)
    host = Host(realtime_ns=START_NS)
    ns = host.create_namespace("t")
    with tk_shim.Simulation(host) as sim:
        prog = sim.attach(ns, [str(pauser)], stdout=tk_shim.CAPTURE, stderr=tk_shim.CAPTURE)
        assert sim.run_until(5 * 10**9) is True
        assert host.true_ns == 5 * 10**9
        assert prog.returncode is None and prog.error is None, prog.diagnostics
        sim.run(until_ns=6 * 10**9)
    assert prog.error is not None and "deadlock" in prog.error


CHRONYD = find_daemon("chronyd")


@needs_cc
@pytest.mark.skipif(CHRONYD is None, reason=skip_message("chronyd"))
def test_shipped_chrony_real_converges_the_client(tmp_path: Path) -> None:
    loaded = load_scenario(SHIPPED, until="240s")
    out = tmp_path / "out"
    result = execute(loaded, out)
    assert result.failures == [], result.failures
    with (out / "samples.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["namespace"] == "client"]
    offsets = {int(r["true_ns"]) // 10**9: int(r["offset_utc_ns"]) for r in rows}
    exact = result.summary["namespaces"]["client"]["offset_utc_ns"]
    assert 10**8 <= exact["max_abs"] < 101 * 10**6  # 0.1 s ahead as chronyd starts
    assert exact["time_above_ns"]["1ms"] < 60 * 10**9  # slewed within a minute
    late = [abs(o) for t, o in offsets.items() if t >= 120]
    assert late and max(late) < 1_000_000, offsets
    listing = json.loads((out / "programs" / "programs.json").read_text())
    assert [p["program"] for p in listing] == ["server/chronyd", "client/chronyd"]
    assert all(p["running_at_end"] for p in listing)
    log = (out / "programs" / "client" / "chronyd" / "output.log").read_text()
    assert "Selected source 10.0.0.1" in log
    assert (out / "programs" / "client" / "chronyd" / "measurements.log").exists()


def _docs_example() -> str:
    """The `argv` example of docs/scenarios.md, as a client of a chronyd server."""
    page = (ROOT / "docs" / "scenarios.md").read_text("utf-8")
    section = page.split("## Real programs in a scenario", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```toml\n")[1:]]
    example = next(b for b in blocks if "argv" in b)
    return HEAD.replace('"100s"', '"60s"') + SERVER + (
        '\n[[namespaces]]\nname = "client"\n\n' + example)


def test_the_docs_argv_example_validates() -> None:
    loaded = load_text(_docs_example(), "docs.toml")
    (started,) = [p for p in loaded.resolved.programs if p.namespace == "client"]
    assert started.start_ns == 10 * 10**9 and started.spec.argv is not None


@needs_cc
@pytest.mark.skipif(CHRONYD is None, reason=skip_message("chronyd"))
def test_the_docs_argv_example_runs_a_client_that_starts_late(tmp_path: Path) -> None:
    # the server waits alone (blocked with nothing to wake it) until the client starts
    out = tmp_path / "out"
    result = execute(load_text(_docs_example(), "docs.toml"), out)
    assert result.failures == [], result.failures
    log = (out / "programs" / "client" / "chronyd" / "output.log").read_text()
    assert "Selected source 10.0.0.1" in log


def test_a_table_inside_an_array_item_is_located_at_its_own_line() -> None:
    text = HEAD + ('\n[[namespaces]]\nname = "a"\n\n[[namespaces]]\nname = "b"\n\n'
                   '[namespaces.leap]\npolicy = "stpe"\n')
    with pytest.raises(ScenarioError) as info:
        load_text(text, "x.toml")
    line = text.splitlines().index('policy = "stpe"') + 1
    assert f"x.toml:{line}: namespaces[1].leap.policy" in info.value.render()


def test_the_resolved_scenario_reads_back_with_the_same_programs() -> None:
    from tk_core.scenario.results import resolved_toml

    text = scenario(client('argv = ["date", "{address:server}"]\nstart = "5s"\n'
                           'files = { "a.conf" = "x" }\n'), "\n[network]\ndelay = \"1ms\"\n")
    loaded = load_text(text, "x.toml")
    again = load_text(resolved_toml(loaded), "resolved.toml")
    assert [p.spec for p in again.resolved.programs] == [p.spec for p in loaded.resolved.programs]
    assert again.scenario.network == loaded.scenario.network
    plain = resolved_toml(load_text(HEAD + '[[namespaces]]\nname = "a"\n', "plain.toml"))
    assert "[network]" not in plain and "programs" not in plain.replace('"programs"', "")


def test_a_name_from_argv0_is_always_a_safe_folder_name() -> None:
    names = {}
    for argv0 in ("/usr/bin/date", "/x/..", "{workdir}/run me", "./a.out"):
        body = f'argv = ["{argv0}"]\n'
        (planned,) = load_text(HEAD + client(body), "x.toml").resolved.programs
        names[argv0] = planned.name
    assert names == {"/usr/bin/date": "date", "/x/..": "program", "{workdir}/run me": "program",
                     "./a.out": "a.out"}
