"""The compiled build computes exactly what the pure code computes.

`tk_compiled` compiles the hot modules with mypyc into `.cache/compiled`.  Here two worker
processes, one importing the pure modules and one the compiled build, run the same inputs:
the shipped scenarios, NTP client runs and programs of engine calls drawn by hypothesis.
Every outcome (rows, summary, timer fires, clock readings, the final checkpoint) must be the
same text.  Without a build the comparisons skip (`scripts/build-compiled.sh` makes one; CI
does); a build made from other sources fails them, since it would compare old code.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tk_compiled
from tk_compiled.differential import OPERATIONS, Worker

ROOT = Path(__file__).resolve().parent.parent
NSEC = 1_000_000_000
#: The shipped scenarios quick enough for every run (the leap demo is in the soak).
QUICK_SCENARIOS = ("timer-storm", "lazy-vs-periodic", "acpi-pm-wraparound",
                   "pll-step-response", "criu-migration")


@pytest.fixture(scope="module")
def workers() -> Iterator[tuple[Worker, Worker]]:
    state = tk_compiled.status()
    if state == "missing":
        pytest.skip("no compiled build: scripts/build-compiled.sh makes one")
    assert state == "fresh", "the compiled build is stale: run scripts/build-compiled.sh"
    pure, compiled = Worker(compiled=False), Worker(compiled=True)
    yield pure, compiled
    pure.close()
    compiled.close()


def same(workers: tuple[Worker, Worker], request: dict[str, object]) -> None:
    pure, compiled = (w.ask(request) for w in workers)
    assert not pure.startswith("error: "), pure  # the inputs are all valid: a run to compare
    if pure != compiled:
        at = next(i for i, (a, b) in enumerate(zip(pure, compiled, strict=False)) if a != b)
        pytest.fail(f"pure and compiled differ at character {at}:\n"
                    f"pure:     …{pure[max(0, at - 200):at + 200]}\n"
                    f"compiled: …{compiled[max(0, at - 200):at + 200]}")


@pytest.mark.parametrize("name", QUICK_SCENARIOS)
def test_shipped_scenarios_are_the_same(workers: tuple[Worker, Worker], name: str) -> None:
    same(workers, {"scenario": (ROOT / "scenarios" / f"{name}.toml").read_text()})


@pytest.mark.soak
def test_the_leap_demo_is_the_same(workers: tuple[Worker, Worker]) -> None:
    same(workers, {"scenario": (ROOT / "scenarios" / "leap-2016-smear-vs-step.toml").read_text()})


NTP_RUN = """
[scenario]
name = "differential-ntp"
description = "NTP clients of one reference, run by the pure and the compiled engine"
duration = "{seconds}s"
sample_every = "{sample}s"
seed = {seed}

[host]
start = 2016-12-31T23:{minute:02d}:00Z
uptime = "1h"
hz = {hz}
kernel_version = "{kernel}"

[host.clocksource]
name = "tsc"
freq_hz = "2GHz"
error_ppm = {ppm}

[[namespaces]]
name = "client"
count = {clients}
update = "{update}"
ntp = {{ model = "{model}", poll_exp = {poll}{adaptive} }}
"""


@settings(max_examples=8, deadline=None)
@given(
    model=st.sampled_from(["chrony", "ntpd"]),
    clients=st.integers(1, 3),
    seconds=st.integers(60, 1500),
    sample=st.sampled_from([16, 64, 128]),
    seed=st.integers(0, 2**16),
    minute=st.integers(0, 59),
    hz=st.sampled_from([100, 250, 1000]),
    kernel=st.sampled_from(["5.15", "6.6", "6.12", "7.3"]),
    ppm=st.integers(-200, 200),
    update=st.sampled_from(["lazy", "periodic"]),
    poll=st.integers(4, 6),
    adaptive=st.booleans(),
)
def test_ntp_runs_are_the_same(workers: tuple[Worker, Worker], model: str, clients: int,
                               seconds: int, sample: int, seed: int, minute: int, hz: int,
                               kernel: str, ppm: int, update: str, poll: int,
                               adaptive: bool) -> None:
    text = NTP_RUN.format(model=model, clients=clients, seconds=seconds, sample=sample,
                          seed=seed, minute=minute, hz=hz, kernel=kernel, ppm=ppm,
                          update=update, poll=poll,
                          adaptive=f", minpoll = {poll}, maxpoll = 10" if adaptive else "")
    same(workers, {"scenario": text})


operations = st.tuples(
    st.sampled_from(OPERATIONS), st.integers(0, 7), st.integers(0, 3 * NSEC),
    st.integers(-10**6, 10**10),
)


@settings(max_examples=25, deadline=None)
@given(
    hz=st.sampled_from([100, 250, 300, 1000]),
    kernel=st.sampled_from(["5.15", "6.6", "7.3"]),
    fair=st.booleans(),
    nohz=st.booleans(),
    models=st.lists(st.sampled_from(["lazy", "periodic", "offsets"]), min_size=1, max_size=4),
    ops=st.lists(operations, min_size=1, max_size=25),
)
def test_engine_call_programs_are_the_same(workers: tuple[Worker, Worker], hz: int,
                                           kernel: str, fair: bool, nohz: bool,
                                           models: list[str],
                                           ops: list[tuple[str, int, int, int]]) -> None:
    spec = {"host": {"hz": hz, "kernel_version": kernel, "fair_expiry": fair, "nohz": nohz},
            "namespaces": models, "ops": [list(op) for op in ops]}
    same(workers, {"workload": spec})


# -- the build's bookkeeping, with or without a build ------------------------------------


def test_a_missing_build_is_reported_not_used(tmp_path: Path) -> None:
    assert tk_compiled.status(tmp_path / "none") == "missing"
    with pytest.raises(tk_compiled.BuildError, match="is missing: run scripts/build-compiled"):
        tk_compiled.environment(tmp_path / "none")


def test_a_build_of_other_sources_is_stale(tmp_path: Path) -> None:
    (tmp_path / tk_compiled.STAMP).write_text("0" * 64 + "\n")
    assert tk_compiled.status(tmp_path) == "stale"
    with pytest.raises(tk_compiled.BuildError, match="is stale"):
        tk_compiled.environment(tmp_path)
    (tmp_path / tk_compiled.STAMP).write_text(tk_compiled.source_digest() + "\n")
    assert tk_compiled.status(tmp_path) == "fresh"


def test_the_digest_follows_every_source(tmp_path: Path) -> None:
    for package in tk_compiled.PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "a.py").write_text("x = 1\n")
    before = tk_compiled.source_digest(tmp_path)
    (tmp_path / "ntp" / "a.py").write_text("x = 2\n")
    assert tk_compiled.source_digest(tmp_path) != before


def test_every_compiled_module_exists() -> None:
    for module in tk_compiled.COMPILED_MODULES:
        assert (ROOT / module).is_file(), module


def test_the_command_line_refuses_an_unknown_command() -> None:
    done = subprocess.run([sys.executable, "-m", "tk_compiled", "frobnicate"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "usage: python -m tk_compiled build | status | env" in done.stderr
