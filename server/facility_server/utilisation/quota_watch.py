"""Weekly opening quotas during the week: warn as soon as a quota can no longer be met.

For every space whose type has a quota (culture >= 28 h a week, health >= 5 days a
week; :data:`facility_server.utilisation.actual.QUOTAS`), :func:`check_opening_quotas`
computes the current ISO week's outlook at ``now`` (local week of the complex's zone)
and opens one ``opening_quota`` alert per space and week through the one alert model
(:mod:`facility_server.alerts`, dedupe key ``opening_quota:{site}/{space}:{week}``)
when what was achieved so far plus what the published hours still offer falls short.
If the space later opens beyond its published hours and the quota becomes reachable
again, the alert is resolved (``quota_reachable``). The caller commits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.alerts import AlertStateError, dedupe_key, open_alert, resolve
from facility_server.compliance.calendar import local_ms
from facility_server.models import Alert, Space
from facility_server.utilisation.actual import (
    QUOTAS,
    DayOpening,
    Outlook,
    day_opening,
    week_outlook,
)
from facility_server.utilisation.load import (
    SpaceRef,
    load_crossings,
    load_marks,
    load_spaces,
    to_ms,
)
from facility_server.utilisation.occupancy import Crossing, open_ranges
from facility_server.utilisation.periods import week_start

logger = logging.getLogger(__name__)
ALERT_KIND = "opening_quota"


@dataclass(frozen=True, slots=True)
class WeekStatus:
    """A space's quota outlook in the week starting ``monday`` (its key ``2026-W23``)."""

    space: SpaceRef
    monday: date
    key: str
    outlook: Outlook


def week_days(
    space: SpaceRef,
    monday: date,
    crossings: Sequence[Crossing],
    marks: Sequence[tuple[int, str]],
    now_ms: int,
) -> list[tuple[DayOpening, list[tuple[int, int]]]]:
    """For each day of the week: its actual opening up to ``now_ms`` and its published
    opening ranges (UTC ms) (pure)."""
    tz = space.tz
    out = []
    for k in range(7):
        day = monday + timedelta(days=k)
        lo, hi = local_ms(tz, day, 0), local_ms(tz, day + timedelta(days=1), 0)
        scheduled = open_ranges(space.schedule, [day])
        opening = day_opening(
            day_range=(lo, hi),
            scheduled=scheduled,
            marks=[m for m in marks if lo <= m[0] < min(hi, now_ms)],
            crossings=[
                c.ts_ms
                for c in crossings
                if lo <= c.ts_ms < min(hi, now_ms) and (c.people_in or c.people_out)
            ],
            now_ms=now_ms,
        )
        out.append((opening, scheduled))
    return out


def outlooks(
    session: Session, now: datetime, *, complex_ids: Iterable[int] | None = None
) -> list[WeekStatus]:
    """This week's outlook of every space with a weekly quota (all complexes by default).

    Raises:
        ValueError: when ``now`` is naive.
    """
    now_ms = to_ms(now)
    ids = select(Space.id).where(Space.type.in_(list(QUOTAS)))
    if complex_ids is not None:
        ids = ids.where(Space.complex_id.in_(list(complex_ids)))
    spaces = load_spaces(session, space_ids=list(session.scalars(ids)))
    if not spaces:
        return []
    mondays = {sid: week_start(now.astimezone(s.tz).date()) for sid, s in spaces.items()}
    lo = min(local_ms(s.tz, mondays[sid], 0) for sid, s in spaces.items())
    crossings = load_crossings(session, spaces, lo, now_ms)
    marks = load_marks(session, spaces, lo, now_ms)
    out = []
    for sid, space in spaces.items():
        monday = mondays[sid]
        days = week_days(space, monday, crossings.get(sid, []), marks.get(sid, []), now_ms)
        year, week, _ = monday.isocalendar()
        status = WeekStatus(
            space, monday, f"{year}-W{week:02d}", week_outlook(QUOTAS[space.type], days, now_ms)
        )
        out.append(status)
    return out


def _wish(status: WeekStatus) -> dict[str, Any]:
    s, o = status.space, status.outlook
    unit = "h" if o.kind == "hours" else "days"
    title = (
        f"{s.site_id}: {s.code} cannot reach {o.target:g} {unit} open in {status.key} "
        f"({o.achieved:.1f} so far + {o.possible_rest:.1f} left in its published hours)"
    )
    return {
        "kind": ALERT_KIND,
        "subject": f"{s.site_id}/{s.code}",
        "occurrence": status.key,
        "title": title[:300],
        "complex_id": s.complex_id,
        "detail": {
            "space_id": s.id,
            "space": s.code,
            "space_name": s.name,
            "space_type": s.type,
            "week": status.key,
            "quota": f"{o.kind} >= {o.target:g}",
            "clause": QUOTAS[s.type].clause,
            "achieved": round(o.achieved, 2),
            "possible_rest": round(o.possible_rest, 2),
            "timezone": str(s.tz),
        },
    }


def check_opening_quotas(
    session: Session, now: datetime, *, complex_ids: Iterable[int] | None = None
) -> dict[str, list[Alert]]:
    """Open (or resolve) ``opening_quota`` alerts for this week at ``now``.

    Returns:
        ``{"opened": [...], "resolved": [...]}``: alerts this call created or resolved.
    """
    opened, resolved = [], []
    for status in outlooks(session, now, complex_ids=complex_ids):
        wish = _wish(status)
        if not status.outlook.reachable:
            alert, created = open_alert(session, now=now, **wish)
            if created:
                logger.info("opening quota alert: %s", alert.dedupe_key)
                opened.append(alert)
            continue
        key = dedupe_key(ALERT_KIND, wish["subject"], wish["occurrence"])
        alert = session.scalar(select(Alert).where(Alert.dedupe_key == key))
        if alert is not None and alert.state != "resolved":
            try:
                resolve(alert, "quota_reachable", now, "opened beyond the published hours")
            except AlertStateError:  # pragma: no cover - filtered above
                continue
            resolved.append(alert)
    session.flush()
    return {"opened": opened, "resolved": resolved}
