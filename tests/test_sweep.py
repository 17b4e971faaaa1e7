"""Sweeps: axes and points, validation before running, resumable runs, tidy tables, Dask."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tk_core.cli import main
from tk_core.scenario import ScenarioError
from tk_core.sweep import load_sweep, read_sweep, run_point, run_sweep
from tk_core.sweep import point as point_module
from tk_core.sweep.axes import apply_value, parse_cli_axis, parse_range, values_from_text

pd = pytest.importorskip("pandas")

SCENARIO = """
[scenario]
name = "tiny"
description = "a tiny chrony sweep"
duration = "20min"
sample_every = "60s"
seed = 0

[host]
start = 2017-06-01T00:00:00Z
hz = 100

[host.clocksource]
freq_hz = "2GHz"
error_ppm = 10
wander_ppm = "0.01"
wander_interval = "16s"

[[namespaces]]
name = "client"
ntp = { model = "chrony", poll_exp = 4, path = { jitter = "100us" } }

[[namespaces]]
name = "free"
leap = "ignore"
"""


def write(tmp_path: Path, sweep_table: str = "", name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text(SCENARIO + sweep_table, "utf-8")
    return path


SWEEP = """
[sweep]
seeds = "0..1"

[sweep.axes]
"namespaces[name=client].ntp.poll_exp" = [2, 4]
"""


# -- axes -----------------------------------------------------------------------------------


@given(st.integers(-50, 50), st.integers(0, 60), st.integers(1, 7))
def test_a_range_is_inclusive_with_its_step(lo: int, span: int, step: int) -> None:
    assert parse_range(f"{lo}..{lo + span}:{step}") == list(range(lo, lo + span + 1, step))
    assert parse_range(f"{lo}..{lo + span}") == list(range(lo, lo + span + 1))


def test_command_line_values_are_toml_or_text() -> None:
    assert values_from_text("k", "4,6,8", "--axis") == [4, 6, 8]
    assert values_from_text("k", "'a,b', [1, 2], 1.5, true", "--axis") == ["a,b", [1, 2], 1.5, True]
    assert values_from_text("k", "100us,1ms", "--axis") == ["100us", "1ms"]
    assert parse_cli_axis("namespaces[name=c].ntp.poll_exp=4,6") == (
        "namespaces[name=c].ntp.poll_exp", [4, 6])


@pytest.mark.parametrize("item", ["seed", "=1,2", "seed=", "seed=5..1", "seed=1..3:0", "a..b=1"])
def test_bad_command_line_axes_are_clear_errors(item: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_cli_axis(item)
    assert "--axis" in err.value.render()


def test_keys_reach_array_items_by_index_name_and_star() -> None:
    data = {"namespaces": [{"name": "a"}, {"name": "b"}], "host": {}}
    apply_value(data, "namespaces[name=b].update", "periodic")
    apply_value(data, "namespaces[0].dilation", 2)
    apply_value(data, "namespaces[*].record", False)
    apply_value(data, "host.clocksource.error_ppm", 5)
    apply_value(data, "seed", 7)
    assert data == {
        "namespaces": [{"name": "a", "dilation": 2, "record": False},
                       {"name": "b", "update": "periodic", "record": False}],
        "host": {"clocksource": {"error_ppm": 5}},
        "scenario": {"seed": 7},
    }
    for key in ("namespaces[name=zz].update", "namespaces[5].update", "host[0].x"):
        with pytest.raises(ScenarioError):
            apply_value(data, key, 1)


# -- points ---------------------------------------------------------------------------------


def test_points_are_the_product_with_seed_innermost(tmp_path: Path) -> None:
    sweep = load_sweep(write(tmp_path, SWEEP), axes=["host.hz=100,250"])
    assert [p.params for p in sweep.points][:3] == [
        {"namespaces[name=client].ntp.poll_exp": 2, "host.hz": 100, "seed": 0},
        {"namespaces[name=client].ntp.poll_exp": 2, "host.hz": 100, "seed": 1},
        {"namespaces[name=client].ntp.poll_exp": 2, "host.hz": 250, "seed": 0},
    ]
    assert len(sweep.points) == 8
    assert len({p.id for p in sweep.points}) == 8
    assert sweep.points[3].data["host"]["hz"] == 250
    assert sweep.points[3].data["namespaces"][0]["ntp"]["poll_exp"] == 2


def test_a_command_line_axis_replaces_the_file_axis(tmp_path: Path) -> None:
    sweep = load_sweep(write(tmp_path, SWEEP), axes=["seed=5..7"])
    assert [p.params["seed"] for p in sweep.points] == [5, 6, 7] * 2


def test_zipped_keys_vary_together(tmp_path: Path) -> None:
    table = SWEEP + """
[[sweep.zip]]
"host.hz" = [100, 250]
"scenario.sample_every" = ["30s", "60s"]
"""
    sweep = load_sweep(write(tmp_path, table))
    pairs = {(p.params["host.hz"], p.params["scenario.sample_every"]) for p in sweep.points}
    assert pairs == {(100, "30s"), (250, "60s")}
    with pytest.raises(ScenarioError, match="same number of values"):
        load_sweep(write(tmp_path, table.replace('"60s"]', '"60s", "90s"]')))


def test_every_point_is_validated_before_anything_runs(tmp_path: Path) -> None:
    sweep = load_sweep(write(tmp_path, SWEEP), axes=["host.hz=100,0"])
    out = tmp_path / "out"
    with pytest.raises(ScenarioError) as err:
        run_sweep(sweep, out, workers=0)
    text = err.value.render()
    assert "host.hz" in text and "in 4 of 8 points" in text and "host.hz=0" in text
    assert not out.exists()


def test_unknown_sweep_keys_are_named(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="seeds, axes, zip"):
        load_sweep(write(tmp_path, "[sweep]\nsed = [1]\n"))


def test_a_sweep_file_still_runs_and_validates_as_a_scenario(tmp_path: Path) -> None:
    from tk_core.scenario import load_scenario

    loaded = load_scenario(write(tmp_path, SWEEP))
    assert loaded.scenario.scenario.name == "tiny"


# -- running --------------------------------------------------------------------------------


def test_a_sweep_writes_a_tidy_table_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "sw"
    df = run_sweep(write(tmp_path, SWEEP), out, workers=0)
    assert len(df) == 4 * 3  # points x (root, client, free)
    assert list(df.columns[:6]) == [
        "point", "point_id", "namespaces[name=client].ntp.poll_exp", "seed", "namespace", "policy"]
    assert set(df["policy"]) == {"step", "ignore"}
    assert df["offset_utc_ns_max_abs"].notna().all()
    assert (out / "sweep.csv").is_file() and (out / "report.html").is_file()
    assert "<svg" in (out / "report.html").read_text("utf-8")
    parquet = pd.read_parquet(out / "sweep.parquet")
    assert parquet.equals(df)
    manifest, again = read_sweep(out)
    assert again.equals(df)
    assert manifest["complete"] and len(manifest["points"]) == 4
    calls: list[int] = []
    monkeypatch.setattr(point_module, "run_scenario", lambda *a: calls.append(1))
    resumed = run_sweep(write(tmp_path, SWEEP), out, workers=0)
    assert calls == [] and resumed.equals(df)


def test_same_point_gives_the_same_bytes(tmp_path: Path) -> None:
    sweep = load_sweep(write(tmp_path, SWEEP))
    point = sweep.points[1]
    first = run_point(point.data, sweep.source)
    second = run_point(point.data, sweep.source)
    assert "error" not in first and first["summary"] == second["summary"]
    other = run_point(sweep.points[0].data, sweep.source)
    assert other["summary"] != first["summary"]  # the seed matters


def test_a_failed_point_is_reported_and_does_not_stop_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = point_module.run_scenario

    def flaky(loaded, *args):  # type: ignore[no-untyped-def]
        if loaded.scenario.scenario.seed == 1:
            raise RuntimeError("the engine refused this point")
        return real(loaded, *args)

    monkeypatch.setattr(point_module, "run_scenario", flaky)
    out = tmp_path / "sw"
    df = run_sweep(write(tmp_path, SWEEP), out, workers=0)
    assert sorted(set(df["seed"])) == [0]
    failures = json.loads((out / "failures.json").read_text())
    assert failures["failed"] == 2
    assert failures["points"][0]["params"]["seed"] == 1
    assert "RuntimeError: the engine refused this point" in failures["points"][0]["error"]
    assert not read_sweep(out)[0]["complete"]
    monkeypatch.setattr(point_module, "run_scenario", real)
    df = run_sweep(write(tmp_path, SWEEP), out, workers=0)
    assert sorted(set(df["seed"])) == [0, 1] and read_sweep(out)[0]["complete"]


def test_a_local_cluster_gives_the_bytes_of_an_in_process_run(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    path = write(tmp_path, SWEEP)
    run_sweep(path, tmp_path / "here", workers=0, write_report=False)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        df = run_sweep(path, tmp_path / "there", scheduler=cluster.scheduler_address,
                       write_report=False)
    assert len(df) == 12
    for folder in (tmp_path / "here" / "points").iterdir():
        there = tmp_path / "there" / "points" / folder.name / "summary.json"
        assert there.read_bytes() == (folder / "summary.json").read_bytes()


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:1", "no-port-here"])
def test_a_scheduler_that_cannot_be_reached_is_a_clear_error(
    address: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused, timed out or unreadable: `--scheduler`'s one-line error, exit 2, no
    "internal error", and nothing in the folder claims to be complete."""
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    out = tmp_path / "sw"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert main(["sweep", str(write(tmp_path, SWEEP)), "--out", str(out), "--quiet",
                     "--scheduler", address]) == 2
    err = capsys.readouterr().err
    assert f"--scheduler: (top level): cannot reach the Dask scheduler at '{address}'" in err
    assert "internal error" not in err and "Traceback" not in err
    manifest = out / "sweep.json"
    assert not manifest.exists() or json.loads(manifest.read_text())["complete"] is False


# -- the command line -----------------------------------------------------------------------


def test_cli_sweep_show_and_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, SWEEP)
    assert main(["validate", str(path)]) == 0
    assert "sweep of 4 points" in capsys.readouterr().out
    out = tmp_path / "sw"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "0",
                 "--axis", "seed=3"]) == 0
    shown = capsys.readouterr().out
    assert "2/2 points" in shown and "poll_exp" in shown and "client" in shown
    assert main(["show", str(out)]) == 0
    assert "complete" in capsys.readouterr().out
    assert main(["sweep", str(path), "--axis", "namespaces[name=x].update=lazy",
                 "--workers", "0"]) == 2
    assert "no namespaces item with name = 'x'" in capsys.readouterr().err


# -- the shipped sweeps ---------------------------------------------------------------------

SHIPPED = {"leap-2016-sweep": 60, "chrony-convergence-sweep": 180}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_sweeps_validate_every_point(name: str) -> None:
    from tk_core.scenario.paths import find_scenario

    sweep = load_sweep(find_scenario(name))
    assert len(sweep.points) == SHIPPED[name]
    assert len(sweep.validate()) == SHIPPED[name]


@pytest.mark.soak
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_sweeps_run_in_full_on_two_workers(name: str, tmp_path: Path) -> None:
    from tk_core.scenario.paths import find_scenario

    df = run_sweep(find_scenario(name), tmp_path / name, workers=2)
    assert df["point"].nunique() == SHIPPED[name]
    assert read_sweep(tmp_path / name)[0]["complete"]
    client = df[df["namespace"] != "root"]
    spread = client.groupby(["namespace", *[c for c in df.columns[2:4] if c != "seed"]])
    # the seeds matter: every setting's RMS offset differs between seeds
    assert (spread["offset_utc_ns_rms"].nunique() > 1).all()


# -- the same key paths for --set ----------------------------------------------------------


def test_set_reaches_array_items_as_sweep_keys_do(tmp_path: Path) -> None:
    from tk_core.scenario import load_scenario

    path = write(tmp_path)
    loaded = load_scenario(path, sets=["namespaces[0].ntp.poll_exp=5",
                                       "namespaces[name=free].update=periodic"])
    specs = {spec.name: spec for spec in loaded.scenario.namespaces}
    assert specs["client"].ntp.poll_exp == 5 and specs["free"].update == "periodic"
    for bad, says in (("namespaces[7].update=lazy", "no item [7]"),
                      ("namespaces[name=x].update=lazy", "no namespaces item"),
                      ("host.hz.x=1", "'hz' is not a table")):
        with pytest.raises(ScenarioError) as err:
            load_scenario(path, sets=[bad])
        assert says in err.value.render() and err.value.source == "--set"
