"""A case's court proceedings: kept in intake only, never published (see domain.litigation)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from refuge_common.auth.principal import Principal
from refuge_common.db.pool import Connection
from refuge_intake.adapters import litigation_store
from refuge_intake.domain import cases as rules
from refuge_intake.domain.litigation import Development, Litigation
from refuge_intake.domain.normalise import InvalidField
from refuge_intake.service_layer.cases import writable_case
from refuge_intake.service_layer.errors import Rejected


async def set_litigation(
    connection: Connection, principal: Principal, case_id: UUID, litigation: Litigation
) -> Litigation:
    """Record or replace the court, docket, filing date and counsel of a case."""

    if litigation.filed_on is not None:
        _not_in_future("filed_on", litigation.filed_on)
    case = await writable_case(connection, principal, case_id)
    await litigation_store.put_litigation(
        connection, case.tenant_id, case_id, litigation, updated_by=principal.key_id
    )
    return litigation


async def add_development(
    connection: Connection, principal: Principal, case_id: UUID, development: Development
) -> dict[str, Any]:
    """Append to the proceedings' timeline; the case must have its litigation recorded."""

    _not_in_future("occurred_on", development.occurred_on)
    case = await writable_case(connection, principal, case_id)
    if await litigation_store.get_litigation(connection, case_id) is None:
        raise Rejected("case_id", "record the case's litigation (PUT /cases/{case_id}/litigation) first")
    return await litigation_store.add_development(
        connection, case.tenant_id, case_id, development, recorded_by=principal.key_id
    )


def _not_in_future(field: str, value: date) -> None:
    try:
        rules.not_in_future(field, value, datetime.now(UTC))
    except InvalidField as error:
        raise Rejected(error.field, error.reason) from error
