"""People get short-lived JWTs (HS256, pyjwt); machines get opaque API tokens.

An API token is ``fo_`` + 43 url-safe characters (256 bits); only its SHA-256 is stored
(a high-entropy token needs no slow hash), so a lookup is one indexed equality.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import jwt

API_TOKEN_PREFIX = "fo_"  # noqa: S105 - a prefix, not a secret
_ALGORITHM = "HS256"


class TokenError(ValueError):
    """A token that is malformed, expired or signed with another key."""


def issue_jwt(account_id: int, username: str, secret: str, now: datetime, ttl_s: int) -> str:
    """A JWT naming the account (``sub``), valid ``ttl_s`` seconds from ``now`` (UTC)."""
    claims = {
        "sub": str(account_id),
        "name": username,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_s),
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def decode_jwt(token: str, secret: str, now: datetime) -> int:
    """The account id of a JWT that is validly signed and unexpired at ``now`` (UTC).

    Expiry is checked against the injected clock, not the machine's.

    Raises:
        TokenError: expired, badly signed or malformed.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            options={"require": ["sub", "exp"], "verify_exp": False, "verify_iat": False},
        )
        if not isinstance(claims["exp"], int) or claims["exp"] <= now.timestamp():
            raise TokenError("token expired")
        return int(claims["sub"])
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise TokenError(str(exc)) from exc


def new_api_token() -> tuple[str, str]:
    """A fresh machine token and the hash to store: (token shown once, sha256 hex)."""
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_api_token(token)


def hash_api_token(token: str) -> str:
    """SHA-256 hex of an API token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
