"""For caseworkers and operators: the messages of a case or a person and their delivery
states, and a preview of any message kind in any language, without sending anything.

Bearer tokens from intake (``refuge_common.auth``). A caseworker sees the cases of their
office; a coordinator or an organisation admin their organisation's. Another organisation's
case or person, or a case of another office for a caseworker, answers 404 as an unknown one
would. The lists carry ids and states only: no address, no message text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, status

from refuge_common.auth.principal import Principal, Role
from refuge_common.auth.verification import TokenVerifier, principal_dependency
from refuge_common.contract.vocabulary import DeadlinePurpose
from refuge_common.db.pool import tenant_transaction
from refuge_notifications.adapters import delivery_history, directory_copy
from refuge_notifications.domain.message_values import (
    BENEFICIARY_TEMPLATES,
    HEARING_CHANGES,
    STAFF_TEMPLATES,
    UnknownTemplate,
    beneficiary_message,
    sample_context,
    staff_values,
)
from refuge_notifications.domain.rendering import (
    LANGUAGES,
    Language,
    SmsTooLong,
    render_email,
    render_sms,
)
from refuge_notifications.domain.sms_length import measure
from refuge_notifications.service_layer.composing import STAFF_LANGUAGES
from refuge_notifications.settings import NotificationsSettings

SAMPLE_ORGANISATION = "Association Exemple"
PREVIEW_UNSUBSCRIBE = "https://example.org/unsubscribe/PREVIEW"
KINDS = (*BENEFICIARY_TEMPLATES, *STAFF_TEMPLATES)
KIND_HELP = "one of " + ", ".join(KINDS)
Limit = Annotated[int, Query(ge=1, le=500, description="at most this many, newest first")]


def install_staff_routes(
    app: FastAPI, settings: NotificationsSettings, pool: Callable[[], asyncpg.Pool]
) -> None:
    verifier = TokenVerifier(settings.jwks_url)
    readers = principal_dependency(verifier, Role.CASEWORKER, Role.COORDINATOR, Role.ORG_ADMIN)
    # A preview holds no personal data: operators may look too.
    previewers = principal_dependency(
        verifier, Role.CASEWORKER, Role.COORDINATOR, Role.ORG_ADMIN, Role.OPERATOR
    )
    app.include_router(history_router(readers, pool))
    app.include_router(preview_router(previewers, pool))


def _visible(principal: Principal, offices: set[UUID | None]) -> bool:
    if principal.role is Role.CASEWORKER and principal.office_id is not None:
        return principal.office_id in offices
    return True


def _listed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "notification_id": row["delivery_id"],
            "channel": row["channel"],
            "recipient_kind": row["recipient_kind"],
            "recipient_id": row["recipient_id"],
            "kind": row["template"],
            "state": row["status"],
            "receipt": row["receipt"],  # the provider's final word: delivered, failed
            "suppression_reason": row["suppression_reason"],
            "attempts": row["attempts"],
            "language": row["language"],
            "provider": row["provider"],
            "case_id": row["case_id"],
            "deadline_id": row["deadline_id"],
            "trigger": {"source": row["trigger_source"], "id": row["trigger_event_id"]},
            "created_at": row["created_at"],
            "sent_at": row["sent_at"],
            "receipt_at": row["receipt_at"],
            "next_attempt_at": row["next_attempt_at"] if row["status"] == "pending" else None,
        }
        for row in rows
    ]


def history_router(
    readers: Callable[..., Awaitable[Principal]], pool: Callable[[], asyncpg.Pool]
) -> APIRouter:
    router = APIRouter(tags=["notifications"])

    @router.get(
        "/cases/{case_id}/notifications",
        summary="The messages about a case, and their delivery states",
        responses={404: {"description": "no such case in the caller's scope"}},
    )
    async def of_case(
        case_id: UUID, limit: Limit = 100, principal: Principal = Depends(readers)
    ) -> dict[str, Any]:
        async with tenant_transaction(pool(), principal.organisation_id) as connection:
            known, office = await delivery_history.case_office(connection, case_id)
            if not known or not _visible(principal, {office}):
                raise HTTPException(status.HTTP_404_NOT_FOUND, "case_id: no such case")
            rows = await delivery_history.of_case(connection, principal.organisation_id, case_id, limit)
        return {"case_id": case_id, "notifications": _listed(rows)}

    @router.get(
        "/persons/{person_id}/notifications",
        summary="The messages to a beneficiary, and their delivery states",
        responses={404: {"description": "no such person in the caller's scope"}},
    )
    async def of_person(
        person_id: UUID, limit: Limit = 100, principal: Principal = Depends(readers)
    ) -> dict[str, Any]:
        async with tenant_transaction(pool(), principal.organisation_id) as connection:
            known, offices = await delivery_history.person_offices(connection, person_id)
            if not known or not _visible(principal, offices):
                raise HTTPException(status.HTTP_404_NOT_FOUND, "person_id: no such person")
            rows = await delivery_history.of_person(connection, principal.organisation_id, person_id, limit)
        return {"person_id": person_id, "notifications": _listed(rows)}

    return router


def preview_router(
    previewers: Callable[..., Awaitable[Principal]], pool: Callable[[], asyncpg.Pool]
) -> APIRouter:
    router = APIRouter(tags=["notifications"])

    @router.get("/notifications/preview", summary="A message kind rendered with sample values, not sent")
    async def preview(
        kind: Annotated[str, Query(description=KIND_HELP)],
        language: Annotated[str, Query(description="fr, en, es, ar (staff messages: fr, en)")] = "fr",
        channel: Annotated[str, Query(description="sms or email (staff: email)")] = "email",
        purpose: Annotated[str, Query(description="the deadline's purpose")] = "appeal",
        change: Annotated[
            str, Query(description="hearings: scheduled, rescheduled, cancelled")
        ] = "scheduled",
        timezone: Annotated[
            str, Query(description="IANA zone the sample dates are written in")
        ] = "Europe/Paris",
        principal: Principal = Depends(previewers),
    ) -> dict[str, Any]:
        staff = kind in STAFF_TEMPLATES
        if kind not in KINDS:
            raise HTTPException(422, f"kind: one of {', '.join(KINDS)}")
        if language not in (STAFF_LANGUAGES if staff else LANGUAGES):
            raise HTTPException(
                422, f"language: {kind} exists in {', '.join(STAFF_LANGUAGES if staff else LANGUAGES)}"
            )
        if channel not in (("email",) if staff else ("sms", "email")):
            raise HTTPException(422, f"channel: {kind} is sent by {'email' if staff else 'sms or email'}")
        if purpose not in {p.value for p in DeadlinePurpose}:
            raise HTTPException(422, "purpose: not a deadline purpose")
        if change not in HEARING_CHANGES:
            raise HTTPException(422, f"change: one of {', '.join(HEARING_CHANGES)}")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise HTTPException(422, "timezone: not an IANA time zone") from error

        async with tenant_transaction(pool(), principal.organisation_id) as connection:
            organisation = await directory_copy.get_organisation(connection, principal.organisation_id)
        name = organisation.name if organisation else SAMPLE_ORGANISATION
        context = sample_context(
            kind, now=datetime.now(UTC), timezone=timezone, purpose=purpose, change=change
        )
        result: dict[str, Any] = {"kind": kind, "language": language, "channel": channel, "sent": False}
        try:
            if staff:
                values = staff_values(kind, context, timezone, language, name, "caseworker")
            else:
                wording = beneficiary_message(kind, context, timezone, Language(language, language), name)
                values = {**wording.values, "unsubscribe_url": PREVIEW_UNSUBSCRIBE}
            if channel == "sms":
                body = render_sms(kind, language, values)
                length = measure(body)
                result["direction"] = "rtl" if language == "ar" else "ltr"
                result["sms"] = {
                    "body": body,
                    "encoding": length.encoding.value,
                    "segments": length.segments,
                    "units": length.units,
                }
                return result
            rendered = render_email(kind, language, values)
        except (SmsTooLong, UnknownTemplate) as error:
            raise HTTPException(422, f"kind: {error}") from error
        result["direction"] = "rtl" if language == "ar" else "ltr"
        result["email"] = {"subject": rendered.subject, "text": rendered.text, "html": rendered.html}
        return result

    return router
