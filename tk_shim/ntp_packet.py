"""NTPv4 wire format (RFC 5905 §7.3): the 48-byte header, exact timestamp conversions.

Layout (network byte order)::

    0  LI(2) VN(3) Mode(3) | Stratum | Poll (s8) | Precision (s8)
    4  Root Delay        (NTP short: u16 seconds . u16 fraction)
    8  Root Dispersion   (NTP short)
    12 Reference ID      (4 bytes)
    16 Reference Timestamp   (NTP timestamp: u32 seconds . u32 fraction)
    24 Origin Timestamp
    32 Receive Timestamp
    40 Transmit Timestamp
    48 extension fields / MAC (RFC 7822): kept verbatim in `NtpPacket.extra`

Timestamps are kept *raw* (the 64-bit integer on the wire), because a server must echo the
client's transmit timestamp bit for bit as its origin (chronyd sends random bits there).
Conversions to and from the engine's integer nanoseconds since the Unix epoch are exact
integer arithmetic, era 0 only (1900-01-01 to 2036-02-07T06:28:16Z):

* `unix_ns_to_ntp` rounds to the nearest 2⁻³² s (ties up); `ntp_to_unix_ns` rounds to the
  nearest ns (ties up).  One ns is 4.29 NTP units, so ns → NTP → ns is the identity.
* NTP short (16.16 s, root delay/dispersion): `ns_to_ntp_short` rounds to nearest (ties
  up), `ntp_short_to_ns` to the nearest ns.

Malformed input raises `NtpPacketError` (a ValueError) naming the field and what was
expected: shorter than 48 bytes, version not 1–4, mode 0 (reserved) or 6/7 (control and
private messages use other layouts), trailing bytes not a multiple of 4 (RFC 7822), fields
out of range when building.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

NSEC = 1_000_000_000
NTP_UNIX_OFFSET_S = 2_208_988_800  # 1900-01-01 to 1970-01-01 (RFC 5905 §6, 70 years + 17 leap days)
ERA_SECONDS = 1 << 32
HEADER_LEN = 48

LEAP_NONE, LEAP_INSERT, LEAP_DELETE, LEAP_ALARM = 0, 1, 2, 3
MODE_SYMMETRIC_ACTIVE, MODE_SYMMETRIC_PASSIVE = 1, 2
MODE_CLIENT, MODE_SERVER, MODE_BROADCAST = 3, 4, 5
TIME_MODES = frozenset({1, 2, 3, 4, 5})

_HEADER = struct.Struct("!BBbbII4sQQQQ")

#: Earliest and latest Unix ns an era-0 timestamp can hold.
UNIX_NS_MIN = -NTP_UNIX_OFFSET_S * NSEC
UNIX_NS_MAX = (ERA_SECONDS - NTP_UNIX_OFFSET_S) * NSEC - 1


class NtpPacketError(ValueError):
    """A packet or field that is not valid NTPv4 (the message names field and expectation)."""


def _round_div(num: int, den: int) -> int:
    """num / den to the nearest integer, ties up (den > 0); exact for any int num."""
    return (2 * num + den) // (2 * den)


def unix_ns_to_ntp(unix_ns: int) -> int:
    """Unix-epoch ns → raw era-0 NTP timestamp (nearest 2⁻³² s, ties up)."""
    if not UNIX_NS_MIN <= unix_ns <= UNIX_NS_MAX:
        raise NtpPacketError(
            f"time {unix_ns} ns is outside NTP era 0 ({UNIX_NS_MIN}..{UNIX_NS_MAX} ns)"
        )
    return _round_div((unix_ns + NTP_UNIX_OFFSET_S * NSEC) << 32, NSEC)


def ntp_to_unix_ns(raw: int) -> int:
    """Raw era-0 NTP timestamp → Unix-epoch ns (nearest ns, ties up)."""
    _check_u(raw, 64, "NTP timestamp")
    return _round_div(raw * NSEC, 1 << 32) - NTP_UNIX_OFFSET_S * NSEC


def ns_to_ntp_short(ns: int) -> int:
    """A non-negative duration in ns → raw NTP short (16.16 s), nearest unit, ties up."""
    raw = _round_div(ns << 16, NSEC)
    if ns < 0 or raw > 0xFFFF_FFFF:
        raise NtpPacketError(f"duration {ns} ns does not fit an NTP short (0..65536 s)")
    return raw


def ntp_short_to_ns(raw: int) -> int:
    """Raw NTP short (16.16 s) → ns (nearest, ties up)."""
    _check_u(raw, 32, "NTP short")
    return _round_div(raw * NSEC, 1 << 16)


def _check_u(value: int, bits: int, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << bits:
        raise NtpPacketError(f"{what} must be an unsigned {bits}-bit int, got {value!r}")


def _check_range(value: int, lo: int, hi: int, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise NtpPacketError(f"{what} must be an int in {lo}..{hi}, got {value!r}")


@dataclass(frozen=True)
class NtpPacket:
    """One NTP packet: header fields as on the wire (timestamps and shorts raw).

    `poll` and `precision` are signed log2 seconds; `refid` 4 bytes (an ASCII code such as
    b"GPS\\0" at stratum 1, an IPv4 address above); `extra` the bytes after the header.
    Construction validates every field (NtpPacketError).
    """

    leap: int = LEAP_NONE
    version: int = 4
    mode: int = MODE_CLIENT
    stratum: int = 0
    poll: int = 0
    precision: int = 0
    root_delay: int = 0
    root_dispersion: int = 0
    refid: bytes = b"\0\0\0\0"
    reference_ts: int = 0
    origin_ts: int = 0
    receive_ts: int = 0
    transmit_ts: int = 0
    extra: bytes = b""

    def __post_init__(self) -> None:
        _check_range(self.leap, 0, 3, "leap indicator")
        _check_range(self.version, 1, 4, "version")
        if self.mode not in TIME_MODES:
            raise NtpPacketError(
                f"mode must be 1..5 (0 is reserved, 6/7 are control/private), got {self.mode!r}"
            )
        _check_range(self.stratum, 0, 255, "stratum")
        _check_range(self.poll, -128, 127, "poll")
        _check_range(self.precision, -128, 127, "precision")
        _check_u(self.root_delay, 32, "root delay")
        _check_u(self.root_dispersion, 32, "root dispersion")
        if not isinstance(self.refid, bytes) or len(self.refid) != 4:
            raise NtpPacketError(f"refid must be 4 bytes, got {self.refid!r}")
        for name in ("reference_ts", "origin_ts", "receive_ts", "transmit_ts"):
            _check_u(getattr(self, name), 64, name)
        if not isinstance(self.extra, bytes) or len(self.extra) % 4:
            raise NtpPacketError(
                f"bytes after the header must be a multiple of 4 (RFC 7822), got {len(self.extra)}"
            )

    def to_bytes(self) -> bytes:
        """The packet on the wire."""
        first = (self.leap << 6) | (self.version << 3) | self.mode
        return _HEADER.pack(
            first, self.stratum, self.poll, self.precision, self.root_delay,
            self.root_dispersion, self.refid, self.reference_ts, self.origin_ts,
            self.receive_ts, self.transmit_ts,
        ) + self.extra

    @classmethod
    def from_bytes(cls, data: bytes) -> NtpPacket:
        """Parse a packet; NtpPacketError if it is not a valid NTPv4 time packet."""
        if len(data) < HEADER_LEN:
            raise NtpPacketError(f"NTP packet needs at least {HEADER_LEN} bytes, got {len(data)}")
        (first, stratum, poll, precision, delay, disp, refid,
         ref, org, rec, xmt) = _HEADER.unpack_from(data)
        return cls(
            leap=first >> 6, version=(first >> 3) & 7, mode=first & 7, stratum=stratum,
            poll=poll, precision=precision, root_delay=delay, root_dispersion=disp,
            refid=refid, reference_ts=ref, origin_ts=org, receive_ts=rec, transmit_ts=xmt,
            extra=bytes(data[HEADER_LEN:]),
        )


def refid_code(text: str) -> bytes:
    """A stratum-1 reference ID from up to 4 ASCII characters (zero-padded): "GPS" → b"GPS\\0"."""
    raw = text.encode("ascii", errors="strict") if text.isascii() else b""
    if not raw or len(raw) > 4:
        raise NtpPacketError(f"refid must be 1–4 ASCII characters, got {text!r}")
    return raw.ljust(4, b"\0")
