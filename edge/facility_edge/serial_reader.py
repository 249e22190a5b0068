"""Serial devices: a sans-I/O frame core and one reader thread per port.

:class:`FrameCore` is pure: bytes in, valid frames out, using the contract's splitter
and decoder (:mod:`facility_contracts.serial`); every rejected candidate is counted by
reason (``checksum``, ``syntax``, ``field``, ``length``, plus ``dropped`` for cut-off
candidates and ``noise_bytes`` for bytes between frames) and logged with the device id
(WARNING at the 1st, 2nd, 4th, 8th ... error of a reason, DEBUG otherwise).

:class:`SerialReader` is the thin I/O shell: it opens the port with
``serial.serial_for_url`` (a device path, a symlink, or any pyserial URL such as
``loop://`` or ``socket://host:port``), hands every read to a :class:`ByteSink`, and
after an unplug or an open failure retries with a backoff: 0.2 s doubling to 1 s for a
port that was open before, so reading resumes within about a second of a replug (even
when the path is a symlink re-pointed to a new device); up to 5 s for a port that has
never opened (a wrong path, an adapter not plugged in yet). Each failed open tells the
sink (its device shows ``disconnected``); the first failure of a run is logged at
WARNING, the rest at DEBUG with a WARNING reminder every 10 minutes
(:class:`FailureLog`). Nothing a device sends stops the thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from facility_contracts.serial.framing import FrameError, FrameSplitter

logger = logging.getLogger(__name__)

F = TypeVar("F")

#: Reconnect backoff: first delay and cap, seconds.
BACKOFF_S = (0.2, 1.0)
#: Backoff cap for a port that has never opened since the reader started, seconds.
NEVER_OPENED_MAX_S = 5.0
#: While a port stays unopenable, a WARNING reminder at most this often, seconds.
REMIND_EVERY_S = 600.0
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


class FailureLog:
    """When a repeating failure is worth a WARNING: the first one, then a reminder at
    most every ``remind_s``; DEBUG otherwise. Pure: times are passed in (monotonic s).

    Args:
        remind_s: least time between two warnings of one run of failures, s.
    """

    def __init__(self, remind_s: float = REMIND_EVERY_S) -> None:
        self.remind_s = remind_s
        self.failures = 0
        self.since: float | None = None
        self._warned: float | None = None

    def failed(self, now: float) -> int:
        """Count a failure at ``now``; returns the level to log it at."""
        self.failures += 1
        if self.since is None:
            self.since = now
        if self._warned is None or now - self._warned >= self.remind_s:
            self._warned = now
            return logging.WARNING
        return logging.DEBUG

    def lasted(self, now: float) -> float:
        """Seconds since the first failure of this run (0 when none)."""
        return 0.0 if self.since is None else now - self.since

    def reset(self) -> int:
        """The failures are over (the port opened); returns how many there were."""
        failures, self.failures, self.since, self._warned = self.failures, 0, None, None
        return failures


class ByteSink(Protocol):
    """What a :class:`SerialReader` feeds (a device kind's handler)."""

    def opened(self, reconnect: bool) -> None:
        """The port is open; ``reconnect`` is False the first time."""
        ...

    def open_failed(self, reason: str) -> None:
        """The port could not be opened (missing, busy, no permission); retrying."""
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
        sink: receives opened/open_failed/received/closed calls, all from the reader
            thread.
        open_port: opens ``(url, baudrate)``; a seam for tests.
        backoff_s: first reconnect delay and its cap, seconds.
        never_opened_max_s: the cap while the port has never opened, seconds.
        remind_s: least time between two warnings that the port still cannot be
            opened, seconds.
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
        never_opened_max_s: float = NEVER_OPENED_MAX_S,
        remind_s: float = REMIND_EVERY_S,
    ) -> None:
        self.device_id = device_id
        self.url = url
        self.baudrate = baudrate
        self.sink = sink
        self._open_port = open_port
        self._backoff = backoff_s
        self._never_opened_max = max(never_opened_max_s, backoff_s[1])
        self._failures = FailureLog(remind_s)
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

    def _cap(self) -> float:
        """Longest wait between open attempts: short once the port has been open."""
        return self._backoff[1] if self.opens else self._never_opened_max

    def _run(self) -> None:
        delay = self._backoff[0]
        while not self._stop.is_set():
            port = self._try_open()
            if port is None:
                self._stop.wait(delay)
                delay = min(delay * 2, self._cap())
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
            self._open_failed(exc)
            return None
        self.opens += 1
        failures = self._failures.reset()
        after = f" after {failures} failed attempts" if failures else ""
        logger.info(
            "device=%s port %s open (open #%d)%s", self.device_id, self.url, self.opens, after
        )
        self._call(self.sink.opened, self.opens > 1)
        return port

    def _open_failed(self, exc: Exception) -> None:
        """Log a failed open (first at WARNING, then DEBUG and a reminder) and tell the sink."""
        now = time.monotonic()
        level = self._failures.failed(now)
        failures = self._failures.failures
        if failures == 1:
            note = f"retrying every {self._cap():g} s"
        else:
            lasted = self._failures.lasted(now)
            note = f"still failing after {failures} attempts in {lasted:.0f} s; retrying"
        logger.log(level, "device=%s cannot open %s: %s; %s", self.device_id, self.url, exc, note)
        self._call(self.sink.open_failed, str(exc)[:120])

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
