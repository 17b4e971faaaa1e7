"""Results folders are complete or clearly partial: a failed run never leaves a mix.

`execute` writes into a PARTIAL-marked sibling (`.NAME.partial-XXXX`) and moves it into
place only when every file is written, so a run that fails half-way leaves the previous
results exactly as they were (and the sibling saying why), never new truncated samples
beside an old summary.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tk_core.cli import main
from tk_core.scenario import recorder, staging

SCENARIO = """\
[scenario]
name = "atomic"
description = "a short run for the results-folder tests"
duration = "20s"
sample_every = "1s"
seed = {seed}

[host]
start = 2024-01-01T00:00:00Z

[host.clocksource]
error_ppm = 10

[[namespaces]]
name = "a"
"""


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def write_scenario(tmp_path: Path, seed: int) -> Path:
    path = tmp_path / "atomic.toml"
    path.write_text(SCENARIO.format(seed=seed))
    return path


def fail_after(monkeypatch: pytest.MonkeyPatch, samples: int, error: BaseException) -> None:
    """Make the recorder raise `error` once `samples` samples have been written."""
    real = recorder.Recorder.sample
    count = {"n": 0}

    def sample(self: Any, *args: Any, **kwargs: Any) -> Any:
        count["n"] += 1
        if count["n"] > samples:
            raise error
        return real(self, *args, **kwargs)

    monkeypatch.setattr(recorder.Recorder, "sample", sample)


def partial_folders(parent: Path, name: str) -> list[Path]:
    return sorted(parent.glob(f".{name}.partial-*"))


@pytest.mark.parametrize(
    ("error", "code", "reason"),
    [(RuntimeError("disk on fire"), 1, "RuntimeError: disk on fire"),
     (KeyboardInterrupt(), 130, "interrupted")],
    ids=["failure", "interrupt"],
)
def test_a_failed_rerun_leaves_the_previous_results_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException, code: int, reason: str
) -> None:
    out = tmp_path / "res"
    assert main(["run", str(write_scenario(tmp_path, 1)), "--out", str(out), "-q"]) == 0
    before = snapshot(out)
    assert {"samples.csv", "summary.json", "report.html", "scenario.toml"} <= set(before)
    fail_after(monkeypatch, 5, error)
    args = ["run", str(write_scenario(tmp_path, 2)), "--out", str(out), "-q", "--trace"]
    assert main(args) == code
    assert snapshot(out) == before  # not a byte changed, nothing added (no trace.jsonl)
    [partial] = partial_folders(tmp_path, "res")
    marker = (partial / staging.PARTIAL).read_text()
    assert reason in marker and "incomplete" in marker
    assert not (partial / "summary.json").exists()
    rows = (partial / "samples.csv").read_text().splitlines()
    assert 1 < len(rows) < 21  # it did write some samples, there, not into res/


def test_a_failed_first_run_creates_no_results_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "deep" / "res"
    fail_after(monkeypatch, 3, RuntimeError("boom"))
    assert main(["run", str(write_scenario(tmp_path, 1)), "--out", str(out), "-q"]) == 1
    assert not out.exists()
    [partial] = partial_folders(out.parent, "res")
    assert "boom" in (partial / staging.PARTIAL).read_text()


def test_a_rerun_replaces_the_whole_set(tmp_path: Path) -> None:
    """Files only the earlier run wrote (its trace) go too: the folder is one run's."""
    out = tmp_path / "res"
    path = write_scenario(tmp_path, 1)
    assert main(["run", str(path), "--out", str(out), "-q", "--trace"]) == 0
    assert (out / "trace.jsonl").exists()
    assert main(["run", str(write_scenario(tmp_path, 2)), "--out", str(out), "-q"]) == 0
    assert not (out / "trace.jsonl").exists()
    assert "seed = 2" in (out / "scenario.toml").read_text()
    assert not partial_folders(tmp_path, "res")
    assert not list(tmp_path.glob(".res.old-*"))
    assert main(["show", str(out)]) == 0


def test_other_files_in_the_folder_survive_a_rerun(tmp_path: Path) -> None:
    """`--out` at a folder with the user's own files: results replaced, their files kept."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me\n")
    path = write_scenario(tmp_path, 1)
    assert main(["run", str(path), "--out", str(out), "-q", "--trace"]) == 0
    assert main(["run", str(write_scenario(tmp_path, 2)), "--out", str(out), "-q"]) == 0
    assert (out / "notes.txt").read_text() == "keep me\n"
    assert not (out / "trace.jsonl").exists()
    assert "seed = 2" in (out / "scenario.toml").read_text()
    assert not partial_folders(tmp_path, "mine")


def test_a_failed_rerun_into_a_shared_folder_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me\n")
    assert main(["run", str(write_scenario(tmp_path, 1)), "--out", str(out), "-q"]) == 0
    before = snapshot(out)
    fail_after(monkeypatch, 5, RuntimeError("boom"))
    assert main(["run", str(write_scenario(tmp_path, 2)), "--out", str(out), "-q"]) == 1
    assert snapshot(out) == before


def test_run_into_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--out .` keeps working: the folder a process stands in is never renamed away."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    path = write_scenario(tmp_path, 1)
    assert main(["run", str(path), "--out", ".", "-q"]) == 0
    assert main(["run", str(path), "--out", ".", "-q"]) == 0
    assert (work / "summary.json").exists()
    assert Path.cwd() == work
    assert not list(tmp_path.glob(".*partial-*")) and not list(work.glob(".*partial-*"))
