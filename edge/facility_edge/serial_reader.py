"""Serial devices: a sans-I/O frame core and one reader thread per port.

:class:`FrameCore` is pure: bytes in, valid frames out, using the contract's splitter
and decoder (:mod:`facility_contracts.serial`); every rejected candidate is counted by
reason (``checksum``, ``syntax``, ``field``, ``length``, plus ``dropped`` for cut-off
candidates and ``noise_bytes`` for bytes between frames) and logged with the device id
(WARNING at the 1st, 2nd, 4th, 8th ... error of a reason, DEBUG otherwise).

:class:`SerialReader` is the thin I/O shell: it opens the port with
``serial.serial_for_url`` (a device path, a symlink, or any pyserial URL such as
``loop://`` or ``socket://host:port``), hands every read to a :class:`ByteSink`, and
after an unplug or an open failure retries with a short backoff (0.2 s doubling to 1 s),
so reading resumes within about a second of a replug, even when the path is a symlink
re-pointed to a new device. Nothing a device sends stops the thread.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from facility_contracts.serial.framing import FrameError, FrameSplitter

logger = logging.getLogger(__name__)

F = TypeVar("F")

#: Reconnect backoff: first delay and cap, seconds.
BACKOFF_S = (0.2, 1.0)
#: How long one blocking read waits for a first byte, seconds (bounds stop latency).
READ_TIMEOUT_S = 0.2


class FrameCore(Generic[F]):
    """Split and decode a byte stream of one device; never raises on bad input.

    Args:
        device_id: for log messages.
        splitter: the protocol's stream splitter.
        decode: the protocol's frame decoder (raises :class:`FrameError`).
    """

    def __init__(
        self, device_id: str, splitter: FrameSplitter, decode: Callable[[bytes], F]
    ) -> None:
        self.device_id = device_id
        self._splitter = splitter
        self._decode = decode
        self.counts: Counter[str] = Counter()

    def feed(self, data: bytes) -> list[F]:
        """Add bytes; return the valid frames they completed, in order."""
        split = self._splitter.feed(data)
        self.counts["noise_bytes"] += split.skipped
        if split.dropped:
            self._count("dropped", split.dropped, "cut-off frame dropped")
        frames: list[F] = []
        for raw in split.frames:
            try:
                frames.append(self._decode(raw))
            except FrameError as exc:
                self._count(exc.reason, 1, str(exc))
        self.counts["frames"] += len(frames)
        return frames

    def _count(self, reason: str, n: int, what: str) -> None:
        """Count errors; log at WARNING when a reason's count reaches a power of two.

        A noisy line thus logs about log2(errors) warnings per reason instead of one per
        frame; every error is still logged at DEBUG.
        """
        before = self.counts[reason]
        self.counts[reason] += n
        after = self.counts[reason]
        level = logging.WARNING if after.bit_length() > before.bit_length() else logging.DEBUG
        logger.log(
            level, "device=%s bad input (%s, %d so far): %s", self.device_id, reason, after, what
        )

    def reset(self) -> None:
        """Forget a partial frame (the port closed); counts it as ``dropped``."""
        if self._splitter.reset():
            self.counts["dropped"] += 1

    def errors(self) -> int:
        """Rejected candidates so far (noise bytes not included)."""
        return sum(v for k, v in self.counts.items() if k not in ("frames", "noise_bytes"))


class ByteSink(Protocol):
    """What a :class:`SerialReader` feeds (a device kind's handler)."""

    def opened(self, reconnect: bool) -> None:
        """The port is open; ``reconnect`` is False the first time."""
        ...

    def received(self, data: bytes) -> None:
        """Bytes read from the port (one read, possibly several frames)."""
        ...

    def closed(self, reason: str) -> None:
        """The port closed (unplug, error, stop)."""
        ...


def open_serial(url: str, baudrate: int) -> Any:
    """Open a port by path or pyserial URL, with the reader's read timeout."""
    import serial  # pyserial; imported where ports are opened

    return serial.serial_for_url(url, baudrate=baudrate, timeout=READ_TIMEOUT_S)


class SerialReader:
    """One thread reading one serial port into a :class:`ByteSink`.

    Args:
        device_id: for thread name and logs.
        url: device path or pyserial URL.
        baudrate: line speed, bit/s.
        sink: receives opened/received/closed calls, all from the reader thread.
        open_port: opens ``(url, baudrate)``; a seam for tests.
        backoff_s: first reconnect delay and its cap, seconds.
    """

    def __init__(
        self,
        device_id: str,
        url: str,
        baudrate: int,
        sink: ByteSink,
        *,
        open_port: Callable[[str, int], Any] = open_serial,
        backoff_s: tuple[float, float] = BACKOFF_S,
    ) -> None:
        self.device_id = device_id
        self.url = url
        self.baudrate = baudrate
        self.sink = sink
        self._open_port = open_port
        self._backoff = backoff_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"serial-{device_id}", daemon=True)
        self.opens = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Ask the thread to stop and wait for it (it finishes the batch in hand)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        delay = self._backoff[0]
        while not self._stop.is_set():
            port = self._try_open()
            if port is None:
                self._stop.wait(delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            delay = self._backoff[0]
            reason = self._pump(port)
            try:
                port.close()
            except Exception as exc:
                logger.debug("device=%s close failed: %s", self.device_id, exc)
            self._call(self.sink.closed, reason)
            if not self._stop.is_set():
                self._stop.wait(self._backoff[0])

    def _try_open(self) -> Any | None:
        try:
            port = self._open_port(self.url, self.baudrate)
        except Exception as exc:  # SerialException, OSError, ValueError: keep trying
            level = logging.WARNING if self.opens == 0 else logging.DEBUG
            logger.log(level, "device=%s cannot open %s: %s", self.device_id, self.url, exc)
            return None
        self.opens += 1
        logger.info("device=%s port %s open (open #%d)", self.device_id, self.url, self.opens)
        self._call(self.sink.opened, self.opens > 1)
        return port

    def _pump(self, port: Any) -> str:
        """Read until the port fails or the reader stops; returns why it ended."""
        while not self._stop.is_set():
            try:
                data = self._read_burst(port)
            except Exception as exc:  # SerialException/OSError on unplug
                logger.warning("device=%s port %s lost: %s", self.device_id, self.url, exc)
                return f"lost: {exc}"[:120]
            if data:
                self._call(self.sink.received, data)
        return "stopped"

    @staticmethod
    def _read_burst(port: Any) -> bytes:
        """Wait up to the read timeout for a byte, then take everything already waiting.

        ``in_waiting`` is exact for real ports and ptys; ``socket://`` only says 0 or 1,
        so the loop drains a socket in small reads. At most 64 KiB per batch.
        """
        data = port.read(max(1, port.in_waiting))
        while data and len(data) < 65536:
            n = port.in_waiting
            if not n:
                break
            data += port.read(n)
        return bytes(data)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # a loop boundary: one bad batch must not stop the reader
            logger.exception("device=%s handler %s failed", self.device_id, fn.__name__)
