"""Tasks after unshare(CLONE_NEWTIME): threads, CLONE_VM children, fork and execve, by version."""

from __future__ import annotations

import errno

import pytest

from ntp.version import KernelBehaviour
from tk_core import CLOCK_MONOTONIC, Host
from tk_core.checkpoint import CheckpointError
from tk_core.task import CLONE_SIGHAND, CLONE_THREAD, CLONE_VFORK, CLONE_VM

NSEC = 1_000_000_000
THREAD = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD
ADMIN = {"CAP_SYS_ADMIN", "CAP_SYS_TIME"}

# version -> whether CLONE_VM is allowed across a pending namespace and execve switches
SWITCH = {"5.6": False, "6.1": False, "6.1.192": False, "6.2": True, "6.12.117": True,
          "7.3.4": True, None: True}


def _errno(call) -> int:
    with pytest.raises(OSError) as e:
        call()
    return e.value.errno


def _unshared(version: str | None):
    h = Host(kernel_version=version, monotonic_ns=3600 * NSEC)
    task = h.root.spawn(ADMIN)
    task.unshare_time("c")
    task.set_offsets(monotonic_ns=-1000 * NSEC)
    return h, task


@pytest.mark.parametrize(("version", "switch"), list(SWITCH.items()))
def test_flag_follows_version(version, switch):
    assert KernelBehaviour.from_version(version).timens_exec_switch is switch


def test_unshare_needs_cap_sys_admin_and_moves_only_the_children():
    h = Host(monotonic_ns=3600 * NSEC)
    plain = h.root.spawn({"CAP_SYS_TIME"})
    assert _errno(lambda: plain.unshare_time("x")) == errno.EPERM
    assert "x" not in h.namespaces
    task = h.root.spawn(ADMIN)
    task.unshare_time("c")
    assert (task.namespace_name, task.children_namespace_name) == ("root", "c")
    # /proc/PID/timens_offsets is the children's namespace; it is not frozen yet
    task.set_offsets(monotonic_ns=-1000 * NSEC)
    assert task.timens_offsets_read().split()[:3] == ["monotonic", "-1000", "0"]
    assert h.namespaces["c"].frozen is False
    assert task.clock_gettime_ns(CLOCK_MONOTONIC) == h.root.clock_gettime_ns(CLOCK_MONOTONIC)


@pytest.mark.parametrize(("version", "switch"), list(SWITCH.items()))
@pytest.mark.parametrize("flags", [THREAD, CLONE_VM, CLONE_VM | CLONE_VFORK])
def test_clone_vm_while_a_namespace_is_pending(version, switch, flags):
    h, task = _unshared(version)
    if not switch:
        assert _errno(lambda: task.clone(flags)) == errno.EINVAL
        return
    child = task.clone(flags)
    # shares the parent's nsproxy: the parent's namespace, the same pending one
    assert (child.namespace_name, child.children_namespace_name) == ("root", "c")
    assert child.creds.caps == task.creds.caps
    assert h.namespaces["c"].frozen is False


@pytest.mark.parametrize("version", ["6.1", "7.3.4"])
def test_threads_without_a_pending_namespace_are_allowed_in_every_version(version):
    h = Host(kernel_version=version)
    task = h.root.spawn()
    child = task.clone(THREAD)
    assert child.namespace_name == "root" and child.pid != task.pid


@pytest.mark.parametrize("version", ["6.1", "7.3.4"])
def test_fork_enters_the_pending_namespace_and_freezes_it(version):
    h, task = _unshared(version)
    child = task.clone(0)
    assert (child.namespace_name, child.children_namespace_name) == ("c", "c")
    assert h.namespaces["c"].frozen
    mono = h.root.clock_gettime_ns(CLOCK_MONOTONIC)
    assert child.clock_gettime_ns(CLOCK_MONOTONIC) == mono - 1000 * NSEC
    assert _errno(lambda: task.set_offsets(monotonic_ns=0)) == errno.EACCES
    assert task.spawn().namespace_name == "c"  # spawn is fork too


@pytest.mark.parametrize(("version", "switch"), list(SWITCH.items()))
def test_execve_enters_the_pending_namespace(version, switch):
    h, task = _unshared(version)
    task.execve()
    if not switch:
        assert task.namespace_name == "root" and not h.namespaces["c"].frozen
        return
    assert (task.namespace_name, task.children_namespace_name) == ("c", "c")
    assert h.namespaces["c"].frozen and task in h.namespaces["c"].tasks
    assert task not in h.root.tasks
    mono = h.root.clock_gettime_ns(CLOCK_MONOTONIC)
    assert task.clock_gettime_ns(CLOCK_MONOTONIC) == mono - 1000 * NSEC
    task.execve()  # nothing pending any more: a no-op
    assert task.namespace_name == "c"


def test_a_vfork_child_enters_the_namespace_at_its_execve():
    _h, task = _unshared("7.3.4")
    child = task.clone(CLONE_VM | CLONE_VFORK)
    child.execve()
    assert (child.namespace_name, task.namespace_name) == ("c", "root")


def test_clone_flag_checks():
    h = Host()
    task = h.root.spawn()
    assert _errno(lambda: task.clone(CLONE_VM | CLONE_THREAD)) == errno.EINVAL
    assert _errno(lambda: task.clone(CLONE_SIGHAND)) == errno.EINVAL
    assert _errno(lambda: task.clone(0x00020000)) == errno.EINVAL  # CLONE_NEWNS: not modelled
    with pytest.raises(TypeError):
        task.clone("CLONE_VM")  # type: ignore[arg-type]


def test_offsets_namespace_below_an_engine_timekeeper_namespace_is_refused():
    h = Host()
    tk = h.create_namespace("tk")
    task = tk.spawn(ADMIN)
    assert _errno(lambda: task.unshare_time("x")) == errno.EINVAL
    task.unshare_time("y", model="timekeeper")
    assert task.clone(0).namespace_name == "y"


def test_a_host_checkpoint_carries_the_pending_namespace():
    h, _task = _unshared("7.3.4")
    r = Host.restore(h.checkpoint())
    (restored,) = r.root.tasks
    assert restored.children_namespace_name == "c"
    restored.execve()
    assert restored.namespace_name == "c"


def test_a_namespace_checkpoint_refuses_a_pending_namespace():
    h, _task = _unshared("7.3.4")
    with pytest.raises(CheckpointError, match="unshared"):
        h.root.checkpoint()
