"""How late timers fire, kept in constant memory: a log2 histogram with count, sum and max.

A long run fires millions of timers; one list entry per fire would grow without bound, and
researchers want the distribution (how many fires were 1–2 µs, 2–4 µs … late), its tail and
its worst case, all of which a histogram gives exactly (the buckets are powers of two of ns).
"""

from __future__ import annotations


class LatenessHistogram:
    """Lateness of timer fires in ns: bucket k holds values v with v.bit_length() == k."""

    __slots__ = ("buckets", "count", "max_ns", "total_ns")

    def __init__(self) -> None:
        self.buckets = [0] * 65
        self.count = 0
        self.total_ns = 0
        self.max_ns = 0

    def append(self, late_ns: int) -> None:
        """Record one fire (``late_ns`` ≥ 0; the never-early promise keeps it so)."""
        self.buckets[min(64, max(0, late_ns).bit_length())] += 1
        self.count += 1
        self.total_ns += late_ns
        if late_ns > self.max_ns:
            self.max_ns = late_ns

    def __len__(self) -> int:
        return self.count

    def as_dict(self) -> dict[str, int]:
        """Non-empty buckets as {"lo..hi ns": count}, for reports."""
        out: dict[str, int] = {}
        for k, n in enumerate(self.buckets):
            if n:
                lo, hi = (0, 0) if k == 0 else (1 << (k - 1), (1 << k) - 1)
                out[f"{lo}..{hi}"] = n
        return out

    def __repr__(self) -> str:
        return f"LatenessHistogram(count={self.count}, max_ns={self.max_ns})"
