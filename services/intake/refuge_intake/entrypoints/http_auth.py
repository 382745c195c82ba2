"""Who is calling intake: an API key presented directly, or an access token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import asyncpg
import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from refuge_common.auth.principal import AUDIENCE, ISSUER, Principal
from refuge_intake.adapters import directory_store
from refuge_intake.adapters.token_issuer import TokenIssuer
from refuge_intake.domain import api_keys

bearer = HTTPBearer(
    auto_error=False,
    description="An API key (rfg_…) or an access token from POST /oauth/token",
)


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, reason, headers={"WWW-Authenticate": "Bearer"})


async def principal_from_api_key(pool: asyncpg.Pool, presented: str) -> Principal | None:
    parsed = api_keys.parse(presented)
    if parsed is None:
        return None
    key_id, secret = parsed
    async with pool.acquire() as connection:
        stored = await directory_store.find_api_key(connection, key_id)
    if stored is None or not stored.admits(secret, datetime.now(UTC)):
        return None
    return Principal(
        key_id=key_id, organisation_id=stored.tenant_id, role=stored.role, office_id=stored.office_id
    )


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None:
        raise _unauthorized("missing credentials: send 'Authorization: Bearer <API key or token>'")
    presented = credentials.credentials
    if presented.startswith(f"{api_keys.PREFIX}_"):
        principal = await principal_from_api_key(request.app.state.pool(), presented)
        if principal is None:
            raise _unauthorized("unknown, expired or revoked API key")
        return principal
    issuer: TokenIssuer = request.app.state.issuer
    try:
        claims = jwt.decode(
            presented,
            issuer.public_key,
            algorithms=["EdDSA"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "sub", "org", "role"]},
        )
        principal = Principal.from_claims(claims)
    except (jwt.PyJWTError, KeyError, ValueError) as error:
        raise _unauthorized(f"invalid token: {error}") from error
    # Other services trust a token until it expires (minutes); intake, which keeps the
    # keys, also refuses at once the tokens of a key revoked or expired since.
    async with request.app.state.pool().acquire() as connection:
        stored = await directory_store.find_api_key(connection, principal.key_id)
    if stored is None or not stored.usable(datetime.now(UTC)):
        raise _unauthorized("the token's API key is expired or revoked")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
