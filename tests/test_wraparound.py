"""The 64-bit extended counter and the host's wrap guard (acpi_pm: 24 bits at 3.579545 MHz)."""

from __future__ import annotations

from gmpy2 import mpq

from tk_core import CLOCK_MONOTONIC, Clocksource, ExtendedCounter, Host

ACPI_HZ = 3_579_545
WRAP = 1 << 24
NSEC = 1_000_000_000


def acpi_host(**kw) -> Host:
    return Host(clocksource=Clocksource(ACPI_HZ, 24, name="acpi_pm"), hz=250, **kw)


def test_extension_counts_wraps_when_sampled_often_enough():
    c = ExtendedCounter((1 << 8) - 1, 250)
    assert c.sample(5) == 261  # wrapped once: 250 -> 255 -> 0 -> 5
    assert c.peek(4) == 261 + 255  # just under one more wrap
    assert c.last_ext == 261


def test_without_the_guard_an_idle_host_loses_exactly_one_wrap():
    idle_ns = 6 * NSEC  # one wrap is 4.687 s
    guarded, unguarded = acpi_host(), acpi_host(wrap_guard=False)
    for h in (guarded, unguarded):
        h.run_for(idle_ns)
        h.root.accumulate()
    assert guarded.lost_cycles() == 0
    assert unguarded.lost_cycles() == WRAP
    assert unguarded.stats.interrupts == 0
    lost_ns = guarded.root.clock_gettime_ns(CLOCK_MONOTONIC) - unguarded.root.clock_gettime_ns(
        CLOCK_MONOTONIC
    )
    tk = guarded.root.timekeeper
    one_wrap_ns = (WRAP * tk.mult) >> tk.shift
    assert abs(lost_ns - one_wrap_ns) <= 1
    assert abs(mpq(lost_ns, NSEC) - mpq(WRAP, ACPI_HZ)) < mpq(1, 10**4)


def test_with_the_guard_nothing_is_lost_over_a_simulated_week():
    host = acpi_host()
    week = 7 * 86_400 * NSEC
    host.run_for(week)
    assert host.lost_cycles() == 0
    assert host.stats.guard_wakes >= week // host.clocksource.max_idle_ns
    # Every wake came no later than max_idle_ns after the previous sample, so MONOTONIC is
    # the kernel's conversion of every cycle that passed: no wrap missing.
    err = host.root.reference_error_ns(CLOCK_MONOTONIC)
    assert abs(err) < 2
    tk = host.root.timekeeper
    cycles = host.cycles_now()
    assert cycles == host.clocksource.cycles_at(host.true_time)  # the extension is complete
    assert host.root.clock_gettime_ns(CLOCK_MONOTONIC) == (cycles * tk.mult) >> tk.shift


def test_an_unsampled_counter_stalls_near_the_end_of_a_wrap_as_the_kernel_reads_it():
    # clocksource_delta (v6.13+): a masked delta above max_raw_delta (7/8 of the range) is
    # taken as "went backwards" and reads as no progress.
    host = acpi_host(wrap_guard=False)
    tk = host.root.timekeeper
    host.run_for(4 * NSEC)  # 0.853 of a wrap: still read
    assert host.root.clock_gettime_ns(CLOCK_MONOTONIC) == (host.cycles_now() * tk.mult) >> tk.shift
    host.run_for(NSEC // 2)  # 0.96 of a wrap: beyond 7/8, reads as if no time passed
    assert host.root.clock_gettime_ns(CLOCK_MONOTONIC) == 0
    c = ExtendedCounter((1 << 8) - 1, 0, max_delta=223)
    assert c.sample(230) == 0 and c.sample(10) == 10  # refused, then resumed after the wrap
