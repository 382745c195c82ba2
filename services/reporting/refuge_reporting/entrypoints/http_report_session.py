"""How a browser opens the report pages: the access token traded once for a cookie.

A navigation cannot carry an ``Authorization`` header, so ``GET /reports`` is a small form
that posts the token (``POST /reports/session``, bearer) and gets it back as a cookie:
``HttpOnly``, ``SameSite=Strict``, ``Path=/reports``, ``Secure`` over HTTPS, living no longer
than the token. Never a token in a URL (access logs, history, ``Referer``). The same choice
as the operators' stream page (entrypoints/http_stream.py), for the report's readers.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import httpx
import jwt
from fastapi import APIRouter, Cookie, Depends, HTTPException, Request, Response, status
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from refuge_common.auth.principal import Principal, Role
from refuge_common.auth.verification import InvalidToken, TokenVerifier

COOKIE = "refuge_report_token"
READERS = (Role.CASEWORKER, Role.COORDINATOR, Role.ORG_ADMIN, Role.OPERATOR)
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

_bearer = HTTPBearer(auto_error=False, description="Access token from intake's /oauth/token")


async def _verified(verifier: TokenVerifier, token: str | None) -> Principal:
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing token", {"WWW-Authenticate": "Bearer"})
    try:
        principal = await verifier.verify(token)
    except (InvalidToken, httpx.HTTPError) as error:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, f"invalid token: {error}", {"WWW-Authenticate": "Bearer"}
        ) from error
    if principal.role not in READERS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {principal.role} may not do this")
    return principal


def report_reader(verifier: TokenVerifier) -> Callable[..., Awaitable[Principal]]:
    """The caller, from a bearer token or from the report pages' cookie."""

    async def reader(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        refuge_report_token: Annotated[str | None, Cookie(include_in_schema=False)] = None,
    ) -> Principal:
        return await _verified(verifier, credentials.credentials if credentials else refuge_report_token)

    return reader


def session_router(verifier: TokenVerifier) -> APIRouter:
    router = APIRouter(prefix="/reports", tags=["reports"])

    @router.get("", response_class=HTMLResponse, summary="Open a report in a browser (token form)")
    async def form() -> HTMLResponse:
        page = (TEMPLATES / "report_session.html").read_text()
        year = str(datetime.now(UTC).year - 1)
        return HTMLResponse(page.replace("{{ year }}", year), headers=PAGE_HEADERS)

    @router.get("/report_session.js", include_in_schema=False)
    async def script() -> FileResponse:
        return FileResponse(
            TEMPLATES / "static" / "report_session.js", media_type="text/javascript", headers=PAGE_HEADERS
        )

    @router.post(
        "/session", status_code=status.HTTP_204_NO_CONTENT, summary="Trade a bearer token for the cookie"
    )
    async def open_session(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Response:
        token = credentials.credentials if credentials else None
        await _verified(verifier, token)
        # Signature and expiry were checked just above; this only reads the expiry back.
        expires = int(jwt.decode(token or "", options={"verify_signature": False})["exp"])
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        response.set_cookie(
            COOKIE,
            token or "",
            max_age=max(1, expires - int(time.time())),
            path="/reports",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    @router.delete("/session", status_code=status.HTTP_204_NO_CONTENT, summary="Forget the cookie")
    async def close_session() -> Response:
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        response.delete_cookie(COOKIE, path="/reports", httponly=True, samesite="strict")
        return response

    return router
