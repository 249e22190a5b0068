"""``facility sim kiosk``: a health kiosk publishing a morning of sessions on a local broker.

Registered on the ``facility sim`` app by :mod:`facility_sim.cli`. The serial variant
of the kiosk is not simulated (kiosks here are MQTT-native).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from facility_contracts.ids import is_node_id

from facility_sim.cli_options import LogLevel, MqttUrl, SiteTz, setup_logging, zone
from facility_sim.kiosk_day import Fault, PlannedSession


def _window(day: str | None, opens: str, closes: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The opening window of ``day`` (ISO date, local); default: the latest day whose
    window has ended. Raises typer.BadParameter for bad text or a window not over yet."""
    try:
        t_open, t_close = dt_time.fromisoformat(opens), dt_time.fromisoformat(closes)
    except ValueError as exc:
        raise typer.BadParameter(
            f"--opens {opens!r} / --closes {closes!r}: expected HH:MM"
        ) from exc
    now = datetime.now(tz)
    if day is None:
        chosen = now.date() if now.time() >= t_close else now.date() - timedelta(days=1)
    else:
        try:
            chosen = date.fromisoformat(day)
        except ValueError as exc:
            raise typer.BadParameter(f"--day {day!r}: expected an ISO date (2025-11-29)") from exc
    start = datetime.combine(chosen, t_open, tz)
    end = datetime.combine(chosen, t_close, tz)
    if end <= start:
        raise typer.BadParameter(f"--closes {closes} must be after --opens {opens}")
    if end > now:
        raise typer.BadParameter(
            f"--day {chosen}: the window ends at {end.isoformat()}, after now; a kiosk "
            "cannot publish sessions ahead of time (omit --day for the latest past window)"
        )
    return start, end


def _cards(members: int, cards_file: Path | None, seed: int) -> list[str]:
    from facility_sim.kiosk_day import member_cards

    if cards_file is None:
        return member_cards(members, seed)
    try:
        lines = cards_file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise typer.BadParameter(f"--cards {cards_file}: {exc.strerror}") from exc
    cards = [line.strip() for line in lines if line.strip()]
    if not cards:
        raise typer.BadParameter(f"--cards {cards_file}: no card numbers (one per line)")
    return cards


def _expect_doc(plan: list[PlannedSession], ids: list[str]) -> dict[str, object]:
    return {
        "format": "facility-sim/kiosk-expect/1",
        "sessions": [
            {"id": i, "at": p.at.isoformat(), "card": p.card, "kind": p.kind, "fault": p.fault}
            for i, p in zip(ids, plan, strict=True)
        ],
    }


def kiosk(
    kiosk_id: Annotated[str, typer.Option("--kiosk", help="The kiosk's id (its topic level).")],
    mqtt_url: MqttUrl = "mqtt://127.0.0.1:1884",
    sessions: Annotated[int, typer.Option(help="Measuring sessions in the window.")] = 30,
    members: Annotated[int, typer.Option(help="Members (generated card numbers).")] = 12,
    cards_file: Annotated[
        Path | None, typer.Option("--cards", help="File of card numbers, one per line.")
    ] = None,
    day: Annotated[
        str | None, typer.Option(help="Local ISO date; default: the latest past window.")
    ] = None,
    opens: Annotated[str, typer.Option(help="Window start, local HH:MM.")] = "08:00",
    closes: Annotated[str, typer.Option(help="Window end, local HH:MM.")] = "11:30",
    site_tz: SiteTz = "Asia/Shanghai",
    crisis: Annotated[
        int, typer.Option(help="Sessions in a crisis range (BP >= 180 or SpO2 < 90, in turn).")
    ] = 0,
    impossible: Annotated[
        int, typer.Option(help="Sessions with an impossible value (SpO2 104 %, 60 degC, -3 kg).")
    ] = 0,
    wrong_unit: Annotated[
        int, typer.Option(help="Sessions with a unit not the type's (degF, lb, mg/dL).")
    ] = 0,
    inverted: Annotated[int, typer.Option(help="Sessions with systolic below diastolic.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of members, times and values.")] = 0,
    gap: Annotated[float, typer.Option(help="Real seconds between two sessions.")] = 0.2,
    wait: Annotated[float, typer.Option(help="At the end, wait this long for PUBACKs (s).")] = 10.0,
    client_id: Annotated[
        str | None, typer.Option(help="Fixed MQTT client id; default kiosk-<kiosk>.")
    ] = None,
    expect: Annotated[
        Path | None, typer.Option(help="Write the sessions (id, time, card, fault) as JSON here.")
    ] = None,
    log_level: LogLevel = "WARNING",
) -> None:
    """A health kiosk on the complex's local broker: a morning of measuring sessions.

    Publishes each session at QoS 1 on kiosk/v1/<kiosk>/session and keeps it until the
    broker acknowledges it. Prints one JSON line: sessions, confirmed, unconfirmed,
    injected faults. Exit code 1 when sessions stay unconfirmed after --wait.
    """
    from pydantic import ValidationError

    from facility_sim.kiosk import MqttKiosk
    from facility_sim.kiosk_day import day_plan, kiosk_sessions

    setup_logging(log_level)
    if not is_node_id(kiosk_id):
        raise typer.BadParameter(
            f"--kiosk {kiosk_id!r}: not a valid id (1-64 lowercase letters, digits, - and _)"
        )
    tz = zone(site_tz)
    start, end = _window(day, opens, closes, tz)
    faults: dict[Fault, int] = {
        "crisis": crisis,
        "impossible_value": impossible,
        "bad_unit": wrong_unit,
        "bp_inverted": inverted,
    }
    try:
        cards = _cards(members, cards_file, seed)
        plan = day_plan(start, end, cards=cards, sessions=sessions, seed=seed, faults=faults)
        messages = kiosk_sessions(plan, kiosk_id)
        device = MqttKiosk(mqtt_url, kiosk_id, client_id=client_id)
    except (ValueError, ValidationError) as exc:
        typer.echo(f"facility sim kiosk: {exc}", err=True)
        raise typer.Exit(2) from exc
    if expect is not None:
        expect.write_text(json.dumps(_expect_doc(plan, [m.id for m in messages]), indent=1))
    device.start()
    for message in messages:
        device.publish(message)
        time.sleep(gap)
    confirmed = device.wait_confirmed(wait)
    device.stop()
    summary = {
        "kiosk": kiosk_id,
        "window": [start.astimezone(UTC).isoformat(), end.astimezone(UTC).isoformat()],
        "sessions": len(messages),
        "confirmed": device.confirmed,
        "unconfirmed": len(device.pending),
        "faults": {k: v for k, v in faults.items() if v},
    }
    typer.echo(json.dumps(summary))
    if not confirmed:
        raise typer.Exit(1)
