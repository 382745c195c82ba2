"""An organisation's provider credentials, sealed under a data key of the organisation.

The shared keyring is read-only for this service (intake creates person and staff keys),
so the organisation's key lives in notifications' own ``organisation_keys`` table, wrapped
by the same master key (``KeyWrapper``: the master key from the environment, or a KMS).
Credentials are sealed with AES-256-GCM as personal data is (``refuge_common.crypto``): a
database dump without the master key reveals no auth token.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from refuge_common.contract.sealed import Sealed
from refuge_common.crypto.keyring import KeyWrapper
from refuge_common.crypto.sealing import UnreadableData, new_data_key, open_sealed, seal
from refuge_common.db.pool import Connection
from refuge_notifications.adapters import organisation_config


class OrganisationSecrets:
    def __init__(self, wrapper: KeyWrapper) -> None:
        self._wrapper = wrapper

    async def _key(self, connection: Connection, tenant_id: UUID, *, create: bool) -> bytes | None:
        wrapped = await organisation_config.organisation_wrapped_key(connection, tenant_id)
        if wrapped is None and create:
            await organisation_config.add_organisation_key(
                connection, tenant_id, self._wrapper.wrap(new_data_key())
            )
            wrapped = await organisation_config.organisation_wrapped_key(
                connection, tenant_id
            )  # ours or a racer's
        return self._wrapper.unwrap(wrapped) if wrapped is not None else None

    async def seal(self, connection: Connection, tenant_id: UUID, payload: dict[str, Any]) -> Sealed:
        key = await self._key(connection, tenant_id, create=True)
        assert key is not None
        return seal(key, tenant_id, payload)

    async def open(self, connection: Connection, tenant_id: UUID, sealed: Sealed) -> dict[str, Any]:
        """The credentials; raises ``UnreadableData`` if the key is gone or was changed."""

        key = await self._key(connection, tenant_id, create=False)
        if key is None:
            raise UnreadableData(f"no key for organisation {tenant_id}")
        return open_sealed(key, sealed)
