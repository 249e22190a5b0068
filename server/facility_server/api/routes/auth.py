"""Sign-in (OAuth2 password flow) and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from facility_server.api.deps import FactoryDep, NowDep, PrincipalDep, SessionDep, SettingsDep
from facility_server.api.schemas.ops import AccountPublic, TokenPublic
from facility_server.auth import audit
from facility_server.auth.passwords import verify_secret
from facility_server.auth.tokens import issue_jwt
from facility_server.models import Account

router = APIRouter(tags=["auth"])


@router.post("/auth/token", response_model=TokenPublic)
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    factory: FactoryDep,
) -> TokenPublic:
    """Exchange username and password for a JWT (people only)."""
    account = session.scalar(select(Account).where(Account.username == form.username[:64]))
    if (
        account is None
        or not account.active
        or not verify_secret(form.password, account.password_hash)
    ):
        audit.record_now(factory, None, "auth.login", f"account:{form.username[:64]}", "denied")
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    jwt = issue_jwt(
        account.id,
        account.username,
        settings.jwt_secret.get_secret_value(),
        now,
        settings.jwt_ttl_s,
    )
    return TokenPublic(access_token=jwt, expires_in=settings.jwt_ttl_s)


@router.get("/me", response_model=AccountPublic)
def me(principal: PrincipalDep, session: SessionDep) -> Account:
    """The signed-in account."""
    return session.get_one(Account, principal.account_id)
