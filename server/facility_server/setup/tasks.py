"""The setup file's task rules and contacts: shape, cross references, import, export.

``task_rules`` entries are the rules of :mod:`facility_server.compliance.rules` plus
``code`` (unique in the complex), ``space``, ``name`` and ``enabled``; ``contacts`` are
the complex's people to notify (Apprise URLs, topics ``tasks`` and/or ``devices``).
Street- and district-level contacts (escalation) are kept through the API, not here:
one setup file describes one complex.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.compliance.rules import DailyRule, PatrolRule, QuotaRule, parse_rule
from facility_server.domain import Code, Name, ShortText
from facility_server.models import AuditEntry, Complex, Contact, Space, TaskRule
from facility_server.opening import format_interval, parse_intervals

if TYPE_CHECKING:
    from facility_server.setup.importer import ImportReport
    from facility_server.setup.schema import SetupFile
    from facility_server.setup.yamlmap import SetupError

_ENTRY_FIELDS = {"code", "space", "name", "enabled"}


class _Entry(BaseModel):
    code: Code = Field(description="Rule id, unique in the complex.")
    space: Code = Field(description="Space code.")
    name: ShortText = Field("", description="Display name, e.g. 儿童游乐区每日消毒.")
    enabled: bool = Field(True, description="Evaluated and alerted.")


class DailyTaskSpec(DailyRule, _Entry):
    """A daily rule of one space."""


class PatrolTaskSpec(PatrolRule, _Entry):
    """A patrol rule of one space."""


class QuotaTaskSpec(QuotaRule, _Entry):
    """A quota rule of one space."""


TaskRuleSpec = Annotated[
    DailyTaskSpec | PatrolTaskSpec | QuotaTaskSpec, Field(discriminator="kind")
]
Topic = Literal["tasks", "devices", "health"]


class ContactSpec(BaseModel):
    """Someone told about the complex's alerts."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    code: Code = Field(description="Contact id, unique in the complex.")
    name: Name = Field(description="Who (named in messages).")
    url: Annotated[str, Field(min_length=3, max_length=1000)] = Field(
        description="Apprise URL: json://, dingtalk://, wecombot://, mailto:// (holds secrets)."
    )
    topics: list[Topic] = Field(
        default_factory=lambda: ["tasks"],
        min_length=1,
        description="tasks: a task not done; devices: a terminal or edge agent offline; "
        "health: a health-kiosk reading in a crisis range (the clinician on duty).",
    )
    staff: Code | None = Field(
        None,
        description="Staff code: then only task alerts of rules this person is responsible for.",
    )
    active: bool = Field(True, description="Receives messages.")

    @field_validator("url")
    @classmethod
    def _apprise(cls, value: str) -> str:
        from facility_server.notify.sender import check_url

        return check_url(value)


def pure_rule(
    spec: DailyTaskSpec | PatrolTaskSpec | QuotaTaskSpec,
) -> DailyRule | PatrolRule | QuotaRule:
    """The rule without the setup entry's fields."""
    return parse_rule(spec.model_dump(mode="json", exclude=_ENTRY_FIELDS))


def check_references(
    setup: SetupFile, fail: Callable[[str, list[str | int], Any], SetupError]
) -> None:
    """Codes unique; a rule's space, checkpoints (in that space) and responsible staff
    exist in the file; a patrol's first round falls inside every weekly opening interval
    of its space; a contact's staff exists.

    Raises:
        SetupError: (made by ``fail``) naming the field and value.
    """
    cp_space = {c.code: c.space for c in setup.checkpoints}
    staff = {s.code for s in setup.staff}
    spaces = {s.code for s in setup.spaces}
    hours = {s.code: s.hours for s in setup.spaces}
    for section in ("task_rules", "contacts"):
        seen: set[str] = set()
        for i, item in enumerate(getattr(setup, section)):
            if item.code in seen:
                raise fail(f"duplicate code {item.code!r}", [section, i, "code"], item.code)
            seen.add(item.code)
    for i, rule in enumerate(setup.task_rules):
        if rule.space not in spaces:
            raise fail(
                f"no such space {rule.space!r} in this file", ["task_rules", i, "space"], rule.space
            )
        for j, cp in enumerate(rule.checkpoints):
            if cp_space.get(cp) != rule.space:
                raise fail(
                    f"no such checkpoint {cp!r} in space {rule.space!r}",
                    ["task_rules", i, "checkpoints", j],
                    cp,
                )
        if isinstance(rule, PatrolTaskSpec):
            _check_offset(rule, hours.get(rule.space, {}), ["task_rules", i, "offset_min"], fail)
        if rule.responsible is not None and rule.responsible not in staff:
            raise fail(
                f"no such staff {rule.responsible!r} in this file",
                ["task_rules", i, "responsible"],
                rule.responsible,
            )
    for i, contact in enumerate(setup.contacts):
        if contact.staff is not None and contact.staff not in staff:
            raise fail(
                f"no such staff {contact.staff!r} in this file",
                ["contacts", i, "staff"],
                contact.staff,
            )


def _check_offset(
    rule: PatrolTaskSpec,
    weekly: Mapping[str, Sequence[str]],
    loc: list[str | int],
    fail: Callable[[str, list[str | int], Any], SetupError],
) -> None:
    """Refuse an ``offset_min`` not shorter than an opening interval of the weekly
    hours: that interval would have no round at all."""
    for weekday, texts in weekly.items():
        for start, end in parse_intervals(texts):
            if rule.offset_min >= end - start:
                raise fail(
                    f"offset_min {rule.offset_min} is not shorter than the {weekday} opening "
                    f"{format_interval((start, end))} ({end - start} min): it would have no round",
                    loc,
                    rule.offset_min,
                )


Upsert = Callable[..., Any]


def sync_task_rules(
    session: Session,
    cx: Complex,
    spaces: dict[str, Space],
    setup: SetupFile,
    report: ImportReport,
    upsert: Upsert,
    prune: Callable[..., None],
) -> None:
    """Create, update or delete the complex's task rules to match the file."""
    existing = {
        r.code: r for r in session.scalars(select(TaskRule).where(TaskRule.complex_id == cx.id))
    }
    for spec in setup.task_rules:
        rule = pure_rule(spec)
        values = {
            "complex_id": cx.id,
            "space_id": spaces[spec.space].id,
            "code": spec.code,
            "name": spec.name,
            "kind": rule.kind,
            "task": rule.task,
            "params": rule.model_dump(mode="json"),
            "enabled": spec.enabled,
        }
        upsert(session, "task_rule", existing.pop(spec.code, None), TaskRule, values, report)
    prune(session, "task_rule", existing.values(), report)


def sync_contacts(
    session: Session,
    cx: Complex,
    setup: SetupFile,
    report: ImportReport,
    upsert: Upsert,
    prune: Callable[..., None],
) -> None:
    """Create, update or delete the complex's contacts to match the file; a contact
    added through the API and missing from the file is kept (the report says so), every
    deleted one is named in ``report.notes``."""
    existing = {
        c.code: c
        for c in session.scalars(
            select(Contact).where(Contact.scope_kind == "complex", Contact.scope_id == cx.id)
        )
    }
    for spec in setup.contacts:
        values = {
            "scope_kind": "complex",
            "scope_id": cx.id,
            "complex_id": cx.id,
            "code": spec.code,
            "name": spec.name,
            "url": spec.url,
            "topics": list(spec.topics),
            "staff_code": spec.staff,
            "active": spec.active,
        }
        upsert(session, "contact", existing.pop(spec.code, None), Contact, values, report)
    kept = added_through_api(session, existing.values())
    for row in sorted(existing.values(), key=lambda c: c.code):
        if row.id in kept:
            report.notes.append(
                f"kept contact {row.code!r}: added through the API, not in the file "
                "(delete it there, or add it to the file)"
            )
        else:
            report.notes.append(f"deleted contact {row.code!r}: not in the file")
    prune(session, "contact", [c for c in existing.values() if c.id not in kept], report)


def added_through_api(session: Session, rows: Iterable[Contact]) -> set[int]:
    """Ids of ``rows`` created through ``POST /contacts`` and not deleted since: their
    last ``contact.create`` / ``contact.delete`` entry in the append-only audit log is a
    create (an id a deleted contact freed and an import reused has a delete last)."""
    by_target = {f"contact:{c.id}": c.id for c in rows}
    if not by_target:
        return set()
    last: dict[str, str] = {}
    entries = session.execute(
        select(AuditEntry.target, AuditEntry.action)
        .where(
            AuditEntry.action.in_(("contact.create", "contact.delete")),
            AuditEntry.outcome == "ok",
            AuditEntry.target.in_(by_target),
        )
        .order_by(AuditEntry.id)
    )
    for target, action in entries:
        last[target] = action
    return {by_target[t] for t, action in last.items() if action == "contact.create"}


def export_task_rules(
    session: Session, cx: Complex, space_code: dict[int, str]
) -> list[dict[str, Any]]:
    """The complex's task rules as setup entries (defaults left out)."""
    out = []
    rows = session.scalars(
        select(TaskRule).where(TaskRule.complex_id == cx.id).order_by(TaskRule.id)
    )
    for row in rows:
        rule = parse_rule(row.params)
        item: dict[str, Any] = {"code": row.code, "space": space_code[row.space_id]}
        if row.name:
            item["name"] = row.name
        item["kind"] = rule.kind
        item["task"] = rule.task
        item.update(rule.model_dump(mode="json", exclude_defaults=True, exclude={"kind", "task"}))
        if not row.enabled:
            item["enabled"] = False
        out.append(item)
    return out


def export_contacts(session: Session, cx: Complex) -> list[dict[str, Any]]:
    """The complex's contacts as setup entries."""
    out = []
    rows = session.scalars(
        select(Contact)
        .where(Contact.scope_kind == "complex", Contact.scope_id == cx.id)
        .order_by(Contact.id)
    )
    for row in rows:
        item: dict[str, Any] = {
            "code": row.code,
            "name": row.name,
            "url": row.url,
            "topics": list(row.topics),
        }
        if row.staff_code:
            item["staff"] = row.staff_code
        if not row.active:
            item["active"] = False
        out.append(item)
    return out
