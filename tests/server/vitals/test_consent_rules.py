"""Consent records must be complete and honest: evidence and operator named, and a new
consent never dated before the member's latest withdrawal (core, API and CLI)."""

from __future__ import annotations

import pytest
from facility_server.cli import app as cli_app
from facility_server.models import Consent, Member, Reading
from facility_server.vitals.consent import VitalsError, enrol, record_consent
from facility_server.vitals.retention import withdraw_consent
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from .helpers import Feed, card_pseudonym, example, local, member, reading_event

GRANT = local(2026, 6, 1, 9)


def _record(session: Session, m: Member, **kw: object) -> Consent:
    args: dict[str, object] = {
        "purpose": "health_monitoring",
        "granted_at": GRANT,
        "evidence": "HF-2026-0001",
        "by": "desk-1",
        "now": local(2026, 6, 2, 12),
    }
    return record_consent(session, m, **(args | kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"evidence": ""}, "evidence"), ({"evidence": "   "}, "evidence"), ({"by": ""}, "by")],
)
def test_consent_needs_evidence_and_operator(
    factory: sessionmaker[Session], change: dict[str, str], field: str
) -> None:
    """Empty or blank evidence, or no operator: refused naming the field; nothing kept."""
    with factory() as s:
        cx = example(s)
        m = enrol(s, cx.id, card_pseudonym("3301"), "王阿姨", by="desk-1", now=GRANT)
        with pytest.raises(VitalsError) as err:
            _record(s, m, **change)
        assert err.value.field == field
        assert s.scalar(select(func.count()).select_from(Consent)) == 0


def test_enrol_and_withdraw_need_an_operator(factory: sessionmaker[Session]) -> None:
    """Enrolment and withdrawal with a blank ``by`` are refused naming field ``by``."""
    with factory() as s:
        cx = example(s)
        with pytest.raises(VitalsError) as err:
            enrol(s, cx.id, card_pseudonym("3301"), "王阿姨", by=" ", now=GRANT)
        assert err.value.field == "by"
        mid, _ = member(s, cx, "3302", "李伯伯", GRANT)
        consent = s.scalars(select(Consent).where(Consent.member_id == mid)).one()
        with pytest.raises(VitalsError) as err:
            withdraw_consent(s, consent, by="", now=local(2026, 6, 2, 9))
        assert err.value.field == "by" and consent.withdrawn_at is None


def test_new_consent_cannot_predate_the_latest_withdrawal(factory: sessionmaker[Session]) -> None:
    """Withdrawn on 2 Jun 17:51, a new consent dated 1 Jun is refused (field granted_at,
    the value and the withdrawal time shown), so a morning reading of 2 Jun arriving late
    keeps no value; a consent dated after the withdrawal is accepted."""
    with factory() as s:
        cx = example(s)
        mid, alice = member(s, cx, "3301", "王阿姨", GRANT)
        consent = s.scalars(select(Consent)).one()
        withdrawn = local(2026, 6, 2, 17, 51).replace(second=9)
        withdraw_consent(s, consent, by="desk-1", now=withdrawn)
        m = s.get_one(Member, mid)
        with pytest.raises(VitalsError) as err:
            _record(s, m, granted_at=local(2026, 6, 1, 18), now=local(2026, 6, 3, 9))
        assert err.value.field == "granted_at"
        assert err.value.value == "2026-06-01T18:00:00+08:00"
        assert "2026-06-02T09:51:09+00:00" in str(err.value)
        _record(s, m, granted_at=local(2026, 6, 2, 18), now=local(2026, 6, 3, 9))
        s.commit()
    Feed(factory, local(2026, 6, 3, 9, 5)).send(
        reading_event(alice, local(2026, 6, 2, 8), [("heart_rate", 71.0)])
    )
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Reading)) == 0


def test_api_refuses_blank_evidence_and_backdated_consent(
    client: TestClient, world, factory: sessionmaker[Session]
) -> None:  # type: ignore[no-untyped-def]
    """POST consents: blank evidence and a grant before the latest withdrawal are 422
    naming the field; a consent in force already is 409."""
    with factory() as s:
        mid, _ = member(s, _cx(s, world), "3301", "王阿姨", GRANT)
        consent = s.scalars(select(Consent)).one()
        withdraw_consent(s, consent, by="desk-1", now=local(2026, 6, 1, 12))
        s.commit()
    url, auth = f"/api/v1/vitals/members/{mid}/consents", world.auth("manager_a")
    blank = client.post(url, json={"evidence": "  "}, headers=auth)
    assert blank.status_code == 422
    assert [(e["loc"], e["field"], e["value"]) for e in blank.json()["detail"]] == [
        (["body", "evidence"], "evidence", "***")  # a body value is never repeated here
    ]
    early = {"evidence": "HF-2", "granted_at": "2026-06-01T10:00:00+08:00"}
    r = client.post(url, json=early, headers=auth)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "granted_at"
    ok = {"evidence": "HF-2", "granted_at": "2026-06-01T13:00:00+08:00"}
    assert client.post(url, json=ok, headers=auth).status_code == 201
    again = client.post(url, json=ok, headers=auth)
    assert again.status_code == 409
    assert again.json()["detail"] == [
        {
            "type": "conflict",
            "loc": ["body", "purpose"],
            "field": "purpose",
            "msg": "a consent to this purpose is in force",
            "value": "***",
        }
    ]


def _cx(session: Session, world):  # type: ignore[no-untyped-def]
    from facility_server.models import Complex

    return session.get_one(Complex, world.complexes["a"])


def test_cli_refuses_empty_evidence_and_operator(
    db_url: str, factory: sessionmaker[Session]
) -> None:
    """``--evidence ""`` and ``--by ""`` exit 2 naming the option; nothing is recorded."""
    with factory() as s:
        cx = example(s)
        mid, _ = member(s, cx, "3301", "王阿姨", None)
        s.commit()
    runner = CliRunner()
    base = ["vitals", "consent", str(mid), "--db", db_url]
    empty = runner.invoke(cli_app, [*base, "--evidence", "", "--by", "desk-1"])
    assert empty.exit_code == 2 and "evidence" in empty.output
    nobody = runner.invoke(cli_app, [*base, "--evidence", "HF-1", "--by", ""])
    assert nobody.exit_code == 2 and "--by" in nobody.output
    enrol_nobody = runner.invoke(
        cli_app,
        [
            "vitals",
            "enrol",
            "xihu-beishan-shuguang",
            card_pseudonym("9999"),
            "x",
            "--by",
            " ",
            "--db",
            db_url,
        ],
    )
    assert enrol_nobody.exit_code == 2 and "--by" in enrol_nobody.output
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Consent)) == 0
        assert s.scalar(select(func.count()).select_from(Member)) == 1
