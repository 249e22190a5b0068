"""Load the engine's inputs from the database: rules, spaces with their schedules,
check-in terminals and accepted check-ins (plain Core selects: the tick reads tens of
thousands of rows). Parsed rules and weekly hours are cached by their stored JSON text.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Executable, Text, cast, select
from sqlalchemy.orm import Session

from facility_server.compliance.calendar import local_ms, period_of, to_ms
from facility_server.compliance.engine import AnyRule
from facility_server.compliance.rules import DailyRule, QuotaRule, parse_rule
from facility_server.compliance.views import SETTLE_MS, CheckInView, SpaceContext, Terminal
from facility_server.health.evaluate import MISSED_HEARTBEATS
from facility_server.models import CalendarException, CheckIn, Complex, Device, Space, TaskRule
from facility_server.opening import Interval, Schedule, parse_hhmm, parse_intervals, parse_weekly

logger = logging.getLogger(__name__)
_RULES: dict[str, tuple[AnyRule, str]] = {}
_WEEKLY: dict[str, dict[int, tuple[Interval, ...]]] = {}
_CACHE_MAX = 10_000
#: Heartbeat assumed for a terminal whose status gave none, s (as the health tick's default).
DEFAULT_HEARTBEAT_S = 60.0
DAY_MIN = 1440


class RuleInfo(NamedTuple):
    """A stored rule: ids, code, name, the parsed rule, its params digest and when it
    was created (UTC ms)."""

    id: int
    complex_id: int
    space_id: int
    code: str
    name: str
    rule: AnyRule
    version: str
    created_ms: int = 0


class SpaceInfo(NamedTuple):
    """A space and where it sits (for alerts, notifications and series tags)."""

    id: int
    code: str
    name: str
    type: str
    complex_id: int
    site_id: str
    complex_name: str
    tz: ZoneInfo
    street_id: int
    district_id: int


@dataclass
class Inputs:
    """The rules to evaluate, their spaces, and one engine context per space."""

    rules: list[RuleInfo]
    spaces: dict[int, SpaceInfo]
    contexts: dict[int, SpaceContext]


def clear_caches() -> None:
    """Forget the parsed rules and weekly hours (a new process starts without them)."""
    _RULES.clear()
    _WEEKLY.clear()


def _parse_rule(text: str) -> tuple[AnyRule, str]:
    found = _RULES.get(text)
    if found is None:
        if len(_RULES) >= _CACHE_MAX:
            _RULES.clear()
        version = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
        found = _RULES[text] = (parse_rule(json.loads(text)), version)
    return found


def _weekly(text: str) -> dict[int, tuple[Interval, ...]]:
    found = _WEEKLY.get(text)
    if found is None:
        if len(_WEEKLY) >= _CACHE_MAX:
            _WEEKLY.clear()
        found = _WEEKLY[text] = parse_weekly(json.loads(text))
    return found


def plain_rows(session: Session, stmt: Executable) -> list[Any]:
    """All rows of ``stmt`` as the driver's plain tuples: SQLAlchemy compiles and binds,
    but builds no Row objects and runs no result processors (that takes longer than
    SQLite's own work on the tick's 150,000-row reads). Only for columns whose driver
    values are what the caller wants as they are: integers, text."""
    result = session.connection().execute(stmt)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def _utc_ms(value: datetime | str) -> int:
    """UTC ms of a timestamp column as the driver returns it: tz-aware (PostgreSQL) or
    SQLite's text of the UTC time (what :class:`~facility_server.models.base.UTCDateTime`
    stores)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value).replace(tzinfo=UTC)
    return to_ms(value)


def load_rules(
    session: Session, *, space_ids: Iterable[int] | None = None
) -> tuple[list[RuleInfo], dict[int, SpaceInfo], dict[int, dict[int, tuple[Interval, ...]]]]:
    """Enabled rules (optionally of some spaces), their spaces and weekly hours; a stored
    rule that no longer validates is logged and left out."""
    stmt = (
        select(
            TaskRule.id,
            TaskRule.complex_id,
            TaskRule.space_id,
            TaskRule.code,
            TaskRule.name,
            cast(TaskRule.params, Text),
            TaskRule.created_at,
        )
        .where(TaskRule.enabled)
        .order_by(TaskRule.id)
    )
    space_filter = None if space_ids is None else list(space_ids)
    if space_filter is not None:
        stmt = stmt.where(TaskRule.space_id.in_(space_filter))
    rules = []
    created_ms: dict[datetime | str, int] = {}  # rules imported together: one creation time
    for rid, cid, sid, code, name, params, created in plain_rows(session, stmt):
        try:
            rule, version = _parse_rule(params)
        except ValueError as exc:  # stored before a check was added: skip it, say which
            logger.error("compliance: rule %s (id %d) of space %d skipped: %s", code, rid, sid, exc)
            continue
        ms = created_ms.get(created)
        if ms is None:
            ms = created_ms[created] = _utc_ms(created)
        rules.append(RuleInfo(rid, cid, sid, code, name, rule, version, ms))
    wanted = {r.space_id for r in rules}
    spaces, weekly = _load_spaces(session, wanted if space_filter is not None else None)
    return [r for r in rules if r.space_id in spaces], spaces, weekly


def _load_spaces(
    session: Session, space_ids: set[int] | None
) -> tuple[dict[int, SpaceInfo], dict[int, dict[int, tuple[Interval, ...]]]]:
    stmt = select(
        Space.id,
        Space.code,
        Space.name,
        Space.type,
        cast(Space.weekly_hours, Text),
        Complex.id,
        Complex.site_id,
        Complex.name,
        Complex.timezone,
        Complex.street_id,
        Complex.district_id,
    ).join(Complex, Complex.id == Space.complex_id)
    if space_ids is not None:
        stmt = stmt.where(Space.id.in_(space_ids))
    else:
        stmt = stmt.where(Space.id.in_(select(TaskRule.space_id).where(TaskRule.enabled)))
    spaces, weekly = {}, {}
    rows = plain_rows(session, stmt)
    for sid, code, name, type_, hours, cid, site, cname, tz, street, district in rows:
        spaces[sid] = SpaceInfo(
            sid, code, name, type_, cid, site, cname, ZoneInfo(tz), street, district
        )
        weekly[sid] = _weekly(hours)
    return spaces, weekly


def load_contexts(
    session: Session,
    spaces: dict[int, SpaceInfo],
    weekly: dict[int, dict[int, tuple[Interval, ...]]],
    since_ms: dict[str, int],
    now_ms: int,
    *,
    settle_ms: int = SETTLE_MS,
    whole_city: bool = False,
    received_by_ms: int | None = None,
) -> dict[int, SpaceContext]:
    """One engine context per space at ``now_ms``: schedule, terminals and the accepted
    check-ins of each task from ``since_ms[task]`` (UTC ms) on.

    ``whole_city`` skips the id filters (the tick reads every space with rules);
    ``received_by_ms`` keeps only check-ins the server had received by then (a board as
    it was at a past instant).
    """
    complex_ids = {s.complex_id for s in spaces.values()}
    schedules = _schedules(session, spaces, weekly, None if whole_city else complex_ids)
    terminals = _terminals(session, None if whole_city else complex_ids, now_ms)
    checkins = _checkins(session, None if whole_city else list(spaces), since_ms, received_by_ms)
    day_caches: dict[int, dict[date, Any]] = {}  # per shared Schedule object
    return {
        sid: SpaceContext.grouped(
            schedules[sid],
            checkins.get(sid, {}),
            terminals.get((s.complex_id, sid), []) + terminals.get((s.complex_id, None), []),
            settle_ms,
            day_caches.setdefault(id(schedules[sid]), {}),
        )
        for sid, s in spaces.items()
    }


def _schedules(
    session: Session,
    spaces: dict[int, SpaceInfo],
    weekly: dict[int, dict[int, tuple[Interval, ...]]],
    complex_ids: set[int] | None,
) -> dict[int, Schedule]:
    policy_stmt = select(Complex.id, Complex.public_holidays, Complex.makeup_workdays)
    exc_stmt = select(
        CalendarException.complex_id,
        CalendarException.space_id,
        CalendarException.day,
        CalendarException.closed,
        CalendarException.hours,
    )
    if complex_ids is not None:
        policy_stmt = policy_stmt.where(Complex.id.in_(complex_ids))
        exc_stmt = exc_stmt.where(CalendarException.complex_id.in_(complex_ids))
    policy = {cid: (ph, mw) for cid, ph, mw in session.execute(policy_stmt)}
    shared: dict[int, dict[date, tuple[Interval, ...]]] = defaultdict(dict)
    own: dict[int, dict[date, tuple[Interval, ...]]] = defaultdict(dict)
    for cid, sid, day, closed, hours in session.execute(exc_stmt):
        ivs = () if closed else parse_intervals(hours)
        (shared[cid] if sid is None else own[sid])[day] = ivs
    out: dict[int, Schedule] = {}
    alike: dict[tuple[Any, ...], Schedule] = {}  # one object for spaces with equal inputs
    for sid, s in spaces.items():
        holidays, makeup = policy[s.complex_id]
        mine, theirs = own.get(sid, {}), shared.get(s.complex_id, {})
        # the weekly dicts come from the parse cache: equal text, same object
        key = (id(weekly[sid]), s.tz, holidays, makeup, id(mine or None), id(theirs or None))
        found = alike.get(key)
        if found is None:
            found = alike[key] = Schedule(
                tz=s.tz,
                weekly=weekly[sid],
                space_exceptions=mine,
                complex_exceptions=theirs,
                public_holidays="regular" if holidays == "regular" else "closed",
                makeup_workdays=makeup,
            )
        out[sid] = found
    return out


def _terminals(
    session: Session, complex_ids: set[int] | None, now_ms: int
) -> dict[tuple[int, int | None], list[Terminal]]:
    """Check-in terminals per (complex, space); None space = every space of the complex.

    Online means its last status said online within three heartbeats (as device health
    counts it, but from the status itself, so a terminal heard a moment ago counts even
    before the next health tick). Online since: when device health saw it come online,
    or its last status when health has not caught up yet; offline since: last heard.
    """
    stmt = select(
        Device.complex_id,
        Device.space_id,
        Device.code,
        Device.state,
        Device.last_seen,
        Device.heartbeat_s,
        Device.health,
        Device.health_since,
    ).where(Device.kind == "checkin_terminal")
    if complex_ids is not None:
        stmt = stmt.where(Device.complex_id.in_(complex_ids))
    out: dict[tuple[int, int | None], list[Terminal]] = defaultdict(list)
    for cid, sid, code, state, seen, hb, health, since in session.execute(stmt):
        seen_ms = None if seen is None else to_ms(seen)
        limit_ms = MISSED_HEARTBEATS * (hb or DEFAULT_HEARTBEAT_S) * 1000
        online = state == "online" and seen_ms is not None and now_ms - seen_ms <= limit_ms
        fresh = online and health == "online" and since is not None
        at = to_ms(since) if fresh else seen_ms
        out[(cid, sid)].append(Terminal(code, online, at))
    return out


def _checkins(
    session: Session,
    space_ids: list[int] | None,
    since_ms: dict[str, int],
    received_by_ms: int | None = None,
) -> dict[int, dict[str, list[CheckInView]]]:
    """Accepted check-ins per space and task, each list in (time, id) order: one query
    per task from its ``since_ms`` on, so an index on (task, ts_ms) or (space_id, task,
    ts_ms) bounds each read."""
    out: dict[int, dict[str, list[CheckInView]]] = defaultdict(dict)
    for task, lo in sorted(since_ms.items()):
        # plain rows serve as CheckInView as they come: (id, ts_ms, received_ms,
        # checkpoint, task) by position, and the space last
        stmt = select(
            CheckIn.id,
            CheckIn.ts_ms,
            CheckIn.received_ms,
            CheckIn.checkpoint_code.label("checkpoint"),
            CheckIn.task,
            CheckIn.space_id,
        ).where(CheckIn.task == task, CheckIn.ts_ms >= lo, CheckIn.accepted)
        if space_ids is not None:  # index (space_id, task, ts_ms), else (task, ts_ms)
            stmt = stmt.where(CheckIn.space_id.in_(space_ids))
        if received_by_ms is not None:
            stmt = stmt.where(CheckIn.received_ms <= received_by_ms)
        stmt = stmt.order_by(CheckIn.ts_ms, CheckIn.id)  # the index's order: no sort
        per_space: dict[int, list[CheckInView]] = defaultdict(list)
        for row in plain_rows(session, stmt):
            per_space[row[5]].append(row)
        for sid, items in per_space.items():
            out[sid][task] = items
    return out


def since_for(
    rules: Iterable[RuleInfo],
    spaces: dict[int, SpaceInfo],
    days_for: Callable[[RuleInfo], list[date]],
) -> dict[str, int]:
    """Per task, the earliest check-in time (UTC ms) any rule's days may need: a daily
    window's start (a day earlier with an "opening" deadline, which may move it back), the
    first day's midnight for patrols (rounds start at openings), the period's start for
    quotas."""
    out: dict[str, int] = {}
    done: set[tuple[str, ZoneInfo, date]] = set()  # rules alike give the same answer
    for info in rules:
        days = days_for(info)
        if not days:
            continue
        first = min(days)
        tz = spaces[info.space_id].tz
        if (info.version, tz, first) in done:
            continue
        done.add((info.version, tz, first))
        rule = info.rule
        if isinstance(rule, QuotaRule):
            lo = local_ms(tz, period_of(rule.period, first)[0], 0)
        elif isinstance(rule, DailyRule):
            back = DAY_MIN if rule.deadline == "opening" else 0  # start may move a day back
            lo = local_ms(tz, first, parse_hhmm(rule.start) - back)
        else:
            lo = local_ms(tz, first, 0)
        task = info.rule.task
        out[task] = min(out.get(task, lo), lo)
    return out


def params_text(params: dict[str, Any]) -> str:
    """Canonical JSON text of rule params (what the cache keys on)."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"))
