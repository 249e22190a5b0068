"""`facility server vitals ...` keeps health data where it belongs: exports private and
never over a file, nothing of an erased member left in the SQLite files; and its inputs
are checked (retention, settings, date range) with clear one-line errors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from facility_server.cli import app as cli_app
from facility_server.core.migrate import upgrade
from facility_server.models import Complex
from facility_server.vitals.usage import usage_summary
from sqlalchemy import make_url
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from .helpers import Feed, card_pseudonym, example, local, member, reading_event


def _cli(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli_app, ["vitals", *args, "--db", db_url])


def _member_with_reading(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        cx = example(s)
        mid, alice = member(s, cx, "3301 0600 1234", "王阿姨", local(2026, 6, 1, 9))
        s.commit()
    Feed(factory, local(2026, 6, 2, 9, 30)).send(
        reading_event(alice, local(2026, 6, 2, 9, 10), [("heart_rate", 71.0)])
    )
    return mid


def test_export_is_private_and_never_overwrites(
    db_url: str, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """``-o F`` writes mode 0600; again without --force exits 2 and leaves F as it was;
    with --force it is rewritten (still 0600)."""
    mid = _member_with_reading(factory)
    out = tmp_path / "member.json"
    assert _cli(db_url, "export", str(mid), "--by", "dr-li", "-o", str(out)).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert json.loads(out.read_text(encoding="utf-8"))["resourceType"] == "Bundle"
    out.write_text("keep me", encoding="utf-8")
    again = _cli(db_url, "export", str(mid), "--by", "dr-li", "-o", str(out))
    assert again.exit_code == 2 and "--force" in again.output
    assert out.read_text(encoding="utf-8") == "keep me"
    out.chmod(0o644)
    forced = _cli(db_url, "export", str(mid), "--by", "dr-li", "-o", str(out), "--force")
    assert forced.exit_code == 0 and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert json.loads(out.read_text(encoding="utf-8"))["resourceType"] == "Bundle"


def test_purge_retention_zero_and_bad_setting_are_refused(
    db_url: str, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--retention-days 0`` exits 2 naming the option (nothing purged or audited with
    another retention); a bad FACILITY_SERVER_VITALS_RETENTION_DAYS exits 2 naming the
    variable, without a traceback."""
    _member_with_reading(factory)
    zero = _cli(db_url, "purge", "--retention-days", "0")
    assert zero.exit_code == 2 and "--retention-days" in zero.output and "0" in zero.output
    monkeypatch.setenv("FACILITY_SERVER_VITALS_RETENTION_DAYS", "half a year")
    bad = CliRunner().invoke(cli_app, ["vitals", "purge", "--db", db_url])
    assert bad.exit_code == 2 and "FACILITY_SERVER_VITALS_RETENTION_DAYS" in bad.output
    assert "half a year" not in bad.output and "Traceback" not in bad.output


def test_usage_range_checked_and_crisis_alerts_of_the_range(
    db_url: str, factory: sessionmaker[Session]
) -> None:
    """``--from X --to X`` exits 2 naming --to, as the API refuses it; crisis alerts
    counted are those opened in the range (the crisis of 2 Jun is not in 3 Jun's)."""
    with factory() as s:
        example(s)
        s.commit()
    Feed(factory, local(2026, 6, 2, 9, 31)).send(
        reading_event(card_pseudonym("5555 6666"), local(2026, 6, 2, 9, 30), [("spo2", 86.0)])
    )
    site = "xihu-beishan-shuguang"
    same = _cli(db_url, "usage", site, "--from", "2026-06-02", "--to", "2026-06-02")
    assert same.exit_code == 2 and "--to" in same.output and "2026-06-02" in same.output
    june2 = json.loads(_cli(db_url, "usage", site, "--from", "2026-06-02").output)
    assert june2["crisis_alerts"] == {"open": 1, "acknowledged": 0, "resolved": 0}
    assert june2["totals"]["member_hours"] == 1
    with factory() as s:
        cx = s.query(Complex).one()
        june3 = usage_summary(s, cx, local(2026, 6, 3).date(), local(2026, 6, 4).date())
    assert june3["crisis_alerts"] == {"open": 0, "acknowledged": 0, "resolved": 0}


def test_erased_member_leaves_nothing_in_the_sqlite_files(
    db_url: str, factory: sessionmaker[Session]
) -> None:
    """After ``vitals erase`` on SQLite the write-ahead log is empty and neither the
    database file nor the log holds the member's pseudonym or name (secure_delete,
    checkpoint)."""
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite files only (PostgreSQL: VACUUM, see docs/vitals.md)")
    mid = _member_with_reading(factory)
    factory.kw["bind"].dispose()  # the test's own pooled connections
    assert _cli(db_url, "erase", str(mid), "--by", "dr-li", "--yes").exit_code == 0
    path = Path(make_url(db_url).database or "")
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    data = path.read_bytes()
    pseudonym = card_pseudonym("3301 0600 1234").encode()
    assert pseudonym not in data and "王阿姨".encode() not in data


def test_new_sqlite_database_is_private(tmp_path: Path) -> None:
    """A database file the server creates (migrate) is readable by its owner only."""
    path = tmp_path / "facility.db"
    upgrade(f"sqlite:///{path}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
