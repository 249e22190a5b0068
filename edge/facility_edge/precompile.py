"""Bytecode for the agent as the unit runs it: ``python -OO`` (optimisation level 2).

The systemd unit runs ``python -OO -m facility_edge run`` as the unprivileged
``facility-edge`` user, which cannot write into the virtualenv or the standard library.
pip writes only level-0 bytecode (``x.cpython-311.pyc``), so without the level-2 files
(``x.cpython-311.opt-2.pyc``) every start compiles some 300 modules again: seconds of CPU
on a Raspberry Pi and about 3 MB more resident memory (the compiler's garbage stays in the
heap; measured with ``facility bench edge``). ``install.sh`` runs
``python -m facility_edge precompile`` as root after installing; the benchmark does the
same before it measures the agent.

What is compiled: every pure-Python module the agent imports, its own and its libraries'
and the standard library's, found by importing what the agent may load (every device type;
the camera modules only where OpenCV is installed) and the modules it imports later, at run
time (:data:`RUN_TIME_MODULES`). Source: PEP 3147 (``__pycache__``) and PEP 488 (``opt-2``).
"""

from __future__ import annotations

import compileall
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from typing import TextIO

#: The agent's modules, every device type included.
AGENT_MODULES = (
    "facility_edge.run",
    "facility_edge.agent",
    "facility_edge.config",
    "facility_edge.outbox_sqlite",
    "facility_edge.publisher",
    "facility_edge.door_counter",
    "facility_edge.rfid",
    "facility_edge.checkins",
    "facility_edge.buttons",
    "facility_edge.kiosk",
    "facility_edge.kiosk_reader",
    "facility_edge.pseudonym",
)
#: Imported inside functions while the agent runs (configuration file, MQTT client, serial
#: ports, host name lookup, malloc tuning), so importing :data:`AGENT_MODULES` does not load
#: them. ``tests/edge/test_edge_precompile.py`` runs the agent and fails on any module it
#: still compiles from source.
RUN_TIME_MODULES = (
    "facility_contracts.yamlfile",
    "encodings.utf_8_sig",
    "paho.mqtt.client",
    "paho.mqtt.packettypes",
    "paho.mqtt.properties",
    "serial",
    "serial.serialposix",
    "serial.urlhandler",  # the configuration lists pyserial's URL schemes
    "serial.urlhandler.protocol_socket",  # serial-to-Ethernet converters
    "serial.urlhandler.protocol_rfc2217",
    "pkgutil",
    "sqlite3",
    "ctypes",
    "gc",
    "shutil",
    "encodings.idna",
    "json",
)
#: Loaded only where the ``camera`` extra (OpenCV) is installed.
CAMERA_MODULES = ("facility_edge.camera.device",)

#: The optimisation level of ``python -OO``.
LEVEL = 2


def sources() -> list[str]:
    """The source file (``.py``) of every module the agent may import, sorted.

    Imports :data:`AGENT_MODULES`, :data:`RUN_TIME_MODULES` and, when OpenCV imports,
    :data:`CAMERA_MODULES`, then lists the ``__file__`` of everything in ``sys.modules``
    that is Python source (extension modules and frozen modules have none).
    """
    saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # precompile writes
    try:
        for name in (*AGENT_MODULES, *RUN_TIME_MODULES):
            importlib.import_module(name)
        try:
            for name in CAMERA_MODULES:
                importlib.import_module(name)
        except ImportError:  # no camera extra on this board: nothing of it to compile
            pass
    finally:
        sys.dont_write_bytecode = saved
    files = {getattr(m, "__file__", None) for m in list(sys.modules.values())}
    return sorted(f for f in files if isinstance(f, str) and f.endswith(".py"))


@dataclass(frozen=True)
class Compiled:
    """What :func:`precompile` found for each source file (paths as given)."""

    written: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _stamp(path: str) -> tuple[int, int, int] | None:
    """Inode, modification time (ns) and size of ``path``; None when it is missing.
    compileall writes a new file and renames it over the old one: a new inode."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def precompile(paths: list[str]) -> Compiled:
    """Write the level-2 bytecode of each source file (``__pycache__``, or under
    ``sys.pycache_prefix``) with :func:`compileall.compile_file`, which leaves bytecode
    that is already current alone.

    Returns:
        The files whose bytecode was written (its cache file new or replaced), was already
        current, or failed (read-only place, syntax error: compileall prints why).
    """
    done = Compiled()
    for path in paths:
        cached = importlib.util.cache_from_source(path, optimization=LEVEL)
        before = _stamp(cached)
        if not compileall.compile_file(path, quiet=1, optimize=LEVEL):
            done.failed.append(path)
            continue
        (done.written if _stamp(cached) != before else done.current).append(path)
    return done


def main_precompile(out: TextIO) -> int:
    """``python -m facility_edge precompile``: write the bytecode and one summary line on
    ``out``: ``precompile: level-2 bytecode of the agent's N modules: W written, C already
    current[, F failed: FILE, ...]``. Exit 0, or 1 when any file failed. (The few modules
    Python loaded to start this command may have had their bytecode written by that
    import already, unless ``-B``: they count as current.)
    """
    paths = sources()
    done = precompile(paths)
    failed = f", {len(done.failed)} failed: {', '.join(done.failed)}" if done.failed else ""
    out.write(
        f"precompile: level-{LEVEL} bytecode of the agent's {len(paths)} modules: "
        f"{len(done.written)} written, {len(done.current)} already current{failed}\n"
    )
    return 1 if done.failed else 0
