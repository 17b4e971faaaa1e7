"""report.html: one self-contained page (plots embedded as base64) a researcher can mail.

No scripts, no external files: the summary table, the host statistics, the checks, every
plot, and the resolved scenario that reproduces the run.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from . import table

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f0f0f0} td:first-child,th:first-child{text-align:left}
.ok{color:#176b2c}.bad{color:#a11}img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:.85em}
"""


def _table(headers: list[str] | tuple[str, ...], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _checks(summary: dict[str, Any]) -> str:
    checks = summary["checks"]
    if checks["ok"]:
        return (
            '<p class="ok">All checks passed: no early timer fires, MONOTONIC never '
            "went backwards, every event did what the scenario expected.</p>"
        )
    items = "".join(
        f"<li>{html.escape(p)}</li>" for p in checks["problems"] + checks["event_failures"]
    )
    return f'<p class="bad">Problems found:</p><ul class="bad">{items}</ul>'


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _warnings(summary: dict[str, Any]) -> str:
    """What the run could not do as asked (a policy adjtimex cannot follow, …)."""
    items = summary.get("warnings") or []
    if not items:
        return ""
    body = "".join(f"<li>{html.escape(w)}</li>" for w in items)
    return f'<h2>Warnings</h2><ul class="bad">{body}</ul>'


def write_report(
    out: Path, summary: dict[str, Any], timing: dict[str, Any], plots: list[str], resolved_toml: str
) -> None:
    """Write OUT/report.html."""
    title = html.escape(f"timekeepers: {summary['scenario']}")
    host = [[k, v] for k, v in table.host_lines(summary, timing)]
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>",
        f"<style>{_CSS}</style></head><body><h1>{title}</h1>",
        f"<p>{html.escape(summary['description'])}</p>",
        _checks(summary),
        _warnings(summary),
        "<h2>Namespaces</h2>",
        _table(table.headers(summary), table.rows(summary)),
        "<h2>Host</h2>",
        _table(["what", "value"], host),
        "<h2>Plots</h2>",
        *(_image(out / name) for name in plots),
        "<h2>Resolved scenario (reproduces this run)</h2>",
        f"<pre>{html.escape(resolved_toml)}</pre>",
        "</body></html>",
    ]
    (out / "report.html").write_text("\n".join(parts), "utf-8")
