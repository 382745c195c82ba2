"""Is a new JSON Schema of a published event type compatible with the old one?

The rule. Once a type is published, its schema may only change so that

(a) every event valid under the old schema is still valid under the new one:
    consumers replay old events from the beginning of topics, and
(b) every field an old consumer relies on stays: a property stays, a required
    property stays required, with the same type and format.

Breaking, therefore: removing a property; making an optional property required or
a required one optional; adding a required property; changing a type or format
(adding ``null`` to a property included: old consumers do not expect it); removing
``null`` from an optional property; removing an enum value or adding an enum where
there was none; adding or changing a ``pattern``; tightening ``minLength``,
``maxLength``, ``minimum``, ``maximum`` (and the other bounds), or adding one;
changing the default of a property (old events that lack it would be read
differently); changing the topic or the subject field (the Kafka key).

Allowed: adding an optional property; adding an enum value; loosening or removing
a bound or a pattern; changing descriptions, titles and examples.

Consumers must tolerate enum values they do not know: never assume a vocabulary is
exhaustive, fall back on a default branch (or ``other``), never crash on an unknown
value. As pydantic models reject unknown values, a producer starts emitting a new
value only once every consumer runs a library version that knows it.

A change that breaks this rule is not made to the type: a new type ``....v2`` is
published and produced side by side with the old one for a while.

Any keyword this module does not understand counts as breaking when it changes:
when in doubt, publish a new version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Schema = Mapping[str, Any]

_ANNOTATIONS = frozenset(
    ["title", "description", "examples", "$comment", "deprecated", "readOnly", "writeOnly",
     "$id", "$schema", "$defs", "definitions"]
)  # fmt: skip
# Lower bounds may only fall, upper bounds only rise.
_LOWER = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")
_UPPER = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
_ROOT_EXTENSIONS = {"x-refuge-topic": "topic", "x-refuge-subject": "subject field (Kafka key)"}
_HANDLED = frozenset(
    ["type", "format", "enum", "const", "pattern", "multipleOf", "uniqueItems", "properties",
     "required", "additionalProperties", "items", "anyOf", "oneOf", "$ref", "default",
     *_LOWER, *_UPPER, *_ROOT_EXTENSIONS]
)  # fmt: skip
_MISSING = object()


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """List the changes from ``old`` to ``new`` that break the rule above; [] if none."""

    comparison = _Comparison(old, new)
    for key, what in _ROOT_EXTENSIONS.items():
        if old.get(key) != new.get(key):
            comparison.problems.append(f"data: {what} changed from {old.get(key)!r} to {new.get(key)!r}")
    comparison.compare(old, new, "data")
    return comparison.problems


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.problems: list[str] = []
        # $refs may be recursive: a pair of subschemas already on the stack is not
        # compared again.
        self._active: set[tuple[int, int]] = set()

    def compare(self, old: Schema, new: Schema, path: str) -> None:
        old = self._resolve(old, self.old_root, path)
        new = self._resolve(new, self.new_root, path)
        pair = (id(old), id(new))
        if pair in self._active:
            return
        self._active.add(pair)
        try:
            self._compare_resolved(old, new, path)
        finally:
            self._active.discard(pair)

    def _compare_resolved(self, old: Schema, new: Schema, path: str) -> None:
        old_default, new_default = old.get("default", _MISSING), new.get("default", _MISSING)
        if old_default is not _MISSING and old_default != new_default:
            shown = "none" if new_default is _MISSING else _show(new_default)
            self.problems.append(f"{path}: default changed from {_show(old_default)} to {shown}")

        old_null, old_branches = self._split(old, self.old_root, path)
        new_null, new_branches = self._split(new, self.new_root, path)
        if old_null and not new_null:
            self.problems.append(f"{path}: null no longer allowed")
        if new_null and not old_null:
            self.problems.append(f"{path}: null now allowed (old consumers do not expect it)")
        if len(old_branches) == 1 and len(new_branches) == 1:
            self._compare_single(old_branches[0], new_branches[0], path)
            return
        # A union: each old alternative must survive unchanged in spirit, and no
        # alternative may appear that old consumers do not know.
        for branch in old_branches:
            if not any(self._fits(branch, candidate, path) for candidate in new_branches):
                self.problems.append(f"{path}: alternative {_show(branch)} removed or narrowed")
        for branch in new_branches:
            if not any(self._fits(candidate, branch, path) for candidate in old_branches):
                self.problems.append(f"{path}: alternative {_show(branch)} added")

    def _fits(self, old: Schema, new: Schema, path: str) -> bool:
        trial = _Comparison(self.old_root, self.new_root)
        trial._compare_single(old, new, path)
        return not trial.problems

    def _compare_single(self, old: Schema, new: Schema, path: str) -> None:
        old_types, new_types = _types(old), _types(new)
        if old_types != new_types:
            self.problems.append(
                f"{path}: type changed from {_show_types(old_types)} to {_show_types(new_types)}"
            )
            return
        if old.get("format") != new.get("format"):
            self.problems.append(
                f"{path}: format changed from {old.get('format', 'none')} to {new.get('format', 'none')}"
            )
        self._compare_enum(old, new, path)
        self._compare_bounds(old, new, path)
        self._compare_object(old, new, path)
        self._compare_items(old, new, path)
        for key in sorted((set(old) | set(new)) - _HANDLED - _ANNOTATIONS):
            if not key.startswith("x-") and old.get(key) != new.get(key):
                self.problems.append(f"{path}: {key} changed (not comparable)")

    def _compare_enum(self, old: Schema, new: Schema, path: str) -> None:
        old_values, new_values = _enum(old), _enum(new)
        if old_values is None and new_values is not None:
            self.problems.append(f"{path}: enum restriction added")
        elif old_values is not None and new_values is None:
            self.problems.append(f"{path}: enum restriction removed")
        elif old_values is not None and new_values is not None:
            for value in old_values:
                if value not in new_values:
                    self.problems.append(f"{path}: enum value {_show(value)} removed")

    def _compare_bounds(self, old: Schema, new: Schema, path: str) -> None:
        for key in (*_LOWER, *_UPPER):
            before, after = old.get(key), new.get(key)
            if after is None or before == after:
                continue
            if before is None:
                self.problems.append(f"{path}: {key} {_show(after)} added")
            elif (after > before) if key in _LOWER else (after < before):
                self.problems.append(f"{path}: {key} tightened from {before} to {after}")
        for key in ("pattern", "multipleOf"):
            before, after = old.get(key), new.get(key)
            if after is not None and before != after:
                change = "added" if before is None else f"changed from {_show(before)}"
                self.problems.append(f"{path}: {key} {_show(after)} {change}")
        if new.get("uniqueItems") and not old.get("uniqueItems"):
            self.problems.append(f"{path}: uniqueItems added")

    def _compare_object(self, old: Schema, new: Schema, path: str) -> None:
        old_props: Schema = old.get("properties", {})
        new_props: Schema = new.get("properties", {})
        old_required = set(old.get("required", ()))
        new_required = set(new.get("required", ()))
        for name, old_prop in old_props.items():
            where = f"{path}.{name}"
            if name not in new_props:
                self.problems.append(f"{where}: property removed")
                continue
            if name in old_required and name not in new_required:
                self.problems.append(f"{where}: no longer required")
            if name not in old_required and name in new_required:
                self.problems.append(f"{where}: optional property became required")
            self.compare(old_prop, new_props[name], where)
        for name in sorted(new_required - old_required - set(old_props)):
            self.problems.append(f"{path}.{name}: required property added")
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        if isinstance(old_extra, Mapping) and isinstance(new_extra, Mapping):
            self.compare(old_extra, new_extra, f"{path}.*")
        elif new_extra is False and old_extra is not False:
            self.problems.append(f"{path}: additional properties no longer allowed")
        elif isinstance(new_extra, Mapping) and old_extra is True:
            self.problems.append(f"{path}: additional properties restricted")

    def _compare_items(self, old: Schema, new: Schema, path: str) -> None:
        old_items, new_items = old.get("items"), new.get("items")
        if isinstance(old_items, Mapping) and isinstance(new_items, Mapping):
            self.compare(old_items, new_items, f"{path}[]")
        elif old_items != new_items:
            self.problems.append(f"{path}: items changed (not comparable)")

    def _resolve(self, schema: Schema, root: Schema, path: str) -> Schema:
        seen: set[str] = set()
        while isinstance(schema.get("$ref"), str):
            ref: str = schema["$ref"]
            target = _pointer(root, ref) if ref not in seen else None
            if target is None:
                self.problems.append(f"{path}: cannot resolve $ref {ref!r}")
                return {key: value for key, value in schema.items() if key != "$ref"}
            seen.add(ref)
            # 2020-12 lets keywords sit beside $ref; they apply on top of the target.
            siblings = {key: value for key, value in schema.items() if key != "$ref"}
            schema = {**target, **siblings} if siblings else target
        return schema

    def _split(self, schema: Schema, root: Schema, path: str) -> tuple[bool, list[Schema]]:
        """Separate ``null`` from the other alternatives of ``schema``."""

        alternatives = schema.get("anyOf", schema.get("oneOf"))
        if isinstance(alternatives, list):
            shared = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf", "default")}
            nullable, branches = False, []
            for alternative in alternatives:
                resolved = self._resolve(alternative, root, path)
                null, inner = self._split({**shared, **resolved}, root, path)
                nullable = nullable or null
                branches.extend(inner)
            return nullable, branches
        types = schema.get("type")
        if isinstance(types, list):
            others = [t for t in types if t != "null"]
            branches = [{**schema, "type": t} for t in others]
            return "null" in types, branches
        if types == "null" or schema.get("const", _MISSING) is None:
            return True, []
        return False, [schema]


def _pointer(root: Schema, ref: str) -> Schema | None:
    if not ref.startswith("#"):
        return None
    node: Any = root
    for part in (p for p in ref[1:].split("/") if p):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, Mapping) else None


def _types(schema: Schema) -> frozenset[str] | None:
    types = schema.get("type")
    if types is None:
        return None
    return frozenset([types] if isinstance(types, str) else types)


def _enum(schema: Schema) -> list[Any] | None:
    if "enum" in schema:
        return list(schema["enum"])
    if "const" in schema:
        return [schema["const"]]
    return None


def _show_types(types: frozenset[str] | None) -> str:
    return "any" if types is None else "|".join(sorted(types))


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value, sort_keys=True, default=str)
