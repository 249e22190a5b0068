"""A simulated device's serial port: a Linux pseudo-terminal behind a stable symlink.

The edge agent's config names the symlink (e.g. ``/run/facility/dc-main``); the symlink
points at the pty's slave (``/dev/pts/N``), which is in raw mode. :meth:`PtyPort.unplug`
closes the master and removes the link, so the reader's reads fail (EOF, which pyserial
reports as ``SerialException``) as with a pulled USB adapter; :meth:`PtyPort.replug`
makes a new pty and points the link at it.

Bytes written to the master while no process has the slave open are kept by the kernel
for the next opener, which pyserial flushes on open; bytes unread when the master closes
are discarded (details and measurements: ``docs/protocols.md``, "Door counter on a pty").
So the port pauses the writer while nobody reads: ``poll()`` on the master reports
``POLLHUP`` exactly while no process has the slave open. After a reader appears the port
waits ``settle_s`` (its open-time flush), and it writes at most ``window`` bytes before
waiting until the reader has read them all, so a killed reader loses at most a window.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import logging
import os
import select
import termios
import threading
import time
import tty
from pathlib import Path
from typing import Literal

from facility_sim.errors import PortError
from facility_sim.ports import WriteOutcome

logger = logging.getLogger(__name__)

State = Literal["unplugged", "no_reader", "settling", "ready"]


def check_link_folder(link: str | Path) -> None:
    """Refuse a link whose folder does not exist.

    :class:`PtyPort` creates a missing folder (tests and demos want that); the command
    line checks first, so a typo in ``--link`` does not make folders (as root under sudo).

    Raises:
        PortError: the folder is missing or not a folder.
    """
    folder = Path(link).parent
    if not folder.is_dir():
        raise PortError(
            f"--link {link}: folder {folder} does not exist "
            "(create it first, or choose a link in an existing folder)"
        )


class PtyPort:
    """A pseudo-terminal with a symlink, a reader detector and a write window.

    Args:
        link: path of the symlink to create (its folder is created if missing).
        settle_s: wait after a reader opens the slave before writing (s).
        window: most bytes written before waiting for the reader to read them all (bytes).
        poll_s: how often a writer waiting for the reader to catch up re-checks (s).
        idle_poll_s: how often a writer waiting for a reader or a replug re-checks (s).

    Raises:
        ValueError: a parameter is out of range.
    """

    def __init__(
        self,
        link: str | Path,
        *,
        settle_s: float = 0.1,
        window: int = 1024,
        poll_s: float = 0.0005,
        idle_poll_s: float = 0.01,
    ) -> None:
        if settle_s < 0 or window < 1 or poll_s <= 0 or idle_poll_s <= 0:
            raise ValueError(
                f"bad port settings: settle_s={settle_s}, window={window}, "
                f"poll_s={poll_s}, idle_poll_s={idle_poll_s}"
            )
        self.link = Path(link)
        self.settle_s = settle_s
        self.window = window
        self.poll_s = poll_s
        self.idle_poll_s = idle_poll_s
        self._lock = threading.RLock()
        self._master: int | None = None
        self._slave: str | None = None
        self._gen = 0
        self._reader_since: float | None = None
        self._budget = 0

    # -- lifecycle -------------------------------------------------------------------------

    def open(self) -> PtyPort:
        """Create the pty and the link; returns ``self``.

        Raises:
            PortError: the link path exists and is not a symlink, or cannot be created.
        """
        self.replug()
        return self

    def __enter__(self) -> PtyPort:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def slave_name(self) -> str | None:
        """The current slave device (``/dev/pts/N``), ``None`` while unplugged."""
        return self._slave

    @property
    def plugged(self) -> bool:
        """Whether a pty exists (between :meth:`replug` and :meth:`unplug`)."""
        return self._master is not None

    def replug(self) -> None:
        """Create a new raw-mode pty and point the link at its slave."""
        with self._lock:
            if self._master is not None:
                return
            if self.link.exists() and not self.link.is_symlink():
                raise PortError(
                    f"link {self.link} exists and is not a symlink: refusing to replace it"
                )
            master, slave = os.openpty()
            try:
                tty.setraw(slave)
                name = os.ttyname(slave)
            finally:
                os.close(slave)  # keep no slave fd of our own, or POLLHUP never shows
            os.set_blocking(master, False)
            try:
                self.link.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                tmp.symlink_to(name)
                os.replace(tmp, self.link)
            except OSError as exc:
                os.close(master)
                raise PortError(f"cannot create link {self.link} -> {name}: {exc}") from exc
            self._master, self._slave = master, name
            self._gen += 1
            self._reader_since = None
        logger.info("pty %s plugged in at %s", name, self.link)

    def unplug(self) -> None:
        """Close the master and remove the link: the reader's reads fail from now on."""
        with self._lock:
            if self._master is None:
                return
            os.close(self._master)
            name, self._master, self._slave = self._slave, None, None
            self._gen += 1
            self._reader_since = None
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
        logger.info("pty %s unplugged from %s", name, self.link)

    def close(self) -> None:
        """Unplug for good (also removes the link)."""
        self.unplug()

    # -- reader detection ------------------------------------------------------------------

    def _poll(self) -> int:
        assert self._master is not None
        poller = select.poll()
        poller.register(self._master, select.POLLIN | select.POLLOUT)
        events = poller.poll(0)
        return events[0][1] if events else 0

    def _discard_input(self) -> None:
        assert self._master is not None
        with contextlib.suppress(OSError):  # what the reader writes to the device is ignored
            while os.read(self._master, 4096):
                pass

    def state(self) -> State:
        """Whether a write could proceed now (``ready``) or why not."""
        with self._lock:
            if self._master is None:
                return "unplugged"
            events = self._poll()
            if events & select.POLLHUP:
                if self._reader_since is not None:
                    logger.info("reader closed %s: pausing", self.link)
                self._reader_since = None
                return "no_reader"
            if events & select.POLLIN:
                self._discard_input()
            now = time.monotonic()
            if self._reader_since is None:
                logger.info("reader opened %s", self.link)
                self._reader_since = now
                self._budget = 0
            return "ready" if now - self._reader_since >= self.settle_s else "settling"

    def reader_present(self) -> bool:
        """Whether some process has the slave open right now."""
        return self.state() in ("settling", "ready")

    def wait_reader(self, timeout: float, cancel: threading.Event | None = None) -> bool:
        """Wait up to ``timeout`` s until writes can proceed; ``True`` if they can."""
        deadline = time.monotonic() + timeout
        cancel = cancel or threading.Event()
        while self.state() != "ready":
            if cancel.is_set() or time.monotonic() >= deadline:
                return False
            cancel.wait(self.idle_poll_s)
        return True

    def _probe(self) -> tuple[int, bool] | None:
        """(FIONREAD, POLLIN) of the slave's input queue, or ``None`` if it cannot be opened."""
        name = self._slave
        if name is None:
            return None
        try:
            fd = os.open(name, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            count = array.array("i", [0])
            fcntl.ioctl(fd, termios.FIONREAD, count)
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            # n_tty's poll waits for the kernel to move pending bytes into the queue first
            readable = any(ev & select.POLLIN for _, ev in poller.poll(0))
            return count[0], readable
        except OSError:
            return None
        finally:
            os.close(fd)

    def inflight(self) -> int | None:
        """Bytes written but not yet read by the reader, or ``None`` if unknown.

        Bytes the kernel has not yet moved into the reader's queue are not counted;
        :meth:`_empty` is the exact test for "nothing unread".
        """
        probe = self._probe()
        return None if probe is None else probe[0]

    def _empty(self) -> bool | None:
        """Whether the reader has read everything written (``None``: cannot tell)."""
        probe = self._probe()
        if probe is None:
            return None
        count, readable = probe
        return count == 0 and not readable

    # -- writing ---------------------------------------------------------------------------

    def _room_for(self, size: int) -> bool:
        """Stop-and-wait by windows: write up to ``window`` bytes, then wait until all are read."""
        if size <= self._budget:
            return True
        if self._empty() is False:
            return False
        self._budget = max(self.window, size)
        return True

    def _write_some(self, data: bytes, gen: int | None) -> tuple[int, int] | float:
        """Write what fits now: (bytes written, generation), or the seconds to wait first."""
        with self._lock:
            if self.state() != "ready" or (gen is not None and gen != self._gen):
                return self.idle_poll_s  # no reader (or a new pty): nothing happens soon
            if gen is None and not self._room_for(len(data)):
                return self.poll_s  # the reader is reading: check again soon
            assert self._master is not None
            try:
                n = os.write(self._master, data)
            except BlockingIOError:
                return self.poll_s
            except OSError as exc:
                logger.warning("write to %s failed: %s", self.link, exc)
                return self.idle_poll_s
            self._budget -= n
            return n, self._gen

    def write(self, data: bytes, cancel: threading.Event) -> WriteOutcome:
        """Write all of ``data``, pausing while unplugged, readerless or over the window.

        Returns:
            ``written=False`` when ``cancel`` was set first, or when an unplug cut the
            frame after its first bytes (the rest is not sent to the new pty).
        """
        pos, gen, paused = 0, None, 0.0
        while pos < len(data):
            result = self._write_some(data[pos:], gen)
            if isinstance(result, float):
                if gen is not None and gen != self._gen:
                    return WriteOutcome(False, paused)
                if cancel.is_set():
                    return WriteOutcome(False, paused)
                started = time.monotonic()
                cancel.wait(result)
                paused += time.monotonic() - started
                continue
            written, gen = result
            pos += written
        return WriteOutcome(True, paused)

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s until the reader has read everything written."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.reader_present():
                return False
            if self._empty():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(self.poll_s)
