"""A write whose API key intake verified before checks the key's revocation and expiry in
its own transaction (``http_auth.VerifiedKeys``): the very next write after a revocation
or an expiry is refused, and writes nothing."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.routing import APIRoute

from refuge_common.auth.principal import Role
from refuge_common.db.pool import tenant_transaction
from refuge_intake import entrypoints
from refuge_intake.entrypoints import http_auth, http_case_views
from refuge_intake.service_layer import onboarding

if TYPE_CHECKING:
    from conftest import Intake

pytestmark = pytest.mark.integration
CASE = {"case_type": "removal_appeal", "channel": "phone"}
DECISION = {"decision": "oqtf", "notified_at": "2024-03-01T10:00:00+01:00"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _kept_key(intake: Intake) -> tuple[str, str, str]:
    """A new caseworker key that has opened a case, so that the process keeps it; and that case."""

    office = intake.a.offices[0]
    key = await onboarding.create_api_key(
        intake.pool, intake.a.organisation_id, role=Role.CASEWORKER, office_id=office
    )
    opened = await intake.client.post("/cases", json=CASE, headers=bearer(key))
    assert opened.status_code == 201, opened.text
    key_id = key.split("_")[1]
    assert intake.app.state.verified_keys.get(key_id) is not None, "the verified key is kept"
    # A second write takes the kept key's path: its check runs in the write's transaction.
    again = await intake.client.post("/cases", json=CASE, headers=bearer(key))
    assert again.status_code == 201, again.text
    return key, key_id, opened.json()["case_id"]


async def _cases(intake: Intake) -> int:
    async with tenant_transaction(intake.pool, intake.a.organisation_id) as connection:
        return int(await connection.fetchval("SELECT count(*) FROM intake.cases"))


async def _set(intake: Intake, key_id: str, column: str, at: datetime) -> None:
    async with tenant_transaction(intake.pool, intake.a.organisation_id) as connection:
        status = await connection.execute(
            f"UPDATE intake.api_keys SET {column} = $2 WHERE key_id = $1", key_id, at
        )
    assert status == "UPDATE 1"


async def _refused_and_nothing_written(intake: Intake, key: str, case_id: str) -> None:
    before = await _cases(intake)
    opened = await intake.client.post("/cases", json=CASE, headers=bearer(key))
    assert opened.status_code == 401, opened.text
    assert opened.headers["www-authenticate"] == "Bearer"
    fact = await intake.client.post(
        f"/cases/{case_id}/facts/decision_notified", json=DECISION, headers=bearer(key)
    )
    assert fact.status_code == 401, fact.text
    assert await _cases(intake) == before


async def test_the_next_write_after_a_revocation_is_refused(intake: Intake) -> None:
    key, key_id, case_id = await _kept_key(intake)
    await _set(intake, key_id, "revoked_at", datetime.now(UTC))
    await _refused_and_nothing_written(intake, key, case_id)
    assert intake.app.state.verified_keys.get(key_id) is None, "a refused key is no longer kept"


async def test_the_next_write_after_an_expiry_is_refused_and_a_later_one_admitted(intake: Intake) -> None:
    key, key_id, case_id = await _kept_key(intake)
    await _set(intake, key_id, "expires_at", datetime.now(UTC))
    await _refused_and_nothing_written(intake, key, case_id)
    await _set(intake, key_id, "expires_at", datetime.now(UTC) + timedelta(days=1))
    assert (await intake.client.post("/cases", json=CASE, headers=bearer(key))).status_code == 201


async def test_a_kept_key_id_with_another_secret_is_refused(intake: Intake) -> None:
    key, _key_id, case_id = await _kept_key(intake)
    forged = key[: key.rindex("_") + 1] + "not-the-secret"
    await _refused_and_nothing_written(intake, forged, case_id)
    assert (await intake.client.post("/cases", json=CASE, headers=bearer(key))).status_code == 201


def test_every_route_taking_a_writer_writes_through_write_once() -> None:
    """A Writer's key may still need its check: only write_once (and record_fact, which calls
    it) runs that check, so a route that takes a Writer must write through one of them."""

    takers: list[str] = []
    routes = _routes()
    assert len(routes) > 20
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        calls = {dependency.call for dependency in _dependencies(route.dependant)}
        if http_case_views.write_caller in calls:
            names = route.endpoint.__code__.co_names
            assert {"write_once", "record_fact", "write_alone", "record_fact_alone"} & set(names), route.path
            assert http_auth.current_principal not in calls, route.path
            takers.append(route.path)
    assert "/cases" in takers and "/cases/{case_id}/facts/decision_notified" in takers
    source = inspect.getsource(http_auth.VerifiedKeys.check)
    assert "require_usable_key" in source


async def test_every_write_documents_its_credentials_and_idempotency_key(intake: Intake) -> None:
    """write_caller reads the bearer and the Idempotency-Key by hand: each route taking it
    documents both as FastAPI documents them where they are declared (POST /persons)."""

    document = intake.app.openapi()
    [declared] = [p for p in document["paths"]["/persons"]["post"]["parameters"] if p["in"] == "header"]
    assert declared["name"] == "Idempotency-Key"
    writes = [
        route
        for route in _routes()
        if isinstance(route, APIRoute)
        and http_case_views.write_caller in {d.call for d in _dependencies(route.dependant)}
    ]
    assert len(writes) > 15
    for route in writes:
        for method in route.methods:
            operation = document["paths"][route.path][method.lower()]
            assert operation["security"] == [{"HTTPBearer": []}], route.path
            assert [p for p in operation["parameters"] if p["in"] == "header"] == [declared], route.path
    assert "HTTPBearer" in document["components"]["securitySchemes"]


def _routes() -> list[Any]:
    modules = [
        importlib.import_module(f"refuge_intake.entrypoints.{m.name}")
        for m in pkgutil.iter_modules(entrypoints.__path__)
    ]
    return [r for m in modules if hasattr(m, "router") for r in m.router.routes]


def _dependencies(dependant: Any) -> list[Any]:
    found = []
    for dependency in dependant.dependencies:
        found += [dependency, *_dependencies(dependency)]
    return found
