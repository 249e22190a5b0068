"""The demo's moving parts, started in one process and stopped in order."""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from facility_cli.demo_extras import publish_activity, server_views
from facility_cli.demo_summary import summarise
from facility_cli.embedded_broker import EmbeddedBroker


class DemoError(RuntimeError):
    """The demo could not run to its end (a part failed or the timeout passed)."""


@dataclass
class CounterPlan:
    """One door counter of the complex and the week of CalIt2 traffic it replays."""

    device: str
    space: str
    space_name: str
    space_type: str
    capacity: int
    link: Path
    slots: list[Any]


def _registry(setup: Path, db_url: str) -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
    """Import the setup file into a fresh server database; return (session factory, the
    complex's id/site/name/timezone, its door counters)."""
    from facility_server.core.db import make_engine, session_factory
    from facility_server.core.migrate import upgrade
    from facility_server.models.devices import Device
    from facility_server.models.registry import Complex, Space
    from facility_server.setup import import_setup
    from sqlalchemy import select

    upgrade(db_url)
    factory = session_factory(make_engine(db_url))
    with factory() as session:
        import_setup(session, setup)
        session.commit()
        cx = session.scalars(select(Complex)).one()
        spaces = {s.id: s for s in session.scalars(select(Space).where(Space.complex_id == cx.id))}
        counters = [
            {
                "device": d.code,
                "space": spaces[d.space_id].code,
                "space_name": spaces[d.space_id].name,
                "space_type": spaces[d.space_id].type,
                "capacity": spaces[d.space_id].capacity,
            }
            for d in session.scalars(
                select(Device)
                .where(Device.complex_id == cx.id, Device.kind == "door_counter")
                .order_by(Device.id)
            )
            if d.space_id in spaces
        ]
        info = {"id": cx.id, "site": cx.site_id, "name": cx.name, "timezone": cx.timezone}
    return factory, info, counters


def _plans(
    calit2: Path, counters: list[dict[str, Any]], tz: ZoneInfo, weeks: int, work: Path
) -> list[CounterPlan]:
    """Give each door counter a different stretch of CalIt2, re-timed to end before now."""
    from facility_sim import calit2 as c2

    slots = c2.load(calit2, tz)
    first = slots[0].start
    plans = []
    now = datetime.now(UTC)
    total_weeks = (slots[-1].end - first).days // 7
    for i, c in enumerate(counters):
        start = first + timedelta(weeks=(i * weeks) % max(1, total_weeks - weeks + 1))
        part = c2.select(slots, start, timedelta(weeks=weeks))
        part = c2.retime(part, c2.weeks_to_end_before(part, now))
        plans.append(CounterPlan(link=work / "tty" / c["device"], slots=part, **c))
    return plans


def _edge_config(
    site: str, port: int, plans: list[CounterPlan], work: Path, extra: list[dict[str, Any]]
) -> Any:
    """edge-main's config: a door counter per plan, and the ``extra`` devices."""
    from facility_edge.config import parse_config

    return parse_config(
        {
            "agent": {"id": "edge-main", "site": site, "data_dir": str(work / "edge")},
            "mqtt": {"host": "127.0.0.1", "port": port, "keepalive_s": 10, "protocol": "3.1.1"},
            "outbox": {"max_inflight": 500, "ack_timeout_s": 10},
            "heartbeat_s": 5,
            "devices": [
                {
                    "type": "door_counter",
                    "id": p.device,
                    "space": p.space,
                    "port": str(p.link),
                    "clock": "device",
                    "max_rtc_skew_s": None,
                }
                for p in plans
            ]
            + extra,
        },
        source="demo",
    )


def _stored_in(store: Any, site: str) -> int:
    return sum(
        int(p.field_dict()["in"]) for p in store.points("door_crossing", tags={"site": site})
    )


def _server_stored_in(factory: Any, complex_id: int) -> int:
    """People entering in the door events the server's own ingest has stored (its
    utilisation is computed from these, not from the gateway's point store)."""
    from facility_server.models import DoorCrossing
    from sqlalchemy import func, select

    with factory() as session:
        total = session.scalar(
            select(func.coalesce(func.sum(DoorCrossing.people_in), 0)).where(
                DoorCrossing.complex_id == complex_id
            )
        )
    return int(total or 0)


def simulated_day(factory: Any, cx: dict[str, Any], url: str) -> dict[str, Any]:
    """The play area's simulated day (:func:`facility_cli.demo_day.run_day`), before any
    live part runs: its clock must be the only one writing the terminal's status."""
    from facility_cli.demo_day import run_day
    from facility_cli.demo_day_script import DayError

    try:
        return run_day(factory, cx, url=url)
    except DayError as exc:
        raise DemoError(f"simulated day: {exc}") from exc


def say(text: str) -> None:
    """Progress on stderr, so stdout carries only the summary."""
    import sys

    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def run_demo(
    *, setup: Path, calit2: Path, weeks: int, workdir: Path | None, timeout_s: float
) -> dict[str, Any]:
    """Run the demo to its end and return the summary (see :mod:`facility_cli.demo_summary`)."""
    from facility_edge.agent import Agent
    from facility_gateway.app import Gateway
    from facility_gateway.embedded import EmbeddedStore
    from facility_gateway.settings import load_settings
    from facility_server.health.tick import device_health_summary
    from facility_server.ingest.subscriber import Ingest
    from facility_sim.pty_port import PtyPort
    from facility_sim.replay import Replay, ReplayOptions

    from facility_cli.demo_kiosk import KioskDemo

    work = Path(workdir or tempfile.mkdtemp(prefix="facility-demo-"))
    (work / "tty").mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    factory, cx, counters = _registry(setup, f"sqlite:///{work}/server.sqlite")
    if not counters:
        raise DemoError(f"{setup} has no door counters with a space")
    plans = _plans(calit2, counters, ZoneInfo(cx["timezone"]), weeks, work)
    expected_in = sum(s.people_in for p in plans for s in p.slots)

    broker = EmbeddedBroker()
    broker.start()
    kiosk = KioskDemo(factory, cx, work, broker.port)
    stop_edge = threading.Event()
    ports, replays, threads = [], [], []
    ingest = gateway = agent = None
    try:
        say("Simulating a day in the play area with a stepped clock ...")
        day = simulated_day(factory, cx, f"mqtt://127.0.0.1:{broker.port}")
        kiosk.prepare(datetime.now(UTC))
        ingest = Ingest(
            factory,
            f"mqtt://127.0.0.1:{broker.port}",
            client_id="demo-server",
            share_group=None,
            clock=lambda: datetime.now(UTC),
        )  # type: ignore[arg-type]
        ingest.start()
        gateway = Gateway(
            load_settings(
                None,
                mqtt_port=broker.port,
                mqtt_client_id="demo-gateway",
                share_group=None,
                writer="embedded",
                embedded_path=work / "points.sqlite",
                dedupe_url=f"sqlite:///{work}/dedupe.sqlite",
                stats_file=work / "gateway-stats.json",
                log_level="WARNING",
            )
        )
        gateway.start()
        for p in plans:
            port = PtyPort(p.link).open()
            ports.append(port)
            replays.append(Replay(p.slots, port, ReplayOptions(speed=None)).start())
        say("The play area's check-in terminal comes online; residents vote at two services ...")
        activity = publish_activity(cx, broker.port)
        agent = Agent(_edge_config(cx["site"], broker.port, plans, work, [kiosk.edge_device()]))
        threads.append(
            threading.Thread(target=agent.run, args=(stop_edge,), name="edge", daemon=True)
        )
        threads[-1].start()
        m = kiosk.morning[0]
        say(
            f"The elderly-care centre's health kiosk sends the morning of {m:%Y-%m-%d} to the "
            f"complex's LAN broker (port {kiosk.lan_port}); edge-main pseudonymises it ..."
        )
        kiosk.publish(agent)
        deadline = t0 + timeout_s
        slots = sum(len(p.slots) for p in plans)
        say(f"Replaying {len(plans)} door counters ({slots} half hours) ...")
        for r in replays:
            if not r.wait(max(0.0, deadline - time.monotonic())):
                raise DemoError(f"replay not finished after {timeout_s:.0f} s")
        say(
            f"Replays done after {time.monotonic() - t0:.0f} s; waiting for the edge to deliver "
            f"and the gateway (point store) and the server (utilisation) to store them ..."
        )
        store = EmbeddedStore(work / "points.sqlite")
        while time.monotonic() < deadline and (
            _stored_in(store, cx["site"]) < expected_in
            or _server_stored_in(factory, cx["id"]) < expected_in
        ):
            time.sleep(2.0)
        kiosk.wait_stored(deadline)
        time.sleep(1.0)  # heartbeats and late duplicates, if any, land now
        elapsed = time.monotonic() - t0
        with factory() as session:
            health = device_health_summary(session, datetime.now(UTC))
        first = min(p.slots[0].start.date() for p in plans)
        last = max((p.slots[-1].end - timedelta(minutes=1)).date() for p in plans)
        say("Evaluating compliance, utilisation and the scorecard ...")
        views = server_views(factory, cx, first, last)
        say("Running the server's vitals job once; scanning the point store ...")
        kiosk_summary = kiosk.finish(store)
        return summarise(
            cx=cx,
            plans=plans,
            store=store,
            gateway=gateway.snapshot(),
            edge_depth=agent.outbox.depth(),
            health=health,
            elapsed_s=elapsed,
            activity=activity,
            views=views,
            day=day,
            kiosk=kiosk_summary,
            server_visits=_server_stored_in(factory, cx["id"]),
        )
    finally:
        for term in locals().get("activity", {}).get("terminals", []):
            term.stop()
        for r in replays:
            r.stop()
        stop_edge.set()
        for th in threads:
            th.join(15)
        if gateway is not None:
            gateway.stop()
        if ingest is not None:
            ingest.stop()
        for port in ports:
            port.close()
        kiosk.stop()
        broker.stop()
