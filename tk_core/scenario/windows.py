"""Where the plots zoom in: around every leap second and every event, besides the full run.

A 36 h run draws a leap second's 1 s step and a 1000 s smear as one vertical line; the zoom
panels show them at a scale where they can be read.  Pure functions of the run's times
(true seconds from the start), so the choice is tested without drawing.

* A leap gets a window of ±(smear window + a margin) for each scale of the smears around it
  (a 2 s, a 1000 s and a 24 h smear each get one).  Margin: a fifth of the window, and never
  less than five samples, so each panel has points to draw.  A leap with no smear near it
  gets ±5 samples.
* An event gets ±(a fiftieth of the run, at least ten samples); events this close together
  share one window.
* A window that would cover most of the run adds nothing to the full panel and is dropped,
  and so is one whose centre (its leap or event) an earlier window already shows at a
  similar scale (widths within a factor of two).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Windows covering more than this fraction of the run are left to the full panel.
MOST_OF_RUN = 0.8
#: A leap's windows whose half-widths are within this factor of each other share one panel.
NARROW_RATIO = 4.0
_NEAR_S = 2 * 86_400
#: At most this many zoom panels per figure (the rest are named in a note).
MAX_WINDOWS = 6


@dataclass(frozen=True)
class Window:
    """A zoom panel: [start, end] in true seconds from the run's start, centred on `centre`."""

    start: float
    end: float
    centre: float
    label: str

    @property
    def half(self) -> float:
        return max(self.centre - self.start, self.end - self.centre)


def leap_windows(
    leap_s: float, label: str, smears: list[tuple[float, float]], sample_s: float
) -> list[Window]:
    """The zoom windows for one leap, one per scale of the smears around it.

    `smears` are smear windows (start, end); those within two days of the leap count.  Their
    half-widths (reach from the leap + margin) are grouped while within `NARROW_RATIO` of
    the group's smallest, and each group gets a window of its largest, so a 2 s, a 1000 s and a
    24 h smear each get a panel they can be read in.
    """
    near = [(a, b) for a, b in smears if b >= leap_s - _NEAR_S and a <= leap_s + _NEAR_S]
    reaches = {max(leap_s - a, b - leap_s, 0.0) for a, b in near} | {0.0}
    halves: list[float] = []
    first = 0.0  # the smallest half-width of the group being built
    for half in sorted(max(r * 1.2, r + 5 * sample_s) for r in reaches):
        if halves and half <= NARROW_RATIO * first:
            halves[-1] = half
        else:
            halves.append(half)
            first = half
    return [Window(leap_s - h, leap_s + h, leap_s, label) for h in halves]


def event_windows(events: list[tuple[float, str]], run_s: float, sample_s: float) -> list[Window]:
    """One window per event, merged where they overlap (labels joined)."""
    half = max(run_s / 50, 10 * sample_s)
    merged: list[Window] = []
    for t, label in sorted(events):
        if merged and t - half <= merged[-1].end:
            last = merged[-1]
            joined = last.label if label in last.label.split("; ") else f"{last.label}; {label}"
            centre = (last.start + t + half) / 2
            merged[-1] = Window(last.start, t + half, centre, joined)
        else:
            merged.append(Window(t - half, t + half, t, label))
    return merged


def _covers(other: Window, new: Window) -> bool:
    """`other` already shows what `new` is about (its centre) at about its scale (widths
    within a factor of two)."""
    ratio = (other.end - other.start) / (new.end - new.start)
    return other.start <= new.centre <= other.end and 0.5 <= ratio <= 2


def zoom_windows(
    leaps: list[tuple[float, str]],
    smears: list[tuple[float, float]],
    events: list[tuple[float, str]],
    run_s: float,
    sample_s: float,
) -> list[Window]:
    """Every zoom panel of a run, leaps first, each clipped to the run and not near-full."""
    found = [w for t, label in leaps for w in leap_windows(t, label, smears, sample_s)]
    found += event_windows(events, run_s, sample_s)
    out: list[Window] = []
    for w in found:
        start, end = max(w.start, 0.0), min(w.end, run_s)
        if end <= start or (end - start) > MOST_OF_RUN * run_s:
            continue
        clipped = Window(start, end, min(max(w.centre, start), end), w.label)
        if not any(_covers(other, clipped) for other in out):
            out.append(clipped)
    return out
