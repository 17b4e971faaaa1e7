"""Reading a finished (or partial) sweep folder back: its manifest and its tidy table.

`timekeepers show SWEEP` and notebooks use this; a folder whose run was interrupted still
reads, with the manifest saying it is partial.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..scenario.errors import input_error
from .axes import SEED_KEY
from .execute import MANIFEST
from .table import KEY_METRICS

if TYPE_CHECKING:
    import pandas as pd


def is_sweep_folder(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def read_sweep(folder: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """The manifest and the table of a sweep folder (a clear error if it is not one)."""
    import pandas as pd

    try:
        manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError) as err:
        raise input_error(str(folder / MANIFEST), f"is not a readable sweep manifest: {err}") \
            from None
    if not isinstance(manifest, dict) or "points" not in manifest or "axes" not in manifest:
        raise input_error(str(folder / MANIFEST), "is not a timekeepers sweep manifest")
    table = folder / "sweep.parquet"
    if table.is_file():
        df = pd.read_parquet(table)
    elif (folder / "sweep.csv").is_file():
        df = pd.read_csv(folder / "sweep.csv")
    else:
        df = pd.DataFrame()
    return manifest, df


def grouped(manifest: dict[str, Any], df: pd.DataFrame) -> tuple[list[str], list[list[Any]]]:
    """One row per (setting of the non-seed axes, namespace): seeds, median and max metrics."""
    keys = [k for axis in manifest["axes"] for k in axis["keys"]
            if k != SEED_KEY and len(axis["values"]) > 1]
    metrics = [m for m in KEY_METRICS[:4] if m in df.columns]
    if df.empty:
        return [*keys, "namespace", "runs"], []
    by = [*keys, "namespace"]
    out = []
    for values, sub in df.groupby(by, sort=False, dropna=False):
        row: list[Any] = list(values) if isinstance(values, tuple) else [values]
        row.append(len(sub))
        for m in metrics:
            col = sub[m].dropna().astype(float)
            row += [col.median() if len(col) else None, col.max() if len(col) else None]
        out.append(row)
    short = [short_key(k) for k in keys]
    headers = [*short, "namespace", "runs"] + [
        f"{METRIC_LABELS.get(m, m)} {stat}" for m in metrics for stat in ("median", "max")
    ]
    return headers, out


#: Column titles for the terminal (the table itself keeps the full metric names).
METRIC_LABELS = {
    "offset_utc_ns_max_abs": "max|off| UTC",
    "offset_utc_ns_rms": "RMS off UTC",
    "offset_reference_ns_max_abs": "max|off| ref",
    "freq_ppm_max_abs_deviation": "max|freq dev|",
}


def short_key(key: str) -> str:
    """An axis key's last part for narrow columns (`namespaces[name=c].ntp.poll_exp`: poll_exp)."""
    return key.rsplit(".", 1)[-1] if "]" not in key.rsplit(".", 1)[-1] else key
