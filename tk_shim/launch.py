"""Starting one program: checks before launch, the run folder, and the launcher command.

The program is started only through the C launcher (c/launch.c), which drops every
capability, becomes an unprivileged user when started as root, sets no_new_privs, enters the
program's own working directory and checks that the preload library loads before it execs
the program.  Its stdin/stdout/stderr are /dev/null: the real streams are handed to the
library in its handshake, so a program that somehow ran without the library could neither
read its input nor write its output (and the server kills it for not handshaking).
"""

from __future__ import annotations

import os
import secrets
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .build import Built

NOBODY = 65534
PT_INTERP = 3


class LaunchError(RuntimeError):
    """A program cannot be started on a namespace (the message says why)."""


def resolve_program(program: str, env: dict[str, str] | None = None) -> Path:
    """The program's absolute path ($PATH search for a bare name)."""
    if "/" in program:
        path = Path(program).resolve()
    else:
        found = shutil.which(program, path=(env or os.environ).get("PATH"))
        if found is None:
            raise LaunchError(f"{program}: command not found")
        path = Path(found).resolve()
    if not path.is_file() or not os.access(path, os.X_OK):
        raise LaunchError(f"{path}: not an executable file")
    return path


def check_dynamic(path: Path) -> None:
    """Refuse a static ELF binary: no dynamic loader, so the library could never load."""
    with path.open("rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:  # scripts: their interpreter is checked
            return
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    types = {struct.unpack_from("<I", table, i * phentsize)[0] for i in range(phnum)}
    if PT_INTERP not in types:
        raise LaunchError(
            f"{path} is statically linked: a preload library cannot be injected into it, "
            "so it cannot run on a simulated namespace"
        )


@dataclass
class RunDir:
    """A private folder for one simulation: the socket, a copy of the library, work dirs."""

    path: Path
    uid: int
    gid: int

    @classmethod
    def create(cls, built: Built) -> RunDir:
        root = os.geteuid() == 0
        uid, gid = (NOBODY, NOBODY) if root else (os.getuid(), os.getgid())
        path = Path(tempfile.mkdtemp(prefix="tk-shim-"))
        path.chmod(0o711)
        run = cls(path, uid, gid)
        shutil.copy(built.library, run.library)
        shutil.copy(built.launcher, run.launcher)
        run.library.chmod(0o644)
        run.launcher.chmod(0o755)
        sock_dir = path / "sock"
        sock_dir.mkdir(mode=0o700)
        if root:
            os.chown(sock_dir, uid, gid)
        return run

    @property
    def library(self) -> Path:
        return self.path / "libtkshim.so"

    @property
    def launcher(self) -> Path:
        return self.path / "tk-launch"

    @property
    def socket(self) -> Path:
        return self.path / "sock" / "s"

    def workdir(self, index: int) -> Path:
        """A fresh working directory owned by the program's user."""
        return self.private_dir(f"work-{index}")

    def private_dir(self, name: str) -> Path:
        """A fresh folder `name` in the run folder, owned by the programs' user (0700)."""
        d = self.path / name
        d.mkdir(mode=0o700)
        if os.geteuid() == 0:
            os.chown(d, self.uid, self.gid)
        return d

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def new_token() -> str:
    """128 random bits as 32 hex characters: the handshake secret of one program."""
    return secrets.token_hex(16)


def start(
    run: RunDir,
    program: Path,
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    token: str,
) -> subprocess.Popen[bytes]:
    """Exec the launcher, which execs the program with the library preloaded.

    Until the handshake, stdin and stdout are /dev/null and stderr is a pipe the server reads
    (the launcher's and the dynamic loader's diagnostics end up there).
    """
    full_env = {k: v for k, v in env.items() if not k.startswith(("LD_", "TK_SHIM_"))}
    full_env.update(TK_SHIM_SOCKET=str(run.socket), TK_SHIM_TOKEN=token)
    cmd = [str(run.launcher), str(run.library), str(run.uid), str(run.gid), str(cwd),
           str(program), *argv[1:]]
    return subprocess.Popen(
        cmd,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        close_fds=True,
        start_new_session=True,
    )
