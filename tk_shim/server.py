"""The server: attached programs on one simulated host, and the rule that advances time.

Each attached program runs as a real process with the preload library; every process image
(the program, its forked children, what they exec) holds one connection and is bound to the
program's namespace through a `tk_core.Task` carrying the program's own capabilities.

Time rule (conservative, so runs repeat): simulated time is frozen while any process is
running — the CPU is infinitely fast.  When every process is blocked (in a sleep, a wait or a
blocking timerfd read), the host advances with `Host.run_while` through its own hrtimer queue
to the earliest instant at which some block can complete (a sleep's deadline, a timer expiry,
a signal), and only the processes whose blocks completed are answered.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import selectors
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tk_core.host import Host
from tk_core.namespace import Namespace
from tk_core.task import HOST_SUFFIX, Task

from . import protocol as P
from .build import ensure_built
from .launch import LaunchError, RunDir, check_dynamic, new_token, resolve_program, start
from .netsim import Network, Node
from .protocol import Op
from .syscalls import Block, Calls

CAPTURE = "capture"
#: a process making this many calls in a row without blocking is spinning (a busy-wait on the
#: clock, such as chronyd's precision measurement): time then moves SPIN_STEP_NS for it
SPIN_CALLS = 200
SPIN_STEP_NS = 100
DEFAULT_CAPS = frozenset({"CAP_SYS_TIME"})
Stream = int | IO[Any] | str | None


@dataclass(eq=False)
class AttachedProgram:
    """One program on one namespace.  After `run`: `returncode`, captured output, `error`.

    `returncode` is the exit status (negative: killed by that signal); `error` says why the
    simulation stopped or refused it (no handshake, deadlock, the time limit), else None.
    """

    argv: list[str]
    namespace: str
    task: Task
    index: int
    pid: int = 0
    returncode: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    diagnostics: bytes = b""
    error: str | None = None
    handshaken: bool = False
    _token: str = ""
    _popen: subprocess.Popen[bytes] | None = None
    _fds: list[int] = field(default_factory=list)
    _images: int = 0
    _started: float = 0.0
    node: Node | None = None


@dataclass(eq=False)
class Conn:
    """One connected process image."""

    sock: socket.socket
    program: AttachedProgram | None = None
    pid: int = 0
    calls: Calls | None = None
    block: Block | None = None
    awaiting_fork: int | None = None
    #: in a real wait for a child (blocked, but only the child's exit ends it)
    child_wait: bool = False
    ppid: int = 0
    spins: int = 0


class Simulation:
    """Programs attached to namespaces of one host; `run` drives them to the end."""

    def __init__(
        self,
        host: Host,
        *,
        seed: int = 0,
        handshake_timeout: float = 10.0,
        network: Network | None = None,
    ) -> None:
        self.host = host
        #: the simulated UDP network programs with an `address` join (tk_shim.netsim)
        self.network = network
        self.seed = seed
        self.handshake_timeout = handshake_timeout
        self.programs: list[AttachedProgram] = []
        self._built = ensure_built()
        self._run = RunDir.create(self._built)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self._run.socket))
        if os.geteuid() == 0:
            os.chown(self._run.socket, self._run.uid, self._run.gid)
        self._listener.listen(64)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ, ("accept", None))
        self._conns: list[Conn] = []
        self._exec_pending: dict[int, tuple[AttachedProgram, Task, float]] = {}
        self._tasks: dict[int, Task] = {}
        self._captures: dict[int, tuple[AttachedProgram, str]] = {}
        self._closed = False
        #: `run_until`'s target: no spin nudge carries time past it
        self._horizon: int | None = None
        #: a spinning process reached the horizon (time cannot move for it until the next run)
        self._held = False
        self._workdirs = 0

    # -- attaching ------------------------------------------------------------------------

    def attach(
        self,
        namespace: Namespace | str,
        argv: list[str],
        *,
        caps: Iterable[str] = DEFAULT_CAPS,
        cwd: str | Path | None = None,
        env: dict[str, str] | None = None,
        stdin: Stream = None,
        stdout: Stream = None,
        stderr: Stream = None,
        address: str | None = None,
    ) -> AttachedProgram:
        """Start `argv` on `namespace`; it waits in its handshake until `run`.

        `caps` are capabilities in the program's own namespace only (never ``:host``).
        `cwd` defaults to a fresh private directory; `env` to this process's environment
        (any LD_* variable is dropped).  Streams: None inherits ours, an fd or file object
        is used as is, CAPTURE (stdout/stderr) collects the bytes on the program object.
        `address`: the program's IPv4 address on `self.network` (its UDP sockets are
        simulated); without one its sockets are the real machine's.
        """
        ns = self.host.namespaces[namespace] if isinstance(namespace, str) else namespace
        if ns.host is not self.host:
            raise LaunchError(f"namespace {ns.name!r} belongs to another host")
        wanted = frozenset(caps)
        if any(c.endswith(HOST_SUFFIX) for c in wanted):
            raise LaunchError("an attached program never holds a capability over the host")
        if not argv:
            raise LaunchError("argv is empty")
        env = dict(os.environ if env is None else env)
        if address is not None:  # the shim's getifaddrs lists this one interface
            env["TK_NODE_ADDRESS"] = address
        program_path = resolve_program(argv[0], env)
        check_dynamic(program_path)
        index = len(self.programs)
        workdir = Path(cwd) if cwd is not None else self._run.workdir(index)
        node = self._node(address, ns)
        prog = AttachedProgram(list(argv), ns.name, ns.spawn(wanted), index)
        prog.node = node
        prog._fds = [self._stream(prog, 0, stdin), self._stream(prog, 1, stdout),
                     self._stream(prog, 2, stderr)]
        prog._token = new_token()
        popen = start(self._run, program_path, list(argv), workdir, env, prog._token)
        prog._popen, prog.pid, prog._started = popen, popen.pid, time.monotonic()
        assert popen.stderr is not None
        os.set_blocking(popen.stderr.fileno(), False)
        self._sel.register(popen.stderr, selectors.EVENT_READ, ("diag", prog))
        self._tasks[popen.pid] = prog.task
        self.programs.append(prog)
        return prog

    def new_workdir(self) -> Path:
        """A fresh private working directory owned by the user programs run as.

        For a program whose files must be written before it starts: pass it as `cwd`.
        """
        self._workdirs += 1
        return self._run.private_dir(f"files-{self._workdirs}")

    def _node(self, address: str | None, ns: Namespace) -> Node | None:
        if address is None:
            return None
        if self.network is None:
            raise LaunchError("an address needs a network: Simulation(host, network=Network(...))")
        try:
            node = self.network.node(address)
        except (KeyError, OSError, ValueError):
            return self.network.add_node(address, ns)
        if node.ns is not ns:
            raise LaunchError(f"{address} belongs to another namespace's node")
        return node

    def _stream(self, prog: AttachedProgram, which: int, stream: Stream) -> int:
        if stream is None:
            return os.dup(which)
        if isinstance(stream, int):
            return os.dup(stream)
        if stream == CAPTURE:
            if which == 0:
                raise LaunchError("stdin cannot be captured")
            r, w = os.pipe()
            os.set_blocking(r, False)
            self._sel.register(r, selectors.EVENT_READ, ("out", (prog, which)))
            return w
        if isinstance(stream, str):
            raise LaunchError(f"unknown stream {stream!r}")
        return os.dup(stream.fileno())

    # -- the loop ---------------------------------------------------------------------------

    def run(self, until_ns: int | None = None) -> list[AttachedProgram]:
        """Run until every program has exited (or true time `until_ns`, when given)."""
        try:
            while self._live():
                if self._all_blocked():
                    if not self._advance(until_ns):
                        break
                    continue
                self._serve()
        finally:
            self._finish()
        return self.programs

    def run_until(self, true_ns: int) -> bool:
        """Run the programs to true time `true_ns` and pause there, every program kept.

        Returns True with every process blocked (or spinning) at `true_ns`, so the caller can
        read clocks or change the host before the next `run_until` (or `run`, or `stop`)
        goes on from there.  Time never passes `true_ns`, spin nudges included.  Returns
        False when no program is left: the host has then run to `true_ns` by itself.
        """
        self._horizon, self._held = true_ns, False
        try:
            while self._live():
                if self._all_blocked():
                    if self.host.true_ns >= true_ns:
                        return True
                    if not self._advance(true_ns, stop_at_limit=False) and (
                            self.host.true_ns < true_ns):
                        self._serve()  # the programs were stopped: see them go
                    continue
                if self._held:
                    return True
                self._serve()
        finally:
            self._horizon = None
        if self.host.true_ns < true_ns:
            self.host.run_until(true_ns)
        return False

    def stop(self, why: str = "the simulation stopped") -> list[AttachedProgram]:
        """End every program still running (`error` says `why`); the programs, finished."""
        self._stop_all(why)
        self._finish()
        return self.programs

    def _serve(self) -> None:
        """One round of the real side: messages, exits, handshake deadlines."""
        for key, _ in self._sel.select(timeout=0.05):
            self._event(key.data)
        self._reap()
        self._check_timeouts()

    def _live(self) -> bool:
        return any(p.returncode is None for p in self.programs) or bool(self._conns)

    def _all_blocked(self) -> bool:
        if self._exec_pending or not self._conns:
            return False
        if any(p.returncode is None and not p.handshaken for p in self.programs):
            return False
        if all(c.child_wait for c in self._conns):
            return False  # only real children the server cannot see can end these waits
        if any(c.child_wait and not self._wait_settled(c.pid) for c in self._conns):
            return False  # the wait is about to return: its process runs
        return all(c.block is not None or c.child_wait for c in self._conns)

    def _wait_settled(self, pid: int) -> bool:
        """Whether `pid`'s real wait can only end by a child that is itself blocked here.

        The wait is not settled while a child is between clone and its handshake
        (posix_spawn), is exiting (its connection closed before it became a zombie), is a
        zombie or was just reaped (the wait is returning), or when there is no child at all
        (the wait returns ECHILD).  Counting such a process as blocked let time jump while
        it was about to run its next command.
        """
        files = list(Path(f"/proc/{pid}/task").glob("*/children"))
        if not files:
            return True  # no children files (CONFIG_PROC_CHILDREN off): trust the shim
        children = []
        for file in files:  # a child forked by any thread of the process
            with contextlib.suppress(OSError):
                children += [int(k) for k in file.read_text().split()]
        known = {c.pid for c in self._conns if c.calls is not None}
        return bool(children) and all(k in known and _alive(k) for k in children)

    def _event(self, data: tuple[str, Any]) -> None:
        kind, obj = data
        if kind == "accept":
            sock, _ = self._listener.accept()
            conn = Conn(sock)
            self._conns.append(conn)
            self._sel.register(sock, selectors.EVENT_READ, ("conn", conn))
        elif kind == "conn":
            self._readable(obj)
        elif kind == "diag":
            self._drain_diag(obj)
        else:
            self._drain_out(*obj)

    def _readable(self, conn: Conn) -> None:
        try:
            data = conn.sock.recv(P.MESSAGE_SIZE, socket.MSG_WAITALL)
        except OSError:
            data = b""
        if len(data) != P.MESSAGE_SIZE:
            self._drop(conn)
            return
        op, args = P.unpack_request(data)
        size = struct.unpack_from("=I", data, 4)[0]
        payload = b""
        if size:
            payload = conn.sock.recv(size, socket.MSG_WAITALL) if size <= P.MAX_PAYLOAD else b""
            if len(payload) != size:
                self._drop(conn)
                return
        if conn.calls is None:
            self._hello(conn, op, args)
            return
        if op in (Op.CHILD_WAIT, Op.CHILD_WOKE):
            conn.child_wait = op == Op.CHILD_WAIT
            self._send(conn, P.pack_reply())
            return
        if op == Op.FORKED:
            conn.awaiting_fork = args[0]
            self._forks_done()
            return
        conn.calls.payload = payload
        if conn.spins >= SPIN_CALLS and self._others_blocked(conn):
            self._nudge()
            conn.spins = 0
        result = conn.calls.handle(op, args)
        if isinstance(result, Block):
            conn.block, conn.spins = result, 0
        else:
            conn.spins += 1
            self._send(conn, result)

    def _send(self, conn: Conn, reply: bytes, fds: list[int] | None = None) -> None:
        assert conn.calls is not None
        data = b"".join(conn.calls.take_notes()) + reply
        try:
            if fds:
                socket.send_fds(conn.sock, [data], fds)
            else:
                conn.sock.sendall(data)
        except OSError:
            self._drop(conn)

    # -- the handshake ----------------------------------------------------------------------

    def _hello(self, conn: Conn, op: int, args: list[int]) -> None:
        creds = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        peer_pid = struct.unpack("3i", creds)[0]
        prog = next((p for p in self.programs if P.token_words(p._token) == tuple(args[2:6])),
                    None)
        valid = (
            op == Op.HELLO and args[0] == P.ABI and args[1] == peer_pid and prog is not None
            and _descends(peer_pid, prog.pid)
        )
        if not valid or prog is None:
            self._drop(conn)
            if prog is not None and _descends(peer_pid, prog.pid):
                with contextlib.suppress(OSError):
                    os.kill(peer_pid, signal.SIGKILL)
            return
        pending = self._exec_pending.pop(peer_pid, None)
        task = pending[1] if pending else self._tasks.get(peer_pid)
        if task is None:  # a forked child: a task of its own with the program's caps
            task = prog.task.spawn(prog.task.creds.caps)
            self._tasks[peer_pid] = task
        conn.program, conn.pid = prog, peer_pid
        st = _stat(peer_pid)
        conn.ppid = st[1] if st else 0
        conn.calls = Calls(task, self._seed_for(prog), node=prog.node)
        first = peer_pid == prog.pid and not prog.handshaken
        prog.handshaken = True
        reply = P.pack_reply(0, 0, [conn.calls.seed, P.STDIO_FDS if first else 0])
        self._send(conn, reply, prog._fds if first else None)
        if first:
            for fd in prog._fds:
                os.close(fd)
            prog._fds = []
        self._forks_done()

    def _seed_for(self, prog: AttachedProgram) -> int:
        prog._images += 1
        text = f"{self.seed}:{prog.index}:{prog._images}".encode()
        return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little", signed=True)

    def _forks_done(self) -> None:
        """Answer FORKED once the child has handshaken (or is gone)."""
        known = {c.pid for c in self._conns if c.calls is not None}
        for conn in self._conns:
            child = conn.awaiting_fork
            if child is not None and (child in known or not _alive(child)):
                conn.awaiting_fork = None
                self._send(conn, P.pack_reply())

    # -- advancing time ---------------------------------------------------------------------

    def _others_blocked(self, conn: Conn) -> bool:
        return not self._exec_pending and all(
            c is conn or c.block is not None or c.child_wait or c.spins >= SPIN_CALLS
            for c in self._conns
        )

    def _nudge(self) -> None:
        """A spinning process: SPIN_STEP_NS of true time pass (others' wake-ups included).

        Never past `run_until`'s horizon: there the run pauses (`_held`) instead.
        """
        limit = self.host.true_ns + SPIN_STEP_NS
        if self._horizon is not None:
            if self.host.true_ns >= self._horizon:
                self._held = True
                return
            limit = min(limit, self._horizon)
        blocks = [c.block for c in self._conns if c.block is not None]
        self.host.run_while(lambda: not any(b.ready() for b in blocks), limit)
        for other in self._conns:
            if other.block is not None and other.block.ready():
                block, other.block = other.block, None
                self._send(other, block.finish())

    def _advance(self, until_ns: int | None, stop_at_limit: bool = True) -> bool:
        """Every process is blocked: run the host to the first completion; False to stop.

        At `until_ns` every program is stopped, unless `stop_at_limit` is False (`run_until`:
        they wait there for the next run).  Nor is a deadlock then: programs blocked with
        nothing to wake them wait for the limit, where the caller may wake them (a program
        started later sends one a packet).
        """
        blocks = [c.block for c in self._conns if c.block is not None]

        def busy() -> bool:
            return not any(b.ready() for b in blocks)

        if busy():
            in_flight = self.network is not None and self.network.in_flight() > 0
            if stop_at_limit and all(b.indefinite for b in blocks) and not in_flight and not any(
                c.calls is not None and c.calls.armed() for c in self._conns
            ):
                self._stop_all("deadlock: every program is blocked with nothing to wake it")
                return False
            limit = until_ns if until_ns is not None else self.host.true_ns + 10**18
            if not self.host.run_while(busy, limit):
                if stop_at_limit:
                    self._stop_all(f"time limit reached (true time {limit} ns)")
                return False
        for conn in list(self._conns):
            if conn.block is not None and conn.block.ready():
                block, conn.block = conn.block, None
                self._send(conn, block.finish())
        return True

    # -- processes coming and going ---------------------------------------------------------

    def _drop(self, conn: Conn) -> None:
        if conn not in self._conns:
            return
        self._conns.remove(conn)
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(conn.sock)
        conn.sock.close()
        if conn.calls is not None:
            conn.calls.close()
            successor = any(c.pid == conn.pid for c in self._conns)
            if conn.program is not None and _alive(conn.pid) and not successor:
                # exec: a new image of this process follows
                self._exec_pending[conn.pid] = (
                    conn.program, conn.calls.task, time.monotonic() + self.handshake_timeout)
            elif not _alive(conn.pid):
                self._wake_parent(conn.ppid)
        self._forks_done()

    def _wake_parent(self, ppid: int) -> None:
        """A process ended: a parent in a real wait is about to run (freeze time for it)."""
        for c in self._conns:
            if c.pid == ppid and c.child_wait:
                c.child_wait = False

    def _reap(self) -> None:
        for prog in self.programs:
            if prog.returncode is None and prog._popen is not None:
                rc = prog._popen.poll()
                if rc is not None:
                    prog.returncode = rc
                    if not prog.handshaken and prog.error is None:
                        prog.error = f"exited with status {rc} before the handshake"
                    _kill_group(prog.pid)
        for pid in [p for p in self._exec_pending if not _alive(p)]:
            del self._exec_pending[pid]

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        for prog in self.programs:
            late = now - prog._started > self.handshake_timeout
            if prog.returncode is None and not prog.handshaken and late:
                prog.error = "no handshake from the preload library: the program was killed"
                _kill_group(prog.pid)
        for pid, (prog, _task, deadline) in list(self._exec_pending.items()):
            if now > deadline:
                del self._exec_pending[pid]
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                prog.error = prog.error or f"process {pid} exec'd without the preload library"

    def _stop_all(self, why: str) -> None:
        for prog in self.programs:
            if prog.returncode is None:
                prog.error = prog.error or why
                _kill_group(prog.pid)

    def _drain_diag(self, prog: AttachedProgram) -> None:
        assert prog._popen is not None and prog._popen.stderr is not None
        data = _read_some(prog._popen.stderr.fileno())
        if data is None:
            return
        if data:
            prog.diagnostics += data
        else:
            self._sel.unregister(prog._popen.stderr)
            prog._popen.stderr.close()

    def _drain_out(self, prog: AttachedProgram, which: int) -> None:
        key = next(k for k in self._sel.get_map().values() if k.data == ("out", (prog, which)))
        data = _read_some(key.fd)
        if data is None:
            return
        if data:
            if which == 1:
                prog.stdout += data
            else:
                prog.stderr += data
        else:
            self._sel.unregister(key.fd)
            os.close(key.fd)

    def _finish(self) -> None:
        self._stop_all("the simulation stopped")
        for prog in self.programs:
            if prog._popen is not None and prog.returncode is None:
                prog.returncode = prog._popen.wait()
        for conn in list(self._conns):
            self._drop(conn)
        self._exec_pending.clear()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            keys = [k for k in self._sel.get_map().values() if k.data[0] in ("out", "diag")]
            if not keys:
                break
            for key, _ in self._sel.select(timeout=0.05):
                self._event(key.data)

    def close(self) -> None:
        """Release the socket and the run folder (after `run`)."""
        if self._closed:
            return
        self._closed = True
        for key in list(self._sel.get_map().values()):
            if key.data[0] == "out":
                os.close(key.fd)
        self._sel.close()
        self._listener.close()
        for prog in self.programs:
            for fd in prog._fds:
                os.close(fd)
            prog._fds = []
        self._run.remove()

    def __enter__(self) -> Simulation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_some(fd: int) -> bytes | None:
    """Bytes from a non-blocking pipe: None when nothing is there yet, b"" at its end."""
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _stat(pid: int) -> tuple[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = text[text.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def _descends(pid: int, ancestor: int) -> bool:
    for _ in range(64):
        if pid == ancestor:
            return True
        st = _stat(pid)
        if st is None or st[1] <= 1:
            return False
        pid = st[1]
    return False


def _kill_group(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
