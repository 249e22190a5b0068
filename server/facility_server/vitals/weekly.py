"""Members with repeated readings outside the reference range in one ISO week.

A member is listed when, in the ISO week (local dates of the complex's zone, Monday to
Sunday), at least :data:`MIN_OCCASIONS` of their measuring sessions had a reading
outside the reference range of :data:`facility_contracts.vitals.QUANTITIES` (high or
low, crisis included). Occasions, not readings: one blood-pressure measurement with both
systolic and diastolic high is one occasion, not a repetition. Only kept readings count
(members with consent). Clinician only, and every read is audited with its purpose.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from facility_contracts.vitals import is_outside_reference
from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.models import Complex, Member, Reading
from facility_server.vitals.consent import VitalsError

MIN_OCCASIONS = 2
WEEK_PATTERN = r"^\d{4}-W\d{2}$"


@dataclass(frozen=True, slots=True)
class Row:
    """One kept reading as the weekly list needs it."""

    member_id: int
    session_id: int
    type: str
    flag: str
    ts: datetime


def week_bounds(week: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local Monday 00:00 and next Monday 00:00 of ISO week ``YYYY-Www`` (aware).

    Raises:
        VitalsError: not ``YYYY-Www`` or no such week (field ``week``).
    """
    if not re.match(WEEK_PATTERN, week):
        raise VitalsError("week is not YYYY-Www", field="week", value=week)
    try:
        monday = date.fromisocalendar(int(week[:4]), int(week[6:]), 1)
    except ValueError as exc:
        raise VitalsError(f"no such ISO week: {exc}", field="week", value=week) from exc
    start = datetime(monday.year, monday.month, monday.day, tzinfo=tz)
    return start, start + timedelta(days=7)


def repeated(rows: list[Row], min_occasions: int = MIN_OCCASIONS) -> list[dict[str, Any]]:
    """Pure: per member, the occasions and readings outside the reference range; those
    with at least ``min_occasions`` occasions, most occasions first."""
    sessions: dict[int, set[int]] = defaultdict(set)
    types: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    last: dict[int, datetime] = {}
    for r in rows:
        if not is_outside_reference(r.flag):  # type: ignore[arg-type]
            continue
        sessions[r.member_id].add(r.session_id)
        types[r.member_id][r.type] += 1
        last[r.member_id] = max(last.get(r.member_id, r.ts), r.ts)
    out = [
        {
            "member_id": m,
            "occasions": len(s),
            "readings": sum(types[m].values()),
            "types": dict(sorted(types[m].items())),
            "last": last[m],
        }
        for m, s in sessions.items()
        if len(s) >= min_occasions
    ]
    return sorted(out, key=lambda x: (-x["occasions"], x["member_id"]))


def weekly_list(session: Session, cx: Complex, week: str) -> dict[str, Any]:
    """The list for complex ``cx`` and ISO week ``week``; members carry id and name.

    Raises:
        VitalsError: a bad ``week`` (see :func:`week_bounds`).
    """
    start, end = week_bounds(week, ZoneInfo(cx.timezone))
    rows = [
        Row(*r)
        for r in session.execute(
            select(Reading.member_id, Reading.session_id, Reading.type, Reading.flag, Reading.ts)
            .where(Reading.complex_id == cx.id, Reading.ts >= start, Reading.ts < end)
            .order_by(Reading.ts)
        ).all()
    ]
    items = repeated(rows)
    names = dict(
        session.execute(
            select(Member.id, Member.display_name).where(
                Member.id.in_([i["member_id"] for i in items])
            )
        ).all()
    )
    for item in items:
        item["display_name"] = names.get(item["member_id"], "")
    return {"complex": cx.site_id, "week": week, "min_occasions": MIN_OCCASIONS, "members": items}
