"""The demo's proof that no member reference and no reading value left where it must not.

- :func:`scan_points`: every point of the demo's point store (what the gateway and the
  server's runners wrote; the stand-in for InfluxDB, which Grafana viewers can query at
  will) is searched for member references (any pseudonym ``m1-`` + 32 hex, the day's
  card numbers as printed or normalised, a ``member``/``card`` key) and reading values
  (a ``value``/``unit``/``loinc`` key, a reading type used as a field, or a field of a
  kiosk measurement that :mod:`facility_contracts.schema` does not define).
- :func:`scan_texts`: texts people read (the summary, the crisis alert's title and detail,
  its notifications) are searched for member references (also the enrolled names) and
  for reading values (a number followed by a kiosk unit, e.g. ``188 mmHg``).

Pure functions over rows and texts, and :func:`point_rows` reading the SQLite file.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from facility_contracts.schema import KIOSK_READINGS_HOURLY, KIOSK_SESSIONS_HOURLY
from facility_contracts.vitals import QUANTITIES, normalise_card

PSEUDONYM_RE = re.compile(r"m1-[0-9a-f]{32}")
#: A reading value as text: a number, then one of the kiosks' units.
_UNITS = sorted({q.unit for q in QUANTITIES.values()} | {"degF", "lb", "mg/dL", "°C"}, key=len)
VALUE_RE = re.compile(
    r"\d+(?:\.\d+)?\s*(?:" + "|".join(re.escape(u) for u in reversed(_UNITS)) + r")"
)
#: Keys that would carry a member or a value if they ever appeared in a point.
MEMBER_KEYS = frozenset({"member", "member_id", "pseudonym", "card"})
VALUE_KEYS = frozenset({"value", "values", "unit", "loinc"}) | frozenset(QUANTITIES)
KIOSK_FIELDS = {
    spec.name: frozenset(f.name for f in spec.fields)
    for spec in (KIOSK_SESSIONS_HOURLY, KIOSK_READINGS_HOURLY)
}


@dataclass(frozen=True, slots=True)
class Finding:
    """What a scan found: member references and reading values (0 and 0 is the goal)."""

    scanned: int
    member_refs: int
    reading_values: int


def refs_of(cards: Iterable[str], names: Iterable[str] = ()) -> list[str]:
    """Texts that identify a member: cards as printed and normalised, names."""
    out: set[str] = set()
    for card in cards:
        out |= {card, normalise_card(card)}
    return sorted(out | {n for n in names if n})


def _has_ref(text: str, refs: list[str]) -> bool:
    return bool(PSEUDONYM_RE.search(text)) or any(r in text for r in refs)


def scan_points(rows: Iterable[tuple[str, str, str]], refs: list[str]) -> Finding:
    """Scan ``(measurement, tags JSON, fields JSON)`` rows (see the module doc); ``refs``
    from :func:`refs_of`. A point counts once per kind of finding."""
    scanned = members = values = 0
    for measurement, tags_json, fields_json in rows:
        scanned += 1
        tags, fields = json.loads(tags_json), json.loads(fields_json)
        keys = set(tags) | set(fields)
        text = f"{measurement} {tags_json} {fields_json}"
        members += bool(keys & MEMBER_KEYS) or _has_ref(text, refs)
        allowed = KIOSK_FIELDS.get(measurement)
        values += bool(keys & VALUE_KEYS) or (allowed is not None and not set(fields) <= allowed)
    return Finding(scanned, members, values)


def scan_texts(texts: Iterable[str], refs: list[str]) -> Finding:
    """Scan texts people read for member references and ``number unit`` values."""
    scanned = members = values = 0
    for text in texts:
        scanned += 1
        members += _has_ref(text, refs)
        values += bool(VALUE_RE.search(text))
    return Finding(scanned, members, values)


def point_rows(path: Path) -> list[tuple[str, str, str]]:
    """Every point of the embedded point store at ``path``: (measurement, tags, fields)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in db.execute("SELECT measurement, tags, fields FROM points")]
    finally:
        db.close()
