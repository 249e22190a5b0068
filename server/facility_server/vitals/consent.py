"""Members and their separate consent to health-data processing (PIPL art. 28-29).

A member is enrolled by the pseudonym of their card (the server never sees card
numbers; the complex's desk computes it with :func:`facility_contracts.vitals.pseudonymise`)
and the name the health station knows them by. A consent names one purpose of
:data:`CONSENT_PURPOSES`, when it was given (``granted_at``, UTC, never in the future),
who recorded it and on what evidence (the signed form's number).

Rule (:func:`consent_in_force`): a reading's values are kept when a ``health_monitoring``
consent was granted at or before the reading's time and has not been withdrawn. A reading
that arrives after the withdrawal is therefore not kept even if it was taken before: on
withdrawal the handler must delete what it holds (PIPL art. 47 (3)), see
:func:`facility_server.vitals.retention.withdraw_consent`.
"""

from __future__ import annotations

import re
from datetime import datetime

from facility_contracts.vitals import PSEUDONYM_PATTERN
from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.models import Consent, Member

#: Purposes a member may consent to (one separate consent each, PIPL art. 29).
CONSENT_PURPOSES = ("health_monitoring",)
#: The purpose that lets the server keep reading values.
MONITORING = "health_monitoring"


class VitalsError(ValueError):
    """Bad input or a state the rules do not allow; ``field`` and ``value`` name it.

    ``value`` is never a pseudonym, a name or a reading value (messages reach logs).
    """

    def __init__(self, message: str, *, field: str = "", value: object = None) -> None:
        super().__init__(message)
        self.field, self.value = field, value


class MemberExists(VitalsError):
    """The pseudonym is already enrolled at the complex (``member_id`` names the member)."""

    def __init__(self, member_id: int) -> None:
        super().__init__(f"pseudonym already enrolled as member {member_id}", field="pseudonym")
        self.member_id = member_id


def enrol(
    session: Session,
    complex_id: int,
    pseudonym: str,
    display_name: str,
    *,
    by: str,
    now: datetime,
) -> Member:
    """Enrol a member of complex ``complex_id`` (flushed, not committed).

    Raises:
        VitalsError: ``pseudonym`` is not ``m1-`` + 32 hex (field ``pseudonym``; the value
            is not shown) or ``display_name`` is empty (field ``display_name``).
        MemberExists: the pseudonym is enrolled already.
    """
    if not re.fullmatch(PSEUDONYM_PATTERN, pseudonym):
        raise VitalsError("pseudonym is not m1- and 32 lowercase hex digits", field="pseudonym")
    if not display_name.strip():
        raise VitalsError("display_name is empty", field="display_name", value=display_name)
    existing = session.scalar(
        select(Member.id).where(Member.complex_id == complex_id, Member.pseudonym == pseudonym)
    )
    if existing is not None:
        raise MemberExists(existing)
    member = Member(
        complex_id=complex_id,
        pseudonym=pseudonym,
        display_name=display_name.strip(),
        enrolled_at=now,
        enrolled_by=by,
    )
    session.add(member)
    session.flush()
    return member


def record_consent(
    session: Session,
    member: Member,
    *,
    purpose: str,
    granted_at: datetime,
    evidence: str,
    by: str,
    now: datetime,
) -> Consent:
    """Record ``member``'s consent to ``purpose`` given at ``granted_at`` (UTC, aware).

    Raises:
        VitalsError: unknown purpose (field ``purpose``), ``granted_at`` naive or after
            ``now`` (field ``granted_at``), or a consent to the purpose already in force
            (field ``purpose``).
    """
    if purpose not in CONSENT_PURPOSES:
        raise VitalsError(f"unknown consent purpose {purpose!r}", field="purpose", value=purpose)
    if granted_at.tzinfo is None or granted_at > now:
        raise VitalsError(
            "granted_at must be an aware instant not after now",
            field="granted_at",
            value=granted_at.isoformat(),
        )
    if active_consent(session, member.id, purpose) is not None:
        raise VitalsError("a consent to this purpose is in force", field="purpose", value=purpose)
    consent = Consent(
        member_id=member.id,
        purpose=purpose,
        granted_at=granted_at,
        recorded_at=now,
        recorded_by=by,
        evidence=evidence,
    )
    session.add(consent)
    session.flush()
    return consent


def active_consent(session: Session, member_id: int, purpose: str = MONITORING) -> Consent | None:
    """The member's consent to ``purpose`` that is not withdrawn, if any."""
    return session.scalar(
        select(Consent).where(
            Consent.member_id == member_id,
            Consent.purpose == purpose,
            Consent.withdrawn_at.is_(None),
        )
    )


def consent_in_force(session: Session, member_id: int, at: datetime) -> bool:
    """True when a ``health_monitoring`` consent granted at or before ``at`` (the reading's
    time, UTC) is still in force (see the module doc)."""
    consent = active_consent(session, member_id)
    return consent is not None and consent.granted_at <= at


def member_by_pseudonym(session: Session, complex_id: int, pseudonym: str) -> Member | None:
    """The member enrolled at the complex under ``pseudonym``, if any."""
    return session.scalar(
        select(Member).where(Member.complex_id == complex_id, Member.pseudonym == pseudonym)
    )
