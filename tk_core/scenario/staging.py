"""Results folders that are complete or clearly partial, never a mix of two runs.

A run writes into a hidden sibling of its target, `.NAME.partial-XXXX`, whose PARTIAL file
says what is going on ("in progress", then the error if the run fails or is interrupted).
Only a finished folder is moved into place:

* no folder yet: one rename;
* an earlier results folder (nothing in it but what a run writes): rename the old one away,
  rename the new one in, delete the old one, so readers see the old set or the new set;
* a folder holding other files too (`--out .`): those must survive, so the new files are
  moved in one by one, after the old summary.json (what `show` reads first) is removed and
  before the new one goes in last; results left over from the earlier run are deleted.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

PARTIAL = "PARTIAL"
#: What a run writes (besides plots, *.png): a folder holding only these is ours to replace.
RESULT_NAMES = frozenset({
    "samples.csv", "samples.parquet", "summary.json", "timing.json", "scenario.toml",
    "report.html", "trace.jsonl", "checkpoints", PARTIAL,
})
#: Moved in last, removed first: while it is absent the folder does not look complete.
LAST = "summary.json"


def is_result_entry(name: str) -> bool:
    """Whether `name` is something a run writes into its results folder."""
    return name in RESULT_NAMES or name.endswith(".png") or name.startswith(".samples.")


def start(out: Path) -> Path:
    """A fresh staging folder beside `out`, marked PARTIAL from its first moment."""
    out = Path(os.path.abspath(out))
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _mark(staging, f"in progress since {started}; incomplete until moved to {out}")
    return staging


def fail(staging: Path, out: Path, error: BaseException) -> None:
    """Leave the staging folder saying why it is incomplete (the target is untouched)."""
    reason = "interrupted" if isinstance(error, KeyboardInterrupt) else (
        f"failed: {type(error).__name__}: {error}")
    _mark(staging, f"{reason}\nThese results are incomplete; {out} was left as it was.")


def discard(staging: Path) -> None:
    """Remove a staging folder nothing was written to worth keeping (bad input)."""
    shutil.rmtree(staging, ignore_errors=True)


def _mark(staging: Path, text: str) -> None:
    (staging / PARTIAL).write_text(f"PARTIAL: {text}\n", "utf-8")


def publish(staging: Path, out: Path) -> None:
    """Move a complete staging folder to `out` (see the module docstring)."""
    (staging / PARTIAL).unlink()
    out = Path(os.path.abspath(out))
    if not out.exists() and not out.is_symlink():
        staging.rename(out)
    elif _replaceable(out):
        _swap(staging, out)
    else:
        _merge(staging, out)


def _replaceable(out: Path) -> bool:
    """A plain folder of results only, and not one this process stands in."""
    if out.is_symlink() or Path.cwd().is_relative_to(out):
        return False
    return all(is_result_entry(p.name) for p in out.iterdir())


def _swap(staging: Path, out: Path) -> None:
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    old.rmdir()
    out.rename(old)
    try:
        staging.rename(out)
    except OSError:
        old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _merge(staging: Path, out: Path) -> None:
    new = {p.name for p in staging.iterdir()}
    (out / LAST).unlink(missing_ok=True)
    for entry in out.iterdir():
        if is_result_entry(entry.name) and entry.name not in new:
            _remove(entry)
    for name in sorted(new - {LAST}):
        target = out / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(staging / name, target)
    if LAST in new:
        os.replace(staging / LAST, out / LAST)
    staging.rmdir()


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        entry.unlink()
