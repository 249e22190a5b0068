"""From which week (month, year) a space's quota is judged: the weekly opening quotas
(culture >= 28 h, health >= 5 days a week), the monthly lecture of elderly care and the
maintenance quota of fitness (docs/metrics.md, docs/compliance.md "quotas are judged from
their first full period").

A space is judged from its **start**: the earlier of its registration (``spaces.created_at``,
local date) and its first recorded use (the first stored day with door counts or actual
opening; data may predate registration when history is replayed or backfilled). The first
judged week is the ISO week of the start when the space had no published opening in it
before that day, else the next week: a week the space was only partly known in proves
nothing; months and years the same way. After the start every ended unit counts, a
unit without any data as 0: a silent door counter must not hide a closed room.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from facility_server.models import Space
from facility_server.opening import Schedule, local_intervals
from facility_server.utilisation.load import SpaceRef
from facility_server.utilisation.models import UtilisationDay
from facility_server.utilisation.periods import unit_after, unit_start

_BATCH = 500


def first_judged_unit(schedule: Schedule, start: date, unit: str) -> date:
    """First day of the first ``week``/``month``/``year`` judged for a space (or rule) that
    started on local day ``start``: the unit of ``start`` when ``schedule`` published no
    opening on its days before ``start``, else the next unit."""
    first = unit_start(start, unit)
    day = first
    while day < start:
        if local_intervals(schedule, day):
            return unit_after(first, unit)
        day += timedelta(days=1)
    return first


def first_judged_week(schedule: Schedule, start: date) -> date:
    """Monday of the first ISO week judged for a space that started on local day
    ``start``: that week when ``schedule`` published no opening on its days before
    ``start``, else the next week."""
    return first_judged_unit(schedule, start, "week")


def space_starts(session: Session, spaces: Mapping[int, SpaceRef], after: date) -> dict[int, date]:
    """Space id -> start (local date, see the module docstring) of the ``spaces`` that
    started after local day ``after`` (those that started before are judged throughout).

    Reads ``spaces.created_at``, then the first day with use only of the spaces registered
    after ``after`` (a use before their registration moves their start back).
    """
    ids = list(spaces)
    registered: dict[int, date] = {}
    for i in range(0, len(ids), _BATCH):
        rows = session.execute(
            select(Space.id, Space.created_at).where(Space.id.in_(ids[i : i + _BATCH]))
        )
        for sid, created in rows:
            day = created.astimezone(spaces[sid].tz).date()
            if day > after:
                registered[sid] = day
    late = list(registered)
    starts = dict(registered)
    for i in range(0, len(late), _BATCH):
        rows = session.execute(
            select(UtilisationDay.space_id, func.min(UtilisationDay.day))
            .where(
                UtilisationDay.space_id.in_(late[i : i + _BATCH]),
                or_(UtilisationDay.visits > 0, UtilisationDay.actual_open_min > 0),
            )
            .group_by(UtilisationDay.space_id)
        )
        for sid, first_use in rows:
            starts[sid] = min(starts[sid], first_use)
    return {sid: day for sid, day in starts.items() if day > after}
