"""The runner's memo and the command line: a rolled-back tick is written again by the
next one; ``facility server compliance`` prints the day's board."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from facility_server.cli import app as cli_app
from facility_server.compliance.store import Memo
from facility_server.compliance.tick import compliance_tick
from facility_server.models import TaskOccurrence
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from .conftest import Site, local


def _count(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(TaskOccurrence)) or 0


def test_memo_forgets_a_rolled_back_tick(site: Site, factory: sessionmaker[Session]) -> None:
    """A tick rolled back leaves nothing; with the memo forgotten the next tick writes all."""
    memo = Memo()
    site.heartbeat(local(2026, 6, 2, 9, 59))
    with factory() as s:
        first = compliance_tick(s, local(2026, 6, 2, 10), memo=memo)
        s.rollback()
    memo.forget()
    assert first.written > 0 and _count(factory) == 0
    with factory() as s:
        again = compliance_tick(s, local(2026, 6, 2, 10), memo=memo)
        s.commit()
    memo.accept()
    assert again.written == first.written == _count(factory)
    with factory() as s:
        assert compliance_tick(s, local(2026, 6, 2, 10), memo=memo).written == 0


def test_cli_prints_the_board(db_url: str, example_path: Path) -> None:
    """The command shows each rule's occurrences of the local day with their states."""
    runner = CliRunner()
    assert runner.invoke(cli_app, ["import", str(example_path), "--db", db_url]).exit_code == 0
    r = runner.invoke(
        cli_app,
        ["compliance", "xihu-beishan-shuguang", "--at", "2026-06-02T10:00+08:00", "--db", db_url],
    )
    assert r.exit_code == 0, r.output
    board = {(b["space"], b["rule"]): b["occurrences"] for b in json.loads(r.output)}
    # the terminal never reported: what would be missed is unknown, not missed
    assert board[("kids-play", "kids-disinfection")][0]["state"] == "unknown"
    assert [o["key"] for o in board[("elderly-care", "health-lecture")]] == ["2026-06"]
    naive = runner.invoke(cli_app, ["compliance", "x", "--at", "2026-06-02T10:00", "--db", db_url])
    assert naive.exit_code == 2


@pytest.mark.parametrize("at", ["tomorrow", "2026-06-02T10:00", "1990-01-01T00:00+08:00"])
def test_cli_refuses_a_bad_at_naming_option_and_value(db_url: str, at: str) -> None:
    """A word, a naive time or a year the API refuses: exit 2, naming --at and the value,
    no traceback."""
    r = CliRunner().invoke(cli_app, ["compliance", "x", "--at", at, "--db", db_url])
    assert (r.exit_code == 2 and r.exception is None) or isinstance(r.exception, SystemExit)
    text = " ".join(r.output.split())
    assert f"--at {at!r}" in text and "Traceback" not in text
