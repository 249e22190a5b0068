"""Card UIDs: every printed form to the one canonical form (table tests)."""

from __future__ import annotations

import pytest
from facility_contracts import cards
from facility_contracts.errors import ContractError

# Expected values worked out by hand: 04 A2 3B 1C = 0x04A23B1C = 77,740,828;
# read last-byte-first 0x1C3BA204 = 473,670,148; BCC = 04^A2^3B^1C = 0x81;
# low 24 bits A2 3B1C -> facility 162, card 15132.
HEX_CASES = [
    ("04A23B1C", False, "04A23B1C"),
    ("04a23b1c", False, "04A23B1C"),
    ("04:a2:3b:1c", False, "04A23B1C"),
    ("04-A2-3B-1C", False, "04A23B1C"),
    (" 04 A2 3B 1C ", False, "04A23B1C"),
    ("0x04A23B1C", False, "04A23B1C"),
    ("04A23B1C81", False, "04A23B1C"),  # trailing BCC stripped
    ("1C3BA204", True, "04A23B1C"),  # reversed byte order
    ("1C:3B:A2:04:81", True, "04A23B1C"),  # reversed, with BCC (XOR is order-free)
    ("04D2E1AA6F1E80", False, "04D2E1AA6F1E80"),  # 7-byte UID kept whole
    ("04d2e1aa6f1e80", False, "04D2E1AA6F1E80"),
    ("801E6FAAE1D204", True, "04D2E1AA6F1E80"),
    ("00112233445566778899", False, "00112233445566778899"),  # 10-byte UID
    ("00000000", False, "00000000"),  # leading zero bytes are not dropped
]


@pytest.mark.parametrize(("printed", "reverse", "expected"), HEX_CASES)
def test_from_hex_table(printed: str, reverse: bool, expected: str) -> None:
    """Each printed hex form maps to the canonical uppercase, first-byte-first UID."""
    assert cards.from_hex(printed, reverse=reverse) == expected


DECIMAL_CASES = [
    ("0077740828", "big", None, "04A23B1C"),
    ("77740828", "big", None, "04A23B1C"),
    ("0473670148", "little", None, "04A23B1C"),
    ("4294967295", "big", None, "FFFFFFFF"),
    ("0000000001", "big", None, "00000001"),
    ("1", "big", 7, "00000000000001"),
    # 7-byte UID 04 D2 E1 AA 6F 1E 80 as a 56-bit big-endian number:
    ("1357766575726208", "big", None, "04D2E1AA6F1E80"),
]


@pytest.mark.parametrize(("printed", "order", "length", "expected"), DECIMAL_CASES)
def test_from_decimal_table(printed: str, order: str, length: int | None, expected: str) -> None:
    """Decimal prints (8H10D, reversed) map to the canonical UID of the right size."""
    assert cards.from_decimal(printed, byte_order=order, length=length) == expected  # type: ignore[arg-type]


BAD = [
    (lambda: cards.from_hex("04A23B"), "bad_length"),
    (lambda: cards.from_hex("04A23B1C00"), "bad_check_byte"),
    (lambda: cards.from_hex("04A23B1"), "bad_value"),
    (lambda: cards.from_hex("04G23B1C"), "bad_value"),
    (lambda: cards.from_hex(""), "bad_value"),
    (lambda: cards.from_hex("0011223344556677889900AABB"), "bad_length"),
    (lambda: cards.from_decimal("4294967296"), "out_of_range"),
    (lambda: cards.from_decimal("12ab"), "bad_value"),
    (lambda: cards.from_decimal("-1"), "bad_value"),
    (lambda: cards.from_decimal("1" * 26), "bad_length"),
    (lambda: cards.from_decimal("٣"), "bad_value"),  # a non-ASCII digit
    (lambda: cards.parse_wiegand26("256,00001"), "out_of_range"),
    (lambda: cards.parse_wiegand26("12,345"), "bad_value"),
    (lambda: cards.wiegand26_of("04D2E1AA6F1E80"), "bad_value"),
    (lambda: cards.canonical(b"\x01\x02"), "bad_length"),
]


@pytest.mark.parametrize(("call", "reason"), BAD)
def test_bad_input_raises_contract_error(call, reason: str) -> None:  # type: ignore[no-untyped-def]
    """Bad input raises ContractError naming the reason, the field and the value."""
    with pytest.raises(ContractError) as info:
        call()
    assert info.value.reason == reason
    assert info.value.field == "uid"


def test_wiegand_3_5_form() -> None:
    """The 3+5 digit form keeps the low 24 bits: facility 162, card 15132 for 04A23B1C."""
    assert cards.wiegand26_of("04A23B1C") == "162,15132"
    assert cards.wiegand26_of("04A23B1C", byte_order="little") == "059,41476"  # 0x3BA204
    assert cards.matches_wiegand26("04A23B1C", "16215132")
    assert not cards.matches_wiegand26("04A23B1D", "162,15132")


def test_normalize_forms_and_unknown_form() -> None:
    """normalize() dispatches on the printed form and rejects an unknown one by field."""
    assert cards.normalize("1c3ba204", "hex_reversed") == "04A23B1C"
    assert cards.normalize("0473670148", "decimal_reversed") == "04A23B1C"
    with pytest.raises(ContractError) as info:
        cards.normalize("04A23B1C", "octal")  # type: ignore[arg-type]
    assert info.value.field == "form"


def test_is_canonical() -> None:
    """Only uppercase hex of 4, 7 or 10 bytes is canonical."""
    assert cards.is_canonical("04A23B1C")
    assert not cards.is_canonical("04a23b1c")
    assert not cards.is_canonical("04A23B")
