"""Reading the audit log of personal data: an organisation admin's view of their organisation's."""

from __future__ import annotations

import asyncpg

from refuge_common.auth.principal import Principal, Role
from refuge_common.db.pool import tenant_transaction
from refuge_intake.adapters import audit_log
from refuge_intake.adapters.audit_log import AuditQuery, AuditRow
from refuge_intake.service_layer.errors import Forbidden

# The log says who looked at whom: it is for whoever answers for the organisation's
# data protection, not for the caseworkers and coordinators it watches.
AUDITORS = frozenset({Role.ORG_ADMIN})


async def search(pool: asyncpg.Pool, principal: Principal, query: AuditQuery) -> list[AuditRow]:
    if principal.role not in AUDITORS:
        raise Forbidden(f"role: a key with role {principal.role.value} may not read the audit log")
    async with tenant_transaction(pool, principal.organisation_id) as connection:
        return await audit_log.search(connection, principal.organisation_id, query)
