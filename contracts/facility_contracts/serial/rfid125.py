"""125 kHz RFID reader frames (EM4100 tags on a UART): a pure codec and a stream splitter.

Documented in ``docs/protocols.md`` ("RFID reader (125 kHz UART)"). The common reader
module sends one frame per tag read, 9600 baud 8N1, no flow control::

    STX  D0 D1  D2 .. D9   C0 C1  ETX
    0x02 version tag id    check  0x03        14 bytes

- ``D0 D1``: the version byte (the EM4100 "customer id" / manufacturer code), two
  uppercase ASCII hex digits;
- ``D2 .. D9``: the 32-bit tag id, first byte first, eight uppercase ASCII hex digits;
- ``C0 C1``: XOR of the five data bytes (version and the four id bytes), two uppercase
  ASCII hex digits.

An all-zero id (the phantom tag some readers emit on field noise) is rejected even with
its valid checksum (``00``). The badge of a frame is the 4-byte id in canonical form
(:func:`facility_contracts.cards.from_em4100`).

Sources: EM Microelectronic EM4100 datasheet (64-bit code: 9 header bits, 10 rows of
4 data bits with even row parity = 8 version bits + 32 data bits, 4 column parity bits,
stop bit); RDM6300 125 kHz reader module datasheet (UART output: 02, 10 ASCII data
characters, 2 ASCII checksum characters, 03; checksum = XOR of the 5 data bytes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import reduce

from facility_contracts.cards import from_em4100
from facility_contracts.serial.framing import FrameError, FrameSplitter

STX = b"\x02"
ETX = b"\x03"
#: Bytes in one frame, STX and ETX included.
FRAME_BYTES = 14
#: Line settings of the reader: bit/s, data bits, parity, stop bits.
BAUDRATE = 9600
_HEX12 = re.compile(rb"^[0-9A-F]{12}$")


@dataclass(frozen=True, slots=True)
class RfidFrame:
    """One tag read.

    Attributes:
        version: the EM4100 version (customer) byte, 0..255.
        tag_id: the 32-bit tag id, 0..2**32-1 (first byte = most significant).
    """

    version: int
    tag_id: int

    @property
    def data(self) -> bytes:
        """The five data bytes, version first."""
        return bytes([self.version]) + self.tag_id.to_bytes(4, "big")

    @property
    def badge(self) -> str:
        """The canonical badge id (the 4-byte id, uppercase hex, first byte first)."""
        return from_em4100(self.data)


def checksum(data: bytes) -> int:
    """XOR of ``data`` (the five data bytes of a frame); ``0x1A 00 40 B8 3D`` -> ``0xDF``."""
    return reduce(lambda a, b: a ^ b, data, 0)


def encode(frame: RfidFrame) -> bytes:
    """The 14 bytes a reader sends for ``frame``.

    Raises:
        ValueError: ``version`` or ``tag_id`` out of range. An all-zero id is encodable
            (readers do send it; :func:`decode` rejects it).
    """
    if not 0 <= frame.version <= 0xFF or not 0 <= frame.tag_id < 2**32:
        raise ValueError(f"version {frame.version} or tag_id {frame.tag_id} out of range")
    data = frame.data
    return STX + data.hex().upper().encode() + f"{checksum(data):02X}".encode() + ETX


def decode(frame: bytes) -> RfidFrame:
    """Decode one candidate from :func:`splitter`.

    Raises:
        FrameError: ``length`` (not STX + 12 characters + ETX), ``syntax`` (not
            uppercase hex digits), ``checksum`` (XOR mismatch), ``zero_tag`` (id 0).
    """
    if len(frame) != FRAME_BYTES or not frame.startswith(STX) or not frame.endswith(ETX):
        raise FrameError("length", f"expected {FRAME_BYTES} bytes STX..ETX", frame)
    text = frame[1:-1]
    if not _HEX12.match(text):
        raise FrameError("syntax", "expected 12 uppercase hex digits", frame)
    data, check = bytes.fromhex(text[:10].decode()), int(text[10:], 16)
    if checksum(data) != check:
        raise FrameError("checksum", f"check {check:02X} != XOR {checksum(data):02X}", frame)
    tag_id = int.from_bytes(data[1:], "big")
    if tag_id == 0:
        raise FrameError("zero_tag", "all-zero tag id (phantom read)", frame)
    return RfidFrame(version=data[0], tag_id=tag_id)


def splitter() -> FrameSplitter:
    """A stream splitter for reader frames (STX .. ETX, at most 14 bytes)."""
    return FrameSplitter(STX, ETX, FRAME_BYTES)
