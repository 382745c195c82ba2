"""``refuge-intake``: serve, migrate, and onboard an NGO from the command line."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

import asyncpg
import pydantic
import typer

from refuge_common.auth.principal import Role
from refuge_common.contract.vocabulary import OfficeKind
from refuge_common.service_main import run_with_pool, service_cli
from refuge_intake.adapters.directory_store import ApiKeyInfo, StaffMember
from refuge_intake.domain import api_keys
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
    try:
        return run_with_pool(IntakeSettings(), SCHEMA, action)
    except (onboarding.NotFound, onboarding.Refused, pydantic.ValidationError) as error:
        # What the operator got wrong, on stderr, and a failing exit status for scripts.
        typer.echo(f"error: {_reason(error)}", err=True)
        raise typer.Exit(1) from error


def _reason(error: Exception) -> str:
    if isinstance(error, pydantic.ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
    return str(error)


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


@office_app.command("update")
def update_office(
    org: Annotated[UUID, typer.Option(help="organisation id")],
    office: Annotated[UUID, typer.Option(help="office id")],
    name: Annotated[str | None, typer.Option()] = None,
    kind: Annotated[OfficeKind | None, typer.Option()] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA time zone, e.g. Europe/Paris")] = None,
    jurisdiction: Annotated[str | None, typer.Option(help="FR, FR-976, US, ...")] = None,
) -> None:
    """Change an open office; emits office.updated with its full state."""
    updated = _run(
        lambda pool, _s: onboarding.update_office(
            pool, org, office, name=name, kind=kind, timezone=timezone, jurisdiction=jurisdiction
        )
    )
    _print({k: v for k, v in vars(updated).items() if k != "tenant_id"})


@office_app.command("close")
def close_office(
    org: Annotated[UUID, typer.Option(help="organisation id")],
    office: Annotated[UUID, typer.Option(help="office id")],
) -> None:
    """Close an office (emits office.closed): its cases stay, no new ones open in it."""
    closed_at = _run(lambda pool, _s: onboarding.close_office(pool, org, office))
    _print({"office_id": office, "closed_at": closed_at.isoformat()})


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


@staff_app.command("update")
def update_staff(
    org: Annotated[UUID, typer.Option(help="organisation id")],
    staff: Annotated[UUID, typer.Option(help="staff id")],
    role: Annotated[Role | None, typer.Option()] = None,
    office: Annotated[UUID | None, typer.Option(help="move to this office")] = None,
    no_office: Annotated[bool, typer.Option("--no-office", help="organisation-wide from now on")] = False,
    language: Annotated[str | None, typer.Option(help="preferred language")] = None,
    name: Annotated[str | None, typer.Option(help="full name (stored encrypted)")] = None,
    email: Annotated[str | None, typer.Option(help="e-mail (encrypted); '' clears it")] = None,
    phone: Annotated[str | None, typer.Option(help="phone (encrypted); '' clears it")] = None,
) -> None:
    """Change a staff member; emits staff.updated with the full state (contact sealed)."""
    from refuge_intake.bootstrap import build_keyring

    if office is not None and no_office:
        raise typer.BadParameter("give --office or --no-office, not both")
    given = {"name": name, "email": email, "phone": phone}
    contact = {k: (v or None) for k, v in given.items() if v is not None}

    def action(pool: asyncpg.Pool, settings: IntakeSettings) -> Awaitable[StaffMember]:
        return onboarding.update_staff(
            pool,
            build_keyring(settings),
            org,
            staff,
            role=role,
            office_id=None if no_office else (office or onboarding.UNCHANGED),
            preferred_language=language,
            contact=contact or None,
        )

    updated = _run(action)
    # The contact stays sealed: the command line shows what changed, not the details.
    _print(
        {
            "staff_id": updated.staff_id,
            "role": updated.role.value,
            "office_id": updated.office_id,
            "preferred_language": updated.preferred_language,
        }
    )


@staff_app.command("remove")
def remove_staff(
    org: Annotated[UUID, typer.Option(help="organisation id")],
    staff: Annotated[UUID, typer.Option(help="staff id")],
) -> None:
    """A staff member leaves: their contact key is destroyed and their API keys revoked."""
    from refuge_intake.bootstrap import build_keyring

    removed_at, revoked = _run(
        lambda pool, settings: onboarding.remove_staff(pool, build_keyring(settings), org, staff)
    )
    _print({"staff_id": staff, "removed_at": removed_at.isoformat(), "keys_revoked": revoked})


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


def _key_view(key: ApiKeyInfo, now: datetime) -> dict[str, Any]:
    if key.revoked_at is not None:
        state = "revoked"
    elif key.expires_at is not None and key.expires_at <= now:
        state = "expired"
    else:
        state = "active"
    return {
        "key_id": key.key_id,
        "state": state,
        "role": key.role,
        "office_id": key.office_id,
        "staff_id": key.staff_id,
        "label": key.label,
        "created_at": key.created_at.isoformat(),
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


def _key_id(given: str) -> str:
    """The id of a key, also when the operator pastes the whole key."""

    parsed = api_keys.parse(given)
    return parsed[0] if parsed else given


def _instant(value: str | None) -> datetime | None:
    if value is None or value == "now":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 instant") from error
    if parsed.tzinfo is None:
        raise typer.BadParameter("give the offset too, e.g. 2026-07-01T00:00:00+02:00 or ...Z")
    return parsed


@key_app.command("list")
def list_keys(org: Annotated[UUID, typer.Option(help="organisation id")]) -> None:
    """The organisation's keys, one JSON object a line; never their secrets or hashes."""
    keys = _run(lambda pool, _s: onboarding.list_api_keys(pool, org))
    now = datetime.now(UTC)
    for key in keys:
        _print(_key_view(key, now))


@key_app.command("expire")
def expire_key(
    key_id: Annotated[str, typer.Argument(help="the key's id (rfg_<id>_…)")],
    at: Annotated[str | None, typer.Option(help="ISO 8601 instant with offset; default now")] = None,
) -> None:
    """Set when a key stops working: after that it gets no token and no access."""
    when = _instant(at)
    key = _run(lambda pool, _s: onboarding.expire_api_key(pool, _key_id(key_id), when))
    _print(_key_view(key, datetime.now(UTC)))


@key_app.command("revoke")
def revoke_key(key_id: Annotated[str, typer.Argument(help="the key's id (rfg_<id>_…)")]) -> None:
    """Revoke a key at once: no new token, and its tokens are refused by intake."""
    key = _run(lambda pool, _s: onboarding.revoke_api_key(pool, _key_id(key_id)))
    _print(_key_view(key, datetime.now(UTC)))


def main() -> None:
    app()
