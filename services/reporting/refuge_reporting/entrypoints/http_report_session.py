"""How a browser opens the report pages: the access token traded once for a cookie.

A navigation cannot carry an ``Authorization`` header, so ``GET /reports`` is a small form
that posts the token (``POST /reports/session``, bearer) and gets it back as a cookie:
``HttpOnly``, ``SameSite=Strict``, ``Path=/reports``, ``Secure`` over HTTPS, living no longer
than the token. Never a token in a URL (access logs, history, ``Referer``). How and why:
entrypoints/http_browser_session.py, shared with the operators' stream page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Cookie, Depends
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials

from refuge_common.auth.principal import Principal, Role
from refuge_common.auth.verification import TokenVerifier
from refuge_reporting.entrypoints.http_browser_session import add_session_routes, bearer, verified_token

COOKIE = "refuge_report_token"
READERS = (Role.CASEWORKER, Role.COORDINATOR, Role.ORG_ADMIN, Role.OPERATOR)
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def report_reader(verifier: TokenVerifier) -> Callable[..., Awaitable[Principal]]:
    """The caller, from a bearer token or from the report pages' cookie."""

    async def reader(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        refuge_report_token: Annotated[str | None, Cookie(include_in_schema=False)] = None,
    ) -> Principal:
        token = credentials.credentials if credentials else refuge_report_token
        principal, _ = await verified_token(verifier, token, READERS)
        return principal

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

    add_session_routes(router, verifier, cookie=COOKIE, path="/reports", roles=READERS)
    return router
