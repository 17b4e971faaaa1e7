"""`timekeepers exec` and the wire protocol's agreement with the C library."""

from __future__ import annotations

import os
import re
import time
from importlib import resources

import pytest
from shim_support import needs_cc

from tk_core.cli import main
from tk_shim import protocol
from tk_shim.launch import NOBODY


@needs_cc
def test_exec_date_is_ten_days_ahead(capfd):
    assert main(["exec", "--start", "2030-01-01T00:00:00Z", "--offset", "10d", "--",
                 "date", "-u", "+%F %T"]) == 0
    assert capfd.readouterr().out == "2030-01-11 00:00:00\n"


@needs_cc
def test_exec_date_now_plus_ten_days(capfd):
    before = time.time_ns() // 10**9
    assert main(["exec", "--offset", "10d", "--", "date", "+%s"]) == 0
    after = time.time_ns() // 10**9
    shown = int(capfd.readouterr().out)
    assert before + 864_000 <= shown <= after + 864_000


@needs_cc
def test_exec_freq_ppm_and_exit_status(capfd):
    # 1000 s of a +500 ppm namespace: 0.5 s more than at the nominal rate
    assert main(["exec", "--start", "2030-01-01T00:00:00Z", "--freq-ppm", "500", "--",
                 "sh", "-c", "sleep 1000; date -u +%T.%N; exit 3"]) == 3
    assert capfd.readouterr().out == "00:16:40.000000000\n"


@needs_cc
def test_exec_scenario_namespace(capfd):
    assert main(["exec", "--scenario", "leap-2016-smear-vs-step", "--namespace", "nope", "--",
                 "true"]) == 2
    assert "not in the scenario" in capfd.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["exec"], "no program given"),
    (["exec", "--namespace", "x", "--", "true"], "--namespace needs --scenario"),
    (["exec", "--offset", "ten", "--", "true"], "--offset"),
    (["exec", "--freq-ppm", "fast", "--", "true"], "--freq-ppm"),
    (["exec", "--until=-1s", "--", "true"], "--until"),
    (["exec", "--", "no-such-program-tk"], "command not found"),
])
def test_exec_bad_input_exits_2(capfd, argv, message):
    assert main(argv) == 2
    err = capfd.readouterr().err
    assert message in err and "Traceback" not in err


@needs_cc
@pytest.mark.skipif(os.geteuid() != 0, reason="the launcher drops to nobody only when root")
def test_a_program_the_unprivileged_user_cannot_reach_is_explained(capfd, tmp_path):
    """The launcher runs the program as nobody: a program under a root-only directory (a
    pyenv shim in /root, say) fails before it runs, and the message says why."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    program = private / "hello"
    program.write_text("#!/bin/sh\necho hello\n")
    program.chmod(0o755)
    assert main(["exec", "--", str(program)]) != 0
    err = capfd.readouterr().err
    assert f"cannot execute {program}: Permission denied (it runs as uid {NOBODY}" in err
    assert "Traceback" not in err


def test_protocol_numbers_match_the_c_library():
    source = (resources.files("tk_shim") / "c" / "shim.c").read_text()
    body = re.search(r"enum \{\s*OP_HELLO = 1,(.*?)\};", source, re.S)
    assert body is not None
    names = ["HELLO", *re.findall(r"OP_(\w+)", body.group(1))]
    assert names == [op.name for op in protocol.Op]
    assert "#define NARGS 31" in source and protocol.NARGS == 31


def test_protocol_round_trip():
    data = protocol.pack_reply(-1, 4, [1, 2, 3])
    assert len(data) == protocol.MESSAGE_SIZE
    assert protocol.unpack_message(data)[:3] == (protocol.KIND_REPLY, 4, -1)
    op, args = protocol.unpack_request(protocol.pack_request(protocol.Op.WAIT, [5, 1]))
    assert (op, args[:3]) == (protocol.Op.WAIT, [5, 1, 0])


def test_without_a_compiler_exec_says_so_and_the_rest_works(capfd, monkeypatch, tmp_path):
    monkeypatch.setenv("CC", "/nonexistent/cc")
    monkeypatch.setenv("TK_SHIM_CACHE", str(tmp_path))
    assert main(["exec", "--", "true"]) == 1
    err = capfd.readouterr().err
    assert "needs a C compiler" in err and "Traceback" not in err
    assert main(["validate", "lazy-vs-periodic"]) == 0
