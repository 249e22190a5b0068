"""Helpers for the health kiosk tests: a reference pseudonym, kiosk messages, configs.

The pseudonym is computed here from docs/protocols.md (health kiosk, pseudonyms) with
the standard library, never with ``facility_contracts.vitals``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import uuid
from pathlib import Path
from typing import Any

KEY_HEX = "00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef"
KEY = bytes.fromhex(KEY_HEX)
#: LOINC code of each reading type (LOINC 2.7x), written out from the standard.
LOINC = {
    "systolic_bp": "8480-6",
    "diastolic_bp": "8462-4",
    "heart_rate": "8867-4",
    "spo2": "59408-5",
    "body_temperature": "8310-5",
    "body_weight": "29463-7",
    "blood_glucose": "15074-8",
}


def reference_pseudonym(card: str, key: bytes = KEY) -> str:
    """``m1-`` + first 32 hex digits of HMAC-SHA256(key, "facility-member-v1" NUL card)."""
    text = "".join(card.split()).replace("-", "").upper()
    mac = hmac.new(key, b"facility-member-v1\x00" + text.encode("ascii"), hashlib.sha256)
    return "m1-" + mac.hexdigest()[:32]


def card_forms(card: str) -> list[bytes]:
    """Every way a card number could show up in bytes: as printed, without separators."""
    plain = "".join(card.split()).replace("-", "")
    return [f.encode() for f in {card, plain, plain.upper(), plain.lower()}]


def write_key(folder: Path, text: str = KEY_HEX + "\n", mode: int = 0o600) -> Path:
    """A key file with ``text`` and ``mode``."""
    path = folder / "pseudonym.key"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def session(
    card: str = "3301 0600 1234",
    *,
    kiosk: str = "kiosk-elder-1",
    readings: list[tuple[str, float, str]] | None = None,
    ts: int = 1_764_400_000_000,
    synced: bool = True,
    session_id: str | None = None,
) -> dict[str, Any]:
    """One kiosk message (a dict; ``json.dumps`` it), blood pressure by default."""
    readings = readings or [
        ("systolic_bp", 152, "mmHg"),
        ("diastolic_bp", 94, "mmHg"),
        ("heart_rate", 76, "bpm"),
    ]
    return {
        "v": 1,
        "id": session_id or str(uuid.uuid4()),
        "kiosk": kiosk,
        "ts": ts,
        "synced": synced,
        "card": card,
        "readings": [{"type": t, "value": v, "unit": u} for t, v, u in readings],
    }


def payload(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg).encode()


def kiosk_device(key_file: Path, **over: Any) -> dict[str, Any]:
    """A health_kiosk device section."""
    dev: dict[str, Any] = {
        "type": "health_kiosk",
        "id": "kiosks-elderly",
        "broker": "mqtt://127.0.0.1:1884",
        "key_file": str(key_file),
        "kiosks": {"kiosk-elder-1": "elderly-care", "kiosk-elder-2": "day-room"},
    }
    dev.update(over)
    return dev
