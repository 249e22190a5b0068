"""A simulated 125 kHz RFID reader: staff taps as reader frames, with seeded faults.

The pure part, :func:`plan`, turns options into the exact bytes a reader sends, tap by
tap, with a record of what each chunk is, so a test knows which check-ins a correct
edge must produce (:func:`expected_badges`): one per tap that has at least one intact
frame, and nothing else. Faults, all drawn from ``random.Random(seed)``:

- ``repeats``: a tap sends its frame 1..``max_repeats`` times, ``repeat_gap_s`` apart
  (readers repeat while a card lies on them);
- ``phantom``: an all-zero tag frame with its valid checksum between taps;
- ``bad_checksum``: a frame of a tap with one data or checksum digit changed to another
  uppercase hex digit (an XOR checksum catches every such single change);
- ``noise``: 1..``max_noise`` random bytes before a frame (never ETX, so noise cannot
  close a candidate; a stray STX is dropped when the real frame's STX arrives);
- unplugs (``unplug_every_taps``): the port is drained, unplugged for ``unplug_for_s``
  and replugged, always between taps, so no tap is split by an unplug.

The same card never appears within ``min_card_gap`` consecutive taps, so distinct taps
of one card are far more than a repeat window apart. :class:`RfidReaderSim` is the
thread that paces the plan onto a :class:`~facility_sim.ports.Port` (a pty).
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass, field
from typing import Literal

from facility_contracts.serial.rfid125 import RfidFrame, encode

from facility_sim.ports import Port

logger = logging.getLogger(__name__)

Kind = Literal["read", "bad_checksum", "phantom"]
_HEX = "0123456789ABCDEF"
NOISE_BYTES = bytes(b for b in range(256) if b != 0x03)


@dataclass(frozen=True)
class RfidOptions:
    """What the simulated reader does (times in real seconds).

    Raises:
        ValueError: a count or probability out of range, or fewer cards than the gap needs.
    """

    taps: int = 40
    cards: int = 8
    seed: int = 0
    max_repeats: int = 3
    repeat_gap_s: float = 0.03
    tap_gap_s: float = 0.3
    min_card_gap: int = 5
    phantom: float = 0.0
    bad_checksum: float = 0.0
    noise: float = 0.0
    max_noise: int = 8
    unplug_every_taps: int | None = None
    unplug_for_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("phantom", "bad_checksum", "noise"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1]")
        if self.taps < 0 or self.max_repeats < 1 or self.max_noise < 1:
            raise ValueError("taps >= 0, max_repeats >= 1 and max_noise >= 1 are needed")
        if self.cards <= self.min_card_gap:
            raise ValueError(f"cards ({self.cards}) must exceed min_card_gap ({self.min_card_gap})")
        if self.unplug_every_taps is not None and self.unplug_every_taps < 1:
            raise ValueError("unplug_every_taps must be >= 1")


@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes sent at once, and what they are.

    Attributes:
        data: noise (possibly empty) followed by one frame.
        kind: ``read`` (intact), ``bad_checksum`` or ``phantom``.
        tap: the tap it belongs to (None for a phantom).
        badge: the canonical badge of the tap's card (None for a phantom).
        pause_s: real seconds to wait after sending it.
    """

    data: bytes
    kind: Kind
    tap: int | None
    badge: str | None
    pause_s: float


@dataclass(frozen=True, slots=True)
class TapPlan:
    """One tap: its chunks and whether the port is unplugged before it."""

    index: int
    card: RfidFrame
    chunks: tuple[Chunk, ...]
    unplug_before: bool = False


def make_cards(n: int, rng: random.Random) -> list[RfidFrame]:
    """``n`` distinct cards with random version bytes and non-zero ids."""
    ids = rng.sample(range(1, 2**32), n)
    return [RfidFrame(rng.randrange(256), tag) for tag in ids]


def _corrupt(frame: bytes, rng: random.Random) -> bytes:
    """Change one of the 12 hex digits to another uppercase hex digit."""
    pos = rng.randrange(1, 13)
    old = chr(frame[pos])
    new = rng.choice([c for c in _HEX if c != old])
    return frame[:pos] + new.encode() + frame[pos + 1 :]


def _noise(opts: RfidOptions, rng: random.Random) -> bytes:
    if opts.noise and rng.random() < opts.noise:
        return bytes(rng.choices(NOISE_BYTES, k=rng.randint(1, opts.max_noise)))
    return b""


def _pick_card(cards: list[RfidFrame], recent: list[RfidFrame], rng: random.Random) -> RfidFrame:
    return rng.choice([c for c in cards if c not in recent])


def _tap_chunks(index: int, card: RfidFrame, opts: RfidOptions, rng: random.Random) -> list[Chunk]:
    frame, badge = encode(card), card.badge
    chunks: list[Chunk] = []
    for _ in range(rng.randint(1, opts.max_repeats)):
        bad = bool(opts.bad_checksum) and rng.random() < opts.bad_checksum
        data = _corrupt(frame, rng) if bad else frame
        kind: Kind = "bad_checksum" if bad else "read"
        chunks.append(Chunk(_noise(opts, rng) + data, kind, index, badge, opts.repeat_gap_s))
    if opts.phantom and rng.random() < opts.phantom:
        zero = encode(RfidFrame(0, 0))
        chunks.append(Chunk(_noise(opts, rng) + zero, "phantom", None, None, opts.repeat_gap_s))
    last = chunks[-1]
    chunks[-1] = Chunk(last.data, last.kind, last.tap, last.badge, opts.tap_gap_s)
    return chunks


def plan(opts: RfidOptions) -> list[TapPlan]:
    """The whole session, tap by tap (pure: the same options give the same bytes)."""
    rng = random.Random(opts.seed)
    cards = make_cards(opts.cards, rng)
    recent: list[RfidFrame] = []
    taps: list[TapPlan] = []
    for i in range(opts.taps):
        card = _pick_card(cards, recent, rng)
        recent = [*recent, card][-opts.min_card_gap :]
        every = opts.unplug_every_taps
        unplug = every is not None and i > 0 and i % every == 0
        taps.append(TapPlan(i, card, tuple(_tap_chunks(i, card, opts, rng)), unplug))
    return taps


def expected_badges(taps: list[TapPlan]) -> list[str]:
    """Badges a correct reader reports, in order: taps with at least one intact frame."""
    return [t.card.badge for t in taps if any(c.kind == "read" for c in t.chunks)]


@dataclass
class RfidStats:
    """What the simulator did so far."""

    taps: int = 0
    chunks: int = 0
    unplugs: int = 0
    finished: bool = False
    counts: dict[str, int] = field(default_factory=dict)


class RfidReaderSim:
    """Send a :func:`plan` to a port in real time (a thread).

    Args:
        port: where the bytes go (a :class:`~facility_sim.pty_port.PtyPort`).
        taps: the plan.
        unplug_for_s: length of each unplug, s.
        drain_s: before an unplug, wait up to this long for the reader to take
            everything written (so no frame is lost with the pty), s.
    """

    def __init__(
        self, port: Port, taps: list[TapPlan], *, unplug_for_s: float = 1.0, drain_s: float = 5.0
    ) -> None:
        self.port, self.taps = port, taps
        self.unplug_for_s, self.drain_s = unplug_for_s, drain_s
        self.stats = RfidStats()
        self.done = threading.Event()
        self._cancel = threading.Event()
        self._unplug_requested = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rfid-sim", daemon=True)

    def start(self) -> RfidReaderSim:
        self._thread.start()
        return self

    def wait(self, timeout: float) -> bool:
        """Wait until every tap was sent; True when finished."""
        return self.done.wait(timeout) and self.stats.finished

    def stop(self, timeout: float = 5.0) -> None:
        self._cancel.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def unplug_once(self) -> None:
        """Unplug before the next tap (e.g. on SIGUSR1)."""
        self._unplug_requested.set()

    def _unplug(self) -> None:
        self.port.drain(self.drain_s)
        self.port.unplug()
        self.stats.unplugs += 1
        self._cancel.wait(self.unplug_for_s)
        self.port.replug()

    def _run(self) -> None:
        try:
            for tap in self.taps:
                if tap.unplug_before or self._unplug_requested.is_set():
                    self._unplug_requested.clear()
                    self._unplug()
                for chunk in tap.chunks:
                    if not self.port.write(chunk.data, self._cancel).written:
                        return
                    self.stats.chunks += 1
                    self.stats.counts[chunk.kind] = self.stats.counts.get(chunk.kind, 0) + 1
                    if self._cancel.wait(chunk.pause_s):
                        return
                self.stats.taps += 1
            self.stats.finished = True
        except Exception:  # the thread's boundary: report, never hang the caller
            logger.exception("rfid simulator failed")
        finally:
            self.done.set()
