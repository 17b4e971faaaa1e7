"""Model NTP client ↔ model NTP server through netsim: offsets, delays, leap announcements."""

from __future__ import annotations

import pytest
from gmpy2 import mpq
from hypothesis import given, settings
from hypothesis import strategies as st

from ntp.discipline import PathModel
from ntp.timex import ADJ_STATUS, STA_INS, Timex
from tk_core import CLOCK_REALTIME, Host
from tk_shim.netsim import Network, PacketRecord
from tk_shim.ntp_packet import MODE_SERVER, NtpPacket, refid_code
from tk_shim.ntp_server import NtpClientModel, NtpServer, leap_indicator

NSEC = 10**9
START = 1_483_228_790 * NSEC
CLIENT, SERVER = "192.168.1.2", "192.168.1.1"


def setup(path: PathModel, seed: int = 0, server_offset_ns: int = 0, **server_kw: object) -> tuple[
    Host, Network, NtpServer, NtpClientModel
]:
    host = Host(realtime_ns=START, min_delta_ns=1)  # arrivals only a cycle's rounding late
    net = Network(host, seed=seed, record=True)
    net.set_path(CLIENT, SERVER, path)
    srv_ns = host.create_namespace("server")
    if server_offset_ns:
        srv_ns.clock_settime_ns(CLOCK_REALTIME, START + server_offset_ns)
    server = NtpServer(net.add_node(SERVER, srv_ns), **server_kw)  # type: ignore[arg-type]
    assert net.path(SERVER, CLIENT) == (path, True)
    client = NtpClientModel(net.add_node(CLIENT, host.create_namespace("client")), (SERVER, 123))
    return host, net, server, client


def poll(host: Host, client: NtpClientModel, count: int, interval_ns: int = 2 * NSEC) -> None:
    for _ in range(count):
        client.request()
        host.run_for(interval_ns)


@settings(max_examples=15, deadline=None)
@given(
    st.integers(0, 50_000_000),  # one-way base delay
    st.integers(0, 5_000_000),  # jitter
    st.integers(-1_000_000, 20_000_000),  # asymmetry
    st.integers(-10**12, 10**12),  # server clock minus client clock
    st.integers(0, 1000),
)
def test_offset_within_asymmetry_bound(delay: int, jitter: int, asym: int, offset: int,
                                       seed: int) -> None:
    asym = max(asym, -delay)
    host, net, server, client = setup(PathModel(delay, jitter, asym), seed, offset)
    poll(host, client, 3, interval_ns=200_000_000)
    assert len(client.samples) == 3 and server.answered == 3
    records = [r for r in net.records if r.delay_ns is not None]
    for n, sample in enumerate(client.samples):
        out, back = records[2 * n].delay_ns, records[2 * n + 1].delay_ns
        assert out is not None and back is not None
        # |measured − true| ≤ |out − back| / 2, plus rounding: the interrupts' cycle
        # rounding (< 1 ns per leg), each timestamp's trip through the 2^-32 s NTP fraction
        # (< 1 ns each), and the client clock's own rate error from its mult rounding
        # (well under 0.1 ppm of the round trip)
        slack = mpq(out + back, 10**7) + 4
        assert abs(sample.offset_ns - offset) <= mpq(abs(out - back), 2) + slack
        assert abs(sample.delay_ns - (out + back)) <= slack
        assert sample.t2 == sample.t3  # no processing time by default


def test_delays_and_timestamps_follow_the_path_model() -> None:
    path = PathModel(delay_ns=3_000_000, jitter_ns=0, asymmetry_ns=1_000_000)
    host, _, _, client = setup(path, server_offset_ns=250_000_000)
    poll(host, client, 1)
    (s,) = client.samples
    assert abs(s.delay_ns - 7_000_000) <= 2
    # a 1 ms asymmetry biases the on-wire offset by −0.5 ms, exactly as RFC 5905 predicts
    assert abs(s.offset_ns - (250_000_000 - 500_000)) <= 1
    assert s.t1 == START and abs(s.t2 - (START + 250_000_000 + 3_000_000)) <= 1
    assert s.stratum == 1 and s.reply.refid == b"GPS\0" and s.reply.precision == -20


def test_processing_time_separates_receive_and_transmit() -> None:
    host, _, _, client = setup(PathModel(delay_ns=1000, jitter_ns=0), processing_ns=40_000)
    poll(host, client, 1)
    (s,) = client.samples
    assert abs((s.t3 - s.t2) - 40_000) <= 1 and abs(s.delay_ns - 2000) <= 2


def test_reply_fields_echo_the_request() -> None:
    host, net, _, _ = setup(PathModel(delay_ns=1000, jitter_ns=0), refid="PPS",
                                      precision=-23, root_dispersion_ns=1_000_000)
    sock = net.node(CLIENT).socket()
    sock.connect((SERVER, 123))
    request = NtpPacket(version=3, mode=3, poll=10, transmit_ts=0xDEADBEEF_01234567)
    sock.send(request.to_bytes())
    host.run_for(NSEC)
    reply = NtpPacket.from_bytes(sock.recv().data)
    assert reply.mode == MODE_SERVER and reply.version == 3 and reply.poll == 10
    assert reply.origin_ts == 0xDEADBEEF_01234567  # bit for bit, not re-converted
    assert reply.refid == refid_code("PPS") and reply.precision == -23
    assert reply.root_dispersion == 65536 // 1000 + 1  # 1 ms in 16.16, rounded to nearest
    assert reply.reference_ts >> 32 == (START // NSEC // 16 * 16) + 2_208_988_800


def test_non_client_and_malformed_packets_are_ignored() -> None:
    host, net, server, _ = setup(PathModel(delay_ns=1000, jitter_ns=0))
    sock = net.node(CLIENT).socket()
    sock.connect((SERVER, 123))
    sock.send(b"garbage")
    sock.send(NtpPacket(mode=4).to_bytes())
    sock.send(NtpPacket(mode=1).to_bytes())
    host.run_for(NSEC)
    assert server.ignored == 3 and server.answered == 0 and not sock.readable()


def test_client_counts_replies_it_did_not_ask_for() -> None:
    host, net, _, client = setup(PathModel(delay_ns=1000, jitter_ns=0))
    rogue = net.node(SERVER).socket()
    rogue.bind((SERVER, 9999))
    # from the server's port, an origin nobody sent
    server_sock = net.node(SERVER).sockets[0]
    server_sock.sendto(NtpPacket(mode=4, origin_ts=1).to_bytes(), client.socket.getsockname())
    host.run_for(NSEC)
    assert client.bogus == 1 and client.samples == []


def test_server_announces_the_2016_leap_until_it_is_inserted() -> None:
    host = Host(realtime_ns=1_483_228_800 * NSEC - 30 * NSEC)
    net = Network(host, default_path=PathModel(delay_ns=1000, jitter_ns=0))
    srv_ns = host.create_namespace("server")
    srv_ns.adjtimex(Timex(modes=ADJ_STATUS, status=STA_INS))
    NtpServer(net.add_node(SERVER, srv_ns))
    client = NtpClientModel(net.add_node(CLIENT, host.create_namespace("client")), (SERVER, 123))
    assert leap_indicator(srv_ns) == 1
    poll(host, client, 5, interval_ns=10 * NSEC)  # 30 s before midnight → 20 s after
    # the fourth exchange happens inside 23:59:60 (TIME_OOP): still announced
    assert [s.leap for s in client.samples] == [1, 1, 1, 1, 0]
    # the server's kernel really inserted the second: 20 s after midnight, minus one (to
    # within the 3 GHz counter's mult rounding, a few µs over the run)
    now = srv_ns.clock_gettime_ns(CLOCK_REALTIME)
    assert abs(now - (1_483_228_800 + 19) * NSEC) < 10_000


def test_unsynchronised_server_can_raise_the_alarm() -> None:
    host, _, _, client = setup(PathModel(delay_ns=1000, jitter_ns=0), alarm_when_unsynced=True)
    poll(host, client, 1)
    assert client.samples[0].leap == 3  # a fresh namespace is STA_UNSYNC


def test_server_configuration_validated() -> None:
    with pytest.raises(ValueError, match="stratum"):
        setup(PathModel(), stratum=300)
    with pytest.raises(ValueError, match="refid"):
        setup(PathModel(), refid="TOOLONG")


def _run_bytes(seed: int) -> list[PacketRecord]:
    host, net, _, client = setup(PathModel(delay_ns=200_000, jitter_ns=150_000, asymmetry_ns=30_000,
                                           loss=mpq(1, 8)), seed, server_offset_ns=12_345)
    poll(host, client, 12, interval_ns=NSEC)
    return net.records


def test_same_seed_same_bytes() -> None:
    first, again, other = _run_bytes(7), _run_bytes(7), _run_bytes(8)
    assert first == again
    assert [r.data for r in first] == [r.data for r in again]
    assert [r.delay_ns for r in first] != [r.delay_ns for r in other]
