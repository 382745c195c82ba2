"""``refuge-intake``: serve, migrate, and onboard an NGO from the command line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar
from uuid import UUID

import asyncpg
import typer

from refuge_common.auth.principal import Role
from refuge_common.contract.vocabulary import OfficeKind
from refuge_common.db.migrations import app_dsn
from refuge_common.db.pool import create_pool
from refuge_common.service_main import service_cli
from refuge_intake.schema import SCHEMA
from refuge_intake.service_layer import onboarding
from refuge_intake.settings import IntakeSettings

app = service_cli("intake", IntakeSettings, SCHEMA, "refuge_intake.bootstrap:build_app", "intake_port")
org_app = typer.Typer(help="Organisations (tenants)", no_args_is_help=True)
office_app = typer.Typer(help="Offices of an organisation", no_args_is_help=True)
staff_app = typer.Typer(help="Staff of an organisation", no_args_is_help=True)
key_app = typer.Typer(help="API keys", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(office_app, name="office")
app.add_typer(staff_app, name="staff")
app.add_typer(key_app, name="key")

T = TypeVar("T")


def _run(action: Callable[[asyncpg.Pool, IntakeSettings], Awaitable[T]]) -> T:
    settings = IntakeSettings()

    async def main() -> T:
        password = settings.database_app_password
        pool = await create_pool(
            app_dsn(settings.database_url, SCHEMA, password.get_secret_value() if password else None),
            size=2,
            schema=SCHEMA.schema,
        )
        try:
            return await action(pool, settings)
        finally:
            await pool.close()

    return asyncio.run(main())


def _print(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(payload, default=str))


@org_app.command("create")
def create_org(
    name: Annotated[str, typer.Option(help="public name of the organisation")],
    language: Annotated[str, typer.Option(help="default language (BCP 47)")] = "fr",
) -> None:
    organisation_id = _run(lambda pool, _s: onboarding.register_organisation(pool, name, language))
    _print({"organisation_id": organisation_id})


@office_app.command("create")
def create_office(
    org: Annotated[UUID, typer.Option(help="organisation id")],
    name: Annotated[str, typer.Option()],
    kind: Annotated[OfficeKind, typer.Option()],
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Paris")],
    jurisdiction: Annotated[str, typer.Option(help="FR, FR-976, US, ...")],
) -> None:
    office_id = _run(
        lambda pool, _s: onboarding.open_office(
            pool, org, name=name, kind=kind, timezone=timezone, jurisdiction=jurisdiction
        )
    )
    _print({"office_id": office_id})


@staff_app.command("create")
def create_staff(
    org: Annotated[UUID, typer.Option(help="organisation id")],
    role: Annotated[Role, typer.Option()],
    name: Annotated[str, typer.Option(help="full name (stored encrypted)")],
    email: Annotated[str | None, typer.Option(help="e-mail (stored encrypted)")] = None,
    office: Annotated[UUID | None, typer.Option(help="office id")] = None,
    language: Annotated[str, typer.Option(help="preferred language")] = "fr",
) -> None:
    from refuge_intake.bootstrap import build_keyring

    def action(pool: asyncpg.Pool, settings: IntakeSettings) -> Awaitable[UUID]:
        return onboarding.register_staff(
            pool,
            build_keyring(settings),
            org,
            role=role,
            office_id=office,
            contact=onboarding.StaffContact(name=name, email=email),
            preferred_language=language,
        )

    _print({"staff_id": _run(action)})


@key_app.command("create")
def create_key(
    org: Annotated[UUID, typer.Option(help="organisation id")],
    role: Annotated[Role, typer.Option()],
    office: Annotated[UUID | None, typer.Option(help="bind the key to one office")] = None,
    staff: Annotated[UUID | None, typer.Option(help="the staff member who holds it")] = None,
    label: Annotated[str, typer.Option()] = "",
) -> None:
    """Create an API key. It is printed once and stored only as a hash."""
    token = _run(
        lambda pool, _s: onboarding.create_api_key(
            pool, org, role=role, office_id=office, staff_id=staff, label=label
        )
    )
    _print({"api_key": token})


def main() -> None:
    app()
