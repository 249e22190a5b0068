"""Sending one message to one Apprise URL, behind a small :class:`Sender` seam.

Apprise (https://github.com/caronc/apprise, "Notify_json", "Notify_dingtalk",
"Notify_wecombot", "Notify_email") understands every channel we use:

=================  ============================================================
channel            URL
=================  ============================================================
webhook (JSON)     ``json://host:port/path`` (``jsons://`` for HTTPS)
DingTalk robot     ``dingtalk://{access_token}/`` (``dingtalk://{secret}@{token}/``)
WeCom group robot  ``wecombot://{key}``
email              ``mailto://user:pass@smtp.host?to=a@b.cn`` (``mailtos://`` TLS)
=================  ============================================================

URLs may carry tokens and passwords: they are never logged; :func:`masked` gives the
form Apprise prints with secrets hidden.
"""

from __future__ import annotations

import logging
from typing import Protocol
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)


class SendError(RuntimeError):
    """A message could not be delivered (the worker retries it later)."""


#: Apprise message types (``apprise.NotifyType``) by alert severity; a resolution is a
#: ``success``.
NOTIFY_TYPES = {"critical": "failure", "warning": "warning", "info": "info"}


def notify_type(severity: str, event: str) -> str:
    """The Apprise type of a message about an alert of ``severity`` (``critical``,
    ``warning``, ``info``) and outbox ``event`` (``opened``, ``escalated:N``, ``resolved``):
    webhooks carry it as ``type``, chat robots colour or tag by it."""
    return "success" if event == "resolved" else NOTIFY_TYPES.get(severity, "info")


class Sender(Protocol):
    """Delivers one message; raises :class:`SendError` when it could not."""

    def send(self, url: str, title: str, body: str, key: str, *, notify_type: str = "info") -> None:
        """Send ``title`` and ``body`` to ``url``; ``key`` is the outbox key (an
        idempotency token a receiver may use to drop a repeat); ``notify_type`` one of
        Apprise's ``info``, ``success``, ``warning``, ``failure`` (:func:`notify_type`).

        Raises:
            SendError: not delivered.
        """


def channel_of(url: str) -> str:
    """The URL's scheme (``json``, ``dingtalk``, ``wecombot``, ``mailto`` ...)."""
    return urlsplit(url).scheme.lower()


def check_url(url: str) -> str:
    """Return ``url`` if Apprise understands it.

    Raises:
        ValueError: Apprise does not recognise or cannot parse it (the message names the
            scheme only, never the URL's secrets).
    """
    import apprise

    if apprise.Apprise.instantiate(url, suppress_exceptions=True) is None:
        from apprise.manager_plugins import NotificationManager

        scheme = channel_of(url)
        if scheme in NotificationManager().schemas():  # type: ignore[no-untyped-call]
            raise ValueError(
                f"not a notification URL Apprise can use: scheme {scheme!r} is known, but the "
                "rest is not in its form (e.g. a DingTalk access token is letters and digits "
                "only: dingtalk://{token}/)"
            )
        raise ValueError(f"not a notification URL Apprise can use: unknown scheme {scheme!r}")
    return url


def masked(url: str) -> str:
    """The URL with tokens and passwords hidden (Apprise's privacy form)."""
    import apprise

    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    return plugin.url(privacy=True) if plugin is not None else f"{channel_of(url)}://..."


class AppriseSender:
    """:class:`Sender` through Apprise; webhooks get the key as ``X-Facility-Key``.

    Args:
        timeout_s: connect/read timeout per request, s.
    """

    def __init__(self, timeout_s: float = 10.0) -> None:
        self.timeout_s = timeout_s

    def send(self, url: str, title: str, body: str, key: str, *, notify_type: str = "info") -> None:
        """Send one message (see :class:`Sender`)."""
        import apprise

        target = url
        if channel_of(url) in {"json", "jsons"}:
            sep = "&" if "?" in url else "?"
            target = f"{url}{sep}+X-Facility-Key={key}"
        plugin = apprise.Apprise.instantiate(target, suppress_exceptions=True)
        if plugin is None:
            raise SendError(f"unusable {channel_of(url)} URL")
        plugin.socket_connect_timeout = plugin.socket_read_timeout = self.timeout_s
        box = apprise.Apprise()
        box.add(plugin)
        if not box.notify(title=title, body=body, notify_type=notify_type):
            raise SendError(f"{channel_of(url)} delivery failed")
