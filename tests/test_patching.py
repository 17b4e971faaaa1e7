"""patch_time invariants: MONOTONIC never backwards, restored == original, threads serialise."""

from __future__ import annotations

import datetime
import threading
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from tk_core import CLOCK_REALTIME, Host, patch_time

START = 1_483_228_700 * 10**9


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5_000), st.integers(-10**12, 10**12)), max_size=8))
def test_monotonic_never_backwards_whatever_realtime_does(steps: list[tuple[int, int]]) -> None:
    host = Host(realtime_ns=START)
    ns = host.create_namespace("t")
    ns.follow("step")
    with patch_time(ns):
        last = time.monotonic_ns()
        for sleep_ms, jump in steps:
            time.sleep(sleep_ms / 1000)
            ns.clock_settime_ns(CLOCK_REALTIME, max(0, time.time_ns() + jump))
            now = time.monotonic_ns()
            assert now >= last + sleep_ms * 10**6
            last = now


def test_everything_restored_after_the_patch() -> None:
    before = (time.time, time.monotonic, time.sleep, datetime.datetime, datetime.date)
    ns = Host(realtime_ns=START).create_namespace("t")
    try:
        with patch_time(ns, sleep="frozen"):
            assert time.time() == START / 10**9
            raise KeyError("body fails")
    except KeyError:
        pass
    assert (time.time, time.monotonic, time.sleep, datetime.datetime, datetime.date) == before


def test_sleeping_threads_advance_one_after_another() -> None:
    ns = Host(realtime_ns=START).create_namespace("t")
    with patch_time(ns):
        m0 = time.monotonic_ns()
        threads = [threading.Thread(target=time.sleep, args=(1,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert time.monotonic_ns() - m0 == 2 * 10**9
