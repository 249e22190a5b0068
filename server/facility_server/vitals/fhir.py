"""Export of one member's readings as FHIR Observations in a Bundle (PIPL art. 45: access
and a copy of one's personal information).

FHIR version: **R4B (4.3.0)** through ``fhir.resources.R4B`` (the maintained
``fhir.resources`` 8.x ships R5 as default, R4B and STU3; it has no 4.0.1 package). The
Observation and Bundle structures used here are the same in R4 (4.0.1) and R4B, so R4
receivers read the export as it is.

Each kept reading is one Observation (``status`` final, category ``vital-signs``, or
``laboratory`` for blood glucose), coded in LOINC, its value a UCUM Quantity
(:data:`UCUM`), ``effectiveDateTime`` the reading's UTC instant, ``interpretation`` from
its flag (v3 ObservationInterpretation LL/L/N/H/HH) and its reference range. Systolic
and diastolic pressure of one session form one blood-pressure panel (LOINC 85354-9) with
two components, as the FHIR vital-signs profile asks. The subject is the member by the
complex's internal id and name (the export goes to the member); no pseudonym.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from facility_contracts.vitals import QUANTITIES
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.models import Complex, Member, Reading

FHIR_VERSION = "4.3.0"
LOINC = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
#: Kiosk unit -> UCUM code.
UCUM = {"mmHg": "mm[Hg]", "bpm": "/min", "%": "%", "degC": "Cel", "kg": "kg", "mmol/L": "mmol/L"}
_FLAG_CODES = {
    "crisis_low": ("LL", "Critical low"),
    "low": ("L", "Low"),
    "normal": ("N", "Normal"),
    "high": ("H", "High"),
    "crisis_high": ("HH", "Critical high"),
}
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
_NS = uuid.UUID("4f6d2a51-1c1e-4c5e-9a7e-7f1f0b7f0e11")


def _coding(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM_SYSTEM, "code": UCUM[unit]}


def _measure(r: Reading) -> dict[str, Any]:
    """code, valueQuantity, interpretation and referenceRange of one reading."""
    q = QUANTITIES[r.type]
    out: dict[str, Any] = {
        "code": _coding(q.loinc, q.display),
        "valueQuantity": _quantity(r.value, r.unit),
    }
    if r.flag in _FLAG_CODES:
        code, display = _FLAG_CODES[r.flag]
        out["interpretation"] = [
            {"coding": [{"system": INTERPRETATION, "code": code, "display": display}]}
        ]
    if q.reference is not None:
        low, high = q.reference
        out["referenceRange"] = [{"low": _quantity(low, r.unit), "high": _quantity(high, r.unit)}]
    return out


def _observation(
    readings: list[Reading], subject: dict[str, Any], site: str
) -> tuple[str, dict[str, Any]]:
    """One Observation of one reading, or a BP panel of two (systolic, diastolic)."""
    first = readings[0]
    category = "laboratory" if first.type == "blood_glucose" else "vital-signs"
    ident = "-".join(str(r.id) for r in readings)
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"reading-{ident}",
        "identifier": [{"system": f"urn:facility-ops:{site}:reading", "value": ident}],
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
        "subject": subject,
        "effectiveDateTime": first.ts.isoformat(),
        "device": {"display": f"health kiosk {first.device_code} ({first.space_code})"},
    }
    if len(readings) == 1:
        obs.update(_measure(first))
    else:
        obs["code"] = _coding(*BP_PANEL)
        obs["component"] = [_measure(r) for r in readings]
    full_url = f"urn:uuid:{uuid.uuid5(_NS, f'{site}/{ident}')}"
    return full_url, obs


def _grouped(readings: list[Reading]) -> list[list[Reading]]:
    """Readings in observation groups: a session's systolic + diastolic together."""
    by_session: dict[int, list[Reading]] = defaultdict(list)
    for r in readings:
        by_session[r.session_id].append(r)
    groups: list[list[Reading]] = []
    for rows in by_session.values():
        bp = [r for r in rows if r.type in ("systolic_bp", "diastolic_bp")]
        bp.sort(key=lambda r: r.type != "systolic_bp")
        if len(bp) == 2:
            groups.append(bp)
        groups += [[r] for r in rows if len(bp) != 2 or r not in bp]
    return groups


def member_bundle(session: Session, member: Member, now: datetime) -> Bundle:
    """A ``collection`` Bundle of every kept reading of ``member``, oldest first,
    validated by ``fhir.resources`` (R4B).

    Raises:
        pydantic.ValidationError: the built resources do not validate (a bug).
    """
    cx = session.get_one(Complex, member.complex_id)
    readings = list(
        session.scalars(
            select(Reading).where(Reading.member_id == member.id).order_by(Reading.ts, Reading.id)
        )
    )
    subject = {
        "identifier": {"system": f"urn:facility-ops:{cx.site_id}:member", "value": str(member.id)},
        "display": member.display_name,
    }
    entries = []
    for group in _grouped(readings):
        full_url, resource = _observation(group, subject, cx.site_id)
        entries.append({"fullUrl": full_url, "resource": resource})
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": now.isoformat(),
            "entry": entries,
        }
    )


def bundle_json(bundle: Bundle) -> dict[str, Any]:
    """The Bundle as FHIR JSON (no empty elements)."""
    return bundle.model_dump(mode="json", exclude_none=True, by_alias=True)
