"""The wheel carries what a newcomer needs: shipped scenarios, the leap table, the licence.

Installed outside the source tree, `timekeepers list`, `run` and `show` must work (every
shipped scenario in the soak run), from the installed copy and not from this tree.
"""

from __future__ import annotations

import email
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
         "-w", str(work), str(ROOT)],
        check=True, capture_output=True,
    )
    wheel = next(work.glob("timekeepers-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {p.name for p in (ROOT / "tk_core/scenario/shipped").glob("*.toml")}
    assert shipped and all(f"tk_core/scenario/shipped/{n}" in names for n in shipped)
    assert "tk_core/py.typed" in names and "ntp/py.typed" in names
    assert any(n.endswith("scenario/shipped/leap-2016-smear-vs-step.toml") for n in names)
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert any(n.endswith("ntp/data/leap-seconds.list") for n in names)
    assert any(n.endswith("ntp/data/Leap_Second.dat") for n in names)
    target = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(wheel)],
        check=True, capture_output=True,
    )
    return target


def _cli(target: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(target))
    env.pop("TIMEKEEPERS_SCENARIOS", None)
    return subprocess.run(
        [sys.executable, "-m", "tk_core.cli", *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=300,
    )


def test_list_run_show_outside_the_tree(installed: Path, tmp_path: Path) -> None:
    listed = _cli(installed, tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    shipped = sorted(p.stem for p in (ROOT / "tk_core/scenario/shipped").glob("*.toml"))
    for name in shipped:
        assert name in listed.stdout
    out = tmp_path / "out"
    ran = _cli(installed, tmp_path, "run", "lazy-vs-periodic", "--until", "10min",
               "--out", str(out))
    assert ran.returncode == 0, ran.stderr
    assert (out / "summary.json").exists()
    shown = _cli(installed, tmp_path, "show", str(out))
    assert shown.returncode == 0, shown.stderr


def _metadata(installed: Path) -> tuple[email.message.Message, str]:
    info = next(installed.glob("timekeepers-*.dist-info"))
    meta = email.message_from_string((info / "METADATA").read_text("utf-8"))
    return meta, (info / "entry_points.txt").read_text("utf-8")


def test_metadata_names_the_command_the_plugin_and_the_audience(installed: Path) -> None:
    meta, entry_points = _metadata(installed)
    assert "timekeepers = tk_core.cli:main" in entry_points
    assert "timekeepers = tk_testing.pytest_plugin" in entry_points
    classifiers = meta.get_all("Classifier") or []
    assert "Intended Audience :: Science/Research" in classifiers
    assert "Environment :: Console" in classifiers
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["License-Expression"] == "MIT"


def test_version_and_code_come_from_the_installed_copy(installed: Path, tmp_path: Path) -> None:
    shown = _cli(installed, tmp_path, "--version")
    meta, _ = _metadata(installed)
    assert shown.returncode == 0 and shown.stdout.strip() == f"timekeepers {meta['Version']}"
    env = dict(os.environ, PYTHONPATH=str(installed))
    where = subprocess.run(
        [sys.executable, "-c", "import tk_core, ntp; print(tk_core.__file__, ntp.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    ).stdout.split()
    assert all(Path(p).is_relative_to(installed) for p in where), where


@pytest.mark.soak
def test_every_shipped_scenario_runs_and_shows_outside_the_tree(
    installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tk_shim.daemons import ENV_CACHE, cache_dir, find_daemon

    shipped = sorted(p.stem for p in (ROOT / "tk_core/scenario/shipped").glob("*.toml"))
    # the installed copy looks for fetched daemons beside itself: point it at ours
    monkeypatch.setenv(ENV_CACHE, os.environ.get(ENV_CACHE) or str(cache_dir()))
    for name in shipped:
        if name.startswith("chrony-real") and find_daemon("chronyd") is None:
            continue  # real chronyd: scripts/fetch-daemons.sh (its own test skips likewise)
        out = tmp_path / name
        ran = _cli(installed, tmp_path, "run", name, "--until", "2min", "--out", str(out), "-q")
        assert ran.returncode == 0, (name, ran.stderr)
        assert "Traceback" not in ran.stderr
        assert {"summary.json", "report.html", "offset_utc.png"} <= {
            p.name for p in out.iterdir()}, name
        shown = _cli(installed, tmp_path, "show", str(out))
        assert shown.returncode == 0 and name in shown.stdout, (name, shown.stderr)


def test_the_wheel_runs_real_programs(installed: Path, tmp_path: Path) -> None:
    """The C sources ride in the wheel and build on first use into the per-user cache."""
    import shutil

    assert (installed / "tk_shim" / "c" / "shim.c").exists()
    if shutil.which("cc") is None:
        pytest.skip("no C compiler: the preload shim cannot be built here")
    env_cache = tmp_path / "cache"
    os.environ["TK_SHIM_CACHE"] = str(env_cache)
    try:
        ran = _cli(installed, tmp_path, "exec", "--start", "2030-01-01T00:00:00Z",
                   "--offset", "10d", "--", "date", "-u", "+%F")
    finally:
        del os.environ["TK_SHIM_CACHE"]
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "2030-01-11\n"
    assert list(env_cache.glob("shim-*/libtkshim.so"))
