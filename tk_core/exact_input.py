"""A number a caller hands the engine, turned into the exact rational it means.

Why a module of its own: the engine keeps true time, rates and frequency errors as `mpq`, and
`mpq()` itself is a poor front door.  It takes a float at its binary value (`mpq(0.1)` is
3602879701896397/36028797018963968, not 1/10), it takes `True` as 1, and a bad string fails
with gmpy2's bare "invalid digits", which names neither the argument nor what was expected.
So every public call that takes a rational (`Clocksource(error_ppm=...)`,
`Host.create_namespace(dilation=...)`, `Host.run_for`, ...) reads it here, by one rule:

* int, `fractions.Fraction` and `mpq` are taken as they are;
* a float is read through its shortest decimal spelling (`repr`), so `12.5` and `0.1` mean
  what was written, which is how a TOML scenario reads them too; NaN and infinities are refused;
* a string is a decimal or a fraction (`"-3.5"`, `"1/3"`, `"1_000"`);
* a bool, or anything else, is refused.

Errors are `ValueError` (a bad value) or `TypeError` (a bad type) whose message starts with
what the caller called the argument.
"""

from __future__ import annotations

from fractions import Fraction

from gmpy2 import mpq, mpz

MPQ = type(mpq(0))
MPZ = type(mpz(0))
EXAMPLES = "such as 12, '-3.5' or '1/3'"


def exact_rational(value: object, name: str = "", what: str = "number") -> mpq:
    """`value` as the exact rational it means (see the module docstring for the rule).

    `name` starts the error message (``"Clocksource error_ppm"``); `what` says what was
    expected (``"rate"``).
    """
    if isinstance(value, MPQ):
        return value
    if isinstance(value, int | Fraction | MPZ) and not isinstance(value, bool):
        return mpq(value)
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return mpq(Fraction(repr(value)))
    if isinstance(value, str) and value.isascii():
        try:
            return mpq(Fraction(value.strip().replace("_", "")))
        except (ValueError, ZeroDivisionError):
            pass
    prefix = f"{name}: " if name else ""
    if isinstance(value, float):
        raise ValueError(f"{prefix}expected a finite {what}, found {value!r}")
    if isinstance(value, str):
        spelling = EXAMPLES if value.isascii() else "written with ASCII digits"
        raise ValueError(f"{prefix}expected a {what} {spelling}, found {value!r}")
    found = f"a boolean ({value!r})" if isinstance(value, bool) else (
        f"{type(value).__name__} {value!r}")
    raise TypeError(f"{prefix}expected a {what}, found {found}")
