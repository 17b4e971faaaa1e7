"""The PTP experiment: PI servos on aux clocks (or namespaces) following simulated grandmasters."""

from __future__ import annotations

import errno

import pytest
from gmpy2 import mpq
from hypothesis import given, settings
from hypothesis import strategies as st

from ntp.timex import ADJ_FREQUENCY, ADJ_SETOFFSET
from tk_core.ptp_experiment import (
    DEFAULT_GRANDMASTERS,
    Grandmaster,
    GrandmasterStep,
    ServoConfig,
    expected_freq_ppm,
    follow_grandmasters,
    ideal_freq_ppm,
    main,
    measure_cost,
    probe_capabilities,
)

STEP_AT = 40
GMS = (
    Grandmaster("a", mpq(12)),
    Grandmaster("b", mpq(-35), (GrandmasterStep(mpq(STEP_AT), 250_000, mpq(-20)),)),
    Grandmaster("c", mpq(3, 2), origin_ns=DEFAULT_GRANDMASTERS[2].origin_ns),
)
RUN = {"duration_s": 80, "hz": 100}


@pytest.fixture(scope="module")
def aux_run():
    return follow_grandmasters(GMS, **RUN)


@pytest.fixture(scope="module")
def ns_run():
    return follow_grandmasters(GMS, model="namespaces", **RUN)


@pytest.mark.parametrize("name", [g.name for g in GMS])
def test_each_servo_converges_below_a_microsecond(aux_run, name):
    r = aux_run.results[name]
    assert r["clock"] == f"CLOCK_AUX{[g.name for g in GMS].index(name)}"
    assert r["convergence_s"] is not None and r["convergence_s"] <= 10
    assert r["max_abs_offset_ns"] < 1000
    assert r["settled_samples"] >= RUN["duration_s"] - 20
    # the frequency found is the one the kernel's tick arithmetic needs, to a tiny fraction
    assert abs(r["freq_error_ppm"]) < 0.01
    assert abs(r["freq_ppm"] - r["ideal_freq_ppm"]) < 0.2  # the interval's rounding, ~0.06


def test_offsets_are_nanoseconds_without_jitter(aux_run):
    for name in ("a", "c"):
        assert aux_run.results[name]["rms_offset_ns"] < 5


def test_a_grandmaster_step_is_followed_by_a_step(aux_run):
    steps = aux_run.results["b"]["steps"]
    assert len(steps) == 2  # the first lock, then the changeover
    at, delta = steps[1]
    assert STEP_AT < at < STEP_AT + 1.1
    assert abs(delta - 250_000) < 100  # the grandmaster moved ahead: the clock steps ahead too
    recovery = aux_run.results["b"]["recovery_s"]
    assert len(recovery) == 1 and recovery[0] is not None and recovery[0] < 20
    for name in ("a", "c"):
        assert len(aux_run.results[name]["steps"]) == 1


def test_the_servos_use_clock_adjtime_on_the_aux_ids(monkeypatch):
    from tk_core.task import Task

    calls = []
    original = Task.clock_adjtime

    def spy(self, clockid, tx):
        calls.append((clockid, tx.modes))
        return original(self, clockid, tx)

    monkeypatch.setattr(Task, "clock_adjtime", spy)
    follow_grandmasters(GMS[:2], duration_s=10, hz=100, core_ntp=False)
    assert {c for c, _ in calls} == {16, 17}
    assert any(m & ADJ_SETOFFSET for _, m in calls)
    assert any(m == ADJ_FREQUENCY for _, m in calls)


def test_core_realtime_is_untouched_by_the_aux_servos(aux_run):
    control = follow_grandmasters(GMS, aux_servos=False, **RUN)
    assert control.realtime_ns == aux_run.realtime_ns
    assert len(aux_run.realtime_ns) == RUN["duration_s"] + 1
    assert all(r["steps"] == [] for r in control.results.values())
    # and the control really did not steer: its aux clocks stay far from the grandmasters
    assert control.results["a"]["convergence_s"] is None


def test_namespaces_model_gives_the_same_servo_results(aux_run, ns_run):
    for g in GMS:
        a, n = aux_run.results[g.name], ns_run.results[g.name]
        assert n["clock"] == "CLOCK_REALTIME"
        assert n["convergence_s"] == a["convergence_s"]
        assert len(n["steps"]) == len(a["steps"])
        assert abs(n["freq_ppm"] - a["freq_ppm"]) < 0.01
        assert n["max_abs_offset_ns"] < 1000
        assert abs(n["rms_offset_ns"] - a["rms_offset_ns"]) < 5


def test_same_seed_same_results_other_seed_other_noise():
    servo = ServoConfig(jitter_ns=400)
    a = follow_grandmasters(GMS[:1], duration_s=30, hz=100, seed=5, servo=servo)
    b = follow_grandmasters(GMS[:1], duration_s=30, hz=100, seed=5, servo=servo)
    c = follow_grandmasters(GMS[:1], duration_s=30, hz=100, seed=6, servo=servo)
    assert a.results == b.results and a.series == b.series and a.realtime_ns == b.realtime_ns
    assert a.series != c.series


def test_jitter_leaves_the_offset_within_the_jitter():
    servo = ServoConfig(jitter_ns=400)
    r = follow_grandmasters(GMS[:1], duration_s=60, hz=100, seed=1, servo=servo,
                            core_ntp=False).results["a"]
    assert 1 < r["rms_offset_ns"] < 400
    assert abs(r["freq_error_ppm"]) < 0.2


@given(g=st.integers(-400, 400), e=st.integers(-100, 100))
@settings(max_examples=20, deadline=None)
def test_ideal_frequency_makes_the_rates_equal(g, e):
    f = ideal_freq_ppm(mpq(g), mpq(e))
    assert (1 + mpq(e, 10**6)) * (1 + f / 10**6) == 1 + mpq(g, 10**6)


def test_expected_frequency_is_ideal_plus_the_interval_rounding():
    from tk_core import Host
    from tk_core.clocksource import Clocksource

    cs = Clocksource(3_000_000_000, 64, error_ppm=7)
    ns = Host(clocksource=cs, hz=250, kernel_version="7.3", aux_clocks=True).create_namespace("x")
    ns.aux_clock_enable_write(0, "1")
    tk = ns.aux[0].tk
    want = expected_freq_ppm(mpq(12), tk, cs.frequency_at(mpq(0)))
    ideal = ideal_freq_ppm(mpq(12), mpq(7))
    assert want != ideal and abs(want - ideal) < mpq(1, 10)


def test_capabilities_are_probed_not_assumed():
    caps = probe_capabilities()
    aux, ns = caps["aux"], caps["namespaces"]
    assert aux["timer_create"] == aux["clock_nanosleep"] == "EOPNOTSUPP"
    assert aux["timerfd_create"] == aux["leap second"] == aux["ADJ_TAI"] == "EINVAL"
    assert all(ns[k] == "ok" for k in ("timer_create", "clock_nanosleep", "timerfd_create",
                                       "leap second", "ADJ_TAI", "clock_settime"))
    assert aux["clock_settime"] == "ok"
    assert aux["domains per task"] == "3" and ns["domains per task"] == "1"


def test_cost_is_measured_for_both_models():
    cost = measure_cost(2, 5)
    for model in ("aux", "namespaces"):
        c = cost[model]
        assert c["timekeepers"] == 2
        assert 500 < c["bytes_per_timekeeper"] < 100_000
        assert c["wall_ms_per_sim_s"] > 0


@pytest.mark.parametrize(("kwargs", "word"), [
    ({"model": "both"}, "model"),
    ({"duration_s": 0}, "duration_s"),
    ({"duration_s": 2.5}, "duration_s"),
    ({"seed": -1}, "seed"),
    ({"converge_ns": 0}, "converge_ns"),
    ({"grandmasters": ()}, "grandmasters"),
    ({"grandmasters": ("gm",)}, "grandmasters"),
    ({"grandmasters": tuple(Grandmaster(f"g{n}") for n in range(9))}, "grandmasters"),
    ({"grandmasters": (Grandmaster("x"), Grandmaster("x"))}, "grandmasters"),
    ({"servo": {"kp": 1}}, "servo"),
])
def test_bad_arguments_name_themselves(kwargs, word):
    with pytest.raises(ValueError, match=word):
        follow_grandmasters(**kwargs)


@pytest.mark.parametrize(("build", "word"), [
    (lambda: Grandmaster(""), "name"),
    (lambda: Grandmaster("x", mpq(600)), "freq_ppm"),
    (lambda: Grandmaster("x", 1.5), "freq_ppm"),
    (lambda: Grandmaster("x", origin_ns=-1), "origin_ns"),
    (lambda: Grandmaster("x", steps=(GrandmasterStep(mpq(5), 1), GrandmasterStep(mpq(2), 1))),
     "order"),
    (lambda: GrandmasterStep(mpq(0), 1), "at_s"),
    (lambda: GrandmasterStep(mpq(1), 1.0), "step_ns"),
    (lambda: ServoConfig(kp=mpq(0)), "kp"),
    (lambda: ServoConfig(ki=mpq(3)), "ki"),
    (lambda: ServoConfig(sync_interval_s=mpq(-1)), "sync_interval_s"),
    (lambda: ServoConfig(jitter_ns=-1), "jitter_ns"),
    (lambda: ServoConfig(step_threshold_ns=0), "step_threshold_ns"),
    (lambda: ServoConfig(path_delay_ns=10**9), "path_delay_ns"),
    (lambda: measure_cost(9, 5), "timekeepers"),
])
def test_bad_parts_name_themselves(build, word):
    with pytest.raises(ValueError, match=word):
        build()


def test_grandmaster_time_is_exact_and_piecewise():
    gm = Grandmaster("x", mpq(10), (GrandmasterStep(mpq(2), 500, mpq(-10)),), origin_ns=0)
    assert gm.time_ns(mpq(1)) == 10**9 + 10_000
    assert gm.time_ns(mpq(2)) == 2 * (10**9 + 10_000) + 500
    assert gm.time_ns(mpq(3)) == 2 * (10**9 + 10_000) + 500 + 10**9 - 10_000
    assert gm.freq_at(mpq(1)) == 10 and gm.freq_at(mpq(2)) == -10


def test_aux_timers_are_refused_by_the_engine_itself():
    from tk_core import Host

    ns = Host(kernel_version="7.3", aux_clocks=True).create_namespace("x")
    with pytest.raises(OSError) as info:
        ns.timer_create(16)
    assert info.value.errno == errno.EOPNOTSUPP


def test_main_prints_the_tables_and_writes_figures(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--duration", "8", "--cost-s", "3"]) == 0
    out = capsys.readouterr().out
    assert "CLOCK_AUX0" in out and "CLOCK_REALTIME" in out and "EOPNOTSUPP" in out
    for model in ("aux", "namespaces"):
        for ext in ("png", "svg"):
            path = tmp_path / f"ptp-offsets-{model}.{ext}"
            assert path.stat().st_size > 1000


@given(freq=st.integers(-400, 400), steps=st.lists(
    st.tuples(st.integers(1, 100), st.integers(-10**6, 10**6), st.integers(-400, 400)),
    max_size=3, unique_by=lambda s: s[0]), t=st.fractions(0, 120))
@settings(max_examples=30, deadline=None)
def test_grandmaster_time_runs_at_its_rate_and_jumps_only_at_its_steps(freq, steps, t):
    events = tuple(GrandmasterStep(mpq(at), jump, mpq(f)) for at, jump, f in sorted(steps))
    gm = Grandmaster("x", mpq(freq), events, origin_ns=0)
    t = mpq(t.numerator, t.denominator)
    dt = mpq(1, 1000)
    inside = not any(t < e.at_s <= t + dt for e in events)
    if inside:  # no step within (t, t + dt]: exactly the rate of that span
        assert gm.time_ns(t + dt) - gm.time_ns(t) == dt * 10**9 * (1 + gm.freq_at(t) / 10**6)
    for e in events:  # at a step: the jump, on top of the rate before it
        before = gm.time_ns(e.at_s - dt)
        rate = 1 + gm.freq_at(e.at_s - dt) / 10**6
        assert gm.time_ns(e.at_s) - before == dt * 10**9 * rate + e.step_ns


def test_figures_are_reproducible(tmp_path):
    from tk_core.ptp_experiment import plot_offsets

    run = follow_grandmasters(GMS[:1], duration_s=5, hz=100, core_ntp=False)
    first = [p.read_bytes() for p in plot_offsets(run, tmp_path / "a") if p.suffix == ".svg"]
    second = [p.read_bytes() for p in plot_offsets(run, tmp_path / "b") if p.suffix == ".svg"]
    assert first == second


def test_a_servo_without_cap_sys_time_is_refused():
    from tk_core import Host
    from tk_core.ptp_experiment import PiServo

    ns = Host(kernel_version="7.3", aux_clocks=True).create_namespace("x")
    ns.spawn({"CAP_SYS_TIME"}).aux_clock_enable_write(0, "1")
    servo = PiServo(ns.spawn(), 16, ServoConfig())
    servo.sample(mpq(1), 10**9, mpq(5))
    with pytest.raises(OSError) as info:
        servo.sample(mpq(2), 2 * 10**9, mpq(7))  # the second sample sets the frequency
    assert info.value.errno == errno.EPERM
