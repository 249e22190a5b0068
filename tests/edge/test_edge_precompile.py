"""``python -m facility_edge precompile``: the agent, run as the unit runs it (``-OO``, no
right to write bytecode), compiles no module from source afterwards."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from edge_support import wait_until
from facility_edge.precompile import LEVEL, precompile

#: ``python -v`` names the source file (unquoted) when it compiles a module, the cached
#: file (quoted) when it loads bytecode.
COMPILED_FROM_SOURCE = re.compile(r"^# code object from (?!')(.+\.py)$", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_precompile_writes_level_2_bytecode_and_names_failures(tmp_path: Path) -> None:
    """Bytecode is written once, then found current; a syntax error is a failure."""
    good = tmp_path / "good.py"
    good.write_text('"""A docstring -OO drops."""\nX = 1\n')
    bad = tmp_path / "bad.py"
    bad.write_text("def broken(:\n")
    done = precompile([str(good), str(bad)])
    assert (done.written, done.current, done.failed) == ([str(good)], [], [str(bad)])
    cfile = Path(importlib.util.cache_from_source(str(good), optimization=LEVEL))
    assert cfile.name == f"good.{sys.implementation.cache_tag}.opt-2.pyc" and cfile.is_file()
    assert not Path(importlib.util.cache_from_source(str(bad), optimization=LEVEL)).exists()
    before = cfile.stat().st_mtime_ns
    again = precompile([str(good)])  # current bytecode is left alone
    assert (again.written, again.current, again.failed) == ([], [str(good)], [])
    assert cfile.stat().st_mtime_ns == before


def precompile_run(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-B", "-OO", "-m", "facility_edge", "precompile"],  # -B: exact counts
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_agent_after_precompile_compiles_nothing(tmp_path: Path) -> None:
    """precompile writes every module's bytecode into an empty cache folder (and none on a
    second run); the agent, run as the unit runs it, then compiles nothing from source."""
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(tmp_path / "pyc")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    first = precompile_run(env)
    count = int(re.search(r"agent's (\d+) modules", first).group(1))  # type: ignore[union-attr]
    assert count > 100  # the agent's own modules, its libraries' and the standard library's
    head = f"precompile: level-{LEVEL} bytecode of the agent's {count} modules: "
    assert first == f"{head}{count} written, 0 already current\n"  # an empty cache folder
    written = list((tmp_path / "pyc").rglob("*.opt-2.pyc"))
    assert len(written) == count
    assert precompile_run(env) == f"{head}0 written, {count} already current\n"

    config = tmp_path / "edge.yaml"
    config.write_text(
        f"agent: {{id: edge-1, site: s1, data_dir: {tmp_path / 'data'}}}\n"
        f"mqtt: {{host: 127.0.0.1, port: {free_port()}, keepalive_s: 5}}\n"
        "heartbeat_s: 1\n"
        f"devices:\n  - {{type: door_counter, id: dc-1, space: sp-1, port: {tmp_path / 'tty'}}}\n"
    )
    log = tmp_path / "agent.log"
    with log.open("w") as out:  # a file: -v writes more than a pipe holds
        agent = subprocess.Popen(
            [sys.executable, "-OO", "-v", "-m", "facility_edge", "run", "--config", str(config)],
            env={**env, "PYTHONDONTWRITEBYTECODE": "1"},  # as the unit's user: nothing written
            stderr=out,
        )
        try:
            wait_until(lambda: "cannot open" in log.read_text(), timeout=60)
            time.sleep(2.5)  # a connection attempt and two heartbeats
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(30)
    err = log.read_text()
    assert "device=dc-1 cannot open" in err  # it really ran its device loop
    assert "# code object from '" in err  # and -v reported what it loaded
    compiled = COMPILED_FROM_SOURCE.findall(err)
    assert compiled == [], "\n".join(compiled)
