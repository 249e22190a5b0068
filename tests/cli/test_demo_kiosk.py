"""The demo's health-kiosk morning (issue 7, item 8): the morning chosen from the setup's
opening hours, the desk's roster, the counts the plan calls for, the privacy scans and the
rendered summary.

Expected values come from ``server/examples/setup.yaml`` read with PyYAML, from the
pseudonym formula of docs/protocols.md computed here with :mod:`hmac`, and from counting
hand-made sessions by hand; not from the code under test.
"""

from __future__ import annotations

import copy
import hmac
import json
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from facility_cli import demo_kiosk_plan as kp
from facility_cli.demo_day_script import space_schedule
from facility_cli.demo_kiosk import KioskDemo
from facility_cli.demo_kiosk_report import kiosk_line, problems, render_kiosk, series_facts
from facility_cli.demo_kiosk_scan import Finding, refs_of, scan_points, scan_texts
from facility_cli.demo_run import _edge_config, _registry
from facility_server.opening import opening_intervals
from facility_sim.kiosk_day import PlannedSession
from rich.console import Console

SETUP = Path(__file__).resolve().parents[2] / "server" / "examples" / "setup.yaml"
TZ = ZoneInfo("Asia/Shanghai")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KEY = bytes(range(100, 132))


def _local(day: date, hhmm: str) -> datetime:
    h, m = hhmm.split(":")
    return datetime.combine(day, time(int(h), int(m)), tzinfo=TZ)


def _yaml_morning(day: date) -> tuple[datetime, datetime]:
    """The elderly-care centre's morning of ``day`` from the setup file: first opening to
    noon (or that interval's end)."""
    setup = yaml.safe_load(SETUP.read_text(encoding="utf-8"))
    space = next(s for s in setup["spaces"] if s["code"] == "elderly-care")
    opens, closes = space["hours"][WEEKDAYS[day.weekday()]][0].split("-")
    return _local(day, opens), min(_local(day, closes), _local(day, "12:00"))


@pytest.fixture(scope="module")
def intervals_of(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Opening intervals of the elderly-care centre, from the imported example setup."""
    path = tmp_path_factory.mktemp("kiosk") / "server.sqlite"
    factory, cx, _ = _registry(SETUP, f"sqlite:///{path}")
    with factory() as session:
        schedule = space_schedule(session, cx["id"], "elderly-care")
    return lambda d: opening_intervals(schedule, d)


@pytest.mark.parametrize(
    ("now", "day"),
    [
        (_local(date(2026, 11, 30), "01:20"), date(2026, 11, 29)),  # Monday night -> Sunday
        (_local(date(2026, 12, 1), "11:59"), date(2026, 11, 30)),  # Tuesday's not ended yet
        (_local(date(2026, 12, 1), "12:00"), date(2026, 12, 1)),  # ended at noon sharp
        (_local(date(2026, 3, 18), "13:00"), date(2026, 3, 17)),  # the 18th is closed all day
    ],
)
def test_morning_is_the_latest_open_one_that_ended(
    intervals_of: Any, now: datetime, day: date
) -> None:
    """The morning is the latest open one (weekend hours, the complex's closed days
    included) whose noon has passed; it runs from the opening to noon."""
    assert kp.choose_morning(intervals_of, now, TZ) == _yaml_morning(day)


def test_no_morning_when_closed_or_open_only_after_noon() -> None:
    """Closed throughout, or opening only in the afternoon: a clear error, no morning."""
    now = _local(date(2026, 6, 10), "18:00")
    with pytest.raises(kp.MorningError, match="no open morning of elderly-care"):
        kp.choose_morning(lambda d: [], now, TZ)
    afternoon = lambda d: [(_local(d, "14:00"), _local(d, "17:00"))]  # noqa: E731
    with pytest.raises(kp.MorningError):
        kp.choose_morning(afternoon, now, TZ)


def test_morning_ends_when_the_space_closes_before_noon() -> None:
    """A first interval ending before noon ends the morning."""
    now = _local(date(2026, 6, 10), "18:00")

    def early(d: date) -> list[tuple[datetime, datetime]]:
        return [(_local(d, "08:00"), _local(d, "11:30")), (_local(d, "13:30"), _local(d, "17:00"))]

    assert kp.choose_morning(early, now, TZ) == (
        _local(date(2026, 6, 10), "08:00"),
        _local(date(2026, 6, 10), "11:30"),
    )


def test_roster_pseudonyms_and_consent_split() -> None:
    """Pseudonyms follow docs/protocols.md; 7 enrolled with consent, 2 without, the rest not
    enrolled, each enrolled one named."""
    cards = [f"3301 0612 {n:04d}" for n in range(12)]
    people = kp.roster(cards, KEY)
    for card, p in zip(cards, people, strict=True):
        mac = hmac.new(KEY, b"facility-member-v1\x00" + card.replace(" ", "").encode(), "sha256")
        assert p.pseudonym == "m1-" + mac.hexdigest()[:32] and p.card == card
    assert [(p.name is not None, p.consent) for p in people] == (
        [(True, True)] * 7 + [(True, False)] * 2 + [(False, False)] * 3
    )
    assert len({p.name for p in people if p.name}) == 9
    with pytest.raises(ValueError, match="need >= 9 cards"):
        kp.roster(cards[:5], KEY)


def _session(
    hhmm: str, card: str, readings: list[tuple[str, float, str]], fault: Any = None
) -> Any:
    kind = "blood_pressure" if readings[0][0] == "systolic_bp" else "spo2"
    return PlannedSession(_local(date(2026, 6, 2), hhmm), card, kind, tuple(readings), fault)


BP = [("systolic_bp", 150.0, "mmHg"), ("diastolic_bp", 92.0, "mmHg"), ("heart_rate", 70.0, "bpm")]
PLAN = [
    _session("09:05", "A", BP),
    _session("09:40", "A", [("body_weight", 61.5, "kg")]),
    _session("09:50", "B", [("spo2", 96.0, "%"), ("heart_rate", 80.0, "bpm")]),
    _session("10:10", "B", [("systolic_bp", 190.0, "mmHg"), ("diastolic_bp", 100.0, "mmHg")],
             "crisis"),
    _session("10:20", "C", [("spo2", 104.0, "%")], "impossible_value"),
    _session("10:30", "A", [("body_temperature", 98.4, "degF")], "bad_unit"),
]  # fmt: skip


def test_expected_usage_counts_a_hand_made_morning() -> None:
    """Rejected sessions are not counted as sessions; members are distinct per hour; only
    the consenting member's readings are evaluated."""
    assert kp.expected_usage(PLAN, ["A"], TZ) == {
        "sessions": 4,
        "members": 3,  # 09h: A, B; 10h: B (A's 10h session was rejected)
        "consented": 2,
        "crisis": 1,
        "readings": {
            "body_weight": {"readings": 1, "evaluated": 1},
            "diastolic_bp": {"readings": 2, "evaluated": 1},
            "heart_rate": {"readings": 2, "evaluated": 1},
            "spo2": {"readings": 1, "evaluated": 0},
            "systolic_bp": {"readings": 2, "evaluated": 1},
        },
        "rejected": {"bad_unit": 1, "impossible_value": 1},
    }


def test_differences_name_each_mismatch() -> None:
    """Equal counts: no difference; each count that differs: one line naming it."""
    want = kp.expected_usage(PLAN, ["A"], TZ)
    assert kp.differences(want, copy.deepcopy(want)) == []
    got = copy.deepcopy(want)
    got["sessions"], got["rejected"] = 3, {"bad_unit": 1}
    del got["readings"]["spo2"]
    lines = kp.differences(want, got)
    assert lines[0] == "sessions: 3 counted, 4 planned"
    assert any(line.startswith("spo2 readings") for line in lines)
    assert lines[-1].startswith("rejected: {'bad_unit': 1} counted") and len(lines) == 3


def _row(measurement: str, tags: dict[str, Any], fields: dict[str, Any]) -> tuple[str, str, str]:
    return measurement, json.dumps(tags), json.dumps(fields)


def test_point_scan_finds_member_references_and_values() -> None:
    """A pseudonym or card in a tag, a value field, an extra field of a kiosk aggregate are
    found; the schema's aggregates and door points are clean."""
    card = "3301 0612 0042"
    place = {"complex": "x", "space": "elderly-care", "space_type": "elderly_care"}
    rows = [
        _row("kiosk_sessions_hourly", place, {"sessions": 3, "members": 2, "consented": 1}),
        _row("kiosk_readings_hourly", {**place, "reading_type": "spo2"}, {"readings": 2}),
        _row("door_crossing", {"site": "x", "device": "dc-1"}, {"in": 2, "out": 1, "seq": 9}),
        _row("device_notice", {"device": "m1-" + "ab" * 16}, {"count": 1}),
        _row("device_notice", {"device": "330106120042"}, {"count": 1}),
        _row("checkin", {"site": "x"}, {"value": 188.0}),
        _row("kiosk_readings_hourly", {**place, "reading_type": "spo2"}, {"mean": 95.5}),
    ]
    assert scan_points(rows, refs_of([card])) == Finding(7, 2, 2)


def test_text_scan_finds_names_cards_and_values_with_units() -> None:
    """A name or card is a member reference, ``188 mmHg`` or ``36.5degC`` a value; the
    alert's own title is clean."""
    refs = refs_of(["3301 0612 0042"], ["张桂英"])
    texts = [
        "Health kiosk hk-elderly-care: reading in a crisis range at 老年人日间照料中心 "
        "(elderly-care), 2026-11-29 10:32 Asia/Shanghai",
        "systolic 188 mmHg",
        "张桂英 measured 36.5degC",
        "card 3301 0612 0042",
    ]
    assert scan_texts(texts, refs) == Finding(4, 2, 2)


def test_demo_edge_config_takes_the_kiosk_reader(tmp_path: Path) -> None:
    """edge-main's config holds the kiosk reader under the kiosk's own id, on the LAN
    broker (not the central one), with the key file in the demo's folder."""
    part = KioskDemo(None, {"timezone": "Asia/Shanghai"}, tmp_path, central_port=1)
    cfg = _edge_config("site-a", 1, [], tmp_path, [part.edge_device()])
    (dev,) = cfg.devices
    assert (dev.type, dev.id, dev.kiosks) == (
        "health_kiosk",
        "hk-elderly-care",
        {"hk-elderly-care": "elderly-care"},
    )
    assert dev.broker == f"mqtt://127.0.0.1:{part.lan_port}" and part.lan_port != 1
    assert dev.key_file == tmp_path / "pseudonym.key"
    assert "hk-elderly-care" in cfg.event_devices


#: The PLAN's kiosk_sessions_hourly points as the server writes them, counted by hand:
#: 09h has 3 sessions (A, A, B; A's two consented), so consent and crisis are published;
#: 10h has only B's crisis session (A's and C's were rejected): sessions and members only.
PLAN_HOURS = [
    {"sessions": 3, "members": 2, "consented": 2, "crisis": 0},
    {"sessions": 1, "members": 1},
]


def test_series_facts_count_what_the_board_can_show() -> None:
    """Sessions of every hour; consent and crisis only of the hours that carry them (the
    crisis in the 1-session hour is not on the board); a small hour carrying them anyway
    is counted as a breach of the rule."""
    assert series_facts(PLAN_HOURS, 7) == {
        "points": 9,
        "hours": 2,
        "sessions": 4,
        "published_hours": 1,
        "crisis": 0,
        "small_published": 0,
    }
    leaky = [*PLAN_HOURS[:1], {"sessions": 2, "members": 1, "consented": 0, "crisis": 1}]
    assert series_facts(leaky, 0) == {
        "points": 2,
        "hours": 2,
        "sessions": 5,
        "published_hours": 2,
        "crisis": 1,
        "small_published": 1,
    }


def _summary() -> dict[str, Any]:
    """A kiosk summary as :func:`facility_cli.demo_kiosk_report.report` makes it."""
    planned = kp.expected_usage(PLAN, ["A"], TZ)
    readings = {
        t: {
            **c,
            "outside_reference": int(t == "systolic_bp"),
            "outside_reference_pct": 100.0
            if t == "systolic_bp"
            else (0.0 if c["evaluated"] else None),
        }
        for t, c in planned["readings"].items()
    }
    usage = {k: planned[k] for k in ("sessions", "members", "consented", "crisis")}
    k = {
        "kiosk": "hk-elderly-care",
        "space": "elderly-care",
        "space_name": "老年人日间照料中心",
        "morning": {"day": "2026-06-02", "weekday": "Tuesday", "from": "08:00", "to": "12:00"},
        "members": {"on_cards": 3, "enrolled": 2, "consented": 1},
        "published": {"sessions": 6, "confirmed_by_lan_broker": 6},
        "usage": {**usage, "consented_pct": 50.0, "readings": readings,
                  "rejected": planned["rejected"], "crisis_alerts": {"open": 1}},
        "planned": planned,
        "values_kept": 4,
        "visitor_hashes_left": 0,
        "alerts": [{
            "id": 7, "kind": "vital_crisis", "severity": "critical", "title": "t",
            "kiosk": "hk-elderly-care", "space": "elderly-care", "space_name": "老年人日间照料中心",
            "at": "2026-06-02T10:10+08:00", "timezone": "Asia/Shanghai", "identified": False,
            "other_detail": [], "state": "open", "level": "complex",
            "notifications": [{"contact": "clinician-duty", "topics": ["health"],
                               "recipient": "张医生", "channel": "json", "event": "opened",
                               "state": "pending"}],
        }],
        "series": series_facts(PLAN_HOURS, 7),
        "privacy": {
            "point_store": {"scanned": 120, "member_refs": 0, "reading_values": 0},
            "texts": {"scanned": 5, "member_refs": 0, "reading_values": 0},
            "central_broker": {"messages": 8, "with_card": 0},
        },
    }  # fmt: skip
    k["problems"] = problems(k)
    k["as_planned"] = not k["problems"]
    return k


def _text(k: dict[str, Any]) -> str:
    console = Console(record=True, width=100)
    render_kiosk(console, k)
    console.print(kiosk_line(k))
    text = re.sub("[\u2500-\u257f]", " ", console.export_text())  # table borders
    return " ".join(text.split())  # lines joined: wrapping varies


def test_summary_shows_counts_the_alert_and_the_scan() -> None:
    """Counts, the consent split, rejections by reason, the alert routed to the clinician
    on duty (enqueued, not sent) and the scan results are printed; it is as planned."""
    k = _summary()
    assert k["problems"] == [] and k["as_planned"] is True
    text = _text(k)
    for needle in (
        "morning of 2026-06-02 (Tuesday) 08:00-12:00",
        "2 (counted, values not kept)",
        "50.0 %",
        "bad_unit 1, impossible_value 1",
        "2026-06-02 10:10 Asia/Shanghai",
        "张医生 (clinician-duty, topics: health)",
        "json opened, pending",
        "(enqueued, nothing sent)",
        "unidentified (no consent)",
        "Point store scanned (120 points): 0 member references, 0 reading values",
        "Consent and crisis counts published for 1 of 2 hours",
        "the kiosk board counts 0 of the 1 crisis session(s)",
        "8 messages of the kiosk, 0 with a card number",
        "Health kiosk morning as planned: 4 sessions, 2 rejected, 1 crisis alert",
    ):
        assert needle in text, needle


def test_summary_is_red_without_the_alert_or_with_a_leak() -> None:
    """No crisis alert, a value in the point store, the crisis count of a 1-session hour
    in the point store or a card on the central broker: the closing line says not as
    planned and names each problem."""
    k = _summary()
    k["alerts"] = []
    k["privacy"]["point_store"]["reading_values"] = 1
    k["privacy"]["central_broker"]["with_card"] = 1
    k["usage"]["sessions"] = 3
    small = {"sessions": 1, "members": 1, "consented": 0, "crisis": 1}
    k["series"] = series_facts([PLAN_HOURS[0], small], 7)
    k["problems"] = problems(k)
    k["as_planned"] = False
    text = _text(k)
    assert "No clinician alert was opened." in text
    assert "Health kiosk morning not as planned: sessions: 3 counted, 4 planned" in text
    assert "crisis alerts: 0 open of 0, 1 planned" in text
    assert "point_store: member references or reading values found" in text
    assert "a card number reached the central broker" in text
    assert "point store: consent or crisis counts of 1 hour(s) with fewer than 3" in text


def test_morning_window_is_not_in_the_future() -> None:
    """The chosen morning has ended before now, even right after noon on the chosen day."""
    now = _local(date(2026, 6, 10), "12:00") + timedelta(seconds=1)
    opens, ends = kp.choose_morning(lambda d: [(_local(d, "08:00"), _local(d, "17:30"))], now, TZ)
    assert ends <= now and opens.date() == date(2026, 6, 10)
