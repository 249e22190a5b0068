"""Replay CalIt2 traffic through a simulated door counter onto a port (the I/O shell).

The pure parts decide everything about the frames (:mod:`facility_sim.timeline`,
:mod:`facility_sim.door_counter`, :mod:`facility_sim.faults`); this loop only paces them
in real time, writes them to a :class:`~facility_sim.ports.Port`, and applies requests
that arrive from other threads or signals (stop, power cycle, unplug).

Simulated time runs at ``speed`` simulated seconds per real second, or as fast as the
reader takes the bytes (``speed=None``). It stops while the port pauses the writer (no
reader, unplugged, reader behind by a whole window): after a pause the replay continues
from the frame it was sending, as a device under hardware flow control would.

Example (in-process, e.g. the demo)::

    replay = Replay(slots, PtyPort(link).open(), ReplayOptions(speed=None)).start()
    replay.wait(60)          # True once the last frame was written
    replay.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from facility_contracts.serial.door_counter import TOTAL_MODULUS

from facility_sim.calit2 import Slot
from facility_sim.door_counter import DoorCounter, Emission
from facility_sim.faults import FaultInjector
from facility_sim.ports import Port
from facility_sim.timeline import Stepper, ticks

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay.

    Attributes:
        speed: simulated seconds per real second (> 0); ``None`` = as fast as read.
        heartbeat_s: device heartbeat after this many simulated seconds of silence (s).
        modulus: device totals wrap at this value (people).
        rtc: the device reports its (simulated) clock in ``rtc_ms``.
        seed, noise, truncate, bitflip: fault injection, see :class:`FaultInjector`.
        keep_fault_records: keep one record per frame (memory grows with the replay).
        power_cycle_every_s: simulated seconds between power cycles; ``None`` = never.
        unplug_every_s: real seconds between scheduled unplugs; ``None`` = never.
        unplug_for_s: real seconds an unplug lasts (s).
    """

    speed: float | None = 1.0
    heartbeat_s: float = 60.0
    modulus: int = TOTAL_MODULUS
    rtc: bool = True
    seed: int = 0
    noise: float = 0.0
    truncate: float = 0.0
    bitflip: float = 0.0
    keep_fault_records: bool = True
    power_cycle_every_s: float | None = None
    unplug_every_s: float | None = None
    unplug_for_s: float = 2.0

    def __post_init__(self) -> None:
        if self.speed is not None and not self.speed > 0:
            raise ValueError(f"speed must be > 0 simulated s per real s, got {self.speed}")
        if self.unplug_every_s is not None and not self.unplug_every_s > 0:
            raise ValueError(f"unplug_every_s must be > 0, got {self.unplug_every_s}")
        if not self.unplug_for_s >= 0:
            raise ValueError(f"unplug_for_s must be >= 0, got {self.unplug_for_s}")


@dataclass
class ReplayStats:
    """What a replay did so far (counts are frames unless stated)."""

    frames: int = 0
    bytes: int = 0
    cut_by_unplug: int = 0
    power_cycles: int = 0  # requested and scheduled
    unplugs: int = 0
    paused_s: float = 0.0
    first_ms: int | None = None
    last_ms: int | None = None
    finished: bool = False
    error: str | None = None
    faults: dict[str, int] = field(default_factory=dict)


class Replay:
    """A door counter replaying ``slots`` onto ``port`` in a thread (or in :meth:`run`).

    Args:
        slots: the slots to replay, in time order (non-empty).
        port: where the frames go; it is not closed by the replay.
        options: pacing, device and fault settings.
        monotonic: the real clock (s), injectable for tests.

    Raises:
        ValueError: ``slots`` is empty or an option is out of range.
    """

    def __init__(
        self,
        slots: Sequence[Slot],
        port: Port,
        options: ReplayOptions | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not slots:
            raise ValueError("slots is empty: nothing to replay")
        self.options = opts = options or ReplayOptions()
        self.port = port
        self.device = DoorCounter(modulus=opts.modulus, heartbeat_s=opts.heartbeat_s, rtc=opts.rtc)
        inputs = ticks(slots, power_cycle_every_s=opts.power_cycle_every_s)
        self._stepper = Stepper(self.device, inputs, slots[0].start_ms)
        self.faults = FaultInjector(
            seed=opts.seed,
            noise=opts.noise,
            truncate=opts.truncate,
            bitflip=opts.bitflip,
            keep_records=opts.keep_fault_records,
        )
        self.stats = ReplayStats(first_ms=slots[0].start_ms)
        self.done = threading.Event()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._power_requests = 0
        self._unplug_lock = threading.Lock()
        self._mono = monotonic
        self._thread: threading.Thread | None = None

    # -- control (any thread) --------------------------------------------------------------

    def start(self) -> Replay:
        """Run the replay in a daemon thread; returns ``self``."""
        self._thread = threading.Thread(target=self.run, name="door-counter-replay", daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the replay ends; ``True`` if it wrote its last frame."""
        self.done.wait(timeout)
        return self.stats.finished

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop after the frame being written (if any) and wait for the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def request_power_cycle(self) -> None:
        """Power-cycle the device once, at the current simulated time."""
        with self._lock:
            self._power_requests += 1
        self._wake.set()

    def unplug_once(self, for_s: float | None = None) -> threading.Thread:
        """Unplug the port, wait ``for_s`` real seconds (default option), replug (a thread)."""
        seconds = self.options.unplug_for_s if for_s is None else for_s
        thread = threading.Thread(target=self._unplug_cycle, args=(seconds,), daemon=True)
        thread.start()
        return thread

    @property
    def sim_ms(self) -> int:
        """Simulated time of the last frame sent or queued, UTC ms."""
        return self._stepper.last_ms

    # -- the loop --------------------------------------------------------------------------

    def _unplug_cycle(self, seconds: float) -> None:
        if not self._unplug_lock.acquire(blocking=False):
            logger.info("unplug ignored: already unplugged")
            return
        try:
            self.port.unplug()
            self.stats.unplugs += 1
            self._stop.wait(seconds)
            if not self._stop.is_set():
                self.port.replug()
        finally:
            self._unplug_lock.release()

    def _unplug_schedule(self, every_s: float) -> None:
        while not self._stop.wait(every_s) and not self.done.is_set():
            self._unplug_cycle(self.options.unplug_for_s)

    def _apply_power_requests(self, now_ms: int) -> None:
        with self._lock:
            count, self._power_requests = self._power_requests, 0
        for _ in range(count):
            upper = self._stepper.peek_ms()
            t_ms = max(self._stepper.last_ms, now_ms if upper is None else min(now_ms, upper))
            self._stepper.power_cycle(t_ms)
            logger.info("door counter power-cycled at sim %d ms", t_ms)

    def _send(self, emission: Emission) -> float:
        """Write one frame (after faults); returns the real seconds the port paused."""
        data = emission.data
        if self.faults.enabled:
            data = self.faults.apply(data, emission.frame)
        outcome = self.port.write(data, self._stop)
        self.stats.paused_s += outcome.paused_s
        if outcome.written:
            self.stats.frames += 1
            self.stats.bytes += len(data)
        elif not self._stop.is_set():
            self.stats.cut_by_unplug += 1
        if emission.reason == "boot" and self.stats.last_ms is not None:
            self.stats.power_cycles += 1
        self.stats.last_ms = emission.t_ms
        return outcome.paused_s

    def _loop(self) -> None:
        speed = self.options.speed
        anchor_real, anchor_sim = self._mono(), self._stepper.peek_ms() or 0
        while not self._stop.is_set():
            now_ms = self._stepper.last_ms
            if speed is not None:
                now_ms = anchor_sim + int((self._mono() - anchor_real) * speed * 1000)
            self._apply_power_requests(now_ms)
            due = self._stepper.peek_ms()
            if due is None:
                self.stats.finished = True
                return
            if speed is not None and due > now_ms:
                if self._wake.wait(min((due - now_ms) / speed / 1000, 0.5)):
                    self._wake.clear()
                continue
            emission = self._stepper.next()
            assert emission is not None
            if self._send(emission) > 0:  # flow control: simulated time stood still
                anchor_real, anchor_sim = self._mono(), emission.t_ms

    def run(self) -> ReplayStats:
        """Replay in the calling thread until the end or :meth:`stop`; returns the stats."""
        if self.options.unplug_every_s is not None:
            every = self.options.unplug_every_s
            threading.Thread(target=self._unplug_schedule, args=(every,), daemon=True).start()
        try:
            self._loop()
        except Exception as exc:  # the loop boundary: report, do not crash the host thread
            logger.exception("door counter replay failed")
            self.stats.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.stats.faults = dict(self.faults.counts)
            self._stop.set()  # ends the unplug schedule; a pending unplug is not replugged
            self.done.set()
        return self.stats
