"""Utilisation (issue 6): per complex over a range, per space per grain, and this week's
opening against the quota. Read-only: figures come from the stored aggregates that the
utilisation job keeps (:mod:`facility_server.utilisation.refresh`). Definitions:
docs/metrics.md."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from facility_server.api.common import IdPath
from facility_server.api.deps import CtxDep
from facility_server.api.routes.helpers import invalid, load_child, load_complex
from facility_server.domain import Day
from facility_server.models import Space
from facility_server.utilisation.actual import QUOTAS
from facility_server.utilisation.load import load_spaces
from facility_server.utilisation.periods import Grain
from facility_server.utilisation.quota_watch import outlooks
from facility_server.utilisation.summary import space_periods, utilisation_summary

router = APIRouter(tags=["utilisation"])
MAX_DAYS = {"hour": 31, "day": 400, "week": 400, "month": 800, "half": 1200, "year": 1200}

Start = Annotated[Day, Query(description="First local date (inclusive).")]
End = Annotated[Day, Query(description="Last local date (exclusive).")]


def _check_range(start: date, end: date, grain: str = "day") -> None:
    if end <= start:
        raise invalid(("query", "end"), f"end must be after start ({start})", end.isoformat())
    if (end - start).days > MAX_DAYS[grain]:
        raise invalid(
            ("query", "end"),
            f"at most {MAX_DAYS[grain]} days after start ({start}) for grain {grain}",
            end.isoformat(),
        )


@router.get("/complexes/{complex_id}/utilisation")
def complex_utilisation(ctx: CtxDep, complex_id: IdPath, start: Start, end: End) -> dict[str, Any]:
    """Utilisation per space of a complex over local days ``[start, end)``: visits, peak
    occupancy, open / occupied / actually open hours, utilisation and occupancy rates,
    drift and clamped anomalies, per day and per week against the opening quotas."""
    cx = load_complex(ctx, complex_id, "space", "read")
    _check_range(start, end)
    return utilisation_summary(ctx.session, cx.site_id, start, end, refresh=False)


@router.get("/spaces/{space_id}/utilisation")
def space_utilisation(
    ctx: CtxDep,
    space_id: IdPath,
    start: Start,
    end: End,
    grain: Annotated[Grain, Query(description="hour, day, week, month, half or year.")] = "day",
) -> dict[str, Any]:
    """One space's figures per hour, day, week, month, half year or year."""
    space = load_child(ctx, Space, space_id, "space", "read")
    _check_range(start, end, grain)
    ref = load_spaces(ctx.session, space_ids=[space.id])[space.id]
    return {
        "space": space.code,
        "type": space.type,
        "capacity": space.capacity,
        "grain": grain,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "periods": space_periods(ctx.session, ref, start, end, grain),
    }


@router.get("/spaces/{space_id}/opening-quota")
def space_opening_quota(ctx: CtxDep, space_id: IdPath) -> dict[str, Any]:
    """This week's actual opening of a culture room (>= 28 h) or health station (>= 5
    days) against its quota, and whether it can still be met (local ISO week, now)."""
    space = load_child(ctx, Space, space_id, "space", "read")
    if space.type not in QUOTAS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this space type has no opening quota")
    found = [
        s
        for s in outlooks(ctx.session, ctx.now, complex_ids=[space.complex_id])
        if s.space.id == space.id
    ]
    status_ = found[0]
    o = status_.outlook
    return {
        "space": space.code,
        "type": space.type,
        "week": status_.key,
        "week_start": status_.monday.isoformat(),
        "week_end": (status_.monday + timedelta(days=7)).isoformat(),
        "quota": {"kind": o.kind, "target": o.target, "clause": QUOTAS[space.type].clause},
        "achieved": round(o.achieved, 2),
        "possible_rest": round(o.possible_rest, 2),
        "met": o.met,
        "reachable": o.reachable,
    }
