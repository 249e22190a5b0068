"""The health kiosk's morning in the live demo (issue 7, item 8): the I/O around the plan.

What runs, in :func:`facility_cli.demo_run.run_demo`'s order:

1. :meth:`KioskDemo.prepare`: a second embedded broker on its own port, the complex's
   LAN broker (the kiosk talks to it only: card numbers never reach the central broker);
   the complex's pseudonym key, new in the demo's folder
   (:func:`facility_edge.pseudonym.new_key_file`); the desk enrols members and records
   consents a week before the morning (:func:`facility_server.vitals.consent.enrol`,
   ``record_consent``); the morning's plan (:mod:`facility_cli.demo_kiosk_plan`); and a
   listener on the central broker's topics of the kiosk, which looks for card numbers.
2. :meth:`KioskDemo.edge_device`: the ``health_kiosk`` device of edge-main's config.
3. :meth:`KioskDemo.publish`: once the edge's kiosk reader is on the LAN broker, the
   simulated kiosk (:class:`facility_sim.kiosk.MqttKiosk`) publishes the morning's
   sessions there; the edge pseudonymises them into ``health.reading`` events for the
   gateway and the server's ingest.
4. :meth:`KioskDemo.wait_stored`, then :meth:`KioskDemo.finish`: the server's vitals
   runner once (hourly aggregates to the demo's point store), the notification outbox
   filled (nothing is sent), and the summary with its checks
   (:mod:`facility_cli.demo_kiosk_report`).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from facility_cli import demo_kiosk_plan as kp
from facility_cli.demo_run import DemoError
from facility_cli.embedded_broker import EmbeddedBroker
from facility_cli.services import free_port


class CentralListener:
    """A client of the central broker subscribed to the kiosk's topics (QoS 1): counts
    the messages and those holding a card number (printed or normalised)."""

    def __init__(self, port: int, site: str, cards: list[str]) -> None:
        import paho.mqtt.client as mqtt
        from facility_contracts import topics

        from facility_cli.demo_kiosk_scan import refs_of

        self.refs = [r.encode() for r in refs_of(cards)]
        self.messages = self.with_card = 0
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.filter = f"{topics.PREFIX}/{site}/{kp.KIOSK}/#"
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id="demo-kiosk-listener",
            protocol=mqtt.MQTTv311,
        )
        self.client.on_connect = lambda c, *_: c.subscribe(self.filter, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect_async("127.0.0.1", port, keepalive=30)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        payload = bytes(msg.payload)
        with self._lock:
            self.messages += 1
            self.with_card += any(r in payload for r in self.refs)

    def stop(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


class KioskDemo:
    """The kiosk part of the live demo (see the module doc).

    Args:
        factory: the server database's sessions (the setup imported).
        cx: the complex (``id``, ``site``, ``name``, ``timezone``).
        work: the demo's folder (the key file goes here).
        central_port: the central (embedded) broker's port.
    """

    def __init__(self, factory: Any, cx: dict[str, Any], work: Path, central_port: int) -> None:
        self.factory, self.cx, self.work = factory, cx, work
        self.central_port = central_port
        self.tz = ZoneInfo(cx["timezone"])
        self.lan_port = free_port()  # the LAN broker's, started by prepare()
        self.lan: EmbeddedBroker | None = None
        self.key_file = work / "pseudonym.key"
        self.listener: CentralListener | None = None
        self.confirmed = 0

    def prepare(self, now: datetime) -> None:
        """Choose the morning, start the LAN broker, make the key, enrol and plan.

        Raises:
            DemoError: no open morning has ended in the look-back.
        """
        from facility_edge.pseudonym import load_key, new_key_file
        from facility_sim.kiosk_day import day_plan, member_cards

        self.morning = self._morning(now)
        self.lan = EmbeddedBroker(self.lan_port)
        self.lan.start()
        if not self.key_file.exists():  # a kept workdir keeps its key (never overwritten)
            new_key_file(self.key_file)
        self.roster = kp.roster(member_cards(kp.MEMBERS, seed=kp.SEED), load_key(self.key_file))
        self.plan = day_plan(
            *self.morning,
            cards=[e.card for e in self.roster],
            sessions=kp.SESSIONS,
            seed=kp.SEED,
            faults=kp.FAULTS,
        )
        consenting = [e.card for e in self.roster if e.consent]
        self.expected = kp.expected_usage(self.plan, consenting, self.tz)
        self._enrol(self.morning[0] - kp.DESK_BEFORE)
        self.listener = CentralListener(
            self.central_port, self.cx["site"], [e.card for e in self.roster]
        )
        self.listener.subscribed.wait(10)

    def _morning(self, now: datetime) -> tuple[datetime, datetime]:
        from facility_server.opening import opening_intervals

        from facility_cli.demo_day_script import DayError, space_schedule

        try:
            with self.factory() as session:
                schedule = space_schedule(session, self.cx["id"], kp.SPACE)
            return kp.choose_morning(lambda d: opening_intervals(schedule, d), now, self.tz)
        except (DayError, kp.MorningError) as exc:
            raise DemoError(f"health kiosk: {exc}") from exc

    def _enrol(self, at: datetime) -> None:
        """The desk's work, a week before: enrol, and record the consents given."""
        from facility_server.core.db import session_scope
        from facility_server.models import Complex
        from facility_server.vitals.consent import MONITORING, enrol, record_consent

        at = at.astimezone(UTC)
        with session_scope(self.factory) as session:
            cx = session.get(Complex, self.cx["id"])
            for n, e in enumerate(self.roster, start=1):
                if e.name is None:
                    continue
                member = enrol(session, cx.id, e.pseudonym, e.name, by="desk", now=at)
                if e.consent:
                    record_consent(
                        session,
                        member,
                        purpose=MONITORING,
                        granted_at=at,
                        evidence=f"consent-form-{n:03d}",
                        by="desk",
                        now=at,
                    )

    def edge_device(self) -> dict[str, Any]:
        """edge-main's ``health_kiosk`` device (config ``devices`` entry)."""
        return {
            "type": "health_kiosk",
            "id": kp.KIOSK,
            "broker": f"mqtt://127.0.0.1:{self.lan_port}",
            "keepalive_s": 10,
            "key_file": str(self.key_file),
            "kiosks": {kp.KIOSK: kp.SPACE},
        }

    def publish(self, agent: Any, timeout_s: float = 30.0) -> None:
        """Wait for the edge's kiosk reader on the LAN broker, then publish the morning.

        Raises:
            DemoError: the reader is not reading within ``timeout_s``.
        """
        from facility_sim.kiosk import MqttKiosk
        from facility_sim.kiosk_day import kiosk_sessions

        deadline = time.monotonic() + timeout_s
        while agent.states.snapshot().get(kp.KIOSK) != "reading":
            if time.monotonic() > deadline:
                raise DemoError(
                    f"health kiosk: the edge's reader is not reading after {timeout_s} s"
                )
            time.sleep(0.1)
        time.sleep(1.0)  # the reader's SUBSCRIBE is on its way when its state says reading
        kiosk = MqttKiosk(f"mqtt://127.0.0.1:{self.lan_port}", kp.KIOSK).start()
        try:
            kiosk.connected.wait(10)
            for s in kiosk_sessions(self.plan, kp.KIOSK):
                kiosk.publish(s)
            kiosk.wait_confirmed(max(1.0, deadline - time.monotonic()))
            self.confirmed = kiosk.confirmed
        finally:
            kiosk.stop()

    def wait_stored(self, deadline: float) -> None:
        """Wait (until ``deadline``, monotonic) for the server to hold every planned session
        and rejection notice; the check of what arrived is :meth:`finish`'s."""
        from facility_server.models import DeviceNotice, KioskSession
        from sqlalchemy import func, select

        want = (self.expected["sessions"], sum(self.expected["rejected"].values()))
        while time.monotonic() < deadline:
            with self.factory() as session:
                got = (
                    session.scalar(
                        select(func.count()).where(KioskSession.device_code == kp.KIOSK)
                    ),
                    session.scalar(
                        select(func.count()).where(
                            DeviceNotice.device_code == kp.KIOSK,
                            DeviceNotice.code == "reading_rejected",
                        )
                    ),
                )
            if got >= want:
                return
            time.sleep(0.5)

    def finish(self, store: Any) -> dict[str, Any]:
        """Run the vitals runner once into ``store`` (the demo's point store), enqueue the
        alert's notifications, and return the summary (:func:`.demo_kiosk_report.report`)."""
        from facility_server.core.db import session_scope
        from facility_server.core.settings import get_settings
        from facility_server.notify.outbox import dispatch
        from facility_server.vitals.runner import VitalsRunner
        from facility_server.vitals.series import RECENT_H, write_series

        from facility_cli.demo_kiosk_report import report

        now = datetime.now(UTC)
        settings = get_settings()
        VitalsRunner(
            self.factory,
            lambda: now,
            retention_days=settings.vitals_retention_days,
            visitor_keep_s=settings.vitals_visitor_keep_s,
            writer=store,
        ).run_once()
        with session_scope(self.factory) as session:
            if self.morning[0] < now - timedelta(hours=RECENT_H):  # older than the job's reach
                start = self.morning[0].replace(minute=0, second=0, microsecond=0)
                write_series(session, store, start, self.morning[1], complex_ids=[self.cx["id"]])
            dispatch(session, now)
        return report(self, store, now)

    def stop(self) -> None:
        """Stop the listener and the LAN broker."""
        if self.listener is not None:
            self.listener.stop()
        if self.lan is not None:
            self.lan.stop()
