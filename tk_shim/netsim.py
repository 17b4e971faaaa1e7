"""A virtual UDP/IPv4 network inside one simulation: nodes, sockets, seeded path delays.

Every program attached to the simulation (a real daemon through the preload shim, or a model
endpoint such as `tk_shim.ntp_server.NtpServer`) is a *node*: one IPv4 address tied to one
tk_core namespace.  A node's UDP sockets behave like Linux's for the calls a time daemon
makes, and every datagram travels in the host's true time:

* **Delay.** Each directed pair of addresses has a `ntp.discipline.PathModel` (the one the
  engine's own NTP daemons use): ``Network.set_path(a, b, path)`` makes a → b the path's
  outbound direction and b → a its return direction (which adds `asymmetry_ns`).  Each datagram
  draws its own delay and loss (`PathModel.draw_one_way`).  Pairs without a path of their own use
  `default_path`.  A datagram to the sender's own address (or 127.0.0.0/8) arrives after 0 ns,
  still through the queue, never inside the `sendto` call.
* **Determinism.** Every directed pair has its own `random.Random`, seeded from the network
  seed and the two addresses, so the same seed and the same sends give the same arrivals bit
  for bit, and traffic on one pair never perturbs another.
* **Scheduling.** A datagram in flight is an entry in the host's one timer queue
  (`tk_core.daemon.at_true_time`): the host's event loop jumps to its arrival like to any
  timer, so `host.run_until` / `host.run_while` advance simulated time to packet arrivals.
* **Timestamps.** At arrival the receiving namespace's CLOCK_REALTIME is read (what
  SO_TIMESTAMPNS / SO_TIMESTAMPING's software receive stamp gives); the sender's REALTIME
  at `sendto` is kept too (the software transmit stamp SO_TIMESTAMPING loops back).
* **Wake-ups.** When a datagram is queued on a socket, `UdpSocket.wakeup` and then every
  `Network.wakeup` listener are called with the socket: the shim server uses this to wake a
  program blocked in select/poll/recv (for instance a flag checked by ``host.run_while``).
* **Loopback.** 127.0.0.0/8 stands for the sender's own node (delivered as to its address).
* **Routing.** By destination address only; no node with that address → the datagram is
  dropped, as UDP on a route to nowhere (no ICMP is modelled).  No socket bound to the port
  at arrival → dropped.  A full receive queue (`rcvbuf` payload bytes, 212992 by default,
  Linux's net.core.rmem_default) → dropped.

Socket calls raise `OSError` with Linux's errno: EBADF after close, EINVAL for a second
bind or a bad address/port, EADDRNOTAVAIL for an address not the node's, EADDRINUSE for a
port taken (SO_REUSEADDR on both sockets lets them share it, as ntpd's wildcard + specific
binds need), EDESTADDRREQ for `send` unconnected, ENOTCONN for `getpeername` unconnected,
EMSGSIZE above 65507 bytes, EAGAIN for `recv` on an empty queue (the shim does the
blocking) and when no ephemeral port is left.  A failed call changes nothing.

API (stable; the shim server calls it)::

    net = Network(host, seed=0, default_path=PathModel())
    a = net.add_node("10.0.0.1", ns_a)            # Node
    net.set_path("10.0.0.1", "10.0.0.2", PathModel(delay_ns=...))
    s = a.socket()                                 # UdpSocket
    s.bind(("0.0.0.0", 0)); s.connect(("10.0.0.2", 123)); s.send(b"...")
    s.sendto(b"...", ("10.0.0.2", 123)) -> int
    s.sendto_stamped(b"...", addr) -> (int, tx REALTIME ns)   # SO_TIMESTAMPING TX stamp
    s.readable() -> bool; s.recv() -> Datagram (data, src, dst, rx_realtime_ns, tx_realtime_ns)
    s.getsockname() / s.getpeername() -> (str, int); s.close()
    net.wakeup.append(callback)  # callback(socket) when a datagram is queued on it
    net.next_arrival() -> mpq | None  (true time, seconds, of the next datagram in flight)
"""

from __future__ import annotations

import errno
import ipaddress
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gmpy2 import mpq

from ntp.discipline import PathModel
from tk_core.clockids import CLOCK_REALTIME
from tk_core.daemon import at_true_time

if TYPE_CHECKING:
    from tk_core.host import Host
    from tk_core.hrtimer import CycleEntry
    from tk_core.namespace import Namespace

NSEC = 1_000_000_000
ANY = "0.0.0.0"
MAX_UDP_PAYLOAD = 65_507  # 65535 − 20 (IPv4 header) − 8 (UDP header)
RCVBUF_DEFAULT = 212_992  # net.core.rmem_default on Linux
EPHEMERAL_FIRST, EPHEMERAL_LAST = 32_768, 60_999  # net.ipv4.ip_local_port_range
LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")

Address = tuple[str, int]
Wakeup = Callable[["UdpSocket"], None]


def os_error(code: int, what: str) -> OSError:
    """An OSError with `code` (a Linux errno) and a message naming the call."""
    return OSError(code, f"{errno.errorcode.get(code, code)}: {what}")


def check_ipv4(text: str) -> str:
    """`text` as a canonical dotted IPv4 address; EINVAL for anything else."""
    if not isinstance(text, str):
        raise os_error(errno.EINVAL, f"IPv4 address must be a str, got {text!r}")
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise os_error(errno.EINVAL, f"not an IPv4 address: {text!r}") from None


def check_address(addr: Address) -> Address:
    """An (IPv4 address, port 0–65535) pair, canonical; EINVAL for anything else."""
    if not (isinstance(addr, tuple) and len(addr) == 2):
        raise os_error(errno.EINVAL, f"address must be (host, port), got {addr!r}")
    host, port = addr
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 0xFFFF:
        raise os_error(errno.EINVAL, f"port must be an int in 0..65535, got {port!r}")
    return check_ipv4(host), port


@dataclass(frozen=True)
class Datagram:
    """One received datagram: payload, where from and to, and both software timestamps.

    `rx_realtime_ns`: the receiving namespace's CLOCK_REALTIME at arrival; `tx_realtime_ns`:
    the sender's REALTIME when it called sendto.  `rx_true_ns` / `tx_true_ns`: the true
    instants (exact ns, mpq) — for tests and traces, never shown to a program.
    """

    data: bytes
    src: Address
    dst: Address
    rx_realtime_ns: int
    tx_realtime_ns: int
    rx_true_ns: mpq
    tx_true_ns: mpq


@dataclass(frozen=True)
class PacketRecord:
    """What the network did with one datagram (`Network.records`, when `record=True`)."""

    tx_true_ns: mpq
    src: Address
    dst: Address
    data: bytes
    delay_ns: int | None  # None: lost on the path or unroutable
    fate: str = "sent"  # sent, lost, unroutable


@dataclass
class NetworkStats:
    """Counters: datagrams sent, delivered to a socket, and dropped (by reason)."""

    sent: int = 0
    delivered: int = 0
    lost: int = 0
    unroutable: int = 0
    no_listener: int = 0
    overflow: int = 0


@dataclass(eq=False)
class _InFlight:
    socket_src: Address
    dst: Address
    data: bytes
    tx_realtime_ns: int
    tx_true_ns: mpq
    arrival: mpq  # true time, seconds
    entry: CycleEntry | None = None


class Network:
    """A virtual UDP/IPv4 network on `host` (see the module docstring).

    `seed` seeds every pair's delay draws; `default_path` is the path of pairs without one of
    their own; `record=True` keeps a `PacketRecord` of every datagram in `records`.
    """

    def __init__(
        self,
        host: Host,
        *,
        seed: int = 0,
        default_path: PathModel | None = None,
        record: bool = False,
    ) -> None:
        self.host = host
        self.seed = seed
        self.default_path = default_path if default_path is not None else PathModel()
        self.nodes: dict[str, Node] = {}
        self.stats = NetworkStats()
        self.wakeup: list[Wakeup] = []
        self.record = record
        self.records: list[PacketRecord] = []
        self._paths: dict[tuple[str, str], tuple[PathModel, bool]] = {}
        self._rngs: dict[tuple[str, str], random.Random] = {}
        self._in_flight: list[_InFlight] = []

    def add_node(self, address: str, ns: Namespace, name: str | None = None) -> Node:
        """A node with IPv4 `address` whose clocks are namespace `ns`'s."""
        addr = check_ipv4(address)
        if addr == ANY or ipaddress.IPv4Address(addr) in LOOPBACK:
            raise os_error(errno.EINVAL, f"a node needs a unicast address, not {addr}")
        if addr in self.nodes:
            raise os_error(errno.EADDRINUSE, f"address {addr} already has a node")
        if ns.host is not self.host:
            raise ValueError(f"namespace {ns.name!r} belongs to another host")
        node = Node(self, addr, ns, name or addr)
        self.nodes[addr] = node
        return node

    def node(self, address: str) -> Node:
        """The node with `address` (KeyError if none)."""
        return self.nodes[check_ipv4(address)]

    def set_path(self, a: str, b: str, path: PathModel) -> None:
        """`path` between `a` and `b`: a → b outbound, b → a its return direction."""
        a, b = check_ipv4(a), check_ipv4(b)
        self._paths[(a, b)] = (path, False)
        self._paths[(b, a)] = (path, True)

    def path(self, src: str, dst: str) -> tuple[PathModel, bool]:
        """The path a datagram src → dst travels, and whether that is its return direction."""
        return self._paths.get((src, dst), (self.default_path, False))

    def next_arrival(self) -> mpq | None:
        """True time (seconds) of the earliest datagram still in flight, or None."""
        return min((p.arrival for p in self._in_flight), default=None)

    def in_flight(self) -> int:
        """How many datagrams are travelling now."""
        return len(self._in_flight)

    def _rng(self, src: str, dst: str) -> random.Random:
        rng = self._rngs.get((src, dst))
        if rng is None:
            rng = self._rngs[(src, dst)] = random.Random(f"netsim:{self.seed}:{src}>{dst}")
        return rng

    def _delay(self, src: str, dst: str) -> int | None:
        if src == dst or ipaddress.IPv4Address(dst) in LOOPBACK:
            return 0
        path, reverse = self.path(src, dst)
        return path.draw_one_way(self._rng(src, dst), reverse=reverse)

    def transmit(self, src: Address, dst: Address, data: bytes, tx_realtime_ns: int) -> None:
        """Put a datagram on the wire (UdpSocket.sendto calls this)."""
        host = self.host
        self.stats.sent += 1
        local = ipaddress.IPv4Address(dst[0]) in LOOPBACK
        routable = local or dst[0] in self.nodes
        delay = self._delay(src[0], dst[0]) if routable else None
        tx_true_ns = host.true_time * NSEC
        if self.record:
            fate = "sent" if delay is not None else ("lost" if routable else "unroutable")
            self.records.append(PacketRecord(tx_true_ns, src, dst, data, delay, fate))
        if not routable:
            self.stats.unroutable += 1
            return
        if delay is None:
            self.stats.lost += 1
            return
        target = dst if not local else (src[0], dst[1])
        flight = _InFlight(src, target, data, tx_realtime_ns, tx_true_ns,
                           host.true_time + mpq(delay, NSEC))
        self._in_flight.append(flight)
        flight.entry = at_true_time(host, flight.arrival, lambda: self._arrive(flight))

    def _arrive(self, flight: _InFlight) -> None:
        self._in_flight.remove(flight)
        node = self.nodes[flight.dst[0]]
        sock = node.lookup(flight.dst, flight.socket_src)
        if sock is None:
            self.stats.no_listener += 1
            return
        rx = node.ns.clock_gettime_ns(CLOCK_REALTIME)
        dgram = Datagram(flight.data, flight.socket_src, flight.dst, rx, flight.tx_realtime_ns,
                         self.host.true_time * NSEC, flight.tx_true_ns)
        if not sock.enqueue(dgram):
            self.stats.overflow += 1
            return
        self.stats.delivered += 1
        if sock.wakeup is not None:
            sock.wakeup(sock)
        for listener in list(self.wakeup):
            listener(sock)


class Node:
    """One endpoint of the network: an IPv4 address and the namespace whose clocks it uses."""

    def __init__(self, network: Network, address: str, ns: Namespace, name: str) -> None:
        self.network = network
        self.address = address
        self.ns = ns
        self.name = name
        self.sockets: list[UdpSocket] = []  # bound sockets, in binding order
        self._next_port = EPHEMERAL_FIRST

    def socket(self, *, rcvbuf: int = RCVBUF_DEFAULT) -> UdpSocket:
        """A new, unbound UDP socket on this node (socket(AF_INET, SOCK_DGRAM, 0))."""
        return UdpSocket(self, rcvbuf)

    def _conflicts(self, sock: UdpSocket, addr: Address) -> bool:
        for other in self.sockets:
            if other is sock or other.local is None or other.local[1] != addr[1]:
                continue
            overlap = ANY in (other.local[0], addr[0]) or other.local[0] == addr[0]
            if overlap and not (other.reuseaddr and sock.reuseaddr):
                return True
        return False

    def ephemeral_port(self, sock: UdpSocket, address: str) -> int:
        """The next free port of the ephemeral range, in order (deterministic); EAGAIN if none."""
        span = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1
        for _ in range(span):
            port = self._next_port
            self._next_port = EPHEMERAL_FIRST + (port - EPHEMERAL_FIRST + 1) % span
            if not self._conflicts(sock, (address, port)):
                return port
        raise os_error(errno.EAGAIN, "no free ephemeral port")

    def lookup(self, dst: Address, src: Address) -> UdpSocket | None:
        """The socket a datagram src → dst is delivered to (Linux's best score wins).

        A socket scores if its port matches and its address is dst's or the wildcard; an
        exact address beats the wildcard, a socket connected to `src` beats unconnected
        ones, and a socket connected elsewhere never matches.  Ties: the first bound.
        """
        best, best_score = None, -1
        for sock in self.sockets:
            score = sock.match_score(dst, src)
            if score > best_score:
                best, best_score = sock, score
        return best


class UdpSocket:
    """A UDP socket on a node (see the module docstring for semantics and errors).

    `wakeup` (settable): called with the socket whenever a datagram is queued on it.
    `reuseaddr`: SO_REUSEADDR (set before bind, as with setsockopt).
    """

    def __init__(self, node: Node, rcvbuf: int = RCVBUF_DEFAULT) -> None:
        self.node = node
        self.local: Address | None = None
        self.peer: Address | None = None
        self.reuseaddr = False
        self.rcvbuf = rcvbuf
        self.closed = False
        self._address_bound = False  # bind() named an address (Linux's SOCK_BINDADDR_LOCK)
        self.wakeup: Wakeup | None = None
        self._queue: deque[Datagram] = deque()
        self._queued_bytes = 0

    def _open(self, call: str) -> None:
        if self.closed:
            raise os_error(errno.EBADF, f"{call} on a closed socket")

    def setsockopt_reuseaddr(self, on: bool) -> None:
        """setsockopt(SOL_SOCKET, SO_REUSEADDR, on)."""
        self._open("setsockopt")
        self.reuseaddr = bool(on)

    def bind(self, addr: Address) -> None:
        """bind(): the node's address or 0.0.0.0; port 0 picks an ephemeral port."""
        self._open("bind")
        host, port = check_address(addr)
        if self.local is not None:
            raise os_error(errno.EINVAL, "bind: socket already bound")
        if host not in (ANY, self.node.address):
            raise os_error(errno.EADDRNOTAVAIL, f"bind: {host} is not this node's address")
        if port == 0:
            port = self.node.ephemeral_port(self, host)
        elif self.node._conflicts(self, (host, port)):
            raise os_error(errno.EADDRINUSE, f"bind: {host}:{port} is in use")
        self._bind_as((host, port))
        self._address_bound = host != ANY

    def _bind_as(self, local: Address) -> None:
        self.local = local
        self.node.sockets.append(self)

    def _autobind(self) -> None:
        if self.local is None:
            self._bind_as((ANY, self.node.ephemeral_port(self, ANY)))

    def connect(self, addr: Address) -> None:
        """connect(): fix the peer (binds an ephemeral port first if unbound)."""
        self._open("connect")
        peer = check_address(addr)
        if peer[1] == 0:
            raise os_error(errno.EINVAL, "connect: port 0")
        self._autobind()
        assert self.local is not None
        self.peer = peer
        if self.local[0] == ANY:  # ip4_datagram_connect: the route's source address
            self.local = (self.node.address, self.local[1])

    def disconnect(self) -> None:
        """connect(AF_UNSPEC): forget the peer (and the address connect chose, if it chose)."""
        self._open("connect")
        self.peer = None
        if self.local is not None and not self._address_bound:
            self.local = (ANY, self.local[1])

    def sendto(self, data: bytes, addr: Address | None = None) -> int:
        """sendto(): queue `data` for `addr` (or the peer); returns the bytes sent."""
        return self.sendto_stamped(data, addr)[0]

    def sendto_stamped(self, data: bytes, addr: Address | None = None) -> tuple[int, int]:
        """sendto() that also returns the software transmit stamp: (bytes, REALTIME ns).

        The stamp is the sender's CLOCK_REALTIME at the call, what SO_TIMESTAMPING's
        SOF_TIMESTAMPING_TX_SOFTWARE loops back on the error queue (the shim builds that
        message from it).
        """
        self._open("sendto")
        if addr is None:
            if self.peer is None:
                raise os_error(errno.EDESTADDRREQ, "sendto: no address and not connected")
            dst = self.peer
        else:
            dst = check_address(addr)
            if dst[1] == 0:
                raise os_error(errno.EINVAL, "sendto: port 0")
        payload = bytes(data)
        if len(payload) > MAX_UDP_PAYLOAD:
            raise os_error(errno.EMSGSIZE, f"sendto: {len(payload)} bytes > {MAX_UDP_PAYLOAD}")
        self._autobind()
        assert self.local is not None
        src = (self.node.address if self.local[0] == ANY else self.local[0], self.local[1])
        tx = self.node.ns.clock_gettime_ns(CLOCK_REALTIME)
        self.node.network.transmit(src, dst, payload, tx)
        return len(payload), tx

    def send(self, data: bytes) -> int:
        """send(): to the peer; EDESTADDRREQ when not connected."""
        return self.sendto(data, None)

    def readable(self) -> bool:
        """Whether `recv` would return a datagram now (select/poll POLLIN)."""
        return bool(self._queue)

    def recv(self) -> Datagram:
        """The oldest queued datagram; EAGAIN when none (the caller blocks, not us)."""
        self._open("recvmsg")
        if not self._queue:
            raise os_error(errno.EAGAIN, "recvmsg: no datagram queued")
        dgram = self._queue.popleft()
        self._queued_bytes -= len(dgram.data)
        return dgram

    def getsockname(self) -> Address:
        """The bound address, or ('0.0.0.0', 0) when unbound (as Linux)."""
        self._open("getsockname")
        return self.local if self.local is not None else (ANY, 0)

    def getpeername(self) -> Address:
        """The connected peer; ENOTCONN when not connected."""
        self._open("getpeername")
        if self.peer is None:
            raise os_error(errno.ENOTCONN, "getpeername: not connected")
        return self.peer

    def close(self) -> None:
        """close(): unbind and drop the queue; later calls raise EBADF."""
        self._open("close")
        self.closed = True
        if self.local is not None:
            self.node.sockets.remove(self)
        self._queue.clear()
        self._queued_bytes = 0

    def match_score(self, dst: Address, src: Address) -> int:
        """How well this socket matches a datagram src → dst (−1: not at all)."""
        if self.local is None or self.local[1] != dst[1]:
            return -1
        score = 0
        if self.local[0] == dst[0]:
            score += 2
        elif self.local[0] != ANY:
            return -1
        if self.peer is not None:
            if self.peer != src:
                return -1
            score += 4
        return score

    def enqueue(self, dgram: Datagram) -> bool:
        """Queue an arriving datagram; False (dropped) when the receive buffer is full."""
        if self._queued_bytes + len(dgram.data) > self.rcvbuf:
            return False
        self._queue.append(dgram)
        self._queued_bytes += len(dgram.data)
        return True


__all__ = [
    "ANY",
    "Datagram",
    "Network",
    "NetworkStats",
    "Node",
    "PacketRecord",
    "UdpSocket",
    "check_address",
    "check_ipv4",
]
