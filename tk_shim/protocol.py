"""The wire protocol between the preload library (c/shim.c) and the server, version 1.

One stream-mode Unix socket per process image.  Every message is exactly 256 bytes, native
byte order (the program and the server share one machine):

request  ``u32 op, u32 flags, s64 a[31]``
message  ``u32 kind, s32 err, s64 ret, s64 a[30]``

The library sends one request and reads messages until one of kind REPLY.  Messages of kind
SIGNAL that precede it are notifications it acts on after the reply (raise a signal, or run a
SIGEV_THREAD function): ``a[0]`` = NOTE_SIGNAL or NOTE_THREAD, ``a[1]`` signal number,
``a[2]`` timer id, ``a[3]`` overrun, ``a[4]`` sigval, ``a[5]`` si_code (SI_TIMER for POSIX
timers, SI_KERNEL for the itimer).  A REPLY has ``err`` = 0 and the result in ``ret``, or
``err`` = an errno value (the library returns -1 and sets errno, or returns it for the calls
that return error numbers).  A blocking call cut short by signals replies EINTR with the
signal numbers packed one per byte in ``a[28]`` and their count in ``a[29]``; the library
decides, from the program's own signal dispositions, whether the call really is interrupted
or resumes (no simulated time has passed in between: the CPU is infinitely fast).

Operations and their arguments (``a[i]`` of the request → ``ret``/``a[i]`` of the reply):

=================  ===========================================  =================================
HELLO              abi, pid, token (32 hex chars in a[2..5])     a[0] random seed, a[1] = 3 when
                                                                 stdin/out/err ride along
                                                                 (SCM_RIGHTS)
CLOCK_GETTIME      clockid                                       a[0] s, a[1] ns
CLOCK_GETRES       clockid                                       a[0] s, a[1] ns
CLOCK_SETTIME      clockid, s, ns|µs, 1 if µs (settimeofday)     —
ADJTIMEX           clockid (-1: adjtimex), 21 timex fields        ret = clock state, a[0..20]
ADJTIME            has_delta, s, µs                              a[0] s, a[1] µs (old delta)
NANOSLEEP          clockid, flags, s, ns                         EINTR: a[0] s, a[1] ns left
TIMER_CREATE       clockid, sigev_notify, signo, sigval          ret = timer id
TIMER_SETTIME      id, flags, value s/ns, interval s/ns          a[0..3] old value and interval
TIMER_GETTIME      id                                            a[0..3]
TIMER_GETOVERRUN   id                                            ret
TIMER_DELETE       id                                            —
TIMERFD_CREATE     clockid, flags, placeholder fd                ret = timerfd id
TIMERFD_SETTIME    id, flags, value s/ns, interval s/ns          a[0..3] old
TIMERFD_GETTIME    id                                            a[0..3]
TIMERFD_READ       id, nonblocking                               ret = expirations; a[2..] ready
FD_CLOSE           id                                            —
WAIT               timeout ns (-1: none), 1 on a new wait        ret 0: deadline passed, 1: a
                                                                 timer descriptor became ready;
                                                                 a[2] = n, a[3..] ready fds
SETITIMER          which, value s/µs, interval s/µs              a[0..3] old (s/µs)
GETITIMER          which                                         a[0..3]
ALARM              seconds                                       ret = old seconds (rounded)
TIME               —                                             ret = seconds
FORKED             child pid                                     — (sent once the child said
                                                                 HELLO, or died)
CHILD_WAIT         —                                             — (then the real wait: the
                                                                 process counts as blocked)
CHILD_WOKE         —                                             — (the real wait returned)
SOCKET             domain, type, protocol, placeholder fd        ret = socket id; -2: no simulated
                                                                 network (a real socket)
BIND / CONNECT     id, IPv4 (host order), port [, 1: AF_UNSPEC]  —
GETSOCKNAME/-PEER  id                                            a[0] IPv4, a[1] port
SENDTO             id, has_addr, IPv4, port; payload follows     ret = bytes sent
RECVFROM           id, nonblocking, buffer size, peek            ret = bytes; a[22] datagram size,
                                                                 a[24..25] source, a[26..27] rx
                                                                 REALTIME s/ns; payload follows
SETSOCKOPT         id, level, name, int value                    — (SO_REUSEADDR; the library
                                                                 keeps the timestamp options)
=================  ===========================================  =================================

Payloads: a request's ``flags`` word is the number of payload bytes that follow it; a reply's
``a[23]`` the number that follow the reply.  Replies that report readiness carry ``a[2]`` =
n and ``a[3..21]`` the ready placeholder descriptors (at most 19).

The struct timex order is the kernel's (include/uapi/linux/timex.h): modes, offset, freq,
maxerror, esterror, status, constant, precision, tolerance, time.tv_sec, time.tv_usec, tick,
ppsfreq, jitter, shift, stabil, jitcnt, calcnt, errcnt, stbcnt, tai.
"""

from __future__ import annotations

import struct
from enum import IntEnum
from typing import Final

ABI: Final = 1
MESSAGE_SIZE: Final = 256
NARGS: Final = 31
REQUEST = struct.Struct("=II31q")
MESSAGE = struct.Struct("=Iiq30q")
assert REQUEST.size == MESSAGE.size == MESSAGE_SIZE

KIND_REPLY: Final = 1
KIND_SIGNAL: Final = 2
NOTE_SIGNAL: Final = 0
NOTE_THREAD: Final = 1
SIGNALS_PACKED: Final = 28
SIGNALS_COUNT: Final = 29
MAX_READY: Final = 19
PAYLOAD: Final = 23  # reply a[23]: bytes of payload that follow the reply
MAX_PAYLOAD: Final = 65536
NOT_SIMULATED: Final = -2  # SOCKET: this program has no simulated network
STDIO_FDS: Final = 3


class Op(IntEnum):
    """Request operations (numbering shared with c/shim.c)."""

    HELLO = 1
    CLOCK_GETTIME = 2
    CLOCK_GETRES = 3
    CLOCK_SETTIME = 4
    ADJTIMEX = 5
    ADJTIME = 6
    NANOSLEEP = 7
    TIMER_CREATE = 8
    TIMER_SETTIME = 9
    TIMER_GETTIME = 10
    TIMER_GETOVERRUN = 11
    TIMER_DELETE = 12
    TIMERFD_CREATE = 13
    TIMERFD_SETTIME = 14
    TIMERFD_GETTIME = 15
    TIMERFD_READ = 16
    FD_CLOSE = 17
    WAIT = 18
    SETITIMER = 19
    GETITIMER = 20
    ALARM = 21
    TIME = 22
    FORKED = 23
    CHILD_WAIT = 24
    CHILD_WOKE = 25
    SOCKET = 26
    BIND = 27
    CONNECT = 28
    GETSOCKNAME = 29
    GETPEERNAME = 30
    SENDTO = 31
    RECVFROM = 32
    SETSOCKOPT = 33


TIMEX_FIELDS: Final = (
    "modes", "offset", "freq", "maxerror", "esterror", "status", "constant", "precision",
    "tolerance", "time.tv_sec", "time.tv_usec", "tick", "ppsfreq", "jitter", "shift", "stabil",
    "jitcnt", "calcnt", "errcnt", "stbcnt", "tai",
)


def unpack_request(data: bytes) -> tuple[int, list[int]]:
    """(op, the 31 arguments) of one request."""
    op, _flags, *args = REQUEST.unpack(data)
    return op, args


def pack_request(op: int, args: list[int] | tuple[int, ...] = ()) -> bytes:
    """One request (tests use this to speak to a server as the library would)."""
    return REQUEST.pack(op, 0, *_padded(args, NARGS))


def pack_reply(ret: int = 0, err: int = 0, args: list[int] | tuple[int, ...] = ()) -> bytes:
    """A REPLY message."""
    return MESSAGE.pack(KIND_REPLY, err, ret, *_padded(args, NARGS - 1))


def pack_note(args: list[int] | tuple[int, ...]) -> bytes:
    """A SIGNAL notification (see the module docstring for its fields)."""
    return MESSAGE.pack(KIND_SIGNAL, 0, 0, *_padded(args, NARGS - 1))


def unpack_message(data: bytes) -> tuple[int, int, int, list[int]]:
    """(kind, err, ret, the 30 arguments) of one message."""
    kind, err, ret, *args = MESSAGE.unpack(data)
    return kind, err, ret, args


def _padded(args: list[int] | tuple[int, ...], n: int) -> list[int]:
    if len(args) > n:
        raise ValueError(f"at most {n} arguments, got {len(args)}")
    return [*args, *([0] * (n - len(args)))]


def token_words(token: str) -> tuple[int, int, int, int]:
    """The 32-character token as the four s64 words the library copies it into."""
    raw = token.encode("ascii")
    if len(raw) != 32:
        raise ValueError("the token is 32 ASCII characters")
    a, b, c, d = struct.unpack("=4q", raw)
    return a, b, c, d
