"""paho-mqtt's client with cheaper receiving: fewer system calls and no callback walk.

paho-mqtt 2.x spends most of a receiving process's CPU moving bytes, not on MQTT. For
every incoming QoS 1 message it waits in ``select``, reads the packet with three or four
``recv`` calls (the command byte, each remaining-length byte, then the rest), walks its
tree of per-topic callbacks, queues the PUBACK with a wake-up byte through its socket
pair (a ``send``, and a ``recv`` on the next turn) and writes it with its own ``send``:
about eight system calls per message (measured with ``facility bench ingest``: a bare
paho subscriber spends about 33 ms of CPU per 1,000 events, 40 % of it in the kernel).

:class:`FastClient` keeps all of paho's protocol logic (packet parsing, session state,
keepalive, reconnecting) and changes only how bytes move:

- **reads**: the first small read of a turn fetches up to :data:`READ_CHUNK` bytes in
  one ``recv``; paho's later reads are served from that buffer, and :meth:`loop_read`
  handles every packet in it before paho goes back to ``select`` (``select`` cannot see
  bytes held here). At most :data:`READS_PER_TURN` ``recv`` calls per turn, so a
  steady stream cannot hold back the PUBACKs and the keepalive;
- **PUBACKs** made on paho's own thread (inside :meth:`loop_read`) are queued without
  the wake-up byte: that thread is awake and writes whatever is queued on its next
  turn. Consecutive queued PUBACKs go out in one ``send``;
- **dispatch**: ``on_message`` is called directly, without the per-topic look-up (the
  gateway registers no per-topic callback, and :meth:`message_callback_add` refuses).

The broker sees the same packets in the same order; each PUBACK still goes out only
after ``on_message`` returned. Draining a 60,000-message backlog on this 2-core machine,
a bare subscriber on this client spends about 10-12 ms of CPU per 1,000 messages (paho's
own client: 32), nearly none of it in the kernel. These overrides use paho internals
(:data:`INTERNALS`); :func:`make_client` falls back to paho's own client when the
installed paho lacks any of them, and ``gateway/pyproject.toml`` keeps paho-mqtt below
2.3 so that a newer paho is taken on purpose, after ``tests/gateway/test_gw_pahoclient.py``
(socket-level and real-Mosquitto tests) passed with it.
"""

from __future__ import annotations

import logging
import struct
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

logger = logging.getLogger(__name__)

#: Bytes asked of the socket per ``recv``.
READ_CHUNK = 65536
#: Most ``recv`` calls per turn of paho's loop (a turn handles at most this many chunks).
READS_PER_TURN = 8
#: Most PUBACKs joined into one ``send`` (4 bytes each).
ACKS_PER_SEND = 4096
#: MQTT PUBACK packet type (MQTT 3.1.1 section 3.4; MQTT 5 section 3.4).
PUBACK = 0x40
_PUBACK_HEADER = struct.Struct("!BBH")

#: paho internals :class:`FastClient` relies on (checked with paho-mqtt 2.2).
INTERNALS = (
    "_on_message",
    "_in_callback_mutex",
    "_userdata",
    "_easy_log",
    "_on_message_filtered",
    "_sock_recv",
    "_sock_close",
    "_packet_read",
    "_packet_write",
    "_send_puback",
    "_out_packet",
    "_thread",
    "_call_socket_register_write",
)


class FastClient(mqtt.Client):
    """paho's client with buffered reads, batched PUBACKs and direct dispatch (see the
    module docstring). Constructed exactly like :class:`paho.mqtt.client.Client`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._rbuf = b""
        self._rpos = 0
        self._reads_left = READS_PER_TURN
        super().__init__(*args, **kwargs)

    # --- reads ---------------------------------------------------------------------

    def _sock_recv(self, bufsize: int) -> bytes:
        buf, pos = self._rbuf, self._rpos
        if pos < len(buf):
            self._rpos = pos + bufsize
            return buf[pos : pos + bufsize]
        if self._reads_left <= 0:
            raise BlockingIOError  # paho returns; the bytes wait in the socket for the next turn
        self._reads_left -= 1
        data = super()._sock_recv(max(bufsize, READ_CHUNK))
        if len(data) <= bufsize:
            return data
        self._rbuf, self._rpos = data, bufsize
        return data[:bufsize]

    def buffered(self) -> int:
        """Bytes read from the socket and not yet handed to paho's packet parser."""
        return max(0, len(self._rbuf) - self._rpos)

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """paho's ``loop_read``, repeated until the read buffer is empty (an error
        ends it early: paho has then closed the socket, which empties the buffer)."""
        self._reads_left = READS_PER_TURN
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._rpos < len(self._rbuf):
            rc = super().loop_read(max_packets)
        return rc

    def _sock_close(self) -> None:
        self._rbuf, self._rpos = b"", 0  # bytes of the old connection never reach the new one
        super()._sock_close()

    # --- writes --------------------------------------------------------------------

    def _send_puback(self, mid: int) -> MQTTErrorCode:
        if threading.current_thread() is not self._thread:
            return super()._send_puback(mid)
        # What paho's _send_command_with_mid and _packet_queue do, less the wake-up
        # byte: this is the loop's own thread, which writes the queue on its next turn.
        self._easy_log(mqtt.MQTT_LOG_DEBUG, "Sending PUBACK (Mid: %d)", mid)
        self._out_packet.append(
            {
                "command": PUBACK,
                "mid": mid,
                "qos": 1,
                "pos": 0,
                "to_process": 4,
                "packet": _PUBACK_HEADER.pack(PUBACK, 2, mid),
                "info": None,
            }
        )
        self._call_socket_register_write()
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _packet_write(self) -> MQTTErrorCode:
        out = self._out_packet
        if len(out) > 1 and _whole_puback(out[0]) and _whole_puback(out[1]):
            run: list[Any] = []
            while out and _whole_puback(out[0]) and len(run) < ACKS_PER_SEND:
                run.append(out.popleft())
            data = b"".join(p["packet"] for p in run)
            joined = {**run[0], "mid": 0, "to_process": len(data), "packet": data}
            out.appendleft(joined)  # type: ignore[arg-type] # paho's _OutPacket
        return super()._packet_write()

    # --- dispatch ------------------------------------------------------------------

    def message_callback_add(self, sub: str, callback: Any) -> None:
        """Refused: this client never looks per-topic callbacks up (use ``on_message``).

        Raises:
            TypeError: always.
        """
        raise TypeError(f"per-topic callback for {sub!r}: direct dispatch has none")

    def _handle_on_message(self, message: mqtt.MQTTMessage) -> None:
        # What paho does when no per-topic callback matches: call on_message under the
        # callback lock, log an exception and re-raise it unless suppress_exceptions.
        on_message = self._on_message
        if on_message is None:
            return
        with self._in_callback_mutex:
            try:
                on_message(self, self._userdata, message)
            except Exception as err:
                self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                if not self.suppress_exceptions:
                    raise


def _whole_puback(packet: Any) -> bool:
    return bool(packet["command"] == PUBACK and packet["pos"] == 0)


def _new_client(cls: type[mqtt.Client], client_id: str, v5: bool) -> mqtt.Client:
    if v5:
        return cls(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    return cls(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=False,
        protocol=mqtt.MQTTv311,
    )


def make_client(client_id: str, v5: bool) -> mqtt.Client:
    """A paho client (3.1.1 with a persistent session, or 5): a :class:`FastClient` when
    the installed paho has the internals it needs (:data:`INTERNALS`), else paho's own."""
    client = _new_client(FastClient, client_id, v5)
    if all(hasattr(client, name) for name in INTERNALS):
        return client
    logger.info("paho-mqtt lacks some of %s: using its own client", INTERNALS)
    return _new_client(mqtt.Client, client_id, v5)
