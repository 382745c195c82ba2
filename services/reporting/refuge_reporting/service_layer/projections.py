"""Projections: each event folded into reporting's tables, idempotently."""

from __future__ import annotations

from refuge_common.contract.cases import CaseClosed, CaseOpened
from refuge_common.contract.deadlines import DeadlineComputed
from refuge_common.contract.envelope import Envelope
from refuge_common.db.pool import Connection


async def case_opened(connection: Connection, envelope: Envelope) -> None:
    data = envelope.data
    assert isinstance(data, CaseOpened)
    await connection.execute(
        """INSERT INTO case_facts (case_id, tenant_id, office_id, case_type, jurisdiction, channel,
                                   opened_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (case_id) DO NOTHING""",
        data.case_id,
        data.organisation_id,
        data.office_id,
        data.case_type.value,
        data.jurisdiction,
        data.channel.value,
        data.opened_at,
    )


async def case_closed(connection: Connection, envelope: Envelope) -> None:
    data = envelope.data
    assert isinstance(data, CaseClosed)
    await connection.execute(
        "UPDATE case_facts SET closed_at = $2, outcome = $3 WHERE case_id = $1",
        data.case_id,
        data.closed_at,
        data.outcome.value,
    )


async def deadline_computed(connection: Connection, envelope: Envelope) -> None:
    data = envelope.data
    assert isinstance(data, DeadlineComputed)
    await connection.execute(
        """INSERT INTO deadline_facts (deadline_id, tenant_id, case_id, office_id, purpose, due,
                                       computed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (deadline_id) DO NOTHING""",
        data.deadline_id,
        envelope.tenant_id,
        data.case_id,
        data.office_id,
        data.purpose.value,
        data.due,
        envelope.time,
    )
