"""Setup by file: the example loads, import is idempotent, errors name line and field,
export round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from facility_contracts.ids import is_node_id
from facility_server.cli import app as cli_app
from facility_server.domain import SpaceType
from facility_server.models import Badge, Checkpoint, Device, Space, Staff
from facility_server.opening import parse_weekly, weekly_open_days, weekly_open_hours
from facility_server.setup import SetupError, export_setup, import_setup
from facility_server.setup.importer import import_setup_text, parse_setup
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

SITE = "xihu-beishan-shuguang"


def _counts(session: Session) -> tuple[int, ...]:
    return tuple(
        session.scalar(select(func.count()).select_from(m)) or 0
        for m in (Space, Device, Staff, Badge, Checkpoint)
    )


def test_example_is_a_full_4_5_x_complex(example_path: Path) -> None:
    """The shipped example has every 4+5+X type and meets the standard's hour rules."""
    setup = parse_setup(example_path.read_text(encoding="utf-8"))
    assert {s.type for s in setup.spaces} == set(SpaceType)
    by_type = {s.type: parse_weekly(s.hours) for s in setup.spaces}
    assert weekly_open_hours(by_type[SpaceType.culture]) >= 28
    assert weekly_open_days(by_type[SpaceType.health]) >= 5
    kinds = {d.kind for d in setup.devices}
    assert {
        "door_counter",
        "checkin_terminal",
        "health_kiosk",
        "satisfaction_terminal",
        "edge_agent",
    } <= kinds
    assert all(is_node_id(x) for x in [setup.complex.site_id, *(d.code for d in setup.devices)])
    assert any(c.space == "kids-play" for c in setup.checkpoints)


def test_import_twice_changes_nothing(factory: sessionmaker[Session], example_path: Path) -> None:
    """A second import of the same file writes nothing and leaves the same rows."""
    with factory() as s:
        first = import_setup(s, example_path)
        s.commit()
        before = _counts(s)
    with factory() as s:
        second = import_setup(s, example_path)
        s.commit()
        after = _counts(s)
    assert first.changed and not second.changed
    assert before == after == (12, 19, 5, 5, 5)


def test_badges_are_canonical(factory: sessionmaker[Session], example_path: Path) -> None:
    """Badges printed in decimal, reversed hex, 7-byte or with a check byte are stored canonical."""
    with factory() as s:
        import_setup(s, example_path)
        uids = set(s.scalars(select(Badge.uid)))
    # 0077740829 = 0x04A23B1D; "1e:3b:a2:04" reversed = 04A23B1E; BCC stripped from 04A23B20BD
    assert uids == {"04A23B1C", "04A23B1D", "04A23B1E", "04D2E1AA6F1E80", "04A23B20"}


def test_changed_field_is_updated(factory: sessionmaker[Session], example_path: Path) -> None:
    """Changing one capacity in the file updates that space and nothing else."""
    text = example_path.read_text(encoding="utf-8")
    with factory() as s:
        import_setup_text(s, text)
        s.commit()
    changed = text.replace("type: kids_play\n    capacity: 30", "type: kids_play\n    capacity: 35")
    assert changed != text
    with factory() as s:
        report = import_setup_text(s, changed)
        s.commit()
        cap = s.scalar(select(Space.capacity).where(Space.code == "kids-play"))
    assert dict(report.updated) == {"space": 1}
    assert cap == 35


def test_removed_device_is_deleted(factory: sessionmaker[Session], example_path: Path) -> None:
    """A device no longer listed in the file is removed (the file describes the whole complex)."""
    text = example_path.read_text(encoding="utf-8")
    with factory() as s:
        import_setup_text(s, text)
        s.commit()
    line = next(x for x in text.splitlines() if "code: sat-culture" in x)
    with factory() as s:
        report = import_setup_text(s, text.replace(line + "\n", ""))
        s.commit()
        assert dict(report.deleted) == {"device": 1}
        assert s.scalar(select(Device.id).where(Device.code == "sat-culture")) is None


@pytest.mark.parametrize(
    ("old", "new", "anchor", "field"),
    [
        ("    capacity: 40\n", "    capacity: -4\n", "capacity: -4", "spaces.0.capacity"),
        ("    type: elderly_meal\n", "    type: bowling\n", "type: bowling", "spaces.1.type"),
        (
            'hours: {mon: ["08:00-17:30"]',
            'hours: {mon: ["17:30-08:00"]',
            "17:30-08:00",
            "spaces.0.hours",
        ),
        (
            "site_id: xihu-beishan-shuguang",
            "site_id: Xihu/Beishan",
            "Xihu/Beishan",
            "complex.site_id",
        ),
        (
            "space: kids-play, transport: mqtt",
            "space: nowhere, transport: mqtt",
            "nowhere",
            "devices.13.space",
        ),
        ('badges: ["04A23B1C"]', 'badges: ["04A23B"]', '"04A23B"]', "staff.0.badges"),
        (
            "    duty: 综合体负责人\n",
            "    duty: 综合体负责人\n    colour: red\n",
            "colour: red",
            "staff.0.colour",
        ),
    ],
)
def test_errors_name_line_and_field(
    example_path: Path, old: str, new: str, anchor: str, field: str
) -> None:
    """A bad value is reported with its YAML line and dotted field path."""
    text = example_path.read_text(encoding="utf-8")
    assert old in text
    bad = text.replace(old, new, 1)
    line = next(
        i for i, x in enumerate(bad.splitlines(), 1) if anchor in x
    )  # where the bad value is
    with pytest.raises(SetupError) as info:
        parse_setup(bad)
    assert (info.value.field, info.value.line) == (field, line)
    assert f"line {line}" in str(info.value)


def test_yaml_syntax_error_names_line() -> None:
    """Broken YAML is reported with its line."""
    with pytest.raises(SetupError) as info:
        parse_setup("version: 1\ncomplex:\n  name: [unclosed\n")
    assert info.value.line >= 3


def test_export_round_trip(factory: sessionmaker[Session], example_path: Path) -> None:
    """export -> import changes nothing, and export(import(export)) is identical text."""
    with factory() as s:
        import_setup(s, example_path)
        s.commit()
        exported = export_setup(s, SITE)
    original = yaml.safe_load(example_path.read_text(encoding="utf-8"))
    again = yaml.safe_load(exported)
    assert [sp["code"] for sp in again["spaces"]] == [sp["code"] for sp in original["spaces"]]
    assert again["complex"]["location"] == original["complex"]["location"]
    with factory() as s:
        report = import_setup_text(s, exported)
        s.commit()
        assert not report.changed
        assert export_setup(s, SITE) == exported


def test_cli_import_and_export(db_url: str, example_path: Path, tmp_path: Path) -> None:
    """`facility server import` then `export -o` write the same complex; a bad file exits 1."""
    runner = CliRunner()
    r = runner.invoke(cli_app, ["import", str(example_path), "--db", db_url])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out.yaml"
    r = runner.invoke(cli_app, ["export", SITE, "-o", str(out), "--db", db_url])
    assert r.exit_code == 0, r.output
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["complex"]["site_id"] == SITE
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ncomplex: {}\n", encoding="utf-8")
    r = runner.invoke(cli_app, ["import", str(bad), "--db", db_url])
    assert r.exit_code == 1
    assert "line 2" in r.output
