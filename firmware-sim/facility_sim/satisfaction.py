"""A satisfaction terminal: four smiley buttons at the exit of a service (MQTT-native).

Buttons: very satisfied, satisfied, dissatisfied, very dissatisfied. Each accepted press
is one ``satisfaction.vote`` event (:class:`facility_contracts.envelope.SatisfactionVote`)
published at QoS 1 on ``facility/v1/{site}/{device}/evt``. After an accepted press the
terminal ignores every button for ``lockout_ms`` (default 3 s), so mashing counts once;
ignored presses do not extend the lock-out. Source: issue 6 and the 4+5+X management
rules (satisfaction of each service, below 80% must be rectified).

- :class:`SatisfactionTerminal` is the pure device: presses in, events out (no clock,
  no network: times are passed in).
- :class:`MqttTerminal` is the paho-mqtt shell: retained ``status`` (online, with a
  heartbeat) and the same topic as its last will (offline), events kept until the
  gateway confirms them on ``.../ack`` and sent again after ``ack_timeout_s``.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_args
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from facility_contracts import codec, topics
from facility_contracts.envelope import (
    Event,
    Rating,
    SatisfactionVote,
    SatisfactionVoteBody,
    Status,
)
from facility_contracts.errors import ContractError

logger = logging.getLogger(__name__)

BUTTONS: tuple[str, ...] = get_args(Rating)
DEFAULT_LOCKOUT_MS = 3000
SOFTWARE = "facility-sim-sat/1.0"


@dataclass
class TerminalStats:
    """Presses seen, votes sent (accepted presses) and presses ignored in a lock-out."""

    presses: int = 0
    votes: int = 0
    ignored: int = 0
    by_rating: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUTTONS, 0))


class SatisfactionTerminal:
    """The terminal's logic (pure).

    Args:
        device: its device id (an MQTT topic level).
        space: the id of the space (service) it rates.
        lockout_ms: after an accepted press, presses within this many ms are ignored.
        boot: boot id (default: a fresh one); ``seq`` restarts at 1 per boot.
        new_id: event id factory (default: UUID4 hex).

    Raises:
        ValueError: a negative lock-out.
    """

    def __init__(
        self,
        device: str,
        space: str,
        *,
        lockout_ms: int = DEFAULT_LOCKOUT_MS,
        boot: str | None = None,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        if lockout_ms < 0:
            raise ValueError("lockout_ms must be >= 0")
        self.device, self.space, self.lockout_ms = device, space, lockout_ms
        self.boot = boot or uuid.uuid4().hex[:16]
        self.new_id = new_id
        self.seq = 0
        self.locked_until: int | None = None
        self.stats = TerminalStats()

    def press(
        self, button: str, mono_ms: int, wall_ms: int, *, synced: bool = True
    ) -> SatisfactionVote | None:
        """One press of ``button`` at monotonic ``mono_ms`` (wall clock ``wall_ms``, UTC).

        Returns:
            The vote event, or None when the press fell in the lock-out.

        Raises:
            ValueError: an unknown button.
        """
        if button not in BUTTONS:
            raise ValueError(f"unknown button {button!r}; one of {', '.join(BUTTONS)}")
        self.stats.presses += 1
        if self.locked_until is not None and mono_ms < self.locked_until:
            self.stats.ignored += 1
            return None
        self.locked_until = mono_ms + self.lockout_ms
        self.seq += 1
        self.stats.votes += 1
        self.stats.by_rating[button] += 1
        return SatisfactionVote(
            id=self.new_id(),
            device=self.device,
            boot=self.boot,
            seq=self.seq,
            ts=wall_ms,
            mono=mono_ms,
            synced=synced,
            body=SatisfactionVoteBody(space=self.space, rating=button),  # type: ignore[arg-type]
        )


class MqttTerminal:
    """A :class:`SatisfactionTerminal` on MQTT 3.1.1 (paho-mqtt 2).

    Args:
        url: broker, ``mqtt://[user:password@]host:port``.
        site: the complex's site id.
        terminal: the device logic.
        heartbeat_s: seconds between retained status messages.
        ack_timeout_s: an unconfirmed vote is sent again after this many seconds.
        wall: wall clock (s since the epoch); mono: monotonic clock (s); injectable.
    """

    def __init__(
        self,
        url: str,
        site: str,
        terminal: SatisfactionTerminal,
        *,
        heartbeat_s: float = 30.0,
        ack_timeout_s: float = 10.0,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 1883
        self.site, self.terminal = site, terminal
        self.heartbeat_s, self.ack_timeout_s = heartbeat_s, ack_timeout_s
        self.wall, self.mono = wall, mono
        self._started = mono()
        self.pending: dict[str, tuple[float, SatisfactionVote]] = {}
        self.acked = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.connected = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"{site}-{terminal.device}",
            protocol=mqtt.MQTTv311,
        )
        if parsed.username:
            self.client.username_pw_set(parsed.username, parsed.password)
        self.status_topic = topics.status_topic(site, terminal.device)
        self.ack_topic = topics.ack_topic(site, terminal.device)
        self.client.will_set(self.status_topic, self._status("offline"), qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 5)
        self._beat = threading.Thread(target=self._heartbeat, daemon=True, name="sat-heartbeat")

    def _status(self, state: str) -> bytes:
        return codec.encode_status(
            Status(
                device=self.terminal.device,
                state=state,  # type: ignore[arg-type]
                boot=self.terminal.boot,
                ts=int(self.wall() * 1000),
                uptime_s=max(0.0, self.mono() - self._started),
                heartbeat_s=self.heartbeat_s,
                software=SOFTWARE,
                synced=True,
            )
        )

    def start(self) -> MqttTerminal:
        """Connect (retrying in the background) and start the heartbeat."""
        self.client.connect_async(self.host, self.port, keepalive=max(5, int(self.heartbeat_s)))
        self.client.loop_start()
        self._beat.start()
        return self

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.warning("satisfaction terminal: connect refused: %s", reason)
            return
        client.subscribe(self.ack_topic, qos=1)
        client.publish(self.status_topic, self._status("online"), qos=1, retain=True)
        self.connected.set()
        with self._lock:
            backlog = [vote for _, vote in self.pending.values()]
        for vote in backlog:  # what was not confirmed before the (re)connect
            self._send(vote)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic != self.ack_topic:
            # not subscribed to: amqtt 0.12 hands a connecting client the retained
            # messages of every client's subscriptions (other terminals' status)
            logger.debug("satisfaction terminal: ignored a message on %s", msg.topic)
            return
        try:
            ack = codec.decode_ack(msg.payload)
        except ContractError as exc:
            logger.warning("satisfaction terminal: bad ack on %s: %s", msg.topic, exc)
            return
        with self._lock:
            for event_id in ack.ids:
                if self.pending.pop(event_id, None) is not None:
                    self.acked += 1
            for event_id, reason in ack.rejected.items():  # never stored: stop sending it
                if self.pending.pop(event_id, None) is not None:
                    logger.warning(
                        "terminal: event %s rejected by the gateway: %s", event_id, reason
                    )

    def publish(self, event: Event) -> None:
        """Publish any event of this terminal (QoS 1), kept until the gateway confirms it."""
        self._send(event)  # type: ignore[arg-type]

    def _send(self, vote: SatisfactionVote) -> None:
        sent = int((self.mono() - self._started) * 1000)
        payload = codec.encode_event(vote, sent=max(sent, vote.mono))
        self.client.publish(topics.event_topic(self.site, vote.device), payload, qos=1)
        with self._lock:
            self.pending[vote.id] = (self.mono(), vote)

    def press(self, button: str) -> SatisfactionVote | None:
        """Press ``button`` now; publishes the vote unless the press is locked out."""
        mono_ms = int((self.mono() - self._started) * 1000)
        vote = self.terminal.press(button, mono_ms, int(self.wall() * 1000))
        if vote is not None:
            self._send(vote)
        return vote

    def resend_due(self) -> int:
        """Send again every vote unconfirmed for ``ack_timeout_s``; returns how many."""
        now = self.mono()
        with self._lock:
            due = [v for at, v in self.pending.values() if now - at >= self.ack_timeout_s]
        for vote in due:
            self._send(vote)
        return len(due)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            if self.client.is_connected():
                self.client.publish(self.status_topic, self._status("online"), qos=1, retain=True)
                self.resend_due()

    def stop(self, *, clean: bool = True) -> None:
        """Stop: ``clean`` publishes the offline status first; otherwise the connection is
        dropped and the broker publishes the last will (as on a power cut)."""
        self._stop.set()
        if not clean:
            self.client.loop_stop()
            sock = self.client.socket()
            if sock is not None:
                sock.close()
            return
        if self.client.is_connected():
            info = self.client.publish(
                self.status_topic, self._status("offline"), qos=1, retain=True
            )
            info.wait_for_publish(2.0)
            self.client.disconnect()
        self.client.loop_stop()
