"""The operators' live stream page: ``GET /stream``, figures pushed by server-sent events.

How a browser holds the operator's token: ``EventSource`` cannot send an ``Authorization``
header, so the page posts the access token once (``POST /stream/session``, bearer, operator
role) and gets it back as a cookie: ``HttpOnly`` (page scripts never read it), ``SameSite=Strict``
(no other site's page can make the browser send it), ``Path=/stream`` (no other route sees it),
``Secure`` over HTTPS, and living no longer than the token itself. A token in the query string
would have been simpler, but URLs end up in access logs, browser history and ``Referer``
headers. The cookie holds the signed token rather than a server-side session: every service
instance can verify it (JWKS), it expires by itself, and nothing has to be stored.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import httpx
import jwt
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.responses import FileResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.sse import EventSourceResponse, ServerSentEvent

from refuge_common.auth.principal import Principal, Role
from refuge_common.auth.verification import InvalidToken, TokenVerifier
from refuge_common.runtime import ServiceRuntime
from refuge_reporting.adapters.stream_broker import DeadLetterWatch, StreamBroker
from refuge_reporting.adapters.stream_scrape import scrape_outboxes
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

_bearer = HTTPBearer(auto_error=False, description="An operator's access token from intake's /oauth/token")


async def _operator(verifier: TokenVerifier, token: str | None) -> tuple[Principal, int]:
    """The operator holding ``token`` and when the token expires (epoch seconds)."""

    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing token", {"WWW-Authenticate": "Bearer"})
    try:
        principal = await verifier.verify(token)
    except (InvalidToken, httpx.HTTPError) as error:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, f"invalid token: {error}", {"WWW-Authenticate": "Bearer"}
        ) from error
    if principal.role is not Role.OPERATOR:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {principal.role} may not do this")
    # Signature and expiry were checked just above; this only reads the expiry back.
    expires = int(jwt.decode(token, options={"verify_signature": False})["exp"])
    return principal, expires


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

    @router.post(
        "/session",
        status_code=status.HTTP_204_NO_CONTENT,
        summary="Trade an operator's bearer token for the page's cookie",
    )
    async def open_session(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Response:
        token = credentials.credentials if credentials else None
        _, expires = await _operator(verifier, token)
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        response.set_cookie(
            COOKIE,
            token or "",
            max_age=max(1, expires - int(time.time())),
            path="/stream",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    @router.delete("/session", status_code=status.HTTP_204_NO_CONTENT, summary="Forget the page's cookie")
    async def close_session() -> Response:
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        response.delete_cookie(COOKIE, path="/stream", httponly=True, samesite="strict")
        return response

    async def cookie_operator(request: Request) -> int:
        _, expires = await _operator(verifier, request.cookies.get(COOKIE))
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
