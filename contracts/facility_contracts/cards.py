"""Card and tag UIDs in one canonical form: uppercase hex, first byte first.

ISO/IEC 14443-3 UIDs are 4, 7 or 10 bytes ("single", "double", "triple" size); they are
never truncated here. Readers print them in many ways; each converter below takes one
printed form and returns the canonical string (``"04A23B1C"``):

==================  ===========================  =====================================
form                example printed              converter
==================  ===========================  =====================================
hex                 ``04:a2:3b:1c``, ``0x04A2``   :func:`from_hex`
hex, reversed       ``1C3BA204`` (LSB first)     :func:`from_hex` (``reverse=True``)
hex + check byte    ``04A23B1C81`` (BCC = XOR)   :func:`from_hex` (stripped, verified)
decimal ("8H10D")   ``0077740828``               :func:`from_decimal`
decimal, reversed   ``0473670148``               :func:`from_decimal` (``byte_order``)
wiegand 3+5         ``162,15132``                lossy (24 bits): :func:`wiegand26_of`
EM4100 tag (5 B)    ``1A0040B83D``               :func:`from_em4100` (4-byte id)
==================  ===========================  =====================================

The wiegand-style 3+5 digit form (facility code 0-255, card number 0-65535) keeps only
24 bits of a 4-byte UID, so it cannot give a canonical UID; :func:`wiegand26_of`
computes it from a UID and :func:`matches_wiegand26` compares. Every function is pure
and raises :class:`~facility_contracts.errors.ContractError` (field ``uid``) on bad input.
Source: ISO/IEC 14443-3 section 6.5.4 (UID sizes, BCC = XOR of the preceding UID bytes).
"""

from __future__ import annotations

import re
from functools import reduce
from typing import Literal

from facility_contracts.errors import ContractError

#: UID sizes in bytes (ISO/IEC 14443-3 single, double, triple).
UID_LENGTHS: tuple[int, ...] = (4, 7, 10)
#: Most decimal digits a printed UID of each size can have (2**32-1, 2**56-1, 2**80-1).
_DECIMAL_DIGITS = {4: 10, 7: 17, 10: 25}

_CANONICAL_RE = re.compile(r"^(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$")
_SEPARATORS = re.compile(r"[\s:\-]")
_WIEGAND_RE = re.compile(r"^(\d{1,3})[,\s/-]?(\d{5})$")

ByteOrder = Literal["big", "little"]


def _fail(reason: str, message: str, value: object, field: str = "uid") -> ContractError:
    return ContractError(reason, message, field=field, value=value)


def is_canonical(text: str) -> bool:
    """True when ``text`` is already a canonical UID (uppercase hex of 4, 7 or 10 bytes)."""
    return bool(_CANONICAL_RE.match(text))


def canonical(uid: bytes) -> str:
    """The canonical string of UID bytes (first byte first).

    Raises:
        ContractError: ``bad_length`` unless ``uid`` is 4, 7 or 10 bytes.
    """
    if len(uid) not in UID_LENGTHS:
        raise _fail("bad_length", "a UID has 4, 7 or 10 bytes", uid.hex().upper())
    return uid.hex().upper()


def _hex_bytes(text: str) -> bytes:
    if not isinstance(text, str):
        raise _fail("wrong_type", "a printed UID is a string", text)
    cleaned = _SEPARATORS.sub("", text.strip())
    if cleaned[:2].lower() == "0x":
        cleaned = cleaned[2:]
    if not cleaned or len(cleaned) % 2 or not re.fullmatch(r"[0-9A-Fa-f]+", cleaned):
        if not re.fullmatch(r"[0-9A-Fa-f]*", cleaned):
            message = "not hex: use the digits 0-9 and A-F"
        elif not cleaned:
            message = "empty: expected hex digits"
        else:
            message = "expected an even number of hex digits"
        raise _fail("bad_value", message, text)
    return bytes.fromhex(cleaned)


def _strip_check_byte(raw: bytes, text: str) -> bytes:
    """Drop a trailing BCC (XOR of the UID bytes) from 5-, 8- or 11-byte input."""
    if len(raw) in UID_LENGTHS:
        return raw
    if len(raw) - 1 in UID_LENGTHS:
        body, check = raw[:-1], raw[-1]
        if reduce(lambda a, b: a ^ b, body, 0) != check:
            raise _fail("bad_check_byte", "the trailing byte is not the XOR of the UID", text)
        return body
    raise _fail("bad_length", "a UID has 4, 7 or 10 bytes (plus an optional check byte)", text)


def from_hex(text: str, *, reverse: bool = False) -> str:
    """Canonical UID from printed hex (any case; ``:``, ``-``, spaces and ``0x`` allowed).

    Args:
        text: what the reader printed.
        reverse: True when the reader prints the last byte first (LSB first).

    A trailing check byte (XOR of the UID bytes, read in the printed order) is verified
    and removed.

    Raises:
        ContractError: ``bad_value`` (not hex), ``bad_length``, ``bad_check_byte``.
    """
    raw = _strip_check_byte(_hex_bytes(text), text)
    return canonical(raw[::-1] if reverse else raw)


def from_decimal(text: str, *, byte_order: ByteOrder = "big", length: int | None = None) -> str:
    """Canonical UID from its decimal print (e.g. the 10-digit "8H10D" form of 4 bytes).

    Args:
        text: decimal digits, leading zeros allowed (``"0077740828"``).
        byte_order: ``big`` when the number reads the UID first byte first,
            ``little`` when the reader took the bytes last-first (common on 125 kHz/
            Mifare readers that print the "reversed" decimal).
        length: UID bytes; by default from the digit count (<= 10 -> 4, <= 17 -> 7,
            <= 25 -> 10).

    Raises:
        ContractError: ``bad_value`` (not digits), ``bad_length``, ``out_of_range``
            (the number needs more bytes than ``length``).
    """
    if not isinstance(text, str) or not text.strip().isdigit() or not text.strip().isascii():
        raise _fail("bad_value", "expected decimal digits", text)
    digits = text.strip()
    if length is None:
        length = next((n for n, d in _DECIMAL_DIGITS.items() if len(digits) <= d), 0)
    if length not in UID_LENGTHS:
        raise _fail("bad_length", "a UID has 4, 7 or 10 bytes", text)
    number = int(digits)
    if number >= 1 << (8 * length):
        raise _fail("out_of_range", f"number does not fit in {length} bytes", text)
    return canonical(number.to_bytes(length, byte_order))


def parse_wiegand26(text: str) -> tuple[int, int]:
    """(facility code, card number) from the 3+5 digit form ``"162,15132"``/``"16215132"``.

    Raises:
        ContractError: ``bad_value`` when not 3+5 digits, ``out_of_range`` when the
            facility code is over 255.
    """
    match = _WIEGAND_RE.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise _fail("bad_value", "expected 3+5 digits (facility, card number)", text)
    facility, number = int(match.group(1)), int(match.group(2))
    if facility > 255 or number > 65535:
        raise _fail("out_of_range", "facility code 0-255, card number 0-65535", text)
    return facility, number


def wiegand26_of(uid: str, *, byte_order: ByteOrder = "big") -> str:
    """The 3+5 digit wiegand form (``"FFF,NNNNN"``) a reader prints for a 4-byte UID.

    It keeps the low 24 bits of the UID read as a number in ``byte_order``: facility
    code = bits 16-23, card number = bits 0-15.

    Raises:
        ContractError: ``bad_value`` unless ``uid`` is a canonical 4-byte UID.
    """
    if not isinstance(uid, str) or not is_canonical(uid) or len(uid) != 8:
        raise _fail("bad_value", "wiegand 26 applies to a canonical 4-byte UID", uid)
    number = int.from_bytes(bytes.fromhex(uid), byte_order)
    return f"{(number >> 16) & 0xFF:03d},{number & 0xFFFF:05d}"


def matches_wiegand26(uid: str, printed: str, *, byte_order: ByteOrder = "big") -> bool:
    """True when the 3+5 form ``printed`` is what ``uid`` gives (24 bits, so not unique)."""
    return parse_wiegand26(printed) == parse_wiegand26(wiegand26_of(uid, byte_order=byte_order))


Form = Literal["hex", "hex_reversed", "decimal", "decimal_reversed"]
FORMS: tuple[Form, ...] = ("hex", "hex_reversed", "decimal", "decimal_reversed")


def normalize(text: str, form: Form = "hex") -> str:
    """Canonical UID from ``text`` printed in ``form`` (see the module table).

    Raises:
        ContractError: as the converter for ``form``; ``bad_value`` with field ``form``
            for an unknown form.
    """
    if form == "hex":
        return from_hex(text)
    if form == "hex_reversed":
        return from_hex(text, reverse=True)
    if form == "decimal":
        return from_decimal(text)
    if form == "decimal_reversed":
        return from_decimal(text, byte_order="little")
    raise _fail("bad_value", f"unknown card form; use one of {', '.join(FORMS)}", form, "form")


#: Bytes of a 125 kHz EM4100 tag's code: a version (customer) byte and a 32-bit id.
EM4100_BYTES = 5


def from_em4100(tag: bytes | str) -> str:
    """Canonical badge of a 125 kHz EM4100 tag: its 32-bit id as a 4-byte UID.

    An EM4100 tag carries 40 data bits: a version (customer/manufacturer) byte, then a
    32-bit id. The canonical badge is the id alone, first byte first (``1A0040B83D`` ->
    ``0040B83D``), because that is the number every other print of the card carries:
    the 10-digit decimal on the card and on desktop readers ("8H10D", ``0004241469``:
    :func:`from_decimal`), its reversed-byte variants, and the wiegand 3+5 form (low
    24 bits, ``064,47165``: :func:`matches_wiegand26`). So a card registered from any
    of those prints matches the reads of a UART reader exactly. The version byte is
    checked by the reader frame's XOR and dropped here; two tags differing only in it
    share a badge (as they share their printed number). The 10-hex-digit form is not a
    registry form: read as :func:`from_hex` it would be a 4-byte UID plus a check byte.

    Args:
        tag: the 5 data bytes, or their 10 hex digits as printed (``:``, ``-``, spaces
            and ``0x`` allowed, any case).

    Raises:
        ContractError: ``bad_value`` (not hex), ``bad_length`` (not 5 bytes).
    """
    raw = tag if isinstance(tag, bytes) else _hex_bytes(tag)
    if len(raw) != EM4100_BYTES:
        raise _fail("bad_length", "an EM4100 tag has 5 bytes (version + 4-byte id)", tag)
    return canonical(raw[1:])
