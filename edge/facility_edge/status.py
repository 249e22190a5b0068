"""The agent's status: per-device reader states and the retained ``Status`` message.

Reader states (short strings, at most 40 characters, shown in ``Status.devices``):

``starting``       the reader has not opened its port yet
``reading``        port open, frames flowing into the outbox
``disconnected``   port lost or cannot be opened; retrying
``outbox_full``    ALERT: the outbox refused events (``outbox.max_events`` reached)
``outbox_error``   ALERT: the outbox could not write (disk full, I/O error)

A ``health_kiosk`` reader shows its state under its own id and under the id of each
kiosk it accepts (the registry's device codes), so the server's device health maps the
kiosks (:mod:`facility_edge.kiosk_reader`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from facility_contracts.envelope import Status

logger = logging.getLogger(__name__)

ALERT_STATES = frozenset({"outbox_full", "outbox_error"})


class DeviceStates:
    """Thread-safe map device id -> reader state, calling ``on_change`` on changes.

    Args:
        on_change: called (from the changing thread) after a state changed.
    """

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, str] = {}
        self._on_change = on_change

    def set(self, device: str, state: str) -> None:
        self.set_many([device], state)

    def set_many(self, devices: Iterable[str], state: str) -> None:
        """Set ``state`` for each of ``devices`` at once (one ``on_change`` call)."""
        with self._lock:
            changed = {d: self._states.get(d) for d in devices if self._states.get(d) != state}
            self._states.update(dict.fromkeys(changed, state))
        for device, old in changed.items():
            log = logger.error if state in ALERT_STATES else logger.info
            log("device=%s reader state %s -> %s", device, old, state)
        if changed and self._on_change is not None:
            self._on_change()

    def snapshot(self) -> dict[str, str]:
        with self._lock:
            return dict(self._states)

    def alerts(self) -> list[str]:
        """Devices in an alert state."""
        return [d for d, s in self.snapshot().items() if s in ALERT_STATES]


def disk_free_mb(path: Path) -> float:
    """Free space for unprivileged users on the file system of ``path``, MiB (0 on error)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return 0.0
    return round(st.f_bavail * st.f_frsize / 2**20, 1)


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of a process from ``/proc/<pid>/status`` (VmRSS), MiB; 0 if unknown."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"^VmRSS:\s+(\d+)\s+kB", text, re.MULTILINE)
    return round(int(match.group(1)) / 1024, 1) if match else 0.0


def trim_memory() -> None:
    """Give freed heap memory back to the OS (glibc ``malloc_trim``); no-op elsewhere.

    Start-up (pydantic schema building, imports) leaves megabytes of freed but
    mapped heap; trimming after start and at each heartbeat keeps RSS near what is used.
    """
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def online_status(
    *,
    agent_id: str,
    boot: str,
    ts: int,
    uptime_s: float,
    outbox: int,
    synced: bool,
    disk_free: float,
    heartbeat_s: float,
    software: str,
    devices: dict[str, str],
) -> Status:
    """The ``online`` status / heartbeat (units: see ``facility_contracts.envelope.Status``)."""
    return Status(
        device=agent_id,
        state="online",
        boot=boot,
        ts=ts,
        uptime_s=round(uptime_s, 3),
        outbox=outbox,
        synced=synced,
        disk_free_mb=disk_free,
        heartbeat_s=heartbeat_s,
        software=software,
        devices=devices,
    )


def offline_status(*, agent_id: str, boot: str, ts: int | None = None) -> Status:
    """The ``offline`` status: the last will, and the goodbye of a clean stop."""
    return Status(device=agent_id, state="offline", boot=boot, ts=ts)
