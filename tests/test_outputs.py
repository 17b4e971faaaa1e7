"""Results a table tool reads as they are: parseable UTC through a leap, parameters on every
row, Parquet beside CSV."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest

from tk_core.scenario import load_text
from tk_core.scenario.results import execute

SCENARIO = """
[scenario]
name = "labels"
description = "a few seconds around the 2016 leap"
until = 2017-01-01T00:00:02Z
sample_every = "500ms"
seed = 11

[host]
start = 2016-12-31T23:59:57Z

[host.clocksource]
freq_hz = "2GHz"

[[namespaces]]
name = "step"

[[namespaces]]
name = "smear"
leap = "utc-sls"
ntp = "none"

[[namespaces]]
name = "fixed"
model = "offsets"
"""


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("labels")
    execute(load_text(SCENARIO), folder)
    return folder


def rows(out: Path) -> list[dict[str, str]]:
    with (out / "samples.csv").open() as f:
        return list(csv.DictReader(f))


def test_true_utc_parses_and_the_leap_second_is_labelled(out: Path) -> None:
    table = rows(out)
    for row in table:
        datetime.fromisoformat(row["true_utc"])  # never 23:59:60
    leap = [r for r in table if r["utc_fold"] == "1"]
    assert leap and all(r["true_utc"].startswith("2016-12-31T23:59:59") for r in leap)
    assert all(r["utc_label"].startswith("2016-12-31T23:59:60") for r in leap)


def test_every_row_carries_its_parameters(out: Path) -> None:
    by_ns = {r["namespace"]: r for r in rows(out)}
    assert by_ns["step"]["policy"] == "step" and by_ns["smear"]["policy"] == "utc-sls"
    assert by_ns["fixed"]["policy"] == "offsets"
    assert {r["scenario"] for r in by_ns.values()} == {"labels"}
    assert {r["seed"] for r in by_ns.values()} == {"11"}
    assert by_ns["step"]["update"] == "lazy" and by_ns["step"]["ntp_model"] == "none"


def test_parquet_matches_the_csv(out: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.read_parquet(out / "samples.parquet")
    table = rows(out)
    assert len(frame) == len(table)
    assert frame["realtime_ns"].tolist() == [int(r["realtime_ns"]) for r in table]
    assert str(frame["true_utc"].dtype).startswith("datetime64")
    assert frame["utc_fold"].sum() == sum(r["utc_fold"] == "1" for r in table)
