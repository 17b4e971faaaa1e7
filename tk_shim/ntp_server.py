"""Model NTP endpoints on a `tk_shim.netsim.Network`: a stratum-1 server and a tiny client.

`NtpServer` answers client (mode 3) requests the way an RFC 5905 server does, from its own
namespace's clock:

* receive timestamp = the namespace's CLOCK_REALTIME when the request arrived (the
  datagram's software receive stamp), transmit timestamp = its REALTIME when the reply is
  sent (`processing_ns` of true time later; 0 by default, so both are the same reading),
  origin = the client's transmit timestamp copied bit for bit (chronyd puts random bits
  there and matches them);
* version = the client's, mode 4, poll = the client's, stratum/refid/precision/root delay
  and dispersion as configured (stratum 1, "GPS", 2⁻²⁰ s, 0, 0 by default);
* reference timestamp = REALTIME at the last multiple of `reference_interval_s` (a
  reference clock polled that often);
* leap indicator from the namespace's own kernel leap state (`leap_indicator`): a namespace
  told STA_INS for 2016-12-31 (by adjtimex, or `ns.follow("step")`) announces the leap to
  every client until the kernel has inserted it, as ntpd/chronyd servers do from their
  kernel-synchronised state.

Anything else (other modes, malformed packets) is counted in `ignored` and not answered, as
servers silently drop it.

`NtpClientModel` sends one request per `request()` and turns each valid reply into a
`ClientSample` with the four timestamps, the on-wire offset ((t2 − t1) + (t3 − t4)) / 2
(exact, `ntp.discipline.offset_of`) and the round-trip delay (t4 − t1) − (t3 − t2).  It is a
test instrument for the server and the network, not a discipline: it never adjusts a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gmpy2 import mpq

from ntp.discipline import offset_of
from ntp.timex import STA_DEL, STA_INS, STA_UNSYNC, TIME_WAIT, Timex
from tk_core.clockids import CLOCK_REALTIME
from tk_core.daemon import at_true_time

from .ntp_packet import (
    LEAP_ALARM,
    LEAP_DELETE,
    LEAP_INSERT,
    LEAP_NONE,
    MODE_CLIENT,
    MODE_SERVER,
    NtpPacket,
    NtpPacketError,
    ns_to_ntp_short,
    ntp_to_unix_ns,
    refid_code,
    unix_ns_to_ntp,
)

if TYPE_CHECKING:
    from tk_core.namespace import Namespace

    from .netsim import Address, Datagram, Network, Node, UdpSocket

NSEC = 1_000_000_000
NTP_PORT = 123


def leap_indicator(ns: Namespace, *, alarm_when_unsynced: bool = False) -> int:
    """The NTP leap indicator of `ns`'s kernel state (read with adjtimex, modes 0).

    STA_INS → 1 and STA_DEL → 2 while the leap is still to come or in progress (TIME_OK,
    TIME_INS/DEL, TIME_OOP); 0 once the kernel is in TIME_WAIT (the leap is done), or with
    neither bit.  With `alarm_when_unsynced`, STA_UNSYNC gives 3 (alarm) first.
    """
    tx = Timex()
    ns.adjtimex(tx)  # brings a lazy namespace's NTP state up to now
    state = ns.timer_domain.ntp.time_state
    if alarm_when_unsynced and tx.status & STA_UNSYNC:
        return LEAP_ALARM
    if state == TIME_WAIT:
        return LEAP_NONE
    if tx.status & STA_INS:
        return LEAP_INSERT
    if tx.status & STA_DEL:
        return LEAP_DELETE
    return LEAP_NONE


class NtpServer:
    """A model stratum-1 NTP server bound to `port` on `node` (see the module docstring)."""

    def __init__(
        self,
        node: Node,
        *,
        port: int = NTP_PORT,
        stratum: int = 1,
        refid: str | bytes = "GPS",
        precision: int = -20,
        root_delay_ns: int = 0,
        root_dispersion_ns: int = 0,
        reference_interval_s: int = 16,
        processing_ns: int = 0,
        alarm_when_unsynced: bool = False,
    ) -> None:
        if reference_interval_s <= 0 or processing_ns < 0:
            raise ValueError("NtpServer needs reference_interval_s > 0 and processing_ns >= 0")
        self.node = node
        self.ns = node.ns
        self.refid = refid if isinstance(refid, bytes) else refid_code(refid)
        # Validate every configured field once, by building a template packet.
        self._template = NtpPacket(
            mode=MODE_SERVER, stratum=stratum, precision=precision, refid=self.refid,
            root_delay=ns_to_ntp_short(root_delay_ns),
            root_dispersion=ns_to_ntp_short(root_dispersion_ns),
        )
        self.reference_interval_ns = reference_interval_s * NSEC
        self.processing_ns = processing_ns
        self.alarm_when_unsynced = alarm_when_unsynced
        self.answered = 0
        self.ignored = 0
        self.socket = node.socket()
        self.socket.bind((node.address, port))
        self.socket.wakeup = lambda _sock: self._drain()

    def close(self) -> None:
        self.socket.close()

    def _drain(self) -> None:
        while self.socket.readable():
            self._handle(self.socket.recv())

    def _handle(self, dgram: Datagram) -> None:
        try:
            request = NtpPacket.from_bytes(dgram.data)
        except NtpPacketError:
            self.ignored += 1
            return
        if request.mode != MODE_CLIENT:
            self.ignored += 1
            return
        received = unix_ns_to_ntp(dgram.rx_realtime_ns)
        if self.processing_ns:
            host = self.ns.host
            later = host.true_time + mpq(self.processing_ns, NSEC)
            at_true_time(host, later, lambda: self._reply(request, received, dgram.src))
        else:
            self._reply(request, received, dgram.src)

    def _reply(self, request: NtpPacket, received: int, client: Address) -> None:
        if self.socket.closed:
            return
        now = self.ns.clock_gettime_ns(CLOCK_REALTIME)
        reference = now - now % self.reference_interval_ns
        t = self._template
        reply = NtpPacket(
            leap=leap_indicator(self.ns, alarm_when_unsynced=self.alarm_when_unsynced),
            version=request.version, mode=MODE_SERVER, stratum=t.stratum, poll=request.poll,
            precision=t.precision, root_delay=t.root_delay, root_dispersion=t.root_dispersion,
            refid=t.refid, reference_ts=unix_ns_to_ntp(reference),
            origin_ts=request.transmit_ts, receive_ts=received,
            transmit_ts=unix_ns_to_ntp(now),
        )
        self.socket.sendto(reply.to_bytes(), client)
        self.answered += 1


def serve_ntp(network: Network, address: str, ns: Namespace, **options: Any) -> NtpServer:
    """`ns` joins `network` at `address` and serves NTP there (`NtpServer(node, **options)`).

    Its leap indicator follows `ns`'s own kernel (`leap_indicator`): arm the leap in `ns`
    (STA_INS by adjtimex, a scenario's leap table) and it is announced until inserted.
    """
    return NtpServer(network.add_node(address, ns), **options)


@dataclass(frozen=True)
class ClientSample:
    """One exchange as the client saw it: t1..t4 in Unix ns, offset (exact) and delay."""

    t1: int
    t2: int
    t3: int
    t4: int
    offset_ns: mpq
    delay_ns: int
    leap: int
    stratum: int
    reply: NtpPacket


class NtpClientModel:
    """A minimal NTP client on `node` talking to `server` (see the module docstring).

    Every reply whose origin timestamp matches an outstanding request becomes a sample in
    `samples` (and is passed to `on_sample` if given); others count in `bogus`.
    """

    def __init__(
        self,
        node: Node,
        server: Address,
        *,
        version: int = 4,
        poll: int = 6,
        on_sample: Callable[[ClientSample], None] | None = None,
    ) -> None:
        self.node = node
        self.ns = node.ns
        self.version = version
        self.poll = poll
        self.on_sample = on_sample
        self.samples: list[ClientSample] = []
        self.bogus = 0
        self._pending: dict[int, int] = {}  # raw transmit timestamp → t1 (ns)
        self.socket: UdpSocket = node.socket()
        self.socket.connect(server)
        self.socket.wakeup = lambda _sock: self._drain()

    def request(self) -> int:
        """Send one mode-3 request now; returns its t1 (the client's REALTIME, ns)."""
        t1 = self.ns.clock_gettime_ns(CLOCK_REALTIME)
        raw = unix_ns_to_ntp(t1)
        packet = NtpPacket(version=self.version, mode=MODE_CLIENT, poll=self.poll,
                           transmit_ts=raw)
        self._pending[raw] = t1
        self.socket.send(packet.to_bytes())
        return t1

    def _drain(self) -> None:
        while self.socket.readable():
            self._handle(self.socket.recv())

    def _handle(self, dgram: Datagram) -> None:
        try:
            reply = NtpPacket.from_bytes(dgram.data)
        except NtpPacketError:
            self.bogus += 1
            return
        t1 = self._pending.pop(reply.origin_ts, None)
        if reply.mode != MODE_SERVER or t1 is None:
            self.bogus += 1
            return
        t2, t3, t4 = ntp_to_unix_ns(reply.receive_ts), ntp_to_unix_ns(reply.transmit_ts), \
            dgram.rx_realtime_ns
        sample = ClientSample(t1, t2, t3, t4, offset_of(t1, t2, t3, t4),
                              (t4 - t1) - (t3 - t2), reply.leap, reply.stratum, reply)
        self.samples.append(sample)
        if self.on_sample is not None:
            self.on_sample(sample)
