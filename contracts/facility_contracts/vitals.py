"""Vital-sign quantities measured at health kiosks: units, LOINC codes, limits. Pure.

One table, :data:`QUANTITIES`, fixes for each reading type its unit (UCUM-like text as
kiosks print it), its LOINC code, the physiologically possible range (a value outside it
is a broken sensor or a typing error and is rejected), the reference range (normal for an
adult at rest) and the crisis range (the clinician on duty is alerted at once).

Sources:
- LOINC codes: LOINC 2.7x (8480-6 systolic BP, 8462-4 diastolic BP, 8867-4 heart rate,
  59408-5 SpO2 by pulse oximetry, 8310-5 body temperature, 29463-7 body weight,
  15074-8 glucose in blood, mmol/L).
- Reference ranges: 中国高血压防治指南 2018 (hypertension >= 140/90 mmHg), WHO pulse oximetry
  manual (SpO2 95-100 %), 中国2型糖尿病防治指南 2020 (random glucose >= 11.1 mmol/L diabetic,
  < 3.9 hypoglycaemia).
- Crisis ranges: hypertensive crisis >= 180 systolic or >= 110 diastolic (2018 guideline,
  also the issue text), SpO2 < 90 %, the others are common early-warning thresholds (NEWS2).

Validation (:func:`check_readings`) raises :class:`~facility_contracts.errors.ContractError`
with reason ``bad_unit``, ``impossible_value`` or ``bp_inverted``, naming the field and
carrying the value in ``ContractError.value`` (never in the message text, which may be
logged centrally), so every receiver rejects and counts a bad reading the same way.

Pseudonyms (:func:`pseudonymise`): the member card number never leaves the complex; the
edge replaces it with ``m1-`` + the first 32 hex digits of HMAC-SHA256(per-complex key,
normalised card number). Without the complex's key the card cannot be recovered or
guessed by hashing every card number.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Literal

from facility_contracts.errors import ContractError

ReadingType = Literal[
    "systolic_bp",
    "diastolic_bp",
    "heart_rate",
    "spo2",
    "body_temperature",
    "body_weight",
    "blood_glucose",
]

#: Pseudonym text: ``m1-`` and 32 lowercase hex digits (128 bits of HMAC-SHA256).
PSEUDONYM_PATTERN = r"^m1-[0-9a-f]{32}$"
#: Member card numbers as kiosks read them: 4 to 32 letters or digits (spaces and dashes
#: are removed first, letters are upper-cased).
CARD_PATTERN = r"^[0-9A-Z]{4,32}$"
_CARD_RE = re.compile(CARD_PATTERN)
#: Smallest accepted per-complex pseudonym key, bytes.
MIN_KEY_BYTES = 16


@dataclass(frozen=True, slots=True)
class Quantity:
    """One reading type: unit, LOINC code and its ranges (inclusive lows, inclusive highs).

    ``possible``: values outside are rejected (``impossible_value``). ``reference``: normal
    range; ``None`` when no range applies without more data (body weight needs height).
    ``crisis_low`` / ``crisis_high``: a value strictly below / at or above alerts the
    clinician on duty; ``None`` when there is no such threshold.
    """

    type: ReadingType
    unit: str
    loinc: str
    display: str
    possible: tuple[float, float]
    reference: tuple[float, float] | None
    crisis_low: float | None
    crisis_high: float | None


QUANTITIES: dict[str, Quantity] = {
    q.type: q
    for q in (
        Quantity("systolic_bp", "mmHg", "8480-6", "Systolic blood pressure",
                 (40, 300), (90, 139), None, 180),
        Quantity("diastolic_bp", "mmHg", "8462-4", "Diastolic blood pressure",
                 (20, 200), (60, 89), None, 110),
        Quantity("heart_rate", "bpm", "8867-4", "Heart rate",
                 (20, 300), (60, 100), 40, 131),
        Quantity("spo2", "%", "59408-5", "Oxygen saturation by pulse oximetry",
                 (50, 100), (95, 100), 90, None),
        Quantity("body_temperature", "degC", "8310-5", "Body temperature",
                 (30, 45), (36.0, 37.3), 35.0, 39.5),
        Quantity("body_weight", "kg", "29463-7", "Body weight",
                 (10, 300), None, None, None),
        Quantity("blood_glucose", "mmol/L", "15074-8", "Glucose in blood",
                 (0.5, 40), (3.9, 11.0), 3.0, 16.7),
    )
}  # fmt: skip

Flag = Literal["crisis_low", "low", "normal", "high", "crisis_high", "no_reference"]


def classify(type_: str, value: float) -> Flag:
    """Where ``value`` of ``type_`` falls: crisis, outside the reference range, or normal.

    Raises:
        KeyError: unknown ``type_`` (validate with :func:`check_readings` first).
    """
    q = QUANTITIES[type_]
    if q.crisis_low is not None and value < q.crisis_low:
        return "crisis_low"
    if q.crisis_high is not None and value >= q.crisis_high:
        return "crisis_high"
    if q.reference is None:
        return "no_reference"
    low, high = q.reference
    if value < low:
        return "low"
    if value > high:
        return "high"
    return "normal"


def is_crisis(flag: Flag) -> bool:
    """True for a flag in a crisis range (the clinician on duty is alerted)."""
    return flag in ("crisis_low", "crisis_high")


def is_outside_reference(flag: Flag) -> bool:
    """True for a flag outside the reference range (crisis included)."""
    return flag in ("crisis_low", "low", "high", "crisis_high")


def check_reading(type_: str, value: float, unit: str, loinc: str | None = None) -> None:
    """Check one reading: known type, the type's unit (and LOINC code), a possible value.

    Raises:
        ContractError: ``bad_value`` (field ``type``) for an unknown type; ``bad_unit``
            (field ``unit``) for a unit or (field ``loinc``) a LOINC code that does not
            match the type; ``impossible_value`` (field ``value``) outside the possible range.
    """
    q = QUANTITIES.get(type_)
    if q is None:
        raise ContractError(
            "bad_value", f"unknown reading type {type_!r}", field="type", value=type_
        )
    if unit != q.unit:
        raise ContractError(
            "bad_unit", f"{type_} is measured in {q.unit}, not {unit!r}", field="unit", value=unit
        )
    if loinc is not None and loinc != q.loinc:
        raise ContractError(
            "bad_unit", f"{type_} has LOINC {q.loinc}, not {loinc!r}", field="loinc", value=loinc
        )
    low, high = q.possible
    if not low <= value <= high:
        raise ContractError(
            "impossible_value",
            f"{type_} is outside the possible {low}-{high} {unit}",
            field="value",
            value=value,
        )


def check_readings(readings: list[tuple[str, float, str]]) -> None:
    """Check one measuring session's readings ``[(type, value, unit), ...]`` together.

    Each reading as :func:`check_reading`; a type at most once; systolic not below
    diastolic when both are present.

    Raises:
        ContractError: as :func:`check_reading` (field prefixed ``readings.{i}.``),
            ``bad_value`` for a repeated type, ``bp_inverted`` for systolic < diastolic.
    """
    seen: dict[str, float] = {}
    for i, (type_, value, unit) in enumerate(readings):
        try:
            check_reading(type_, value, unit)
        except ContractError as exc:
            raise ContractError(
                exc.reason, exc.message, field=f"readings.{i}.{exc.field}", value=exc.value
            ) from exc
        if type_ in seen:
            raise ContractError(
                "bad_value", f"{type_} appears twice", field=f"readings.{i}.type", value=type_
            )
        seen[type_] = value
    sys, dia = seen.get("systolic_bp"), seen.get("diastolic_bp")
    if sys is not None and dia is not None and sys < dia:
        raise ContractError(
            "bp_inverted",
            "systolic below diastolic",
            field="readings",
            value=f"{sys}/{dia}",
        )


def normalise_card(card: str) -> str:
    """A member card number in one form: spaces and dashes removed, letters upper-cased.

    Raises:
        ContractError: ``bad_value`` (field ``card``) when the result is not 4 to 32
            letters or digits. The card number itself is not put in the message.
    """
    text = re.sub(r"[\s-]", "", card).upper()
    if not _CARD_RE.match(text):
        raise ContractError(
            "bad_value",
            "card number is not 4-32 letters or digits",
            field="card",
            value=f"<{len(text)} characters>",
        )
    return text


def pseudonymise(card: str, key: bytes) -> str:
    """The member pseudonym of ``card`` under the complex's ``key``: ``m1-`` + 32 hex.

    Raises:
        ContractError: ``bad_value`` for a bad card number (see :func:`normalise_card`).
        ValueError: ``key`` shorter than :data:`MIN_KEY_BYTES`.
    """
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"pseudonym key must be at least {MIN_KEY_BYTES} bytes")
    digest = hmac.new(
        key, b"facility-member-v1\x00" + normalise_card(card).encode(), hashlib.sha256
    ).hexdigest()
    return "m1-" + digest[:32]
