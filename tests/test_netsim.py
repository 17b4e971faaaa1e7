"""The virtual UDP network: Linux socket semantics, path delays on the host queue, determinism."""

from __future__ import annotations

import errno

import pytest
from gmpy2 import mpq
from hypothesis import given, settings
from hypothesis import strategies as st

from ntp.discipline import PathModel
from tk_core import CLOCK_REALTIME, Host
from tk_shim.netsim import (
    EPHEMERAL_FIRST,
    MAX_UDP_PAYLOAD,
    Datagram,
    Network,
    UdpSocket,
)

NSEC = 10**9
START = 1_483_228_790 * NSEC
A, B, C = "10.0.0.1", "10.0.0.2", "10.0.0.3"


def make_net(
    path: PathModel | None = None, seed: int = 0, record: bool = False, min_delta_ns: int = 1000
) -> tuple[Host, Network]:
    host = Host(realtime_ns=START, min_delta_ns=min_delta_ns)
    net = Network(host, seed=seed, default_path=path or PathModel(), record=record)
    for addr in (A, B, C):
        net.add_node(addr, host.create_namespace(addr))
    return host, net


def errno_of(call: object, *args: object) -> int:
    with pytest.raises(OSError) as info:
        call(*args)  # type: ignore[operator]
    assert info.value.errno is not None
    return info.value.errno


def deliver_all(host: Host, net: Network) -> None:
    assert host.run_while(lambda: net.in_flight() > 0, host.true_ns + 10 * NSEC)


def test_datagram_arrives_after_path_delay_with_receiver_timestamp() -> None:
    host, net = make_net(PathModel(delay_ns=2_000_000, jitter_ns=0), record=True)
    b_ns = net.node(B).ns
    b_ns.clock_settime_ns(CLOCK_REALTIME, START + 5 * NSEC)  # B's clock is 5 s ahead
    server = net.node(B).socket()
    server.bind(("0.0.0.0", 123))
    client = net.node(A).socket()
    n, tx = client.sendto_stamped(b"ping", (B, 123))
    assert n == 4 and tx == START
    assert not server.readable()  # never inside the sendto call
    host.run_until(1_999_999)
    assert not server.readable()
    host.run_until(2_000_001)
    got = server.recv()
    assert got.data == b"ping" and got.src == (A, EPHEMERAL_FIRST) and got.dst == (B, 123)
    assert got.tx_realtime_ns == START
    assert got.rx_true_ns - got.tx_true_ns >= 2_000_000
    # B's REALTIME at arrival: its own clock, 5 s ahead, 2 ms later (±1 ns of cycle rounding)
    assert abs(got.rx_realtime_ns - (START + 5 * NSEC + 2_000_000)) <= 1
    assert net.records[0].delay_ns == 2_000_000


def test_reply_to_sender_reaches_it_and_wakeups_fire() -> None:
    host, net = make_net(PathModel(delay_ns=1000, jitter_ns=0))
    woken: list[UdpSocket] = []
    net.wakeup.append(woken.append)
    srv = net.node(B).socket()
    srv.bind((B, 7))
    own: list[UdpSocket] = []
    srv.wakeup = own.append
    cli = net.node(A).socket()
    cli.connect((B, 7))
    assert cli.getsockname() == (A, EPHEMERAL_FIRST)  # connect picks the route's source
    cli.send(b"x")
    assert host.run_while(lambda: not woken, 10**6)
    assert woken == [srv] and own == [srv]
    got = srv.recv()
    srv.sendto(b"y", got.src)
    deliver_all(host, net)
    assert cli.recv().data == b"y"
    assert woken == [srv, cli]


def test_connected_socket_ignores_other_peers_and_exact_bind_wins() -> None:
    host, net = make_net(PathModel(delay_ns=10, jitter_ns=0))
    wild = net.node(B).socket()
    wild.setsockopt_reuseaddr(True)
    wild.bind(("0.0.0.0", 123))
    exact = net.node(B).socket()
    exact.setsockopt_reuseaddr(True)
    exact.bind((B, 123))  # SO_REUSEADDR on both: allowed (ntpd's wildcard + interface binds)
    cli = net.node(A).socket()
    cli.connect((B, 123))
    cli.send(b"to exact")
    other = net.node(C).socket()
    other.sendto(b"from C", (A, cli.getsockname()[1]))
    deliver_all(host, net)
    assert exact.recv().data == b"to exact" and not wild.readable()
    assert not cli.readable()  # connected to B: C's datagram is not for it
    assert net.stats.no_listener == 1


def test_bind_errors() -> None:
    _, net = make_net()
    a = net.node(A)
    s = a.socket()
    s.bind(("0.0.0.0", 123))
    assert errno_of(s.bind, (A, 124)) == errno.EINVAL  # already bound
    t = a.socket()
    assert errno_of(t.bind, (A, 123)) == errno.EADDRINUSE  # overlaps the wildcard
    assert errno_of(t.bind, (B, 500)) == errno.EADDRNOTAVAIL
    assert errno_of(t.bind, ("300.1.1.1", 5)) == errno.EINVAL
    assert errno_of(t.bind, (A, 70000)) == errno.EINVAL
    assert t.getsockname() == ("0.0.0.0", 0)  # failed binds changed nothing
    t.bind((A, 0))
    assert t.getsockname() == (A, EPHEMERAL_FIRST)
    u = a.socket()
    u.bind(("0.0.0.0", 0))
    assert u.getsockname()[1] == EPHEMERAL_FIRST + 1  # deterministic, in order
    net.node(B).socket().bind((B, 123))  # another node's port 123 is its own


def test_send_recv_and_closed_errors() -> None:
    _, net = make_net()
    s = net.node(A).socket()
    assert errno_of(s.send, b"x") == errno.EDESTADDRREQ
    assert errno_of(s.getpeername) == errno.ENOTCONN
    assert errno_of(s.recv) == errno.EAGAIN
    assert errno_of(s.sendto, b"x" * (MAX_UDP_PAYLOAD + 1), (B, 1)) == errno.EMSGSIZE
    assert errno_of(s.sendto, b"x", (B, 0)) == errno.EINVAL
    assert s.getsockname() == ("0.0.0.0", 0)  # nothing sent, nothing bound
    assert net.stats.sent == 0
    s.close()
    for call, args in ((s.recv, ()), (s.sendto, (b"x", (B, 1))), (s.bind, ((A, 1),)),
                       (s.getsockname, ()), (s.close, ()), (s.connect, ((B, 1),))):
        assert errno_of(call, *args) == errno.EBADF


def test_disconnect_restores_wildcard_address() -> None:
    _, net = make_net()
    s = net.node(A).socket()
    s.connect((B, 9))
    assert s.getpeername() == (B, 9)
    s.disconnect()
    assert s.getsockname() == ("0.0.0.0", EPHEMERAL_FIRST)
    assert errno_of(s.getpeername) == errno.ENOTCONN


def test_unroutable_lost_and_closed_receiver_are_dropped() -> None:
    host, net = make_net(PathModel(delay_ns=100, jitter_ns=0, loss=mpq(1, 2)), record=True)
    s = net.node(A).socket()
    s.sendto(b"nowhere", ("192.0.2.1", 123))
    r = net.node(B).socket()
    r.bind((B, 5))
    for _ in range(40):
        s.sendto(b"maybe", (B, 5))
    deliver_all(host, net)
    assert net.stats.unroutable == 1
    assert net.stats.lost + net.stats.delivered == 40 and 5 < net.stats.lost < 35
    assert [rec.fate for rec in net.records].count("lost") == net.stats.lost
    s.sendto(b"late", (B, 5))
    r.close()  # closed while the datagram is in flight
    deliver_all(host, net)
    assert net.stats.no_listener == 1


def test_receive_buffer_overflow_drops() -> None:
    host, net = make_net(PathModel(delay_ns=100, jitter_ns=0))
    r = net.node(B).socket(rcvbuf=250)
    r.bind((B, 5))
    s = net.node(A).socket()
    for _ in range(3):
        s.sendto(b"x" * 100, (B, 5))
    deliver_all(host, net)
    assert net.stats.overflow == 1 and net.stats.delivered == 2
    r.recv()
    s.sendto(b"x" * 100, (B, 5))
    deliver_all(host, net)
    assert net.stats.delivered == 3


def test_asymmetry_applies_to_return_direction() -> None:
    host, net = make_net()
    net.set_path(A, B, PathModel(delay_ns=1000, jitter_ns=0, asymmetry_ns=500))
    sa, sb = net.node(A).socket(), net.node(B).socket()
    sa.bind((A, 1))
    sb.bind((B, 2))
    sa.sendto(b"out", (B, 2))
    sb.sendto(b"back", (A, 1))
    deliver_all(host, net)
    out, back = sb.recv(), sa.recv()
    assert out.rx_true_ns - out.tx_true_ns < 1001 <= back.rx_true_ns - back.tx_true_ns - 500
    assert net.path(B, A)[1] and not net.path(A, B)[1]


def test_loopback_goes_through_the_queue() -> None:
    host, net = make_net()
    s = net.node(A).socket()
    s.bind((A, 9))
    s.sendto(b"self", ("127.0.0.1", 9))
    assert not s.readable()
    deliver_all(host, net)
    assert s.recv().data == b"self"


def test_node_errors() -> None:
    host, net = make_net()
    with pytest.raises(OSError) as info:
        net.add_node(A, host.create_namespace("dup"))
    assert info.value.errno == errno.EADDRINUSE
    with pytest.raises(OSError):
        net.add_node("127.0.0.1", host.root)
    with pytest.raises(ValueError, match="another host"):
        net.add_node("10.9.9.9", Host().root)


def _traffic(seed: int, sends: list[tuple[int, int]]) -> list[tuple[Datagram, ...]]:
    host, net = make_net(PathModel(delay_ns=50_000, jitter_ns=40_000, loss=mpq(1, 10)), seed=seed)
    net.set_path(A, B, PathModel(delay_ns=9_000, jitter_ns=30_000, asymmetry_ns=7_000))
    addrs = (A, B, C)
    socks = []
    for i, addr in enumerate(addrs):
        s = net.node(addr).socket()
        s.bind((addr, 100 + i))
        socks.append(s)
    for n, (src, dst) in enumerate(sends):
        socks[src].sendto(n.to_bytes(2, "big"), (addrs[dst], 100 + dst))
        host.run_for(3_000)
    deliver_all(host, net)
    got = []
    for s in socks:
        queue = []
        while s.readable():
            queue.append(s.recv())
        got.append(tuple(queue))
    return got


pairs = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), max_size=30)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32), pairs)
def test_same_seed_same_arrivals(seed: int, sends: list[tuple[int, int]]) -> None:
    assert _traffic(seed, sends) == _traffic(seed, sends)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32), pairs)
def test_each_pair_has_its_own_stream(seed: int, others: list[tuple[int, int]]) -> None:
    """Traffic between other pairs does not change any A → B delay draw."""

    def ab_delays(plan: list[tuple[int, int]]) -> list[int | None]:
        _, net = make_net(PathModel(delay_ns=5000, jitter_ns=4000, loss=mpq(1, 5)),
                             seed=seed, record=True)
        s = net.node(A).socket()
        for src, dst in plan:
            sock = s if src == 0 else net.node((A, B, C)[src]).socket()
            sock.sendto(b"x", ((A, B, C)[dst], 9))
        return [r.delay_ns for r in net.records if (r.src[0], r.dst[0]) == (A, B)]

    others = [o for o in others if o != (0, 1)]
    mixed = [p for o in others for p in (o, (0, 1))]
    only_ab = [(0, 1)] * len(others)
    assert ab_delays(only_ab) == ab_delays(mixed)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 10**5), st.integers(-1000, 10**5), st.integers(0, 99))
def test_delays_stay_inside_the_path_model(delay: int, jitter: int, asym: int, seed: int) -> None:
    if delay + asym < 0:
        asym = -delay
    # min_delta 1 ns: the arrival interrupt is then only the counter cycle's rounding away
    path = PathModel(delay_ns=delay, jitter_ns=jitter, asymmetry_ns=asym)
    host, net = make_net(seed=seed, min_delta_ns=1)
    net.set_path(A, B, path)
    sa, sb = net.node(A).socket(), net.node(B).socket()
    sa.bind((A, 1))
    sb.bind((B, 1))
    sa.sendto(b"o", (B, 1))
    sb.sendto(b"b", (A, 1))
    deliver_all(host, net)
    out, back = sb.recv(), sa.recv()
    one_cycle = mpq(1, 3) + 1  # a 3 GHz counter's cycle, and the 1 ns min_delta
    assert delay <= out.rx_true_ns - out.tx_true_ns < delay + jitter + one_cycle
    assert delay + asym <= back.rx_true_ns - back.tx_true_ns < delay + asym + jitter + one_cycle


def test_default_path_must_be_symmetric() -> None:
    with pytest.raises(ValueError, match="set_path"):
        Network(Host(), default_path=PathModel(asymmetry_ns=1))
