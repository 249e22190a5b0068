"""The 4+5+X scorecard (issue 6) of a complex, and rolled up for a street or district."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from facility_server.api.common import IdPath
from facility_server.api.deps import CtxDep
from facility_server.api.routes.helpers import invalid, load_complex, not_found
from facility_server.api.scope import region_ancestry
from facility_server.models import Region
from facility_server.scorecard import region_scorecard, scorecard
from facility_server.utilisation.periods import (
    PERIOD_FORMS,
    Period,
    PeriodError,
    parse_report_period,
)

router = APIRouter(tags=["scorecard"])
PERIOD_PATTERN = r"^\d{4}(H[12]|-\d{2}|-W\d{2})?$"
PeriodQuery = Annotated[
    str,
    Query(
        pattern=PERIOD_PATTERN,
        max_length=8,
        description=f"{PERIOD_FORMS}.",
    ),
]


def period_or_422(text: str) -> Period:
    """The parsed period of a year in 2000..2099, or 422 naming the field and value."""
    try:
        return parse_report_period(text)
    except PeriodError as exc:
        raise invalid(("query", "period"), str(exc), text) from exc


@router.get("/complexes/{complex_id}/scorecard")
def complex_scorecard(ctx: CtxDep, complex_id: IdPath, period: PeriodQuery) -> dict[str, Any]:
    """Every measurable clause of the standard for one complex: value, target, status
    (pass, fail, pending, n/a, info), as of now or the period's end if earlier."""
    cx = load_complex(ctx, complex_id, "complex", "read")
    p = period_or_422(period)
    return scorecard(ctx.session, cx.site_id, p, now=_as_of(ctx, p, cx.timezone))


def _as_of(ctx: CtxDep, p: Period, zone: str) -> Any:
    from zoneinfo import ZoneInfo

    from facility_server.scorecard import as_of

    return as_of(p, ZoneInfo(zone), ctx.now)


@router.get("/regions/{region_id}/scorecard")
def region_scorecard_view(ctx: CtxDep, region_id: IdPath, period: PeriodQuery) -> dict[str, Any]:
    """The scorecards of every complex of a street or district and, per clause, how many
    pass, fail or are pending."""
    ctx.authorize("region", "read")
    region = ctx.session.get(Region, region_id)
    if region is None:
        raise not_found("region")
    ctx.authorize("region", "read", region_ancestry(ctx.session, region), f"region:{region_id}")
    if region.kind not in ("street", "district"):
        raise invalid(
            ("path", "region_id"), f"a {region.kind}: give a street or district", region_id
        )
    p = period_or_422(period)
    return region_scorecard(
        ctx.session, region.kind, region.path, p, now=_as_of(ctx, p, "Asia/Shanghai")
    )
