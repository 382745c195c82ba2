"""The token endpoint (OAuth 2.0 client credentials) and the published keys (JWKS)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from pydantic import BaseModel

from refuge_intake.adapters.token_issuer import TokenIssuer
from refuge_intake.entrypoints.http_auth import principal_from_api_key

router = APIRouter(tags=["tokens"])


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    summary="Exchange an API key for a token",
    responses={
        400: {"description": "unsupported grant type"},
        401: {"description": "unknown, expired or revoked key"},
    },
)
async def issue_token(
    request: Request,
    # min_length: an empty form field reads as a missing one (422), which the document must say.
    grant_type: Annotated[str, Form(min_length=1, description="must be client_credentials")],
    client_secret: Annotated[str, Form(min_length=1, description="the API key")],
) -> TokenResponse:
    if grant_type != "client_credentials":
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "grant_type: only client_credentials is supported")
    principal = await principal_from_api_key(request.app.state.pool(), client_secret)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "client_secret: unknown, expired or revoked API key"
        )
    issuer: TokenIssuer = request.app.state.issuer
    return TokenResponse(access_token=issuer.issue(principal), expires_in=issuer.ttl_seconds)


@router.get("/.well-known/jwks.json", summary="Public keys that verify access tokens")
async def jwks(request: Request) -> dict[str, Any]:
    issuer: TokenIssuer = request.app.state.issuer
    return issuer.jwks()
