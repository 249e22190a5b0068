"""``facility server vitals ...``: members, consent, purge, export, erasure, usage.

Commands act as the system with the operator named by ``--by`` (not empty; kept in the
audit log's detail); each change is audited like its API twin. Nothing printed holds a
pseudonym except what the operator typed. Exit code 2 for bad input (the message names
the field and the value) or a database failure.

    facility server vitals enrol SITE PSEUDONYM "王阿姨" --by desk-1   # DISPLAY_NAME
    facility server vitals consent MEMBER_ID --evidence HF-2026-0153 --by desk-1
    facility server vitals withdraw MEMBER_ID --by desk-1
    facility server vitals purge [--retention-days 180]
    facility server vitals export MEMBER_ID --by dr-li -o member.json [--force]
    facility server vitals erase MEMBER_ID --by dr-li --yes
    facility server vitals usage SITE --from 2026-06-01 --to 2026-06-03

An export is written readable by its owner only (0600) and never over an existing file
without ``--force``; after an erasure or a withdrawal SQLite's write-ahead log is
checkpointed, so no copy of the deleted rows stays in it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from facility_server.cli_values import instant_option

app = typer.Typer(
    help="Health kiosks: members, consent, purge, export, erasure, usage.", no_args_is_help=True
)
DbOpt = Annotated[str | None, typer.Option("--db", help="Database URL (default: settings).")]
ByOpt = Annotated[
    str,
    typer.Option(
        "--by", help="Who is doing it (kept in the audit log).", callback=lambda v: _by(v)
    ),
]


def _fail(message: object, code: int = 2) -> NoReturn:
    from facility_server.cli import _fail as fail

    fail(message, code)


def _settings() -> Any:
    """The server's settings; a bad environment value exits 2 naming the variable (no
    traceback; the value is not repeated: it may be a URL with a password)."""
    from pydantic import ValidationError

    from facility_server.core.settings import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        name = "FACILITY_SERVER_" + ".".join(map(str, err["loc"])).upper()
        _fail(f"{name}: {err['msg'].removeprefix('Value error, ')}")


def _url(db: str | None) -> str:
    return db or str(_settings().database_url)


@contextmanager
def _session(db: str | None) -> Iterator[Session]:
    from facility_server.cli import _database_errors, _factory
    from facility_server.core.db import session_scope

    url = _url(db)
    with _database_errors(url), session_scope(_factory(url)) as session:
        yield session


def _checkpoint(db: str | None) -> None:
    """Clear SQLite's write-ahead log of rows just deleted (see the module doc)."""
    from facility_server.cli import _database_errors
    from facility_server.core.db import checkpoint, make_engine

    url = _url(db)
    with _database_errors(url):
        engine = make_engine(url)
        try:
            checkpoint(engine)
        finally:
            engine.dispose()


def _by(value: str) -> str:
    if not value.strip():
        raise typer.BadParameter(f"must name who is doing it (value {value!r})")
    return value.strip()


def _audit(session: Session, action: str, target: str, by: str, detail: dict[str, Any]) -> None:
    from facility_server.auth.audit import record

    record(session, None, action, target, "ok", {"operator": by, "via": "cli", **detail})


def _message(exc: Any) -> str:
    """``field: message (value 'v')`` of a :class:`~facility_server.vitals.consent.VitalsError`."""
    shown = "" if exc.value is None else f" (value {exc.value!r})"
    return f"{exc.field}: {exc}{shown}"


def _member(session: Session, member_id: int) -> Any:
    from facility_server.models import Member

    member = session.get(Member, member_id)
    if member is None:
        _fail(f"member_id: no member {member_id}")
    return member


@app.command()
def enrol(site_id: str, pseudonym: str, display_name: str, by: ByOpt, db: DbOpt = None) -> None:
    """Enrol a member of a complex by the pseudonym of their card and the name the health
    station knows them by (DISPLAY_NAME, as in the API); prints the member id."""
    from facility_server.models import Complex
    from facility_server.vitals.consent import VitalsError
    from facility_server.vitals.consent import enrol as do_enrol

    with _session(db) as session:
        cx = session.scalar(select(Complex).where(Complex.site_id == site_id))
        if cx is None:
            _fail(f"site_id: no complex {site_id!r}")
        try:
            member = do_enrol(session, cx.id, pseudonym, display_name, by=by, now=datetime.now(UTC))
        except VitalsError as exc:
            _fail(_message(exc))
        _audit(session, "vital_member.enrol", f"vital_member:{member.id}", by, {})
    typer.echo(member.id)


@app.command()
def consent(
    member_id: int,
    evidence: Annotated[str, typer.Option(help="Proof, e.g. the signed form's number.")],
    by: ByOpt,
    granted_at: Annotated[str | None, typer.Option(help="ISO instant with zone; now.")] = None,
    purpose: str = "health_monitoring",
    db: DbOpt = None,
) -> None:
    """Record a member's separate consent; prints the consent id."""
    from facility_server.vitals.consent import VitalsError, record_consent

    at = instant_option(granted_at, "--granted-at") if granted_at else datetime.now(UTC)
    with _session(db) as session:
        member = _member(session, member_id)
        try:
            row = record_consent(
                session,
                member,
                purpose=purpose,
                granted_at=at,
                evidence=evidence,
                by=by,
                now=datetime.now(UTC),
            )
        except VitalsError as exc:
            _fail(_message(exc))
        _audit(
            session,
            "vital_consent.record",
            f"vital_member:{member.id}",
            by,
            {"purpose": purpose, "consent_id": row.id},
        )
    typer.echo(row.id)


@app.command()
def withdraw(
    member_id: int, by: ByOpt, purpose: str = "health_monitoring", db: DbOpt = None
) -> None:
    """Withdraw a member's consent: their kept readings are deleted (PIPL art. 47)."""
    from facility_server.vitals.consent import VitalsError, active_consent
    from facility_server.vitals.retention import withdraw_consent

    with _session(db) as session:
        member = _member(session, member_id)
        row = active_consent(session, member.id, purpose)
        if row is None:
            _fail(f"purpose: no consent in force to {purpose!r}")
        try:
            counts = withdraw_consent(session, row, by=by, now=datetime.now(UTC))
        except VitalsError as exc:
            _fail(_message(exc))
        _audit(
            session,
            "vital_consent.withdraw",
            f"vital_member:{member.id}",
            by,
            {"purpose": purpose, **counts},
        )
    _checkpoint(db)
    typer.echo(json.dumps(counts))


@app.command()
def purge(
    retention_days: Annotated[
        int | None, typer.Option(help="Days to keep (at least 1). Default: settings.")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Delete readings and sessions older than the retention (the daily job, now)."""
    from facility_server.vitals.consent import VitalsError
    from facility_server.vitals.runner import run_purge

    days = _settings().vitals_retention_days if retention_days is None else retention_days
    if days < 1:
        _fail(f"--retention-days: must be at least 1 (value {days})")
    with _session(db) as session:
        try:
            counts = run_purge(session, datetime.now(UTC), days)
        except VitalsError as exc:
            _fail(_message(exc))
    _checkpoint(db)
    typer.echo(json.dumps(counts))


def write_private(path: Path, text: str, *, force: bool) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600); an existing file only
    with ``force`` (then it is made 0600 too).

    Raises:
        FileExistsError: ``path`` exists and not ``force``.
        OSError: it cannot be written.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


@app.command()
def export(
    member_id: int,
    by: ByOpt,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="File (mode 0600).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    db: DbOpt = None,
) -> None:
    """Write a member's readings as a FHIR R4B Bundle of Observations (on request)."""
    from facility_server.vitals.fhir import bundle_json, member_bundle

    if out is not None and out.exists() and not force:
        _fail(f"--out: {out} exists (health data: add --force to overwrite it)")
    with _session(db) as session:
        member = _member(session, member_id)
        doc = bundle_json(member_bundle(session, member, datetime.now(UTC)))
        text = json.dumps(doc, ensure_ascii=False, indent=2)
        if out is not None:
            try:
                write_private(out, text, force=force)
            except OSError as exc:
                _fail(f"--out: cannot write {out}: {exc.strerror or exc}")
        _audit(
            session,
            "vital_reading.export",
            f"vital_member:{member.id}",
            by,
            {"purpose": "member_request", "observations": len(doc.get("entry", []))},
        )
    if out is None:
        typer.echo(text)


@app.command()
def erase(
    member_id: int,
    by: ByOpt,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm the erasure.")] = False,
    db: DbOpt = None,
) -> None:
    """Erase a member everywhere (PIPL art. 47): member, consents, readings, links."""
    from facility_server.vitals.retention import erase_member

    if not yes:
        _fail("erasure cannot be undone: add --yes")
    with _session(db) as session:
        member = _member(session, member_id)
        counts = erase_member(session, member)
        _audit(
            session,
            "vital_member.erase",
            f"vital_member:{member_id}",
            by,
            {"purpose": "member_request", **counts},
        )
    _checkpoint(db)
    typer.echo(json.dumps(counts))


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(f"{option}: not a date YYYY-MM-DD (value {text!r})")


@app.command()
def usage(
    site_id: str,
    from_: Annotated[
        str | None, typer.Option("--from", help="First local day; today (complex's zone).")
    ] = None,
    to: Annotated[str | None, typer.Option(help="Day after the last; from + 1.")] = None,
    db: DbOpt = None,
) -> None:
    """Print kiosk usage counts of a complex as JSON (no values, no members): sessions,
    member-hours, consented and crisis sessions, readings, rejections, crisis alerts."""
    from facility_server.models import Complex
    from facility_server.vitals.consent import VitalsError
    from facility_server.vitals.usage import usage_summary

    with _session(db) as session:
        cx = session.scalar(select(Complex).where(Complex.site_id == site_id))
        if cx is None:
            _fail(f"site_id: no complex {site_id!r}")
        today = datetime.now(ZoneInfo(cx.timezone)).date()
        first = _day(from_, "--from") if from_ else today
        end = _day(to, "--to") if to else first + timedelta(days=1)
        try:
            summary = usage_summary(session, cx, first, end)
        except VitalsError as exc:
            _fail(f"--to: {exc} (value {to!r})")
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
