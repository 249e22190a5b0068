"""Broker URLs: ``mqtt://[user[:password]@]host[:port]`` (1883) or ``mqtts://`` (TLS, 8883).

Pure: checked when settings are built, so ``facility server run --mqtt http://x`` stops
at once with a clear message instead of retrying a broker it can never reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

#: Scheme -> (default port, TLS).
SCHEMES = {"mqtt": (1883, False), "mqtts": (8883, True)}


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is; ``str()`` is ``host:port`` (never the password)."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse a broker URL.

    Raises:
        ValueError: a scheme other than ``mqtt``/``mqtts``, no host, or a bad port; the
            message never repeats the URL (it may hold a password).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        got = f"{scheme}://" if scheme else "no scheme"
        raise ValueError(f"broker URL must start with mqtt:// or mqtts:// (got {got})")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("broker URL has a bad port (use mqtt://host:1883)") from exc
    if not parts.hostname:
        raise ValueError("broker URL needs a host (mqtt://host:1883)")
    default_port, tls = SCHEMES[scheme]
    return BrokerAddress(
        host=parts.hostname,
        port=port or default_port,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )
