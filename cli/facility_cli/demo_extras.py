"""The demo's staff and resident activity, and the server's views of the complex.

- A check-in terminal in the children's play area reports the last open day's taps: the
  morning disinfection and a patrol round every hour, with one checkpoint skipped in one
  round (the compliance board must name it as missed).
- Satisfaction terminals at the exit of two services report residents' votes.
- After the pipeline has run: today's/yesterday's compliance occurrences of the play area,
  utilisation per space over the replayed weeks, and the complex's scorecard.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

CHECKIN_TERMINAL = "ci-kids-play"
KIDS_SPACE = "kids-play"
SKIP_ROUND = 5
#: (terminal, votes per button) for the demo's satisfaction terminals.
VOTES = {
    "sat-elderly-meal": {
        "very_satisfied": 14,
        "satisfied": 9,
        "dissatisfied": 2,
        "very_dissatisfied": 1,
    },
    "sat-health": {"very_satisfied": 5, "satisfied": 6, "dissatisfied": 4, "very_dissatisfied": 3},
}


@dataclass
class _Device:
    device: str
    boot: str


def _last_open_day(
    session: Any, cx_id: int, space_code: str, today: date
) -> tuple[date, datetime, datetime]:
    from facility_server.models.registry import CalendarException, Complex, Space
    from facility_server.opening import opening_intervals
    from facility_server.schedules import schedule_for
    from sqlalchemy import select

    cx = session.get(Complex, cx_id)
    space = session.scalar(select(Space).where(Space.complex_id == cx_id, Space.code == space_code))
    excs = session.scalars(select(CalendarException).where(CalendarException.complex_id == cx_id))
    schedule = schedule_for(cx, space, list(excs))
    for back in range(1, 15):
        day = today - timedelta(days=back)
        intervals = opening_intervals(schedule, day)
        if intervals:
            return day, intervals[0][0], intervals[-1][1]
    raise LookupError(f"{space_code} was not open in the last two weeks")


def _patrol_setup(session: Any, cx_id: int) -> tuple[list[tuple[str, str]], str, str]:
    """Checkpoints of the play area's patrol rule, and the badges of the cleaner and patroller."""
    from facility_server.models.compliance import TaskRule
    from facility_server.models.devices import Badge, Checkpoint, Staff
    from sqlalchemy import select

    rules = {
        r.task: r for r in session.scalars(select(TaskRule).where(TaskRule.complex_id == cx_id))
    }
    cps = {
        c.code: c for c in session.scalars(select(Checkpoint).where(Checkpoint.complex_id == cx_id))
    }
    walk = [
        (code, "qr" if cps[code].tag_kind == "qr" else "rfid")
        for code in rules["patrol"].params["checkpoints"]
    ]

    def badge_of(rule: Any) -> str:
        code = rule.params.get("responsible")
        query = (
            select(Badge.uid)
            .join(Staff, Staff.id == Badge.staff_id)
            .where(Badge.complex_id == cx_id)
        )
        uid = session.scalar(query.where(Staff.code == code)) if code else None
        return uid or session.scalar(query.order_by(Badge.id))

    return walk, badge_of(rules["disinfection"]), badge_of(rules["patrol"])


def publish_activity(factory: Any, cx: dict[str, Any], port: int) -> dict[str, Any]:
    """Publish the play area's day of check-ins and the satisfaction votes; wait for acks."""
    from facility_contracts.envelope import SatisfactionVote, SatisfactionVoteBody
    from facility_sim.checkin_day import checkin_events, day_plan
    from facility_sim.satisfaction import MqttTerminal

    tz = ZoneInfo(cx["timezone"])
    with factory() as session:
        day, opens, closes = _last_open_day(session, cx["id"], KIDS_SPACE, datetime.now(tz).date())
        walk, cleaner, patroller = _patrol_setup(session, cx["id"])
    skipped = walk[min(2, len(walk) - 1)][0]
    taps = day_plan(
        opens,
        closes,
        checkpoints=walk,
        cleaner=cleaner,
        patroller=patroller,  # type: ignore[arg-type]
        skip=(SKIP_ROUND, skipped),
    )
    events: dict[str, list[Any]] = {
        CHECKIN_TERMINAL: checkin_events(taps, device=CHECKIN_TERMINAL, space=KIDS_SPACE)
    }
    now_ms = int(time.time() * 1000)
    for device, counts in VOTES.items():
        space = device.removeprefix("sat-")
        buttons = [b for b, n in counts.items() for _ in range(n)]
        events[device] = [
            SatisfactionVote(
                id=f"{device}-{now_ms}-{i:04d}",
                device=device,
                boot=f"demo-{now_ms}",
                seq=i,
                ts=now_ms - (len(buttons) - i) * 60_000,
                mono=i * 60_000,
                synced=True,
                body=SatisfactionVoteBody(space=space, rating=b),
            )  # type: ignore[arg-type]
            for i, b in enumerate(buttons, start=1)
        ]
    terminals = []
    for device, evs in events.items():
        term = MqttTerminal(
            f"mqtt://127.0.0.1:{port}",
            cx["site"],
            _Device(device, evs[0].boot),  # type: ignore[arg-type]
            heartbeat_s=5,
            ack_timeout_s=5,
        ).start()
        term.connected.wait(10)
        for ev in evs:
            term.publish(ev)
        terminals.append(term)
    deadline = time.monotonic() + 60
    while any(t.pending for t in terminals) and time.monotonic() < deadline:
        for t in terminals:
            t.resend_due()
        time.sleep(0.2)
    unconfirmed = sum(len(t.pending) for t in terminals)
    return {
        "terminals": terminals,
        "day": day,
        "opens": opens,
        "closes": closes,
        "skipped": skipped,
        "checkins": len(taps),
        "votes": sum(sum(v.values()) for v in VOTES.values()),
        "unconfirmed": unconfirmed,
    }


def evaluate_day(session: Any, cx_id: int, space_code: str, day: date, now: datetime) -> list[Any]:
    """The occurrences of one local day of one space's rules, evaluated live (nothing written).

    Same steps as :func:`facility_server.compliance.tick.evaluate_today`, for a chosen day.
    """
    from sqlalchemy import select

    from facility_server.compliance.calendar import to_ms
    from facility_server.compliance.engine import evaluate
    from facility_server.compliance.load import load_contexts, load_rules, since_for
    from facility_server.models.registry import Space

    space_id = session.scalar(select(Space.id).where(Space.complex_id == cx_id, Space.code == space_code))
    now_ms = to_ms(now)
    rules, spaces, weekly = load_rules(session, space_ids=[space_id])
    since = since_for(rules, spaces, lambda _info: [day])
    contexts = load_contexts(session, spaces, weekly, since, now_ms)
    return [(info, spaces[info.space_id], evaluate(info.rule, contexts[info.space_id], [day], now_ms))
            for info in rules]


def server_views(
    factory: Any, cx: dict[str, Any], activity: dict[str, Any], first: date, last: date
) -> dict[str, Any]:
    """Compliance occurrences of the play area's day, utilisation per space, scorecard."""
    from facility_server.compliance.tick import compliance_tick
    from facility_server.scorecard import scorecard
    from facility_server.utilisation import utilisation_summary
    from sqlalchemy import select

    now = datetime.now(UTC)
    tz = ZoneInfo(cx["timezone"])
    with factory() as session:
        compliance_tick(session, now)
        session.commit()
        board = [
            {
                "rule": info.code,
                "due": datetime.fromtimestamp(o.window.start_ms / 1000, tz).strftime("%H:%M"),
                "state": o.state,
                "missing": list(o.missing),
                "reason": o.reason,
            }
            for info, _space, occs in evaluate_day(
                session, cx["id"], KIDS_SPACE, activity["day"], now
            )
            for o in occs
        ]
        util = utilisation_summary(session, cx["site"], first, last + timedelta(days=1), now=now)
        half = f"{last.year}H{1 if last.month <= 6 else 2}"
        card = scorecard(session, cx["site"], half, now=now)
        session.commit()
    return {
        "compliance_day": activity["day"].isoformat(),
        "compliance": board,
        "utilisation": util,
        "scorecard": card,
        "scorecard_period": half,
    }
