"""Every route of intake, generated from its OpenAPI document, against another tenant's records.

For each authenticated operation, fresh records of organisation A are made (a person and
a case of theirs with a fact and a hearing, besides A's offices and staff); the
operation's path parameters, and the id fields of its query and body, are filled with A's
ids. Then every role of organisation B (and A's caseworker of another office) tries it.
None may succeed, and the answer must be the one the same caller gets for ids that exist
nowhere: a 404 (or a role's 403, a validation 422) that says nothing about A. Without
credentials it is a 401. Then one of A's own callers sends the very same request and must
succeed, so that a refusal above cannot come from a request that was malformed anyway;
where the operation takes an Idempotency-Key, A sends one, and B's callers then send the
same key, which must not replay A's answer.

A route added later is picked up from the document. A path parameter this test cannot
fill, or a request its owner does not accept, fails the test with what to teach it.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from refuge_common.contract.vocabulary import (
    COUNTRY_PATTERN,
    DURATION_PATTERN,
    JURISDICTION_PATTERN,
    LANGUAGE_PATTERN,
    TIMEZONE_PATTERN,
)

if TYPE_CHECKING:
    from conftest import Intake, Org

pytestmark = pytest.mark.integration

# Routes anyone may call: they take no tenant's record. Any other route must require a token.
PUBLIC = {
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/metrics"),
    ("POST", "/oauth/token"),
    ("GET", "/.well-known/jwks.json"),
}
# Which of A's records a parameter or body field names, by its name. A path parameter
# whose name is not here fails the test: teach it below (and make the record in _records).
PATH_KINDS = {
    "case_id": "case",
    "person_id": "person",
    "office_id": "office",
    "staff_id": "staff",
    "caseworker_id": "staff",
    "event_id": "fact",
}
# A field named like a reference (``*_id``) in a query or a body is filled by its suffix.
FIELD_SUFFIXES = {
    "case_id": "case",
    "person_id": "person",
    "office_id": "office",
    "staff_id": "staff",
    "caseworker_id": "staff",
    "hearing_id": "hearing",
}
# Values for constrained strings the generator meets in intake's schemas.
PATTERNS = {
    JURISDICTION_PATTERN: "FR",
    TIMEZONE_PATTERN: "Europe/Paris",
    LANGUAGE_PATTERN: "fr",
    COUNTRY_PATTERN: "FR",
    DURATION_PATTERN: "P1D",
}


@dataclass(frozen=True)
class Ref:
    """A body hint naming one of A's records by kind (its id is only known at run time)."""

    kind: str


@dataclass(frozen=True)
class Later:
    """A body hint for an instant that must be in the future."""

    days: int = 30


OMIT = "<omit>"  # a body hint leaving out a field the generator would fill

# Extra body fields an operation needs beyond its schema's required ones (rules the
# schema cannot say), by (method, path template).
BODY_HINTS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/persons"): {"family_name": "Cross-Tenant"},
    # A's staff member works in the case's office: the case moves without them.
    ("POST", "/cases/{case_id}/facts/transferred"): {"office_id": Ref("other office"), "caseworker_id": OMIT},
    ("POST", "/cases/{case_id}/facts/hearing_scheduled"): {"scheduled_at": Later()},
    ("POST", "/cases/{case_id}/facts/hearing_rescheduled"): {"scheduled_at": Later(40)},
}
# What a case must already have for an operation to be accepted on it: requests (method,
# path under the case, body) that A's coordinator sends first, by (method, path template).
SETUP: dict[tuple[str, str], list[tuple[str, str, dict[str, Any]]]] = {
    ("POST", "/cases/{case_id}/facts/detention_ended"): [
        ("POST", "/facts/detention_started", {"started_at": "{yesterday}", "kind": "administrative"})
    ],
    ("POST", "/cases/{case_id}/litigation/developments"): [
        ("PUT", "/litigation", {"court": "Tribunal administratif de Paris"})
    ],
}
IDEMPOTENCY_KEY = "Idempotency-Key"


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Probe:
    """One concrete request, with the ids of A's records it names (id -> kind)."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    named: dict[str, str] = field(default_factory=dict)

    def with_ids(self, replacements: dict[str, str]) -> Probe:
        """The same request with some ids replaced (in the path, the query and the body)."""

        def swap(text: str) -> str:
            for old, new in replacements.items():
                text = text.replace(old, new)
            return text

        body = json.loads(swap(json.dumps(self.body))) if self.body is not None else None
        return Probe(
            self.method,
            swap(self.path),
            {k: swap(v) for k, v in self.params.items()},
            dict(self.headers),
            body,
            {replacements.get(k, k): v for k, v in self.named.items()},
        )

    @property
    def key(self) -> str | None:
        return self.headers.get(IDEMPOTENCY_KEY)

    def with_key(self, key: str | None) -> Probe:
        """The same request under another Idempotency-Key (or none)."""

        headers = {k: v for k, v in self.headers.items() if k != IDEMPOTENCY_KEY}
        if key is not None:
            headers[IDEMPOTENCY_KEY] = key
        return dataclasses.replace(self, headers=headers)

    async def send(self, client: httpx.AsyncClient, credential: str | None) -> httpx.Response:
        headers = {**self.headers, **(bearer(credential) if credential else {})}
        return await client.request(
            self.method, self.path, params=self.params, headers=headers, json=self.body
        )


def operations(spec: dict[str, Any]) -> list[Operation]:
    found = [
        Operation(method.upper(), path, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]
    assert found, "the OpenAPI document lists no operation"
    return found


class Schemas:
    """Minimal valid instances of the document's JSON Schemas, with A's ids in reference fields."""

    def __init__(self, spec: dict[str, Any], operation: Operation, ids: dict[str, str]) -> None:
        self.components = spec.get("components", {}).get("schemas", {})
        self.operation = operation
        self.ids = ids
        self.named: dict[str, str] = {}

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def reference(self, name: str) -> str | None:
        """A's id for a field or parameter called ``name``, if it names one of A's records."""

        kind = next((k for suffix, k in FIELD_SUFFIXES.items() if name.endswith(suffix)), None)
        if kind is None:
            return None
        self.named[self.ids[kind]] = kind
        return self.ids[kind]

    def instance(self, schema: dict[str, Any], name: str) -> Any:
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        for combinator in ("anyOf", "oneOf"):
            if combinator in schema:
                options = [self.resolve(s) for s in schema[combinator]]
                return self.instance(next(s for s in options if s.get("type") != "null"), name)
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged = _merge(merged, self.resolve(part))
            return self.instance(merged, name)
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            return self.object(schema)
        if kind == "array":
            count = schema.get("minItems", 0)
            return [self.instance(schema.get("items", {}), name) for _ in range(count)]
        if kind == "string":
            return self.string(schema, name)
        if kind == "integer":
            return max(schema.get("minimum", 1), 1)
        if kind == "number":
            return float(schema.get("minimum", 1))
        if kind == "boolean":
            return False
        pytest.fail(f"{self.operation}: cannot make a value for {name!r} from {schema}; teach Schemas")

    def object(self, schema: dict[str, Any]) -> dict[str, Any]:
        properties = schema.get("properties", {})
        made = {}
        for name, prop in properties.items():
            if name in schema.get("required", ()) or self.reference(name) is not None:
                made[name] = self.instance(prop, name)
        return made

    def string(self, schema: dict[str, Any], name: str) -> str:
        form = schema.get("format")
        if form == "uuid":
            reference = self.reference(name)
            if reference is None:
                pytest.fail(
                    f"{self.operation}: field {name!r} names a record this test does not know; "
                    "add it to FIELD_SUFFIXES (and make one for A in _records)"
                )
            return reference
        if form == "date-time":
            return (datetime.now(UTC) - timedelta(days=1)).isoformat()
        if form == "date":
            return (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
        if form == "email":
            return "cross-tenant@example.org"
        if "pattern" in schema:
            if schema["pattern"] not in PATTERNS:
                pytest.fail(f"{self.operation}: no value known for {name!r} ~ {schema['pattern']}")
            return PATTERNS[schema["pattern"]]
        return "x" * max(schema.get("minLength", 1), 1)


def _merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    merged = {**left, **right}
    merged["properties"] = {**left.get("properties", {}), **right.get("properties", {})}
    merged["required"] = [*left.get("required", []), *right.get("required", [])]
    return merged


def probes(spec: dict[str, Any], operation: Operation, ids: dict[str, str]) -> Iterator[Probe]:
    """The concrete requests of an operation on A's records (one per value of an enum path part)."""

    schemas = Schemas(spec, operation, ids)
    path_values: list[list[tuple[str, str]]] = []
    params: dict[str, str] = {}
    headers: dict[str, str] = {}
    for parameter in operation.spec.get("parameters", []):
        name, where = parameter["name"], parameter["in"]
        schema = schemas.resolve(parameter.get("schema", {}))
        if where == "path":
            if name in PATH_KINDS:
                schemas.named[ids[PATH_KINDS[name]]] = PATH_KINDS[name]
                path_values.append([(name, ids[PATH_KINDS[name]])])
            elif "enum" in schema:
                path_values.append([(name, str(value)) for value in schema["enum"]])
            else:
                pytest.fail(
                    f"{operation}: path parameter {{{name}}} ({schema}) is of a kind this test cannot "
                    "fill with another tenant's record; add it to PATH_KINDS (and to _records)"
                )
        elif where == "query" and (parameter.get("required") or schemas.reference(name) is not None):
            params[name] = str(schemas.instance(schema, name))
        elif where == "header" and parameter.get("required"):
            headers[name] = str(uuid.uuid4())
    body = None
    content = operation.spec.get("requestBody", {}).get("content", {})
    if content:
        if "application/json" not in content:
            pytest.fail(f"{operation}: only JSON bodies are generated, not {sorted(content)}")
        body = schemas.instance(content["application/json"]["schema"], "body")
        for name, hint in BODY_HINTS.get((operation.method, operation.path), {}).items():
            if isinstance(hint, Ref):
                schemas.named[ids[hint.kind]] = hint.kind
                hint = ids[hint.kind]
            elif isinstance(hint, Later):
                hint = (datetime.now(UTC) + timedelta(days=hint.days)).isoformat()
            if hint == OMIT:
                body.pop(name, None)
            else:
                body[name] = hint
    for values in itertools.product(*path_values):
        path = operation.path
        for name, value in values:
            path = path.replace(f"{{{name}}}", value)
        yield Probe(
            operation.method, path, dict(params), dict(headers), copy.deepcopy(body), dict(schemas.named)
        )


async def _records(intake: Intake) -> dict[str, str]:
    """Fresh records of organisation A, made through the API by its coordinator."""

    a, client = intake.a, intake.client
    person = await intake.register_person(a.coordinator_key, office_id=str(a.offices[0]))
    opened = await client.post(
        "/cases",
        json={
            "case_type": "removal_appeal",
            "channel": "in_person",
            "office_id": str(a.offices[0]),
            "person_id": person,
            "caseworker_id": str(a.caseworker_staff),
        },
        headers=bearer(a.coordinator_key),
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()["case_id"]
    recorded = await client.post(
        f"/cases/{case}/facts/decision_notified",
        json={"decision": "oqtf", "regime": "ordinary", "notified_at": datetime.now(UTC).isoformat()},
        headers=bearer(a.coordinator_key),
    )
    assert recorded.status_code == 201, recorded.text
    scheduled = await client.post(
        f"/cases/{case}/facts/hearing_scheduled",
        json={"scheduled_at": (datetime.now(UTC) + timedelta(days=30)).isoformat()},
        headers=bearer(a.coordinator_key),
    )
    assert scheduled.status_code == 201, scheduled.text
    return {
        "organisation": str(a.organisation_id),
        "office": str(a.offices[0]),
        "other office": str(a.offices[1]),
        "staff": str(a.caseworker_staff),
        "person": person,
        "case": case,
        "fact": recorded.json()["event_id"],
        "hearing": scheduled.json()["data"]["hearing_id"],
    }


async def _set_up(intake: Intake, operation: Operation, ids: dict[str, str]) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    for method, path, body in SETUP.get((operation.method, operation.path), []):
        filled = json.loads(json.dumps(body).replace("{yesterday}", yesterday))
        response = await intake.client.request(
            method, f"/cases/{ids['case']}{path}", json=filled, headers=bearer(intake.a.coordinator_key)
        )
        assert 200 <= response.status_code < 300, (str(operation), path, response.text)


async def _token(intake: Intake, key: str) -> str:
    response = await intake.client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_secret": key}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _intruders(intake: Intake, b_admin_token: str) -> dict[str, str]:
    b: Org = intake.b
    return {
        "B caseworker": b.caseworker_key,
        "B coordinator": b.coordinator_key,
        "B org admin": b.org_admin_key,
        "B org admin (token)": b_admin_token,
        "B operator": b.operator_key,
        "B integrator": b.integrator_key,
        "A caseworker of another office": intake.a.other_office_caseworker_key,
    }


def _a_identifiers(intake: Intake, ids: dict[str, str]) -> set[str]:
    a = intake.a
    keys = (a.caseworker_key, a.coordinator_key, a.org_admin_key, a.operator_key, a.integrator_key)
    return {*ids.values(), *(str(o) for o in a.offices), *(k.split("_")[1] for k in keys), "Org A"}


def _normalised(response: httpx.Response, ids: dict[str, str]) -> tuple[int, str]:
    text = response.text
    for value, kind in ids.items():
        text = text.replace(value, f"<{kind}>")
    return response.status_code, text


async def test_no_route_lets_another_tenant_touch_a_record(intake: Intake) -> None:
    spec = intake.app.openapi()
    b_admin_token = await _token(intake, intake.b.org_admin_key)
    tried: list[str] = []
    for operation in operations(spec):
        if (operation.method, operation.path) in PUBLIC:
            continue
        assert operation.spec.get("security"), f"{operation} takes no credentials and is not PUBLIC"
        ids = await _records(intake)
        await _set_up(intake, operation, ids)
        for probe in probes(spec, operation, ids):
            assert probe.named or "{" not in operation.path, probe
            for credential in (None, "rfg_0000000000000000_forged", "not.a.token"):
                response = await probe.send(intake.client, credential)
                assert response.status_code == 401, (str(operation), credential, response.text)
            await _intruders_get_nothing(intake, operation, probe, ids, b_admin_token)
            key = await _owner_accepts(intake, operation, probe)
            if key is not None:
                # The owner's answer is now kept under its Idempotency-Key: the same key
                # sent by another tenant must not replay it. (Not by A's other office: the
                # owner's write may have just given that office the record, a transfer does.)
                await _intruders_get_nothing(
                    intake, operation, probe.with_key(key), ids, b_admin_token, other_tenant_only=True
                )
            tried.append(f"{probe.method} {probe.path}")
    assert tried, "no authenticated route was tried"


async def _intruders_get_nothing(
    intake: Intake,
    operation: Operation,
    probe: Probe,
    ids: dict[str, str],
    b_admin_token: str,
    *,
    other_tenant_only: bool = False,
) -> None:
    nowhere = {value: str(uuid.uuid4()) for value in probe.named}
    elsewhere = probe.with_ids(nowhere).with_key(str(uuid.uuid4()) if probe.key else None)
    for who, credential in _intruders(intake, b_admin_token).items():
        if other_tenant_only and not who.startswith("B "):
            continue
        answer = await probe.send(intake.client, credential)
        control = await elsewhere.send(intake.client, credential)
        context = f"{operation} as {who}: {answer.status_code} {answer.text[:300]}"
        if "{" in operation.path:
            # A record named in the path: never served, never acknowledged.
            assert answer.status_code in (403, 404, 422), context
        if 200 <= answer.status_code < 300:
            # A search or a write of the caller's own: nothing of A may come back.
            leaked = _a_identifiers(intake, ids) - set(probe.named)
            assert not [x for x in leaked if x in answer.text], context
            assert control.status_code == answer.status_code, context
        else:
            # As if the records did not exist: same status, same words.
            assert _normalised(answer, probe.named) == _normalised(control, elsewhere.named), context


async def _owner_accepts(intake: Intake, operation: Operation, probe: Probe) -> str | None:
    """The request was sound: one of A's own callers gets it done (after the intruders tried).

    Sent with an Idempotency-Key when the operation takes one; returns that key.
    """

    takes_key = any(
        p["in"] == "header" and p["name"].lower() == IDEMPOTENCY_KEY.lower()
        for p in operation.spec.get("parameters", [])
    )
    key = str(uuid.uuid4()) if takes_key else None
    answers = []
    a = intake.a
    for credential in (
        a.org_admin_key,
        a.coordinator_key,
        a.caseworker_key,
        a.operator_key,
        a.integrator_key,
    ):
        response = await probe.with_key(key).send(intake.client, credential)
        if 200 <= response.status_code < 300:
            return key
        answers.append(f"{response.status_code} {response.text[:200]}")
    pytest.fail(
        f"{operation}: the generated request {probe} is refused to its own organisation too "
        f"({answers}); add what it lacks to BODY_HINTS so that the refusals above mean something"
    )


async def test_the_matrix_knows_every_path_parameter_of_the_document(intake: Intake) -> None:
    """Fails at once, by name, when a route brings a path parameter kind nobody taught the matrix."""

    spec = intake.app.openapi()
    kinds = ("organisation", "office", "other office", "staff", "person", "case", "fact", "hearing")
    ids = {kind: str(uuid.uuid4()) for kind in kinds}
    for operation in operations(spec):
        if (operation.method, operation.path) not in PUBLIC:
            assert list(probes(spec, operation, ids)), str(operation)


def test_a_path_parameter_of_an_unknown_kind_fails_loudly() -> None:
    spec: dict[str, Any] = {"paths": {}, "components": {}}
    operation = Operation(
        "GET",
        "/cases/{case_id}/hearings/{hearing_id}",
        {
            "parameters": [
                {"name": n, "in": "path", "schema": {"type": "string"}} for n in ("case_id", "hearing_id")
            ]
        },
    )
    with pytest.raises(pytest.fail.Exception, match=r"\{hearing_id\}.*PATH_KINDS"):
        list(probes(spec, operation, {"case": str(uuid.uuid4())}))
