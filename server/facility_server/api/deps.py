"""Request dependencies as ``Annotated`` aliases: the session, the clock, the principal.

Route functions take ``ctx: CtxDep`` (or the smaller aliases) and call
:meth:`Ctx.authorize` before touching a target, which yields 401/403/404 uniformly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from facility_server.auth import audit
from facility_server.auth.roles import (
    Action,
    Ancestry,
    Principal,
    Resource,
    Role,
    ScopeKind,
    in_scope,
    may,
)
from facility_server.auth.tokens import API_TOKEN_PREFIX, TokenError, decode_jwt, hash_api_token
from facility_server.core.settings import Settings
from facility_server.models import Account

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_settings_dep(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings  # type: ignore[no-any-return]


def get_factory(request: Request) -> sessionmaker[Session]:
    """The app's session factory."""
    return request.app.state.sessions  # type: ignore[no-any-return]


def get_session(
    factory: Annotated[sessionmaker[Session], Depends(get_factory)],
) -> Iterator[Session]:
    """One session per request: committed when the route returns, rolled back on error."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def get_now(request: Request) -> datetime:
    """The current instant from the app's injected clock (UTC, tz-aware)."""
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
FactoryDep = Annotated[sessionmaker[Session], Depends(get_factory)]
SessionDep = Annotated[Session, Depends(get_session)]
NowDep = Annotated[datetime, Depends(get_now)]

_UNAUTHORIZED = HTTPException(
    status.HTTP_401_UNAUTHORIZED, "not authenticated", headers={"WWW-Authenticate": "Bearer"}
)


def get_principal(
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    token: Annotated[str | None, Depends(oauth2)],
) -> Principal:
    """The account behind the bearer token (a person's JWT or a machine's API token).

    Raises:
        HTTPException: 401 when the token is missing, invalid, expired or inactive.
    """
    if not token:
        raise _UNAUTHORIZED
    if token.startswith(API_TOKEN_PREFIX):
        account = session.scalar(select(Account).where(Account.token_hash == hash_api_token(token)))
    else:
        try:
            account_id = decode_jwt(token, settings.jwt_secret.get_secret_value(), now)
        except TokenError:
            raise _UNAUTHORIZED from None
        account = session.get(Account, account_id) if 0 < account_id < 2**31 else None
    if account is None or not account.active:
        raise _UNAUTHORIZED
    return Principal(
        account.id,
        account.username,
        Role(account.role),
        ScopeKind(account.scope_kind),
        account.scope_id,
    )


PrincipalDep = Annotated[Principal, Depends(get_principal)]


@dataclass
class Ctx:
    """What a route needs: session, principal, clock, and the factory for denied audits."""

    session: Session
    principal: Principal
    now: datetime
    factory: sessionmaker[Session]
    settings: Settings

    def authorize(
        self, resource: Resource, action: Action, where: Ancestry | None = None, target: str = ""
    ) -> None:
        """Allow or raise: 403 when the role may not, 404 when ``where`` is out of scope.

        Denied writes are audited in their own transaction (the request's is rolled back).
        """
        if not may(self.principal, resource, "read") and not may(self.principal, resource, action):
            self._deny(resource, action, target, status.HTTP_403_FORBIDDEN)
        if where is not None and not in_scope(self.principal, where):
            self._deny(resource, action, target, status.HTTP_404_NOT_FOUND)
        if not may(self.principal, resource, action):
            self._deny(resource, action, target, status.HTTP_403_FORBIDDEN)

    def _deny(self, resource: str, action: str, target: str, code: int) -> None:
        if action != "read":  # write, acknowledge
            audit.record_now(
                self.factory,
                self.principal,
                f"{resource}.{action}",
                target or resource,
                "denied",
                {"status": code},
            )
        raise HTTPException(
            code,
            "not found" if code == 404 else f"{self.principal.role} may not {action} {resource}",
        )

    def audit(self, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
        """Record a successful write or sensitive read (committed with the request)."""
        audit.record(self.session, self.principal, action, target, "ok", detail, now=self.now)


def get_ctx(
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    factory: FactoryDep,
    settings: SettingsDep,
) -> Ctx:
    """Bundle the request's dependencies."""
    return Ctx(session, principal, now, factory, settings)


CtxDep = Annotated[Ctx, Depends(get_ctx)]
