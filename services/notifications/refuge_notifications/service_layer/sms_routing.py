"""Which SMS provider an organisation uses, with its credentials opened only when needed."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx

from refuge_common.db.pool import Connection
from refuge_notifications.adapters import organisation_config
from refuge_notifications.adapters.org_secrets import OrganisationSecrets
from refuge_notifications.adapters.sms_providers import (
    TWILIO,
    TWILIO_API,
    WEBHOOK,
    ProviderConfig,
    SmsProvider,
    provider_for,
)

SECRET_FIELDS = ("token", "auth_token", "inbound_secret")


class SmsRouting:
    def __init__(
        self,
        secrets: OrganisationSecrets,
        *,
        public_url: str,
        default_webhook_url: str = "",
        default_inbound_secret: str | None = None,
    ) -> None:
        self._secrets = secrets
        self._public_url = public_url.rstrip("/")
        self._default_url = default_webhook_url
        self._default_inbound_secret = default_inbound_secret

    async def config(self, connection: Connection, tenant_id: UUID) -> ProviderConfig | None:
        """The organisation's provider, else the default webhook if there is one."""

        row = await organisation_config.get_sms_provider(connection, tenant_id)
        if row is not None:
            secrets = await self._secrets.open(connection, tenant_id, row.credentials)
            return ProviderConfig(
                kind=row.kind,
                url=row.settings["url"],
                account_sid=row.settings.get("account_sid"),
                sender=row.settings.get("sender"),
                display_name=row.settings.get("display_name"),
                rate_per_second=int(row.settings["rate_per_second"])
                if row.settings.get("rate_per_second")
                else None,
                rate_key=f"sms:{tenant_id}",
                secrets={k: str(v) for k, v in secrets.items() if v},
            )
        if not self._default_url:
            return None
        secrets = {"inbound_secret": self._default_inbound_secret} if self._default_inbound_secret else {}
        return ProviderConfig(kind=WEBHOOK, url=self._default_url, secrets=secrets)

    def callback_url(self, tenant_id: UUID, kind: str, what: str) -> str:
        """Where the provider posts receipts (``status``) or replies (``inbound``)."""

        return f"{self._public_url}/sms/{tenant_id}/{kind}/{what}"

    def public_url(self, path: str) -> str:
        return f"{self._public_url}{path}"

    def provider(self, client: httpx.AsyncClient, config: ProviderConfig, tenant_id: UUID) -> SmsProvider:
        return provider_for(client, config, self.callback_url(tenant_id, config.kind, "status"))

    async def configure(
        self,
        connection: Connection,
        tenant_id: UUID,
        *,
        kind: str,
        url: str | None,
        account_sid: str | None = None,
        sender: str | None = None,
        display_name: str | None = None,
        rate_per_second: int | None = None,
        secrets: dict[str, str | None],
    ) -> dict[str, Any]:
        """Set (replace) the organisation's provider; returns what is stored in clear."""

        if kind == TWILIO:
            if not (account_sid and sender and secrets.get("auth_token")):
                raise ValueError("twilio needs --account-sid, --sender and an auth token")
            url = url or TWILIO_API
        elif kind == WEBHOOK:
            if not url:
                raise ValueError("webhook needs --url")
        else:
            raise ValueError(f"unknown kind {kind!r}: webhook or twilio")
        if rate_per_second is not None and rate_per_second < 1:
            raise ValueError("--rate-per-second must be at least 1")
        settings = {
            name: value
            for name, value in {
                "url": url,
                "account_sid": account_sid,
                "sender": sender,
                "display_name": display_name,
                "rate_per_second": str(rate_per_second) if rate_per_second else None,
            }.items()
            if value
        }
        sealed = await self._secrets.seal(
            connection, tenant_id, {k: v for k, v in secrets.items() if k in SECRET_FIELDS and v}
        )
        await organisation_config.put_sms_provider(connection, tenant_id, kind, settings, sealed)
        return {
            "organisation_id": str(tenant_id),
            "kind": kind,
            **settings,
            "secrets": sorted(k for k, v in secrets.items() if v),
            "status_callback": self.callback_url(tenant_id, kind, "status"),
            "inbound_url": self.callback_url(tenant_id, kind, "inbound"),
        }
