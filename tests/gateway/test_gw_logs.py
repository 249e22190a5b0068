"""What the gateway logs: rejected messages name their event, clean stops are not warnings."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from facility_cli.services import Mosquitto
from facility_gateway.intake import Intake, IntakeQueue
from facility_gateway.stats import Stats
from facility_gateway.subscriber import MqttLink, MqttOptions

TOPIC = "facility/v1/site-a/dc-a/evt"


def rejection_lines(caplog: pytest.LogCaptureFixture, payload: bytes) -> list[str]:
    """Feed one payload to a fresh intake; return its rejection log lines."""
    intake = Intake(IntakeQueue(10), Stats())
    with caplog.at_level(logging.DEBUG, logger="facility_gateway.intake"):
        intake.handle(TOPIC, payload, False)
    return [r.getMessage() for r in caplog.records if "rejected message" in r.getMessage()]


def test_rejection_names_the_event_id_when_readable(caplog: pytest.LogCaptureFixture) -> None:
    """A refused payload whose JSON has a string "id" is logged with that id, not '?'."""
    payload = json.dumps({"v": 1, "id": "evt-7f3a", "kind": "door.crossing"}).encode()
    (line,) = rejection_lines(caplog, payload)
    assert f"on {TOPIC} (event evt-7f3a): " in line


@pytest.mark.parametrize(
    "payload",
    [b"not json", b'["evt-1"]', b'{"id": 42}', b'{"id": ""}', b"\xff\xfe{}"],
)
def test_rejection_without_a_readable_id_says_so(
    caplog: pytest.LogCaptureFixture, payload: bytes
) -> None:
    """Without a JSON object holding a non-empty string id, the event is shown as '?'."""
    (line,) = rejection_lines(caplog, payload)
    assert f"on {TOPIC} (event ?): " in line


def test_rejection_id_cannot_forge_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    """An id with a line break is shown quoted, so it cannot start a fake log line."""
    payload = json.dumps({"id": "x\nERROR forged"}).encode()
    (line,) = rejection_lines(caplog, payload)
    assert "\n" not in line and "(event 'x\\nERROR forged')" in line


@pytest.mark.integration
def test_clean_stop_is_logged_at_info(
    mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopping the MQTT link logs the normal disconnection at INFO, not as a warning."""
    options = MqttOptions(
        host="127.0.0.1",
        port=mosquitto.port,
        client_id=f"gw-log-{uuid.uuid4().hex[:8]}",
        subscriptions=(),
    )
    link = MqttLink(options)
    with caplog.at_level(logging.DEBUG, logger="facility_gateway.subscriber"):
        link.start(lambda *_: None)
        assert link.connected.wait(10)
        link.stop()
    gone = [r for r in caplog.records if "disconnected from" in r.getMessage()]
    assert len(gone) == 1 and gone[0].levelno == logging.INFO
    assert f"127.0.0.1:{mosquitto.port}" in gone[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
