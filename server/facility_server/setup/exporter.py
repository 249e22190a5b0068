"""Export one complex in the setup file format (the inverse of the importer)."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.models import (
    Badge,
    CalendarException,
    Checkpoint,
    Complex,
    Device,
    Region,
    Space,
    Staff,
)
from facility_server.setup.tasks import export_contacts, export_task_rules


class _Dumper(yaml.SafeDumper):
    """Block style, keys in the order given."""


def _region(session: Session, region_id: int) -> dict[str, str]:
    row = session.get_one(Region, region_id)
    return {"code": row.code, "name": row.name}


def _exceptions(rows: list[CalendarException]) -> list[dict[str, Any]]:
    out = []
    for row in sorted(rows, key=lambda r: r.day):
        item: dict[str, Any] = {"date": row.day.isoformat()}
        if not row.closed:
            item["hours"] = list(row.hours)
        if row.note:
            item["note"] = row.note
        out.append(item)
    return out


def export_data(session: Session, site_id: str) -> dict[str, Any]:
    """The setup document of complex ``site_id`` as plain data.

    Raises:
        LookupError: no complex has that site id.
    """
    cx = session.scalar(select(Complex).where(Complex.site_id == site_id))
    if cx is None:
        raise LookupError(f"no complex with site id {site_id!r}")
    exc = list(
        session.scalars(select(CalendarException).where(CalendarException.complex_id == cx.id))
    )
    spaces = list(
        session.scalars(select(Space).where(Space.complex_id == cx.id).order_by(Space.id))
    )
    space_code = {s.id: s.code for s in spaces}
    complex_doc: dict[str, Any] = {
        "site_id": cx.site_id,
        "name": cx.name,
        "address": cx.address,
        "timezone": cx.timezone,
        "location": {
            k: _region(session, getattr(cx, f"{k}_id")) for k in ("district", "street", "community")
        },
        "public_holidays": cx.public_holidays,
        "makeup_workdays": cx.makeup_workdays,
        "exceptions": _exceptions([e for e in exc if e.space_id is None]),
    }
    return {
        "version": 1,
        "complex": complex_doc,
        "spaces": [_space(s, [e for e in exc if e.space_id == s.id]) for s in spaces],
        "devices": _devices(session, cx, space_code),
        "staff": _staff(session, cx),
        "checkpoints": [
            {"code": c.code, "space": space_code[c.space_id], "name": c.name, c.tag_kind: c.tag}
            for c in session.scalars(
                select(Checkpoint).where(Checkpoint.complex_id == cx.id).order_by(Checkpoint.id)
            )
        ],
        "task_rules": export_task_rules(session, cx, space_code),
        "contacts": export_contacts(session, cx),
    }


def _space(s: Space, exc: list[CalendarException]) -> dict[str, Any]:
    return {
        "code": s.code,
        "name": s.name,
        "type": s.type,
        "capacity": s.capacity,
        "hours": dict(s.weekly_hours),
        "exceptions": _exceptions(exc),
    }


def _devices(session: Session, cx: Complex, space_code: dict[int, str]) -> list[dict[str, Any]]:
    rows = list(
        session.scalars(select(Device).where(Device.complex_id == cx.id).order_by(Device.id))
    )
    codes = {d.id: d.code for d in rows}
    out = []
    for d in rows:
        item: dict[str, Any] = {"code": d.code, "kind": d.kind, "name": d.name}
        if d.space_id is not None:
            item["space"] = space_code[d.space_id]
        item["transport"] = d.transport
        if d.via_id is not None:
            item["via"] = codes[d.via_id]
        item["firmware"] = d.firmware
        out.append(item)
    return out


def _staff(session: Session, cx: Complex) -> list[dict[str, Any]]:
    out = []
    for person in session.scalars(
        select(Staff).where(Staff.complex_id == cx.id).order_by(Staff.id)
    ):
        uids = session.scalars(
            select(Badge.uid).where(Badge.staff_id == person.id).order_by(Badge.id)
        )
        out.append(
            {
                "code": person.code,
                "name": person.name,
                "duty": person.duty,
                "active": person.active,
                "badges": list(uids),
            }
        )
    return out


def export_setup(session: Session, site_id: str) -> str:
    """The setup file (YAML text, UTF-8 characters kept) of complex ``site_id``.

    Raises:
        LookupError: no complex has that site id.
    """
    return yaml.dump(
        export_data(session, site_id),
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=None,
        width=100,
    )
