"""Writes run once per Idempotency-Key: a retry gets the first answer and changes nothing.

The key's record, the write and its events share one tenant transaction, so a crash
leaves either all of them or none: never an event without its key, nor a key whose
write did not happen. Only successful writes are recorded; a refused request changes
nothing and may be retried as it is or corrected under the same key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from refuge_common.auth.principal import Principal
from refuge_common.contract.sealed import Sealed
from refuge_common.crypto.keyring import Keyring
from refuge_common.crypto.sealing import open_sealed, seal
from refuge_common.db.pool import Connection, tenant_transaction
from refuge_intake.adapters import audit_log, idempotency_store
from refuge_intake.adapters.audit_log import Access
from refuge_intake.domain.idempotency import HEADER, IdempotentRequest
from refuge_intake.service_layer.errors import Gone, Rejected


@dataclass(frozen=True)
class Answer:
    """What a write answers. ``personal_data_of`` names the person whose data the body
    holds: its stored copy is then sealed under their key, and shredded with it."""

    status_code: int
    body: dict[str, Any]
    personal_data_of: UUID | None = None
    replayed: bool = False


Write = Callable[[Connection], Awaitable[Answer]]


async def run_once(
    pool: asyncpg.Pool,
    keyring: Keyring,
    principal: Principal,
    request: IdempotentRequest | None,
    write: Write,
    *,
    then: str = "",
) -> Answer:
    """Run ``write`` in a tenant transaction, once per (tenant, API key, Idempotency-Key);
    ``then``: SQL for the round trip that begins it (see ``tenant_transaction``)."""

    tenant = principal.organisation_id
    async with tenant_transaction(pool, tenant, then=then) as connection:
        if request is None:
            return await write(connection)
        stored = await idempotency_store.claim(
            connection, tenant, principal.key_id, request.key, request.fingerprint
        )
        if stored is not None:
            if stored.fingerprint != request.fingerprint:
                raise Rejected(
                    HEADER, "already used for a different request; use a new key for a new request"
                )
            return await _replay(connection, keyring, principal, stored)
        answer = await write(connection)
        response = answer.body
        if answer.personal_data_of is not None:
            key = await keyring.get(connection, answer.personal_data_of)
            if key is None:
                raise Gone(f"person {answer.personal_data_of} was erased")
            response = seal(key, answer.personal_data_of, answer.body).model_dump(mode="json")
        await idempotency_store.complete(
            connection,
            tenant,
            principal.key_id,
            request.key,
            status_code=answer.status_code,
            response=response,
            sealed=answer.personal_data_of is not None,
        )
        return answer


async def _replay(
    connection: Connection, keyring: Keyring, principal: Principal, stored: idempotency_store.StoredAnswer
) -> Answer:
    if not stored.sealed:
        return Answer(stored.status_code, stored.response, replayed=True)
    sealed = Sealed.model_validate(stored.response)
    key = await keyring.get(connection, sealed.key_id)
    if key is None:
        raise Gone(f"person {sealed.key_id} was erased")
    # Answering again with a person's record discloses it again: audited as a read.
    await audit_log.record(connection, principal, sealed.key_id, Access.READ)
    return Answer(stored.status_code, open_sealed(key, sealed), sealed.key_id, replayed=True)
