"""Figures of activity recorded through intake's HTTP API, as a caseworker's tools record it.

Intake and reporting run in-process on the real broker and one fresh database (each in its
own schema, as deployed); intake's outbox relay publishes, reporting's projector reads.
Every expected figure is worked out here from what the test did.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from refuge_common.auth.principal import Principal, Role
from refuge_common.contract.vocabulary import OfficeKind
from refuge_common.service_main import migrate_service
from refuge_devstack.pytest_plugin import throwaway_database
from refuge_devstack.testing import eventually
from refuge_devstack.tokens import LocalIssuer
from refuge_intake.adapters.token_issuer import generate_signing_key
from refuge_intake.bootstrap import build_app as build_intake
from refuge_intake.schema import SCHEMA as INTAKE_SCHEMA
from refuge_intake.service_layer import onboarding
from refuge_intake.settings import IntakeSettings
from refuge_reporting.bootstrap import build_app as build_reporting
from refuge_reporting.schema import SCHEMA as REPORTING_SCHEMA
from refuge_reporting.settings import ReportingSettings

pytestmark = pytest.mark.integration
THIS_YEAR = datetime.now(UTC).year
PERIOD = {"start": f"{THIS_YEAR}-01-01T00:00:00Z", "end": f"{THIS_YEAR + 1}-01-01T00:00:00Z"}


@dataclass
class Stack:
    intake: httpx.AsyncClient
    reporting: httpx.AsyncClient
    organisation: UUID
    offices: tuple[UUID, UUID]
    coordinator_key: str
    figures_token: dict[str, str]

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        response = await self.intake.post(
            path, json=body, headers={"Authorization": f"Bearer {self.coordinator_key}"}
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def figures(self, measure: str, **params: Any) -> dict[tuple[Any, ...], int]:
        response = await self.reporting.get(
            f"/figures/{measure}", headers=self.figures_token, params={**PERIOD, **params}
        )
        assert response.status_code == 200, response.text
        return {tuple(r["dimensions"].values()): r["value"] for r in response.json()["rows"]}


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with throwaway_database("refuge_reporting_intake") as url:
        yield url


@pytest.fixture(scope="module")
async def stack(
    kafka_bootstrap_servers: str, database: str, master_key: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    keys = tmp_path_factory.mktemp("keys")
    generate_signing_key(keys / "intake.pem")
    issuer = LocalIssuer(keys / "reporting-tests.pem")
    intake_settings = IntakeSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=database,
        REFUGE_MASTER_KEY=master_key,
        intake_signing_key_file=Path(keys / "intake.pem"),
        outbox_poll_interval_ms=100,
    )
    reporting_settings = ReportingSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers, database_url=database, jwks_url=issuer.jwks_url
    )
    await migrate_service(intake_settings, INTAKE_SCHEMA)
    await migrate_service(reporting_settings, REPORTING_SCHEMA)
    intake, reporting = build_intake(intake_settings), build_reporting(reporting_settings)
    try:
        async with intake.router.lifespan_context(intake), reporting.router.lifespan_context(reporting):
            pool = intake.state.pool()
            organisation = await onboarding.register_organisation(pool, "Accueil Juridique")
            offices = tuple(
                [
                    await onboarding.open_office(
                        pool,
                        organisation,
                        name=name,
                        kind=OfficeKind.DROP_IN_CLINIC,
                        timezone="Europe/Paris",
                        jurisdiction="FR",
                    )
                    for name in ("Permanence Nord", "Permanence Sud")
                ]
            )
            key = await onboarding.create_api_key(pool, organisation, role=Role.COORDINATOR)
            token = issuer.token(Principal("figures", organisation, Role.COORDINATOR))
            async with (
                httpx.AsyncClient(transport=httpx.ASGITransport(app=intake), base_url="http://intake") as i,
                httpx.AsyncClient(transport=httpx.ASGITransport(app=reporting), base_url="http://r") as r,
            ):
                yield Stack(i, r, organisation, offices, key, {"Authorization": f"Bearer {token}"})  # type: ignore[arg-type]
    finally:
        issuer.close()


async def test_a_year_recorded_through_intake(stack: Stack) -> None:
    north, south = stack.offices
    person = {}
    for name, fields in {
        "amina": {"gender": "female", "nationalities": ["SY"]},
        "karim": {"gender": "male", "nationalities": ["AF"]},
        "sam": {},  # gender not given: not stated
        "lou": {"gender": "other"},
    }.items():
        body = await stack.post("/persons", {"family_name": name, "office_id": str(north), **fields})
        person[name] = body["person_id"]

    async def open_case(office: UUID, who: str | None, channel: str = "in_person") -> str:
        body: dict[str, Any] = {"case_type": "asylum", "channel": channel, "office_id": str(office)}
        if who:
            body["person_id"] = person[who]
        return str((await stack.post("/cases", body))["case_id"])

    amina_north, amina_south = await open_case(north, "amina"), await open_case(south, "amina")
    karim = await open_case(north, "karim")
    sam = await open_case(south, "sam")
    lou = await open_case(north, "lou")
    caller = await open_case(south, None, channel="phone")  # an anonymous phone call
    for case, outcome in (
        (caller, "resolved_remotely"),
        (caller, "resolved_remotely"),
        (caller, "appointment_given"),
        (amina_north, "referred"),
    ):
        await stack.post(f"/cases/{case}/facts/contact_logged", {"channel": "phone", "outcome": outcome})
    for case in (karim, sam):
        await stack.post(
            f"/cases/{case}/facts/detention_started", {"started_at": datetime.now(UTC).isoformat()}
        )
    await stack.post(f"/cases/{karim}/facts/closed", {"outcome": "favourable"})
    erased = await stack.intake.delete(
        f"/persons/{person['lou']}", headers={"Authorization": f"Bearer {stack.coordinator_key}"}
    )
    assert erased.status_code in (200, 204), erased.text
    assert amina_south and lou

    async def everything_counted() -> bool:
        contacts = await stack.figures("contacts")
        closed = await stack.figures("cases_closed")
        return contacts.get((), 0) == 4 and closed.get((), 0) == 1

    await eventually(everything_counted, within=60)

    by_office = await stack.figures("persons", group_by="office")
    # Amina in both offices is one person in the total; the anonymous caller counts as one.
    assert by_office == {(str(north),): 3, (str(south),): 3, (None,): 5}
    assert await stack.figures("persons", group_by="gender") == {
        ("female",): 1,
        ("male",): 1,
        ("not_stated",): 2,
        ("other",): 1,  # Lou, erased, still counted
        (None,): 5,
    }
    contacts = await stack.figures("contacts", group_by="outcome")
    assert contacts[("resolved_remotely",)] / contacts[(None,)] == 0.5
    assert await stack.figures("persons_detained", group_by="gender") == {
        ("male",): 1,
        ("not_stated",): 1,
        (None,): 2,
    }
    assert await stack.figures("cases_closed", group_by="outcome") == {("favourable",): 1, (None,): 1}
