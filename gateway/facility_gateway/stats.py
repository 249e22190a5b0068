"""Counters of the gateway, logged periodically and written atomically as JSON.

Counters (all since the process started):

- ``accepted``: events this gateway wrote to the point store;
- ``rejected``: messages refused, by reason (the :class:`ContractError` reason, or
  ``store_rejected`` when the point store refused a single point);
- ``duplicate``: events already stored (confirmed again without writing), found
  stored while in doubt, or repeated inside one batch;
- ``redelivered``: messages with the MQTT DUP flag, or ids claimed by another live
  gateway (left for the edge to send again);
- ``shed``: messages dropped unconfirmed because the intake queue was full;
- ``in_doubt``: ids whose previous claim had expired (checked with ``existing()``);
- ``written_batches``, ``write_retries``, ``acked`` (ids confirmed), ``statuses``
  (status points written), ``errors`` (unexpected failures of a whole batch).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

COUNTERS = (
    "accepted",
    "duplicate",
    "redelivered",
    "shed",
    "in_doubt",
    "written_batches",
    "write_retries",
    "acked",
    "statuses",
    "errors",
)


def utc_iso(epoch_s: float) -> str:
    """An epoch time as ISO 8601 UTC (``2026-11-29T13:59:00.123+00:00``)."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")


class Stats:
    """Thread-safe counters; the MQTT thread and the worker both add to them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._rejected: Counter[str] = Counter()
        self.started = time.time()
        self.gauges: dict[str, int] = {}

    def add(self, **counts: int) -> None:
        """Add to counters by name (unknown names raise KeyError)."""
        with self._lock:
            for name, n in counts.items():
                if name not in self._counts:
                    raise KeyError(name)
                self._counts[name] += n

    def reject(self, reason: str, n: int = 1) -> None:
        """Count ``n`` rejected messages for ``reason``."""
        with self._lock:
            self._rejected[reason] += n

    def get(self, name: str) -> int:
        """One counter's value."""
        with self._lock:
            return self._counts[name]

    def rejected(self) -> dict[str, int]:
        """Rejections by reason."""
        with self._lock:
            return dict(self._rejected)

    def snapshot(self) -> dict[str, Any]:
        """All counters and gauges as a JSON-ready dict (times in UTC)."""
        now = time.time()
        with self._lock:
            data: dict[str, Any] = dict(self._counts)
            data["rejected"] = dict(sorted(self._rejected.items()))
        data.update(self.gauges)
        data["started_at"] = utc_iso(self.started)
        data["updated_at"] = utc_iso(now)
        data["uptime_s"] = round(now - self.started, 3)
        return data


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to ``path`` so a reader sees the old or the new file, never half.

    Writes a temporary file in the same directory, fsyncs it and renames it over
    ``path`` (rename is atomic on POSIX file systems).

    Raises:
        OSError: the directory is not writable.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def log_line(data: dict[str, Any]) -> str:
    """A one-line summary of a snapshot for the log."""
    rejected = sum(data.get("rejected", {}).values())
    return (
        f"accepted={data['accepted']} rejected={rejected} duplicate={data['duplicate']} "
        f"redelivered={data['redelivered']} shed={data['shed']} acked={data['acked']} "
        f"batches={data['written_batches']} retries={data['write_retries']} "
        f"queue={data.get('queue_depth', 0)}"
    )
