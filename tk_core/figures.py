"""Figures as inline SVG text, for pages that draw from the engine while they build.

The documentation site's tutorials run the engine at build time (markdown-exec) and print
their figures straight into the page, so no picture is ever checked in and none can go stale.
This module is the one place that knows how: matplotlib's Agg backend (no display needed),
and SVG output made reproducible (a fixed hash salt, no creation date), so the same build
writes the same bytes.  Floats appear only here, never in the engine.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

_SALT = "timekeepers"


def subplots(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """`matplotlib.pyplot.subplots` on the Agg backend: (figure, axes)."""
    return plt.subplots(*args, **kwargs)


def inline_svg(fig: Any) -> str:
    """The figure as an `<svg>` element ready to embed in HTML; closes the figure.

    The XML prolog and DOCTYPE are dropped (they are not allowed inside an HTML body), and
    the element ids and metadata are fixed, so two runs give identical text.
    """
    fig.tight_layout()
    buffer = io.StringIO()
    with plt.rc_context({"svg.hashsalt": _SALT}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


class SvgFigure(str):
    """An inline SVG that a notebook shows as a picture: the last value of a cell.

    Jupyter renders an object by its ``_repr_html_``; in a plain Python run of the same
    notebook source nothing is shown, so the notebooks need no IPython import.
    """

    __slots__ = ()

    def _repr_html_(self) -> str:
        return str(self)


def show(fig: Any) -> SvgFigure:
    """The figure as an `SvgFigure` (see `inline_svg`): end a notebook cell with it."""
    return SvgFigure(inline_svg(fig))
