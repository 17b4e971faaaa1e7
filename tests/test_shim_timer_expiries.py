"""A plain C program's timers on a namespace clock: never early, the kernel's overrun counts.

tests/data/timer_expiries.c arms clock_nanosleep(TIMER_ABSTIME), a periodic timer_create
timer, an absolute CLOCK_REALTIME timer whose clock is stepped past several periods, and a
periodic timerfd read after sleeping past several periods.  Each line it prints gives the
deadline on the namespace clock and the clock_gettime reading at the expiry.
"""

from __future__ import annotations

from gmpy2 import mpq
from shim_support import DATA, START_NS, bin_dir, compile_c, needs_cc, run_one  # noqa: F401

from tk_core import Host

pytestmark = needs_cc

P = 7_000_123  # the program's period, ns
STEP_PERIODS = 3


def _run(bin_dir, dilation=None):  # noqa: F811
    prog_path = compile_c(DATA / "timer_expiries.c", bin_dir)
    host = Host(realtime_ns=START_NS)
    ns = host.create_namespace("t", dilation=dilation) if dilation else host.create_namespace("t")
    prog, _ = run_one([str(prog_path)], host=host, ns=ns.name)
    assert prog.returncode == 0, (prog.stderr, prog.error, prog.diagnostics)
    return [line.split() for line in prog.stdout.decode().splitlines()]


def _check(rows):
    kinds = [r[0] for r in rows]
    assert kinds == ["sleep"] * 6 + ["posix"] * 6 + ["step"] + ["tfd"] * 4
    for kind, _k, deadline, now, overrun in (r for r in rows if r[0] != "tfd"):
        # never early: the expiry is seen at or after its deadline on the namespace clock
        assert int(now) >= int(deadline), (kind, deadline, now)
        if kind in ("sleep", "posix"):
            # the engine wakes a sleeper at its deadline: a reading within a microsecond of it
            assert int(now) - int(deadline) < 1000, (kind, deadline, now)
            assert int(overrun) == 0
    step = next(r for r in rows if r[0] == "step")
    # REALTIME stepped STEP_PERIODS periods and a half past the first expiry: one signal,
    # the missed periods folded into si_overrun (hrtimer_forward's count less the one delivered)
    assert int(step[4]) == STEP_PERIODS
    assert int(step[3]) - int(step[2]) >= STEP_PERIODS * P + P // 2
    for i, (_kind, seen, deadline, now, overrun) in enumerate(r for r in rows if r[0] == "tfd"):
        k = i + 1
        # slept k periods and a half past the last read: k expirations, k - 1 of them overruns
        assert int(overrun) == k - 1
        assert int(now) >= int(deadline)
        assert int(now) - int(deadline) == P // 2
        assert int(seen) == k * (k + 1) // 2


def test_timer_expiries_never_early_with_kernel_overruns(bin_dir):  # noqa: F811
    _check(_run(bin_dir))


def test_timer_expiries_on_a_fast_namespace(bin_dir):  # noqa: F811
    """+100 ppm: deadlines are on the namespace's own clock, so the same rows come out."""
    fast = _run(bin_dir, dilation=mpq(10**6, 10**6 + 100))
    _check(fast)
