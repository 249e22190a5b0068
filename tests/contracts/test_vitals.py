"""Vital-sign quantities: units, LOINC codes, limits at their boundaries, flags, pseudonyms.

Expected values come from the sources named in ``facility_contracts.vitals`` (LOINC
2.7x, the 2018 Chinese hypertension guideline, WHO pulse oximetry, the 2020 Chinese
type 2 diabetes guideline, NEWS2), written out here, not read from the module.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from facility_contracts.errors import ContractError
from facility_contracts.vitals import (
    MIN_KEY_BYTES,
    PSEUDONYM_PATTERN,
    QUANTITIES,
    check_reading,
    check_readings,
    classify,
    is_crisis,
    is_outside_reference,
    normalise_card,
    pseudonymise,
)
from hypothesis import given
from hypothesis import strategies as st

#: type -> (unit, LOINC, lowest possible, highest possible)
SPEC = {
    "systolic_bp": ("mmHg", "8480-6", 40, 300),
    "diastolic_bp": ("mmHg", "8462-4", 20, 200),
    "heart_rate": ("bpm", "8867-4", 20, 300),
    "spo2": ("%", "59408-5", 50, 100),
    "body_temperature": ("degC", "8310-5", 30, 45),
    "body_weight": ("kg", "29463-7", 10, 300),
    "blood_glucose": ("mmol/L", "15074-8", 0.5, 40),
}
KEY = bytes(range(32))


def reference_pseudonym(card: str, key: bytes) -> str:
    """The pseudonym as docs/protocols.md defines it: spaces and dashes removed, upper
    case, HMAC-SHA256 over "facility-member-v1" NUL card, first 32 hex digits."""
    text = card.replace(" ", "").replace("-", "").upper()
    mac = hmac.new(key, b"facility-member-v1\x00" + text.encode("ascii"), hashlib.sha256)
    return "m1-" + mac.hexdigest()[:32]


def test_table_matches_the_sources() -> None:
    """Every reading type has the unit, LOINC code and possible range of the sources."""
    got = {t: (q.unit, q.loinc, *q.possible) for t, q in QUANTITIES.items()}
    assert got == SPEC


@pytest.mark.parametrize("type_", sorted(SPEC))
def test_possible_range_is_inclusive_at_both_ends(type_: str) -> None:
    """The lowest and highest possible values pass; just outside is impossible_value."""
    unit, loinc, low, high = SPEC[type_]
    check_reading(type_, low, unit, loinc)
    check_reading(type_, high, unit, loinc)
    for outside in (low - 0.01, high + 0.01):
        with pytest.raises(ContractError) as err:
            check_reading(type_, outside, unit)
        assert (err.value.reason, err.value.field, err.value.value) == (
            "impossible_value",
            "value",
            outside,
        )


@pytest.mark.parametrize("type_", sorted(SPEC))
def test_unit_and_loinc_must_be_the_types(type_: str) -> None:
    """Another unit or LOINC code than the type's is bad_unit naming the field and value."""
    unit, loinc, low, _ = SPEC[type_]
    with pytest.raises(ContractError) as err:
        check_reading(type_, low, "furlong", loinc)
    assert (err.value.reason, err.value.field, err.value.value) == ("bad_unit", "unit", "furlong")
    with pytest.raises(ContractError) as err:
        check_reading(type_, low, unit, "1-1")
    assert (err.value.reason, err.value.field, err.value.value) == ("bad_unit", "loinc", "1-1")


@pytest.mark.parametrize(
    ("type_", "value", "flag"),
    [
        ("systolic_bp", 89, "low"),
        ("systolic_bp", 90, "normal"),
        ("systolic_bp", 139, "normal"),
        ("systolic_bp", 139.5, "high"),
        ("systolic_bp", 179.9, "high"),
        ("systolic_bp", 180, "crisis_high"),
        ("diastolic_bp", 59, "low"),
        ("diastolic_bp", 60, "normal"),
        ("diastolic_bp", 89, "normal"),
        ("diastolic_bp", 90, "high"),
        ("diastolic_bp", 109.9, "high"),
        ("diastolic_bp", 110, "crisis_high"),
        ("heart_rate", 39.9, "crisis_low"),
        ("heart_rate", 40, "low"),
        ("heart_rate", 60, "normal"),
        ("heart_rate", 100, "normal"),
        ("heart_rate", 101, "high"),
        ("heart_rate", 131, "crisis_high"),
        ("spo2", 89.9, "crisis_low"),
        ("spo2", 90, "low"),
        ("spo2", 94.9, "low"),
        ("spo2", 95, "normal"),
        ("spo2", 100, "normal"),
        ("body_temperature", 34.9, "crisis_low"),
        ("body_temperature", 35.0, "low"),
        ("body_temperature", 36.0, "normal"),
        ("body_temperature", 37.3, "normal"),
        ("body_temperature", 37.4, "high"),
        ("body_temperature", 39.5, "crisis_high"),
        ("body_weight", 10, "no_reference"),
        ("body_weight", 300, "no_reference"),
        ("blood_glucose", 2.9, "crisis_low"),
        ("blood_glucose", 3.0, "low"),
        ("blood_glucose", 3.9, "normal"),
        ("blood_glucose", 11.0, "normal"),
        ("blood_glucose", 11.1, "high"),
        ("blood_glucose", 16.7, "crisis_high"),
    ],
)
def test_classify_at_the_thresholds(type_: str, value: float, flag: str) -> None:
    """Reference ranges are inclusive; crisis is at or above the high threshold and
    strictly below the low one (SpO2 < 90 %, systolic >= 180 mmHg, diastolic >= 110 mmHg)."""
    assert classify(type_, value) == flag


def test_crisis_and_outside_reference_flags() -> None:
    """Crisis flags are outside the reference range; no_reference and normal are neither."""
    assert [is_crisis(f) for f in ("crisis_low", "low", "normal", "high", "crisis_high")] == [
        True,
        False,
        False,
        False,
        True,
    ]
    assert [is_outside_reference(f) for f in ("crisis_low", "low", "high", "crisis_high")] == [
        True
    ] * 4
    assert not is_outside_reference("normal") and not is_outside_reference("no_reference")
    assert not is_crisis("no_reference")


def test_unknown_type_is_named() -> None:
    """An unknown reading type is bad_value on the field type; classify raises KeyError."""
    with pytest.raises(ContractError) as err:
        check_reading("cholesterol", 5.0, "mmol/L")
    assert (err.value.reason, err.value.field, err.value.value) == (
        "bad_value",
        "type",
        "cholesterol",
    )
    with pytest.raises(KeyError):
        classify("cholesterol", 5.0)


def test_session_checks_index_repeats_and_inverted_pressure() -> None:
    """Fields are prefixed readings.{i}.; a type twice is bad_value; systolic below
    diastolic is bp_inverted; equal pressures pass."""
    with pytest.raises(ContractError) as err:
        check_readings([("heart_rate", 70, "bpm"), ("spo2", 101, "%")])
    assert (err.value.reason, err.value.field) == ("impossible_value", "readings.1.value")
    with pytest.raises(ContractError) as err:
        check_readings([("heart_rate", 70, "bpm"), ("heart_rate", 72, "bpm")])
    assert (err.value.reason, err.value.field) == ("bad_value", "readings.1.type")
    with pytest.raises(ContractError) as err:
        check_readings([("systolic_bp", 80, "mmHg"), ("diastolic_bp", 95, "mmHg")])
    assert (err.value.reason, err.value.value) == ("bp_inverted", "80/95")
    check_readings([("systolic_bp", 95, "mmHg"), ("diastolic_bp", 95, "mmHg")])


@pytest.mark.parametrize(
    ("printed", "normal"),
    [
        ("3301 0600 1234", "330106001234"),
        ("3301-0600-1234", "330106001234"),
        ("ab12 cd34", "AB12CD34"),
        (" 3301\t0600 ", "33010600"),
        ("1234", "1234"),
        ("X" * 32, "X" * 32),
    ],
)
def test_card_numbers_normalise(printed: str, normal: str) -> None:
    """Spaces, tabs and dashes go, letters are upper-cased."""
    assert normalise_card(printed) == normal


@pytest.mark.parametrize("bad", ["123", "X" * 33, "3301_0600", "3301.0600", "卡3301060", ""])
def test_bad_card_numbers_are_refused_without_showing_them(bad: str) -> None:
    """Fewer than 4 or more than 32 characters, or other characters: bad_value on the
    field card, the text naming only the length."""
    with pytest.raises(ContractError) as err:
        normalise_card(bad)
    assert (err.value.reason, err.value.field) == ("bad_value", "card")
    if bad:
        assert bad not in str(err.value) and bad not in repr(err.value.value)


def test_pseudonym_is_the_documented_hmac() -> None:
    """m1- and the first 32 hex digits of HMAC-SHA256(key, prefix NUL normalised card)."""
    got = pseudonymise("3301 0600 1234", KEY)
    assert got == reference_pseudonym("3301 0600 1234", KEY)
    assert re.fullmatch(PSEUDONYM_PATTERN, got)


def test_pseudonym_is_stable_and_depends_on_key_and_card() -> None:
    """Same card and key: same pseudonym; another key or card: another pseudonym."""
    first = pseudonymise("330106001234", KEY)
    assert pseudonymise("330106001234", KEY) == first
    assert pseudonymise("330106001234", bytes(32)) != first
    assert pseudonymise("330106001235", KEY) != first


def test_pseudonym_ignores_how_the_card_was_typed() -> None:
    """Spaces, dashes and letter case do not change the pseudonym."""
    forms = ["ab12 cd34 ef56", "AB12-CD34-EF56", "ab12cd34ef56", " Ab12 - cD34 ef56 "]
    assert len({pseudonymise(f, KEY) for f in forms}) == 1


def test_short_key_is_refused() -> None:
    """A key under 16 bytes is a ValueError; 16 bytes are enough."""
    assert MIN_KEY_BYTES == 16
    with pytest.raises(ValueError, match="at least 16 bytes"):
        pseudonymise("33010600", bytes(15))
    assert pseudonymise("33010600", bytes(16)) == reference_pseudonym("33010600", bytes(16))


CARDS = st.text(alphabet="0123456789ABCDEFabcdef", min_size=4, max_size=24)
KEYS = st.binary(min_size=16, max_size=64)


@given(card=CARDS, key=KEYS, cut=st.integers(min_value=0, max_value=24))
def test_pseudonym_matches_reference_for_any_card(card: str, key: bytes, cut: int) -> None:
    """For any card and key: the reference HMAC, also with a dash and spaces typed in."""
    typed = card[:cut] + " - " + card[cut:]
    want = reference_pseudonym(card, key)
    assert pseudonymise(card, key) == want == pseudonymise(typed, key)
    assert re.fullmatch(PSEUDONYM_PATTERN, want)
