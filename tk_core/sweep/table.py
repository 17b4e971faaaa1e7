"""The sweep's tidy table: one row per (point, namespace), axis values beside every metric.

Columns, left to right: `point` (its index), `point_id` (its content address), one column per
axis key (named by the key, `seed` for the seed), `namespace`, `policy` (the namespace's
leap policy), then every metric of summary.json's namespace entry flattened with `_`
(`offset_utc_ns_max_abs`, `timers_lateness_ns_p99`, …) and the run's `checks_ok`.  pandas
reads it as is; Parquet keeps the types, CSV is for everything else.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from .spec import Point

#: Metrics the report and `timekeepers show` summarise (when present in the table).
KEY_METRICS = (
    "offset_utc_ns_max_abs",
    "offset_utc_ns_rms",
    "offset_reference_ns_max_abs",
    "freq_ppm_max_abs_deviation",
    "realtime_backward_steps",
    "timers_lateness_ns_max",
)


def flatten(entry: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested metrics → flat columns (`{"a": {"b": 1}}` → `{"a_b": 1}`)."""
    out: dict[str, Any] = {}
    for key, value in entry.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= flatten(value, f"{name}_")
        else:
            out[name] = value
    return out


def namespace_policy(data: dict[str, Any], name: str) -> str:
    """A namespace's leap policy as the scenario gave it ('step' when it says nothing)."""
    if name == "root":
        host = data.get("host", {})
        return str(host.get("leap", "step")) if isinstance(host, dict) else "step"
    for spec in data.get("namespaces", []):
        if not isinstance(spec, dict):
            continue
        spec_name = str(spec.get("name"))
        if name == spec_name or name.startswith(f"{spec_name}-"):
            if spec.get("model") == "offsets":
                return "offsets"
            leap = spec.get("leap", "step")
            if isinstance(leap, dict):
                return str(leap.get("shape") or leap.get("policy", "step"))
            return str(leap)
    return "step"


def rows(point: Point, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The table rows of one finished point."""
    head = {"point": point.index, "point_id": point.id}
    head |= {key: _cell(value) for key, value in point.params.items()}
    ok = summary.get("checks", {}).get("ok")
    out = []
    for name, entry in summary.get("namespaces", {}).items():
        row = head | {"namespace": name, "policy": namespace_policy(point.data, name)}
        row |= flatten(entry)
        row["checks_ok"] = ok
        out.append(row)
    return out


def _cell(value: Any) -> Any:
    """Axis values as table cells: scalars stay, anything else becomes its text."""
    return value if isinstance(value, int | float | str | bool) else str(value)


def frame(all_rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """The rows as a DataFrame with the documented column order."""
    import pandas as pd

    df = pd.DataFrame(all_rows)
    if df.empty:
        return pd.DataFrame(columns=["point", "point_id", *columns, "namespace", "policy"])
    for column in df.columns:
        kinds = {type(v) for v in df[column].dropna()}
        if len(kinds) > 1 and not kinds <= {int, float}:
            df[column] = df[column].map(lambda v: None if v is None else str(v))
    return df


def write(df: pd.DataFrame, folder: Path) -> list[Path]:
    """sweep.parquet and sweep.csv (each written beside, then moved into place)."""
    paths = []
    for name, writer in (("sweep.parquet", _parquet), ("sweep.csv", _csv)):
        path = folder / name
        tmp = folder / f".{name}.tmp"
        writer(df, tmp)
        tmp.replace(path)
        paths.append(path)
    return paths


def _parquet(df: pd.DataFrame, path: Path) -> None:
    df.to_parquet(path, index=False)


def _csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n")
