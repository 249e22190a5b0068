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
from sqlalchemy import func, select
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

    def __init__(
        self, message: str, *, field: str = "", value: object = None, **extra: object
    ) -> None:
        super().__init__(message)
        self.field, self.value = field, value
        self.extra = extra  # more to tell the caller (ids only), e.g. ``member_id``


class VitalsConflict(VitalsError):
    """A state the rules do not allow now (a consent in force already, a consent withdrawn
    already): the API answers 409; other :class:`VitalsError` s are bad input (422)."""


def require_text(value: str, field: str) -> str:
    """``value`` stripped.

    Raises:
        VitalsError: it is empty or blank (field ``field``; the value is shown).
    """
    if not value.strip():
        raise VitalsError(f"{field} is empty", field=field, value=value)
    return value.strip()


class MemberExists(VitalsConflict):
    """The pseudonym is already enrolled at the complex (``member_id`` names the member)."""

    def __init__(self, member_id: int) -> None:
        super().__init__(
            f"pseudonym already enrolled as member {member_id}",
            field="pseudonym",
            member_id=member_id,
        )
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
            is not shown), ``display_name`` or ``by`` is empty (field ``display_name``,
            ``by``).
        MemberExists: the pseudonym is enrolled already.
    """
    if not re.fullmatch(PSEUDONYM_PATTERN, pseudonym):
        raise VitalsError("pseudonym is not m1- and 32 lowercase hex digits", field="pseudonym")
    require_text(display_name, "display_name")
    by = require_text(by, "by")
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
        VitalsError: unknown purpose (field ``purpose``); empty ``evidence`` or ``by``
            (field ``evidence``, ``by``); ``granted_at`` naive, after ``now``, or before
            the member's latest withdrawal of a consent to the purpose (a new consent
            cannot cover readings taken while consent was withdrawn; field
            ``granted_at``).
        VitalsConflict: a consent to the purpose is in force (field ``purpose``).
    """
    if purpose not in CONSENT_PURPOSES:
        raise VitalsError(f"unknown consent purpose {purpose!r}", field="purpose", value=purpose)
    evidence, by = require_text(evidence, "evidence"), require_text(by, "by")
    if granted_at.tzinfo is None or granted_at > now:
        raise VitalsError(
            "granted_at must be an aware instant not after now",
            field="granted_at",
            value=granted_at.isoformat(),
        )
    if active_consent(session, member.id, purpose) is not None:
        raise VitalsConflict(
            "a consent to this purpose is in force", field="purpose", value=purpose
        )
    withdrawn = latest_withdrawal(session, member.id, purpose)
    if withdrawn is not None and granted_at < withdrawn:
        raise VitalsError(
            f"granted_at is before the member's latest withdrawal ({withdrawn.isoformat()})",
            field="granted_at",
            value=granted_at.isoformat(),
        )
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


def latest_withdrawal(
    session: Session, member_id: int, purpose: str = MONITORING
) -> datetime | None:
    """When the member last withdrew a consent to ``purpose`` (UTC), if ever."""
    return session.scalar(
        select(func.max(Consent.withdrawn_at)).where(
            Consent.member_id == member_id, Consent.purpose == purpose
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
