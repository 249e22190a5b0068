"""The demo's simulated day of the play area (issue 5, item 8) on SQLite: states, alerts,
escalation and outbox as the setup file's rules say they must be, and the summary text;
and the demo's output free of amqtt's noise (broker loop errors, misdelivered statuses).

Expected values come from ``server/examples/setup.yaml`` read here with PyYAML and from
plain arithmetic on local (UTC+8) wall-clock times, not from the engine.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
import yaml
from amqtt.errors import ProtocolHandlerError
from facility_cli.demo_day import run_day
from facility_cli.demo_day_report import day_line, render_day
from facility_cli.demo_day_script import choose_day
from facility_cli.demo_run import _registry
from facility_cli.embedded_broker import _quiet_cancelled_packets
from facility_contracts import codec, topics
from facility_contracts.envelope import Status
from facility_sim.satisfaction import MqttTerminal, SatisfactionTerminal
from rich.console import Console

SETUP = Path(__file__).resolve().parents[2] / "server" / "examples" / "setup.yaml"
DAY = date(2026, 6, 2)  # a Tuesday: the play area opens after its Monday closure
#: Minutes a task alert waits for acknowledgement when the rule does not say (the
#: documented default of task rules, server/facility_server/compliance/rules.py).
DEFAULT_ESCALATE_MIN = 30


def _hm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 60 + int(m)


@pytest.fixture(scope="module")
def setup() -> dict[str, Any]:
    """The example setup file as plain data."""
    return yaml.safe_load(SETUP.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The simulated day on a fresh SQLite server database holding the example setup."""
    path = tmp_path_factory.mktemp("demo-day") / "server.sqlite"
    factory, cx, _ = _registry(SETUP, f"sqlite:///{path}")
    return run_day(factory, cx, url="mqtt://127.0.0.1:1", day=DAY)


def _expected(setup: dict[str, Any]) -> dict[str, Any]:
    """States, alert and escalation times of the day from the rules and opening hours."""
    rules = {r["code"]: r for r in setup["task_rules"] if r["space"] == "kids-play"}
    dis, patrol = rules["kids-disinfection"], rules["kids-patrol"]
    kids = next(s for s in setup["spaces"] if s["code"] == "kids-play")
    opens, closes = (_minutes(t) for t in kids["hours"]["tue"][0].split("-"))
    assert dis["deadline"] == "opening"
    rounds = list(range(opens, closes, patrol["every_min"]))
    skipped = next(r for r in rounds if r >= 15 * 60)
    dis_alert = opens + dis["grace_min"]
    return {
        "rows": [("kids-disinfection", dis["start"], "missed", [])]
        + [
            (
                "kids-patrol",
                _hm(r),
                "missed" if r == skipped else "on_time",
                [patrol["checkpoints"][2]] if r == skipped else [],
            )
            for r in rounds
        ],
        "opened": {
            DAY.isoformat(): _hm(dis_alert),
            f"{DAY.isoformat()}T{_hm(skipped)}": _hm(
                skipped + patrol["window_min"] + patrol["grace_min"]
            ),
        },
        "escalated_at": _hm(dis_alert + dis.get("escalate_after_min", DEFAULT_ESCALATE_MIN)),
        "responsible": {dis["responsible"], patrol["responsible"]},
    }


def test_day_occurrences_have_the_scripted_states(day: dict[str, Any], setup: Any) -> None:
    """Disinfection missed, the afternoon round missed naming its checkpoint, others on time."""
    rows = [(o["rule"], o["due"], o["state"], o["missing"]) for o in day["occurrences"]]
    assert rows == _expected(setup)["rows"]
    assert day["simulated"]["clock"] == "stepped" and day["as_planned"] is True


def test_two_alerts_open_at_deadline_plus_grace(day: dict[str, Any], setup: Any) -> None:
    """One task alert per missed occurrence, opened at deadline + grace, naming who is
    responsible (from the setup's staff) and, for the round, the missing checkpoint."""
    want = _expected(setup)
    names = {s["code"]: s["name"] for s in setup["staff"]}
    assert {a["occurrence"]: a["opened_at"] for a in day["alerts"]} == want["opened"]
    assert {a["responsible"]["code"] for a in day["alerts"]} == want["responsible"]
    assert all(a["responsible"]["name"] == names[a["responsible"]["code"]] for a in day["alerts"])
    patrol = next(a for a in day["alerts"] if a["rule"] == "kids-patrol")
    assert patrol["missing"] == ["cp-kids-sandpit"]
    assert all("儿童游乐区 (kids-play)" in a["where"] for a in day["alerts"])
    assert day["other_alerts"] == []


def test_unacknowledged_alert_escalates_once(day: dict[str, Any], setup: Any) -> None:
    """The disinfection alert, not acknowledged in its escalate-after time, goes from the
    complex to the street once; the patrol alert, acknowledged in time, stays."""
    want = _expected(setup)
    steps = [(e["rule"], e["from"], e["to"], e["at"]) for e in day["escalations"]]
    assert steps == [("kids-disinfection", "complex", "street", want["escalated_at"])]
    levels = {a["rule"]: (a["state"], a["escalation_level"]) for a in day["alerts"]}
    assert levels == {
        "kids-disinfection": ("acknowledged", "street"),
        "kids-patrol": ("acknowledged", "complex"),
    }


def test_outbox_per_channel_kind(day: dict[str, Any], setup: Any) -> None:
    """Each alert's opening goes to the complex's task contacts (a staff-bound contact only
    for that staff's rule), the escalation to the street's; nothing is sent."""
    channel = {c["code"]: urlsplit(c["url"]).scheme for c in setup["contacts"]}
    want: Counter[str] = Counter()
    for rule in ("kids-disinfection", "kids-patrol"):
        who = next(r["responsible"] for r in setup["task_rules"] if r["code"] == rule)
        for c in setup["contacts"]:
            if "tasks" in c["topics"] and c.get("staff") in (None, who):
                want[channel[c["code"]]] += 1
    street = next(c for c in day["escalation_contacts"] if c["level"] == "street")
    want[street["channel"]] += 1
    assert Counter(day["notifications_by_channel"]) == want
    assert [n["event"] for n in day["notifications"]].count("escalated:1") == 1
    assert day["notifications_sent"] == 0


def test_summary_text_lists_both_alerts_and_the_escalation(day: dict[str, Any]) -> None:
    """The rendered summary shows both alerts, who is responsible, the escalation and the
    final line counts them."""
    console = Console(record=True, width=100)
    render_day(console, day)
    text = console.export_text()
    for needle in ("cp-kids-sandpit", "刘芳", "陈晓东", "09:15", "15:30", "dingtalk", "wecombot"):
        assert needle in text
    assert "went from complex to street at 09:45" in text
    line = day_line(day)
    assert "2 task alerts, 1 escalation (complex -> street at 09:45)" in line
    assert "4 notifications enqueued" in line and "0 sent" in line


@pytest.mark.parametrize(
    ("today", "chosen"),
    [
        (date(2026, 6, 7), date(2026, 6, 2)),  # Sunday -> that week's Tuesday
        (date(2026, 9, 3), date(2026, 8, 25)),  # Tue 1 Sep starts a month: a week earlier
    ],
)
def test_choose_day_after_a_closed_day(tmp_path: Path, today: date, chosen: date) -> None:
    """The day is the latest open day after a closed (Monday) one, not the 1st of a month."""
    factory, cx, _ = _registry(SETUP, f"sqlite:///{tmp_path / 's.sqlite'}")
    with factory() as session:
        assert choose_day(session, cx["id"], today) == chosen
    assert (chosen - timedelta(days=1)).weekday() == 0 and chosen.day != 1


def test_broker_drops_only_cancelled_packet_errors(caplog: pytest.LogCaptureFixture) -> None:
    """amqtt's cancelled-packet error is dropped; any other loop error is still logged."""
    try:
        try:
            raise asyncio.CancelledError
        except asyncio.CancelledError as cause:
            raise ProtocolHandlerError("Packet handling was cancelled") from cause
    except ProtocolHandlerError as exc:
        cancelled = exc
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            _quiet_cancelled_packets(loop, {"message": "never retrieved", "exception": cancelled})
            assert [r for r in caplog.records if r.name == "asyncio"] == []
            other = RuntimeError("boom")
            _quiet_cancelled_packets(loop, {"message": "never retrieved", "exception": other})
        assert [r.exc_info[1] for r in caplog.records if r.name == "asyncio"] == [other]  # type: ignore[index]
    finally:
        loop.close()


def _message(topic: str, payload: bytes) -> mqtt.MQTTMessage:
    msg = mqtt.MQTTMessage(topic=topic.encode())
    msg.payload = payload
    return msg


def test_terminal_ignores_other_topics_but_warns_on_a_bad_ack(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A terminal handed another device's retained status (amqtt does that on connect)
    ignores it quietly; a bad payload on its own ack topic is still a warning."""
    term = MqttTerminal("mqtt://127.0.0.1:1", "site-a", SatisfactionTerminal("sat-x", "health"))
    status = codec.encode_status(Status(device="ci-other", state="online"))
    with caplog.at_level(logging.WARNING, logger="facility_sim.satisfaction"):
        term._on_message(
            term.client, None, _message(topics.status_topic("site-a", "ci-other"), status)
        )
        assert caplog.records == []
        term._on_message(term.client, None, _message(topics.ack_topic("site-a", "sat-x"), status))
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "bad ack" in caplog.records[0].getMessage()
