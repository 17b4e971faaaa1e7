"""adjtimex from a real program: marshalled field by field into the engine's adjtimex.

A sequence of calls made by the C program on a namespace must give exactly what the same
calls give on the engine for a namespace in the same state: the return value (clock state),
the errno of a refused call, and every field of struct timex written back.
"""

from __future__ import annotations

import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st
from shim_support import START_NS, bin_dir, needs_cc, probe, run_one  # noqa: F401

from ntp.timex import (
    ADJ_ESTERROR,
    ADJ_FREQUENCY,
    ADJ_MAXERROR,
    ADJ_MICRO,
    ADJ_NANO,
    ADJ_OFFSET,
    ADJ_OFFSET_SINGLESHOT,
    ADJ_OFFSET_SS_READ,
    ADJ_SETOFFSET,
    ADJ_STATUS,
    ADJ_TAI,
    ADJ_TICK,
    ADJ_TIMECONST,
    Timex,
)
from tk_core import Host
from tk_shim.syscalls import timex_fields

pytestmark = needs_cc

FLAGS = [ADJ_OFFSET, ADJ_FREQUENCY, ADJ_MAXERROR, ADJ_ESTERROR, ADJ_STATUS, ADJ_TIMECONST,
         ADJ_TAI, ADJ_SETOFFSET, ADJ_MICRO, ADJ_NANO, ADJ_TICK]
LONG = st.one_of(st.integers(-(10**6), 10**6), st.integers(-(2**40), 2**40))
modes = st.one_of(
    st.lists(st.sampled_from(FLAGS), max_size=4).map(lambda fs: sum(set(fs))),
    st.sampled_from([0, ADJ_OFFSET_SINGLESHOT, ADJ_OFFSET_SS_READ]),
)
timex_in = st.tuples(
    modes, LONG, st.integers(-(600 << 16), 600 << 16), LONG, LONG,
    st.sampled_from([0, 1, 0x40, 0x11, 0x2001, 0x41]), st.integers(-2, 12), LONG, LONG,
    st.integers(-3, 3), st.integers(-1_000_001, 1_000_001), st.integers(9000, 11000),
    LONG, LONG, st.integers(-5, 5), LONG, LONG, LONG, LONG, LONG, st.integers(-3, 40),
)


def engine_results(calls: list[tuple[int, ...]], caps: frozenset[str]) -> list[list[int]]:
    """The same calls on the engine: a host and namespace built as the test builds them."""
    task = Host(realtime_ns=START_NS).create_namespace("t").spawn(caps)
    out = []
    for f in calls:
        tx = Timex(modes=f[0], offset=f[1], freq=f[2], maxerror=f[3], esterror=f[4],
                   status=f[5], constant=f[6], precision=f[7], tolerance=f[8],
                   time=(f[9], f[10]), tick=f[11], ppsfreq=f[12], jitter=f[13], shift=f[14],
                   stabil=f[15], jitcnt=f[16], calcnt=f[17], errcnt=f[18], stbcnt=f[19],
                   tai=f[20])
        try:
            state, err = task.adjtimex(tx), 0
            fields = timex_fields(tx)
        except OSError as exc:
            state, err, fields = -1, exc.errno, list(f)
        out.append([state, err, *fields])
    return out


def program_results(probe, calls, caps) -> list[list[int]]:  # noqa: F811
    with tempfile.TemporaryFile() as stdin:
        stdin.write("".join(" ".join(map(str, c)) + "\n" for c in calls).encode())
        stdin.seek(0)
        prog, _ = run_one([str(probe), "adjtimex"], stdin=stdin, caps=caps)
    assert prog.returncode == 0, (prog.stderr, prog.error)
    return [[int(v) for v in line.split()] for line in prog.stdout.decode().splitlines()]


@settings(max_examples=6, deadline=None)
@given(st.lists(timex_in, min_size=1, max_size=25), st.booleans())
def test_adjtimex_round_trip_matches_the_engine(probe, calls, privileged):  # noqa: F811
    caps = frozenset({"CAP_SYS_TIME"}) if privileged else frozenset()
    assert program_results(probe, calls, caps) == engine_results(calls, caps)


def test_unprivileged_program_gets_eperm(probe):  # noqa: F811
    call = (ADJ_FREQUENCY, 0, 10 << 16, *([0] * 8), 10000, *([0] * 9))
    [[state, err, *_]] = program_results(probe, [call], frozenset())
    assert (state, err) == (-1, 1)
