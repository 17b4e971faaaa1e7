"""How every plot looks: series styles, axis scale choice and legend placement.

Shared by the run plots (`scenario.plots`) and the sweep report (`sweep.report`) so a
namespace is drawn the same way everywhere and no plot grows its own rules.

* Styles: ten colours (matplotlib's tab10) combined with four dash patterns and seven
  markers, stepped at different rates, so the first 140 series all differ in at least one
  of colour, dash and marker, and any two of the first 20 differ in colour or dash.
* Scales: `choose_scale` looks at the values.  When their magnitudes span more than three
  decades (a decay, a few huge rates beside small ones) a linear axis would flatten all
  but the largest, so it picks log (all values > 0) or symlog, with the linear part sized
  to the small values that matter.
* Legends go outside the axes (below the figure), so they never cover data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)
DASHES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "v", "D", "x", "+")
#: Magnitudes spanning more decades than this get a log/symlog axis.
DECADES = 3.0
#: Magnitudes below this fraction of the largest are residue, not range.
NOISE = 1e-6
#: Markers drawn per line (sparse: they label the line, they are not the data).
MARKS_PER_LINE = 12


@dataclass(frozen=True)
class SeriesStyle:
    """Colour, dash and marker of the i-th series."""

    color: str
    linestyle: str
    marker: str

    def kwargs(self, points: int, index: int) -> dict[str, Any]:
        """matplotlib line keywords; markers spaced so they do not pile up on each other."""
        every = max(points // MARKS_PER_LINE, 1)
        start = (index * max(every // 7, 1)) % every  # offset per series: no stacked marks
        return {
            "color": self.color,
            "linestyle": self.linestyle,
            "marker": self.marker,
            "markevery": (start, every),
            "markersize": 4,
            "markerfacecolor": "none",
        }


def series_style(index: int) -> SeriesStyle:
    """The style of series number `index` (0-based), the same in every plot."""
    return SeriesStyle(
        COLOURS[index % len(COLOURS)],
        DASHES[index % len(DASHES)],
        MARKERS[index % len(MARKERS)],
    )


@dataclass(frozen=True)
class Scale:
    """An axis scale: 'linear', 'log' or 'symlog' (with its linear threshold)."""

    kind: str
    linthresh: float = 1.0

    def apply(self, ax: Any, axis: str = "y") -> None:
        setter = ax.set_yscale if axis == "y" else ax.set_xscale
        if self.kind == "symlog":
            setter("symlog", linthresh=self.linthresh)
        else:
            setter(self.kind)

    def note(self, unit: str) -> str:
        """What a reader must know about the axis ('' for a linear one)."""
        if self.kind == "symlog":
            return f"y axis: linear within ±{self.linthresh:g} {unit}, log beyond"
        if self.kind == "log":
            return "y axis: log scale"
        return ""


def choose_scale(values: Iterable[float | int | None], noise: float = NOISE) -> Scale:
    """Linear unless the nonzero magnitudes span more than `DECADES` decades.

    The span is measured from the 10th percentile of the magnitudes to the largest, leaving
    out those below `noise` times the largest (by default a millionth: in a run's samples
    those are rounding and tracking residues, nanoseconds beside a second), so residues
    never force a log axis.  Summary metrics (the sweep report) pass 0: every value counts.
    All-positive data gets a log axis; data with zeros or both signs gets symlog whose
    linear part ends at that 10th percentile (rounded down to a power of ten).
    """
    present = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    peak = max((abs(v) for v in present), default=0.0)
    mags = sorted(abs(v) for v in present if abs(v) > peak * noise and v != 0)
    if not mags:
        return Scale("linear")
    low = mags[(len(mags) - 1) // 10]
    if mags[-1] / low <= 10**DECADES:
        return Scale("linear")
    if all(v > 0 for v in present):
        return Scale("log")
    return Scale("symlog", 10.0 ** math.floor(math.log10(low)))


def legend_below(fig: Any, handles: list[Any], labels: list[str]) -> float:
    """A legend under the axes, never over data; returns the figure fraction it takes."""
    if not handles:
        return 0.0
    ncol = min(len(labels), 6)
    rows = math.ceil(len(labels) / ncol)
    height_in = float(fig.get_size_inches()[1])
    frac = min(0.4, (0.28 * rows + 0.25) / height_in)
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize="small",
               frameon=False, bbox_to_anchor=(0.5, 0.0))
    return frac
