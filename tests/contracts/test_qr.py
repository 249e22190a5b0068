"""Rotating and static staff QR codes: format, HMAC, time steps, rejection reasons."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from facility_contracts import qr
from facility_contracts.errors import ContractError

SECRET = b"complex-secret-0123456789"
BADGE = "04A23B1C"
# RFC 6238 appendix B: unix time 1111111109 s has T = 0x023523EC = 37037036 (X = 30 s).
RFC_TIME_MS = 1_111_111_109_000
RFC_STEP = 37_037_036


def reference_mac(message: str) -> str:
    """HMAC-SHA256 truncated to 16 bytes, base32 without padding, written from the spec."""
    digest = hmac.new(SECRET, message.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:16]).decode().rstrip("=")


def test_time_step_matches_rfc6238() -> None:
    """The time step is floor(unix s / 30): RFC 6238's 1111111109 s gives T = 37037036."""
    assert qr.time_step(RFC_TIME_MS) == RFC_STEP
    assert qr.time_step(59_000) == 1 and qr.time_step(29_999) == 0


def test_rotating_code_text() -> None:
    """A rotating code is FO1R:badge:step:mac with the MAC over FO1R|badge|step."""
    want = f"FO1R:{BADGE}:{RFC_STEP}:" + reference_mac(f"FO1R|{BADGE}|{RFC_STEP}")
    assert qr.encode_rotating(BADGE, RFC_STEP, secret=SECRET) == want
    assert len(want.rsplit(":", 1)[1]) == 26


def test_static_code_text() -> None:
    """A static code is FO1S:badge:mac with the MAC over FO1S|badge."""
    want = f"FO1S:{BADGE}:" + reference_mac(f"FO1S|{BADGE}")
    assert qr.encode_static(BADGE, secret=SECRET) == want


def test_codes_use_qr_alphanumeric_characters_only() -> None:
    """Codes use only the QR alphanumeric set, so symbols stay small."""
    allowed = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    for text in (
        qr.encode_rotating("04D2E1AA6F1E80", RFC_STEP, secret=SECRET),
        qr.encode_static(BADGE, secret=SECRET),
    ):
        assert set(text) <= allowed


@pytest.mark.parametrize("offset", [0, -1])
def test_current_and_previous_step_accepted(offset: int) -> None:
    """A rotating code of the current or the previous step verifies as rotating_qr."""
    text = qr.encode_rotating(BADGE, RFC_STEP + offset, secret=SECRET)
    claim = qr.verify(text, secret=SECRET, now_ms=RFC_TIME_MS)
    assert claim == qr.QrClaim(BADGE, RFC_STEP + offset, "rotating_qr")


def test_static_code_is_weaker_proof() -> None:
    """A static code verifies at any time, flagged static_qr."""
    text = qr.encode_static(BADGE, secret=SECRET)
    assert qr.verify(text, secret=SECRET, now_ms=0).proof == "static_qr"


def rejected(text: str, now_ms: int = RFC_TIME_MS, secret: bytes = SECRET) -> str:
    with pytest.raises(ContractError) as info:
        qr.verify(text, secret=secret, now_ms=now_ms)
    assert info.value.field == "qr"
    return info.value.reason


def test_old_and_future_steps_rejected() -> None:
    """A step two or more behind is stale (a photographed code); one ahead is future."""
    old = qr.encode_rotating(BADGE, RFC_STEP - 2, secret=SECRET)
    ahead = qr.encode_rotating(BADGE, RFC_STEP + 1, secret=SECRET)
    assert rejected(old) == "stale"
    assert rejected(ahead) == "future"


def test_forged_or_foreign_codes_rejected() -> None:
    """A changed badge or step, or another complex's secret, fails the MAC."""
    text = qr.encode_rotating(BADGE, RFC_STEP, secret=SECRET)
    assert rejected(text.replace(BADGE, "04A23B1D")) == "mac"
    assert rejected(text.replace(str(RFC_STEP), str(RFC_STEP - 1))) == "mac"
    assert rejected(text, secret=b"another-secret-of-16+") == "mac"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "https://example.org/",
        f"FO1R:{BADGE}:{RFC_STEP}",
        f"FO1R:04a23b1c:{RFC_STEP}:" + "A" * 26,
        f"FO1R:04A23B:{RFC_STEP}:" + "A" * 26,  # 3-byte badge
        f"FO1R:{BADGE}:0{RFC_STEP}:" + "A" * 26,  # leading zero in the step
        f"FO1S:{BADGE}:" + "A" * 25,
        "FO1S:" + "0" * 80,
    ],
)
def test_malformed_codes_rejected_as_format(text: str) -> None:
    """Anything not in one of the two formats is rejected as format, never crashes."""
    assert rejected(text) == "format"


def test_short_secret_refused() -> None:
    """A secret under 16 bytes is refused when encoding."""
    with pytest.raises(ContractError) as info:
        qr.encode_static(BADGE, secret=b"short")
    assert info.value.reason == "bad_secret"
