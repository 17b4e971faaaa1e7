"""`/proc/PID/timens_offsets`: the text interface of Linux-style (offsets) namespaces.

Parsing, validation order and formatting follow fs/proc/base.c `timens_offsets_write`/`show`
and kernel/time/namespace.c `proc_timens_set_offset` (fs/proc/base.c, proc_timens_set_offset):
symbolic or
numeric clock ids, at most two entries (the rest is not consumed), nsec below 1e9, every entry
checked before any is applied, EPERM before the range checks, ERANGE limits, EACCES once a
task has entered the namespace.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass

from .clockids import CLOCK_BOOTTIME, CLOCK_MONOTONIC

NSEC_PER_SEC = 1_000_000_000
PAGE_SIZE = 4096
KTIME_SEC_MAX = 9_223_372_036
TIMENS_SEC_LIMIT = KTIME_SEC_MAX // 2  # 4611686018: current clock + offset must stay below
ULONG_MAX = (1 << 64) - 1
CLOCK_BY_NAME = {"monotonic": CLOCK_MONOTONIC, "boottime": CLOCK_BOOTTIME}
NAME_BY_CLOCK = {v: k for k, v in CLOCK_BY_NAME.items()}


def _einval(msg: str) -> OSError:
    return OSError(errno.EINVAL, f"EINVAL: timens_offsets: {msg}")


@dataclass(frozen=True, slots=True)
class OffsetEntry:
    clockid: int
    sec: int
    nsec: int


_INT = re.compile(rb"\s*([+-]?\d+)")


def _scan_entry(line: bytes) -> OffsetEntry:
    """The kernel's ``sscanf(line, "%9s %lld %lu")`` followed by the clock-name lookup."""
    stripped = line.lstrip()
    token = re.match(rb"\S{1,9}", stripped)
    if token is None:
        raise _einval(f"line {line!r} is not '<clock> <secs> <nsecs>'")
    rest = stripped[token.end() :]
    sec_m = _INT.match(rest)
    nsec_m = _INT.match(rest, sec_m.end()) if sec_m else None
    if sec_m is None or nsec_m is None:
        raise _einval(f"line {line!r} is not '<clock> <secs> <nsecs>'")
    nsec = int(nsec_m.group(1)) & ULONG_MAX  # %lu: a negative value wraps to a huge one
    if nsec >= NSEC_PER_SEC:
        raise _einval(f"nsecs {nsec} must be below 1000000000")
    return OffsetEntry(_clock_of(token.group().decode(errors="replace")), int(sec_m.group(1)), nsec)


def parse_timens_offsets(text: str) -> tuple[list[OffsetEntry], int]:
    """Parse up to two lines as `timens_offsets_write` does; returns (entries, bytes consumed).

    Lines end at '\\n'; a final newline ends the input; an empty line in between is an
    error.  After the second entry parsing stops, and if more text follows, only the bytes
    up to and including the second line's newline count as written.
    """
    raw = text.encode()
    count = len(raw)
    if count >= PAGE_SIZE:
        raise _einval(f"write of {count} bytes is not below PAGE_SIZE ({PAGE_SIZE})")
    entries: list[OffsetEntry] = []
    pos: int | None = 0
    while pos is not None:
        nl = raw.find(b"\n", pos)
        if nl >= 0:
            line, nxt = raw[pos:nl], (nl + 1 if nl + 1 < count else None)
        else:
            line, nxt = raw[pos:], None
        entries.append(_scan_entry(line))
        if len(entries) == 2:
            if nxt is not None:
                count = nxt
            break
        pos = nxt
    return entries, count


def _clock_of(name: str) -> int:
    if name in CLOCK_BY_NAME:
        return CLOCK_BY_NAME[name]
    if name in ("1", "7"):
        return int(name)
    raise _einval(f"unknown clock {name!r} (monotonic, boottime, 1 or 7)")


def check_offset_ranges(entries: list[OffsetEntry], now_ns_of: dict[int, int]) -> None:
    """`proc_timens_set_offset` range checks: ERANGE before anything is applied."""
    for e in entries:
        if e.sec > KTIME_SEC_MAX or e.sec < -KTIME_SEC_MAX:
            raise OSError(errno.ERANGE, f"ERANGE: offset {e.sec} s beyond ±KTIME_SEC_MAX")
        total = (now_ns_of[e.clockid] + e.sec * NSEC_PER_SEC + e.nsec) // NSEC_PER_SEC
        if total < 0 or total > TIMENS_SEC_LIMIT:
            raise OSError(
                errno.ERANGE,
                f"ERANGE: {NAME_BY_CLOCK[e.clockid]} would read {total} s, "
                f"outside 0..{TIMENS_SEC_LIMIT}",
            )


def format_timens_offsets(monotonic_ns: int, boottime_ns: int) -> str:
    """`timens_offsets_show` (v5.7+): name left in 10, secs right in 10, nsec right in 9."""
    lines = []
    for name, value in (("monotonic", monotonic_ns), ("boottime", boottime_ns)):
        sec, nsec = divmod(value, NSEC_PER_SEC)
        lines.append(f"{name:<10} {sec:>10} {nsec:>9}\n")
    return "".join(lines)
