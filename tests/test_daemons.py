"""Real daemons: locating chronyd / ntpd, their configuration, and (when present) the binaries."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tk_shim import daemons
from tk_shim.daemon_config import (
    Smoothtime,
    chrony_client_conf,
    chrony_server_conf,
    chronyd_command,
    ntpd_command,
    ntpsec_client_conf,
)
from tk_shim.daemons import DaemonBinary, daemon_version, find_daemon, skip_message


def _fake_binary(path: Path, output: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def no_daemons(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An environment with no daemon anywhere: empty cache, empty PATH, no system dirs."""
    for var in (*daemons.ENV_BINARY.values(), daemons.ENV_CACHE):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(daemons.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(daemons, "SYSTEM_DIRS", ())
    return tmp_path


def test_locator_order_env_then_cache_then_path(no_daemons: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_daemon("chronyd") is None
    on_path = _fake_binary(no_daemons / "bin" / "chronyd", "chronyd (chrony) version 9.9 (+NTP)")
    assert find_daemon("chronyd") == DaemonBinary("chronyd", on_path, "path")
    cached = _fake_binary(no_daemons / "cache" / "root" / "usr" / "sbin" / "chronyd",
                          "chronyd (chrony) version 4.3 (+NTP)")
    assert find_daemon("chronyd") == DaemonBinary("chronyd", cached, "cache")
    mine = _fake_binary(no_daemons / "mine" / "chronyd", "chronyd (chrony) version 4.5")
    monkeypatch.setenv("TIMEKEEPERS_CHRONYD", str(mine))
    found = find_daemon("chronyd")
    assert found == DaemonBinary("chronyd", mine, "env")
    assert daemon_version(found) == "4.5"
    assert find_daemon("ntpd") is None


def test_env_pointing_nowhere_is_an_error(no_daemons: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMEKEEPERS_NTPD", str(no_daemons / "missing"))
    with pytest.raises(ValueError, match=r"TIMEKEEPERS_NTPD=.*not an executable"):
        find_daemon("ntpd")
    with pytest.raises(ValueError, match="unknown daemon 'ntpdate'"):
        find_daemon("ntpdate")


def test_version_parsing_and_refusal(tmp_path: Path) -> None:
    ntpd = DaemonBinary("ntpd", _fake_binary(tmp_path / "ntpd", "ntpd ntpsec-1.2.2"), "path")
    assert daemon_version(ntpd) == "ntpsec-1.2.2"
    odd = DaemonBinary("chronyd", _fake_binary(tmp_path / "chronyd", "hello"), "path")
    with pytest.raises(RuntimeError, match="no version in 'hello'"):
        daemon_version(odd)


def test_skip_message_says_how_to_get_it(no_daemons: Path) -> None:
    text = skip_message("chronyd")
    assert "scripts/fetch-daemons.sh" in text and "chrony" in text
    assert "TIMEKEEPERS_CHRONYD" in text and str(no_daemons / "cache") in text
    assert "ntpsec" in skip_message("ntpd")


def test_chrony_client_conf(tmp_path: Path) -> None:
    text = chrony_client_conf("10.0.0.1", tmp_path, port=11123, minpoll=2, maxpoll=4,
                              leapsecmode="slew", maxslewrate_ppm=1000)
    lines = text.splitlines()
    assert "server 10.0.0.1 port 11123 iburst minpoll 2 maxpoll 4" in lines
    for line in ("makestep 1 3", "leapsecmode slew", "maxslewrate 1000", "cmdport 0",
                 "bindcmdaddress /", f"driftfile {tmp_path}/chronyd.drift",
                 f"pidfile {tmp_path}/chronyd.pid", f"logdir {tmp_path}"):
        assert line in lines
    assert not any(line.startswith(("rtc", "hwtimestamp")) for line in lines)
    plain = chrony_client_conf("10.0.0.1", tmp_path, makestep=None, iburst=False)
    assert "server 10.0.0.1 minpoll 6 maxpoll 10" in plain.splitlines()
    assert "makestep" not in plain and "maxslewrate" not in plain


def test_chrony_server_conf(tmp_path: Path) -> None:
    text = chrony_server_conf(tmp_path, allow=("10.0.0.0/8",), smoothtime=Smoothtime())
    lines = text.splitlines()
    for line in ("local stratum 1", "allow 10.0.0.0/8", "leapsectz right/UTC",
                 "smoothtime 400 0.001024 leaponly", "clientloglimit 1048576", "cmdport 0"):
        assert line in lines
    bare = chrony_server_conf(tmp_path, leapsectz=None)
    assert "leapsectz" not in bare and "smoothtime" not in bare


def test_ntpsec_client_conf(tmp_path: Path) -> None:
    lines = ntpsec_client_conf("10.0.0.1", tmp_path, minpoll=4, maxpoll=6,
                               leapfile=Path("/l.list")).splitlines()
    assert "server 10.0.0.1 iburst minpoll 4 maxpoll 6" in lines
    assert f"driftfile {tmp_path}/ntpd.drift" in lines and f"statsdir {tmp_path}/" in lines
    assert "leapfile /l.list" in lines and "disable monitor" not in lines
    assert not any("ntpsigndsocket" in line for line in lines)
    assert "disable monitor" in ntpsec_client_conf("a", tmp_path, disable_monitor=True)


@pytest.mark.parametrize(
    "build",
    [
        lambda w: chrony_client_conf("1.2.3.4", w, minpoll=7, maxpoll=6),
        lambda w: chrony_client_conf("1.2.3.4", w, leapsecmode="smear"),
        lambda w: chrony_server_conf(w, stratum=16),
        lambda w: ntpsec_client_conf("1.2.3.4", w, minpoll=2),
    ],
)
def test_bad_config_arguments_refused(tmp_path: Path, build: object) -> None:
    with pytest.raises(ValueError):
        build(tmp_path)  # type: ignore[operator]


def test_command_lines(tmp_path: Path) -> None:
    conf = tmp_path / "c.conf"
    cmd = chronyd_command(Path("/x/chronyd"), conf, user="alice")
    assert cmd == ["/x/chronyd", "-d", "-U", "-u", "alice", "-F", "0", "-f", str(conf)]
    assert ntpd_command(Path("/x/ntpd"), conf) == ["/x/ntpd", "-n", "-g", "-c", str(conf)]


def _real(name: str) -> DaemonBinary:
    try:
        found = find_daemon(name)
    except ValueError as exc:
        pytest.skip(str(exc))
    if found is None:
        pytest.skip(skip_message(name))
    missing = daemons.missing_libraries(found)
    if missing:
        pytest.skip(f"{found.path} needs {', '.join(missing)}")
    return found


def test_real_daemons_report_versions() -> None:
    assert daemon_version(_real("chronyd"))[0].isdigit()
    assert daemon_version(_real("ntpd"))


def test_real_chronyd_accepts_generated_configs(tmp_path: Path) -> None:
    """chronyd -p parses the file and exits non-zero on any directive it does not know."""
    chronyd = _real("chronyd")
    bad = tmp_path / "bad.conf"
    bad.write_text("no_such_directive 1\n")
    assert subprocess.run([str(chronyd.path), "-p", "-f", str(bad)], capture_output=True,
                          check=False).returncode != 0
    for text in (chrony_client_conf("10.0.0.1", tmp_path, maxslewrate_ppm=500),
                 chrony_server_conf(tmp_path, smoothtime=Smoothtime())):
        conf = tmp_path / "chrony.conf"
        conf.write_text(text)
        done = subprocess.run([str(chronyd.path), "-p", "-f", str(conf)], capture_output=True,
                              text=True, check=False)
        assert done.returncode == 0, done.stderr


def test_real_chronyd_starts_with_the_command_line(tmp_path: Path) -> None:
    """The generated server, run for 1 s with -x (never touches this machine's clock), port 0."""
    chronyd = _real("chronyd")
    conf = tmp_path / "chrony.conf"
    conf.write_text(chrony_server_conf(tmp_path, port=0, leapsectz=None))
    cmd = chronyd_command(chronyd.path, conf)
    cmd[1:1] = ["-x", "-t", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False,
                          env={**os.environ, "TZ": "UTC"})
    assert done.returncode == 0, done.stderr
    assert "Fatal" not in done.stderr and "chronyd exiting" in done.stderr
