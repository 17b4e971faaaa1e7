"""Helpers of the tk_shim tests: the compiler check, the probe program, one-call runs."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tk_core import Host

DATA = Path(__file__).parent / "data"
START_NS = 1_893_456_000 * 10**9  # 2030-01-01T00:00:00Z

needs_cc = pytest.mark.skipif(
    shutil.which("cc") is None and shutil.which("gcc") is None,
    reason="no C compiler: the preload shim cannot be built here",
)


def compile_c(source: Path, out_dir: Path, *flags: str) -> Path:
    """Compile `source` into `out_dir` (readable by the unprivileged user programs run as)."""
    out = out_dir / source.stem
    cc = shutil.which("cc") or "gcc"
    subprocess.run([cc, "-O2", "-o", str(out), str(source), *flags], check=True)
    out.chmod(0o755)
    return out


@pytest.fixture(scope="session")
def bin_dir() -> Any:
    """A world-readable folder for compiled test programs (tmp_path is private to root)."""
    d = Path(tempfile.mkdtemp(prefix="tk-shim-tests-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def probe(bin_dir: Path) -> Path:
    """tests/data/shim_probe.c, compiled."""
    return compile_c(DATA / "shim_probe.c", bin_dir)


def run_one(argv: list[str], host: Host | None = None, ns: str | None = None,
            until: int | None = None, **kwargs: Any) -> Any:
    """Run one program to its end on a fresh namespace; returns (program, host)."""
    import tk_shim

    host = host if host is not None else Host(realtime_ns=START_NS)
    if ns is None:
        ns = host.create_namespace("t").name
    kwargs.setdefault("stdout", tk_shim.CAPTURE)
    kwargs.setdefault("stderr", tk_shim.CAPTURE)
    with tk_shim.Simulation(host, handshake_timeout=kwargs.pop("handshake_timeout", 10.0)) as sim:
        prog = sim.attach(ns, argv, **kwargs)
        sim.run(until)
    return prog, host
