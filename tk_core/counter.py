"""The host's 64-bit extended cycle count over a narrow, wrapping counter.

A real kernel never widens the hardware counter inside timekeeping: it keeps `cycle_last` and
takes masked differences, and relies on sampling more often than the counter wraps.  Giving
every namespace its own timekeeper (most of them idle most of the time) breaks that reliance,
so the host keeps one extended count for all of them: extended = last extended + the masked
difference since the last sample.  Like the kernel's masked delta, this is only right if the
host samples at least once per wrap; if it does not, exactly one wrap (or more) of time is
lost, as a kernel would lose it.  The host guards against that with a timer at the
clocksource's max_idle_ns (see `Host`).
"""

from __future__ import annotations


class ExtendedCounter:
    """Extends raw `bits`-wide readings to a monotonically increasing 64-bit count.

    Reading is pure (`peek`); only `sample` moves the reference point, so whether wraps are
    lost depends on how often the host samples, not on who happens to read a clock.
    """

    __slots__ = ("last_ext", "last_raw", "mask", "max_delta", "samples")

    def __init__(self, mask: int, raw: int, max_delta: int | None = None) -> None:
        self.mask = mask
        self.max_delta = mask if max_delta is None else max_delta
        self.last_raw = raw & mask
        self.last_ext = raw & mask
        self.samples = 0

    def delta(self, raw: int) -> int:
        """`clocksource_delta` (v6.13+): the masked difference, or 0 beyond `max_delta`.

        A difference above max_raw_delta (7/8 of the range) is taken as the counter having
        gone backwards and counts as no progress, so an unsampled counter stalls near the end
        of a wrap instead of running on into the next one — exactly as the kernel reads it.
        """
        d = (raw - self.last_raw) & self.mask
        return 0 if d > self.max_delta else d

    def peek(self, raw: int) -> int:
        """The extended value for `raw`, assuming less than one wrap since the last sample."""
        return self.last_ext + self.delta(raw)

    def sample(self, raw: int) -> int:
        """Take `raw` as the new reference point and return its extended value.

        A reading refused by `delta` leaves the reference point where it was, as the kernel
        leaves cycle_last: time resumes from there once the counter comes round again.
        """
        d = self.delta(raw)
        self.samples += 1
        if d:
            self.last_ext += d
            self.last_raw = raw & self.mask
        return self.last_ext

    def to_dict(self) -> dict[str, int]:
        return {"mask": self.mask, "last_raw": self.last_raw, "last_ext": self.last_ext,
                "max_delta": self.max_delta}

    @classmethod
    def from_dict(cls, d: dict[str, int]) -> ExtendedCounter:
        c = cls(int(d["mask"]), int(d["last_raw"]), int(d.get("max_delta", d["mask"])))
        c.last_ext = int(d["last_ext"])
        return c
