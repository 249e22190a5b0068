"""Checks of the configuration that pydantic's field types cannot make on their own.

* :func:`serial_port_problem`: a serial ``port`` that is a pyserial URL must name a URL
  handler pyserial has (``serial.protocol_handler_packages``: ``socket``, ``rfc2217``,
  ``loop``, ``spy``, ``alt``, ``hwgrep``, ``cp2110`` in pyserial 3.5) and be well formed;
  the reader would otherwise retry opening it forever. Pure (reads no files).
* :func:`shared_port_problems`: two devices must not read one serial port (each would
  count all of its traffic into its own space).
* :func:`data_dir_problems`: ``agent.data_dir`` must be a folder the agent can create
  and write.

Each function returns problems in the style of :class:`facility_edge.errors.ConfigError`:
``field: problem (value ...)``, one line each.

Source: pyserial 3.5, "URL Handlers" (``serial_for_url``) and ``serial/urlhandler/*.py``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import pkgutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: Options each URL kind accepts (pyserial 3.5: ``from_url`` of each handler; any other
#: option makes opening fail). ``alt`` is checked with pyserial's own parser.
URL_OPTIONS: dict[str, tuple[str, ...]] = {
    "socket": ("logging",),
    "rfc2217": ("logging", "ign_set_control", "poll_modem", "timeout"),
    "loop": ("logging",),
    "spy": ("file", "color", "raw", "all"),
}
#: Values of the ``logging`` option (pyserial's ``LOGGER_LEVELS``).
LOGGING_LEVELS = ("debug", "info", "warning", "error")
#: URL kinds that connect to ``HOST:PORT`` over TCP.
TCP_SCHEMES = ("socket", "rfc2217")
#: URL kinds wrapping another port: ``spy:///dev/ttyUSB0``, ``alt:///dev/ttyUSB0?class=X``.
WRAPPING_SCHEMES = ("spy", "alt")


def shown(value: Any) -> str:
    """``(value 'x')`` for a scalar (cut at 80 characters), ``(value: a list)`` for a list
    and ``(value: a mapping)`` for a mapping (it may hold a secret)."""
    if isinstance(value, dict | list):
        return f"(value: a {'mapping' if isinstance(value, dict) else 'list'})"
    text = repr(value)
    return f"(value {text if len(text) <= 80 else text[:77] + '...'})"


@functools.cache
def url_schemes() -> frozenset[str]:
    """The URL schemes pyserial can open: its ``protocol_<scheme>`` handler modules in
    each package of ``serial.protocol_handler_packages`` (found, not imported)."""
    import serial

    found: set[str] = set()
    for name in serial.protocol_handler_packages:
        try:
            package = importlib.import_module(name)
        except ImportError:
            continue
        for module in pkgutil.iter_modules(getattr(package, "__path__", [])):
            if module.name.startswith("protocol_"):
                found.add(module.name.removeprefix("protocol_"))
    return frozenset(found)


def serial_port_problem(port: str) -> str | None:
    """What makes ``port`` unusable, or None: a device path (anything without ``://``,
    not checked here: an adapter may be plugged in later) or a well-formed pyserial URL.

    Checked: the scheme is one pyserial knows (:func:`url_schemes`; case-insensitive as
    in ``serial_for_url``); ``socket://`` and ``rfc2217://`` have ``HOST:PORT`` with a TCP
    port 1..65535; ``spy://`` and ``alt://`` wrap a port; options are ones the handler
    accepts (:data:`URL_OPTIONS`, ``logging`` one of :data:`LOGGING_LEVELS`, ``timeout``
    a number); ``cp2110://`` has its ``hid`` module installed.
    """
    if "://" not in port:
        return None
    scheme = port.split("://", 1)[0].lower()
    known = url_schemes()
    if scheme not in known:
        return (
            f"unknown pyserial URL scheme {scheme + '://'!r} (known: "
            f"{', '.join(s + '://' for s in sorted(known))}; or a device path such as "
            "/dev/ttyUSB0)"
        )
    parts = urlsplit(port)
    if scheme in TCP_SCHEMES and (problem := _host_port_problem(parts.netloc)):
        return f"expected {scheme}://HOST:PORT: {problem}"
    if scheme in WRAPPING_SCHEMES and not parts.netloc + parts.path:
        return f"expected {scheme}://PORT: no port (e.g. {scheme}:///dev/ttyUSB0)"
    if scheme == "alt":
        return _alt_problem(port)
    if scheme == "cp2110" and importlib.util.find_spec("hid") is None:
        return "cp2110:// needs the hidapi package (module hid), which is not installed"
    return _options_problem(scheme, parts.query)


def _host_port_problem(netloc: str) -> str | None:
    """What is wrong with ``HOST:PORT`` (an IPv6 host in brackets), or None; split as
    :func:`urllib.parse.urlsplit` splits it."""
    hostport = netloc.rpartition("@")[2]
    if hostport.startswith("["):
        host, _, after = hostport[1:].partition("]")
        raw = after.partition(":")[2]
    else:
        host, _, raw = hostport.partition(":")
    if not host:
        return "no host"
    if not raw:
        return "no port"
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 65535):
        return f"port {raw!r} is not a number from 1 to 65535"
    return None


def _alt_problem(port: str) -> str | None:
    """pyserial's own check of an ``alt://PORT?class=NAME`` URL (pure: no port opened)."""
    from serial import SerialException
    from serial.urlhandler.protocol_alt import serial_class_for_url

    try:
        serial_class_for_url(port)
    except (SerialException, ValueError) as exc:  # unknown option or class
        return f"alt://: {exc}"
    return None


def _options_problem(scheme: str, query: str) -> str | None:
    """The first unknown or bad ``?option=value`` of a ``scheme://`` URL, or None."""
    allowed = URL_OPTIONS.get(scheme)
    if allowed is None:
        return None
    for option, values in parse_qs(query, keep_blank_values=True).items():
        if option not in allowed:
            return f"unknown option {option!r} of {scheme}:// (allowed: {', '.join(allowed)})"
        if option == "logging" and values[0] not in LOGGING_LEVELS:
            return f"logging={values[0]!r}: expected one of {', '.join(LOGGING_LEVELS)}"
        if option == "timeout":
            try:
                float(values[0])
            except ValueError:
                return f"timeout={values[0]!r}: expected a number of seconds"
    return None


def port_key(port: str) -> str | None:
    """What ``port`` opens, to compare two devices' ports; None for ``loop://`` (each
    open makes its own loopback, shared by nobody).

    A path (or the port a ``spy://``/``alt://`` URL wraps) with its symlinks resolved
    where they exist (``/dev/serial/by-id/...`` -> ``/dev/ttyUSB0``) and normalised
    otherwise; ``tcp://host:port`` for ``socket://`` and ``rfc2217://`` (lower-case host,
    options dropped); other URLs as given.
    """
    if "://" not in port:
        return os.path.realpath(port)
    scheme = port.split("://", 1)[0].lower()
    parts = urlsplit(port)
    if scheme == "loop":
        return None
    if scheme in WRAPPING_SCHEMES:
        inner = parts.netloc + parts.path
        return port_key(inner) if inner else None
    if scheme in TCP_SCHEMES:
        return f"tcp://{parts.hostname}:{parts.port}"
    return port


def duplicate_id_problems(agent_id: str, devices: Sequence[Any]) -> list[str]:
    """One problem for each device whose ``id`` the agent or an earlier device already
    bears (ids are topic levels and outbox keys: they must be unique)."""
    first = {agent_id: "agent.id"}
    problems: list[str] = []
    for i, dev in enumerate(devices):
        where = f"devices[{i}].id"
        if dev.id in first:
            problems.append(f"{where}: already the id of {first[dev.id]} {shown(dev.id)}")
        else:
            first[dev.id] = where
    return problems


def shared_port_problems(devices: Sequence[Any]) -> list[str]:
    """One problem for each device whose ``port`` (:func:`port_key`) an earlier device
    already reads, naming both; devices without a ``port`` field are not serial."""
    first: dict[str, tuple[int, Any]] = {}
    problems: list[str] = []
    for i, dev in enumerate(devices):
        port = getattr(dev, "port", None)
        key = port_key(port) if isinstance(port, str) else None
        if key is None:
            continue
        if key not in first:
            first[key] = (i, dev)
            continue
        j, other = first[key]
        alias = "" if other.port == port else f" {other.port!r}, both {key}"
        problems.append(
            f"devices[{i}].port: already read by device {other.id!r} (devices[{j}].port"
            f"{alias}); two readers of one port would each count all its traffic "
            f"{shown(port)}"
        )
    return problems


def data_dir_problems(data_dir: Path, outbox_file: str, *, writable: bool) -> list[str]:
    """What keeps the agent from using ``data_dir`` (``agent.data_dir``), or [].

    Always checked (the same for every user): ``data_dir`` is a folder, or can be made
    (its nearest existing parent is a folder), not on a read-only file system, and an
    ``outbox_file`` in it is a file. With ``writable``, also that the current (effective)
    user may create it or write in it (``os.access`` W_OK|X_OK on it or on its nearest
    existing parent) and may read and write ``outbox_file``. Only ``run`` asks for
    ``writable``: it runs as the agent's user, whereas ``check`` runs as root at install,
    who may write everywhere, or by hand as someone else than the agent.
    """
    where = f"agent.data_dir: {{}} {shown(str(data_dir))}"
    if os.path.lexists(data_dir) and not data_dir.is_dir():
        return [where.format("exists and is not a folder")]
    existing = data_dir
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return [where.format(f"cannot be created: {str(existing)!r} is not a folder")]
    made = "" if existing == data_dir else f"cannot be created in {str(existing)!r}: "
    if _read_only(existing):
        return [where.format(f"{made}read-only file system")]
    outbox = data_dir / outbox_file
    if os.path.lexists(outbox) and not outbox.is_file():
        return [where.format(f"{outbox_file} in it is not a file")]
    if not writable:
        return []
    if not _may(existing, os.W_OK | os.X_OK):
        return [where.format(f"{made}no permission for user {_user()}")]
    if outbox.is_file() and not _may(outbox, os.R_OK | os.W_OK):
        return [where.format(f"{outbox_file} in it is not writable by user {_user()}")]
    return []


def _read_only(path: Path) -> bool:
    """Whether ``path`` is on a file system mounted read-only (here: for this process)."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _may(path: Path, mode: int) -> bool:
    """``os.access`` with the effective user and groups where the platform has them."""
    return os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)


def _user() -> str:
    """The effective user's name (its number when it has none)."""
    import pwd

    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
