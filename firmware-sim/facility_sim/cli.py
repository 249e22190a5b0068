"""``facility sim``: simulated devices on the command line (door counter, satisfaction
terminal, RFID reader, camera video, health kiosk).

``facility sim door-counter --link /tmp/fo/dc-main --calit2 ../shared/data/calit2-door-counts.csv``
replays the CalIt2 file through a DC v1 door counter on a pty. Signals: SIGUSR1 unplugs
and replugs the port once, SIGUSR2 power-cycles the counter once, SIGTERM/SIGINT stop.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from facility_contracts.errors import ContractError

from facility_sim import calit2
from facility_sim.cli_options import (
    LogLevel,
    MqttUrl,
    Noise,
    PtyLink,
    SiteTz,
    UnplugFor,
    setup_logging,
    zone,
)
from facility_sim.errors import CalIt2Error, SimError
from facility_sim.expect import write_expected
from facility_sim.pty_port import PtyPort, check_link_folder
from facility_sim.replay import Replay, ReplayOptions

logger = logging.getLogger(__name__)

app = typer.Typer(
    help="Simulated devices: door counters and RFID readers on pseudo-terminals, "
    "satisfaction terminals and health kiosks on MQTT, camera scenes as a video file.",
    no_args_is_help=True,
)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhdw])")


@app.callback()
def _main() -> None:
    """Simulated devices."""


def parse_duration(text: str) -> timedelta:
    """``90m``, ``36h``, ``7d``, ``1w``, ``3600s`` as a timedelta (> 0).

    Raises:
        typer.BadParameter: not a positive number followed by one of s, m, h, d, w.
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None or float(match.group(1)) <= 0:
        raise typer.BadParameter(
            f"--limit {text!r}: expected a positive duration like 1w, 7d, 36h, 90m"
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_local(text: str, tz: ZoneInfo, option: str) -> datetime:
    """An ISO date or date-time; without an offset it is local time in ``tz``.

    Raises:
        typer.BadParameter: not ISO 8601.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise typer.BadParameter(
                f"{option} {text!r}: expected an ISO date or date-time"
            ) from exc
        moment = datetime(day.year, day.month, day.day, tzinfo=tz)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def _slots(
    path: Path,
    tz: ZoneInfo,
    start: str | None,
    limit: str | None,
    shift_weeks: int | None,
    end_before: str | None,
) -> list[calit2.Slot]:
    try:
        slots = calit2.load(path, tz)
    except CalIt2Error as exc:
        raise SimError(f"{path}: {exc}") from exc
    if not slots:
        raise SimError(f"{path}: the file has no rows (expected flow_id,date,time,count rows)")
    first = parse_local(start, tz, "--start") if start else None
    slots = calit2.select(slots, first, parse_duration(limit) if limit else None)
    if not slots:
        raise typer.BadParameter("--start/--limit select no slot of the file")
    if shift_weeks is not None and end_before is not None:
        raise typer.BadParameter("give --shift-weeks or --end-before, not both")
    if end_before is not None:
        instant = (
            datetime.now(tz=UTC)
            if end_before == "now"
            else parse_local(end_before, tz, "--end-before")
        )
        shift_weeks = calit2.weeks_to_end_before(slots, instant)
    return calit2.retime(slots, shift_weeks) if shift_weeks else slots


def _signals(replay: Replay) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGUSR1, lambda *_: replay.unplug_once())
    signal.signal(signal.SIGUSR2, lambda *_: replay.request_power_cycle())
    signal.signal(signal.SIGTERM, lambda *_: replay.stop(timeout=0))
    signal.signal(signal.SIGINT, lambda *_: replay.stop(timeout=0))


@app.command("door-counter")
def door_counter(
    link: PtyLink,
    calit2_file: Annotated[Path, typer.Option("--calit2", help="CalIt2 door-count CSV to replay.")],
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 1.0,
    max_speed: Annotated[
        bool, typer.Option("--max-speed", help="As fast as the reader reads.")
    ] = False,
    site_tz: SiteTz = "Asia/Shanghai",
    heartbeat: Annotated[
        float, typer.Option(help="Heartbeat after this many simulated s of silence.")
    ] = 60.0,
    modulus: Annotated[int, typer.Option(help="Totals wrap at this value (2..2**32).")] = 2**32,
    rtc: Annotated[bool, typer.Option(help="Frames carry the simulated clock (rtc_ms).")] = True,
    seed: Annotated[int, typer.Option(help="Seed of the fault injector.")] = 0,
    noise: Noise = 0.0,
    truncate: Annotated[float, typer.Option(help="Probability that a frame is cut short.")] = 0.0,
    bitflip: Annotated[
        float, typer.Option(help="Probability of one flipped bit in a frame.")
    ] = 0.0,
    unplug_every: Annotated[
        float | None, typer.Option(help="Unplug every this many real s.")
    ] = None,
    unplug_for: UnplugFor = 2.0,
    power_cycle_every: Annotated[
        float | None, typer.Option(help="Power-cycle every this many simulated s.")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="Replay from this local ISO date/date-time.")
    ] = None,
    limit: Annotated[
        str | None, typer.Option(help="Replay this long from --start (1w, 7d, 36h).")
    ] = None,
    shift_weeks: Annotated[
        int | None, typer.Option(help="Shift the replay by whole weeks.")
    ] = None,
    end_before: Annotated[
        str | None,
        typer.Option(help="Shift by whole weeks to end before this ISO instant or 'now'."),
    ] = None,
    expect: Annotated[
        Path | None, typer.Option(help="Write expected per-slot/day/total counts (JSON) here.")
    ] = None,
    settle: Annotated[float, typer.Option(help="Wait after a reader opens the pty (s).")] = 0.1,
    window: Annotated[
        int, typer.Option(help="Bytes written before waiting for the reader to read them all.")
    ] = 1024,
    linger: Annotated[
        float, typer.Option(help="At the end, wait this long for the reader to drain (s).")
    ] = 10.0,
    log_level: LogLevel = "INFO",
) -> None:
    """Replay CalIt2 door counts through a DC v1 door counter on a pty."""
    setup_logging(log_level, "%(asctime)s %(levelname)s %(name)s: %(message)s")
    tz = zone(site_tz)
    try:
        check_link_folder(link)
        slots = _slots(calit2_file, tz, start, limit, shift_weeks, end_before)
        options = ReplayOptions(
            speed=None if max_speed else speed,
            heartbeat_s=heartbeat,
            modulus=modulus,
            rtc=rtc,
            seed=seed,
            noise=noise,
            truncate=truncate,
            bitflip=bitflip,
            keep_fault_records=False,
            power_cycle_every_s=power_cycle_every,
            unplug_every_s=unplug_every,
            unplug_for_s=unplug_for,
        )
        port = PtyPort(link, settle_s=settle, window=window)
        replay = Replay(slots, port, options)
        if expect is not None:
            write_expected(expect, slots)
        port.open()
    except (SimError, ValueError, OSError) as exc:
        typer.echo(f"facility sim door-counter: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        _run(replay, port, slots, linger)
    finally:
        port.close()
    _report(replay)


def _run(replay: Replay, port: PtyPort, slots: list[calit2.Slot], linger: float) -> None:
    _signals(replay)
    people_in = sum(s.people_in for s in slots)
    people_out = sum(s.people_out for s in slots)
    typer.echo(
        f"door-counter: {port.link} -> {port.slave_name}; {len(slots)} slots "
        f"{slots[0].start.isoformat()} .. {slots[-1].end.isoformat()}; "
        f"in {people_in} out {people_out}"
    )
    replay.start()
    while not replay.done.wait(0.2):
        pass
    if replay.stats.finished and not port.drain(linger):
        logger.warning("reader did not take the last bytes within %s s", linger)


def _report(replay: Replay) -> None:
    stats = replay.stats
    state = "finished" if stats.finished else "stopped"
    if stats.error:
        state = f"failed: {stats.error}"
    typer.echo(
        f"door-counter: {state}; {stats.frames} frames, {stats.bytes} bytes, "
        f"paused {stats.paused_s:.1f} s, power cycles {stats.power_cycles}, "
        f"unplugs {stats.unplugs}, faults {stats.faults}"
    )
    if stats.error:
        raise typer.Exit(1)


def _mix(text: str) -> dict[str, float]:
    """``very_satisfied=5,satisfied=3,...`` -> button weights (missing buttons weigh 0)."""
    from facility_sim.satisfaction import BUTTONS

    weights: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if name not in BUTTONS:
            known = ", ".join(BUTTONS)
            raise typer.BadParameter(f"--mix: unknown button {name!r} (one of {known})")
        try:
            weights[name] = float(value)
        except ValueError as exc:
            raise typer.BadParameter(f"--mix: {part!r} is not BUTTON=WEIGHT") from exc
    if not weights or sum(weights.values()) <= 0 or min(weights.values()) < 0:
        raise typer.BadParameter("--mix needs non-negative weights with a positive sum")
    return weights


@app.command("satisfaction")
def satisfaction(
    site: Annotated[str, typer.Option(help="The complex's site id.")],
    device: Annotated[str, typer.Option(help="The terminal's device id.")],
    space: Annotated[str, typer.Option(help="The space (service) it rates.")],
    mqtt_url: MqttUrl = "mqtt://127.0.0.1:1883",
    visitors: Annotated[int, typer.Option(help="Visitors who press a button.")] = 20,
    mix: Annotated[str, typer.Option(help="Button weights, BUTTON=WEIGHT,...")] = (
        "very_satisfied=5,satisfied=3,dissatisfied=1,very_dissatisfied=1"
    ),
    gap: Annotated[float, typer.Option(help="Real seconds between visitors.")] = 4.0,
    mash: Annotated[
        float, typer.Option(help="Probability that a visitor mashes the button 2-5 times.")
    ] = 0.2,
    lockout: Annotated[float, typer.Option(help="Lock-out after a vote, s.")] = 3.0,
    heartbeat: Annotated[float, typer.Option(help="Seconds between status messages.")] = 30.0,
    wait_acks: Annotated[
        float, typer.Option(help="At the end, wait this long for the gateway's confirmations (s).")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the visitors' choices.")] = 0,
) -> None:
    """A four-button satisfaction terminal on MQTT: visitors vote, mashing counts once.

    Prints one JSON line: presses, votes, ignored presses, confirmed votes, votes per button.
    """
    import json
    import random

    from facility_sim.satisfaction import MqttTerminal, SatisfactionTerminal

    weights = _mix(mix)
    rng = random.Random(seed)
    try:
        logic = SatisfactionTerminal(device, space, lockout_ms=int(lockout * 1000))
        term = MqttTerminal(mqtt_url, site, logic, heartbeat_s=heartbeat).start()
    except (ValueError, ContractError) as exc:
        typer.echo(f"facility sim satisfaction: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not term.connected.wait(10):
        typer.echo(f"facility sim satisfaction: no broker at {mqtt_url}", err=True)
        term.stop(clean=False)
        raise typer.Exit(1)
    names, cum = list(weights), list(weights.values())
    for _ in range(visitors):
        button = rng.choices(names, weights=cum)[0]
        for _ in range(rng.randint(2, 5) if rng.random() < mash else 1):
            term.press(button)
            time.sleep(min(0.05, gap / 10))
        time.sleep(gap)
    deadline = time.monotonic() + wait_acks
    while term.pending and time.monotonic() < deadline:
        time.sleep(0.1)
    term.stop()
    stats = logic.stats
    typer.echo(
        json.dumps(
            {
                "presses": stats.presses,
                "votes": stats.votes,
                "ignored": stats.ignored,
                "acked": term.acked,
                "by_rating": stats.by_rating,
            }
        )
    )


# Check-in terminal simulators (issue 4): RFID reader on a pty, camera scenes to video.
from facility_sim.checkin_cli import camera_video, rfid_reader  # noqa: E402

app.command("rfid-reader")(rfid_reader)
app.command("camera-video")(camera_video)

# Health kiosk simulator (issue 7): an MQTT-native kiosk on the complex's local broker.
from facility_sim.kiosk_cli import kiosk  # noqa: E402

app.command("kiosk")(kiosk)
