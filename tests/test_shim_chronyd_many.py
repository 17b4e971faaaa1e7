"""Real chronyd, 1 server + 10 clients (soak), and the benchmark's figure helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from shim_support import needs_cc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_real_chronyd as bench

from tk_shim.daemons import find_daemon, skip_message


def test_converged_at_is_the_start_of_the_last_run_below_a_millisecond():
    s = 10**9
    samples = [(1 * s, 5 * 10**6), (2 * s, 10), (3 * s, 2 * 10**6), (4 * s, 999_999), (5 * s, 0)]
    assert bench.converged_at(samples) == 4 * s
    assert bench.converged_at([(1 * s, 10**6)]) is None


def test_main_skips_with_a_message_where_the_daemons_are_missing(monkeypatch, capsys):
    monkeypatch.setattr(bench, "unavailable", lambda: "chronyd not found")
    assert bench.main(["--clients", "1", "--seconds", "10"]) == 0
    assert capsys.readouterr().out == "bench_real_chronyd: skipped: chronyd not found\n"


@needs_cc
@pytest.mark.soak
@pytest.mark.skipif(find_daemon("chronyd") is None, reason=skip_message("chronyd"))
def test_one_server_ten_clients_all_converge():
    r = bench.measure(10, 3000)
    assert r.converged_s < 600
    assert r.rms_ns < 100_000
    assert r.freq_error_ppm < 3
    assert "| 1 server + 10 clients | 3,000 |" in bench.table([r])
