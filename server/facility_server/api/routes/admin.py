"""Accounts (admin only) and the audit log (admin only; reading it is audited)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, status
from sqlalchemy import select

from facility_server.api.common import IdPath, Limit, Offset, Page, paginate
from facility_server.api.deps import CtxDep
from facility_server.api.routes.helpers import apply_update, invalid, not_found
from facility_server.api.schemas.ops import (
    AccountCreate,
    AccountCreated,
    AccountPublic,
    AccountUpdate,
    AuditPublic,
)
from facility_server.auth.accounts import AccountError, create_account
from facility_server.auth.passwords import hash_secret
from facility_server.models import Account, AuditEntry

router = APIRouter(tags=["admin"])


@router.get("/accounts", response_model=Page[AccountPublic])
def list_accounts(ctx: CtxDep, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """All accounts."""
    ctx.authorize("account", "read")
    return paginate(ctx.session, select(Account), limit, offset, Account.id)


@router.post("/accounts", response_model=AccountCreated, status_code=status.HTTP_201_CREATED)
def new_account(ctx: CtxDep, body: AccountCreate) -> dict[str, Any]:
    """Create a person (password required) or a machine (API token returned once)."""
    ctx.authorize("account", "write")
    try:
        account, token = create_account(
            ctx.session,
            body.username,
            body.role,
            body.scope_kind,
            body.scope_id,
            password=body.password,
            display_name=body.display_name,
        )
    except AccountError as exc:  # "field: message"
        field, _, msg = str(exc).partition(": ")
        raise invalid(("body", field), msg, getattr(body, field, None)) from exc
    ctx.audit("account.create", f"account:{account.id}", {"role": account.role})
    return {**AccountPublic.model_validate(account).model_dump(), "api_token": token}


@router.patch("/accounts/{account_id}", response_model=AccountPublic)
def update_account(ctx: CtxDep, account_id: IdPath, body: AccountUpdate) -> Account:
    """Rename, deactivate or set a new password."""
    ctx.authorize("account", "write")
    account = ctx.session.get(Account, account_id)
    if account is None:
        raise not_found("account")
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    password = changes.pop("password", None)
    changed = apply_update(account, changes)
    if password is not None:
        account.password_hash = hash_secret(password)
        changed["password"] = "changed"  # noqa: S105 - an audit note, not a secret
    ctx.audit("account.update", f"account:{account.id}", changed)
    return account


@router.get("/audit", response_model=Page[AuditPublic])
def list_audit(
    ctx: CtxDep,
    actor: str | None = Query(None, max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$"),
    action: str | None = Query(None, max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$"),
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The audit log, newest first (this read is itself audited)."""
    ctx.authorize("audit", "read")
    stmt = select(AuditEntry)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    page = paginate(ctx.session, stmt, limit, offset, AuditEntry.id.desc())
    ctx.audit("audit.read", "audit_log", {"count": len(page["items"])})
    return page
