"""An in-process MQTT broker (amqtt) for the demo and machines without Mosquitto.

amqtt speaks MQTT 3.1.1 only (an MQTT 5 CONNECT is refused) and has no shared
subscriptions, so clients of the embedded broker use protocol 3.1.1 and plain
subscriptions. It moves about 1,000 QoS 1 messages/s here: plenty for a demo, not for
benchmarks (those use Mosquitto).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from facility_cli.services import free_port, wait_tcp

logger = logging.getLogger(__name__)


def _quiet_cancelled_packets(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The broker loop's exception handler: drop amqtt's ``ProtocolHandlerError`` raised
    because a packet's handling was cancelled (amqtt cancels a client's pending PINGRESP
    when its connection closes and leaves the task's error unretrieved), and hand every
    other error to asyncio's default handler, which logs it."""
    from amqtt.errors import ProtocolHandlerError

    exc = context.get("exception")
    if isinstance(exc, ProtocolHandlerError) and isinstance(exc.__cause__, asyncio.CancelledError):
        logger.debug("amqtt: packet handling cancelled (client gone): %s", exc)
        return
    loop.default_exception_handler(context)


class EmbeddedBroker:
    """amqtt broker on 127.0.0.1 in a background thread with its own event loop.

    Args:
        port: TCP port; a free one when None.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(_quiet_cancelled_packets)
        self._thread = threading.Thread(target=self._loop.run_forever, name="amqtt", daemon=True)
        self._broker = None

    def start(self) -> None:
        """Start the broker and wait until it accepts connections."""
        from amqtt.broker import Broker

        config = {
            "listeners": {
                "default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}", "max_connections": 200}
            },
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._thread.start()

        async def _make_and_start() -> object:
            broker = Broker(config, loop=self._loop)
            await broker.start()
            return broker

        self._broker = asyncio.run_coroutine_threadsafe(_make_and_start(), self._loop).result(15)
        wait_tcp(self.port)
        logger.info("embedded MQTT broker on 127.0.0.1:%s", self.port)

    def stop(self) -> None:
        """Stop the broker and its thread."""
        if self._broker is not None:
            fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)  # type: ignore[attr-defined]
            try:
                fut.result(10)
            except Exception:
                logger.warning("embedded broker did not shut down cleanly", exc_info=True)
            self._broker = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
