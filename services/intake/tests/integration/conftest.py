"""Intake in-process on the real broker and a fresh database, with two tenants."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from refuge_common.auth.principal import Role
from refuge_common.contract.vocabulary import OfficeKind
from refuge_common.service_main import migrate_service
from refuge_intake.adapters.token_issuer import generate_signing_key
from refuge_intake.bootstrap import build_app
from refuge_intake.schema import SCHEMA
from refuge_intake.service_layer import onboarding
from refuge_intake.settings import IntakeSettings


@dataclass(frozen=True)
class Org:
    organisation_id: UUID
    offices: tuple[UUID, UUID]
    caseworker_key: str  # bound to offices[0]
    coordinator_key: str


@dataclass(frozen=True)
class Intake:
    client: httpx.AsyncClient
    a: Org
    b: Org
    settings: IntakeSettings


async def _onboard(app: object, name: str) -> Org:
    pool = app.state.pool()  # type: ignore[attr-defined]
    org = await onboarding.register_organisation(pool, name)
    offices = [
        await onboarding.open_office(
            pool,
            org,
            name=f"{name} office {n}",
            kind=OfficeKind.DROP_IN_CLINIC,
            timezone="Europe/Paris",
            jurisdiction="FR",
        )
        for n in (1, 2)
    ]
    caseworker = await onboarding.create_api_key(pool, org, role=Role.CASEWORKER, office_id=offices[0])
    coordinator = await onboarding.create_api_key(pool, org, role=Role.COORDINATOR)
    return Org(org, (offices[0], offices[1]), caseworker, coordinator)


@pytest.fixture(scope="session")
async def intake(
    kafka_bootstrap_servers: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Intake]:
    key_file = tmp_path_factory.mktemp("intake") / "signing.pem"
    generate_signing_key(key_file)
    settings = IntakeSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=database_url,
        REFUGE_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
        intake_signing_key_file=Path(key_file),
        intake_max_body_bytes=4096,
        outbox_poll_interval_ms=100,
    )
    await migrate_service(settings, SCHEMA)
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield Intake(client, await _onboard(app, "Org A"), await _onboard(app, "Org B"), settings)
