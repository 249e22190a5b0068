"""Health-kiosk members and consent (issue 7): enrol, record and withdraw consent, erase.

Who: resource ``health_member`` (the clinician and the complex's manager, in scope) for
the register and consents; erasure needs ``health_reading`` write (the clinician) and
purpose ``member_request`` (PIPL art. 47: on the member's request). Every call is
audited with internal ids only (never a pseudonym, a name or a value); every refusal
(403, 404, 422 for the purpose) as denied (:mod:`.vitals_guard`).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from facility_server.api.common import IdPath, Limit, Offset, Page, paginate
from facility_server.api.deps import Ctx, CtxDep
from facility_server.api.routes.helpers import load_child
from facility_server.api.routes.vitals_guard import (
    ERASE_PURPOSES,
    PurposeQuery,
    checked_purpose,
    guarded,
    guarded_complex,
    require,
    vitals_error,
)
from facility_server.api.schemas.vitals import (
    ConsentCreate,
    ConsentPublic,
    MemberCreate,
    MemberPublic,
    WithdrawalPublic,
)
from facility_server.auth.roles import Resource
from facility_server.core.db import checkpoint
from facility_server.models import Consent, Member
from facility_server.vitals.consent import (
    VitalsError,
    active_consent,
    enrol,
    record_consent,
)
from facility_server.vitals.retention import erase_member, withdraw_consent

router = APIRouter(prefix="/vitals", tags=["vitals"])


def consents_of(ctx: Ctx, member_ids: list[int]) -> dict[int, list[Consent]]:
    """Member id -> their consents, oldest first (one query for a page of members)."""
    out: dict[int, list[Consent]] = {m: [] for m in member_ids}
    stmt = select(Consent).where(Consent.member_id.in_(member_ids)).order_by(Consent.id)
    for consent in ctx.session.scalars(stmt):
        out[consent.member_id].append(consent)
    return out


def member_public(
    ctx: Ctx, member: Member, consents: list[Consent] | None = None
) -> dict[str, Any]:
    """A member as returned (consents oldest first, ``consented`` now); ``consents``: the
    member's, when read already (:func:`consents_of`)."""
    if consents is None:
        consents = consents_of(ctx, [member.id])[member.id]
    return {
        "id": member.id,
        "complex_id": member.complex_id,
        "display_name": member.display_name,
        "enrolled_at": member.enrolled_at,
        "enrolled_by": member.enrolled_by,
        "consented": any(c.withdrawn_at is None for c in consents),
        "consents": consents,
    }


def load_member(
    ctx: Ctx, member_id: int, action: str, access: Literal["read", "write"],
    resource: Resource = "health_member", verb: str = "read members",
) -> Member:  # fmt: skip
    """The member if the caller may ``access`` ``resource`` of them: 403 / 404 ``member
    not found`` otherwise, audited as ``action`` (see :mod:`.vitals_guard`)."""
    target = f"vital_member:{member_id}"
    require(ctx, resource, access, action, target, verb)
    return guarded(
        ctx, action, target, "member",
        lambda: load_child(ctx, Member, member_id, resource, access), write=access == "write",
    )  # fmt: skip


@router.post(
    "/complexes/{complex_id}/members",
    response_model=MemberPublic,
    status_code=status.HTTP_201_CREATED,
)
def enrol_member(ctx: CtxDep, complex_id: IdPath, body: MemberCreate) -> dict[str, Any]:
    """Enrol a member by the pseudonym of their card (409 with the member's id when the
    pseudonym is enrolled already; 422 for a blank name)."""
    action = "vital_member.enrol"
    cx = guarded_complex(ctx, complex_id, "health_member", "write", action, "create members")
    try:
        member = enrol(
            ctx.session,
            cx.id,
            body.pseudonym,
            body.display_name,
            by=ctx.principal.username,
            now=ctx.now,
        )
    except VitalsError as exc:  # MemberExists: 409 with the member_id
        raise vitals_error(exc) from exc
    ctx.audit(action, f"vital_member:{member.id}")
    return member_public(ctx, member)


@router.get("/complexes/{complex_id}/members", response_model=Page[MemberPublic])
def list_members(
    ctx: CtxDep, complex_id: IdPath, limit: Limit = 50, offset: Offset = 0
) -> dict[str, Any]:
    """The complex's member register (names, consents; no values), audited."""
    action = "vital_member.list"
    cx = guarded_complex(ctx, complex_id, "health_member", "read", action, "read members")
    page = paginate(
        ctx.session, select(Member).where(Member.complex_id == cx.id), limit, offset, Member.id
    )
    consents = consents_of(ctx, [m.id for m in page["items"]])
    page["items"] = [member_public(ctx, m, consents[m.id]) for m in page["items"]]
    ctx.audit(action, f"complex:{cx.id}", {"members": len(page["items"])})
    return page


@router.get("/members/{member_id}", response_model=MemberPublic)
def get_member(ctx: CtxDep, member_id: IdPath) -> dict[str, Any]:
    """One member with their consents (no values), audited."""
    member = load_member(ctx, member_id, "vital_member.read", "read")
    ctx.audit("vital_member.read", f"vital_member:{member.id}")
    return member_public(ctx, member)


@router.post(
    "/members/{member_id}/consents",
    response_model=ConsentPublic,
    status_code=status.HTTP_201_CREATED,
)
def add_consent(ctx: CtxDep, member_id: IdPath, body: ConsentCreate) -> Consent:
    """Record a separate consent (409 when one to the purpose is in force; 422 for empty
    evidence, or a ``granted_at`` in the future or before the member's latest
    withdrawal). Readings count from ``granted_at`` on."""
    action = "vital_consent.record"
    member = load_member(ctx, member_id, action, "write", verb="record consents")
    try:
        consent = record_consent(
            ctx.session,
            member,
            purpose=body.purpose,
            granted_at=body.granted_at or ctx.now,
            evidence=body.evidence,
            by=ctx.principal.username,
            now=ctx.now,
        )
    except VitalsError as exc:
        raise vitals_error(exc) from exc
    ctx.audit(
        action, f"vital_member:{member.id}", {"purpose": body.purpose, "consent_id": consent.id}
    )
    return consent


@router.post("/members/{member_id}/consents/{consent_id}/withdraw", response_model=WithdrawalPublic)
def withdraw(ctx: CtxDep, member_id: IdPath, consent_id: IdPath) -> dict[str, Any]:
    """Withdraw a consent now: the member's kept readings are deleted (PIPL art. 47 (3));
    409 when already withdrawn."""
    action = "vital_consent.withdraw"
    member = load_member(ctx, member_id, action, "write", verb="withdraw consents")
    consent = ctx.session.get(Consent, consent_id)
    if consent is None or consent.member_id != member.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "consent not found")
    try:
        counts = withdraw_consent(ctx.session, consent, by=ctx.principal.username, now=ctx.now)
    except VitalsError as exc:  # a consent withdrawn already: 409 naming withdrawn_at
        raise vitals_error(exc, None) from exc
    ctx.audit(
        action,
        f"vital_member:{member.id}",
        {"purpose": consent.purpose, "consent_id": consent.id, **counts},
    )
    ctx.session.commit()
    checkpoint(ctx.session.get_bind())
    return {
        "consent": consent,
        "readings_deleted": counts["readings"],
        "sessions_unlinked": counts["sessions_unlinked"],
    }


@router.delete("/members/{member_id}")
def erase(ctx: CtxDep, member_id: IdPath, purpose: PurposeQuery = None) -> dict[str, Any]:
    """Erase a member everywhere on the member's request (PIPL art. 47): member, consents,
    readings, session links; clinician only, purpose ``member_request`` only (422
    otherwise). Returns the counts of what went."""
    action = "vital_member.erase"
    member = load_member(ctx, member_id, action, "write", "health_reading", "erase members")
    checked_purpose(ctx, purpose, action, f"vital_member:{member_id}", ERASE_PURPOSES)
    had_consent = active_consent(ctx.session, member.id) is not None
    counts = erase_member(ctx.session, member)
    ctx.audit(
        action,
        f"vital_member:{member_id}",
        {"purpose": purpose, "had_consent": had_consent, **counts},
    )
    ctx.session.commit()  # then clear SQLite's write-ahead log of the erased rows
    checkpoint(ctx.session.get_bind())
    return {"member_id": member_id, "erased": counts}
