"""Demo data for `make run`: one NGO, one office, one caseworker and their API key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

from refuge_common.auth.principal import Role
from refuge_common.contract.vocabulary import OfficeKind
from refuge_common.crypto.keyring import Keyring, MasterKeyWrapper
from refuge_common.db.migrations import app_dsn
from refuge_common.db.pool import create_pool, tenant_transaction


async def load_demo_data(database_url: str, master_key: str, state_file: Path) -> dict[str, Any]:
    from refuge_intake.schema import SCHEMA
    from refuge_intake.service_layer import onboarding

    pool = await create_pool(app_dsn(database_url, SCHEMA), size=2, schema=SCHEMA.schema)
    try:
        if state_file.exists():
            state: dict[str, Any] = json.loads(state_file.read_text())
            async with tenant_transaction(pool, UUID(state["organisation_id"])) as connection:
                if await connection.fetchval("SELECT true FROM organisations"):
                    return state
        organisation = await onboarding.register_organisation(pool, "Demo legal aid NGO", "fr")
        office = await onboarding.open_office(
            pool,
            organisation,
            name="Paris drop-in clinic",
            kind=OfficeKind.DROP_IN_CLINIC,
            timezone="Europe/Paris",
            jurisdiction="FR",
        )
        keyring = Keyring(MasterKeyWrapper(master_key))
        caseworker = await onboarding.register_staff(
            pool,
            keyring,
            organisation,
            role=Role.CASEWORKER,
            office_id=office,
            contact=onboarding.StaffContact(name="Camille Martin", email="caseworker@demo.refuge.test"),
        )
        key = await onboarding.create_api_key(
            pool, organisation, role=Role.CASEWORKER, office_id=office, staff_id=caseworker, label="demo"
        )
        state = {
            "organisation_id": str(organisation),
            "office_id": str(office),
            "caseworker_id": str(caseworker),
            "caseworker_api_key": key,
        }
        state_file.write_text(json.dumps(state, indent=2))
        state_file.chmod(0o600)
        return state
    finally:
        await pool.close()
