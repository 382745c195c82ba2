"""``refuge-notifications``: serve, migrate, and configure an organisation's messages.

    refuge-notifications sms-provider set --org ORG --kind webhook --url URL [--token] [--inbound-secret]
    refuge-notifications sms-provider set --org ORG --kind twilio --account-sid AC... --sender +33... \\
        [--auth-token] [--api-base URL]
    refuge-notifications sms-provider show --org ORG
    refuge-notifications sms-provider delete --org ORG
    refuge-notifications policy show --org ORG
    refuge-notifications policy set --org ORG --trigger reminder.due --recipient beneficiary \\
        --channel sms --enabled|--disabled|--default

Secrets (``--token``, ``--auth-token``, ``--inbound-secret``) are asked for without echo
when given without a value on a terminal, or read from the environment variables
``REFUGE_SMS_TOKEN``, ``REFUGE_SMS_AUTH_TOKEN``, ``REFUGE_SMS_INBOUND_SECRET``: a secret
on the command line ends up in the shell history and in ``ps``. They are stored sealed under
the organisation's key and never printed back.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar
from uuid import UUID

import asyncpg
import typer

from refuge_common.contract.vocabulary import NotificationChannel, RecipientKind
from refuge_common.crypto.keyring import MasterKeyWrapper
from refuge_common.db.pool import tenant_transaction
from refuge_common.service_main import run_with_pool, service_cli
from refuge_notifications.adapters import organisation_config
from refuge_notifications.adapters.sms_providers import KINDS
from refuge_notifications.domain import policy
from refuge_notifications.schema import SCHEMA
from refuge_notifications.settings import NotificationsSettings

app = service_cli(
    "notifications",
    NotificationsSettings,
    SCHEMA,
    "refuge_notifications.bootstrap:build_app",
    "notifications_port",
)
provider_app = typer.Typer(help="An organisation's SMS provider", no_args_is_help=True)
policy_app = typer.Typer(help="Which events notify whom, per organisation", no_args_is_help=True)
app.add_typer(provider_app, name="sms-provider")
app.add_typer(policy_app, name="policy")

T = TypeVar("T")
Org = Annotated[UUID, typer.Option("--org", help="organisation id")]


def _run(action: Callable[[asyncpg.Pool, NotificationsSettings], Awaitable[T]]) -> T:
    try:
        return run_with_pool(NotificationsSettings(), SCHEMA, action)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error


def _print(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(payload, default=str))


@provider_app.command("set")
def set_provider(
    org: Org,
    kind: Annotated[str, typer.Option(help="webhook (generic JSON) or twilio")],
    url: Annotated[str | None, typer.Option(help="webhook URL; for twilio, the API base")] = None,
    account_sid: Annotated[str | None, typer.Option(help="Twilio account SID (AC...)")] = None,
    sender: Annotated[
        str | None, typer.Option(help="Twilio From: a number, an alphanumeric id or a MG... service")
    ] = None,
    display_name: Annotated[
        str | None, typer.Option(help="the name SMS bodies carry (default: the organisation's name)")
    ] = None,
    rate_per_second: Annotated[
        int | None,
        typer.Option(
            help="messages per second the provider accepts from this account (default: the service's)"
        ),
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar="REFUGE_SMS_TOKEN", help="webhook: bearer token sent with each SMS")
    ] = None,
    auth_token: Annotated[
        str | None, typer.Option(envvar="REFUGE_SMS_AUTH_TOKEN", help="twilio: auth token")
    ] = None,
    inbound_secret: Annotated[
        str | None,
        typer.Option(
            envvar="REFUGE_SMS_INBOUND_SECRET",
            help="webhook: secret the provider sends in X-Refuge-Webhook-Secret on receipts and replies",
        ),
    ] = None,
) -> None:
    """Set (replace) the organisation's SMS provider; credentials are sealed."""

    if kind not in KINDS:
        typer.echo(f"error: --kind must be one of {', '.join(KINDS)}", err=True)
        raise typer.Exit(1)
    if kind == "twilio" and auth_token is None:
        auth_token = typer.prompt("Twilio auth token", hide_input=True)
    from refuge_notifications.bootstrap import sms_routing

    async def action(pool: asyncpg.Pool, settings: NotificationsSettings) -> dict[str, Any]:
        if settings.master_key is None:
            raise ValueError("REFUGE_MASTER_KEY is not set: credentials cannot be sealed")
        routing = sms_routing(settings, MasterKeyWrapper(settings.master_key.get_secret_value()))
        async with tenant_transaction(pool, org) as connection:
            return await routing.configure(
                connection,
                org,
                kind=kind,
                url=url,
                account_sid=account_sid,
                sender=sender,
                display_name=display_name,
                rate_per_second=rate_per_second,
                secrets={"token": token, "auth_token": auth_token, "inbound_secret": inbound_secret},
            )

    _print(_run(action))


@provider_app.command("show")
def show_provider(org: Org) -> None:
    """The organisation's provider, without its secrets."""

    async def action(pool: asyncpg.Pool, settings: NotificationsSettings) -> dict[str, Any]:
        async with tenant_transaction(pool, org) as connection:
            row = await organisation_config.get_sms_provider(connection, org)
        if row is None:
            default = settings.notifications_sms_default_webhook_url
            return {"organisation_id": str(org), "kind": "default", "url": default or None}
        return {"organisation_id": str(org), "kind": row.kind, **row.settings}

    _print(_run(action))


@provider_app.command("delete")
def delete_provider(org: Org) -> None:
    """Back to the default webhook (NOTIFICATIONS_SMS_DEFAULT_WEBHOOK_URL), if any."""

    async def action(pool: asyncpg.Pool, _settings: NotificationsSettings) -> dict[str, Any]:
        async with tenant_transaction(pool, org) as connection:
            deleted = await organisation_config.delete_sms_provider(connection, org)
        return {"organisation_id": str(org), "deleted": deleted}

    _print(_run(action))


@policy_app.command("show")
def show_policy(org: Org) -> None:
    """Every rule, its state for the organisation and whether it overrides the default."""

    async def action(pool: asyncpg.Pool, _settings: NotificationsSettings) -> dict[str, Any]:
        async with tenant_transaction(pool, org) as connection:
            rows = await organisation_config.policy_overrides(connection)
        overrides = {
            policy.Rule(
                r["trigger_name"], RecipientKind(r["recipient_kind"]), NotificationChannel(r["channel"])
            ): r["enabled"]
            for r in rows
        }
        rules = [
            {
                "trigger": rule.trigger,
                "recipient": rule.recipient.value,
                "channel": rule.channel.value,
                "enabled": state,
                "overridden": overridden,
            }
            for rule, (state, overridden) in sorted(
                policy.effective(overrides).items(),
                key=lambda i: (i[0].trigger, i[0].recipient, i[0].channel),
            )
        ]
        return {"organisation_id": str(org), "rules": rules}

    _print(_run(action))


@policy_app.command("set")
def set_policy(
    org: Org,
    recipient: Annotated[str, typer.Option(help="beneficiary, caseworker or coordinator")],
    channel: Annotated[str, typer.Option(help="sms or email")],
    trigger: Annotated[
        str, typer.Option(help="the trigger: " + ", ".join(policy.TRIGGERS))
    ] = policy.REMINDER_DUE,
    enabled: Annotated[
        bool | None, typer.Option("--enabled/--disabled", help="on or off for this organisation")
    ] = None,
    default: Annotated[bool, typer.Option("--default", help="drop the override")] = False,
) -> None:
    """Turn one rule on or off for the organisation, or back to the default."""

    try:
        rule = policy.Rule(trigger, RecipientKind(recipient), NotificationChannel(channel))
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    if not policy.known(rule):
        typer.echo(f"error: no such rule: {trigger} {recipient} {channel}", err=True)
        raise typer.Exit(1)
    if (enabled is None) == (not default):
        typer.echo("error: give exactly one of --enabled, --disabled, --default", err=True)
        raise typer.Exit(1)

    async def action(pool: asyncpg.Pool, _settings: NotificationsSettings) -> dict[str, Any]:
        state = None if default else enabled
        async with tenant_transaction(pool, org) as connection:
            await organisation_config.set_policy(connection, org, trigger, recipient, channel, state)
        return {
            "organisation_id": str(org),
            "trigger": trigger,
            "recipient": recipient,
            "channel": channel,
            "enabled": policy.enabled(rule, {} if state is None else {rule: state}),
            "overridden": state is not None,
        }

    _print(_run(action))


def main() -> None:
    app()
