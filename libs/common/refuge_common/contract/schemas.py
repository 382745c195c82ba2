"""JSON Schemas (draft 2020-12) of the event catalogue: the published contract.

One file per event type, ``<type>.json``, in ``libs/common/schemas``; the files are
committed, and the build fails when a model drifts from them or would break them
(see :mod:`refuge_common.contract.compatibility`).

    python -m refuge_common.contract.schemas [--check] [DIR]

writes the files (refusing to overwrite a published schema with an incompatible
one) or, with ``--check``, only verifies them.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from refuge_common.contract.base import EventData
from refuge_common.contract.catalogue import all_event_types
from refuge_common.contract.compatibility import breaking_changes

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://refuge.example/schemas/"
DEFAULT_DIRECTORY = Path(__file__).resolve().parents[2] / "schemas"
HOW_TO_FIX = (
    "run `make schemas` to regenerate them; if a change is incompatible, leave the "
    "published type alone and publish a new `.v2` type next to it"
)


class IncompatibleSchemaError(Exception):
    """Writing the schemas would break published ones; nothing was written."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def schema_of(model: type[EventData]) -> dict[str, Any]:
    """The JSON Schema of the ``data`` of one event type."""

    schema = model.model_json_schema(mode="validation")
    schema.update(
        {
            "$schema": DIALECT,
            "$id": f"{ID_BASE}{model.TYPE}.json",
            "title": model.TYPE,
            "description": inspect.cleandoc(model.__doc__ or ""),
            # Not validation keywords: they tell an integrator where the event travels
            # and which field is the Kafka key, and changing them is breaking.
            "x-refuge-topic": model.TOPIC,
            "x-refuge-subject": model.SUBJECT_FIELD,
        }
    )
    return schema


def generate_schemas() -> dict[str, dict[str, Any]]:
    """Every registered event type -> the JSON Schema of its data."""

    return {type_: schema_of(model) for type_, model in all_event_types().items()}


def render(schema: dict[str, Any]) -> str:
    """The committed form: sorted keys, two-space indent, trailing newline."""

    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_path(directory: Path, type_: str) -> Path:
    return directory / f"{type_}.json"


def incompatibilities(directory: Path, schemas: dict[str, dict[str, Any]]) -> list[str]:
    """Breaking changes between the committed schemas in ``directory`` and ``schemas``."""

    problems: list[str] = []
    for type_, schema in schemas.items():
        path = schema_path(directory, type_)
        if not path.exists():
            continue
        try:
            published = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            problems.append(f"{type_}: cannot read the published schema {path}: {error}")
            continue
        problems.extend(f"{type_}: {change}" for change in breaking_changes(published, schema))
    return problems


def orphans(directory: Path, types: Sequence[str]) -> list[str]:
    """Published schema files whose type is no longer registered."""

    known = {f"{type_}.json" for type_ in types}
    if not directory.is_dir():
        return []
    return sorted(p.name for p in directory.glob("*.json") if p.name not in known)


def write_schemas(directory: Path = DEFAULT_DIRECTORY) -> list[Path]:
    """Write one file per event type; return the files that changed.

    Raises :class:`IncompatibleSchemaError`, writing nothing, if any new schema is
    incompatible with the one already published in ``directory``.
    """

    schemas = generate_schemas()
    problems = incompatibilities(directory, schemas)
    if problems:
        raise IncompatibleSchemaError(problems)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for type_, schema in schemas.items():
        path = schema_path(directory, type_)
        text = render(schema)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def check_schemas(directory: Path = DEFAULT_DIRECTORY) -> list[str]:
    """Everything wrong with the committed schemas: missing, stale, incompatible, orphan."""

    schemas = generate_schemas()
    problems = incompatibilities(directory, schemas)
    for type_, schema in schemas.items():
        path = schema_path(directory, type_)
        if not path.exists():
            problems.append(f"{type_}: no published schema {path.name}")
        elif path.read_text(encoding="utf-8") != render(schema):
            problems.append(f"{type_}: {path.name} is stale")
    problems.extend(_orphan_messages(directory, list(schemas)))
    return problems


def _orphan_messages(directory: Path, types: Sequence[str]) -> list[str]:
    return [
        f"{name}: published schema with no registered event type (a published type stays "
        "until it is deliberately retired, by deleting its schema file)"
        for name in orphans(directory, types)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m refuge_common.contract.schemas",
        description="Write (or check) the JSON Schemas of the event catalogue.",
    )
    parser.add_argument("--check", action="store_true", help="verify only, write nothing")
    parser.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIRECTORY)
    args = parser.parse_args(argv)
    directory: Path = args.directory

    if args.check:
        problems = check_schemas(directory)
        if problems:
            print(f"event schemas in {directory} are out of date:", file=sys.stderr)
            print("\n".join(f"  {p}" for p in problems), file=sys.stderr)
            print(HOW_TO_FIX, file=sys.stderr)
            return 1
        print(f"{len(all_event_types())} event schemas in {directory} are up to date")
        return 0

    try:
        written = write_schemas(directory)
    except IncompatibleSchemaError as error:
        print("refusing to overwrite published schemas with incompatible ones:", file=sys.stderr)
        print("\n".join(f"  {p}" for p in error.problems), file=sys.stderr)
        print("publish a new `.v2` event type instead of changing a published one", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    leftovers = _orphan_messages(directory, list(all_event_types()))
    if leftovers:
        print("\n".join(leftovers), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
