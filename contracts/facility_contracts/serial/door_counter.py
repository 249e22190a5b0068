"""Door counter serial protocol ``DC`` v1: ASCII frames with cumulative totals.

Documented in ``docs/protocols.md``. One frame per line::

    $DC,<seq>,<uptime_s>,<in>,<out>,<rtc_ms>*<crc>\\r\\n

- ``seq``: frame counter 0..65535, +1 per frame, wraps to 0 (gaps show lost frames).
- ``uptime_s``: whole seconds since the counter powered up (restarts at 0 on power-up).
- ``in``, ``out``: people counted in each direction since power-up, cumulative, modulo
  2**32 (a counter may use a smaller modulus; the edge is told which). Totals restart
  at 0 on power-up. Because they are cumulative, a lost frame loses no people.
- ``rtc_ms``: the counter's real-time clock, UTC milliseconds since the epoch, or empty
  when the counter has none (the edge then stamps the frame with its own clock).
- ``crc``: CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of the bytes between ``$`` and
  ``*`` exclusive, four uppercase hex digits. It detects every 1-, 2- and 3-bit error
  and every burst up to 16 bits.

Decimal fields have no sign, no leading ``+`` and at most 16 digits.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

from facility_contracts.serial.framing import FrameError, FrameSplitter

START = b"$"
END = b"\r\n"
MAX_FRAME_BYTES = 96
TAG = b"DC"
SEQ_MODULUS = 65536
TOTAL_MODULUS = 2**32
_CRC_TEXT = re.compile(rb"^[0-9A-F]{4}$")
_LIMITS = (
    ("seq", SEQ_MODULUS),
    ("uptime_s", 2**32),
    ("total_in", TOTAL_MODULUS),
    ("total_out", TOTAL_MODULUS),
)


@dataclass(frozen=True, slots=True)
class DoorFrame:
    """One door counter frame (units: seconds, people, UTC ms)."""

    seq: int
    uptime_s: int
    total_in: int
    total_out: int
    rtc_ms: int | None = None


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (check value of ``b"123456789"`` is 0x29B1)."""
    return binascii.crc_hqx(data, 0xFFFF)


def encode(frame: DoorFrame) -> bytes:
    """Encode a frame, checksum and line end included.

    Raises:
        ValueError: a field outside its range (the frame could not be decoded).
    """
    for name, upper in _LIMITS:
        value = getattr(frame, name)
        if not 0 <= value < upper:
            raise ValueError(f"{name} {value} out of range 0..{upper - 1}")
    if frame.rtc_ms is not None and not 0 <= frame.rtc_ms < 2**53:
        raise ValueError(f"rtc_ms {frame.rtc_ms} out of range 0..2**53-1")
    rtc = "" if frame.rtc_ms is None else str(frame.rtc_ms)
    body = f"DC,{frame.seq},{frame.uptime_s},{frame.total_in},{frame.total_out},{rtc}".encode()
    return b"$" + body + b"*" + f"{crc16(body):04X}".encode() + END


def _number(text: bytes, name: str, upper: int, frame: bytes) -> int:
    if not text.isdigit() or len(text) > 16:
        raise FrameError("field", f"{name} is not a decimal number: {text!r}", frame)
    value = int(text)
    if value >= upper:
        raise FrameError("field", f"{name} {value} out of range (< {upper})", frame)
    return value


def decode(frame: bytes) -> DoorFrame:
    """Decode one candidate frame from :func:`splitter`.

    Raises:
        FrameError: ``length``, ``syntax``, ``checksum`` or ``field``, naming the field.
    """
    if len(frame) > MAX_FRAME_BYTES or not frame.startswith(START) or not frame.endswith(END):
        raise FrameError("length", "not a whole frame", frame)
    star = frame.rfind(b"*")
    if star < 0 or len(frame) - star != 7:
        raise FrameError("syntax", "missing '*' and four hex digits before CRLF", frame)
    body, crc_text = frame[1:star], frame[star + 1 : -2]
    if not _CRC_TEXT.match(crc_text):
        raise FrameError(
            "syntax", f"checksum is not four uppercase hex digits: {crc_text!r}", frame
        )
    crc = int(crc_text, 16)
    if crc != crc16(body):
        raise FrameError("checksum", f"crc {crc:04X} != computed {crc16(body):04X}", frame)
    parts = body.split(b",")
    if len(parts) != 6 or parts[0] != TAG:
        raise FrameError("syntax", f"expected DC and 5 fields, got {len(parts)} parts", frame)
    return DoorFrame(
        seq=_number(parts[1], "seq", SEQ_MODULUS, frame),
        uptime_s=_number(parts[2], "uptime_s", 2**32, frame),
        total_in=_number(parts[3], "in", TOTAL_MODULUS, frame),
        total_out=_number(parts[4], "out", TOTAL_MODULUS, frame),
        rtc_ms=None if parts[5] == b"" else _number(parts[5], "rtc_ms", 2**53, frame),
    )


def splitter() -> FrameSplitter:
    """A stream splitter for DC frames."""
    return FrameSplitter(START, END, MAX_FRAME_BYTES)
