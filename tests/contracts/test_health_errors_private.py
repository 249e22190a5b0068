"""Errors about health readings never carry a member pseudonym or a vital-sign value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facility_contracts.codec import decode_event
from facility_contracts.errors import ContractError

GOLDEN = Path(__file__).resolve().parents[2] / "contracts" / "facility_contracts" / "golden"
VALID = json.loads((GOLDEN / "valid-health-reading.json").read_text())["message"]


def _with(**body: object) -> bytes:
    msg = json.loads(json.dumps(VALID))
    msg["body"].update(body)
    return json.dumps(msg).encode()


@pytest.mark.parametrize(
    ("payload", "reason", "field", "secret"),
    [
        (_with(member="m1-not-a-pseudonym-7731"), "bad_value", "body.member", "7731"),
        (
            _with(readings=[{"type": "spo2", "value": 101.5, "unit": "%", "loinc": "59408-5"}]),
            "impossible_value",
            "body.readings.0.value",
            "101.5",
        ),
        (
            _with(
                readings=[
                    {"type": "systolic_bp", "value": 87.5, "unit": "mmHg", "loinc": "8480-6"},
                    {"type": "diastolic_bp", "value": 96.5, "unit": "mmHg", "loinc": "8462-4"},
                ]
            ),
            "bp_inverted",
            "body.readings",
            "96.5",
        ),
        (
            _with(
                readings=[{"type": "heart_rate", "value": "71.5", "unit": "bpm", "loinc": "8867-4"}]
            ),
            "wrong_type",
            "body.readings.0.value",
            "71.5",
        ),
    ],
)
def test_health_reading_errors_hide_the_value(payload, reason, field, secret):
    """A bad health reading is rejected with reason and field; the text shows no value."""
    with pytest.raises(ContractError) as err:
        decode_event(payload)
    assert (err.value.reason, err.value.field, err.value.value) == (reason, field, "<hidden>")
    assert secret not in str(err.value)


def test_door_crossing_errors_still_show_the_value():
    """Other kinds keep the offending value in the error (it helps a technician)."""
    msg = json.loads((GOLDEN / "valid-door-crossing.json").read_text())["message"]
    msg["body"]["in"] = -3
    with pytest.raises(ContractError) as err:
        decode_event(json.dumps(msg))
    assert err.value.value == -3
