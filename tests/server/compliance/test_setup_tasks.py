"""Task rules and contacts in the setup file: idempotent import, export round trip,
changes and removals, errors naming the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from facility_server.models import Contact, TaskOccurrence, TaskRule
from facility_server.setup import SetupError, export_setup
from facility_server.setup.importer import import_setup_text, parse_setup
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from .conftest import SITE, Site, local


def _count(s: Session, model: type) -> int:
    return s.scalar(select(func.count()).select_from(model)) or 0


def test_rules_and_contacts_import_once_and_round_trip(
    factory: sessionmaker[Session], example_path: Path
) -> None:
    """Every rule and contact of the file once; a second import and an exported file change
    nothing."""
    text = example_path.read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    expected = (len(raw["task_rules"]), len(raw["contacts"]))
    assert expected[0] >= 6 and expected[1] >= 3  # the example keeps rules and contacts
    with factory() as s:
        first = import_setup_text(s, text)
        s.commit()
        second = import_setup_text(s, text)
        s.commit()
        exported = export_setup(s, SITE)
        again = import_setup_text(s, exported)
        s.commit()
        assert (_count(s, TaskRule), _count(s, Contact)) == expected
        assert export_setup(s, SITE) == exported
    assert (first.created["task_rule"], first.created["contact"]) == expected
    assert not second.changed and not again.changed
    doc = yaml.safe_load(exported)
    patrol = next(r for r in doc["task_rules"] if r["code"] == "kids-patrol")
    assert patrol == {
        "code": "kids-patrol", "space": "kids-play", "name": "儿童游乐区安全巡查",
        "kind": "patrol", "task": "patrol",
        "checkpoints": ["cp-kids-gate", "cp-kids-slide", "cp-kids-sandpit", "cp-kids-toys"],
        "grace_min": 10, "responsible": "s002", "every_min": 60, "window_min": 20,
    }  # fmt: skip


def test_changed_and_removed_rules(factory: sessionmaker[Session], example_path: Path) -> None:
    """A changed window updates one rule; a removed rule goes with its occurrences."""
    text = example_path.read_text(encoding="utf-8")
    with factory() as s:
        import_setup_text(s, text)
        s.commit()
    site = Site(factory)
    site.tick(local(2026, 6, 2, 9, 31))
    changed = text.replace("    window_min: 20 ", "    window_min: 25 ")
    assert changed != text
    with factory() as s:
        assert dict(import_setup_text(s, changed).updated) == {"task_rule": 1}
        s.commit()
    block = text[text.index("  - code: job-events") : text.index("# Who hears")]
    with factory() as s:
        patrol_id = s.scalar(select(TaskRule.id).where(TaskRule.code == "kids-patrol"))
        assert s.scalar(select(func.count()).where(TaskOccurrence.rule_id == patrol_id))
        no_patrol = text.replace(
            text[text.index("  - code: kids-patrol") : text.index("  - code: fitness-maintenance")],
            "",
        )
        report = import_setup_text(s, no_patrol.replace(block, ""))
        s.commit()
        assert dict(report.deleted) == {"task_rule": 2}
        assert not s.scalar(select(func.count()).where(TaskOccurrence.rule_id == patrol_id))


@pytest.mark.parametrize(
    ("old", "new", "anchor", "field", "message"),
    [
        ("[cp-kids-gate, cp-kids-slide, cp-kids-sandpit, cp-kids-toys]",
         "[cp-kids-gate, cp-kids-slide, cp-fitness-equip, cp-kids-toys]",
         "cp-fitness-equip, cp-kids-toys", "task_rules.1.checkpoints.2", "no such checkpoint"),
        ("    every_min: 60 ", "    every_min: 25 ", "code: kids-patrol", "task_rules.1",
         "window_min + grace_min"),
        ("    period: week\n", "    period: fortnight\n", "period: fortnight",
         "task_rules.2.period", "Input should be"),
        ("    responsible: s003\n", "    responsible: s999\n", "responsible: s999",
         "task_rules.0.responsible", "no such staff"),
        ('url: "wecombot://REPLACE-WITH-WECOM-ROBOT-KEY"', 'url: "nosuch://SECRET-KEY"',
         "nosuch://", "contacts.1.url", "not a notification URL"),
        ("    deadline: opening ", '    deadline: "25:00" ', '"25:00"',
         "task_rules.0.deadline", "out of range"),
        # kids-play opens 09:00-17:30 = 510 min: an offset of 510 leaves no round
        ("    grace_min: 10\n", "    grace_min: 10\n    offset_min: 510\n", "offset_min: 510",
         "task_rules.1.offset_min", "offset_min 510 is not shorter than the tue opening "
         "09:00-17:30 (510 min)"),
        ("    every_min: 60 ", "    every_min: 25 ", "code: kids-patrol", "task_rules.1",
         "(20 + 10 = 30) must not exceed every_min (25)"),
        ('    start: "06:00"\n', '    start: "24:00"\n', '"24:00"', "task_rules.0.start",
         "start must be 00:00-23:59"),
        ("    deadline: opening ", '    deadline: "06:00" ', "code: kids-disinfection",
         "task_rules.0", "deadline '06:00' equals start '06:00'"),
        ("    deadline: opening ", '    deadline: "08:00"\n    before_opening_min: 30\n',
         "code: kids-disinfection", "task_rules.0",
         "before_opening_min (30) applies only with deadline 'opening', got deadline '08:00'"),
        ("[cp-kids-gate, cp-kids-slide, cp-kids-sandpit, cp-kids-toys]",
         "[cp-kids-gate, cp-kids-slide, cp-kids-gate, cp-kids-toys]",
         "code: kids-patrol", "task_rules.1", "checkpoint listed twice: cp-kids-gate"),
        ("  - code: kids-patrol ", "  - code: kids-disinfection ", "安排专人安全巡查",
         "task_rules.1.code", "duplicate code 'kids-disinfection'"),
    ],
)  # fmt: skip
def test_rule_errors_name_line_and_field(
    example_path: Path, old: str, new: str, anchor: str, field: str, message: str
) -> None:
    """A bad rule or contact is reported with its YAML line, dotted field and a reason."""
    text = example_path.read_text(encoding="utf-8")
    assert old in text
    bad = text.replace(old, new, 1)
    line = next(i for i, x in enumerate(bad.splitlines(), 1) if anchor in x)
    with pytest.raises(SetupError) as info:
        parse_setup(bad)
    assert (info.value.field, info.value.line) == (field, line)
    assert message in str(info.value) and "SECRET-KEY" not in str(info.value)


def test_duplicate_yaml_key_is_refused(example_path: Path) -> None:
    """A key given twice in one mapping is refused with its line, not silently last-wins."""
    text = example_path.read_text(encoding="utf-8")
    bad = text.replace("    every_min: 60 ", "    every_min: 60\n    every_min: 90 ", 1)
    line = next(i for i, x in enumerate(bad.splitlines(), 1) if "every_min: 90" in x)
    first = line - 1
    with pytest.raises(SetupError) as info:
        parse_setup(bad)
    assert info.value.line == line
    assert f"duplicate key 'every_min' (first given on line {first})" in str(info.value)
