"""The checkpoint document: envelope, checksum, versioning, typed field access, sections."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any

from gmpy2 import mpq

from ntp.exact import floor_q

from ..host import Host
from ..hrtimer import HostEntry

FORMAT = "timekeepers-checkpoint"
VERSION = 1
KINDS = ("host", "namespace")
RESTORE_MODES = ("criu", "suspend", "exact")


class CheckpointError(ValueError):
    """A checkpoint cannot be written (unserialisable state) or read (corrupt, wrong format)."""


@dataclasses.dataclass(frozen=True)
class Section:
    """An extension of the format (see the module docstring)."""

    dump: Callable[[Host], Any]
    restore: Callable[[Host, Any], None]
    owns: Callable[[HostEntry], bool]


SECTIONS: dict[str, Section] = {}


def register_section(
    name: str,
    dump: Callable[[Host], Any],
    restore: Callable[[Host, Any], None],
    owns: Callable[[HostEntry], bool],
) -> None:
    """Add a named section to host checkpoints (the timers' hook)."""
    SECTIONS[name] = Section(dump, restore, owns)


# -- the envelope ----------------------------------------------------------------------------


def _digest(kind: str, state: dict[str, Any]) -> str:
    body = {"format": FORMAT, "version": VERSION, "kind": kind, "state": state}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _envelope(kind: str, state: dict[str, Any]) -> dict[str, Any]:
    sha = _digest(kind, state)
    return {"format": FORMAT, "version": VERSION, "kind": kind, "sha256": sha, "state": state}


def dumps(document: dict[str, Any]) -> str:
    """The checkpoint as JSON text (stable key order, so equal states give equal text)."""
    return json.dumps(document, sort_keys=True, indent=1) + "\n"


def loads(text: str, source: str = "checkpoint", kind: str | None = None) -> dict[str, Any]:
    """Parse and verify a checkpoint document; CheckpointError says what is wrong and where."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise CheckpointError(
            f"{source}: not a checkpoint: invalid JSON at line {err.lineno}, column {err.colno}"
            f" ({err.msg})"
        ) from None
    return verify(doc, source, kind)


def verify(doc: Any, source: str = "checkpoint", kind: str | None = None) -> dict[str, Any]:
    """Check the envelope (format, version, kind, checksum) of a parsed document."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{source}: not a checkpoint (expected format {FORMAT!r})")
    if doc.get("version") != VERSION:
        raise CheckpointError(
            f"{source}: checkpoint format version {doc.get('version')!r} is not supported "
            f"(this engine reads version {VERSION})"
        )
    if doc.get("kind") not in KINDS or (kind is not None and doc["kind"] != kind):
        want = kind or " or ".join(KINDS)
        raise CheckpointError(f"{source}: expected a {want} checkpoint, found {doc.get('kind')!r}")
    state = doc.get("state")
    if not isinstance(state, dict) or doc.get("sha256") != _digest(doc["kind"], state):
        raise CheckpointError(
            f"{source}: checksum mismatch: the checkpoint is corrupt or was edited"
        )
    return doc


# -- field checks -----------------------------------------------------------------------------


def _get(d: Any, key: str, kind: type | tuple[type, ...], path: str) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise CheckpointError(f"checkpoint field {path}.{key} is missing")
    value = d[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CheckpointError(
            f"checkpoint field {path}.{key}: expected {_kind_name(kind)}, "
            f"found {type(value).__name__}"
        )
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _rational(d: Any, key: str, path: str) -> mpq:
    text = _get(d, key, str, path)
    try:
        return mpq(text)
    except (ValueError, ZeroDivisionError):
        raise CheckpointError(f"checkpoint field {path}.{key}: not a rational: {text!r}") from None


_floor = floor_q  # exact (gmpy2.floor goes through a 53-bit float: wrong past 2^53)


def _q(value: Any) -> str:
    return str(mpq(value))
