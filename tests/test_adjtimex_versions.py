"""``Host(kernel_version=...)``: the adjtimex behaviours that differ between kernels, end to end.

Mainline (the default) against the 6.1 release and the 6.1.y stable kernels, whose 2024
backports (ntp.version.STABLE_BACKPORTS) arrived in 6.1.105 (maxerror/esterror and
time_constant clamps) and 6.1.120 (the µs offset readback without the u32 cast).  Debian 12's
6.1.192 therefore differs from mainline only in the ADJ_SETOFFSET error path (and the coarse
clocks, see test_invariants).
"""

from __future__ import annotations

import errno

import pytest

from ntp import (
    ADJ_ESTERROR,
    ADJ_MAXERROR,
    ADJ_MICRO,
    ADJ_NANO,
    ADJ_OFFSET,
    ADJ_SETOFFSET,
    ADJ_STATUS,
    ADJ_TAI,
    ADJ_TIMECONST,
    STA_PLL,
    KernelBehaviour,
    Timex,
)
from tk_core import CLOCK_REALTIME, CLOCK_TAI, Host

NSEC = 1_000_000_000
NTP_PHASE_LIMIT = 16_000_000
STA_UNSYNC = 0x40

RELEASE_6_1 = ["6.1", "6.1.0", "6.1.104", "6.1.0-28-amd64"]
CLAMPS_ONLY = ["6.1.105", "6.1.119"]
LIKE_MAINLINE_NTP = ["6.1.120", "6.1.192", None, "mainline", "6.13", "6.17.3"]


def ns_for(version: str | None, update: str = "periodic") -> tuple[Host, object]:
    h = Host(hz=250, realtime_ns=1_650_000_000 * NSEC + NSEC // 2, kernel_version=version)
    return h, h.create_namespace("a", update=update)


def read(ns: object) -> Timex:
    tx = Timex()
    ns.adjtimex(tx)  # type: ignore[attr-defined]
    return tx


@pytest.mark.parametrize("version", RELEASE_6_1 + CLAMPS_ONLY + LIKE_MAINLINE_NTP)
def test_timeconst_negative_in_microsecond_mode(version: str | None) -> None:
    """−5 in µs mode: 6.1 adds 4 then clamps (0); since the 2024 fix it clamps first (4)."""
    _, ns = ns_for(version)
    tx = Timex(modes=ADJ_TIMECONST | ADJ_MICRO, constant=-5)
    ns.adjtimex(tx)  # type: ignore[attr-defined]
    assert tx.constant == (0 if version in RELEASE_6_1 else 4)
    tx = Timex(modes=ADJ_TIMECONST | ADJ_NANO, constant=-5)  # ns mode: 0 everywhere
    ns.adjtimex(tx)  # type: ignore[attr-defined]
    assert tx.constant == 0


@pytest.mark.parametrize("version", RELEASE_6_1 + CLAMPS_ONLY + LIKE_MAINLINE_NTP)
def test_maxerror_and_esterror_input(version: str | None) -> None:
    h, ns = ns_for(version)
    raw = version in RELEASE_6_1
    ns.adjtimex(Timex(modes=ADJ_STATUS, status=STA_PLL))  # type: ignore[attr-defined]
    tx = Timex(modes=ADJ_MAXERROR | ADJ_ESTERROR, maxerror=-7, esterror=20_000_000)
    ns.adjtimex(tx)  # type: ignore[attr-defined]
    assert (tx.maxerror, tx.esterror) == ((-7, 20_000_000) if raw else (0, NTP_PHASE_LIMIT))
    h.run_for(NSEC)  # one second_overflow: maxerror grows by 500 µs
    after = read(ns)
    assert after.maxerror == (493 if raw else 500)
    assert not after.status & STA_UNSYNC
    big = Timex(modes=ADJ_MAXERROR, maxerror=NTP_PHASE_LIMIT + 1)
    ns.adjtimex(big)  # type: ignore[attr-defined]
    assert big.maxerror == (NTP_PHASE_LIMIT + 1 if raw else NTP_PHASE_LIMIT)
    h.run_for(NSEC)
    after = read(ns)
    assert after.maxerror == NTP_PHASE_LIMIT
    # Past the limit the clock is unsynchronised; exactly at it (clamped input + 500) too.
    assert after.status & STA_UNSYNC


@pytest.mark.parametrize("version", RELEASE_6_1 + CLAMPS_ONLY + LIKE_MAINLINE_NTP)
@pytest.mark.parametrize("update", ["periodic", "lazy"])
def test_negative_microsecond_offset_readback(version: str | None, update: str) -> None:
    """−1000 µs reads back as −1000, or garbled by the (u32) cast: (2^32 − 10^6) / 1000."""
    _, ns = ns_for(version, update)
    tx = Timex(modes=ADJ_STATUS | ADJ_OFFSET | ADJ_MICRO, status=STA_PLL, offset=-1000)
    ns.adjtimex(tx)  # type: ignore[attr-defined]
    cast = version in RELEASE_6_1 + CLAMPS_ONLY
    assert tx.offset == (4_293_967 if cast else -1000)
    tx = Timex(modes=ADJ_NANO)  # in ns mode there is no cast anywhere
    ns.adjtimex(tx)  # type: ignore[attr-defined]
    assert tx.offset == -1_000_000
    # Positive offsets read back alike everywhere; the remaining offset shrinks per second.
    _, other = ns_for(version, update)
    tx = Timex(modes=ADJ_STATUS | ADJ_OFFSET | ADJ_MICRO, status=STA_PLL, offset=1000)
    other.adjtimex(tx)  # type: ignore[attr-defined]
    assert tx.offset == 1000


@pytest.mark.parametrize(
    ("version", "clears"),
    [("6.1", True), ("6.1.192", True), ("6.12.5", True), ("6.13", False), (None, False)],
)
def test_failing_setoffset_clears_ntp_up_to_6_12(version: str | None, clears: bool) -> None:
    h, ns = ns_for(version)
    ns.adjtimex(  # type: ignore[attr-defined]
        Timex(modes=ADJ_STATUS | ADJ_OFFSET | ADJ_MAXERROR, status=STA_PLL, offset=500, maxerror=1)
    )
    h.run_for(NSEC)
    before = read(ns)
    real = ns.clock_gettime_ns(CLOCK_REALTIME)  # type: ignore[attr-defined]
    with pytest.raises(OSError) as exc:  # REALTIME would fall below MONOTONIC
        ns.clock_adjtime(  # type: ignore[attr-defined]
            CLOCK_REALTIME, Timex(modes=ADJ_SETOFFSET, time=(-(real // NSEC) - 1, 0))
        )
    assert exc.value.errno == errno.EINVAL
    after = read(ns)
    if clears:
        assert after.status == before.status | STA_UNSYNC
        assert (after.offset, after.maxerror) == (0, NTP_PHASE_LIMIT)
    else:
        assert (after.status, after.offset, after.maxerror) == (
            before.status,
            before.offset,
            before.maxerror,
        )
    # A value rejected by validation changes nothing on any version.
    with pytest.raises(OSError):
        ns.clock_adjtime(CLOCK_REALTIME, Timex(modes=ADJ_SETOFFSET, time=(0, -1)))  # type: ignore[attr-defined]
    assert read(ns).status == after.status


@pytest.mark.parametrize(("version", "zero_ok"), [("5.1", False), ("5.2", True), ("6.1", True)])
def test_adj_tai_zero(version: str, zero_ok: bool) -> None:
    h = Host(realtime_ns=1_650_000_000 * NSEC, tai_offset=37, kernel_version=version)
    ns = h.create_namespace("a")
    ns.adjtimex(Timex(modes=ADJ_TAI, constant=0))
    expect = 0 if zero_ok else 37
    assert read(ns).tai == expect
    assert ns.clock_gettime_ns(CLOCK_TAI) - ns.clock_gettime_ns(CLOCK_REALTIME) == expect * NSEC


@pytest.mark.parametrize(
    ("version", "pre", "maxerr", "cast", "clears"),
    [
        ("6.1", False, False, True, True),
        ("6.1.104", False, False, True, True),
        ("6.1.105", True, True, True, True),
        ("6.1.119", True, True, True, True),
        ("6.1.120", True, True, False, True),
        ("6.1.192", True, True, False, True),
        ("6.1.192-1", True, True, False, True),
        ("6.1.0-28-amd64", False, False, True, True),  # Debian's ABI string: the release
        ("6.6.80", False, False, True, True),  # series not in the table: its release
        ("6.11.0", True, True, True, True),
        ("6.13.2", True, True, False, False),
    ],
)
def test_stable_patch_levels(
    version: str, pre: bool, maxerr: bool, cast: bool, clears: bool
) -> None:
    b = KernelBehaviour.from_version(version)
    assert (b.timeconst_preclamp, b.maxerror_clamp) == (pre, maxerr)
    assert (b.offset_readback_u32_cast, b.setoffset_error_clears_ntp) == (cast, clears)
    assert Host(kernel_version=version).kernel_version == version


def test_clockfd_ids_are_einval_and_cpu_clock_ids_eopnotsupp() -> None:
    b = KernelBehaviour.from_version("6.1.192")
    for fd in (0, 3, 1000):
        assert b.clock_adjtime_errno(((~fd) << 3) | 3) == errno.EINVAL
    for pid in (0, 1, 4242):
        for which in (0, 1, 2):
            for thread in (0, 4):
                clockid = ((~pid) << 3) | which | thread
                assert b.clock_adjtime_errno(clockid) == errno.EOPNOTSUPP
