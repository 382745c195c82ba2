"""A browser's access token, traded once for a cookie, for the pages a browser opens.

A navigation or an ``EventSource`` cannot carry an ``Authorization`` header, so a page posts
the access token once (``POST <prefix>/session``, bearer) and gets it back as a cookie:
``HttpOnly`` (page scripts never read it), ``SameSite=Strict`` (no other site's page can
make the browser send it), ``Path=<prefix>`` (no other route sees it), ``Secure`` over
HTTPS, and living no longer than the token itself. A token in the query string would be
simpler, but URLs end up in access logs, browser history and ``Referer`` headers. The
cookie holds the signed token rather than a server-side session: every instance can verify
it (JWKS), it expires by itself, and nothing has to be stored.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Annotated

import httpx
import jwt
from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from refuge_common.auth.principal import Principal, Role
from refuge_common.auth.verification import InvalidToken, TokenVerifier

bearer = HTTPBearer(auto_error=False, description="Access token from intake's /oauth/token")


async def verified_token(
    verifier: TokenVerifier, token: str | None, roles: Collection[Role]
) -> tuple[Principal, int]:
    """The caller holding ``token`` and when the token expires (epoch seconds)."""

    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing token", {"WWW-Authenticate": "Bearer"})
    try:
        principal = await verifier.verify(token)
    except (InvalidToken, httpx.HTTPError) as error:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, f"invalid token: {error}", {"WWW-Authenticate": "Bearer"}
        ) from error
    if principal.role not in roles:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {principal.role} may not do this")
    # Signature and expiry were checked just above; this only reads the expiry back.
    expires = int(jwt.decode(token, options={"verify_signature": False})["exp"])
    return principal, expires


def add_session_routes(
    router: APIRouter, verifier: TokenVerifier, *, cookie: str, path: str, roles: Collection[Role]
) -> None:
    """``POST /session`` (bearer token in, cookie out) and ``DELETE /session`` on ``router``,
    whose prefix is ``path``."""

    @router.post(
        "/session", status_code=status.HTTP_204_NO_CONTENT, summary="Trade a bearer token for the cookie"
    )
    async def open_session(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Response:
        token = credentials.credentials if credentials else None
        _, expires = await verified_token(verifier, token, roles)
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        response.set_cookie(
            cookie,
            token or "",
            max_age=max(1, expires - int(time.time())),
            path=path,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    @router.delete("/session", status_code=status.HTTP_204_NO_CONTENT, summary="Forget the cookie")
    async def close_session() -> Response:
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        response.delete_cookie(cookie, path=path, httponly=True, samesite="strict")
        return response
