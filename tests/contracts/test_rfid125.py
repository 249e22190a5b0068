"""125 kHz reader frames (STX, 10 hex, XOR, ETX) and EM4100 badges in every printed form."""

from __future__ import annotations

import pytest
from facility_contracts import cards
from facility_contracts.serial import rfid125
from facility_contracts.serial.framing import FrameError
from facility_contracts.serial.rfid125 import RfidFrame

# Worked by hand: data 1A 00 40 B8 3D, XOR = 1A^00 = 1A, ^40 = 5A, ^B8 = E2, ^3D = DF.
CARD = RfidFrame(version=0x1A, tag_id=0x0040B83D)
WIRE = b"\x021A0040B83DDF\x03"
# The reader datasheet's style of example: 62 E3 08 6C ED -> 62^E3 = 81, ^08 = 89,
# ^6C = E5, ^ED = 08.
DATASHEET = (b"\x0262E3086CED08\x03", RfidFrame(0x62, 0xE3086CED))


def test_encode_worked_example() -> None:
    """A card encodes to STX, ten uppercase hex digits, the XOR in two digits, ETX."""
    assert rfid125.encode(CARD) == WIRE
    assert len(WIRE) == rfid125.FRAME_BYTES == 14


@pytest.mark.parametrize(("wire", "frame"), [(WIRE, CARD), DATASHEET])
def test_decode_valid_frames(wire: bytes, frame: RfidFrame) -> None:
    """Valid frames decode to the version byte and the 32-bit id."""
    assert rfid125.decode(wire) == frame


BAD = [
    (b"\x021A0040B83DDE\x03", "checksum"),  # XOR digit off by one
    (b"\x021A0040B83CDF\x03", "checksum"),  # one id digit changed
    (b"\x02000000000000\x03", "zero_tag"),  # the phantom all-zero tag, checksum 00 valid
    (b"\x021A000000001A\x03", "zero_tag"),  # a version byte but a zero id
    (b"\x021a0040b83ddf\x03", "syntax"),  # lowercase is not the format
    (b"\x021A0040B83DD \x03", "syntax"),
    (b"\x021A0040B83DDF", "length"),
    (b"\x021A0040B83DDF0\x03", "length"),
    (b"1A0040B83DDF\x03\x03", "length"),
]


@pytest.mark.parametrize(("wire", "reason"), BAD)
def test_decode_rejects(wire: bytes, reason: str) -> None:
    """Bad checksum, zero tag, bad characters and bad length raise FrameError by reason."""
    with pytest.raises(FrameError) as info:
        rfid125.decode(wire)
    assert info.value.reason == reason


def test_every_single_digit_change_is_caught() -> None:
    """Changing any one of the 12 hex digits to another hex digit never yields a valid frame."""
    for pos in range(1, 13):
        for digit in b"0123456789ABCDEF":
            if digit == WIRE[pos]:
                continue
            changed = WIRE[:pos] + bytes([digit]) + WIRE[pos + 1 :]
            with pytest.raises(FrameError):
                rfid125.decode(changed)


def test_splitter_skips_noise_and_cut_frames() -> None:
    """Noise between frames is skipped and a frame cut by a stray STX is dropped."""
    split = rfid125.splitter()
    stream = b"\xff\x00zz" + WIRE + b"\x02\x31\x32" + DATASHEET[0] + b"\x03noise"
    out = split.feed(stream[:9]).frames + split.feed(stream[9:]).frames
    assert [rfid125.decode(f) for f in out] == [CARD, DATASHEET[1]]


def test_encode_rejects_out_of_range() -> None:
    """A version over 255 or an id over 32 bits cannot be encoded."""
    with pytest.raises(ValueError):
        rfid125.encode(RfidFrame(256, 1))
    with pytest.raises(ValueError):
        rfid125.encode(RfidFrame(1, 2**32))


# The card 1A 0040B83D printed by other readers (worked by hand): id 0x0040B83D =
# 4,241,469; bytes reversed 0x3DB84000 = 1,035,485,184; check byte 00^40^B8^3D = C5;
# low 24 bits 40 B83D -> facility 64, card 47165.
FORMS = [
    ("uart frame", lambda: rfid125.decode(WIRE).badge),
    ("em4100 hex", lambda: cards.from_em4100("1A0040B83D")),
    ("em4100 hex, separators", lambda: cards.from_em4100("1a:00:40:b8:3d")),
    ("em4100 bytes", lambda: cards.from_em4100(bytes.fromhex("1A0040B83D"))),
    ("id hex", lambda: cards.normalize("0040B83D", "hex")),
    ("id hex reversed", lambda: cards.normalize("3D:B8:40:00", "hex_reversed")),
    ("id hex + check byte", lambda: cards.normalize("0040B83DC5", "hex")),
    ("8H10D decimal", lambda: cards.normalize("0004241469", "decimal")),
    ("decimal, no zeros", lambda: cards.normalize("4241469", "decimal")),
    ("decimal reversed", lambda: cards.normalize("1035485184", "decimal_reversed")),
]


@pytest.mark.parametrize(("form", "convert"), FORMS, ids=[f[0] for f in FORMS])
def test_em4100_card_in_every_form_is_one_badge(form: str, convert) -> None:  # type: ignore[no-untyped-def]
    """The same EM4100 card printed in each supported form maps to one canonical id."""
    assert convert() == "0040B83D"


def test_em4100_wiegand_form_matches_lossily() -> None:
    """The 3+5 wiegand print of the card matches its badge (24 bits only)."""
    assert cards.wiegand26_of("0040B83D") == "064,47165"
    assert cards.matches_wiegand26("0040B83D", "06447165")


# A 7-byte ISO 14443 UID read by other readers: never truncated.
SEVEN = [
    ("04:d2:e1:aa:6f:1e:80", "hex"),
    ("801E6FAAE1D204", "hex_reversed"),
    ("1357766575726208", "decimal"),
]


@pytest.mark.parametrize(("printed", "form"), SEVEN)
def test_seven_byte_uid_forms_are_one_badge(printed: str, form: cards.Form) -> None:
    """A 7-byte UID in hex, reversed hex and decimal maps to one 7-byte canonical id."""
    assert cards.normalize(printed, form) == "04D2E1AA6F1E80"


def test_em4100_wrong_length_rejected() -> None:
    """An EM4100 tag must be 5 bytes: 4 or 6 bytes raise bad_length, non-hex bad_value."""
    for text, reason in (
        ("0040B83D", "bad_length"),
        ("1A0040B83D00", "bad_length"),
        ("zz", "bad_value"),
    ):
        with pytest.raises(cards.ContractError) as info:
            cards.from_em4100(text)
        assert info.value.reason == reason
