"""A local HTTP SMS endpoint that keeps what it receives, and lists sunk mail too.

It accepts the generic JSON webhook shape (``POST /sms``, JSON) and the
Twilio-compatible form post (``POST /2010-04-01/Accounts/{sid}/Messages.json``),
answers like a provider, and lists everything at ``GET /sms`` and ``GET /mail``.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from refuge_devstack.mail_sink import MailSink


class SmsStore:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def keep(self, message: dict[str, Any]) -> dict[str, Any]:
        stored = {"sid": f"SM{uuid.uuid4().hex}", "received_at": datetime.now(UTC).isoformat(), **message}
        with self._lock:
            self.messages.append(stored)
        if self.directory is not None:
            with (self.directory / "sms.jsonl").open("a") as log:
                log.write(json.dumps(stored) + "\n")
        return stored


def sink_app(store: SmsStore, mail: MailSink | None = None) -> Starlette:
    async def generic(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        if not isinstance(body, dict) or not body.get("to") or not body.get("body"):
            return JSONResponse({"error": "fields 'to' and 'body' are required"}, status_code=422)
        stored = store.keep(
            {"shape": "webhook", **body, "idempotency_key": request.headers.get("idempotency-key")}
        )
        return JSONResponse({"id": stored["sid"], "status": "accepted"}, status_code=202)

    async def twilio(request: Request) -> JSONResponse:
        form = await request.form()
        if not form.get("To") or not form.get("Body"):
            return JSONResponse({"message": "To and Body are required", "status": 400}, status_code=400)
        stored = store.keep(
            {
                "shape": "twilio",
                "to": form["To"],
                "from": form.get("From"),
                "body": form["Body"],
                "account": request.path_params["sid"],
                "idempotency_key": request.headers.get("i-twilio-idempotency-token"),
            }
        )
        return JSONResponse({"sid": stored["sid"], "status": "queued"}, status_code=201)

    async def list_sms(_request: Request) -> JSONResponse:
        return JSONResponse(store.messages)

    async def list_mail(_request: Request) -> JSONResponse:
        return JSONResponse([m.summary() for m in mail.messages] if mail else [])

    return Starlette(
        routes=[
            Route("/sms", generic, methods=["POST"]),
            Route("/2010-04-01/Accounts/{sid}/Messages.json", twilio, methods=["POST"]),
            Route("/sms", list_sms, methods=["GET"]),
            Route("/mail", list_mail, methods=["GET"]),
        ]
    )
