"""`facility server` commands: clean flags, passwords never on the command line, bad URLs
stop `run` at once with one line and exit 2."""

from __future__ import annotations

import uvicorn
from facility_server.auth.passwords import verify_secret
from facility_server.cli import app as cli_app
from facility_server.core.settings import get_settings
from facility_server.models import Account
from pydantic import ValidationError
from pytest import MonkeyPatch, raises
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

NEW_PASSWORD = "tea garden 1978"  # noqa: S105 - test value


def _no_server(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("run started uvicorn although its settings were bad")


def test_run_help_shows_a_clean_ingest_flag() -> None:
    """`run --help` offers --ingest/--no-ingest, not --no-no-ingest."""
    out = CliRunner().invoke(cli_app, ["run", "--help"], terminal_width=200).output
    assert "--ingest" in out and "--no-ingest" in out
    assert "--no-no-ingest" not in out


def test_run_refuses_a_non_mqtt_broker_url(monkeypatch: MonkeyPatch, db_url: str) -> None:
    """`run --mqtt http://nope` says the URL must be mqtt:// or mqtts:// and exits 2."""
    monkeypatch.setattr(uvicorn, "run", _no_server)
    r = CliRunner().invoke(cli_app, ["run", "--db", db_url, "--mqtt", "http://nope"])
    assert r.exit_code == 2, r.output
    assert isinstance(r.exception, SystemExit), r.exception
    assert "--mqtt" in r.output and "mqtt://" in r.output and "http://" in r.output


def test_run_with_an_unknown_database_scheme_exits_2(monkeypatch: MonkeyPatch) -> None:
    """`run --db garbage://x` prints one clear line (no NoSuchModuleError) and exits 2."""
    monkeypatch.setattr(uvicorn, "run", _no_server)
    r = CliRunner().invoke(cli_app, ["run", "--db", "garbage://x", "--no-ingest"])
    assert r.exit_code == 2, r.output
    assert isinstance(r.exception, SystemExit), r.exception
    assert "garbage://x" in r.output and "postgresql" in r.output


def test_settings_accept_only_mqtt_broker_urls() -> None:
    """mqtt:// and mqtts:// are accepted; http://, a missing host or port 99999 are not."""
    assert get_settings(mqtt_url="mqtts://u:p@broker.example").mqtt_url.startswith("mqtts")
    for bad in ("http://nope", "mqtt://", "mqtt://host:99999", "127.0.0.1:1883"):
        with raises(ValidationError):
            get_settings(mqtt_url=bad)


def _password_ok(factory: sessionmaker[Session], username: str, password: str) -> bool:
    with factory() as s:
        account = s.scalars(select(Account).where(Account.username == username)).one()
        return verify_secret(password, account.password_hash)


def test_create_account_has_no_password_option(db_url: str) -> None:
    """`create-account --password` no longer exists (it would show in ps and history)."""
    r = CliRunner().invoke(
        cli_app, ["create-account", "alice", "admin", "--password", NEW_PASSWORD, "--db", db_url]
    )
    assert r.exit_code == 2
    assert "No such option" in r.output


def test_create_account_reads_password_from_environment(
    db_url: str, factory: sessionmaker[Session]
) -> None:
    """FACILITY_NEW_PASSWORD gives a person's password without a prompt."""
    r = CliRunner().invoke(
        cli_app,
        ["create-account", "alice", "admin", "--db", db_url],
        env={"FACILITY_NEW_PASSWORD": NEW_PASSWORD},
    )
    assert r.exit_code == 0, r.output
    assert _password_ok(factory, "alice", NEW_PASSWORD)


def test_create_account_prompts_hidden(
    db_url: str, factory: sessionmaker[Session], monkeypatch: MonkeyPatch
) -> None:
    """Without the variable the password is asked twice and never echoed."""
    monkeypatch.delenv("FACILITY_NEW_PASSWORD", raising=False)
    r = CliRunner().invoke(
        cli_app,
        ["create-account", "bob", "admin", "--db", db_url],
        input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
    )
    assert r.exit_code == 0, r.output
    assert "Password" in r.output and NEW_PASSWORD not in r.output
    assert _password_ok(factory, "bob", NEW_PASSWORD)


def test_create_machine_account_asks_no_password(db_url: str, monkeypatch: MonkeyPatch) -> None:
    """A gateway gets an API token; no password is asked for."""
    monkeypatch.delenv("FACILITY_NEW_PASSWORD", raising=False)
    r = CliRunner().invoke(cli_app, ["create-account", "gw1", "gateway", "--db", db_url], input="")
    assert r.exit_code == 0, r.output
    assert "Password" not in r.output
    assert r.output.strip().splitlines()[-1].startswith("fo_")
