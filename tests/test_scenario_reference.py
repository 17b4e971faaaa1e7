"""The generated scenario key reference, and the smear parameters' two spellings."""

from __future__ import annotations

import inspect
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from gmpy2 import mpq

from ntp import smear
from tk_core.scenario import (
    ScenarioError,
    events,
    features,
    load_text,
    run_scenario,
    schema,
    shapes,
)
from tk_core.scenario import reference as ref
from tk_core.scenario.types import Strict

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "docs" / "scenario-reference.md"
needs_follow = pytest.mark.skipif(
    not features.follow_available(), reason="needs tk_core.policy.follow"
)


def test_committed_reference_is_the_generated_one() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == ref.render(), (
        "docs/scenario-reference.md is stale: run "
        "`python -m tk_core.scenario.reference > docs/scenario-reference.md`"
    )


def test_the_module_prints_the_reference() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tk_core.scenario.reference"],
        cwd=ROOT, capture_output=True, check=True,
    )
    assert done.stdout.decode("utf-8") == ref.render()


def _schema_models() -> set[type]:
    found: set[type] = set()
    for module in (schema, events):
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Strict) and obj.__module__ == module.__name__:
                found.add(obj)
    return found - {events.EventBase}


def test_every_table_of_the_schema_is_documented() -> None:
    assert set(ref.models()) == _schema_models()
    assert {t.anchor for t in ref.tables()} >= {f"event-{a}" for a in events.EVENT_TYPES}


@pytest.mark.parametrize("model", sorted(_schema_models(), key=lambda m: m.__name__))
def test_every_field_has_a_description(model: type[Strict]) -> None:
    assert (model.__doc__ or "").strip(), f"{model.__name__} has no docstring"
    missing = [
        name for name, field in model.model_fields.items()
        if not (field.description or "").strip()
    ]
    assert not missing, f"{model.__name__}: fields without a description: {missing}"


def test_every_key_is_a_row_with_type_and_default() -> None:
    page = ref.render()
    for table in ref.tables():
        section = page.split(f"{{#{table.anchor}}}", 1)[1].split("\n## ", 1)[0]
        for name, field in table.model.model_fields.items():
            row = next(line for line in section.splitlines() if line.startswith(f"| `{name}` |"))
            cells = [c.strip() for c in row.strip("|").split(" | ")]
            assert len(cells) == 5 and all(cells[i] for i in (1, 2, 4)), row
            assert field.description is not None and field.description in row


def test_types_and_bounds_in_scenario_terms() -> None:
    rows = {k: ref.describe(k, f) for k, f in schema.HostSpec.model_fields.items()}
    assert rows["uptime"].type == "duration" and rows["uptime"].default == '`"0s"`'
    assert rows["uptime"].bounds == ">= 0"
    assert rows["start"].type == "ISO UTC" and rows["start"].default == "required"
    assert rows["hz"].bounds == "1 … 10 000"
    assert rows["root_update"].type == 'one of `"lazy"`, `"periodic"`'
    assert rows["tai_offset"].default == "unset"
    cs = {k: ref.describe(k, f) for k, f in schema.ClocksourceSpec.model_fields.items()}
    assert cs["error_ppm"].type == "exact number" and cs["error_ppm"].bounds == "within ±500000"
    assert cs["wander_interval"].bounds == "> 0, whole seconds"
    leap = ref.describe("namespaces", events.LeapAnnouncement.model_fields["namespaces"])
    assert leap.type == "list of namespace name"  # a name, or NAME-* for every copy


# -- smear parameters ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(smear.SHAPES))
def test_mapping_covers_every_shape_field(name: str) -> None:
    python = {p.python for p in shapes.params_of(name)}
    assert python == {f.name for f in fields(shapes.shape_class(name))}
    page = ref.render().split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
    for p in shapes.params_of(name):
        assert f"| `{p.scenario}` | `{p.python}` |" in page


@pytest.mark.parametrize(
    ("name", "scenario", "python"),
    [
        ("linear-24h", {"duration": "20h", "start": "-10h"},
         {"duration": 72_000, "start": -36_000}),
        ("chrony-slew", {"rate_ppm": 500, "delay": "2min"}, {"rate": "1/2000", "delay": 120}),
        ("chrony-quadratic", {"max_freq_ppm": "400", "max_wander_ppm_per_s": "0.001024"},
         {"max_freq": "1/2500", "max_wander": "1024/1000000000000"}),
        ("fbclock", {"tick": "65us", "jump": "1ns"}, {"tick": "13/200000", "jump": "1/1000000000"}),
        ("cosine", {"window": "2h", "ntpd_negative_quirk": True},
         {"window": 7200, "ntpd_negative_quirk": True}),
        ("utc-sls", {"duration": "1000s"}, {"duration": "1000"}),
    ],
)
def test_scenario_and_python_spellings_build_the_same_shape(
    name: str, scenario: dict[str, object], python: dict[str, object]
) -> None:
    made = smear.make_shape(name, **shapes.to_python(name, scenario))
    assert made == smear.make_shape(name, **shapes.to_python(name, python))
    assert made == smear.make_shape(name, **python)


def test_a_toml_float_is_read_through_its_decimal_spelling() -> None:
    assert shapes.to_python("utc-sls", {"duration": 0.1}) == {"duration": mpq(1, 10)}
    assert shapes.to_python("chrony-slew", {"rate_ppm": 0.1}) == {"rate": mpq(1, 10**7)}


def test_defaults_printed_exactly() -> None:
    (rate, _) = shapes.params_of("chrony-slew")
    assert rate.to_scenario(shapes.defaults_of("chrony-slew")["rate"]) == "250000/3"
    assert mpq(shapes.to_python("chrony-slew", {"rate_ppm": "250000/3"})["rate"]) == mpq(1, 12)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"rate": "1/12", "rate_ppm": 5}, "give 'rate_ppm' or 'rate', not both"),
        ({"speed": 1}, "has no parameter 'speed'; it takes rate_ppm (or rate), delay"),
        ({"delay": "5 fortnights"}, "params.delay"),
        ({"rate_ppm": "fast"}, "params.rate_ppm"),
        ({"rate_ppm": -5}, "rate must be > 0"),
    ],
)
@needs_follow
def test_bad_params_name_the_file_and_field(params: dict[str, object], message: str) -> None:
    inline = ", ".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}"
                       for k, v in params.items()).replace("'", '"')
    text = BASE + f'\n[[namespaces]]\nname = "s"\nleap = {{ policy = "smear", shape = ' \
        f'"chrony-slew", params = {{ {inline} }} }}\n'
    with pytest.raises(ScenarioError) as err:
        load_text(text, "x.toml")
    shown = str(err.value)
    assert "x.toml" in shown and "namespaces[0].leap" in shown and message in shown


def test_a_bare_number_is_python_seconds_a_unit_is_a_scenario_duration() -> None:
    bare = shapes.to_python("chrony-slew", {"delay": "90"})
    assert bare == shapes.to_python("chrony-slew", {"delay": "90s"}) == {"delay": mpq(90)}
    assert shapes.to_python("chrony-slew", {"delay": 0}) == {"delay": mpq(0)}


def test_params_without_a_smear_are_refused() -> None:
    text = BASE + '\n[[namespaces]]\nname = "s"\nleap = { policy = "step", params = { a = 1 } }\n'
    with pytest.raises(ScenarioError, match="apply to policy = 'smear' only"):
        load_text(text, "x.toml")


BASE = """\
[scenario]
name = "p"
description = "smear parameters"
duration = "30min"
sample_every = "10s"

[host]
start = 2016-12-31T23:45:00Z
"""


@needs_follow
def test_both_spellings_run_identically() -> None:
    text = BASE + """
[[namespaces]]
name = "scenario-spelling"
leap = { policy = "smear", shape = "utc-sls", params = { duration = "10min" } }

[[namespaces]]
name = "python-spelling"
leap = { policy = "smear", shape = "utc-sls", params = { duration = 600 } }

[[namespaces]]
name = "default"
leap = "utc-sls"
"""
    spaces = run_scenario(load_text(text)).summary["namespaces"]
    a, b = spaces["scenario-spelling"], spaces["python-spelling"]
    assert a["offset_utc_ns"] == b["offset_utc_ns"]
    assert a["offset_utc_ns"] != spaces["default"]["offset_utc_ns"]


# -- what docs/scenarios.md says about copies and multi-namespace events -------------------

COPIES = BASE + """
[[namespaces]]
name = "fleet"
count = 3
"""


def test_copies_are_named_by_index_and_events_use_those_names() -> None:
    loaded = load_text(COPIES + '\n[[events]]\nat = "1min"\naction = "settime"\n'
                       'namespace = "fleet-2"\nby = "1s"\n')
    assert [n for n, _ in loaded.resolved.namespaces] == ["fleet-0", "fleet-1", "fleet-2"]
    with pytest.raises(ScenarioError, match="no namespace named 'fleet'"):
        load_text(COPIES + '\n[[events]]\nat = "1min"\naction = "settime"\n'
                  'namespace = "fleet"\nby = "1s"\n', "x.toml")
    with pytest.raises(ScenarioError, match="no namespace named 'fleet'"):
        load_text(COPIES + '\n[[events]]\nat = "1min"\naction = "leap"\ndate = 2016-12-31\n'
                  'namespaces = ["fleet-0", "fleet"]\n', "x.toml")


def test_a_leap_event_without_namespaces_tells_root_and_every_step_namespace() -> None:
    text = COPIES + """
[[namespaces]]
name = "quiet"
leap = "ignore"

[[events]]
at = "0s"
action = "leap"
date = 2016-12-31
"""
    spaces = run_scenario(load_text(text)).summary["namespaces"]
    for name in ("root", "fleet-0", "fleet-1", "fleet-2"):
        assert spaces[name]["realtime_backward_steps"] == 1, name
        assert spaces[name]["group"] == ("fleet" if name != "root" else "root")
    assert spaces["quiet"]["realtime_backward_steps"] == 0
