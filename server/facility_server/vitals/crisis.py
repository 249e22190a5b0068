"""Crisis follow-up: a reading in a crisis range opens one ``vital_crisis`` alert.

The alert goes through the one alert lifecycle (:mod:`facility_server.alerts`), deduped
per event (subject ``{site}/{kiosk}/{event id}``, occurrence the reading's UTC instant),
severity ``critical``, escalating after :data:`ESCALATE_AFTER_S` unacknowledged. Its
notifications go to the contacts with topic ``health`` (the clinician on duty: the
health station's duty group or phone; street and district ``health`` contacts on
escalation), see :func:`facility_server.notify.outbox.topic_of`.

Title, detail and notification text name the kiosk, the space and the local time, never
a value, a member's name or pseudonym (chat groups read them, and every role that reads
alerts sees them; PIPL art. 28). The clinician sees values and the member through
``GET /api/v1/vitals/crises/{id}`` (audited with a purpose). A crisis of a member without
consent is alerted too, unidentified: the kiosk's place and time let the clinician find
the person at once (PIPL art. 13 (4): protecting life and health in an emergency). Whether
the member is identified is not in the alert (every role that reads alerts would learn
whether the person consented): :func:`identified` reads it from the session, for the
clinician's notification and API only.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.alerts import open_alert
from facility_server.models import Alert, Complex, KioskSession
from facility_server.notify.message import CRISES_ROUTE

KIND = "vital_crisis"
#: Where the clinician reads, acknowledges and resolves crisis alerts (not ``/alerts``).
API_ROUTE = CRISES_ROUTE
#: Seconds a crisis alert may wait for acknowledgement before it goes up one level.
ESCALATE_AFTER_S = 600.0


def crisis_title(kiosk: str, space_name: str, space_code: str, local: datetime) -> str:
    """The alert's title: kiosk, space, local time (zone named). No value, no member."""
    return (
        f"Health kiosk {kiosk}: reading in a crisis range at {space_name or space_code} "
        f"({space_code}), {local:%Y-%m-%d %H:%M} {local.tzinfo}"
    )


def open_crisis(
    session: Session,
    cx: Complex,
    *,
    event_id: str,
    kiosk: str,
    space_code: str,
    space_name: str,
    ts: datetime,
    now: datetime,
) -> Alert:
    """Open (or find) the crisis alert of one session; ``ts`` is the reading's UTC time.
    The alert holds nothing about the member (see the module doc)."""
    local = ts.astimezone(ZoneInfo(cx.timezone))
    alert, created = open_alert(
        session,
        kind=KIND,
        subject=f"{cx.site_id}/{kiosk}/{event_id}",
        occurrence=ts.isoformat(),
        title=crisis_title(kiosk, space_name, space_code, local),
        now=now,
        complex_id=cx.id,
        severity="critical",
        detail={
            "kiosk": kiosk,
            "space": space_code,
            "space_name": space_name,
            "at": local.isoformat(timespec="minutes"),
            "timezone": cx.timezone,
        },
    )
    if created:
        alert.escalate_after_s = ESCALATE_AFTER_S
        session.flush()
    return alert


def identified(session: Session, alert_id: int) -> bool:
    """True when the crisis alert's session is linked to a member (consent at the reading
    time, not withdrawn or erased since, not purged): the clinician API names them."""
    member_id = session.scalar(
        select(KioskSession.member_id).where(KioskSession.alert_id == alert_id)
    )
    return member_id is not None
