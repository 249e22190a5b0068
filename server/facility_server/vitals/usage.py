"""Usage numbers of the health kiosks for managers, inspectors and the demo: counts only.

Nothing here holds a value or a member: sessions, member-hours (distinct members per
local hour, summed), consented and crisis sessions per space; readings, evaluated
readings and readings outside the reference range per type; readings refused (by the
edge or the server) per kiosk and reason; crisis alerts opened in the range by state.
Days are local dates of the complex's zone (Asia/Shanghai).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facility_server.compliance.calendar import local_ms, to_datetime
from facility_server.models import Alert, Complex, DeviceNotice, ReadingHour, UsageHour
from facility_server.vitals.consent import VitalsError
from facility_server.vitals.crisis import KIND
from facility_server.vitals.ingest import REJECTED

_REASON = re.compile(r"(?:^|\s)reason=([a-z_]+)")
#: Output names of the hourly usage counters (``member_hours``: the ``members`` column,
#: distinct members of each hour, summed).
_SESSION_FIELDS = {
    "sessions": "sessions",
    "member_hours": "members",
    "consented": "consented",
    "crisis": "crisis",
}
#: The longest range :func:`usage_summary` answers, in days.
MAX_DAYS = 400


def check_range(first: date, end: date) -> None:
    """Accept local days ``[first, end)`` of 1 to :data:`MAX_DAYS` days.

    Raises:
        VitalsError: ``end`` not after ``first`` or too far after it (field ``end``).
    """
    if end <= first or (end - first).days > MAX_DAYS:
        raise VitalsError(
            f"end must be 1..{MAX_DAYS} days after start ({first.isoformat()})",
            field="end",
            value=end.isoformat(),
        )


def pct(part: int, whole: int) -> float | None:
    """``part / whole * 100`` rounded to 0.1, or None when ``whole`` is 0."""
    return None if whole == 0 else round(part * 100 / whole, 1)


def rejection_reason(detail: str) -> str:
    """The reason of a ``reading_rejected`` notice, whose detail is ``reason=R field=F``
    (the edge's :func:`facility_edge.kiosk` format, and the server's own): ``R``, else
    ``other``."""
    m = _REASON.search(detail)
    return m.group(1) if m else "other"


def _sessions(session: Session, cx_id: int, lo: int, hi: int) -> dict[str, dict[str, int]]:
    rows = session.execute(
        select(UsageHour).where(
            UsageHour.complex_id == cx_id, UsageHour.start_ms >= lo, UsageHour.start_ms < hi
        )
    ).scalars()
    out: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_SESSION_FIELDS, 0))
    for r in rows:
        for name, column in _SESSION_FIELDS.items():
            out[r.space_code][name] += getattr(r, column)
    return dict(out)


def _readings(session: Session, cx_id: int, lo: int, hi: int) -> dict[str, dict[str, Any]]:
    rows = session.execute(
        select(
            ReadingHour.reading_type,
            func.sum(ReadingHour.readings),
            func.sum(ReadingHour.evaluated),
            func.sum(ReadingHour.outside_reference),
        )
        .where(
            ReadingHour.complex_id == cx_id,
            ReadingHour.start_ms >= lo,
            ReadingHour.start_ms < hi,
        )
        .group_by(ReadingHour.reading_type)
    ).all()
    return {
        t: {
            "readings": int(n),
            "evaluated": int(ev),
            "outside_reference": int(out),
            "outside_reference_pct": pct(int(out), int(ev)),
        }
        for t, n, ev, out in sorted(rows)
    }


def _rejections(session: Session, cx_id: int, lo: int, hi: int) -> dict[str, dict[str, int]]:
    rows = session.execute(
        select(DeviceNotice.device_code, DeviceNotice.detail).where(
            DeviceNotice.complex_id == cx_id,
            DeviceNotice.code == REJECTED,
            DeviceNotice.ts >= to_datetime(lo),
            DeviceNotice.ts < to_datetime(hi),
        )
    ).all()
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for kiosk, detail in rows:
        out[kiosk][rejection_reason(detail)] += 1
    return {k: dict(sorted(v.items())) for k, v in sorted(out.items())}


def crisis_alerts(
    session: Session, complex_ids: list[int], lo: int | None = None, hi: int | None = None
) -> dict[str, int]:
    """Crisis alerts of the complexes by state now (``open``, ``acknowledged``,
    ``resolved``); with ``lo``/``hi`` (UTC epoch ms) only those opened in ``[lo, hi)``."""
    stmt = select(Alert.state, func.count()).where(
        Alert.kind == KIND, Alert.complex_id.in_(complex_ids)
    )
    if lo is not None and hi is not None:
        stmt = stmt.where(Alert.opened_at >= to_datetime(lo), Alert.opened_at < to_datetime(hi))
    rows = session.execute(stmt.group_by(Alert.state)).all()
    return {"open": 0, "acknowledged": 0, "resolved": 0} | {s: int(n) for s, n in rows}


def usage_summary(session: Session, cx: Complex, first: date, end: date) -> dict[str, Any]:
    """Kiosk usage of complex ``cx`` over local days ``[first, end)``.

    Returns:
        ``{"complex", "from", "to", "timezone", "spaces": {space: {sessions,
        member_hours, consented, crisis}}, "totals": {...}, "readings": {type: {readings,
        evaluated, outside_reference, outside_reference_pct (%, None when nothing
        evaluated)}}, "rejected": {kiosk: {reason: n}}, "crisis_alerts": {state: n}}``
        (crisis alerts opened in the range, by their state now). ``member_hours`` sums
        the distinct members of each hour (one member in two hours counts twice).

    Raises:
        VitalsError: a bad range (:func:`check_range`).
    """
    check_range(first, end)
    tz = ZoneInfo(cx.timezone)
    lo, hi = local_ms(tz, first, 0), local_ms(tz, end, 0)
    spaces = _sessions(session, cx.id, lo, hi)
    totals = {name: sum(s[name] for s in spaces.values()) for name in _SESSION_FIELDS}
    return {
        "complex": cx.site_id,
        "from": first.isoformat(),
        "to": end.isoformat(),
        "timezone": cx.timezone,
        "spaces": dict(sorted(spaces.items())),
        "totals": totals,
        "readings": _readings(session, cx.id, lo, hi),
        "rejected": _rejections(session, cx.id, lo, hi),
        "crisis_alerts": crisis_alerts(session, [cx.id], lo, hi),
    }
