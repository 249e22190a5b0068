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
import sys
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
    for name in (*AGENT_MODULES, *RUN_TIME_MODULES):
        importlib.import_module(name)
    try:
        for name in CAMERA_MODULES:
            importlib.import_module(name)
    except ImportError:  # no camera extra on this board: nothing of it to compile
        pass
    files = {getattr(m, "__file__", None) for m in list(sys.modules.values())}
    return sorted(f for f in files if isinstance(f, str) and f.endswith(".py"))


def precompile(paths: list[str]) -> list[str]:
    """Write the level-2 bytecode of each source file next to it (``__pycache__``) with
    :func:`compileall.compile_file`, which leaves bytecode that is already current alone;
    returns the files that failed (read-only place, syntax error: compileall prints why)."""
    return [p for p in paths if not compileall.compile_file(p, quiet=1, optimize=LEVEL)]


def main_precompile(out: TextIO) -> int:
    """``precompile``: write the bytecode and one summary line on ``out``. Exit 0, or 1
    when any file failed."""
    paths = sources()
    failed = precompile(paths)
    out.write(
        f"precompile: level-{LEVEL} bytecode of the agent's {len(paths)} modules is current"
        + (f" except {len(failed)}: {', '.join(failed)}\n" if failed else "\n")
    )
    return 1 if failed else 0
