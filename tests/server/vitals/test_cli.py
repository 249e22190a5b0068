"""`facility server vitals ...`: enrol, consent, export, usage, withdraw, erase, purge from
the command line, each audited as the system with the operator named."""

from __future__ import annotations

import json

from facility_server.cli import app as cli_app
from facility_server.models import AuditEntry, Consent, Member, Reading
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from .helpers import Feed, card_pseudonym, example, local, reading_event


def _run(db_url: str, *args: str) -> str:
    r = CliRunner().invoke(cli_app, ["vitals", *args, "--db", db_url])
    assert r.exit_code == 0, r.output
    return r.output


def test_member_lifecycle_from_the_command_line(
    db_url: str, factory: sessionmaker[Session]
) -> None:
    """Enrol and consent, a reading is kept, the export is a valid Bundle, usage shows the
    count; erasure removes the member; a bad pseudonym exits 2 naming the field."""
    with factory() as s:
        example(s)
        s.commit()
    alice = card_pseudonym("3301")
    site = "xihu-beishan-shuguang"
    mid = int(_run(db_url, "enrol", site, alice, "王阿姨", "--by", "desk-1"))
    grant = "2026-06-02T09:00:00+08:00"
    _run(db_url, "consent", str(mid), "--evidence", "HF-1", "--granted-at", grant, "--by", "desk-1")
    Feed(factory, local(2026, 6, 2, 9, 30)).send(
        reading_event(alice, local(2026, 6, 2, 9, 10), [("heart_rate", 71.0)])
    )
    bundle = Bundle.model_validate_json(_run(db_url, "export", str(mid), "--by", "dr-li"))
    assert float(bundle.entry[0].resource.valueQuantity.value) == 71.0
    usage = json.loads(_run(db_url, "usage", site, "--from", "2026-06-02"))
    assert usage["totals"]["sessions"] == 1 and usage["readings"]["heart_rate"]["evaluated"] == 1
    assert json.loads(_run(db_url, "erase", str(mid), "--by", "dr-li", "--yes"))["readings"] == 1
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Member)) == 0
        assert s.scalar(select(func.count()).select_from(Reading)) == 0
        actions = [(e.action, e.detail["operator"]) for e in s.scalars(select(AuditEntry))]
    assert ("vital_member.erase", "dr-li") in actions and (
        "vital_consent.record",
        "desk-1",
    ) in actions
    bad = CliRunner().invoke(
        cli_app, ["vitals", "enrol", site, "3301", "x", "--by", "d", "--db", db_url]
    )
    assert bad.exit_code == 2 and "pseudonym" in bad.output and "3301" not in bad.output


def test_consent_with_a_naive_time_exits_2_naming_option_and_value(
    db_url: str, factory: sessionmaker[Session]
) -> None:
    """``--granted-at`` without a UTC offset is refused before anything is written."""
    with factory() as s:
        example(s)
        s.commit()
    mid = int(
        _run(db_url, "enrol", "xihu-beishan-shuguang", card_pseudonym("3302"), "李伯", "--by", "d")
    )
    args = [
        "consent",
        str(mid),
        "--evidence",
        "HF-9",
        "--granted-at",
        "2026-06-02T09:00",
        "--by",
        "d",
    ]
    bad = CliRunner().invoke(cli_app, ["vitals", *args, "--db", db_url])
    text = " ".join(bad.output.translate({ord(c): " " for c in "│╭╮╰╯─"}).split())
    assert bad.exit_code == 2 and "--granted-at '2026-06-02T09:00': has no UTC offset" in text
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Consent)) == 0
