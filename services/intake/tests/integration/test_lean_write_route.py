"""The case writes' lean handler (``http_lean_route``) answers exactly as FastAPI's own.

Each request goes to the app as served and to the same app built with FastAPI's generic
handler on every route; both share the running app's database, keyring and relay. For
every kind of request a client may send (well formed, refused for its content type, body,
path, credentials or header), the two answer with the same status and the same body.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import fastapi.routing
import httpx
import pytest
from fastapi import Body, Request, Response
from fastapi.routing import APIRoute

from refuge_intake.bootstrap import build_app
from refuge_intake.entrypoints import (
    http_case_facts,
    http_case_hearings,
    http_case_status,
    http_cases,
    http_litigation,
)
from refuge_intake.entrypoints.http_case_views import Writing
from refuge_intake.entrypoints.http_cases import OpenCase
from refuge_intake.entrypoints.http_lean_route import LeanWriteRoute

if TYPE_CHECKING:
    from conftest import Intake

pytestmark = pytest.mark.integration

DECISION = {"decision": "ofpra_rejection", "notified_at": "2026-03-02T10:00:00+01:00"}
WRITE_ROUTERS = (http_cases, http_case_facts, http_case_hearings, http_case_status, http_litigation)


def _build_every_route(app: Any) -> None:
    """Have FastAPI build the handler of every route the app includes, now.

    FastAPI (0.165) builds an included route's handler at its first request: the app under
    test must have built its own before the patch below, the generic app during it. This
    reads FastAPI's private structure; a FastAPI that changes it fails here, loudly."""

    for route in app.router.routes:
        if hasattr(route, "effective_candidates"):
            route.effective_candidates()


@pytest.fixture
async def generic(intake: Intake) -> AsyncIterator[httpx.AsyncClient]:
    """A client of intake built with FastAPI's handler on every route, sharing the state
    (pool, keyring, verified keys, relay) of the app under test."""

    _build_every_route(intake.app)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LeanWriteRoute, "get_route_handler", APIRoute.get_route_handler)
        app = build_app(intake.settings)
        _build_every_route(app)
    app.state = intake.app.state
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as client:
        yield client


def test_every_case_write_can_take_the_lean_handler() -> None:
    writes = [
        route
        for module in WRITE_ROUTERS
        for route in module.router.routes
        if isinstance(route, APIRoute) and "POST" in (route.methods or ())
    ]
    assert len(writes) >= 15
    not_lean = [route.path for route in writes if not LeanWriteRoute.supports(route.dependant)]
    assert not_lean == [], f"left to FastAPI's generic handler: {not_lean}"
    reads = [
        route
        for route in http_cases.router.routes
        if isinstance(route, APIRoute) and "GET" in (route.methods or ())
    ]
    assert reads and not any(LeanWriteRoute.supports(route.dependant) for route in reads)


# An embedded body is read as {"body": {...}}, not as the model itself: FastAPI's handler.
EmbeddedCase = Annotated[OpenCase, Body(embed=True)]


async def _embedded(request: Request, caller: Writing, body: EmbeddedCase) -> Response:
    raise AssertionError("not called")


async def _whole(request: Request, caller: Writing, body: OpenCase) -> Response:
    raise AssertionError("not called")


def test_an_embedded_body_keeps_fastapis_handler() -> None:
    assert not LeanWriteRoute.supports(APIRoute("/x", _embedded, methods=["POST"]).dependant)
    assert LeanWriteRoute.supports(APIRoute("/x", _whole, methods=["POST"]).dependant)


async def test_a_well_formed_write_skips_fastapis_dependency_solver(
    intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    _build_every_route(intake.app)
    solved: list[str | None] = []
    solve = fastapi.routing.solve_dependencies  # type: ignore[attr-defined]

    async def noting(*args: Any, **kwargs: Any) -> Any:
        solved.append(kwargs["dependant"].path)
        return await solve(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", noting)
    case_id = await _case(intake)
    headers = {"Authorization": f"Bearer {intake.a.caseworker_key}"}
    fact = f"/cases/{case_id}/facts/decision_notified"
    response = await intake.client.post(fact, json=DECISION, headers=headers)
    assert response.status_code == 201, response.text
    assert solved == []
    refused = await intake.client.post(fact, json={**DECISION, "decision": "maybe"}, headers=headers)
    assert refused.status_code == 422 and solved == ["/cases/{case_id}/facts/decision_notified"]


async def _case(intake: Intake) -> str:
    headers = {"Authorization": f"Bearer {intake.a.caseworker_key}"}
    response = await intake.client.post(
        "/cases", json={"case_type": "asylum", "channel": "phone"}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


def _requests(intake: Intake, case_id: str) -> list[tuple[str, str, dict[str, str], bytes]]:
    """(what, path, headers, body) of requests each app answers on its own."""

    good = {"Authorization": f"Bearer {intake.a.caseworker_key}"}
    json_type = {**good, "Content-Type": "application/json"}
    fact = f"/cases/{case_id}/facts/decision_notified"
    decision = httpx.Request("POST", "/", json=DECISION).content
    return [
        ("text/plain content type", fact, {**good, "Content-Type": "text/plain"}, decision),
        ("no content type", fact, good, decision),
        ("a +json media type", fact, {**good, "Content-Type": "application/merge-patch+json"}, b"{}"),
        ("empty body", fact, json_type, b""),
        ("malformed JSON", fact, json_type, b'{"decision": '),
        ("a JSON array", fact, json_type, b"[]"),
        ("JSON null", fact, json_type, b"null"),
        ("NaN", fact, json_type, b'{"decision": "ofpra_rejection", "notified_at": NaN}'),
        ("UTF-16 JSON", fact, json_type, '{"decision": "ofpra_rejection"}'.encode("utf-16")),
        (
            "unknown field",
            fact,
            json_type,
            b'{"decision": "ofpra_rejection", "notifed_at": "2026-03-02T10:00:00Z"}',
        ),
        (
            "unknown enum value",
            fact,
            json_type,
            b'{"decision": "maybe", "notified_at": "2026-03-02T10:00:00Z"}',
        ),
        (
            "naive date-time",
            fact,
            json_type,
            b'{"decision": "ofpra_rejection", "notified_at": "2026-03-02T10:00:00"}',
        ),
        (
            "impossible date",
            fact,
            json_type,
            b'{"decision": "ofpra_rejection", "notified_at": "2026-02-30T10:00:00Z"}',
        ),
        ("case id not a UUID", "/cases/not-a-uuid/facts/decision_notified", json_type, decision),
        ("unknown case", f"/cases/{uuid.uuid4()}/facts/decision_notified", json_type, decision),
        (
            "unknown key",
            fact,
            {"Authorization": "Bearer rfg_nope", "Content-Type": "application/json"},
            decision,
        ),
        ("no credentials, bad body", fact, {"Content-Type": "application/json"}, b'{"decision": 1}'),
        ("malformed JSON, no credentials", fact, {"Content-Type": "application/json"}, b"{"),
        ("malformed Idempotency-Key", fact, {**json_type, "Idempotency-Key": "not a key"}, decision),
        ("oversized body", fact, json_type, b'{"decision": "' + b"x" * 5000 + b'"}'),
        (
            "case body: bad office id",
            "/cases",
            json_type,
            b'{"case_type": "asylum", "channel": "phone", "office_id": "x"}',
        ),
        ("case body: missing field", "/cases", json_type, b'{"case_type": "asylum"}'),
        ("case body: unknown office", "/cases", json_type, _case_body(office_id=str(uuid.uuid4()))),
    ]


def _case_body(**extra: Any) -> bytes:
    return httpx.Request("POST", "/", json={"case_type": "asylum", "channel": "phone", **extra}).content


async def test_refusals_are_fastapis_own(intake: Intake, generic: httpx.AsyncClient) -> None:
    case_id = await _case(intake)
    for what, path, headers, body in _requests(intake, case_id):
        lean = await intake.client.post(path, headers=headers, content=body)
        plain = await generic.post(path, headers=headers, content=body)
        assert lean.status_code >= 400, f"{what}: {lean.status_code} {lean.text}"
        assert (lean.status_code, lean.json()) == (plain.status_code, plain.json()), what


async def test_a_write_answers_as_fastapis_handler_does(intake: Intake, generic: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {intake.a.caseworker_key}"}
    answers = []
    for client in (intake.client, generic):
        case_id = await _case(intake)
        notified = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).isoformat()
        body = {**DECISION, "notified_at": notified}
        response = await client.post(f"/cases/{case_id}/facts/decision_notified", json=body, headers=headers)
        assert response.status_code == 201, response.text
        answers.append(_without_ids(response.json(), case_id))
    assert answers[0] == answers[1]


def _without_ids(answer: dict[str, Any], case_id: str) -> dict[str, Any]:
    """The answer with what differs from one write to the next (ids, clock) blanked."""

    case = {**answer["case"], "case_id": "<case>", "opened_at": "<time>"}
    data = {name: ("<case>" if value == case_id else value) for name, value in answer["data"].items()}
    return {**answer, "event_id": "<event>", "data": data, "case": case}
