"""The scenario key reference (docs/scenario-reference.md), generated from the schema.

Why generated: a hand-written key list drifts the day a field is added.  This walks the
pydantic models from `Scenario` down (every table, every event kind of
`events.EVENT_TYPES`) and prints each key with its type as a scenario spells it, its
default, its bounds and the description the schema itself carries; then the smear shapes of
`ntp.smear.SHAPES` with their parameters.  A test regenerates the file and fails when the
committed copy differs, and another fails when a field has no description.

    python -m tk_core.scenario.reference > docs/scenario-reference.md
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel, PlainSerializer
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ntp import smear

from . import shapes
from .events import EVENT_TYPES
from .schema import Scenario
from .types import NAME_PATTERN, Kind

SHAPES_ANCHOR = "leap-shapes"
_NAME_KIND = Kind(
    "name",
    "1 to 64 letters, digits, `_`, `.` or `-`, starting with a letter or a digit",
)
_PLAIN = {bool: "boolean", int: "integer", str: "string", float: "number"}


@dataclass(frozen=True)
class Table:
    """One TOML table of the schema: how it is written, its anchor and its model."""

    heading: str
    anchor: str
    model: type[BaseModel]


def tables() -> list[Table]:
    """Every table a scenario can hold, in file order, events last (one per action)."""
    found = [Table("The file", "the-file", Scenario), *_walk(Scenario, "", False)]
    for action, model in EVENT_TYPES.items():
        found.append(Table(f'[[events]] action = "{action}"', f"event-{action}", model))
    return found


def _walk(model: type[BaseModel], path: str, _array: bool) -> Iterator[Table]:
    for key, field in model.model_fields.items():
        sub, array = _submodel(field.annotation)
        if sub is None or _is_choice(field.annotation):
            continue  # [[events]]: one table per action, listed after the others
        name = f"{path}.{key}" if path else key
        heading = f"[[{name}]]" if array else f"[{name}]"
        yield Table(heading, name.replace(".", "-"), sub)
        yield from _walk(sub, name, array)


def _submodel(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The table model a field holds (through Optional/Annotated/list), and if in a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = get_origin(annotation)
    if origin is Annotated:
        return _submodel(get_args(annotation)[0])
    if origin is list:
        inner = get_args(annotation)[0]
        sub, _ = _submodel(inner)
        return sub, sub is not None
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            sub, array = _submodel(arg)
            if sub is not None:
                return sub, array
    return None, False


def _is_choice(annotation: Any) -> bool:
    """A union of several tables (the events, chosen by `action`)."""
    args = get_args(annotation)
    if get_origin(annotation) in (list, Annotated) and args:
        return _is_choice(args[0])
    return sum(_submodel(a)[0] is not None for a in args) > 1


def models() -> list[type[BaseModel]]:
    """Every model the reference documents (each once)."""
    return list(dict.fromkeys(t.model for t in tables()))


# -- one key ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """One row of a table: everything the reference says about a field."""

    name: str
    type: str
    default: str
    bounds: str
    description: str
    kinds: tuple[Kind, ...]


def describe(name: str, field: FieldInfo) -> Key:
    """A field in scenario terms (type, default, bounds) with its schema description."""
    kinds: list[Kind] = []
    text = _type_text(field.annotation, list(field.metadata), kinds)
    bounds = _bounds(field, kinds)
    return Key(name, text, _default(field), bounds, field.description or "", tuple(kinds))


def _type_text(annotation: Any, metadata: list[Any], kinds: list[Kind]) -> str:
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *extra = get_args(annotation)
        return _type_text(base, [*extra, *metadata], kinds)
    metadata = _flatten(metadata)
    kind = next((m for m in metadata if isinstance(m, Kind)), None)
    if kind is None and getattr(_pattern(metadata), "pattern", None) == NAME_PATTERN:
        kind = _NAME_KIND
    sub, _ = _submodel(annotation)
    if kind is not None:
        kinds.append(kind)
        return f"{kind.name} ([table](#{_anchor_of(sub)}))" if sub else kind.name
    if origin in (Union, types.UnionType):
        parts = [a for a in get_args(annotation) if a is not type(None)]
        return " or ".join(_type_text(a, metadata, kinds) for a in parts)
    if origin is Literal:
        values = [f"`{_toml(v)}`" for v in get_args(annotation)]
        return values[0] if len(values) == 1 else "one of " + ", ".join(values)
    if origin is list:
        if _is_choice(annotation):
            return "list of tables ([one kind per action](#event-adjtimex))"
        sub_item, _ = _submodel(get_args(annotation)[0])
        if sub_item is not None:
            return f"list of tables ([below](#{_anchor_of(sub_item)}))"
        return "list of " + _type_text(get_args(annotation)[0], [], kinds)
    if origin is dict:
        return "table"
    if sub is not None:
        return f"table ([below](#{_anchor_of(sub)}))"
    if annotation is Fraction:
        return "exact number"
    return _PLAIN.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _flatten(metadata: list[Any]) -> list[Any]:
    """Metadata with nested `Field(...)` objects (from `Annotated[str, Field(...)]`) opened."""
    out: list[Any] = []
    for m in metadata:
        out += _flatten(list(m.metadata)) if isinstance(m, FieldInfo) else [m]
    return out


def _pattern(metadata: list[Any]) -> Any:
    return next((m for m in metadata if getattr(m, "pattern", None)), None)


def _anchor_of(model: type[BaseModel]) -> str:
    return next(t.anchor for t in tables() if t.model is model)


def _bounds(field: FieldInfo, kinds: list[Kind]) -> str:
    found: dict[str, Any] = {}
    for m in field.metadata:
        for attr in ("gt", "ge", "lt", "le", "min_length", "max_length"):
            if isinstance(m, at.BaseMetadata) and hasattr(m, attr):
                found[attr] = getattr(m, attr)
    parts: list[str] = []
    if "ge" in found and "le" in found:
        parts.append(f"{_number(found.pop('ge'))} … {_number(found.pop('le'))}")
    symbols = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    parts += [f"{symbols[k]} {_number(v)}" for k, v in found.items() if k in symbols]
    lengths = [found.get("min_length"), found.get("max_length")]
    if lengths != [None, None]:
        unit = "items" if _is_list(field.annotation) else "characters"
        low, high = lengths
        parts.append(f"{low or 0} … {high} {unit}" if high else f"{low} or more {unit}")
    parts += [k.bounds for k in kinds if k.bounds]
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("bounds"), str):
        parts.append(str(extra["bounds"]))
    return ", ".join(parts)


def _is_list(annotation: Any) -> bool:
    """A list, or an optional one (`list[str] | None`)."""
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_list(a) for a in get_args(annotation))
    return get_origin(annotation) is list


def _number(value: object) -> str:
    if isinstance(value, int) and value > 10**9 and (value + 1) & value == 0:
        return f"2^{value.bit_length()} − 1"
    return f"{value:_}".replace("_", " ") if isinstance(value, int) else str(value)


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return "its defaults"
    serialize = _serializer(field.annotation, list(field.metadata))
    shown = serialize(value) if serialize is not None else value
    if isinstance(value, Fraction):
        return f"`{shown}`"
    return f"`{_toml(shown)}`"


def _serializer(annotation: Any, metadata: list[Any]) -> Any:
    for m in metadata:
        if isinstance(m, PlainSerializer):
            return m.func
    if get_origin(annotation) is Annotated:
        return _serializer(get_args(annotation)[0], list(get_args(annotation)[1:]))
    return None


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | dict):
        return "[]" if isinstance(value, list) else "{}"
    return str(value)


# -- the page -----------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _doc(model: type[BaseModel]) -> str:
    return inspect.cleandoc(model.__doc__ or "")


def _table(model: type[BaseModel]) -> list[str]:
    rows = ["| key | type | default | bounds | description |", "|---|---|---|---|---|"]
    for name, field in model.model_fields.items():
        k = describe(name, field)
        cells = [f"`{k.name}`", k.type, k.default, k.bounds, k.description]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return rows


def _value_types() -> list[str]:
    seen: dict[str, Kind] = {}
    for model in models():
        for name, field in model.model_fields.items():
            for kind in describe(name, field).kinds:
                seen.setdefault(kind.name, kind)
    rows = ["| type | written as |", "|---|---|"]
    rows += [f"| {_cell(k.name)} | {_cell(k.spelling)} |" for k in seen.values()]
    return rows


def _shapes() -> list[str]:
    lines = [
        f"## Leap policy shapes {{#{SHAPES_ANCHOR}}}",
        "",
        "The smear shapes of `ntp.smear.SHAPES`: a namespace's `leap` (a name, or "
        '`leap = { policy = "smear", shape = NAME, params = {...} }`), `[scenario] reference` '
        "and `ntp.server` take these names.  `params` keys are the scenario spelling (a "
        "duration with a unit, rates in ppm); each parameter is also accepted under its "
        "Python name with the Python value that `ntp.smear` takes (seconds, or a "
        "dimensionless fraction), never both at once.  A duration parameter given as a bare "
        "number is read as seconds, as in Python.",
        "",
    ]
    for name in smear.SHAPES:
        cls = shapes.shape_class(name)
        params = shapes.params_of(name)
        defaults = shapes.defaults_of(name)
        summary = inspect.cleandoc(cls.__doc__ or "").split("\n\n")[0].replace("\n", " ")
        lines += [f"### `{name}`", "", f"`ntp.smear.{cls.__name__}`: {summary}", ""]
        if not params:
            lines += ["No parameters.", ""]
            continue
        lines += [
            "| scenario key | Python name | type | default | description |",
            "|---|---|---|---|---|",
        ]
        for p in params:
            kind = {"duration": "duration", "ppm": "exact number (ppm)", "bool": "boolean"}
            default = p.to_scenario(defaults[p.python]) if p.python in defaults else "required"
            cells = [f"`{p.scenario}`", f"`{p.python}`", kind[p.kind], f"`{default}`",
                     p.description]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    return lines


def render() -> str:
    """The whole reference page as markdown (deterministic: same schema, same bytes)."""
    lines = [
        "# Scenario file reference",
        "",
        "<!-- Generated by `python -m tk_core.scenario.reference > docs/scenario-reference.md`;"
        " do not edit: tests/test_scenario_reference.py fails when it differs. -->",
        "",
        "Every key a scenario file can hold, generated from the schema "
        "(`tk_core/scenario/schema.py`, `events.py`).  The guide, with a complete example, "
        "is [Scenarios and the command line](scenarios.md).  Unknown keys are errors; "
        "*unset* means the key is absent (its description says what applies then).",
        "",
        "## Value types",
        "",
        *_value_types(),
        "",
    ]
    for table in tables():
        heading = f"`{table.heading}`" if table.heading.startswith("[") else table.heading
        lines += [f"## {heading} {{#{table.anchor}}}", "", _doc(table.model), ""]
        lines += [*_table(table.model), ""]
    lines += _shapes()
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    """Print the reference (stdout, UTF-8 whatever the locale)."""
    import sys

    sys.stdout.buffer.write(render().encode("utf-8"))


if __name__ == "__main__":
    main()
