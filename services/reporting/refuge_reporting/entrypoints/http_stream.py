"""The operators' live stream page: ``GET /stream``, figures pushed by server-sent events.

``EventSource`` cannot send an ``Authorization`` header: the page trades the operator's
access token for a cookie once (``POST /stream/session``; entrypoints/http_browser_session.py
says how and why).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent

from refuge_common.auth.principal import Role
from refuge_common.auth.verification import TokenVerifier
from refuge_common.runtime import ServiceRuntime
from refuge_reporting.adapters.stream_broker import DeadLetterWatch, StreamBroker
from refuge_reporting.adapters.stream_scrape import scrape_outboxes
from refuge_reporting.entrypoints.http_browser_session import add_session_routes, verified_token
from refuge_reporting.settings import ReportingSettings
from refuge_reporting.stream.figures import OutboxFigure
from refuge_reporting.stream.sampler import StreamSampler

COOKIE = "refuge_stream_token"
STATIC = Path(__file__).resolve().parent.parent / "stream" / "static"
PAGE_HEADERS = {
    # The page's script and style are files of its own: no inline code to allow.
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def stream_router(sampler: StreamSampler, verifier: TokenVerifier) -> APIRouter:
    router = APIRouter(prefix="/stream", tags=["operations"])

    @router.get("", summary="The live stream page (its figures need an operator's token)")
    async def page() -> FileResponse:
        return FileResponse(STATIC / "stream.html", media_type="text/html", headers=PAGE_HEADERS)

    @router.get("/stream.js", include_in_schema=False)
    async def script() -> FileResponse:
        return FileResponse(STATIC / "stream.js", media_type="text/javascript", headers=PAGE_HEADERS)

    @router.get("/stream.css", include_in_schema=False)
    async def style() -> FileResponse:
        return FileResponse(STATIC / "stream.css", media_type="text/css", headers=PAGE_HEADERS)

    add_session_routes(router, verifier, cookie=COOKIE, path="/stream", roles=(Role.OPERATOR,))

    async def cookie_operator(request: Request) -> int:
        _, expires = await verified_token(verifier, request.cookies.get(COOKIE), (Role.OPERATOR,))
        return expires

    @router.get(
        "/events",
        response_class=EventSourceResponse,
        summary="Server-sent events: one `figures` event per sample, until the token expires",
    )
    # A default, not Annotated: the dependency is local, and string annotations resolve globally.
    async def events(expires: int = Depends(cookie_operator)) -> AsyncIterator[ServerSentEvent]:
        async for snapshot in sampler.updates():
            if time.time() >= expires:
                break
            yield ServerSentEvent(event="figures", data=asdict(snapshot))
        # The browser reconnects, gets a 401 and shows the token form again.
        yield ServerSentEvent(event="expired", data={"reason": "token expired"})

    return router


def install_stream_page(
    app: FastAPI, runtime: ServiceRuntime, settings: ReportingSettings, verifier: TokenVerifier
) -> StreamSampler:
    """Sample the streams in the background and serve the page from ``app``."""

    async def outboxes() -> list[OutboxFigure]:
        # A client per sample (every few seconds): nothing to close when the service stops.
        async with httpx.AsyncClient() as client:
            return await scrape_outboxes(client, settings.reporting_stream_metrics_urls)

    servers = settings.kafka_bootstrap_servers
    sampler = StreamSampler(
        StreamBroker(servers),
        DeadLetterWatch(servers),
        outboxes,
        interval=settings.reporting_stream_interval_ms / 1000,
    )
    runtime.background(sampler.run)
    app.include_router(stream_router(sampler, verifier))
    return sampler
