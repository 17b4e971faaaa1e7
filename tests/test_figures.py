"""tk_core.figures: inline SVG that embeds in HTML and is the same text on every run."""

from __future__ import annotations

from tk_core.figures import inline_svg, subplots


def _drawing() -> str:
    fig, ax = subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [0, 1, 0], label="a line")
    ax.legend()
    return inline_svg(fig)


def test_inline_svg_is_one_svg_element_without_prolog() -> None:
    svg = _drawing()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg


def test_same_drawing_same_bytes() -> None:
    assert _drawing() == _drawing()
