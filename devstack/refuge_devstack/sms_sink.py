"""A local HTTP SMS endpoint that keeps what it receives, and lists sunk mail too.

It accepts the generic JSON webhook shape (``POST /sms``, JSON) and the
Twilio-compatible form post (``POST /2010-04-01/Accounts/{sid}/Messages.json``),
answers like a provider, and lists everything at ``GET /sms`` and ``GET /mail``.

Tests (and a developer, through ``POST /sms/_faults``) can make it misbehave the way a
provider does: refuse the next messages with a status (503 with ``Retry-After``, 429,
400...) without keeping them, or keep the next ones and then hang without answering (the
client times out after the provider took the message: an unknown outcome).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from refuge_devstack.mail_sink import MailSink


@dataclass
class Fault:
    """What to do with the next ``count`` messages: answer ``status`` without keeping them,
    or (``hang_seconds``) keep them and answer nothing for that long."""

    count: int
    status: int = 503
    retry_after: int | None = None
    hang_seconds: float = 0.0


class SmsStore:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.messages: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def next_fault(self) -> Fault | None:
        with self._lock:
            while self._faults and self._faults[0].count <= 0:
                self._faults.pop(0)
            if not self._faults:
                return None
            self._faults[0].count -= 1
            return self._faults[0]

    def keep(self, message: dict[str, Any]) -> dict[str, Any]:
        stored = {"sid": f"SM{uuid.uuid4().hex}", "received_at": datetime.now(UTC).isoformat(), **message}
        with self._lock:
            self.messages.append(stored)
        if self.directory is not None:
            with (self.directory / "sms.jsonl").open("a") as log:
                log.write(json.dumps(stored) + "\n")
        return stored


def _auth(request: Request) -> str | None:
    """How the client authenticated, without the secret: "Bearer", or "Basic <user>"."""

    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            return "Basic " + base64.b64decode(value).decode().partition(":")[0]
        except ValueError:
            return "Basic"
    return scheme


def sink_app(store: SmsStore, mail: MailSink | None = None) -> Starlette:
    async def refused(fault: Fault, message: dict[str, Any]) -> JSONResponse:
        store.refused.append(message)
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
        return JSONResponse({"error": "fault injected", "code": fault.status}, fault.status, headers)

    async def generic(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        if not isinstance(body, dict) or not body.get("to") or not body.get("body"):
            return JSONResponse({"error": "fields 'to' and 'body' are required"}, status_code=422)
        message = {"shape": "webhook", **body, "idempotency_key": request.headers.get("idempotency-key")}
        fault = store.next_fault()
        if fault is not None and not fault.hang_seconds:
            return await refused(fault, message)
        stored = store.keep(
            {**message, "auth": _auth(request), "user_agent": request.headers.get("user-agent")}
        )
        if fault is not None:
            await asyncio.sleep(fault.hang_seconds)
        return JSONResponse({"id": stored["sid"], "status": "accepted"}, status_code=202)

    async def twilio(request: Request) -> JSONResponse:
        form = await request.form()
        if not form.get("To") or not form.get("Body"):
            return JSONResponse({"message": "To and Body are required", "status": 400}, status_code=400)
        message = {
            "shape": "twilio",
            "to": form["To"],
            "from": form.get("From") or form.get("MessagingServiceSid"),
            "body": form["Body"],
            "account": request.path_params["sid"],
            "status_callback": form.get("StatusCallback"),
            "auth": _auth(request),
            "user_agent": request.headers.get("user-agent"),
            "idempotency_key": request.headers.get("i-twilio-idempotency-token"),
        }
        fault = store.next_fault()
        if fault is not None and not fault.hang_seconds:
            return await refused(fault, message)
        stored = store.keep(message)
        if fault is not None:
            await asyncio.sleep(fault.hang_seconds)
        return JSONResponse({"sid": stored["sid"], "status": "queued"}, status_code=201)

    async def faults(request: Request) -> JSONResponse:
        body = await request.json()
        if body.get("clear"):
            store.clear_faults()
        else:
            store.add_fault(
                Fault(
                    count=int(body.get("count", 1)),
                    status=int(body.get("status", 503)),
                    retry_after=body.get("retry_after"),
                    hang_seconds=float(body.get("hang_seconds", 0)),
                )
            )
        return JSONResponse({"ok": True})

    async def list_sms(_request: Request) -> JSONResponse:
        return JSONResponse(store.messages)

    async def list_mail(_request: Request) -> JSONResponse:
        return JSONResponse([m.summary() for m in mail.messages] if mail else [])

    return Starlette(
        routes=[
            Route("/sms", generic, methods=["POST"]),
            Route("/sms/_faults", faults, methods=["POST"]),
            Route("/2010-04-01/Accounts/{sid}/Messages.json", twilio, methods=["POST"]),
            Route("/sms", list_sms, methods=["GET"]),
            Route("/mail", list_mail, methods=["GET"]),
        ]
    )


class SmsSinkServer:
    """The sink served by uvicorn in a background thread, as ``make run`` serves it."""

    def __init__(self, store: SmsStore, port: int, mail: MailSink | None = None) -> None:
        import uvicorn

        self.store = store
        self.port = port
        self._server = uvicorn.Server(
            uvicorn.Config(sink_app(store, mail), host="127.0.0.1", port=port, log_level="warning")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("the SMS sink did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
