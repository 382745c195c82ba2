"""The shape of data: field names and JSON types, never a value."""

from __future__ import annotations

import json
import uuid

from refuge_common.crypto.sealing import new_data_key, seal
from refuge_ops.domain.shape import is_sealed, json_type, shape_of


def test_scalars_are_their_json_types() -> None:
    assert [json_type(v) for v in (None, True, 3, 2.5, "x", {}, [])] == [
        "null",
        "boolean",
        "integer",
        "number",
        "string",
        "object",
        "array",
    ]


def test_an_object_shows_its_field_names_and_types_only() -> None:
    data = {"case_id": str(uuid.uuid4()), "count": 3, "closed": False, "note": None, "score": 0.5}
    shape = shape_of(data)
    assert shape == "{case_id: string, count: integer, closed: boolean, note: null, score: number}"
    assert data["case_id"] not in shape


def test_arrays_show_the_types_of_their_items() -> None:
    assert shape_of({"nationalities": ["SY", "AF"]}) == "{nationalities: array[string]}"
    assert shape_of({"mixed": [1, "a", None]}) == "{mixed: array[integer|null|string]}"
    assert shape_of({"empty": []}) == "{empty: array[]}"
    assert shape_of([{"a": 1}, {"a": 2}]) == "array[{a: integer}]"


def test_a_sealed_object_is_one_word() -> None:
    person = uuid.uuid4()
    sealed = seal(new_data_key(), person, {"given_name": "Amina", "phone": "+33612345678"})
    data = {"person_id": str(person), "personal_data": sealed.model_dump(mode="json")}
    shape = shape_of(json.loads(json.dumps(data)))
    assert shape == "{person_id: string, personal_data: sealed}"
    assert is_sealed(sealed.model_dump(mode="json"))
    for secret in ("Amina", "+3361", sealed.ciphertext, sealed.nonce, str(person)):
        assert secret not in shape


def test_an_object_with_the_sealed_fields_and_more_is_not_taken_for_sealed() -> None:
    almost = {"alg": "A256GCM", "key_id": "k", "nonce": "n", "ciphertext": "c", "extra": 1}
    assert not is_sealed(almost)
    assert shape_of(almost).startswith("{alg: string")


def test_nested_objects_recurse() -> None:
    data = {"address": {"city": "Paris", "lines": ["12 rue"]}, "document": {"kind": "passport"}}
    assert shape_of(data) == "{address: {city: string, lines: array[string]}, document: {kind: string}}"


def test_field_names_that_do_not_look_like_names_are_counted_not_shown() -> None:
    # A malformed record can carry anything, a person's name as a key included.
    shape = shape_of({"case_id": "x", "Jean Dupont": 1, "06 12 34 56 78": 2})
    assert shape == "{case_id: string, +2 fields with unusual names}"
    assert "Jean" not in shape and "06" not in shape


def test_deep_structures_are_cut() -> None:
    deep: dict[str, object] = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
    assert shape_of(deep) == "{a: {b: {c: {d: {…}}}}}"
