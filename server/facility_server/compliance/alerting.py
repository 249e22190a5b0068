"""Task alerts: one ``task_missed`` alert per (rule, space, occurrence), opened when an
occurrence becomes missed and resolved, with a note saying why, when it is done after
all (late, or on time but reported late because a terminal was offline) or excused.

The alert's dedupe key is ``task_missed:{site}/{space}/{rule}:{occurrence key}``, unique
in the database, so two server processes open it once. "The check-in terminal is
offline" is not a task alert: it is the device-health alert of :mod:`facility_server.health`
(its own kind, routed to the ``devices`` contacts), and meanwhile the occurrence is
``unknown``, never a false ``missed``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from facility_server.alerts import AlertStateError, open_alerts, resolve
from facility_server.compliance.calendar import to_datetime
from facility_server.compliance.load import RuleInfo, SpaceInfo
from facility_server.compliance.store import Change, current_states
from facility_server.models import Alert, CheckIn, Checkpoint, Staff, TaskOccurrence

logger = logging.getLogger(__name__)

ALERT_KIND = "task_missed"
TASK_ALERT_KINDS = (ALERT_KIND,)
DONE = frozenset({"on_time", "late", "excused"})


@lru_cache(maxsize=4096)
def local_text(ms: int, tz: ZoneInfo) -> str:
    """``2026-06-02 09:15`` in the site's zone (cached: alerts of one round or deadline
    across a city share their instants)."""
    return to_datetime(ms).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def subject(space: SpaceInfo, info: RuleInfo) -> str:
    """``site/space/rule``: what a task alert is about."""
    return f"{space.site_id}/{space.code}/{info.code}"


def _names(session: Session, changes: Sequence[Change]) -> dict[tuple[int, str], str]:
    """(complex id, staff or checkpoint code) -> name, of the responsible staff and the
    missing checkpoints of ``changes``."""
    complex_ids = {c.info.complex_id for c in changes}
    staff = {c.info.rule.responsible for c in changes if c.info.rule.responsible}
    checkpoints = {code for c in changes for code in c.occ.missing}
    out: dict[tuple[int, str], str] = {}
    for model, codes in ((Staff, staff), (Checkpoint, checkpoints)):
        if not codes:
            continue
        rows = session.connection().execute(
            select(model.complex_id, model.code, model.name).where(
                model.complex_id.in_(complex_ids), model.code.in_(sorted(codes))
            )
        )
        out.update({(c, code): name for c, code, name in rows})
    return out


def _wish(change: Change, space: SpaceInfo, names: dict[tuple[int, str], str]) -> dict[str, Any]:
    """The alert (for :func:`facility_server.alerts.open_alerts`) of a missed occurrence:
    title, severity (critical for children's spaces), escalation time and details."""
    info, w = change.info, change.occ.window
    rule = info.rule
    detail = _detail(change, space, names)
    title = f"{space.site_id}: {rule.task} ({info.name or info.code}) in {space.code} not done"
    title += f" by {detail['deadline']}"
    if detail["missing"]:
        codes = ", ".join(m["code"] for m in detail["missing"])
        title = f"{space.site_id}: {rule.task} round {w.key} in {space.code} missed {codes}"
    after = rule.escalate_after_min
    return {
        "kind": ALERT_KIND,
        "subject": subject(space, info),
        "occurrence": w.key,
        "title": title[:300],
        "complex_id": space.complex_id,
        "severity": "critical" if space.type in {"kids_play", "infant_care"} else "warning",
        "escalate_after_s": None if after is None else after * 60.0,
        "detail": detail,
    }


def _detail(change: Change, space: SpaceInfo, names: dict[tuple[int, str], str]) -> dict[str, Any]:
    """What a task alert records: rule, space, window (local text), progress, missing
    checkpoints and the responsible person, with names from the registry."""
    info, occ, w = change.info, change.occ, change.occ.window
    rule, tz, cid = info.rule, space.tz, space.complex_id
    who = rule.responsible
    return {
        "rule_id": info.id,
        "rule": info.code,
        "rule_name": info.name,
        "kind": rule.kind,
        "task": rule.task,
        "space_id": space.id,
        "space": space.code,
        "space_name": space.name,
        "complex_name": space.complex_name,
        "timezone": str(tz),
        "key": w.key,
        "start": local_text(w.start_ms, tz),
        "deadline": local_text(w.deadline_ms, tz),
        "alert_at": local_text(w.alert_ms, tz),
        "done": occ.done_count,
        "needed": occ.needed_count,
        "missing": [{"code": c, "name": names.get((cid, c), "")} for c in occ.missing],
        "responsible": {"code": who, "name": names.get((cid, who), "")} if who else None,
    }


def open_for(
    session: Session, changes: Sequence[Change], spaces: dict[int, SpaceInfo], now: datetime
) -> list[str]:
    """Open alerts for changes into ``missed`` that are still missed in the database
    (another process may have stored newer data in the meantime); return their keys."""
    candidates = [c for c in changes if c.occ.state == "missed" and c.before != "missed"]
    if not candidates:
        return []
    pairs = [(c.info.id, c.occ.key) for c in candidates]
    ids = current_states(session, pairs, {c.occ.window.day for c in candidates}, "missed")
    still = [c for c in candidates if (c.info.id, c.occ.key) in ids]
    if not still:
        return []
    names = _names(session, still)
    wishes = [_wish(c, spaces[c.info.space_id], names) for c in still]
    for w in wishes:
        w["detail"]["occurrence_id"] = ids[(w["detail"]["rule_id"], w["occurrence"])]
    keys = open_alerts(session, wishes, now)
    logger.info("compliance: %d task alert(s) due", len(keys))
    return keys


def resolve_for(
    session: Session, changes: Sequence[Change], spaces: dict[int, SpaceInfo], now: datetime
) -> list[Alert]:
    """Resolve the open alerts of occurrences that changed from missed/unknown to done."""
    done = [c for c in changes if c.occ.state in DONE and c.before in {"missed", "unknown"}]
    if not done:
        return []
    keys = {f"{ALERT_KIND}:{subject(spaces[c.info.space_id], c.info)}:{c.occ.key}" for c in done}
    alerts = session.scalars(
        select(Alert).where(Alert.dedupe_key.in_(keys), Alert.state != "resolved")
    ).all()
    return _resolve_alerts(session, alerts, now)


def reconcile(session: Session, now: datetime) -> list[Alert]:
    """Resolve open task alerts whose occurrence is done, excused or gone (rule removed):
    catches what a concurrent writer's transition left behind. One join finds them."""
    occurrence = Alert.detail["occurrence_id"].as_integer()
    ids = session.scalars(
        select(Alert.id)
        .outerjoin(TaskOccurrence, TaskOccurrence.id == occurrence)
        .where(
            Alert.kind.in_(TASK_ALERT_KINDS),
            Alert.state != "resolved",
            or_(TaskOccurrence.id.is_(None), TaskOccurrence.state.in_(DONE)),
        )
    ).all()
    if not ids:
        return []
    alerts = session.scalars(select(Alert).where(Alert.id.in_(ids))).all()
    return _resolve_alerts(session, alerts, now)


def _resolve_alerts(session: Session, alerts: Sequence[Alert], now: datetime) -> list[Alert]:
    ids = [a.detail.get("occurrence_id") for a in alerts]
    occs = {
        o.id: o
        for o in session.scalars(
            select(TaskOccurrence).where(TaskOccurrence.id.in_([i for i in ids if i]))
        )
    }
    resolved = []
    for alert in alerts:
        occ = occs.get(alert.detail.get("occurrence_id") or 0)
        if occ is not None and occ.state not in DONE:
            continue
        resolution, note = _why(session, occ, ZoneInfo(alert.detail.get("timezone", "UTC")))
        try:
            resolve(alert, resolution, now, note)
        except AlertStateError:  # pragma: no cover - filtered above
            continue
        logger.info("task alert resolved (%s): %s", resolution, alert.dedupe_key)
        resolved.append(alert)
    return resolved


def _why(session: Session, occ: TaskOccurrence | None, tz: ZoneInfo) -> tuple[str, str]:
    """(resolution, note) for an alert whose occurrence is done, excused or gone."""
    if occ is None:
        return "rule_removed", "the task rule was removed or disabled"
    if occ.state == "excused":
        return "excused", f"excused: {occ.reason}"
    last = None
    if occ.satisfied_by:
        last = session.scalars(
            select(CheckIn)
            .where(CheckIn.id.in_(occ.satisfied_by))
            .order_by(CheckIn.ts_ms.desc(), CheckIn.id.desc())
        ).first()
    done = local_text(occ.done_ms or 0, tz)
    who = f" at {last.checkpoint_code} via {last.device_code}" if last else ""
    if occ.state == "late":
        return "done_late", f"done late: check-in at {done}{who}, deadline was " + local_text(
            occ.deadline_ms, tz
        )
    arrived = local_text(occ.reported_ms or 0, tz)
    return "late_data", (
        f"done on time: check-in at {done}{who} reached the server only at {arrived} "
        f"(terminal offline or delayed), after the missed alert"
    )
