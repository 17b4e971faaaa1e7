"""What each forwarded call does: one attached process's calls on its own `tk_core.Task`.

Every call goes through the process's Task, so it acts with that program's credentials on
that program's namespace only.  The C side only marshals; validation that the kernel does at
the syscall boundary (timespec ranges, flags) is done here, then the engine decides.

A call either replies at once (bytes) or returns a `Block`: the process is then blocked in a
sleep or a wait, and the server advances simulated time until some block `ready()`.
"""

from __future__ import annotations

import errno
import ipaddress
import itertools
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

from ntp.timex import Timex
from tk_core.clockids import CLOCK_MONOTONIC, CLOCK_REALTIME_COARSE
from tk_core.posix_timers import PosixTimer, remaining_ns
from tk_core.task import Task
from tk_core.timerfd import TimerFd

from . import protocol as P
from .netsim import Node, UdpSocket
from .protocol import Op

NSEC = 1_000_000_000
TIMER_ABSTIME = 1
TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET = 1, 2
SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD, SIGEV_THREAD_ID = 0, 1, 2, 4
SI_TIMER, SI_KERNEL = -2, 0x80
ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF = 0, 1, 2
SIGRTMAX = 64


class CallError(Exception):
    """A call fails with this errno (the library returns -1 and sets errno)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def timespec_ns(sec: int, frac: int, unit: int = 1) -> int:
    """`timespec64_valid` (or a timeval's): EINVAL outside 0 ≤ frac < 1 s or sec < 0."""
    if sec < 0 or not 0 <= frac < NSEC // unit:
        raise CallError(errno.EINVAL)
    return sec * NSEC + frac * unit


def split_ns(ns: int, unit: int = 1) -> list[int]:
    """ns → [sec, frac in `unit` ns] (ns ≥ 0 here; floor division)."""
    sec, rem = divmod(ns, NSEC)
    return [sec, rem // unit]


def reply(ret: int = 0, args: list[int] | tuple[int, ...] = ()) -> bytes:
    return P.pack_reply(ret, 0, args)


@dataclass(eq=False)
class TimerFdSlot:
    """A timerfd and the program's placeholder descriptor for it."""

    tfd: TimerFd
    fd: int
    reported: bool = False

    def ready(self) -> bool:
        if not self.tfd.ticks:
            self.reported = False
            return False
        return True


@dataclass(eq=False)
class SocketSlot:
    """A simulated UDP socket and the program's placeholder descriptor for it."""

    sock: UdpSocket
    fd: int
    reported: bool = False

    def ready(self) -> bool:
        if not self.sock.readable():
            self.reported = False
            return False
        return True


def ip_text(value: int) -> str:
    return str(ipaddress.IPv4Address(value & 0xFFFFFFFF))


def ip_int(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


@dataclass(eq=False)
class Block:
    """A blocked call: `ready()` says whether it can complete, `finish()` its reply."""

    ready: Callable[[], bool]
    finish: Callable[[], bytes]
    #: True when only a signal or a timer descriptor can end it (no deadline of its own)
    indefinite: bool = False


@dataclass(eq=False)
class Calls:
    """The calls of one attached process image; `handle` answers one request."""

    task: Task
    seed: int
    node: Node | None = None
    payload: bytes = b""
    socks: dict[int, SocketSlot] = field(default_factory=dict)
    notes: list[list[int]] = field(default_factory=list)
    timers: dict[int, PosixTimer] = field(default_factory=dict)
    notify: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    tfds: dict[int, TimerFdSlot] = field(default_factory=dict)
    itimer: PosixTimer | None = None
    cpu_itimers: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)
    wait_deadline: int | None = None
    _next_timer: int = 0
    _next_tfd: int = 0

    def handle(self, op: int, a: list[int]) -> bytes | Block:
        """One request → a reply or a Block; errors become an errno reply."""
        fn = self._ops().get(op)
        if fn is None:
            return P.pack_reply(-1, errno.ENOSYS)
        try:
            return fn(a)
        except CallError as exc:
            return P.pack_reply(-1, exc.code)
        except OSError as exc:
            return P.pack_reply(-1, exc.errno or errno.EINVAL)
        except (OverflowError, ValueError, TypeError):
            return P.pack_reply(-1, errno.EINVAL)

    def _ops(self) -> dict[int, Callable[[list[int]], bytes | Block]]:
        return {
            Op.CLOCK_GETTIME: self.clock_gettime,
            Op.CLOCK_GETRES: self.clock_getres,
            Op.CLOCK_SETTIME: self.clock_settime,
            Op.ADJTIMEX: self.adjtimex,
            Op.ADJTIME: self.adjtime,
            Op.TIME: self.time,
            Op.NANOSLEEP: self.nanosleep,
            Op.TIMER_CREATE: self.timer_create,
            Op.TIMER_SETTIME: self.timer_settime,
            Op.TIMER_GETTIME: self.timer_gettime,
            Op.TIMER_GETOVERRUN: self.timer_getoverrun,
            Op.TIMER_DELETE: self.timer_delete,
            Op.TIMERFD_CREATE: self.timerfd_create,
            Op.TIMERFD_SETTIME: self.timerfd_settime,
            Op.TIMERFD_GETTIME: self.timerfd_gettime,
            Op.TIMERFD_READ: self.timerfd_read,
            Op.FD_CLOSE: self.fd_close,
            Op.WAIT: self.wait,
            Op.SETITIMER: self.setitimer,
            Op.GETITIMER: self.getitimer,
            Op.ALARM: self.alarm,
            Op.SOCKET: self.socket,
            Op.BIND: self.bind,
            Op.CONNECT: self.connect,
            Op.GETSOCKNAME: self.getsockname,
            Op.GETPEERNAME: self.getpeername,
            Op.SENDTO: self.sendto,
            Op.RECVFROM: self.recvfrom,
            Op.SETSOCKOPT: self.setsockopt,
        }

    # -- clocks -------------------------------------------------------------------------

    def clock_gettime(self, a: list[int]) -> bytes:
        return reply(0, split_ns(self.task.clock_gettime_ns(a[0])))

    def clock_getres(self, a: list[int]) -> bytes:
        return reply(0, split_ns(self.task.clock_getres_ns(a[0])))

    def time(self, a: list[int]) -> bytes:
        """time(2) is `ktime_get_real_seconds`: the timekeeper's xtime_sec (the coarse clock)."""
        return reply(self.task.clock_gettime_ns(CLOCK_REALTIME_COARSE) // NSEC)

    def clock_settime(self, a: list[int]) -> bytes:
        value = timespec_ns(a[1], a[2], 1000 if a[3] else 1)
        self.task.clock_settime_ns(a[0], value)
        return reply()

    def adjtimex(self, a: list[int]) -> bytes:
        f = a[1:22]
        tx = Timex(
            modes=f[0], offset=f[1], freq=f[2], maxerror=f[3], esterror=f[4], status=f[5],
            constant=f[6], precision=f[7], tolerance=f[8], time=(f[9], f[10]), tick=f[11],
            ppsfreq=f[12], jitter=f[13], shift=f[14], stabil=f[15], jitcnt=f[16],
            calcnt=f[17], errcnt=f[18], stbcnt=f[19], tai=f[20],
        )
        state = self.task.adjtimex(tx) if a[0] == -1 else self.task.clock_adjtime(a[0], tx)
        return reply(state, timex_fields(tx))

    def adjtime(self, a: list[int]) -> bytes:
        """adjtime(3): glibc folds the timeval into µs; the old delta comes back truncated."""
        pending = self.task.adjtime(a[1] * 1_000_000 + a[2] if a[0] else None)
        sec = abs(pending) // 1_000_000 * (1 if pending >= 0 else -1)
        return reply(0, [sec, pending - sec * 1_000_000])

    # -- sleeping -----------------------------------------------------------------------

    def nanosleep(self, a: list[int]) -> Block:
        clockid, absolute = a[0], bool(a[1] & TIMER_ABSTIME)
        value = timespec_ns(a[2], a[3])
        sleeper = self.task.clock_nanosleep(clockid, value, absolute)

        def finish() -> bytes:
            if sleeper.done:
                return reply()
            left = sleeper.interrupt() or 0
            return self.eintr(split_ns(left))

        return Block(lambda: sleeper.done or bool(self.notes), finish)

    def wait(self, a: list[int]) -> bytes | Block:
        """poll/select/epoll: a new wait reports readiness at once; a continued one blocks."""
        timeout, new = a[0], a[1]
        if new:
            now = self.task.clock_gettime_ns(CLOCK_MONOTONIC)
            self.wait_deadline = None if timeout < 0 else now + timeout
            return reply(1, self._ready_report())
        deadline = self.wait_deadline
        if deadline is not None and deadline <= self.task.clock_gettime_ns(CLOCK_MONOTONIC):
            return reply(0, self._ready_report())
        sleeper = (
            None if deadline is None
            else self.task.clock_nanosleep(CLOCK_MONOTONIC, deadline, absolute=True)
        )

        def fresh() -> bool:
            return any(s.ready() and not s.reported for s in self._slots())

        def ready() -> bool:
            return bool(self.notes) or fresh() or (sleeper is not None and sleeper.done)

        def finish() -> bytes:
            timed_out = sleeper is not None and sleeper.done
            if sleeper is not None and not sleeper.done:
                sleeper.interrupt()
            report = self._ready_report()
            if self.notes and not timed_out:
                return self.eintr(report)
            return reply(0 if timed_out else 1, report)

        return Block(ready, finish, indefinite=sleeper is None)

    def _slots(self) -> itertools.chain[TimerFdSlot | SocketSlot]:
        return itertools.chain(self.tfds.values(), self.socks.values())

    def _ready_report(self) -> list[int]:
        """Every ready placeholder (marked reported, so only new readiness wakes a wait)."""
        fds = [s.fd for s in self._slots() if s.ready()][: P.MAX_READY]
        for s in self._slots():
            if s.fd in fds:
                s.reported = True
        return [0, 0, len(fds), *fds]

    def eintr(self, args: list[int]) -> bytes:
        """EINTR carrying the numbers of the signals that cut the call short."""
        signos = [n[1] for n in self.notes if n[0] == P.NOTE_SIGNAL][:8]
        packed = sum(s << (8 * i) for i, s in enumerate(signos))
        out = [*args, *([0] * (P.NARGS - 1 - len(args)))]
        out[P.SIGNALS_PACKED], out[P.SIGNALS_COUNT] = packed, len(signos)
        return P.pack_reply(-1, errno.EINTR, out)

    def take_notes(self) -> list[bytes]:
        """The notifications to send before the next reply (then forgotten)."""
        notes, self.notes = self.notes, []
        return [P.pack_note(n) for n in notes]

    # -- POSIX timers ---------------------------------------------------------------------

    def timer_create(self, a: list[int]) -> bytes:
        clockid, how, signo, value, default = a[0], a[1], a[2], a[3], a[4]
        if how not in (SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD, SIGEV_THREAD_ID):
            raise CallError(errno.EINVAL)
        if how in (SIGEV_SIGNAL, SIGEV_THREAD_ID) and not 1 <= signo <= SIGRTMAX:
            raise CallError(errno.EINVAL)
        tid = self._next_timer
        timer = self.task.timer_create(clockid, self._timer_fired(tid))
        self._next_timer += 1
        self.timers[tid] = timer
        self.notify[tid] = (how, signo, tid if default else value)
        return reply(tid)

    def _timer_fired(self, tid: int) -> Callable[[PosixTimer, int], None]:
        def fired(timer: PosixTimer, overrun: int) -> None:
            how, signo, value = self.notify[tid]
            if how == SIGEV_THREAD:
                self.notes.append([P.NOTE_THREAD, 0, tid])
            elif how != SIGEV_NONE:
                self.notes.append([P.NOTE_SIGNAL, signo, tid, overrun, value, SI_TIMER])

        return fired

    def _timer(self, tid: int) -> PosixTimer:
        timer = self.timers.get(tid)
        if timer is None:
            raise CallError(errno.EINVAL)
        return timer

    def timer_settime(self, a: list[int]) -> bytes:
        timer = self._timer(a[0])
        value, interval = timespec_ns(a[2], a[3]), timespec_ns(a[4], a[5])
        old = timer.settime(value, interval, absolute=bool(a[1] & TIMER_ABSTIME))
        return reply(0, [*split_ns(old[0]), *split_ns(old[1])])

    def timer_gettime(self, a: list[int]) -> bytes:
        remaining, interval = self._timer(a[0]).gettime()
        return reply(0, [*split_ns(remaining), *split_ns(interval)])

    def timer_getoverrun(self, a: list[int]) -> bytes:
        return reply(self._timer(a[0]).overrun)

    def timer_delete(self, a: list[int]) -> bytes:
        self._timer(a[0]).delete()
        del self.timers[a[0]]
        return reply()

    # -- timerfd --------------------------------------------------------------------------

    def timerfd_create(self, a: list[int]) -> bytes:
        tfd = self.task.timerfd_create(a[0])
        tid = self._next_id()
        self.tfds[tid] = TimerFdSlot(tfd, a[2])
        return reply(tid)

    def _slot(self, tid: int) -> TimerFdSlot:
        slot = self.tfds.get(tid)
        if slot is None:
            raise CallError(errno.EBADF)
        return slot

    def timerfd_settime(self, a: list[int]) -> bytes:
        slot = self._slot(a[0])
        if a[1] & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET):
            raise CallError(errno.EINVAL)
        value, interval = timespec_ns(a[2], a[3]), timespec_ns(a[4], a[5])
        old = slot.tfd.settime(
            value, interval, absolute=bool(a[1] & TFD_TIMER_ABSTIME),
            cancel_on_set=bool(a[1] & TFD_TIMER_CANCEL_ON_SET),
        )
        slot.ready()
        return reply(0, [*split_ns(old[0]), *split_ns(old[1])])

    def timerfd_gettime(self, a: list[int]) -> bytes:
        remaining, interval = self._slot(a[0]).tfd.gettime()
        return reply(0, [*split_ns(remaining), *split_ns(interval)])

    def timerfd_read(self, a: list[int]) -> bytes | Block:
        slot = self._slot(a[0])
        if slot.tfd.ticks or a[1]:
            return self._read_now(slot)

        def finish() -> bytes:
            if slot.tfd.ticks:
                return self._read_now(slot)
            return self.eintr(self._ready_report())

        return Block(lambda: bool(slot.tfd.ticks) or bool(self.notes), finish, indefinite=True)

    def _read_now(self, slot: TimerFdSlot) -> bytes:
        try:
            ticks = slot.tfd.read()
        except OSError as exc:
            return P.pack_reply(-1, exc.errno or errno.EINVAL, self._ready_report())
        return reply(ticks, self._ready_report())

    def fd_close(self, a: list[int]) -> bytes:
        slot = self.tfds.pop(a[0], None)
        if slot is not None:
            slot.tfd.close()
        sock = self.socks.pop(a[0], None)
        if sock is not None:
            sock.sock.close()
        return reply()

    # -- UDP on the simulated network -----------------------------------------------------

    def socket(self, a: list[int]) -> bytes:
        """AF_INET/SOCK_DGRAM on the program's node; other inet sockets are refused there."""
        domain, kind, proto = a[0], a[1], a[2]
        if self.node is None:
            return reply(P.NOT_SIMULATED)
        if domain != 2:  # AF_INET6 and the rest: IPv4 only on the simulated network
            raise CallError(errno.EAFNOSUPPORT)
        if kind != 2 or proto not in (0, 17):  # SOCK_DGRAM, IPPROTO_UDP
            raise CallError(errno.EPROTONOSUPPORT)
        sid = self._next_id()
        self.socks[sid] = SocketSlot(self.node.socket(), a[3])
        return reply(sid)

    def _next_id(self) -> int:
        sid = self._next_tfd
        self._next_tfd += 1
        return sid

    def _sock(self, sid: int) -> UdpSocket:
        slot = self.socks.get(sid)
        if slot is None:
            raise CallError(errno.EBADF)
        return slot.sock

    def bind(self, a: list[int]) -> bytes:
        self._sock(a[0]).bind((ip_text(a[1]), a[2]))
        return reply()

    def connect(self, a: list[int]) -> bytes:
        sock = self._sock(a[0])
        if a[3]:
            sock.disconnect()
        else:
            sock.connect((ip_text(a[1]), a[2]))
        return reply()

    def getsockname(self, a: list[int]) -> bytes:
        host, port = self._sock(a[0]).getsockname()
        return reply(0, [ip_int(host), port])

    def getpeername(self, a: list[int]) -> bytes:
        host, port = self._sock(a[0]).getpeername()
        return reply(0, [ip_int(host), port])

    def sendto(self, a: list[int]) -> bytes:
        sock = self._sock(a[0])
        dest = (ip_text(a[2]), a[3]) if a[1] else None
        return reply(sock.sendto(self.payload, dest))

    def recvfrom(self, a: list[int]) -> bytes | Block:
        slot = self.socks.get(a[0])
        if slot is None:
            raise CallError(errno.EBADF)
        size, peek = a[2], bool(a[3])
        if slot.sock.readable() or a[1]:
            return self._recv_now(slot, size, peek)

        def finish() -> bytes:
            if slot.sock.readable():
                return self._recv_now(slot, size, peek)
            return self.eintr(self._ready_report())

        return Block(lambda: slot.sock.readable() or bool(self.notes), finish, indefinite=True)

    def _recv_now(self, slot: SocketSlot, size: int, peek: bool) -> bytes:
        # MSG_PEEK looks at netsim's arrival queue; recv raises EAGAIN when it is empty
        peeked = peek and slot.sock.readable()
        dgram = slot.sock._queue[0] if peeked else slot.sock.recv()
        data = dgram.data[: max(0, min(size, P.MAX_PAYLOAD))]
        args = self._ready_report()
        args += [0] * (P.NARGS - 1 - len(args))
        sec, nsec = divmod(dgram.rx_realtime_ns, NSEC)
        args[22], args[P.PAYLOAD] = len(dgram.data), len(data)
        args[24], args[25], args[26], args[27] = ip_int(dgram.src[0]), dgram.src[1], sec, nsec
        return reply(len(data), args) + data

    def setsockopt(self, a: list[int]) -> bytes:
        sock = self._sock(a[0])
        if (a[1], a[2]) == (1, 2):  # SOL_SOCKET, SO_REUSEADDR
            sock.setsockopt_reuseaddr(bool(a[3]))
        return reply()  # other options are accepted and have no effect here

    # -- itimers and alarm ----------------------------------------------------------------

    def _real_itimer(self) -> PosixTimer:
        """ITIMER_REAL: an hrtimer on MONOTONIC that sends SIGALRM (`it_real_fn`)."""
        if self.itimer is None:
            def fired(timer: PosixTimer, overrun: int) -> None:
                self.notes.append([P.NOTE_SIGNAL, signal.SIGALRM, 0, 0, 0, SI_KERNEL])

            self.itimer = self.task.timer_create(CLOCK_MONOTONIC, fired)
        return self.itimer

    def _itimer_value(self) -> list[int]:
        """`itimer_get_remtime`: an expired-but-unrun timer reports 1 µs, never 0."""
        timer = self.itimer
        if timer is None or not timer.armed:
            return [0, 0, *split_ns(timer.interval if timer else 0, 1000)]
        rem = remaining_ns(timer.entry)
        rem = rem if rem > 0 else 1000
        return [*split_ns(rem, 1000), *split_ns(timer.interval, 1000)]

    def setitimer(self, a: list[int]) -> bytes:
        which = a[0]
        value, interval = timespec_ns(a[1], a[2], 1000), timespec_ns(a[3], a[4], 1000)
        if which in (ITIMER_VIRTUAL, ITIMER_PROF):
            old = self.cpu_itimers.get(which, (0, 0, 0, 0))
            self.cpu_itimers[which] = (a[1], a[2], a[3], a[4])
            return reply(0, list(old))
        if which != ITIMER_REAL:
            raise CallError(errno.EINVAL)
        previous = self._itimer_value()
        self._real_itimer().settime(value, interval if value else 0)
        return reply(0, previous)

    def getitimer(self, a: list[int]) -> bytes:
        if a[0] in (ITIMER_VIRTUAL, ITIMER_PROF):
            return reply(0, list(self.cpu_itimers.get(a[0], (0, 0, 0, 0))))
        if a[0] != ITIMER_REAL:
            raise CallError(errno.EINVAL)
        return reply(0, self._itimer_value())

    def alarm(self, a: list[int]) -> bytes:
        """`alarm_setitimer`: old value rounded to the nearest second, never 0 when armed."""
        old_sec, old_usec = self._itimer_value()[:2]
        self._real_itimer().settime(a[0] * NSEC, 0)
        if (old_sec == 0 and old_usec) or old_usec >= 500_000:
            old_sec += 1
        return reply(old_sec)

    # -- the end ------------------------------------------------------------------------

    def close(self) -> None:
        """The process image is gone: its timers and timer descriptors go with it."""
        for timer in self.timers.values():
            timer.delete()
        for slot in self.tfds.values():
            slot.tfd.close()
        for sslot in self.socks.values():
            sslot.sock.close()
        self.socks.clear()
        if self.itimer is not None:
            self.itimer.delete()
        self.timers.clear()
        self.tfds.clear()

    def armed(self) -> bool:
        """Whether anything of this process can still fire (deadlock detection)."""
        return (
            any(t.armed for t in self.timers.values())
            or any(s.tfd.entry.queued for s in self.tfds.values())
            or (self.itimer is not None and self.itimer.armed)
        )


def timex_fields(tx: Timex) -> list[int]:
    """The 21 words of a struct timex in the kernel's order (protocol.TIMEX_FIELDS)."""
    return [
        tx.modes, tx.offset, tx.freq, tx.maxerror, tx.esterror, tx.status, tx.constant,
        tx.precision, tx.tolerance, tx.time[0], tx.time[1], tx.tick, tx.ppsfreq, tx.jitter,
        tx.shift, tx.stabil, tx.jitcnt, tx.calcnt, tx.errcnt, tx.stbcnt, tx.tai,
    ]




__all__ = ["Block", "CallError", "Calls", "timex_fields"]
