"""Import a setup file: create or update one whole complex, idempotently.

Every record is matched by its natural key (region path, site id, then codes within the
complex); a changed field is updated, an unchanged record is left alone, and records of
the complex that the file no longer lists are deleted (the file describes the whole
complex). Running the same file twice therefore changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
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
from facility_server.setup import tasks
from facility_server.setup.schema import DayException, SetupFile
from facility_server.setup.yamlmap import SetupError, line_of, load_with_lines, validate


@dataclass
class ImportReport:
    """Counts per record kind: created, updated, deleted, unchanged; and notes naming
    deleted or kept records (contacts)."""

    site_id: str = ""
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)  # what a person should know, in words

    @property
    def changed(self) -> bool:
        """True when the import wrote anything."""
        return bool(+self.created or +self.updated or +self.deleted)


def parse_setup(text: str) -> SetupFile:
    """Parse and check a setup document (shape and cross references).

    Raises:
        SetupError: naming the line, the field and the value.
    """
    data, node = load_with_lines(text)
    setup = validate(SetupFile, data, node)
    _check_references(setup, node)
    return setup


def _check_references(setup: SetupFile, node: yaml.Node | None) -> None:
    def fail(msg: str, loc: list[str | int], value: Any) -> SetupError:
        return SetupError(msg, line=line_of(node, loc), field=".".join(map(str, loc)), value=value)

    for section in ("spaces", "devices", "staff", "checkpoints"):
        seen: set[str] = set()
        for i, item in enumerate(getattr(setup, section)):
            if item.code in seen:
                raise fail(f"duplicate code {item.code!r}", [section, i, "code"], item.code)
            seen.add(item.code)
    spaces = {s.code for s in setup.spaces}
    edges = {d.code for d in setup.devices if d.kind == "edge_agent"}
    for i, dev in enumerate(setup.devices):
        if dev.space is not None and dev.space not in spaces:
            raise fail("no such space in this file", ["devices", i, "space"], dev.space)
        if dev.via is not None and dev.via not in edges:
            raise fail("no edge agent with this code in this file", ["devices", i, "via"], dev.via)
    for i, cp in enumerate(setup.checkpoints):
        if cp.space not in spaces:
            raise fail("no such space in this file", ["checkpoints", i, "space"], cp.space)
    badges: dict[str, int] = {}
    for i, person in enumerate(setup.staff):
        for j, uid in enumerate(person.badges):
            if str(uid) in badges:
                raise fail(
                    "badge already given to another staff entry", ["staff", i, "badges", j], uid
                )
            badges[str(uid)] = i
    _check_unique_tags_and_dates(setup, fail)
    tasks.check_references(setup, fail)


def _check_unique_tags_and_dates(
    setup: SetupFile, fail: Callable[[str, list[str | int], Any], SetupError]
) -> None:
    """What the database keeps unique: a tag per checkpoint, a date per exception list."""
    tags: dict[tuple[str, str], str] = {}
    for i, cp in enumerate(setup.checkpoints):
        kind, tag = ("nfc", cp.nfc) if cp.nfc is not None else ("qr", cp.qr or "")
        if (kind, tag) in tags:
            msg = f"{kind} tag {tag!r} already used by checkpoint {tags[kind, tag]}"
            raise fail(msg, ["checkpoints", i, kind], tag)
        tags[kind, tag] = cp.code
    lists: list[tuple[list[str | int], list[DayException]]] = [
        (["complex", "exceptions"], setup.complex.exceptions)
    ]
    lists += [(["spaces", i, "exceptions"], s.exceptions) for i, s in enumerate(setup.spaces)]
    for loc, exceptions in lists:
        seen: set[str] = set()
        for j, exc in enumerate(exceptions):
            if exc.date in seen:
                raise fail(f"a second exception on {exc.date}", [*loc, j, "date"], exc.date)
            seen.add(exc.date)


def import_setup(session: Session, path: str | Path) -> ImportReport:
    """Import the setup file at ``path`` into ``session`` (the caller commits).

    Raises:
        SetupError: the file is malformed or not UTF-8 (line, field and value named).
        OSError: the file cannot be read.
    """
    return import_setup_text(session, decode_setup(Path(path).read_bytes()))


def decode_setup(raw: bytes) -> str:
    """The text of a setup file, which must be UTF-8 (a byte-order mark is allowed).

    Raises:
        SetupError: not UTF-8 (e.g. GBK from a Chinese Windows editor), naming the line.
    """
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise SetupError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02X}); save the file as UTF-8 "
            "(GBK and other encodings are not read)",
            line=line,
        ) from exc


def import_setup_text(session: Session, text: str) -> ImportReport:
    """Like :func:`import_setup`, from the document text."""
    setup = parse_setup(text)
    report = ImportReport(site_id=setup.complex.site_id)
    cx = _sync_complex(session, setup, report)
    spaces = _sync_spaces(session, cx, setup, report)
    _sync_exceptions(session, cx, spaces, setup, report)
    _sync_devices(session, cx, spaces, setup, report)
    _sync_staff(session, cx, setup, report)
    _sync_checkpoints(session, cx, spaces, setup, report)
    tasks.sync_task_rules(session, cx, spaces, setup, report, _upsert, _prune)
    tasks.sync_contacts(session, cx, setup, report, _upsert, _prune)
    session.flush()
    return report


def _apply(row: Any, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def _upsert(
    session: Session,
    kind: str,
    row: Any | None,
    make: Callable[[], Any],
    values: dict[str, Any],
    report: ImportReport,
) -> Any:
    if row is None:
        row = make()
        _apply(row, values)
        session.add(row)
        session.flush()
        report.created[kind] += 1
    elif _apply(row, values):
        report.updated[kind] += 1
    else:
        report.unchanged[kind] += 1
    return row


def _prune(session: Session, kind: str, rows: Iterable[Any], report: ImportReport) -> None:
    for row in rows:
        session.delete(row)
        report.deleted[kind] += 1
    session.flush()


def _region(
    session: Session, kind: str, path: str, name: str, parent: int | None, report: ImportReport
) -> Region:
    row = session.scalar(select(Region).where(Region.path == path))
    code = path.rsplit("/", 1)[-1]
    values = {"kind": kind, "code": code, "name": name, "parent_id": parent, "path": path}
    return _upsert(session, "region", row, Region, values, report)


def _sync_complex(session: Session, setup: SetupFile, report: ImportReport) -> Complex:
    spec, loc = setup.complex, setup.complex.location
    district = _region(session, "district", loc.district.code, loc.district.name, None, report)
    street_path = f"{district.path}/{loc.street.code}"
    street = _region(session, "street", street_path, loc.street.name, district.id, report)
    community = _region(
        session,
        "community",
        f"{street_path}/{loc.community.code}",
        loc.community.name,
        street.id,
        report,
    )
    values = {
        "site_id": spec.site_id,
        "name": spec.name,
        "address": spec.address,
        "timezone": spec.timezone,
        "district_id": district.id,
        "street_id": street.id,
        "community_id": community.id,
        "public_holidays": str(spec.public_holidays),
        "makeup_workdays": spec.makeup_workdays,
    }
    row = session.scalar(select(Complex).where(Complex.site_id == spec.site_id))
    return _upsert(session, "complex", row, Complex, values, report)


def _by_code(session: Session, model: Any, cx: Complex) -> dict[str, Any]:
    return {r.code: r for r in session.scalars(select(model).where(model.complex_id == cx.id))}


def _sync_spaces(
    session: Session, cx: Complex, setup: SetupFile, report: ImportReport
) -> dict[str, Space]:
    existing = _by_code(session, Space, cx)
    out: dict[str, Space] = {}
    for spec in setup.spaces:
        values = {
            "complex_id": cx.id,
            "code": spec.code,
            "name": spec.name,
            "type": str(spec.type),
            "capacity": spec.capacity,
            "weekly_hours": dict(spec.hours),
        }
        out[spec.code] = _upsert(
            session, "space", existing.pop(spec.code, None), Space, values, report
        )
    _prune(session, "space", existing.values(), report)
    return out


def _sync_exceptions(
    session: Session, cx: Complex, spaces: dict[str, Space], setup: SetupFile, report: ImportReport
) -> None:
    existing = {
        (r.space_key, r.day): r
        for r in session.scalars(
            select(CalendarException).where(CalendarException.complex_id == cx.id)
        )
    }
    wanted: list[tuple[Space | None, DayException]] = [(None, e) for e in setup.complex.exceptions]
    wanted += [(spaces[s.code], e) for s in setup.spaces for e in s.exceptions]
    for space, exc in wanted:
        key = (space.id if space else 0, date.fromisoformat(exc.date))
        values = {
            "complex_id": cx.id,
            "space_id": space.id if space else None,
            "space_key": key[0],
            "day": key[1],
            "closed": not exc.hours,
            "hours": list(exc.hours),
            "note": exc.note,
        }
        _upsert(session, "exception", existing.pop(key, None), CalendarException, values, report)
    _prune(session, "exception", existing.values(), report)


def _sync_devices(
    session: Session, cx: Complex, spaces: dict[str, Space], setup: SetupFile, report: ImportReport
) -> None:
    existing = _by_code(session, Device, cx)
    rows: dict[str, Device] = {}
    for spec in sorted(setup.devices, key=lambda d: d.kind != "edge_agent"):
        values = {
            "complex_id": cx.id,
            "code": spec.code,
            "kind": str(spec.kind),
            "name": spec.name,
            "space_id": spaces[spec.space].id if spec.space else None,
            "transport": str(spec.transport),
            "firmware": spec.firmware,
            "via_id": rows[spec.via].id if spec.via else None,
        }
        rows[spec.code] = _upsert(
            session, "device", existing.pop(spec.code, None), Device, values, report
        )
    _prune(session, "device", existing.values(), report)


def _sync_staff(session: Session, cx: Complex, setup: SetupFile, report: ImportReport) -> None:
    existing = _by_code(session, Staff, cx)
    badges = {b.uid: b for b in session.scalars(select(Badge).where(Badge.complex_id == cx.id))}
    for spec in setup.staff:
        values = {
            "complex_id": cx.id,
            "code": spec.code,
            "name": spec.name,
            "duty": spec.duty,
            "active": spec.active,
        }
        person = _upsert(session, "staff", existing.pop(spec.code, None), Staff, values, report)
        for uid in spec.badges:
            values = {"complex_id": cx.id, "staff_id": person.id, "uid": str(uid)}
            _upsert(session, "badge", badges.pop(str(uid), None), Badge, values, report)
    _prune(session, "badge", badges.values(), report)
    _prune(session, "staff", existing.values(), report)


def _sync_checkpoints(
    session: Session, cx: Complex, spaces: dict[str, Space], setup: SetupFile, report: ImportReport
) -> None:
    existing = _by_code(session, Checkpoint, cx)
    listed = {spec.code for spec in setup.checkpoints}
    # unlisted ones go first: a checkpoint renamed in the file keeps its (unique) tag
    gone = [existing.pop(code) for code in list(existing) if code not in listed]
    _prune(session, "checkpoint", gone, report)
    for spec in setup.checkpoints:
        kind, tag = ("nfc", spec.nfc) if spec.nfc is not None else ("qr", spec.qr)
        values = {
            "complex_id": cx.id,
            "code": spec.code,
            "space_id": spaces[spec.space].id,
            "name": spec.name,
            "tag_kind": kind,
            "tag": tag,
        }
        _upsert(session, "checkpoint", existing.pop(spec.code, None), Checkpoint, values, report)
