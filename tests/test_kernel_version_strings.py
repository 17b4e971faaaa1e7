"""`Host(kernel_version=...)` takes release, stable and distribution package strings."""

from __future__ import annotations

import dataclasses

import pytest

from ntp.version import KernelBehaviour
from tk_core import Host

# string -> (major, minor) it models, and the flags that tell the patch level apart
ACCEPTED = {
    "6.1": (6, 1),
    "6.1.0-28-amd64": (6, 1),  # uname -r: the ABI number 28 is not the patch level
    "6.1.192": (6, 1),
    "6.1.119-1": (6, 1),  # a Debian package version
    "6.12.117": (6, 12),
    "7.3.4": (7, 3),
    "7.3.4-1~bpo13+1": (7, 3),  # a backports package
    " 7.3 ": (7, 3),
}


@pytest.mark.parametrize(("version", "key"), list(ACCEPTED.items()))
def test_host_accepts(version, key):
    h = Host(kernel_version=version)
    assert h.behaviour.key == key
    assert h.kernel_version == version.strip()
    assert h.behaviour == KernelBehaviour.from_version(version)


def test_the_patch_level_matters_only_where_a_backport_is_known():
    abi = KernelBehaviour.from_version("6.1.0-28-amd64")
    assert abi == dataclasses.replace(KernelBehaviour.from_version("6.1"), version=abi.version)
    late = KernelBehaviour.from_version("6.1.192")
    assert (abi.maxerror_clamp, abi.adjtimex_clock_was_set_wall) == (False, False)
    assert (late.maxerror_clamp, late.adjtimex_clock_was_set_wall) == (True, True)
    assert KernelBehaviour.from_version("7.3.3").timens_deadline_saturates is False
    assert KernelBehaviour.from_version("7.3.4").timens_deadline_saturates is True


@pytest.mark.parametrize("version", ["6", "6.x", "linux-6.1", "v6.1", "6.1.2.3", ""])
def test_host_refuses_with_the_accepted_forms(version):
    with pytest.raises(ValueError, match="accepted forms"):
        Host(kernel_version=version)


def test_a_version_must_be_a_string():
    with pytest.raises(TypeError):
        Host(kernel_version=6.1)  # type: ignore[arg-type]
