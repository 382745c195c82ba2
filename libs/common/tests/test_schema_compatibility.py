"""Published JSON Schemas: up to date, complete, and only ever changed compatibly."""

from __future__ import annotations

import copy
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refuge_common.contract.catalogue import all_event_types
from refuge_common.contract.compatibility import breaking_changes
from refuge_common.contract.schemas import (
    DEFAULT_DIRECTORY,
    HOW_TO_FIX,
    generate_schemas,
    main,
    render,
)

COMMITTED = Path(__file__).resolve().parents[1] / "schemas"
GENERATED = generate_schemas()

# --- the committed contract ---------------------------------------------------------------


def test_default_directory_is_the_committed_one() -> None:
    assert DEFAULT_DIRECTORY == COMMITTED


def test_every_type_has_a_committed_schema_and_every_schema_a_type() -> None:
    committed = {path.name.removesuffix(".json") for path in COMMITTED.glob("*.json")}
    missing = sorted(set(all_event_types()) - committed)
    orphans = sorted(committed - set(all_event_types()))
    assert not missing, f"no committed schema for {missing}: {HOW_TO_FIX}"
    assert not orphans, f"committed schemas with no registered event type: {orphans}"


@pytest.mark.parametrize("type_", sorted(GENERATED))
def test_committed_schema_is_current(type_: str) -> None:
    path = COMMITTED / f"{type_}.json"
    assert path.exists(), f"{path.name} is missing: {HOW_TO_FIX}"
    published = json.loads(path.read_text(encoding="utf-8"))
    changes = breaking_changes(published, GENERATED[type_])
    assert not changes, f"{type_} changed incompatibly: {changes}; {HOW_TO_FIX}"
    assert path.read_text(encoding="utf-8") == render(GENERATED[type_]), f"{path.name} is stale: {HOW_TO_FIX}"


@pytest.mark.parametrize("type_", sorted(GENERATED))
def test_schema_is_valid_draft_2020_12(type_: str) -> None:
    schema = GENERATED[type_]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://refuge.example/schemas/{type_}.json"
    assert schema["title"] == type_
    assert schema["description"] == inspect.cleandoc(all_event_types()[type_].__doc__ or "")


# --- the CLI ----------------------------------------------------------------------------------

DECISION = "org.refuge.case.decision_notified.v1"


def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    change(schema)
    path.write_text(render(schema), encoding="utf-8")


def test_cli_writes_then_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{t}.json" for t in GENERATED)
    assert main(["--check", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main([str(tmp_path)]) == 0
    assert capsys.readouterr().out == "", "unchanged files are not rewritten"


def test_check_reports_missing_stale_and_orphan_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main([str(tmp_path)])
    (tmp_path / "org.refuge.case.closed.v1.json").unlink()
    _edit(tmp_path / f"{DECISION}.json", lambda s: s.update(description="older words"))
    (tmp_path / "org.refuge.case.vanished.v1.json").write_text("{}\n")
    capsys.readouterr()

    assert main(["--check", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "org.refuge.case.closed.v1: no published schema" in err
    assert f"{DECISION}: {DECISION}.json is stale" in err
    assert "org.refuge.case.vanished.v1.json: published schema with no registered" in err
    assert "make schemas" in err and ".v2" in err

    # A compatible difference is simply rewritten; the orphan still fails the run.
    assert main([str(tmp_path)]) == 1
    assert (tmp_path / f"{DECISION}.json").read_text() == render(GENERATED[DECISION])


def test_write_refuses_an_incompatible_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main([str(tmp_path)])
    # As if the published schema had a regime the model no longer knows.
    path = tmp_path / f"{DECISION}.json"
    _edit(path, lambda s: s["$defs"]["Regime"]["enum"].append("house_arrest"))
    published = path.read_text()
    capsys.readouterr()

    assert main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{DECISION}: data.regime: enum value 'house_arrest' removed" in err
    assert path.read_text() == published, "an incompatible schema must not be overwritten"
    assert main(["--check", str(tmp_path)]) == 1
    assert "enum value 'house_arrest' removed" in capsys.readouterr().err


# --- the compatibility rule -------------------------------------------------------------------

BASE: dict[str, Any] = {
    "$defs": {
        "Regime": {"enum": ["ordinary", "residence_order", "prison", "detention"],
                   "title": "Regime", "type": "string"},
        "Sealed": {"properties": {"key_id": {"format": "uuid", "type": "string"},
                                  "nonce": {"type": "string"}},
                   "required": ["key_id", "nonce"], "title": "Sealed", "type": "object"},
    },
    "description": "Emitted when...",
    "properties": {
        "case_id": {"format": "uuid", "title": "Case Id", "type": "string"},
        "notified_at": {"format": "date-time", "type": "string"},
        "jurisdiction": {"pattern": "^(FR|US)(-[A-Z0-9]{1,3})?$", "type": "string"},
        "regime": {"anyOf": [{"$ref": "#/$defs/Regime"}, {"type": "null"}], "default": None},
        "court": {"anyOf": [{"maxLength": 200, "type": "string"}, {"type": "null"}],
                  "default": None},
        "minutes": {"anyOf": [{"minimum": 0, "type": "integer"}, {"type": "null"}],
                    "default": None},
        "nationalities": {"default": [], "items": {"pattern": "^[A-Z]{2}$", "type": "string"},
                          "type": "array"},
        "contact": {"anyOf": [{"$ref": "#/$defs/Sealed"}, {"type": "null"}], "default": None},
        "language": {"default": "fr", "type": "string"},
    },
    "required": ["case_id", "notified_at", "jurisdiction"],
    "title": "org.refuge.case.decision_notified.v1",
    "type": "object",
    "x-refuge-subject": "case_id",
    "x-refuge-topic": "refuge.cases.v1",
}  # fmt: skip


def _props(s: dict[str, Any]) -> dict[str, Any]:
    return s["properties"]  # type: ignore[no-any-return]


BREAKING: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "property removed": (lambda s: _props(s).pop("court"), "data.court: property removed"),
    "optional made required": (lambda s: s["required"].append("language"),
                               "data.language: optional property became required"),
    "required added": (lambda s: (_props(s).update(x={"type": "string"}),
                                  s["required"].append("x")),
                       "data.x: required property added"),
    "required made optional": (lambda s: s["required"].remove("jurisdiction"),
                               "data.jurisdiction: no longer required"),
    "type changed": (lambda s: _props(s)["case_id"].update(type="integer"),
                     "data.case_id: type changed from string to integer"),
    "optional type changed": (lambda s: _props(s)["minutes"]["anyOf"][0].update(type="number"),
                              "data.minutes: type changed from integer to number"),
    "format changed": (lambda s: _props(s)["notified_at"].update(format="date"),
                       "data.notified_at: format changed from date-time to date"),
    "format removed": (lambda s: _props(s)["case_id"].pop("format"),
                       "data.case_id: format changed from uuid to none"),
    "enum value removed": (lambda s: s["$defs"]["Regime"]["enum"].remove("prison"),
                           "data.regime: enum value 'prison' removed"),
    "enum added": (lambda s: _props(s)["language"].update(enum=["fr", "en"]),
                   "data.language: enum restriction added"),
    "pattern changed": (lambda s: _props(s)["jurisdiction"].update(pattern="^FR$"),
                        "data.jurisdiction: pattern '^FR$' changed from"),
    "pattern added": (lambda s: _props(s)["language"].update(pattern="^[a-z]{2}$"),
                      "data.language: pattern '^[a-z]{2}$' added"),
    "maxLength tightened": (lambda s: _props(s)["court"]["anyOf"][0].update(maxLength=100),
                            "data.court: maxLength tightened from 200 to 100"),
    "minLength added": (lambda s: _props(s)["language"].update(minLength=2),
                        "data.language: minLength 2 added"),
    "minimum raised": (lambda s: _props(s)["minutes"]["anyOf"][0].update(minimum=1),
                       "data.minutes: minimum tightened from 0 to 1"),
    "maximum added": (lambda s: _props(s)["minutes"]["anyOf"][0].update(maximum=600),
                      "data.minutes: maximum 600 added"),
    "null removed": (lambda s: _props(s)["regime"]["anyOf"].pop(),
                     "data.regime: null no longer allowed"),
    "null added to required": (lambda s: _props(s).update(
                                   case_id={"anyOf": [{"format": "uuid", "type": "string"},
                                                      {"type": "null"}]}),
                               "data.case_id: null now allowed"),
    "default changed": (lambda s: _props(s)["language"].update(default="en"),
                        "data.language: default changed from 'fr' to 'en'"),
    "array items narrowed": (lambda s: _props(s)["nationalities"]["items"].update(maxLength=2),
                             "data.nationalities[]: maxLength 2 added"),
    "nested property removed": (lambda s: s["$defs"]["Sealed"]["properties"].pop("nonce"),
                                "data.contact.nonce: property removed"),
    "extra properties forbidden": (lambda s: s.update(additionalProperties=False),
                                   "data: additional properties no longer allowed"),
    "subject changed": (lambda s: s.update({"x-refuge-subject": "deadline_id"}),
                        "data: subject field (Kafka key) changed from 'case_id'"),
    "unknown keyword": (lambda s: _props(s)["language"].update({"not": {"const": "xx"}}),
                        "data.language: not changed (not comparable)"),
    "dangling $ref": (lambda s: _props(s)["regime"]["anyOf"][0].update({"$ref": "#/$defs/No"}),
                      "data.regime: cannot resolve $ref '#/$defs/No'"),
}  # fmt: skip

ALLOWED: dict[str, Callable[[dict[str, Any]], Any]] = {
    "nothing": lambda s: None,
    "optional property added": lambda s: _props(s).update(
        decided_on={"anyOf": [{"format": "date", "type": "string"}, {"type": "null"}],
                    "default": None}),
    "enum value added": lambda s: s["$defs"]["Regime"]["enum"].append("house_arrest"),
    "enum reordered": lambda s: s["$defs"]["Regime"]["enum"].reverse(),
    "descriptions and titles": lambda s: (s.update(description="Emitted later.", title="t"),
                                          _props(s)["case_id"].update(description="the case")),
    "maxLength loosened": lambda s: _props(s)["court"]["anyOf"][0].update(maxLength=500),
    "minimum removed": lambda s: _props(s)["minutes"]["anyOf"][0].pop("minimum"),
    "pattern removed from items": lambda s: _props(s)["nationalities"]["items"].pop("pattern"),
    "$defs renamed": lambda s: (s["$defs"].update(RemovalRegime=s["$defs"].pop("Regime")),
                                _props(s)["regime"]["anyOf"][0].update(
                                    {"$ref": "#/$defs/RemovalRegime"})),
    "$ref inlined": lambda s: _props(s)["regime"]["anyOf"].__setitem__(
        0, copy.deepcopy(s["$defs"]["Regime"])),
}  # fmt: skip


@pytest.mark.parametrize("case", BREAKING)
def test_breaking_change_is_detected(case: str) -> None:
    mutate, expected = BREAKING[case]
    new = copy.deepcopy(BASE)
    mutate(new)
    changes = breaking_changes(BASE, new)
    assert any(change.startswith(expected) for change in changes), changes


@pytest.mark.parametrize("case", ALLOWED)
def test_allowed_change_is_accepted(case: str) -> None:
    new = copy.deepcopy(BASE)
    ALLOWED[case](new)
    assert breaking_changes(BASE, new) == []


def test_the_rule_is_pure() -> None:
    before = copy.deepcopy(BASE)
    breaking_changes(BASE, BASE)
    assert before == BASE


@given(st.sampled_from(sorted(GENERATED)), st.data())
def test_on_the_real_catalogue(type_: str, data: st.DataObject) -> None:
    schema = GENERATED[type_]
    assert breaking_changes(schema, copy.deepcopy(schema)) == []

    widened = copy.deepcopy(schema)
    widened["properties"]["added_later"] = {"anyOf": [{"type": "string"}, {"type": "null"}],
                                            "default": None}  # fmt: skip
    assert breaking_changes(schema, widened) == []

    name = data.draw(st.sampled_from(sorted(schema["properties"])))
    narrowed = copy.deepcopy(schema)
    del narrowed["properties"][name]
    narrowed["required"] = [field for field in schema["required"] if field != name]
    assert f"data.{name}: property removed" in breaking_changes(schema, narrowed)
