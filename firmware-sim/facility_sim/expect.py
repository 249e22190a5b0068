"""Expected door-counter totals of a replay, for end-to-end checks and the demo (pure).

The JSON written by :func:`write_expected` (and ``facility sim door-counter --expect``)::

    {
      "format": "facility-sim/door-counter-expect/1",
      "site_tz": "Asia/Shanghai",
      "slot_minutes": 30,
      "first_slot_start": "2005-07-24T00:00:00+08:00",
      "last_slot_end": "2005-11-06T00:00:00+08:00",
      "totals": {"in": 19597, "out": 18837},
      "days": {"2005-07-24": {"in": 16, "out": 25}, ...},
      "slots": {"2005-07-24T00:30:00+08:00": {"start_ms": 1122136200000, "in": 0, "out": 1}, ...}
    }

Days are local calendar days in the site's zone; slot keys are local ISO starts and
``start_ms`` is UTC ms since the epoch. Counts are people.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from facility_sim.calit2 import SLOT_MS, Slot

FORMAT = "facility-sim/door-counter-expect/1"


def expected_totals(slots: Sequence[Slot]) -> dict[str, Any]:
    """Per-slot, per-local-day and grand totals of ``slots`` as a JSON-ready dict.

    Raises:
        ValueError: ``slots`` is empty.
    """
    if not slots:
        raise ValueError("slots is empty: no totals to expect")
    days: dict[str, dict[str, int]] = {}
    per_slot: dict[str, dict[str, int]] = {}
    for slot in slots:
        day = days.setdefault(slot.start.date().isoformat(), {"in": 0, "out": 0})
        day["in"] += slot.people_in
        day["out"] += slot.people_out
        per_slot[slot.start.isoformat()] = {
            "start_ms": slot.start_ms,
            "in": slot.people_in,
            "out": slot.people_out,
        }
    tz = slots[0].start.tzinfo
    return {
        "format": FORMAT,
        "site_tz": getattr(tz, "key", str(tz)),
        "slot_minutes": SLOT_MS // 60_000,
        "first_slot_start": slots[0].start.isoformat(),
        "last_slot_end": slots[-1].end.isoformat(),
        "totals": {
            "in": sum(s.people_in for s in slots),
            "out": sum(s.people_out for s in slots),
        },
        "days": days,
        "slots": per_slot,
    }


def write_expected(path: str | Path, slots: Sequence[Slot]) -> dict[str, Any]:
    """Write :func:`expected_totals` as JSON to ``path``; returns the dict."""
    data = expected_totals(slots)
    Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return data
