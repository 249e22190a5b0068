"""QR codes staff show to a check-in camera: rotating (replay-proof) and static.

Two text formats, both in QR alphanumeric mode (uppercase letters, digits and ``:``),
so the symbol stays small (version 3 or 4) and robust::

    FO1R:<badge>:<step>:<mac>     rotating: changes every 30 s      proof rotating_qr
    FO1S:<badge>:<mac>            static: printed once              proof static_qr

- ``badge``: the staff member's canonical card UID (:mod:`facility_contracts.cards`).
- ``step``: the time step T = floor(unix time in s / 30), decimal without leading zeros
  (RFC 6238 section 4: T0 = 0, X = 30 s).
- ``mac``: HMAC-SHA256 (RFC 2104) keyed with the complex's secret over the ASCII text
  ``FO1R|<badge>|<step>`` (rotating) or ``FO1S|<badge>`` (static), truncated to its
  first 16 bytes (128 bits, RFC 2104 section 5: at least half the hash output), RFC 4648
  base32 without padding (26 characters ``A-Z2-7``). Each complex has its own secret,
  so a code made for one complex fails the MAC at another. Unlike RFC 4226 HOTP there
  is no dynamic truncation to 6 digits: nobody types these codes, so 128 bits are kept.

A verifier (:func:`verify`) accepts a rotating code only for the current or previous
step of its own clock (a code lives 30 to 60 s); refusing a (badge, step) seen before
is the verifier's state, kept at the edge. A static code proves less: a photo of it
works forever, hence ``static_qr``. Every function is pure; failures raise
:class:`~facility_contracts.errors.ContractError` with field ``qr`` and a ``reason``:
``format``, ``mac``, ``stale`` (step older than the previous one) or ``future``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Literal

from facility_contracts.cards import is_canonical
from facility_contracts.errors import ContractError

#: Seconds per time step (RFC 6238 X).
STEP_S = 30
#: MAC bytes kept from the HMAC-SHA256 output (128 bits).
MAC_BYTES = 16
ROTATING = "FO1R"
STATIC = "FO1S"
_MAC = r"[A-Z2-7]{26}"
_ROTATING_RE = re.compile(rf"^{ROTATING}:([0-9A-F]{{8,20}}):(0|[1-9][0-9]{{0,11}}):({_MAC})$")
_STATIC_RE = re.compile(rf"^{STATIC}:([0-9A-F]{{8,20}}):({_MAC})$")

Proof = Literal["rotating_qr", "static_qr"]


@dataclass(frozen=True, slots=True)
class QrClaim:
    """What a verified code says.

    Attributes:
        badge: canonical badge UID.
        step: the time step of a rotating code; None for a static one.
        proof: ``rotating_qr`` or ``static_qr`` (as in the check-in event).
    """

    badge: str
    step: int | None
    proof: Proof


def _fail(reason: str, message: str, value: object) -> ContractError:
    return ContractError(reason, message, field="qr", value=value)


def time_step(unix_ms: int, step_s: int = STEP_S) -> int:
    """The time step of a UTC time in ms: floor(unix s / ``step_s``) (RFC 6238 T)."""
    return unix_ms // (step_s * 1000)


def _key(secret: bytes | str) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if len(key) < 16:
        raise _fail("bad_secret", "the QR secret must have at least 16 bytes", len(key))
    return key


def _mac(secret: bytes | str, message: str) -> str:
    digest = hmac.new(_key(secret), message.encode("ascii"), hashlib.sha256).digest()
    return base64.b32encode(digest[:MAC_BYTES]).decode().rstrip("=")


def _check_badge(badge: str) -> None:
    if not isinstance(badge, str) or not is_canonical(badge):
        raise _fail("format", "badge must be a canonical UID (uppercase hex, 4/7/10 bytes)", badge)


def _message(badge: str, step: int | None) -> str:
    """The ASCII text the MAC signs (see the module docstring)."""
    return f"{STATIC}|{badge}" if step is None else f"{ROTATING}|{badge}|{step}"


def encode_rotating(badge: str, step: int, *, secret: bytes | str) -> str:
    """The rotating code of ``badge`` for time step ``step``.

    Raises:
        ContractError: ``format`` (badge not canonical, step negative), ``bad_secret``.
    """
    _check_badge(badge)
    if not isinstance(step, int) or step < 0:
        raise _fail("format", "step must be an integer >= 0", step)
    mac = _mac(secret, _message(badge, step))
    return f"{ROTATING}:{badge}:{step}:{mac}"


def encode_static(badge: str, *, secret: bytes | str) -> str:
    """The static (printable) code of ``badge``.

    Raises:
        ContractError: ``format`` (badge not canonical), ``bad_secret``.
    """
    _check_badge(badge)
    return f"{STATIC}:{badge}:{_mac(secret, _message(badge, None))}"


def _parse(text: str) -> tuple[str, int | None, str]:
    """(badge, step or None for a static code, mac) of a code."""
    if not isinstance(text, str) or len(text) > 80:
        raise _fail("format", "not a facility-ops check-in code", text)
    if m := _ROTATING_RE.match(text):
        badge, step, mac = m.group(1), int(m.group(2)), m.group(3)
    elif m := _STATIC_RE.match(text):
        badge, step, mac = m.group(1), None, m.group(2)
    else:
        raise _fail("format", "not a facility-ops check-in code", text)
    _check_badge(badge)
    return badge, step, mac


def verify(
    text: str,
    *,
    secret: bytes | str,
    now_ms: int,
    step_s: int = STEP_S,
) -> QrClaim:
    """Check a decoded code's format, MAC and (rotating) time step.

    Args:
        text: what the QR decoder returned.
        secret: the complex's QR secret (at least 16 bytes).
        now_ms: the verifier's clock, UTC ms.
        step_s: seconds per step.

    Returns:
        The claim; a rotating code only when its step is ``T`` or ``T - 1`` of ``now_ms``.

    Raises:
        ContractError: ``format``, ``mac``, ``stale``, ``future``, ``bad_secret``.
    """
    badge, step, mac = _parse(text)
    want = _mac(secret, _message(badge, step))
    if not hmac.compare_digest(mac, want):
        raise _fail("mac", "the MAC does not match (forged, or another complex's)", text)
    if step is None:
        return QrClaim(badge, None, "static_qr")
    now = time_step(now_ms, step_s)
    if step > now:
        raise _fail("future", f"step {step} is ahead of this clock's step {now}", text)
    if step < now - 1:
        raise _fail("stale", f"step {step} is older than the previous step {now - 1}", text)
    return QrClaim(badge, step, "rotating_qr")
