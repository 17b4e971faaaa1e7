"""Sleeps, POSIX timers, timerfd, alarm and poll of a real C program on a namespace clock."""

from __future__ import annotations

from shim_support import bin_dir, needs_cc, probe, run_one  # noqa: F401

from tk_core import Host

pytestmark = needs_cc


def test_timers_never_early_and_overruns_are_the_engines(probe):  # noqa: F811
    prog, _ = run_one([str(probe), "timers"])
    assert prog.returncode == 0, (prog.stderr, prog.error, prog.diagnostics)
    lines = prog.stdout.decode().splitlines()
    assert lines == [
        # absolute sleeps wake exactly at the deadline on the namespace's own clock
        "abs-mono r=0 late=0",
        "abs-real r=0 late=0",
        # 10 ms periodic SIGEV_SIGNAL timer over 1.005 s: 100 signals, none missed
        "periodic fired=100 overrun=0 getoverrun=0",
        "periodic remaining=5000000 interval=10000000",
        # REALTIME stepped 1.05 s past the first expiry of a 100 ms timer: one signal,
        # ten expirations folded into it (hrtimer_forward)
        "stepped fired=1 overrun=10 getoverrun=10",
        "timerfd n=8 ticks=10",
        "timerfd blocking ticks=1 at=1100000000",
        "timerfd poll=1 revents=1 at=1200000000",
        "timerfd poll-timeout=0 at=1250000000",
    ]


def test_timers_in_a_fast_namespace_keep_namespace_time(probe):  # noqa: F811
    """+100 ppm seconds: the program still sees exact deadlines on its own clock."""
    from gmpy2 import mpq

    host = Host(realtime_ns=10**18)
    ns = host.create_namespace("fast", dilation=mpq(10**6, 10**6 + 100))
    prog, host = run_one([str(probe), "timers"], host=host, ns=ns.name)
    lines = prog.stdout.decode().splitlines()
    assert lines[0] == "abs-mono r=0 late=0"
    assert "timerfd n=8 ticks=10" in lines
    # the same namespace time as at the nominal rate took 100 ppm less true time
    plain, nominal = run_one([str(probe), "timers"])
    assert plain.stdout == prog.stdout
    assert abs(host.true_ns * (10**6 + 100) / 10**6 - nominal.true_ns) < 1000


def test_alarm_pause_and_poll_timeout(probe):  # noqa: F811
    prog, _ = run_one([str(probe), "alarm"])
    assert prog.stdout.decode().splitlines() == [
        "alarm left=2 pause=-1 errno=4 alarms=1 at=3000000000",
        "poll=0 after=1500000000",
    ]


def test_sleep_loop_advances_simulated_time_only(probe):  # noqa: F811
    prog, host = run_one([str(probe), "sleeploop", "500"])
    assert prog.stdout == b"slept 500000000000\n"
    assert 500 * 10**9 <= host.true_ns < 501 * 10**9


def test_shell_forks_and_waits(tmp_path):
    """sh forks children and waits for them: the children's sleeps still advance time."""
    prog, _ = run_one(["sh", "-c", "sleep 5; date -u +%T; sleep 7200; date -u +%T"])
    assert prog.returncode == 0, (prog.stderr, prog.error)
    assert prog.stdout == b"00:00:05\n02:00:05\n"


def test_until_stops_a_program_that_sleeps_forever(probe):  # noqa: F811
    prog, host = run_one([str(probe), "sleeploop", "100000"], until=30 * 10**9)
    assert prog.error is not None and "time limit" in prog.error
    assert prog.returncode == -9
    assert host.true_ns == 30 * 10**9
