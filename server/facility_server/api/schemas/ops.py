"""Alerts, audit entries, accounts and tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from facility_server.api.common import MAX_ID
from facility_server.api.schemas.base import In, Out
from facility_server.auth.roles import Role, ScopeKind
from facility_server.domain import Name, ShortText


class AlertPublic(Out):
    """An alert as returned."""

    id: int
    kind: str
    subject: str
    occurrence: str
    complex_id: int | None
    state: str
    severity: str
    title: str
    detail: dict[str, Any]
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolution: str | None
    note: str | None = Field(None, description="Why it was resolved (e.g. late data).")
    escalation_level: int = Field(0, description="0 complex, 1 street, 2 district.")
    escalated_at: datetime | None = None


class AlertResolve(In):
    """How an alert was resolved."""

    resolution: ShortText = "fixed"
    note: ShortText | None = Field(None, description="What was done (kept on the alert).")


class AuditPublic(Out):
    """An audit entry."""

    id: int
    at: datetime
    actor_id: int | None
    actor: str
    action: str
    target: str
    outcome: str
    detail: dict[str, Any]


class AccountBase(In):
    """Fields of an account."""

    display_name: ShortText = ""
    role: Role
    scope_kind: ScopeKind
    scope_id: int | None = Field(None, ge=1, le=MAX_ID, strict=True)


class AccountCreate(AccountBase):
    """Create a person (with a password) or a machine (gets an API token once)."""

    username: Name = Field(max_length=64, pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    password: str | None = Field(None, min_length=8, max_length=200)


class AccountUpdate(In):
    """Change an account."""

    display_name: ShortText | None = None
    active: bool | None = None
    password: str | None = Field(None, min_length=8, max_length=200)


class AccountPublic(Out):
    """An account as returned (never a hash)."""

    id: int
    username: str
    display_name: str
    kind: str
    role: str
    scope_kind: str
    scope_id: int | None
    active: bool


class AccountCreated(AccountPublic):
    """A created account; a machine's ``api_token`` is shown this once."""

    api_token: str | None = None


class TokenPublic(Out):
    """OAuth2 token response."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int
