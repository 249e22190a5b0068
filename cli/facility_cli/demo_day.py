"""The play area's simulated day: a stepped clock drives the server's own code (issue 5).

The story (:mod:`facility_cli.demo_day_script`): nobody taps the morning disinfection and
the patroller leaves a checkpoint out of the afternoon round. Both occurrences become
``missed`` and open a task alert at deadline + grace; the patroller acknowledges hers,
the disinfection alert goes unacknowledged past the rule's ``escalate_after_min`` and
escalates from the complex to the street, whose duty officer acknowledges it. Every
message is enqueued in the notification outbox; nothing is sent.

Time decides all of this, so a :class:`SteppedClock` stands in for the wall clock of the
server's own parts: the ingest entry point (:meth:`Ingest.handle`, decoding the MQTT
payloads the check-in terminal would publish), the health ticker and the compliance
runner (evaluation, escalation, outbox dispatch; no sender). The clock visits the day's
instants in order: each terminal heartbeat (the terminal is online all day) and each tap
at its own instant, and every ``step_min`` minutes a step (acknowledgements due, health
tick, compliance step), from half an hour before the disinfection window to closing +
grace + escalation time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from facility_cli.demo_day_script import (
    KIDS_SPACE,
    STEP_MIN,
    STREET_DUTY,
    DayError,
    DayScript,
    choose_day,
    script_day,
    timeline,
)

#: Escalation contacts the demo keeps for the complex's street and district (what
#: ``POST /api/v1/contacts`` stores): (level, code, name suffix, Apprise URL).
#: Placeholders: the demo runs no sender, so nothing ever reaches these addresses.
ESCALATION_CONTACTS = (
    ("street", STREET_DUTY, "值班室", "dingtalk://demostreetrobottoken0000/"),
    (
        "district",
        "district-duty",
        "民政局值班",
        "mailto://smtp.example.com?from=alerts@example.com&to=district-duty@example.com",
    ),
)


class SteppedClock:
    """A clock that shows ``now`` (UTC, tz-aware) until it is moved."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class DayLog:
    """What the driver saw: steps, stored messages, escalations and acknowledgements
    (instants UTC)."""

    steps: int = 0
    statuses: int = 0
    checkins: int = 0
    escalations: list[dict[str, Any]] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)


def add_escalation_contacts(session: Any, cx_id: int) -> list[dict[str, str]]:
    """Give the complex's street and district one duty contact each (topics ``tasks`` and
    ``devices``), as ``POST /api/v1/contacts`` would; returns (level, code, name, channel)."""
    from facility_server.models import Complex, Contact, Region
    from facility_server.notify.sender import channel_of

    cx = session.get(Complex, cx_id)
    out = []
    for level, code, suffix, url in ESCALATION_CONTACTS:
        region = session.get(Region, cx.street_id if level == "street" else cx.district_id)
        name = f"{region.name}{suffix}"
        session.add(
            Contact(
                scope_kind=level,
                scope_id=region.id,
                complex_id=None,
                code=code,
                name=name,
                url=url,
                topics=["tasks", "devices"],
                staff_code=None,
                active=True,
            )
        )
        out.append({"level": level, "code": code, "name": name, "channel": channel_of(url)})
    session.flush()
    return out


def acknowledge_due(session: Any, script: DayScript, now: datetime) -> list[dict[str, Any]]:
    """Give the scripted acknowledgements whose time has come (through
    :func:`facility_server.alerts.acknowledge`, as the API does); return what was done."""
    from facility_server.alerts import acknowledge
    from facility_server.compliance.alerting import ALERT_KIND
    from facility_server.models import Alert
    from sqlalchemy import select

    done = []
    for ack in script.acks:
        subject = f"/{KIDS_SPACE}/{ack.rule}"
        alert = session.scalar(
            select(Alert).where(
                Alert.kind == ALERT_KIND,
                Alert.occurrence == ack.occurrence,
                Alert.subject.endswith(subject),
                Alert.state == "open",
            )
        )
        since = None if alert is None else (alert.opened_at, alert.escalated_at)
        if since is None or (ack.after == "escalated" and since[1] is None):
            continue
        at = since[0] if ack.after == "opened" else since[1]
        if now >= at + timedelta(minutes=ack.delay_min):
            acknowledge(alert, ack.by, now)
            done.append({"alert_id": alert.id, "rule": ack.rule, "by": ack.by, "at": now})
    return done


def run_day(
    factory: Any,
    cx: dict[str, Any],
    *,
    url: str,
    day: date | None = None,
    today: date | None = None,
    step_min: int = STEP_MIN,
) -> dict[str, Any]:
    """Simulate the play area's day in the server database of ``factory`` and return its
    summary (see :func:`facility_cli.demo_day_report.day_report`).

    Args:
        factory: session factory of a server database holding the imported setup.
        cx: the complex (``id``, ``site``, ``timezone``).
        url: broker URL the ingest object is built for (it never connects: messages are
            handed to :meth:`Ingest.handle`).
        day: the local day; default :func:`choose_day` before ``today`` (default: today).

    Raises:
        DayError: no suitable day, a missing rule or badge, or a server phase failed.
    """
    from facility_server.core.db import session_scope

    from facility_cli.demo_day_report import day_report

    tz = ZoneInfo(cx["timezone"])
    with session_scope(factory) as session:
        day = day or choose_day(session, cx["id"], today or datetime.now(tz).date())
        script = script_day(session, cx["id"], day)
        contacts = add_escalation_contacts(session, cx["id"])
    clock = SteppedClock(script.start)
    log = _drive(factory, clock, script, cx["site"], url, step_min)
    with factory() as session:
        return day_report(session, cx, script, log, contacts, step_min)


def _drive(
    factory: Any, clock: SteppedClock, script: DayScript, site: str, url: str, step_min: int
) -> DayLog:
    """Move the clock through the day's timeline, handing each moment to the server."""
    from facility_server.compliance.runner import ComplianceRunner
    from facility_server.core.settings import get_settings
    from facility_server.health.runner import HealthTicker
    from facility_server.ingest.subscriber import Ingest

    ingest = Ingest(factory, url, client_id="demo-day", clock=clock)
    health = HealthTicker(factory, clock, interval_s=step_min * 60)
    runner = ComplianceRunner(
        factory, clock, get_settings(notify=False), sender=None, worker_id="demo-day"
    )
    log = DayLog()
    for at, _order, kind, item in timeline(script, site, step_min=step_min):
        clock.now = at
        if kind == "step":
            _step(factory, clock, script, health.run_once, runner.step, log)
        elif ingest.handle(*item):
            if kind == "status":
                log.statuses += 1
            else:
                log.checkins += 1
    return log


def _step(
    factory: Any,
    clock: SteppedClock,
    script: DayScript,
    health_tick: Callable[[], None],
    compliance_step: Callable[[], dict[str, Any]],
    log: DayLog,
) -> None:
    """One step: acknowledgements due, health tick, compliance step (evaluate, escalate,
    enqueue); escalations are read off the alerts' levels before and after."""
    from facility_server.core.db import session_scope
    from facility_server.models import Alert
    from sqlalchemy import select

    now = clock()
    with session_scope(factory) as session:
        log.acks += acknowledge_due(session, script, now)
        before = {i: lvl for i, lvl in session.execute(select(Alert.id, Alert.escalation_level))}
    health_tick()
    out = compliance_step()
    failed = [name for name, value in out.items() if value is None]
    if failed:
        raise DayError(f"compliance phase {', '.join(failed)} failed at {now.isoformat()}")
    log.steps += 1
    if out["escalated"]:
        with factory() as session:
            for alert_id, level in session.execute(select(Alert.id, Alert.escalation_level)):
                if level > before.get(alert_id, level):
                    log.escalations.append(
                        {"alert_id": alert_id, "from": before[alert_id], "to": level, "at": now}
                    )
