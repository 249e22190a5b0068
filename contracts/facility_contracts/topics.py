"""The versioned MQTT topic scheme.

Topics are ``facility/v1/{site}/{device}/{channel}`` where ``site`` is the complex id,
``device`` the device id (a sensor behind an edge agent, an MQTT-native device, or the
edge agent itself), and ``channel`` one of:

``evt``
    events, publisher -> gateway, QoS 1, not retained (:class:`~.envelope.Event`).
``ack``
    confirmations that events are stored, gateway -> edge, QoS 1 (:class:`~.envelope.Ack`).
``status``
    retained status of an agent or device, with the same topic as its last will
    (:class:`~.envelope.Status`).

The version level changes only with an incompatible envelope; gateways subscribe to
each version they understand. Source: MQTT 3.1.1 section 4.7 (topic names and filters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from facility_contracts.errors import ContractError
from facility_contracts.ids import is_node_id

ROOT = "facility"
VERSION = "v1"
PREFIX = f"{ROOT}/{VERSION}"

Channel = Literal["evt", "ack", "status"]
CHANNELS: tuple[Channel, ...] = ("evt", "ack", "status")


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed topic: site id, device id and channel."""

    site: str
    device: str
    channel: Channel

    def __str__(self) -> str:
        return f"{PREFIX}/{self.site}/{self.device}/{self.channel}"


def topic(site: str, device: str, channel: Channel) -> str:
    """Build a topic name.

    Raises:
        ContractError: ``bad_topic`` when site or device is not a valid id.
    """
    for name, value in (("site", site), ("device", device)):
        if not is_node_id(value):
            raise ContractError(
                "bad_topic", "not a valid id for a topic level", field=name, value=value
            )
    return f"{PREFIX}/{site}/{device}/{channel}"


def event_topic(site: str, device: str) -> str:
    """Topic on which ``device`` of ``site`` publishes events."""
    return topic(site, device, "evt")


def ack_topic(site: str, device: str) -> str:
    """Topic on which the gateway confirms stored events of ``device``."""
    return topic(site, device, "ack")


def status_topic(site: str, device: str) -> str:
    """Retained status (and last will) topic of ``device``."""
    return topic(site, device, "status")


def subscription(channel: Channel, *, site: str = "+", share_group: str | None = None) -> str:
    """Topic filter for one channel of all devices of ``site`` (all sites by default).

    With ``share_group`` the filter is a shared subscription ``$share/{group}/...``
    (MQTT 5 section 4.8.2; Mosquitto honours it for MQTT 3.1.1 clients too), so several
    gateways split the load.
    """
    flt = f"{PREFIX}/{site}/+/{channel}"
    return f"$share/{share_group}/{flt}" if share_group else flt


def parse_topic(name: str) -> Topic:
    """Parse a topic name into site, device and channel.

    Raises:
        ContractError: ``bad_topic`` when the name does not follow the scheme.
    """
    parts = name.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != PREFIX:
        raise ContractError(
            "bad_topic", f"expected {PREFIX}/SITE/DEVICE/CHANNEL", field="topic", value=name
        )
    site, device, channel = parts[2], parts[3], parts[4]
    if not is_node_id(site):
        raise ContractError("bad_topic", "invalid site id", field="site", value=site)
    if not is_node_id(device):
        raise ContractError("bad_topic", "invalid device id", field="device", value=device)
    if channel not in CHANNELS:
        raise ContractError("bad_topic", "unknown channel", field="channel", value=channel)
    return Topic(site, device, channel)
