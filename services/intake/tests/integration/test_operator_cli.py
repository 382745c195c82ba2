"""``refuge-intake`` for operators: keys (list, expire, revoke), offices and staff after onboarding.

The commands run in a thread (each opens its own event loop and pool, like the real
command line) against the session's database; their effect is checked through the
HTTP API and on ``refuge.directory.v1``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from aiokafka import ConsumerRecord
from typer.testing import CliRunner

from refuge_common.auth.principal import Role
from refuge_common.contract import topics
from refuge_common.contract.directory import OfficeClosed, OfficeUpdated, StaffRemoved, StaffUpdated
from refuge_common.contract.envelope import from_record
from refuge_common.contract.sealed import Sealed
from refuge_common.contract.vocabulary import OfficeKind
from refuge_common.crypto.sealing import open_sealed
from refuge_common.db.pool import tenant_transaction
from refuge_intake.entrypoints import cli
from refuge_intake.service_layer import onboarding

if TYPE_CHECKING:
    from conftest import Intake

pytestmark = pytest.mark.integration
CASE = {"case_type": "removal_appeal", "channel": "phone"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def refuge_intake(intake: Intake, *args: str, ok: bool = True) -> Any:
    """Run the command line; its JSON output (a list for several lines), or the result if it failed."""

    settings = intake.settings
    assert settings.master_key is not None
    env = {
        "DATABASE_URL": settings.database_url,
        "REFUGE_MASTER_KEY": settings.master_key.get_secret_value(),
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
    }
    result = await asyncio.to_thread(CliRunner().invoke, cli.app, list(args), env=env)
    if not ok:
        assert result.exit_code != 0, result.output
        return result
    assert result.exit_code == 0, (result.output, result.exception)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return lines[0] if len(lines) == 1 else lines


async def _new_key(intake: Intake, role: Role = Role.COORDINATOR, **bound: Any) -> tuple[str, str]:
    key = await onboarding.create_api_key(intake.pool, intake.a.organisation_id, role=role, **bound)
    return key, key.split("_")[1]


async def _token(intake: Intake, key: str) -> tuple[int, str | None]:
    response = await intake.client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_secret": key}
    )
    return response.status_code, response.json().get("access_token")


async def _status_with(intake: Intake, credential: str) -> int:
    return (
        await intake.client.post(
            "/cases", json=CASE | {"office_id": str(intake.a.offices[0])}, headers=bearer(credential)
        )
    ).status_code


async def _directory_events(intake: Intake, subject: uuid.UUID, event_type: str) -> list[Any]:
    """The events of ``refuge.directory.v1`` about ``subject``, once one of ``event_type`` is there."""

    def about(records: list[ConsumerRecord[Any, Any]]) -> list[Any]:
        return [from_record(r.headers, r.key, r.value) for r in records if r.key == str(subject).encode()]

    deadline = time.monotonic() + 20
    while await intake.pool.fetchval("SELECT count(*) FROM outbox WHERE key = $1", str(subject).encode()):
        assert time.monotonic() < deadline, f"the relay did not publish the events of {subject}"
        await asyncio.sleep(0.05)
    wanted = f"org.refuge.{event_type}.v1"
    found = about(
        await intake.read_topic(topics.DIRECTORY, until=lambda rs: any(e.type == wanted for e in about(rs)))
    )
    assert any(e.type == wanted for e in found), f"no {event_type} published for {subject}"
    return found


async def test_key_list_shows_every_key_of_the_organisation_and_no_secret(intake: Intake) -> None:
    key, key_id = await _new_key(intake, label="hotline CRM")
    listed = await refuge_intake(intake, "key", "list", "--org", str(intake.a.organisation_id))
    assert isinstance(listed, list)
    mine = {k["key_id"]: k for k in listed}
    a_keys = [intake.a.caseworker_key, intake.a.coordinator_key, intake.a.org_admin_key, key]
    assert {k.split("_")[1] for k in a_keys} <= set(mine)
    assert mine[key_id] == mine[key_id] | {
        "state": "active",
        "role": "coordinator",
        "office_id": None,
        "staff_id": None,
        "label": "hotline CRM",
        "expires_at": None,
        "revoked_at": None,
    }
    assert set(mine[key_id]) == {
        "key_id",
        "state",
        "role",
        "office_id",
        "staff_id",
        "label",
        "created_at",
        "expires_at",
        "revoked_at",
    }
    caseworker = mine[intake.a.caseworker_key.split("_")[1]]
    assert caseworker["office_id"] == str(intake.a.offices[0])
    assert caseworker["staff_id"] == str(intake.a.caseworker_staff)
    # Another organisation's keys are not listed, and no secret (nor its hash) is printed.
    assert intake.b.coordinator_key.split("_")[1] not in mine
    printed = json.dumps(listed)
    assert not any(k.split("_", 2)[2] in printed for k in a_keys)
    assert "hash" not in printed


async def test_an_expired_key_gets_no_token_and_no_access(intake: Intake) -> None:
    key, key_id = await _new_key(intake)
    granted, token = await _token(intake, key)
    assert granted == 200 and token is not None

    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    shown = await refuge_intake(intake, "key", "expire", key_id, "--at", later)
    assert shown["state"] == "active" and datetime.fromisoformat(shown["expires_at"]) > datetime.now(UTC)
    assert await _status_with(intake, key) == 201

    shown = await refuge_intake(intake, "key", "expire", key_id)  # now
    assert shown["state"] == "expired"
    assert (await _token(intake, key))[0] == 401
    assert await _status_with(intake, key) == 401
    assert await _status_with(intake, token) == 401  # a token issued before: intake refuses it too
    listed = await refuge_intake(intake, "key", "list", "--org", str(intake.a.organisation_id))
    assert {k["key_id"]: k["state"] for k in listed}[key_id] == "expired"


async def test_a_revoked_key_gets_no_token_and_no_access(intake: Intake) -> None:
    key, _key_id = await _new_key(intake, Role.CASEWORKER, office_id=intake.a.offices[0])
    granted, token = await _token(intake, key)
    assert granted == 200 and token is not None
    assert await _status_with(intake, token) == 201

    shown = await refuge_intake(intake, "key", "revoke", key)  # the whole key is accepted too
    assert shown["state"] == "revoked" and shown["revoked_at"] is not None
    assert (await _token(intake, key))[0] == 401
    assert await _status_with(intake, key) == 401
    assert await _status_with(intake, token) == 401
    again = await refuge_intake(intake, "key", "revoke", key)
    assert again["revoked_at"] == shown["revoked_at"], "a second revocation keeps the first time"
    # Expiring it later does not bring it back.
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert (await refuge_intake(intake, "key", "expire", key, "--at", future))["state"] == "revoked"
    assert await _status_with(intake, key) == 401


async def test_key_commands_refuse_unknown_keys_and_naive_instants(intake: Intake) -> None:
    failed = await refuge_intake(intake, "key", "revoke", "0123456789abcdef", ok=False)
    assert failed.exit_code == 1 and "not found" in failed.stderr
    _key, key_id = await _new_key(intake)
    failed = await refuge_intake(intake, "key", "expire", key_id, "--at", "2030-01-01T00:00:00", ok=False)
    assert failed.exit_code == 2 and "offset" in failed.output


async def test_office_update_and_close_publish_their_events(intake: Intake) -> None:
    office = await onboarding.open_office(
        intake.pool,
        intake.a.organisation_id,
        name="Permanence Mayotte",
        kind=OfficeKind.DROP_IN_CLINIC,
        timezone="Europe/Paris",
        jurisdiction="FR",
    )
    org = str(intake.a.organisation_id)
    updated = await refuge_intake(
        intake,
        "office",
        "update",
        "--org",
        org,
        "--office",
        str(office),
        "--timezone",
        "Indian/Mayotte",
        "--jurisdiction",
        "FR-976",
    )
    assert updated["timezone"] == "Indian/Mayotte" and updated["name"] == "Permanence Mayotte"

    case = await intake.client.post(
        "/cases", json=CASE | {"office_id": str(office)}, headers=bearer(intake.a.coordinator_key)
    )
    assert case.status_code == 201 and case.json()["jurisdiction"] == "FR-976"

    closed = await refuge_intake(intake, "office", "close", "--org", org, "--office", str(office))
    assert closed["office_id"] == str(office)
    refused = await intake.client.post(
        "/cases", json=CASE | {"office_id": str(office)}, headers=bearer(intake.a.coordinator_key)
    )
    assert refused.status_code == 422 and "closed" in refused.text
    failed = await refuge_intake(
        intake, "office", "update", "--org", org, "--office", str(office), "--name", "Reopened?", ok=False
    )
    assert "closed" in failed.stderr

    events = await _directory_events(intake, office, "office.closed")
    assert [e.type for e in events] == [
        "org.refuge.office.opened.v1",
        "org.refuge.office.updated.v1",
        "org.refuge.office.closed.v1",
    ]
    assert isinstance(events[1].data, OfficeUpdated) and events[1].data.jurisdiction == "FR-976"
    assert events[1].data.name == "Permanence Mayotte" and events[1].data.kind == "drop_in_clinic"
    assert isinstance(events[2].data, OfficeClosed) and events[2].data.closed_at is not None
    # Another organisation's office is not found.
    failed = await refuge_intake(
        intake,
        "office",
        "close",
        "--org",
        str(intake.b.organisation_id),
        "--office",
        str(intake.a.offices[1]),
        ok=False,
    )
    assert "not found" in failed.stderr


async def test_staff_update_reseals_the_contact_and_removal_shreds_it_and_revokes_keys(
    intake: Intake,
) -> None:
    org = str(intake.a.organisation_id)
    staff = uuid.UUID(
        (
            await refuge_intake(
                intake,
                "staff",
                "create",
                "--org",
                org,
                "--office",
                str(intake.a.offices[0]),
                "--role",
                "caseworker",
                "--name",
                "Camille Martin",
                "--email",
                "cm@ngo.test",
            )
        )["staff_id"]
    )
    key = (
        await refuge_intake(
            intake,
            "key",
            "create",
            "--org",
            org,
            "--office",
            str(intake.a.offices[0]),
            "--role",
            "caseworker",
            "--staff",
            str(staff),
        )
    )["api_key"]
    assert await _status_with(intake, key) == 201

    updated = await refuge_intake(
        intake,
        "staff",
        "update",
        "--org",
        org,
        "--staff",
        str(staff),
        "--office",
        str(intake.a.offices[1]),
        "--email",
        "camille@ngo.test",
        "--phone",
        "+33612345678",
        "--role",
        "coordinator",
    )
    assert updated == {
        "staff_id": str(staff),
        "role": "coordinator",
        "office_id": str(intake.a.offices[1]),
        "preferred_language": "fr",
    }
    assert "camille" not in json.dumps(updated)
    cleared = await refuge_intake(
        intake, "staff", "update", "--org", org, "--staff", str(staff), "--phone", "", "--no-office"
    )
    assert cleared["office_id"] is None

    removed = await refuge_intake(intake, "staff", "remove", "--org", org, "--staff", str(staff))
    assert removed["keys_revoked"] == 1
    assert await _status_with(intake, key) == 401
    failed = await refuge_intake(
        intake, "staff", "update", "--org", org, "--staff", str(staff), "--name", "Back again", ok=False
    )
    assert "removed" in failed.stderr

    events = await _directory_events(intake, staff, "staff.removed")
    assert [e.type.split(".")[3] for e in events] == ["registered", "updated", "updated", "removed"]
    first, second = events[1].data, events[2].data
    assert isinstance(first, StaffUpdated) and isinstance(second, StaffUpdated)
    assert first.role == "coordinator" and first.office_id == intake.a.offices[1]
    assert second.office_id is None and second.role == "coordinator"
    assert isinstance(events[3].data, StaffRemoved)
    async with tenant_transaction(intake.pool, intake.a.organisation_id) as connection:
        assert await intake.keyring.get(connection, staff) is None, "the contact key is shredded"
        assert await connection.fetchval("SELECT contact FROM staff WHERE staff_id = $1", staff) is None
    assert first.contact is not None and first.contact.key_id == staff


async def test_staff_update_opens_and_reseals_under_the_staff_key(intake: Intake) -> None:
    staff = await onboarding.register_staff(
        intake.pool,
        intake.keyring,
        intake.a.organisation_id,
        role=Role.CASEWORKER,
        office_id=intake.a.offices[0],
        contact=onboarding.StaffContact(name="Inès Benali", email="ines@ngo.test"),
    )
    await refuge_intake(
        intake,
        "staff",
        "update",
        "--org",
        str(intake.a.organisation_id),
        "--staff",
        str(staff),
        "--email",
        "",
        "--phone",
        "+33 6 12 34 56 78",
    )
    async with tenant_transaction(intake.pool, intake.a.organisation_id) as connection:
        key = await intake.keyring.get(connection, staff)
        sealed = await connection.fetchval("SELECT contact FROM staff WHERE staff_id = $1", staff)
    assert key is not None
    assert open_sealed(key, Sealed.model_validate(sealed)) == {
        "name": "Inès Benali",
        "phone": "+33 6 12 34 56 78",
    }
