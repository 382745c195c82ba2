"""What providers and people send back: delivery receipts, STOP replies, unsubscribe links.

Provider callbacks are per organisation, ``/sms/{organisation_id}/{kind}/{status|inbound}``,
and authenticated as the organisation's provider kind says:

- ``webhook``: the shared secret of the organisation (``--inbound-secret``) in the header
  ``X-Refuge-Webhook-Secret``; JSON bodies. Receipt: ``{"id" or "idempotency_key",
  "status": "delivered" | "failed" | "undelivered" | ..., "error_code"?}``. Reply:
  ``{"from": "+33...", "body": "STOP"}``.
- ``twilio``: ``X-Twilio-Signature`` checked with the organisation's auth token over the
  public URL (``NOTIFICATIONS_PUBLIC_URL`` + path) and the form parameters. Receipt: the
  status callback form (``MessageSid``, ``MessageStatus``, ``ErrorCode``). Reply: the
  incoming message form (``From``, ``Body``).

A refused call gets 401 and learns nothing else. A STOP (or ARRET, BAJA, توقف...) withdraws
the SMS consent of every person of the organisation with that number, at once: pending
SMS to them are suppressed. No phone number is stored or logged: it is matched through
its keyed hash.

``/unsubscribe/{token}``: GET shows a page with one button, POST (the button, or a mail
client's RFC 8058 one-click) withdraws the e-mail consent. GET alone changes nothing, so
that a link scanner opening the link does not silently stop a person's reminders.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from refuge_common.contract.envelope import new_event
from refuge_common.contract.notifications import NotificationDelivered, NotificationFailed
from refuge_common.contract.vocabulary import FailureReason
from refuge_common.db.pool import tenant_transaction
from refuge_common.messaging.outbox import add_to_outbox
from refuge_common.observability.logging import get_logger
from refuge_notifications import metrics
from refuge_notifications.adapters import beneficiaries, delivery_log, directory_copy
from refuge_notifications.adapters.sms_providers import TWILIO, WEBHOOK, ProviderConfig
from refuge_notifications.domain.phones import is_stop_request, phone_hash, to_e164
from refuge_notifications.domain.rendering import render_page
from refuge_notifications.domain.signatures import UnsubscribeTokens, valid_twilio_signature
from refuge_notifications.schema import SOURCE
from refuge_notifications.service_layer import consents, events
from refuge_notifications.service_layer.sms_routing import SmsRouting

log = get_logger(__name__)
SECRET_HEADER = "X-Refuge-Webhook-Secret"
DELIVERED = frozenset({"delivered"})
UNDELIVERED = frozenset({"failed", "undelivered", "rejected", "expired"})
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def inbound_router(
    pool: Callable[[], asyncpg.Pool],
    sms: SmsRouting,
    tokens: UnsubscribeTokens,
    phone_secret: bytes,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> APIRouter:
    router = APIRouter(tags=["inbound"])

    async def provider_of(organisation_id: UUID, kind: str) -> ProviderConfig:
        async with tenant_transaction(pool(), organisation_id) as connection:
            config = await sms.config(connection, organisation_id)
        if config is None or config.kind != kind:
            raise HTTPException(401, "not authenticated")
        return config

    async def webhook_json(request: Request, organisation_id: UUID) -> dict[str, Any]:
        config = await provider_of(organisation_id, WEBHOOK)
        given = request.headers.get(SECRET_HEADER, "")
        expected = config.inbound_secret
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(401, "not authenticated")
        try:
            body = await request.json()
        except ValueError as error:
            raise HTTPException(422, "body is not JSON") from error
        if not isinstance(body, dict):
            raise HTTPException(422, "body is not a JSON object")
        return body

    async def twilio_form(request: Request, organisation_id: UUID) -> dict[str, str]:
        config = await provider_of(organisation_id, TWILIO)
        form = await request.form()
        params = [(name, str(value)) for name, value in form.multi_items()]
        url = sms.public_url(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
        if not config.auth_token or not valid_twilio_signature(
            config.auth_token, url, params, request.headers.get("X-Twilio-Signature")
        ):
            raise HTTPException(401, "not authenticated")
        return dict(params)

    @router.post("/sms/{organisation_id}/webhook/status", summary="Delivery receipt (generic webhook)")
    async def webhook_status(organisation_id: UUID, request: Request) -> JSONResponse:
        body = await webhook_json(request, organisation_id)
        status = str(body.get("status", "")).lower()
        identifier = body.get("id") or body.get("message_id")
        code = body.get("error_code")
        applied = await apply_receipt(
            organisation_id,
            provider_message_id=str(identifier) if identifier else None,
            idempotency_key=str(body["idempotency_key"]) if body.get("idempotency_key") else None,
            status=status,
            provider_code=str(code) if code is not None else None,
        )
        return JSONResponse({"applied": applied})

    @router.post("/sms/{organisation_id}/twilio/status", summary="Delivery receipt (Twilio status callback)")
    async def twilio_status(organisation_id: UUID, request: Request) -> Response:
        form = await twilio_form(request, organisation_id)
        await apply_receipt(
            organisation_id,
            provider_message_id=form.get("MessageSid") or form.get("SmsSid"),
            idempotency_key=None,
            status=(form.get("MessageStatus") or form.get("SmsStatus") or "").lower(),
            provider_code=form.get("ErrorCode") or None,
        )
        return Response(status_code=204)

    @router.post("/sms/{organisation_id}/webhook/inbound", summary="Incoming SMS (generic webhook)")
    async def webhook_inbound(organisation_id: UUID, request: Request) -> JSONResponse:
        body = await webhook_json(request, organisation_id)
        await apply_reply(organisation_id, str(body.get("from") or ""), str(body.get("body") or ""))
        return JSONResponse({"received": True})

    @router.post("/sms/{organisation_id}/twilio/inbound", summary="Incoming SMS (Twilio)")
    async def twilio_inbound(organisation_id: UUID, request: Request) -> Response:
        form = await twilio_form(request, organisation_id)
        await apply_reply(organisation_id, form.get("From", ""), form.get("Body", ""))
        # No reply of our own: Twilio's opt-out handling confirms a STOP to the sender.
        return Response(EMPTY_TWIML, media_type="text/xml")

    async def apply_receipt(
        organisation_id: UUID,
        *,
        provider_message_id: str | None,
        idempotency_key: str | None,
        status: str,
        provider_code: str | None,
    ) -> bool:
        if status not in DELIVERED | UNDELIVERED:
            return False  # queued, sent, accepted...: not the final word
        delivered = status in DELIVERED
        async with tenant_transaction(pool(), organisation_id) as connection:
            row = await delivery_log.record_receipt(
                connection,
                organisation_id,
                provider_message_id=provider_message_id,
                idempotency_key=idempotency_key,
                receipt="delivered" if delivered else "undelivered",
            )
            if row is None:
                return False
            if delivered:
                event: Any = NotificationDelivered(delivered_at=clock(), **events.common(row))
            else:
                event = NotificationFailed(
                    reason=FailureReason.UNDELIVERABLE, provider_code=provider_code, **events.common(row)
                )
            await add_to_outbox(connection, [new_event(SOURCE, event, organisation_id)])
        metrics.count_final(row["channel"], "delivered" if delivered else "failed")
        log.info("notification_receipt", delivery_id=str(row["delivery_id"]), delivered=delivered)
        return True

    async def apply_reply(organisation_id: UUID, sender: str, body: str) -> int:
        if not is_stop_request(body):
            log.info("sms_reply_ignored")  # never the text: it may say anything about anyone
            return 0
        number = to_e164(sender)
        if number is None:
            log.warning("sms_stop_without_number")
            return 0
        async with tenant_transaction(pool(), organisation_id) as connection:
            persons = await beneficiaries.persons_with_phone(connection, phone_hash(phone_secret, number))
            for person_id in persons:
                await consents.record(
                    connection,
                    organisation_id,
                    person_id,
                    "sms",
                    given=False,
                    recorded_at=clock(),
                    source=consents.STOP_REPLY,
                )
        log.info("sms_stop_applied", persons=len(persons))
        return len(persons)

    async def unsubscribe_page(token: str, *, confirm: bool) -> HTMLResponse:
        request = tokens.read(token)
        if request is None:
            return HTMLResponse(
                render_page("unsubscribe", "en", {"step": "invalid", "organisation": ""}),
                status_code=404,
                headers=PAGE_HEADERS,
            )
        async with tenant_transaction(pool(), request.tenant_id) as connection:
            organisation = await directory_copy.get_organisation(connection, request.tenant_id)
            known = await beneficiaries.get_person(connection, request.person_id) is not None
            if confirm and known:  # an erased person's consent is not written back
                await consents.record(
                    connection,
                    request.tenant_id,
                    request.person_id,
                    request.channel,
                    given=False,
                    recorded_at=clock(),
                    source=consents.UNSUBSCRIBE_LINK,
                )
        if confirm:
            log.info("email_unsubscribed", person_id=str(request.person_id))
        page = render_page(
            "unsubscribe",
            request.language,
            {
                "step": "done" if confirm else "confirm",
                "organisation": organisation.name if organisation else "",
            },
        )
        return HTMLResponse(page, headers=PAGE_HEADERS)

    @router.get("/unsubscribe/{token}", response_class=HTMLResponse, summary="Unsubscribe page")
    async def unsubscribe_form(token: str) -> HTMLResponse:
        return await unsubscribe_page(token, confirm=False)

    @router.post(
        "/unsubscribe/{token}", response_class=HTMLResponse, summary="Unsubscribe (withdraw e-mail consent)"
    )
    async def unsubscribe(token: str) -> HTMLResponse:
        return await unsubscribe_page(token, confirm=True)

    return router
