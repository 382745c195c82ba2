"""From an event on a topic to one webhook delivery per matching endpoint.

Runs inside the consumer's transaction (``refuge_common.messaging.consumer``): the
tenant is the event's ``tenantid``, so row-level security shows only that organisation's
endpoints, and the deliveries commit with the inbox row of the event (applied once; the
unique (endpoint, source, id) makes a replay harmless too). Nothing is sent here: the
delivery loop does that.
"""

from __future__ import annotations

import uuid
from uuid import UUID

from refuge_common.contract.cases import CaseOpened, CaseTransferred
from refuge_common.contract.envelope import Envelope
from refuge_common.db.pool import Connection
from refuge_common.observability.logging import get_logger
from refuge_notifications.adapters import webhook_store
from refuge_notifications.adapters.webhook_sender import stored_event
from refuge_notifications.domain.webhook_endpoints import EndpointScope, EventFacts, matching

log = get_logger(__name__)


async def fan_out(connection: Connection, envelope: Envelope) -> None:
    tenant = envelope.tenant_id
    if tenant is None:
        return  # no organisation, no endpoint: webhooks only carry a tenant's own events
    data = envelope.data
    if isinstance(data, CaseOpened | CaseTransferred):
        await webhook_store.set_case_office(connection, data.case_id, tenant, data.office_id)
    subscribed = await webhook_store.subscribed_endpoints(connection, envelope.type)
    if not subscribed:
        return
    facts = EventFacts(
        tenant_id=tenant,
        event_type=envelope.type,
        time=envelope.time,
        office_ids=await _offices(connection, envelope),
    )
    endpoints = [
        EndpointScope(
            endpoint_id=row["endpoint_id"],
            tenant_id=row["tenant_id"],
            event_types=frozenset(row["event_types"]),
            office_id=row["office_id"],
            created_at=row["created_at"],
        )
        for row in subscribed
    ]
    event = stored_event(envelope)
    added = await webhook_store.add_deliveries(
        connection,
        [
            webhook_store.NewDelivery(
                delivery_id=uuid.uuid4(),
                tenant_id=tenant,
                endpoint_id=endpoint.endpoint_id,
                event_source=envelope.source,
                event_id=envelope.id,
                event_type=envelope.type,
                event=event,
            )
            for endpoint in matching(endpoints, facts)
        ],
    )
    if added:
        log.info("webhook_deliveries_planned", count=added)


async def _offices(connection: Connection, envelope: Envelope) -> frozenset[UUID]:
    """The offices an event concerns: those it names, else its case's office."""

    data = envelope.data
    found = {
        office
        for office in (getattr(data, "office_id", None), getattr(data, "previous_office_id", None))
        if isinstance(office, UUID)
    }
    case_id = getattr(data, "case_id", None)
    if not found and isinstance(case_id, UUID):
        office = await webhook_store.case_office(connection, case_id)
        if office is not None:
            found.add(office)
    return frozenset(found)
