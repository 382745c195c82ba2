"""SQL for a case's court proceedings and their developments (intake schema, RLS-scoped)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from uuid import UUID

from refuge_common.db.pool import Connection
from refuge_intake.domain.litigation import Counsel, CounselRole, Development, Litigation


async def put_litigation(
    connection: Connection, tenant_id: UUID, case_id: UUID, litigation: Litigation, *, updated_by: str
) -> None:
    await connection.execute(
        """INSERT INTO case_litigation (case_id, tenant_id, court, docket_number, filed_on, class_action,
                                        counsel, updated_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (case_id) DO UPDATE
           SET court = excluded.court, docket_number = excluded.docket_number,
               filed_on = excluded.filed_on, class_action = excluded.class_action,
               counsel = excluded.counsel, updated_by = excluded.updated_by, updated_at = now()""",
        case_id,
        tenant_id,
        litigation.court,
        litigation.docket_number,
        litigation.filed_on,
        litigation.class_action,
        [asdict(counsel) for counsel in litigation.counsel],
        updated_by,
    )


async def get_litigation(connection: Connection, case_id: UUID) -> Litigation | None:
    row = await connection.fetchrow(
        """SELECT court, docket_number, filed_on, class_action, counsel
           FROM case_litigation WHERE case_id = $1""",
        case_id,
    )
    if row is None:
        return None
    counsel = tuple(
        Counsel(name=c["name"], role=CounselRole(c["role"]), organisation=c.get("organisation"))
        for c in row["counsel"]
    )
    return Litigation(
        court=row["court"],
        docket_number=row["docket_number"],
        filed_on=row["filed_on"],
        class_action=row["class_action"],
        counsel=counsel,
    )


_DEVELOPMENT = "development_id, occurred_on, kind, docket_entry, summary, recorded_by, recorded_at"


async def add_development(
    connection: Connection, tenant_id: UUID, case_id: UUID, development: Development, *, recorded_by: str
) -> dict[str, Any]:
    row = await connection.fetchrow(
        """INSERT INTO litigation_developments (tenant_id, case_id, occurred_on, kind, docket_entry, summary,
                                                recorded_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING """
        + _DEVELOPMENT,
        tenant_id,
        case_id,
        development.occurred_on,
        development.kind.value,
        development.docket_entry,
        development.summary,
        recorded_by,
    )
    assert row is not None
    return dict(row)


async def developments(connection: Connection, case_id: UUID) -> list[dict[str, Any]]:
    """The proceedings' timeline: by the date things happened, then in the order recorded."""

    rows = await connection.fetch(
        f"""SELECT {_DEVELOPMENT} FROM litigation_developments
            WHERE case_id = $1 ORDER BY occurred_on, development_id""",
        case_id,
    )
    return [dict(row) for row in rows]
