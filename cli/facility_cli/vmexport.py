"""Read raw samples back from VictoriaMetrics (``/api/v1/export``) to count what is stored.

VictoriaMetrics keeps every sample, duplicates included, so counting samples proves
"stored once". Field ``f`` of measurement ``m`` is the metric ``m_f``; tags are labels;
timestamps are milliseconds.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sample:
    """One stored sample: its labels (tags and ``__name__``), time (UTC ms) and value."""

    labels: tuple[tuple[str, str], ...]
    ts_ms: int
    value: float

    def label(self, name: str) -> str:
        return dict(self.labels).get(name, "")


def export(url: str, selector: str) -> Iterator[Sample]:
    """All samples matching a series selector such as ``{__name__="door_crossing_in",site="s1"}``.

    Asks VictoriaMetrics to flush first, so points written just before are visible.
    """
    urllib.request.urlopen(f"{url}/internal/force_flush", timeout=10).read()  # noqa: S310
    body = urllib.parse.urlencode({"match[]": selector, "start": "0"}).encode()
    with urllib.request.urlopen(f"{url}/api/v1/export", data=body, timeout=60) as resp:  # noqa: S310
        for line in resp:
            if not line.strip():
                continue
            series = json.loads(line)
            labels = tuple(sorted(series["metric"].items()))
            for ts, value in zip(series["timestamps"], series["values"], strict=True):
                yield Sample(labels, int(ts), float(value))
