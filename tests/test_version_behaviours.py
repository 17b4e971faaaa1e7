"""Version-gated behaviours outside NTP: each test runs per kernel version and checks the gate."""

from __future__ import annotations

import pytest

from ntp.version import KernelBehaviour
from tk_core import CLOCK_MONOTONIC, Host
from tk_core.timekeeper import KTIME_MAX, KTIME_SEC_MAX

NSEC = 1_000_000_000
US = 1_000

# version -> whether timens_ktime_to_host saturates an overflowing deadline (7.3.4 stable fix).
SATURATES = {"6.1": False, "6.12.117": False, "7.3": False, "7.3.3": False, "7.3.4": True,
             "7.4": True, None: True}


@pytest.mark.parametrize(("version", "saturates"), list(SATURATES.items()))
def test_flag_follows_version(version, saturates):
    assert KernelBehaviour.from_version(version).timens_deadline_saturates is saturates


@pytest.mark.parametrize(("version", "saturates"), list(SATURATES.items()))
def test_overflowing_absolute_timens_deadline(version, saturates):
    # An absolute MONOTONIC deadline of KTIME_SEC_MAX s (KTIME_MAX) in a namespace 1000 s behind
    # the host: t - offset overflows s64.  Fixed kernels never fire it; older ones fire at once.
    h = Host(kernel_version=version, realtime_ns=1_483_228_790 * NSEC, monotonic_ns=3600 * NSEC)
    c = h.create_namespace("c", model="offsets")
    c.set_offsets(monotonic_ns=-1000 * NSEC)
    t = c.timer_create(CLOCK_MONOTONIC)
    t.settime(KTIME_SEC_MAX * NSEC, absolute=True)
    assert t.entry.expires == (KTIME_MAX if saturates else 0)
    h.run_for(10 * US)
    assert t.fires == (0 if saturates else 1)


@pytest.mark.parametrize("version", list(SATURATES))
def test_deadline_without_overflow_is_the_plain_difference(version):
    h = Host(kernel_version=version, realtime_ns=1_483_228_790 * NSEC, monotonic_ns=3600 * NSEC)
    c = h.create_namespace("c", model="offsets")
    c.set_offsets(monotonic_ns=-1000 * NSEC)
    t = c.timer_create(CLOCK_MONOTONIC)
    t.settime(KTIME_MAX - 1000 * NSEC, absolute=True)
    assert t.entry.expires == KTIME_MAX


@pytest.mark.parametrize("version", ["6.1", "7.3.3", "7.3.4", "mainline"])
def test_a_document_without_the_flag_takes_it_from_its_version(version: str) -> None:
    """Checkpoints written before timens_deadline_saturates existed still restore."""
    from ntp.version import KernelBehaviour

    flags = KernelBehaviour.from_version(version).to_dict()
    flags.pop("timens_deadline_saturates")
    restored = KernelBehaviour.from_dict(flags)
    assert restored == KernelBehaviour.from_version(version)
