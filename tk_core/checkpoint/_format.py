"""The checkpoint document: envelope, checksum, versioning, typed field access, sections."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from gmpy2 import mpq

from ntp.exact import floor_q

from ..host import Host
from ..hrtimer import HostEntry

FORMAT = "timekeepers-checkpoint"
VERSION = 2
#: Every version this engine reads: 1 (no timers, daemons or interrupt state) and 2.
READS = (1, 2)
KINDS = ("host", "namespace")
RESTORE_MODES = ("criu", "suspend", "exact")
T = TypeVar("T")


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


def _digest(kind: str, state: dict[str, Any], version: int = VERSION) -> str:
    body = {"format": FORMAT, "version": version, "kind": kind, "state": state}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _envelope(kind: str, state: dict[str, Any]) -> dict[str, Any]:
    sha = _digest(kind, state)
    return {"format": FORMAT, "version": VERSION, "kind": kind, "sha256": sha, "state": state}


def dumps(document: dict[str, Any]) -> str:
    """The checkpoint as JSON text (stable key order, so equal states give equal text)."""
    return json.dumps(document, sort_keys=True, indent=1) + "\n"


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise CheckpointError(f"key {key!r} appears twice in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise CheckpointError(f"{name} is not a checkpoint value (only exact ints and rationals)")


def loads(text: str, source: str = "checkpoint", kind: str | None = None) -> dict[str, Any]:
    """Parse and verify a checkpoint document; CheckpointError says what is wrong and where.

    Duplicate keys (which JSON readers resolve differently) and NaN/Infinity are refused;
    nesting too deep for the parser and integers too long to read end as CheckpointError too.
    """
    try:
        doc = json.loads(
            text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant
        )
    except json.JSONDecodeError as err:
        raise CheckpointError(
            f"{source}: not a checkpoint: invalid JSON at line {err.lineno}, column {err.colno}"
            f" ({err.msg})"
        ) from None
    except CheckpointError as err:
        raise CheckpointError(f"{source}: not a checkpoint: {err}") from None
    except RecursionError:
        raise CheckpointError(f"{source}: not a checkpoint: nested too deeply") from None
    except (ValueError, TypeError) as err:  # e.g. an integer beyond int's digit limit
        raise CheckpointError(f"{source}: not a checkpoint: {err}") from None
    return verify(doc, source, kind)


def verify(doc: Any, source: str = "checkpoint", kind: str | None = None) -> dict[str, Any]:
    """Check the envelope (format, version, kind, checksum) of a parsed document."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{source}: not a checkpoint (expected format {FORMAT!r})")
    version = doc.get("version")
    if isinstance(version, bool) or version not in READS:
        raise CheckpointError(
            f"{source}: checkpoint format version {version!r} is not supported "
            f"(this engine reads versions {', '.join(map(str, READS))})"
        )
    if doc.get("kind") not in KINDS or (kind is not None and doc["kind"] != kind):
        want = kind or " or ".join(KINDS)
        raise CheckpointError(f"{source}: expected a {want} checkpoint, found {doc.get('kind')!r}")
    state = doc.get("state")
    if not isinstance(state, dict) or doc.get("sha256") != _safe_digest(
        doc["kind"], state, source, version
    ):
        raise CheckpointError(
            f"{source}: checksum mismatch: the checkpoint is corrupt or was edited"
        )
    return doc


def _safe_digest(kind: str, state: dict[str, Any], source: str, version: int) -> str:
    """The checksum, or CheckpointError when the state is not plain JSON data."""
    try:
        return _digest(kind, state, version)
    except RecursionError:
        raise CheckpointError(f"{source}: not a checkpoint: state nested too deeply") from None
    except (TypeError, ValueError, OverflowError) as err:
        raise CheckpointError(
            f"{source}: not a checkpoint: state is not JSON data ({err})"
        ) from None


_ESCAPES = (
    ArithmeticError, AttributeError, KeyError, IndexError, LookupError, OSError,
    RecursionError, TypeError, ValueError,
)


def at_boundary(source: str, build: Callable[[], T]) -> T:
    """Run `build`; any error a corrupt document still provokes becomes a CheckpointError.

    The explicit field checks should catch every corruption first, naming the field; this is
    the last line, so a restore never ends in another exception (or a traceback).
    """
    try:
        return build()
    except CheckpointError:
        raise
    except _ESCAPES as err:
        raise CheckpointError(
            f"{source}: checkpoint rejected: {type(err).__name__}: {err}"
        ) from None


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
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise CheckpointError(
            f"checkpoint field {path}.{key}: expected an exact rational 'p/q', found {shown!r}"
        ) from None


_floor = floor_q  # exact (gmpy2.floor goes through a 53-bit float: wrong past 2^53)


def _q(value: Any) -> str:
    return str(mpq(value))
