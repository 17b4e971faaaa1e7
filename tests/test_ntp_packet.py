"""NTPv4 wire format: round trips, exact conversions, malformed packets refused clearly."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tk_shim.ntp_packet import (
    HEADER_LEN,
    NTP_UNIX_OFFSET_S,
    UNIX_NS_MAX,
    UNIX_NS_MIN,
    NtpPacket,
    NtpPacketError,
    ns_to_ntp_short,
    ntp_short_to_ns,
    ntp_to_unix_ns,
    refid_code,
    unix_ns_to_ntp,
)

NSEC = 10**9
u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)

packets = st.builds(
    NtpPacket,
    leap=st.integers(0, 3),
    version=st.integers(1, 4),
    mode=st.integers(1, 5),
    stratum=st.integers(0, 255),
    poll=st.integers(-128, 127),
    precision=st.integers(-128, 127),
    root_delay=u32,
    root_dispersion=u32,
    refid=st.binary(min_size=4, max_size=4),
    reference_ts=u64,
    origin_ts=u64,
    receive_ts=u64,
    transmit_ts=u64,
    extra=st.integers(0, 20).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n)),
)


@settings(max_examples=200)
@given(packets)
def test_packet_round_trip(packet: NtpPacket) -> None:
    wire = packet.to_bytes()
    assert len(wire) == HEADER_LEN + len(packet.extra)
    assert NtpPacket.from_bytes(wire) == packet


@settings(max_examples=200)
@given(st.binary(min_size=48, max_size=48))
def test_any_valid_header_bytes_round_trip(wire: bytes) -> None:
    """Whatever 48 bytes parse, they rebuild to the very same bytes (nothing is normalised)."""
    try:
        packet = NtpPacket.from_bytes(wire)
    except NtpPacketError:
        first = wire[0]
        assert not 1 <= (first >> 3) & 7 <= 4 or first & 7 in (0, 6, 7)
        return
    assert packet.to_bytes() == wire


def test_known_client_request_layout() -> None:
    """A chronyd-style request: LI 0, VN 4, mode 3 is 0x23; the transmit field is last."""
    wire = NtpPacket(version=4, mode=3, poll=6, transmit_ts=0x0123456789ABCDEF).to_bytes()
    assert wire[0] == 0x23 and wire[2] == 6
    assert wire[40:48] == bytes.fromhex("0123456789abcdef")
    assert wire[1] == 0 and wire[4:40] == bytes(36)


def test_signed_poll_and_precision() -> None:
    wire = NtpPacket(mode=4, poll=-3, precision=-20).to_bytes()
    assert wire[2] == 0xFD and wire[3] == 0xEC
    assert NtpPacket.from_bytes(wire).precision == -20


@settings(max_examples=300)
@given(st.integers(UNIX_NS_MIN, UNIX_NS_MAX))
def test_ns_to_ntp_to_ns_is_identity(unix_ns: int) -> None:
    raw = unix_ns_to_ntp(unix_ns)
    assert 0 <= raw < 2**64
    assert ntp_to_unix_ns(raw) == unix_ns
    # nearest: within half a unit of the exact value
    exact_twice = 2 * (unix_ns + NTP_UNIX_OFFSET_S * NSEC) * 2**32
    assert abs(2 * raw * NSEC - exact_twice) <= NSEC


@settings(max_examples=300)
@given(u64)
def test_ntp_to_ns_is_nearest(raw: int) -> None:
    ns = ntp_to_unix_ns(raw) + NTP_UNIX_OFFSET_S * NSEC
    assert abs(2 * ns * 2**32 - 2 * raw * NSEC) <= 2**32


def test_epoch_constants() -> None:
    assert unix_ns_to_ntp(0) == NTP_UNIX_OFFSET_S << 32
    assert unix_ns_to_ntp(500_000_000) == (NTP_UNIX_OFFSET_S << 32) + 2**31
    # 2017-01-01T00:00:00Z, the second after the 2016 leap
    assert unix_ns_to_ntp(1_483_228_800 * NSEC) >> 32 == 3_692_217_600


@pytest.mark.parametrize("unix_ns", [UNIX_NS_MIN - 1, UNIX_NS_MAX + 1, 2**32 * NSEC])
def test_outside_era_zero_refused(unix_ns: int) -> None:
    with pytest.raises(NtpPacketError, match="era 0"):
        unix_ns_to_ntp(unix_ns)


@settings(max_examples=200)
@given(st.integers(0, 65535 * NSEC))
def test_short_round_trip_within_half_unit(ns: int) -> None:
    raw = ns_to_ntp_short(ns)
    back = ntp_short_to_ns(raw)
    assert abs(back - ns) <= NSEC // 2**17 + 1
    assert ns_to_ntp_short(back) == raw


def test_short_refuses_negative_and_huge() -> None:
    with pytest.raises(NtpPacketError, match="NTP short"):
        ns_to_ntp_short(-1)
    with pytest.raises(NtpPacketError, match="NTP short"):
        ns_to_ntp_short(65536 * NSEC)


def _header(first: int) -> bytes:
    return struct.pack("!BBbb", first, 1, 6, -20) + bytes(44)


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"", "at least 48 bytes"),
        (bytes(47), "at least 48 bytes"),
        (_header(0x03), "version"),  # VN 0
        (_header(0x3B), "version"),  # VN 7
        (_header(0x20), "mode"),  # mode 0 reserved
        (_header(0x26), "mode"),  # mode 6 control (ntpq)
        (_header(0x27), "mode"),  # mode 7 private (ntpdc)
        (_header(0x23) + b"\0\0", "multiple of 4"),
    ],
)
def test_malformed_packets_refused(wire: bytes, message: str) -> None:
    with pytest.raises(NtpPacketError, match=message):
        NtpPacket.from_bytes(wire)


@pytest.mark.parametrize(
    ("field", "value"),
    [("leap", 4), ("stratum", 256), ("poll", 128), ("precision", -129), ("root_delay", 2**32),
     ("origin_ts", -1), ("transmit_ts", 2**64), ("refid", b"GPS"), ("version", 0)],
)
def test_building_out_of_range_fields_refused(field: str, value: object) -> None:
    with pytest.raises(NtpPacketError, match=field.split("_")[0]):
        NtpPacket(**{field: value})  # type: ignore[arg-type]


def test_refid_code() -> None:
    assert refid_code("GPS") == b"GPS\0"
    assert refid_code("PPS1") == b"PPS1"
    for bad in ("", "TOOLONG", "é"):
        with pytest.raises(NtpPacketError, match="refid"):
            refid_code(bad)
