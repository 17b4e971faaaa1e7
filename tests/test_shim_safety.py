"""The safety model: no privileges on the real machine, nothing reaches its clocks, fail closed."""

from __future__ import annotations

import ctypes
import os
import struct
import subprocess
import time
from pathlib import Path

import pytest
from shim_support import DATA, START_NS, bin_dir, compile_c, needs_cc, probe, run_one  # noqa: F401

import tk_shim
import tk_shim.server
from tk_core import CLOCK_REALTIME, Host
from tk_shim import launch

pytestmark = needs_cc


def real_adjtimex_state() -> tuple[int, int, int]:
    """The machine's own NTP state, read only (modes 0): (state, freq, status)."""
    buf = ctypes.create_string_buffer(256)  # struct timex, modes = 0
    libc = ctypes.CDLL(None, use_errno=True)
    state = libc.adjtimex(buf)
    freq, = struct.unpack_from("=q", buf.raw, 16)
    status, = struct.unpack_from("=i", buf.raw, 40)
    return state, freq, status


def real_offset_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def test_program_steers_its_namespace_never_the_machine(probe):  # noqa: F811
    before_offset, before_ntp = real_offset_ns(), real_adjtimex_state()
    host = Host(realtime_ns=START_NS)
    ns = host.create_namespace("t")
    prog, _ = run_one([str(probe), "steer"], host=host, ns="t")
    # TIME_ERROR (5): the namespace is still STA_UNSYNC, as a kernel would say
    assert prog.stdout == b"settime=0 adjtimex=5 errno=0\n", (prog.stderr, prog.error)
    # the namespace did change: stepped 1000 s, frequency +100 ppm (without STA_PLL the
    # kernel ignores ADJ_OFFSET, so no phase offset is pending)
    assert ns.clock_gettime_ns(CLOCK_REALTIME) - host.root.clock_gettime_ns(CLOCK_REALTIME) \
        == 1000 * 10**9
    assert ns.ntp.time_freq == (100 << 16) * (1000 << 16)  # freq × PPM_SCALE (ntp.c)
    assert host.root.ntp.time_freq == 0
    # the machine did not: its REALTIME−MONOTONIC offset and its NTP state are as before
    assert abs(real_offset_ns() - before_offset) < 10**8
    assert real_adjtimex_state() == before_ntp


def test_program_runs_without_capabilities_as_nobody_in_its_own_dir():
    prog, _ = run_one(["sh", "-c", "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status; "
                                   "grep NoNewPrivs /proc/self/status; id -u; pwd"])
    lines = prog.stdout.decode().split("\n")
    assert [ln.split()[1] for ln in lines[:5]] == ["0000000000000000"] * 5
    assert lines[5].split() == ["NoNewPrivs:", "1"]
    if os.geteuid() == 0:
        assert lines[6] == "65534"
    assert "/work-0" in lines[7] and lines[7] != os.getcwd()


def test_host_capabilities_are_never_granted():
    host = Host()
    with tk_shim.Simulation(host) as sim, pytest.raises(tk_shim.LaunchError, match="host"):
        sim.attach(host.root, ["true"], caps={"CAP_SYS_TIME:host"})


def test_without_cap_sys_time_settime_is_refused(probe):  # noqa: F811
    prog, _ = run_one([str(probe), "steer"], caps=())
    assert prog.stdout == b"settime=-1 adjtimex=-1 errno=1\n"


# -- fail closed -------------------------------------------------------------------------


def marker_program(tmp: Path) -> tuple[list[str], Path]:
    """A program that leaves a file and prints a line if it ever runs."""
    d = Path(tmp)
    d.chmod(0o777)
    marker = d / "ran"
    return ["sh", "-c", f"echo leaked; touch {marker}"], marker


def test_a_library_that_does_not_load_stops_the_program(bin_dir):  # noqa: F811
    argv, marker = marker_program(_fresh(bin_dir, "broken-lib"))
    host = Host()
    with tk_shim.Simulation(host) as sim:
        sim._run.library.write_bytes(b"not an ELF file")
        prog = sim.attach(host.root, argv, stdout=tk_shim.CAPTURE)
        sim.run()
    assert prog.returncode == 126 and not marker.exists()
    assert b"does not load" in prog.diagnostics and prog.stdout == b""
    assert "before the handshake" in (prog.error or "")


def test_a_wrong_token_stops_the_program(bin_dir, monkeypatch):  # noqa: F811
    argv, marker = marker_program(_fresh(bin_dir, "token"))
    real_start = tk_shim.server.start

    def bad_token(run, program, argv, cwd, env, token):
        return real_start(run, program, argv, cwd, env, launch.new_token())

    monkeypatch.setattr(tk_shim.server, "start", bad_token)
    prog, _ = run_one(argv)
    assert prog.returncode == 127 and not marker.exists()
    assert b"refused the handshake" in prog.diagnostics and prog.stdout == b""


def test_a_missing_socket_stops_the_program(bin_dir, monkeypatch):  # noqa: F811
    argv, marker = marker_program(_fresh(bin_dir, "socket"))
    real_start = tk_shim.server.start

    class Elsewhere(launch.RunDir):
        @property
        def socket(self) -> Path:
            return self.path / "nowhere"

    def no_socket(run, *args):
        return real_start(Elsewhere(run.path, run.uid, run.gid), *args)

    monkeypatch.setattr(tk_shim.server, "start", no_socket)
    prog, _ = run_one(argv)
    assert prog.returncode == 127 and not marker.exists()
    assert b"cannot connect" in prog.diagnostics


def test_a_program_that_never_handshakes_is_killed_and_has_no_output(bin_dir, monkeypatch):  # noqa: F811
    """As if the loader had ignored the library: no handshake, so no streams, then SIGKILL."""
    argv = ["sh", "-c", "echo leaked; echo leaked >&2; exec sleep 30"]

    def no_preload(run, program, argv, cwd, env, token):
        return subprocess.Popen([str(program), *argv[1:]], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)

    monkeypatch.setattr(tk_shim.server, "start", no_preload)
    t0 = time.monotonic()
    prog, _ = run_one(argv, handshake_timeout=1.0)
    assert prog.returncode == -9 and "no handshake" in (prog.error or "")
    assert prog.stdout == b"" and prog.stderr == b""
    assert time.monotonic() - t0 < 20


def test_a_static_binary_is_refused(bin_dir):  # noqa: F811
    try:
        static = compile_c(DATA / "shim_probe.c", _fresh(bin_dir, "static"), "-static")
    except subprocess.CalledProcessError:
        pytest.skip("no static libc to link a static test binary")
    with pytest.raises(tk_shim.LaunchError, match="statically linked"):
        run_one([str(static), "read"])


def _fresh(bin_dir: Path, name: str) -> Path:  # noqa: F811
    d = bin_dir / name
    d.mkdir()
    d.chmod(0o777)
    return d


def test_a_descendant_that_execs_without_the_library_is_killed():
    """env drops LD_PRELOAD before exec: that image never handshakes and is SIGKILLed."""
    prog, host = run_one(["sh", "-c", "env -u LD_PRELOAD sleep 30; echo after $?"],
                         handshake_timeout=2.0)
    assert prog.stdout == b"after 137\n"  # 128 + SIGKILL
    assert "exec'd without the preload library" in (prog.error or "")
    assert host.true_ns == 0  # no simulated time passed while it ran unsupervised
