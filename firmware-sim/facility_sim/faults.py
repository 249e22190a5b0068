"""Seeded fault injection on a door counter's byte stream.

Each frame independently may be preceded by line noise, and may be truncated or have
one bit flipped (at most one of the two). Draws come from ``random.Random(seed)`` in a
fixed order, so the same seed and the same frames give the same bytes. A record of every
frame says whether it went out intact, so a test knows exactly which frames a correct
decoder must accept: every intact frame, and nothing else.

Why the exact answer holds with the contract's splitter and decoder:

- noise never contains CR or LF, so it can neither complete a truncated frame nor end
  a candidate; a ``$`` in noise is dropped when the next frame's ``$`` arrives;
- a truncated frame lacks its CRLF and is dropped at the next ``$``;
- a bit flip never touches the four CRC hex digits: every other flipped bit is caught
  (CRC-16 detects all 1-bit errors in the body; a flipped ``$``, ``*``, CR or LF breaks
  the framing). The CRC digits are spared because the contract's ``decode`` parses them
  with ``int(text, 16)``, which also accepts lowercase and blank-padded text, so a flip
  of bit 5 of ``A``-``F`` or of a leading ``0`` into a space would go unnoticed.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from facility_contracts.serial.door_counter import DoorFrame

Fault = Literal["intact", "truncated", "bitflip"]
NOISE_BYTES = bytes(b for b in range(256) if b not in b"\r\n")
CRC_DIGITS = 4
LINE_END = 2


@dataclass(frozen=True, slots=True)
class FaultRecord:
    """What happened to one frame.

    Attributes:
        index: 0-based position of the frame in the stream.
        frame: the frame as the device meant it (``None`` if not given).
        fault: ``intact``, ``truncated`` or ``bitflip``.
        noise: bytes of noise sent just before the frame.
    """

    index: int
    frame: DoorFrame | None
    fault: Fault
    noise: int

    @property
    def intact(self) -> bool:
        """Whether the frame went out unchanged (a decoder must accept it)."""
        return self.fault == "intact"


def _probability(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
    return value


@dataclass
class FaultInjector:
    """Corrupt frames on their way to the port, reproducibly.

    Args:
        seed: seed of the ``random.Random`` that decides every fault.
        noise: probability of 1..``max_noise`` noise bytes before a frame.
        truncate: probability that a frame is cut short (loses 1..len-1 trailing bytes).
        bitflip: probability that one bit of a frame is flipped (``truncate + bitflip <= 1``).
        max_noise: most noise bytes inserted at once (>= 1).
        keep_records: keep a :class:`FaultRecord` per frame (``counts`` is always kept).

    Raises:
        ValueError: a probability is outside [0, 1], ``truncate + bitflip > 1`` or
            ``max_noise < 1``; the message names the parameter and value.
    """

    seed: int = 0
    noise: float = 0.0
    truncate: float = 0.0
    bitflip: float = 0.0
    max_noise: int = 16
    keep_records: bool = True
    records: list[FaultRecord] = field(default_factory=list, init=False)
    counts: Counter[str] = field(default_factory=Counter, init=False)

    def __post_init__(self) -> None:
        _probability("noise", self.noise)
        _probability("truncate", self.truncate)
        _probability("bitflip", self.bitflip)
        if self.truncate + self.bitflip > 1.0:
            raise ValueError(f"truncate + bitflip must be <= 1, got {self.truncate + self.bitflip}")
        if self.max_noise < 1:
            raise ValueError(f"max_noise must be >= 1, got {self.max_noise}")
        self._rng = random.Random(self.seed)
        self._index = 0

    @property
    def enabled(self) -> bool:
        """Whether any fault can happen."""
        return self.noise > 0 or self.truncate > 0 or self.bitflip > 0

    def apply(self, data: bytes, frame: DoorFrame | None = None) -> bytes:
        """The bytes to send for one encoded frame (noise, then the possibly damaged frame).

        Args:
            data: one whole encoded frame, ``$`` to CRLF (at least 8 bytes).
            frame: its fields, kept in the record.
        """
        if len(data) < 1 + CRC_DIGITS + 1 + LINE_END + 1:
            raise ValueError(f"data must be one whole frame, got {data!r}")
        rng = self._rng
        prefix = b""
        if self.noise and rng.random() < self.noise:
            prefix = bytes(rng.choices(NOISE_BYTES, k=rng.randint(1, self.max_noise)))
        fault: Fault = "intact"
        out = data
        if self.truncate or self.bitflip:
            draw = rng.random()
            if draw < self.truncate:
                fault, out = "truncated", data[: rng.randint(1, len(data) - 1)]
            elif draw < self.truncate + self.bitflip:
                fault, out = "bitflip", self._flip(data, rng)
        self.counts[fault] += 1
        self.counts["noise_bytes"] += len(prefix)
        if self.keep_records:
            self.records.append(FaultRecord(self._index, frame, fault, len(prefix)))
        self._index += 1
        return prefix + out

    @staticmethod
    def _flip(data: bytes, rng: random.Random) -> bytes:
        star = len(data) - LINE_END - CRC_DIGITS - 1  # index of '*'
        spared = range(star + 1, star + 1 + CRC_DIGITS)
        positions = [i for i in range(len(data)) if i not in spared]
        pos = rng.choice(positions)
        out = bytearray(data)
        out[pos] ^= 1 << rng.randrange(8)
        return bytes(out)
