"""Exact integer rounding of rationals.

`gmpy2.floor`, `gmpy2.ceil` and `gmpy2.rint` applied to an `mpq` go through a 53-bit float and
are wrong past 2^53 (`floor(mpq(2**60 + 1)) != 2**60 + 1`).  Counter values, nanosecond
timestamps and cycle keys are far beyond that, so every rational-to-integer step in the
engine goes through these three functions instead.
"""

from __future__ import annotations

from gmpy2 import mpq


def floor_q(value: object) -> int:
    """The largest integer ≤ `value` (an int, mpq or anything mpq accepts), exactly."""
    q = mpq(value)
    return int(q.numerator // q.denominator)


def ceil_q(value: object) -> int:
    """The smallest integer ≥ `value`, exactly."""
    q = mpq(value)
    return -int((-q.numerator) // q.denominator)


def round_q(value: object) -> int:
    """The nearest integer to `value`, ties to even (as `rint`), exactly."""
    q = mpq(value)
    down = floor_q(q)
    rest = q - down
    if rest > mpq(1, 2) or (rest == mpq(1, 2) and down % 2):
        return down + 1
    return down
