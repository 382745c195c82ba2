"""Verify access tokens with intake's published keys (JWKS); no shared tables."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from refuge_common.auth.principal import AUDIENCE, ISSUER, Principal, Role

ALGORITHMS = ["EdDSA"]


class TokenVerifier:
    def __init__(self, jwks_url: str, *, refresh_after: float = 300.0) -> None:
        self._jwks_url = jwks_url
        self._refresh_after = refresh_after
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def _refresh(self, *, force: bool = False) -> None:
        async with self._lock:
            fresh = time.monotonic() - self._fetched_at < (5.0 if force else self._refresh_after)
            if self._keys and fresh:
                return
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.get(self._jwks_url)
                response.raise_for_status()
            key_set = jwt.PyJWKSet.from_dict(response.json())
            self._keys = {key.key_id: key for key in key_set.keys if key.key_id}
            self._fetched_at = time.monotonic()

    async def verify(self, token: str) -> Principal:
        try:
            kid = str(jwt.get_unverified_header(token).get("kid", ""))
        except jwt.PyJWTError as error:
            raise InvalidToken("malformed token") from error
        if kid not in self._keys:
            await self._refresh(force=bool(self._keys))
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("token signed by an unknown key")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "org", "role"]},
            )
            return Principal.from_claims(claims)
        except (jwt.PyJWTError, KeyError, ValueError) as error:
            raise InvalidToken(str(error)) from error


class InvalidToken(Exception):
    pass


_bearer = HTTPBearer(auto_error=False, description="Access token from intake's /oauth/token")


def principal_dependency(verifier: TokenVerifier, *roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency admitting a valid token of one of ``roles`` (any role if none)."""

    async def current_principal(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "missing bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        try:
            principal = await verifier.verify(credentials.credentials)
        except (InvalidToken, httpx.HTTPError) as error:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                f"invalid token: {error}",
                headers={"WWW-Authenticate": "Bearer"},
            ) from error
        if roles and principal.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {principal.role} may not do this")
        return principal

    return current_principal
