"""Adaptive polling of the NTP client models (ntp.polling): chronyd's poll score, ntpd's counter.

The rules are checked two ways: step by step against an independent transcription of the
daemons' formulas in plain Fractions, and end to end — a client on a quiet path lengthens its
interval to maxpoll, a client whose clock jumps shortens it again, and without minpoll/maxpoll
the interval never moves (the models behave exactly as before adaptive polling existed).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from gmpy2 import mpq
from hypothesis import given
from hypothesis import strategies as st

from ntp.discipline import ChronyClient, NtpdClient, PathModel, ReferenceServer
from ntp.polling import ChronyPoll, NtpdPoll, check_range
from tk_core import Clocksource, Host
from tk_core.daemon import NtpDaemon

NSEC = 1_000_000_000
EPOCH = 1_496_275_200  # 2017-06-01, no leap near


def chrony_reference(poll: int, score: Fraction, lo: int, hi: int, error: Fraction,
                     distance: Fraction, samples: int, target: int = 8) -> tuple[int, Fraction]:
    """chronyd's get_poll_adj + adjust_poll, transcribed with C's truncating (int)."""
    def c_int(x: Fraction) -> int:
        return int(x)  # Python's int() of a Fraction truncates toward zero, as C does

    if error > distance:
        temp = c_int(error / distance)
        shift = 0
        while True:  # the daemon's do { shift++; temp >>= 1; } while (temp);
            shift += 1
            temp >>= 1
            if not temp:
                break
        adj = -shift - score + Fraction(1, 2)
    else:
        adj = (Fraction(samples, target) - 1) / target
        if samples < target:
            adj *= 2
    score += adj
    if score >= 1:
        poll += c_int(score)
        score -= c_int(score)
    if score < 0:
        poll += c_int(score - 1)
        score -= c_int(score - 1)
    if poll < lo:
        poll, score = lo, Fraction(0)
    elif poll > hi:
        poll, score = hi, Fraction(1)
    return poll, score


steps = st.lists(
    st.tuples(st.integers(0, 10**7), st.integers(1, 10**6), st.integers(1, 64)),
    min_size=1, max_size=40,
)


@given(st.integers(0, 8), st.integers(0, 9), steps)
def test_chrony_poll_matches_the_daemons_rule(lo: int, span: int, seq: list) -> None:
    hi = min(17, lo + span)
    poller = ChronyPoll(lo, lo, hi)
    poll, score = lo, Fraction(0)
    for error, distance, samples in seq:
        got = poller.adjust(poller.adjustment(mpq(error), mpq(distance), samples))
        poll, score = chrony_reference(poll, score, lo, hi, Fraction(error), Fraction(distance),
                                       samples)
        assert got == poll and Fraction(int(poller.score.numerator),
                                        int(poller.score.denominator)) == score
        assert lo <= got <= hi


@given(st.integers(0, 8), st.integers(0, 9),
       st.lists(st.integers(-10**7, 10**7), min_size=1, max_size=80))
def test_ntpd_poll_matches_the_daemons_rule(lo: int, span: int, offsets: list[int]) -> None:
    hi = min(17, lo + span)
    poller = NtpdPoll(lo, lo, hi, precision_ns=60)
    poll, counter, jitter2, last = lo, 0, 3600, Fraction(0)
    for off in offsets:
        diff = max(abs(off - last), Fraction(60))
        jitter2 = int(jitter2 + (diff * diff - jitter2) / 8)
        last = Fraction(off)
        if off * off < 16 * jitter2:
            counter += poll
            if counter > 30:
                counter = 30
                if poll < hi:
                    counter, poll = 0, poll + 1
        else:
            counter -= 2 * poll
            if counter < -30:
                counter = -30
                if poll > lo:
                    counter, poll = 0, poll - 1
        assert poller.update(mpq(off)) == poll
        assert poller.counter == counter and poller.jitter2 == jitter2


def test_range_is_checked() -> None:
    assert check_range(6, None, None) == (6, 6)
    assert check_range(6, 4, 10) == (4, 10)
    for args in ((6, 7, None), (6, None, 5), (18, None, None), (6, -1, 10)):
        with pytest.raises(ValueError):
            check_range(*args)
    with pytest.raises(ValueError):
        ChronyClient(poll_exp=6, minpoll=7)


def test_a_scenario_with_a_reversed_poll_range_is_refused_clearly() -> None:
    from tk_core.scenario import load_text
    from tk_core.scenario.errors import ScenarioError

    text = (
        '[scenario]\nname = "p"\nduration = "1min"\n'
        '[[namespaces]]\nname = "c"\n'
        'ntp = { model = "chrony", poll_exp = 6, minpoll = 8, maxpoll = 10 }\n'
    )
    with pytest.raises(ScenarioError) as info:
        load_text(text)
    assert "expected minpoll ≤ poll_exp ≤ maxpoll, found 8 ≤ 6 ≤ 10" in info.value.render()


def run_client(client, hours: int, *, jitter: int = 20_000, kick_at_h: int | None = None):
    """A client on a quiet path; returns its poll exponent at every hour."""
    host = Host(clocksource=Clocksource(2_000_000_000, 64, error_ppm=20), realtime_ns=EPOCH * NSEC)
    ns = host.create_namespace("client")
    daemon = NtpDaemon(ns, client, ReferenceServer(), PathModel(jitter_ns=jitter), seed=3,
                       epoch_unix=EPOCH)
    daemon.start()
    polls = []
    for hour in range(hours):
        if kick_at_h is not None and hour == kick_at_h:
            from ntp import ADJ_NANO, ADJ_SETOFFSET, Timex
            ns.adjtimex(Timex(modes=ADJ_SETOFFSET | ADJ_NANO, time=(0, 50_000_000)))
        host.run_for(3600 * NSEC)
        polls.append(client.poll_exp)
    return polls, daemon


@pytest.mark.parametrize("model", [ChronyClient, NtpdClient])
def test_quiet_path_lengthens_the_interval_to_maxpoll(model) -> None:
    # chronyd: +1 every 8 samples once 8 are held (about 2.1 h to reach 10);
    # ntpd: +1 each time the counter passes 30 (about 1.1 h)
    polls, daemon = run_client(model(poll_exp=6, minpoll=6, maxpoll=10), 6)
    assert polls[-1] == 10 and polls == sorted(polls)
    # far fewer polls than a fixed 64 s interval would have sent
    assert daemon.polls < 6 * 3600 // 64 // 2


def test_a_clock_jump_shortens_chronys_interval_again() -> None:
    # The new offset misses the regression's prediction by far more than the peer distance,
    # so the score drops by the bit length of the ratio at once.  (ntpd does not react to
    # one jump: the jump raises its jitter estimate with it, and the PLL has removed the
    # offset before the jitter decays — its rule is checked step by step above.)
    polls, _ = run_client(ChronyClient(poll_exp=6, minpoll=6, maxpoll=10), 7, kick_at_h=4)
    assert polls[3] == 10
    assert min(polls[4:]) < 10


@pytest.mark.parametrize("model", [ChronyClient, NtpdClient])
def test_without_a_range_the_interval_never_moves(model) -> None:
    client = model(poll_exp=6)
    polls, daemon = run_client(client, 3, kick_at_h=2)
    assert set(polls) == {6} and client.poller is None
    assert daemon.polls == pytest.approx(3 * 3600 / 64, abs=2)
