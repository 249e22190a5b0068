"""Fixtures of the edge tests (the servers come from ``tests/conftest.py``)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from edge_support import Gateway, PtyLine, SocketLine


@pytest.fixture(params=["pty", "socket"])
def line(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PtyLine | SocketLine]:
    """A serial line the test writes device bytes into: a pty behind a symlink, or socket://."""
    made = PtyLine(tmp_path) if request.param == "pty" else SocketLine(tmp_path)
    yield made
    made.close()


@pytest.fixture
def pty_line(tmp_path: Path) -> Iterator[PtyLine]:
    """A pty serial line behind a symlink."""
    made = PtyLine(tmp_path)
    yield made
    made.close()


@pytest.fixture
def gateway_factory() -> Iterator[Callable[..., Gateway]]:
    """Start gateway stand-ins (event recorders that ack) against a broker port."""
    made: list[Gateway] = []

    def make(port: int, site: str, **kwargs: object) -> Gateway:
        gw = Gateway(port, site, **kwargs)  # type: ignore[arg-type]
        made.append(gw)
        return gw

    yield make
    for gw in made:
        gw.close()


@pytest.fixture
def agent_process(tmp_path: Path) -> Iterator[Callable[[Path], subprocess.Popen[bytes]]]:
    """Start `facility edge run --config F` processes (logs agent-N.log); kill leftovers."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(config: Path) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"agent-{len(procs)}.log").open("wb")
        cmd = [sys.executable, "-m", "facility_cli.main", "edge", "run", "--config", str(config)]
        procs.append(subprocess.Popen(cmd, stderr=log))
        return procs[-1]

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
