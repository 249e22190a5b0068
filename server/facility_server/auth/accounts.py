"""Creating accounts: people with passwords, machines with API tokens."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.auth.passwords import hash_secret
from facility_server.auth.roles import MACHINE_ROLES, ROLE_SCOPES, Role, ScopeKind
from facility_server.auth.tokens import new_api_token
from facility_server.models import Account, Complex, Region


class AccountError(ValueError):
    """An account that cannot be created as asked (scope, role, password, duplicate)."""


def _check_scope(session: Session, role: Role, scope_kind: ScopeKind, scope_id: int | None) -> None:
    if scope_kind not in ROLE_SCOPES[role]:
        allowed = ", ".join(sorted(ROLE_SCOPES[role]))
        raise AccountError(f"scope_kind: a {role} is scoped to {allowed}")
    if scope_kind is ScopeKind.city:
        if scope_id is not None:
            raise AccountError("scope_id: the city scope takes no id")
        return
    if scope_id is None:
        raise AccountError("scope_id: required for this scope")
    if scope_kind is ScopeKind.complex:
        found = session.get(Complex, scope_id) is not None
    else:
        found = (
            session.scalar(
                select(Region.id).where(Region.id == scope_id, Region.kind == scope_kind)
            )
            is not None
        )
    if not found:
        raise AccountError(f"scope_id: no {scope_kind} with id {scope_id}")


def create_account(
    session: Session,
    username: str,
    role: Role,
    scope_kind: ScopeKind,
    scope_id: int | None = None,
    *,
    password: str | None = None,
    display_name: str = "",
) -> tuple[Account, str | None]:
    """Create an account; return it and, for a machine, its API token (shown once).

    Raises:
        AccountError: bad scope for the role, a person without password, a machine with
            one, or a username already taken.
    """
    role, scope_kind = Role(role), ScopeKind(scope_kind)
    _check_scope(session, role, scope_kind, scope_id)
    machine = role in MACHINE_ROLES
    if machine == (password is not None):
        raise AccountError("password: people need one, machines get an API token instead")
    if session.scalar(select(Account.id).where(Account.username == username)) is not None:
        raise AccountError(f"username: {username!r} is taken")
    token, token_hash = new_api_token() if machine else (None, None)
    account = Account(
        username=username,
        display_name=display_name,
        kind="machine" if machine else "person",
        role=str(role),
        scope_kind=str(scope_kind),
        scope_id=scope_id,
        password_hash=hash_secret(password) if password else None,
        token_hash=token_hash,
        active=True,
    )
    session.add(account)
    session.flush()
    return account, token
